"""Grouping a stream of Arrow batches into a grouped-case file (Parquet, or CSV for small files).

``group_file`` is what ``drg group`` does: the case file is read and validated by :mod:`drg.casefile` (invalid
rows go to the rejects), each batch is grouped by :class:`grouper.batch.BatchGrouper` (the numba kernel) and
written at once, so memory stays at one batch. This is where the two packages meet: ``grouper`` returns the
result columns of CONTRACT.md (``mdc, adrg, drg, cc_level, cc_dx, group_status, group_note``), and the grouped
file is the table the payment engine starts from.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from drg.casefile.background import WriteBehind, available_cores, prefetch
from drg.casefile.schema import DEFAULT_BATCH_ROWS
from drg.casefile.money import FEN_COLUMNS, MONEY_COLUMNS
from drg.casefile.partial import discard_partial, partial_path
from drg.casefile.parquet import dictionary_columns
from grouper.batch import GROUPING_COLUMNS, RESULT_COLUMNS, BatchGrouper, decode
from grouper.scheme import Scheme

#: Rows a batch of a grouping run with every column kept (a sixteenth of the reader's default): the pipeline
#: holds several batches at once (read ahead, validated, grouped, being written), and with every column each
#: is large; batches of 2^16 rows keep the peak memory of a large file within 1.2 times that of a one-million-case
#: one (docs/reliability.md, "Measured"), at about the same speed.
FULL_BATCH_ROWS = 1 << 16

#: Columns a case file must have to be grouped (a settlement pipeline asks for more: drg.casefile.schema).
GROUP_REQUIRED = ("case_id", "sex", "age", "dx")

#: Columns added by the case reader that were not in the input: the row number is dropped from the grouped
#: output; the fen columns are kept (after the result columns) in a Parquet file with every column, so that
#: money crosses the pipe once — pricing and settlement sum these, never the yuan again.
READER_COLUMNS = (*FEN_COLUMNS, "row_number")


@dataclass
class GroupSummary:
    """Counts of a grouping run."""

    rows: int = 0
    by_status: Counter = field(default_factory=Counter)
    by_mdc: Counter = field(default_factory=Counter)

    def to_dict(self) -> dict:
        return {"rows": self.rows, "by_status": dict(self.by_status.most_common()),
                "by_mdc": dict(sorted(self.by_mdc.items(), key=lambda kv: (kv[0] is None, kv[0] or "")))}


def slim_parquet_options(schema: pa.Schema) -> dict:
    """``pq.ParquetWriter`` options of a slim grouped file whose result columns are dictionary arrays: no
    Arrow schema stored (readers see plain strings), dictionary pages only for those columns, min/max
    statistics for ``case_id`` only."""
    return dict(store_schema=False, write_statistics=["case_id"],
                use_dictionary=[f.name for f in schema if pa.types.is_dictionary(f.type)])


class GroupedWriter:
    """Writes grouped batches to Parquet (streaming) or CSV (collected; lists joined with ``|``).

    The file is written beside ``path`` as ``PATH.partial`` and takes its name only in :meth:`close`; after
    an error, :meth:`abort` removes it, so a failed run leaves no half-grouped file (and an earlier ``path``
    untouched).

    A slim file (``case_id`` and the result columns) is written as the kernel produced it: the result
    columns stay dictionary indices over the scheme's code lists, no Arrow schema is stored (readers see
    plain strings, as the contract says), and min/max statistics are kept for ``case_id`` only — together
    about half the cost of writing the same strings plainly. Other files keep their Arrow schema and their
    input columns' types exactly, with dictionary pages for their text columns of few values only
    (:func:`drg.casefile.parquet.dictionary_columns`).
    """

    def __init__(self, path: str | Path, metadata: dict[bytes, bytes] | None = None, *,
                 slim: bool = False) -> None:
        self.path = Path(path)
        self.partial = partial_path(self.path)
        self.metadata = metadata or {}
        self.slim = slim
        from drg.outputs import writing

        with writing(self.path):
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self.csv = self.path.suffix.lower() == ".csv"
        self._writer: pq.ParquetWriter | None = None
        self._chunks: list[pa.Table] = []

    def write(self, table: pa.Table) -> None:
        from drg.outputs import writing

        with writing(self.path):
            self._write(table)

    def _write(self, table: pa.Table) -> None:
        if self.csv or not self.slim:   # result columns as plain strings; the input's columns as they came
            for i, f in enumerate(table.schema):
                if pa.types.is_dictionary(f.type) and (self.csv or f.name in RESULT_COLUMNS):
                    table = table.set_column(i, f.name, decode(table.column(i)))
        if self.csv:
            self._chunks.append(table)
            return
        if self._writer is None:
            schema = table.schema.with_metadata({**(table.schema.metadata or {}), **self.metadata})
            options = slim_parquet_options(schema) if self.slim else dict(
                compression="snappy", use_dictionary=dictionary_columns(schema, "snappy"))
            self._writer = pq.ParquetWriter(self.partial, schema, **options)
        self._writer.write_table(table.cast(self._writer.schema) if table.schema != self._writer.schema
                                 else table)

    def close(self, empty_schema: pa.Schema | None = None) -> None:
        """Finish the file and give it its name."""
        from drg.outputs import writing

        with writing(self.path):
            self._close(empty_schema)

    def _close(self, empty_schema: pa.Schema | None) -> None:
        if self.csv:   # text from the user neutralised for spreadsheets, a byte-order mark, atomically
            import polars as pl

            from drg.outputs import csv_frame, write_csv

            if self._chunks:
                df = csv_frame(pa.concat_tables(self._chunks, promote_options="permissive"))
            else:
                df = pl.DataFrame({c: [] for c in ("case_id", *RESULT_COLUMNS)})
            write_csv(df, self.path)
            return
        elif self._writer is not None:
            if self.slim:  # without a stored Arrow schema the schema's metadata is not written by itself
                self._writer.add_key_value_metadata(self._writer.schema.metadata or {})
            self._writer.close()
        else:
            schema = empty_schema or pa.schema([("case_id", pa.string())] + [
                (c, pa.int8() if c == "cc_level" else pa.string()) for c in RESULT_COLUMNS])
            pq.write_table(schema.empty_table().replace_schema_metadata(self.metadata), self.partial)
        self.partial.replace(self.path)

    def abort(self) -> None:
        """Drop the unfinished file (after an error)."""
        discard_partial(self._writer, self.partial)


def grouped_table(batch, results: dict[str, pa.Array], *, slim: bool, fen: bool = False) -> pa.Table:
    """The output table of one batch: the input columns (or only ``case_id``) plus the result columns, and
    with ``fen`` the reader's ``*_fen`` columns of the money columns the input has (``other_paid_fen``, 0
    when ``other_paid`` is absent, beside ``total_cost_fen``)."""
    if isinstance(batch, pa.RecordBatch):
        batch = pa.Table.from_batches([batch])
    if slim:
        cols = ["case_id"] if "case_id" in batch.column_names else []
    else:
        cols = [c for c in batch.column_names if c not in READER_COLUMNS]
    base = batch.select(cols)
    for c in RESULT_COLUMNS:
        if c in base.column_names:
            base = base.drop_columns([c])
        base = base.append_column(c, results[c])
    if fen and not slim and "total_cost" in cols:
        for yuan, name in zip(MONEY_COLUMNS, FEN_COLUMNS):
            if (yuan in cols or yuan == "other_paid") and name in batch.column_names:
                base = base.append_column(name, batch.column(name))
    return base


def scheme_id(scheme: Scheme) -> str:
    """The scheme's id as carried by grouped, priced and settled files: ``name@version``."""
    m = scheme.manifest
    return f"{m.get('scheme', 'scheme')}@{m.get('version', '')}"


def kernel_threads() -> int:
    """Threads for the kernel inside the grouping pipeline: the cores left over by the pipeline's other
    threads (decoding, validating, writing), which keep about two cores busy, and at least one.

    Measured on 2 cores, 10 million cases, ``--slim``: one kernel thread takes 5.0-5.2 s of CPU and a median
    2.77-2.83 s, two threads 5.4-6.1 s and 2.84-3.18 s (the other threads already fill both cores, so a
    second kernel thread only adds contention)."""
    import numba

    return max(1, min(numba.config.NUMBA_NUM_THREADS, available_cores() - 2))


def group_batches(scheme: Scheme, batches: Iterable, out: str | Path, *, slim: bool = False,
                  on_rows: Callable[[int], None] | None = None, engine: str = "numba") -> GroupSummary:
    """Group every batch and write the grouped-case file.

    Parameters
    ----------
    scheme : the compiled scheme.
    batches : Arrow record batches or tables with the contract's grouping columns.
    out : output path (``.parquet``, or ``.csv`` for small files).
    slim : keep only ``case_id`` of the input columns.
    on_rows : called with the running row count after each batch (progress bars).
    engine : ``numba`` (the kernel) or ``python`` (its plain twin), for :class:`grouper.batch.BatchGrouper`.
    """
    grouper = BatchGrouper(scheme, engine=engine)
    writer = GroupedWriter(out, metadata={b"drg.scheme_id": scheme_id(scheme).encode()}, slim=slim)

    # Where the output table is built: a slim file writes little, so the writing thread has time for its
    # result columns and the kernel's thread (the longest stage there) does not; a file with every column
    # kept spends most of its time writing, so there the kernel's thread builds the table (result columns
    # as plain strings, code lists read dictionary-encoded back to plain lists) and the writing thread only
    # writes (10 million cases: about 1 s of CPU off the writing thread).
    table_on_kernel_thread = not slim
    with_fen = not slim and Path(out).suffix.lower() != ".csv"
    from drg.casefile.rejects import plain_code_lists

    def output_table(batch, enc, kernel_out, written) -> pa.Table:
        res = grouper.result_columns(batch, enc, kernel_out, dictionary=slim, written=written)
        table = grouped_table(batch, res, slim=slim, fen=with_fen)
        return table if slim else plain_code_lists(table)

    def finish(item) -> None:   # on the writing thread: (the output table,) then the Parquet write
        writer.write(item if isinstance(item, pa.Table) else output_table(*item))

    behind = WriteBehind(finish)   # finishing batch k overlaps grouping batch k+1 (Parquet frees the GIL)
    summary = GroupSummary()
    try:
        # three threads here: validating, encoding and putting the cases in the kernel's walk order (drg
        # group's reader decodes on a fourth, ahead); the kernel (this one; with every column kept, also the
        # output table); writing (and, for --slim, the result columns)
        def encoded():  # on the validating thread
            for batch in batches:
                if batch.num_rows:
                    yield batch, *grouper.encode_batch(batch, walk=True)

        import numba

        # (the kernel's module first: it has OpenMP's idle workers sleep, which must be set before numba's
        # first thread call starts them — numba.get_num_threads does; started earlier they spin between
        # batches, 3.6 s of CPU over 10 M cases taken from the reading and writing threads)
        import grouper.kernel as _kernel_module  # noqa: F401

        threads = numba.get_num_threads()
        try:
            numba.set_num_threads(kernel_threads())   # (numba's setting is per calling thread)
            for batch, enc, written in prefetch(encoded()):
                kernel_out = grouper.run_kernel(enc, by_status=summary.by_status, by_mdc=summary.by_mdc)
                item = (batch, enc, kernel_out, written)
                behind.write(output_table(*item) if table_on_kernel_thread else item)
                summary.rows += batch.num_rows
                if on_rows:
                    on_rows(summary.rows)
        finally:
            numba.set_num_threads(threads)
            behind.close()
        writer.close()
    except BaseException:
        writer.abort()
        raise
    return summary


@dataclass
class GroupFileSummary(GroupSummary):
    """Counts of grouping one case file: rows read, grouped and rejected (``read = rows + rejected``)."""

    read: int = 0
    rejected: int = 0
    out: str = ""

    def to_dict(self) -> dict:
        return super().to_dict() | {"read": self.read, "rejected": self.rejected, "out": self.out}


def group_file(scheme: Scheme, cases: str | Path, out: str | Path, *, rejects: str | Path | None = None,
               slim: bool = False, mapping=None, required: tuple[str, ...] | None = None,
               on_rows: Callable[[int], None] | None = None, engine: str = "numba",
               earlier_ids=None) -> GroupFileSummary:
    """Read, validate and group one case file (what ``drg group`` does), writing rejects beside.

    ``required`` defaults to the columns grouping needs (case_id, sex, age, dx); a settlement pipeline
    passes ``drg.casefile.reader.SETTLEMENT_REQUIRED`` so that rows unfit for payment are rejected here, once.
    ``on_rows`` receives the number of rows read so far; ``engine`` is the grouping engine (``numba`` or
    ``python``, :func:`group_batches`). ``earlier_ids``: the ids earlier files of the same dataset had (their
    rows here are rejected as repeated ids; :mod:`drg.distributed.grouping`).
    """
    from drg.casefile.rejects import RejectWriter
    from drg.casefile.reader import read_cases

    cases = Path(cases)
    required = required or GROUP_REQUIRED
    columns = None
    if slim and cases.suffix.lower() in (".parquet", ".pq"):
        columns = ["case_id", *GROUPING_COLUMNS]
    n_read = 0

    with RejectWriter(rejects) as rej:
        def accepted():
            nonlocal n_read
            # codes are read dictionary-encoded: each distinct code decoded and looked up once (a file with
            # every column kept writes them back as the plain lists they were). On two cores the pipeline's own
            # threads (decode, validate, group, write) use both; Arrow's pool on top of them only adds
            # switching. Repeated ids: no pre-pass while the ids come in increasing order.
            for b in read_cases(cases, mapping=mapping, required=required, columns=columns,
                                batch_rows=FULL_BATCH_ROWS if not slim else DEFAULT_BATCH_ROWS,
                                dictionary_codes=True, use_threads=available_cores() > 2,
                                stream_duplicates=True, read_ahead=True, earlier_ids=earlier_ids):
                rej.write(b.rejected)
                n_read += b.n_read
                yield b.accepted

        summary = group_batches(scheme, accepted(), out, slim=slim,
                                on_rows=(lambda _n: on_rows(n_read)) if on_rows else None, engine=engine)
    result = GroupFileSummary(rows=summary.rows, by_status=summary.by_status, by_mdc=summary.by_mdc,
                              read=n_read, rejected=rej.count, out=str(out))
    if result.read != result.rows + result.rejected:  # pragma: no cover - guarded by construction
        raise AssertionError(f"rows lost grouping {cases}: read {result.read}, grouped {result.rows}, "
                             f"rejected {result.rejected}")
    return result
