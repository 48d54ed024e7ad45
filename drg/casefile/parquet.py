"""Parquet row groups read batch by batch; a damaged row group is an input error naming its rows."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from drg.errors import InputError

__all__ = ['unreadable_row_group', 'row_group_batches']


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
