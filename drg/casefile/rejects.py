"""The rejects file: rows as read, their row number and reason, written whole or not at all."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from drg.casefile.partial import discard_partial, partial_path

__all__ = ['plain_code_lists', 'RejectWriter', 'write_rejects']


def plain_code_lists(table: pa.Table) -> pa.Table:
    """``table`` with every list of dictionary-encoded strings (``dx``/``px`` read with
    ``dictionary_codes``) as the plain list of strings it was in the file, its fields' names kept."""
    for i, f in enumerate(table.schema):
        t = f.type
        if (pa.types.is_list(t) or pa.types.is_large_list(t)) and pa.types.is_dictionary(t.value_type):
            value_field = t.value_field.with_type(t.value_type.value_type)
            plain = pa.large_list(value_field) if pa.types.is_large_list(t) else pa.list_(value_field)
            table = table.set_column(i, f.with_type(plain), table.column(i).cast(plain))
    return table


class RejectWriter:
    """Writes rejected rows to Parquet or CSV (by suffix), streaming; CSV lists are joined with ``|``. Code
    lists read dictionary-encoded are written as the plain lists of strings they were in the file.

    Like the grouped file, the rejects are written beside ``path`` as ``PATH.partial`` and take their name
    only in :meth:`close`; used as a context manager, a run that fails leaves no partial rejects file (and
    an earlier ``path`` untouched), so a rejects file is always a whole run's."""

    def __init__(self, path: str | Path | None) -> None:
        self.path = Path(path) if path else None
        self.partial = partial_path(self.path) if self.path else None
        self._parquet = self.path is not None and self.path.suffix.lower() in (".parquet", ".pq")
        self._writer = None
        self._chunks: list[pa.Table] = []
        self.count = 0

    def write(self, table: pa.Table | None) -> None:
        if table is None or table.num_rows == 0:
            return
        self.count += table.num_rows
        if self.path is None:
            return
        from drg.outputs import writing

        with writing(self.path):
            self._write(plain_code_lists(table))

    def _write(self, table: pa.Table) -> None:
        if self._parquet:
            if self._writer is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                try:
                    self._writer = pq.ParquetWriter(self.partial, table.schema)
                except BaseException:
                    self.partial.unlink(missing_ok=True)
                    raise
            self._writer.write_table(table.cast(self._writer.schema))
        else:
            self._chunks.append(table)

    def close(self) -> None:
        """Finish the file and give it its name."""
        if self.path is None:
            return
        from drg.outputs import writing

        with writing(self.path):
            self._close()

    def _close(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self._writer is not None:
            self._writer.close()
        elif self._parquet:
            pq.write_table(pa.table({"row_number": pa.array([], pa.int64()),
                                     "reject_reason": pa.array([], pa.string())}), self.partial)
        else:   # CSV: text from the user neutralised for spreadsheets, a byte-order mark, written atomically
            from drg.outputs import csv_frame, write_csv

            if self._chunks:
                df = csv_frame(pa.concat_tables(self._chunks, promote_options="permissive"))
            else:
                df = pl.DataFrame({"row_number": [], "reject_reason": []},
                                  schema={"row_number": pl.Int64, "reject_reason": pl.String})
            write_csv(df, self.path)
            return
        self.partial.replace(self.path)

    def abort(self) -> None:
        """Drop the unfinished file (after an error)."""
        discard_partial(self._writer, self.partial)

    def __enter__(self) -> RejectWriter:
        return self

    def __exit__(self, exc_type, *exc) -> None:
        if exc_type is None:
            try:
                self.close()
            except BaseException:
                self.abort()
                raise
        else:
            self.abort()


def write_rejects(batches: list[pa.Table], path: str | Path) -> int:
    """Write a list of reject tables to ``path`` (Parquet or CSV); return the row count."""
    with RejectWriter(path) as w:
        for t in batches:
            w.write(t)
    return w.count
