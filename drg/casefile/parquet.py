"""Parquet row groups read batch by batch; a damaged row group is an input error naming its rows."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from drg.errors import InputError

__all__ = ['PLAIN_COLUMNS', 'dictionary_columns', 'unreadable_row_group', 'row_group_batches', 'parquet_file',
           'read_parquet']


def unreadable_row_group(path: Path | str | None, f: pq.ParquetFile, rg: int, exc: Exception) -> InputError:
    """A damaged row group as an input error naming the file and the rows it holds."""
    first = 1 + sum(f.metadata.row_group(k).num_rows for k in range(rg))
    last = first + f.metadata.row_group(rg).num_rows - 1
    return InputError(f"row group {rg + 1} of {f.num_row_groups} (rows {first:,}-{last:,}) cannot be read: {exc}",
                      file=str(path) if path is not None else None, row=first)


def row_group_batches(f: pq.ParquetFile, rg: int, columns: list[str] | None, batch_rows: int,
                       use_threads: bool, path: Path | str | None) -> Iterator[pa.RecordBatch]:
    """One row group's record batches; a damaged row group raises :class:`InputError` (not Arrow's error)."""
    batches = f.iter_batches(batch_size=batch_rows, row_groups=[rg], columns=columns, use_threads=use_threads)
    while True:
        try:
            batch = next(batches)
        except StopIteration:
            return
        except (OSError, pa.ArrowException) as exc:
            raise unreadable_row_group(path, f, rg, exc) from None
        yield batch


def parquet_file(path, **options) -> pq.ParquetFile:
    """``pq.ParquetFile`` without pre-buffering. Pre-buffering coalesces the reads of every row group asked
    for into buffers held until they are decoded: on a local disk it bought nothing and cost memory and time
    (10 M priced cases, 30 columns batch by batch: peak 1.23 GB and 2.9–7.0 s with it, 0.77 GB and 1.5–1.7 s
    without; docs/benchmarks.md)."""
    return pq.ParquetFile(path, pre_buffer=False, **options)


def read_parquet(path, **options) -> pa.Table:
    """``pq.read_table`` without pre-buffering (:func:`parquet_file`; 10 M grouped cases, 1.8 GB of columns:
    1.5–1.6 s against 7–20 s, and 0.6 GB less)."""
    return pq.read_table(path, pre_buffer=False, **options)


#: Case columns written without a dictionary: ids of one case each, and the code lists.
PLAIN_COLUMNS = ("case_id", "patient_id", "dx", "px")


def dictionary_columns(schema: pa.Schema, compression: str) -> list[str]:
    """The columns of a case file ``pq.ParquetWriter`` should dictionary-encode (its ``use_dictionary``) when
    it compresses with ``compression``: the text columns of few values (hospital, DRG, class, county …), which
    readers take as Arrow dictionaries; and, unless the codec is zstd, the integer and date columns (sex, age,
    days, levels; not the ``*_fen`` money), whose repeats snappy alone compresses poorly.

    Not the ids or code lists (:data:`PLAIN_COLUMNS`): the writer would build a dictionary for every row group,
    find it too large and drop it. Not the floats (costs, points, ratios): a dictionary of them is nearly as
    long as the column. Measured on 2 M cases, against dictionaries everywhere (pyarrow's default): the priced
    file (zstd) 2.44 s and 190 MB → 1.94 s and 162 MB (with the integers too: 2.13 s, 168 MB), the
    settlement's read of its columns as fast (0.16 s); the grouped file (snappy) 2.03 s and 165 MB → 1.44 s and
    162 MB (text only: 1.37 s, 174 MB)."""
    def text(t: pa.DataType) -> bool:
        return pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_dictionary(t)

    def small_number(f: pa.Field) -> bool:
        return (pa.types.is_integer(f.type) and not f.name.endswith("_fen")) or pa.types.is_date(f.type)

    numbers = compression.lower() != "zstd"
    return [f.name for f in schema
            if f.name not in PLAIN_COLUMNS and (text(f.type) or (numbers and small_number(f)))]
