"""Reading a case file (Parquet streamed by row group; CSV in UTF-8 or GB18030/GBK; Excel) into
validated batches, with a column mapping for a hospital system's own headers."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from drg.casefile.duplicates import DuplicateFinder, StreamingDuplicateFinder, WithEarlierIds
from drg.casefile.mapping import ColumnMapping
from drg.casefile.parquet import row_group_batches, unreadable_row_group
from drg.casefile.schema import (
    CASE_SCHEMA,
    DEFAULT_BATCH_ROWS,
    LIST_COLUMNS,
    SETTLEMENT_REQUIRED,
)
from drg.casefile.strings import _MAY_BEGIN_SPACE
from drg.casefile.validate import CaseBatch, coerce_columns, validate_table
from drg.errors import InputError

__all__ = ['detect_encoding', 'case_file_kind', 'read_cases', 'ids_as_checked']


def detect_encoding(data: bytes) -> str:
    """Return the encoding of a CSV file's bytes: ``utf-8-sig`` (BOM), ``utf-8``, or ``gb18030``.

    GB18030 is a superset of GBK and GB2312, so files exported as GBK by hospital systems decode with it.
    """
    if data.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None:
        # Short GBK text can happen to be valid UTF-8 (医院 in GBK reads as two Cyrillic letters). Such text
        # has letters in U+0080..U+07FF and none in the CJK block; prefer GB18030 when it reads as Chinese.
        odd = sum(1 for ch in text if "\u0100" <= ch <= "\u07ff")  # beyond Latin-1: Latin Extended,
        # Greek, Cyrillic, Armenian, Hebrew, Arabic … — what GBK bytes become, and rare in a Chinese case file
        # (Latin-1 letters such as ü, é, µ are kept as UTF-8)
        if odd and not any("\u4e00" <= ch <= "\u9fff" for ch in text):
            try:
                alt = data.decode("gb18030")
                if sum(1 for ch in alt if "\u4e00" <= ch <= "\u9fff") >= odd:
                    return "gb18030"
            except UnicodeDecodeError:
                pass
        return "utf-8"
    try:
        data.decode("gb18030")
        return "gb18030"
    except UnicodeDecodeError as exc:
        raise InputError(f"the file is neither UTF-8 nor GB18030/GBK (byte {exc.start})") from None


def _read_csv(path: Path, mapping: ColumnMapping | None) -> pl.DataFrame:
    data = path.read_bytes()
    encoding = (mapping.encoding if mapping and mapping.encoding else None) or detect_encoding(data)
    try:
        text = data.decode(encoding)
    except (UnicodeDecodeError, LookupError) as exc:
        raise InputError(f"cannot decode as {encoding}: {exc}", file=str(path)) from None
    if text.startswith("\ufeff"):
        text = text[1:]
    try:
        return pl.read_csv(io.StringIO(text), infer_schema=False)
    except pl.exceptions.PolarsError as exc:
        raise InputError(f"not a readable CSV file: {exc}", file=str(path)) from None


def _read_excel(path: Path, mapping: ColumnMapping | None) -> pl.DataFrame:
    kwargs = {"sheet_name": mapping.sheet} if mapping and mapping.sheet else {"sheet_id": 1}
    try:
        df = pl.read_excel(path, infer_schema_length=0, **kwargs)
    except Exception as exc:  # fastexcel raises its own exception types
        raise InputError(f"cannot read the Excel sheet: {exc}", file=str(path)) from None
    return df.with_columns(pl.all().cast(pl.String))


def case_file_kind(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        return "parquet"
    if suffix in (".csv", ".txt"):
        return "csv"
    if suffix in (".xlsx", ".xlsm", ".xls"):
        return "excel"
    raise InputError(f"unknown case file type {suffix!r}; use .parquet, .csv or .xlsx", file=str(path))


def read_cases(
    path: str | Path,
    *,
    mapping: ColumnMapping | str | Path | None = None,
    required: tuple[str, ...] = SETTLEMENT_REQUIRED,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    columns: list[str] | None = None,
    dictionary_codes: bool = False,
    use_threads: bool = True,
    stream_duplicates: bool = False,
    read_ahead: bool = False,
    earlier_ids=None,
) -> Iterator[CaseBatch]:
    """Read and validate a case file, yielding :class:`CaseBatch` objects.

    Parameters
    ----------
    path : path of a ``.parquet``, ``.csv`` or ``.xlsx`` file.
    mapping : a :class:`ColumnMapping` or the path of its TOML file, for files with their own headers.
    required : contract columns that must exist and be filled on every row.
    batch_rows : Parquet is streamed in batches of at most this many rows (never more than a row group).
    columns : read only these columns of a Parquet file (plus the ``required`` ones). Rows are then checked
        on what was read only: a ``--slim`` grouping run reads the grouping columns and leaves the money
        checks to the runs that read the money (``drg check``, ``drg group`` without ``--slim``).
    dictionary_codes : read Parquet ``dx``/``px`` as lists of dictionary-encoded strings (each distinct code
        decoded once per row group); for callers that encode codes and do not write them back.
    use_threads : decode each Parquet row group on Arrow's thread pool (off when the caller's own pipeline
        already keeps the cores busy).
    stream_duplicates : find repeated ``case_id`` values of a Parquet file as its rows stream by
        (:class:`StreamingDuplicateFinder`) instead of in a pre-pass over the column. The same rows are
        rejected, but on the rare file where two ids share a hash the generator raises
        :class:`IdHashCollision` after its last batch, so the caller must be able to start again:
        wrap the run in :func:`with_duplicate_fallback`.
    read_ahead : decode the next Parquet batch on a thread of its own while this one is validated (for a
        caller whose own threads consume the batches; one batch more in memory).
    earlier_ids : ids that earlier files of the same dataset already had: a row with one of them is a
        repeated ``case_id`` too (:class:`drg.casefile.duplicates.WithEarlierIds`; Parquet only).

    Raises
    ------
    InputError
        When the file is missing, unreadable, or lacks a required column.
    """
    path = Path(path)
    if not path.exists():
        raise InputError("case file not found", file=str(path))
    if mapping is not None and not isinstance(mapping, ColumnMapping):
        mapping = ColumnMapping.load(mapping)
    kind = case_file_kind(path)
    if kind == "parquet":
        yield from _read_parquet(path, required, batch_rows, columns, mapping, dictionary_codes, use_threads,
                                 stream_duplicates, read_ahead, earlier_ids)
        return
    df = _read_csv(path, mapping) if kind == "csv" else _read_excel(path, mapping)
    if mapping is not None:
        df = mapping.rename(df, str(path))
    _check_columns(df.columns, required, str(path))
    duplicates = (DuplicateFinder.for_whole(df["case_id"].cast(pl.String).str.strip_chars())
                  if "case_id" in df.columns else None)
    yield validate_table(df.to_arrow(), 1, required, duplicates, str(path), raw_strings=True)


def _check_columns(present: list[str], required: tuple[str, ...], file: str) -> None:
    missing = [c for c in required if c not in present]
    if missing:
        raise InputError(f"missing required column(s) {missing}", file=file, field=missing[0])


def _read_parquet(path: Path, required: tuple[str, ...], batch_rows: int, columns: list[str] | None,
                  mapping: ColumnMapping | None = None, dictionary_codes: bool = False,
                  use_threads: bool = True, stream_duplicates: bool = False,
                  read_ahead: bool = False, earlier_ids=None) -> Iterator[CaseBatch]:
    try:
        pf = pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(f"not a readable Parquet file: {exc}", file=str(path)) from None
    names = pf.schema_arrow.names
    renames = mapping.renames(names, str(path)) if mapping is not None else {}
    contract_names = [renames.get(c, c) for c in names]
    _check_columns(contract_names, required, str(path))
    _check_nested(pf.schema_arrow, renames, str(path))
    if columns is not None:
        needed = set(columns) | set(required)
        columns = [c for c, k in zip(names, contract_names) if k in needed]
    id_column = next((c for c, k in zip(names, contract_names) if k == "case_id"), None)
    duplicates: DuplicateFinder | StreamingDuplicateFinder | None = None
    if id_column is not None:
        duplicates = (StreamingDuplicateFinder(pf.metadata.num_rows,
                                               earlier_ids=lambda: (ids_as_checked(t) for t in tables(
                                                   pq.ParquetFile(path), [id_column], False)))
                      if stream_duplicates else DuplicateFinder.for_parquet(pf, id_column, path))
    code_paths = [pf.schema.column(i).path for i in range(len(pf.schema))
                  if pf.schema.column(i).path.split(".")[0] in [k for k, c in zip(names, contract_names)
                                                                 if c in LIST_COLUMNS]]

    def tables(f: pq.ParquetFile, columns: list[str] | None, whole_groups: bool) -> Iterator[pa.Table]:
        """The file's rows in batches, under their contract names."""
        for rg in range(f.num_row_groups):
            if whole_groups:  # nested dictionaries read by whole row groups, then sliced
                try:
                    group = f.read_row_group(rg, columns=columns, use_threads=use_threads)
                except (OSError, pa.ArrowException) as exc:
                    raise unreadable_row_group(path, f, rg, exc) from None
                pieces = [group.slice(k, batch_rows) for k in range(0, group.num_rows, batch_rows)] or [group]
            else:
                pieces = (pa.Table.from_batches([b]) for b in row_group_batches(
                    f, rg, columns, batch_rows, use_threads, path))
            for table in pieces:
                if mapping is not None:
                    table = table.rename_columns([renames.get(c, c) for c in table.column_names])
                    if mapping.values:
                        table = mapping.translate(pl.from_arrow(table)).to_arrow()
                yield table

    whole_groups = bool(dictionary_codes and code_paths)
    main = pq.ParquetFile(path, read_dictionary=code_paths) if whole_groups else pf
    row = 1
    batches = tables(main, columns, whole_groups)
    if read_ahead:  # the next batch is decoded while this one is validated (Arrow frees the GIL)
        from drg.casefile.background import prefetch

        batches = prefetch(batches, depth=1)
    marker = duplicates if not earlier_ids else WithEarlierIds(duplicates, earlier_ids)
    for table in batches:
        yield validate_table(table, row, required, marker, str(path), raw_strings=False)
        row += table.num_rows
    if isinstance(duplicates, StreamingDuplicateFinder) and duplicates.marked_any:
        duplicates.confirm(ids_as_checked(t) for t in tables(pf, [id_column], False))


def ids_as_checked(table: pa.Table) -> pa.ChunkedArray | pl.Series:
    """The ``case_id`` values of a Parquet batch as :func:`validate_table` compares them for duplicates: an
    Arrow string column as it is, any other type as :func:`coerce_columns` turns it into text."""
    ids = table.column("case_id")
    if ids.type in (pa.string(), pa.large_string()):
        return ids
    frame = pl.from_arrow(table.select(["case_id"]), rechunk=False)
    return coerce_columns(frame if isinstance(frame, pl.DataFrame) else frame.to_frame(), raw_strings=False)[0]["case_id"]


def _check_nested(schema: pa.Schema, renames: dict[str, str], file: str) -> None:
    """A contract column that is a list where a scalar belongs (or the reverse) is a file error."""
    for f in schema:
        name = renames.get(f.name, f.name)
        if name not in CASE_SCHEMA:
            continue
        nested = pa.types.is_nested(f.type)
        if nested != (name in LIST_COLUMNS) and not (name in LIST_COLUMNS and pa.types.is_string(f.type)):
            want = "a list of strings" if name in LIST_COLUMNS else str(CASE_SCHEMA[name])
            raise InputError(f"column {name} has type {f.type}; the contract wants {want}", file=file, field=name)


_MAY_BEGIN_SPACE[[9, 10, 11, 12, 13, 32]] = True


_MAY_BEGIN_SPACE[0x80:] = True
