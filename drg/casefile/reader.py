"""Reading a case file (Parquet streamed by row group; CSV in UTF-8 or GB18030/GBK; Excel) into
validated batches, with a column mapping for a hospital system's own headers."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
from drg.casefile.parquet import parquet_file

from drg.casefile.duplicates import DuplicateFinder, StreamingDuplicateFinder, WithEarlierIds
from drg.casefile.mapping import ColumnMapping
from drg.casefile.sheet import excel_sheets
from drg.casefile.parquet import row_group_batches, unreadable_row_group
from drg.casefile.schema import (
    reserved_renames,
    repeated_names,
    CASE_SCHEMA,
    DEFAULT_BATCH_ROWS,
    LIST_COLUMNS,
    SETTLEMENT_REQUIRED,
)
from drg.casefile.strings import _MAY_BEGIN_SPACE
from drg.casefile.validate import CaseBatch, coerce_columns, validate_table
from drg.errors import InputError

__all__ = ['detect_encoding', 'case_file_kind', 'read_cases', 'ids_as_checked']


#: What a file that is not text at all looks like, by its first bytes (for the error).
_NOT_TEXT = ((b"\x1f\x8b", "gzip-compressed data"), (b"PK\x03\x04", "a zip archive (an Excel workbook named .csv?)"),
             (b"\xff\xfe\x00\x00", "UTF-32 text"), (b"\x00\x00\xfe\xff", "UTF-32 text"),
             (b"\xff\xfe", "UTF-16 text"), (b"\xfe\xff", "UTF-16 text"), (b"PAR1", "a Parquet file"),
             (b"\xd0\xcf\x11\xe0", "an old Excel (.xls) workbook"))


_ODD = re.compile("[\u0100-\u07ff]")
_CJK = re.compile("[\u4e00-\u9fff]")


def detect_encoding(data: bytes, *, file: str | None = None) -> str:
    """Return the encoding of a CSV file's bytes: ``utf-8-sig`` (BOM), ``utf-8``, or ``gb18030``.

    GB18030 is a superset of GBK and GB2312, so files exported as GBK by hospital systems decode with it.
    Anything else (UTF-16/32 text, compressed or binary data) is an :class:`InputError` naming ``file``.
    """
    for magic, what in _NOT_TEXT:
        if data.startswith(magic):
            raise InputError(f"the file is {what}, not a CSV text file in UTF-8 or GB18030/GBK", file=file)
    if data.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None:
        # Short GBK text can happen to be valid UTF-8 (医院 in GBK reads as two Cyrillic letters). Such text
        # has letters in U+0080..U+07FF and none in the CJK block; prefer GB18030 when it reads as Chinese.
        odd = len(_ODD.findall(text))   # beyond Latin-1: Latin Extended,
        # Greek, Cyrillic, Armenian, Hebrew, Arabic … — what GBK bytes become, and rare in a Chinese case file
        # (Latin-1 letters such as ü, é, µ are kept as UTF-8)
        if odd and not _CJK.search(text):
            try:
                alt = data.decode("gb18030")
                if len(_CJK.findall(alt)) >= odd:
                    return "gb18030"
            except UnicodeDecodeError:
                pass
        return "utf-8"
    try:
        data.decode("gb18030")
        return "gb18030"
    except UnicodeDecodeError as exc:
        raise InputError(f"the file is neither UTF-8 nor GB18030/GBK (byte {exc.start})", file=file) from None


def _read_text_table(path: Path, kind: str, mapping: ColumnMapping | None,
                     sheet: str | int | None = None) -> tuple[pl.DataFrame, np.ndarray]:
    """A CSV or Excel case file as text cells and the row number of each row as a person sees it."""
    if kind == "csv":
        from drg.casefile.textcsv import read_csv_file

        rows = read_csv_file(path, mapping.encoding if mapping and mapping.encoding else None)
        return rows.frame, rows.lines
    from drg.casefile.sheet import read_excel_sheet

    return read_excel_sheet(path, _sheet_choice(sheet, mapping))


def _sheet_choice(sheet: str | int | None, mapping: ColumnMapping | None) -> str | int | None:
    """The sheet to read: ``sheet`` (a name, or a 1-based number), else the mapping's ``sheet``, else None
    (the first); a number becomes the 0-based index the Excel reader takes."""
    sheet = sheet if sheet is not None else (mapping.sheet if mapping and mapping.sheet else None)
    if isinstance(sheet, str) and sheet.strip().isdigit():
        sheet = int(sheet)
    return sheet - 1 if isinstance(sheet, int) else sheet


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
    sheet: str | int | None = None,
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
    stream_duplicates : start a Parquet file without the pre-pass over its ``case_id`` column while its ids
        come in increasing order (:class:`StreamingDuplicateFinder`); the pre-pass runs at the first batch
        out of order. The same rows are rejected either way.
    read_ahead : decode the next Parquet batch on a thread of its own while this one is validated (for a
        caller whose own threads consume the batches; one batch more in memory).
    sheet : the Excel sheet to read (a name or a 1-based number); default the mapping's ``sheet``, else the
        first.
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
    batches = _read_cases(path, mapping, required, batch_rows, columns, dictionary_codes, use_threads,
                          stream_duplicates, read_ahead, sheet, earlier_ids)
    try:
        yield from batches
    except (InputError, KeyboardInterrupt, SystemExit, MemoryError, GeneratorExit):
        raise
    except OSError as exc:
        raise InputError(f"cannot read the file: {exc.strerror or _short(exc)}", file=str(path)) from None
    except BaseException as exc:  # a library's error on data it cannot take (even a Rust panic): never a
        # traceback, and never its message, which may quote a row
        raise InputError(f"the file cannot be read as a case file ({type(exc).__name__})", file=str(path)) from None


def _read_cases(path: Path, mapping: ColumnMapping | None, required: tuple[str, ...], batch_rows: int,
                columns: list[str] | None, dictionary_codes: bool, use_threads: bool, stream_duplicates: bool,
                read_ahead: bool, sheet: str | int | None = None, earlier_ids=None) -> Iterator[CaseBatch]:
    kind = case_file_kind(path)
    if kind == "parquet":
        yield from _read_parquet(path, required, batch_rows, columns, mapping, dictionary_codes, use_threads,
                                 stream_duplicates, read_ahead, earlier_ids)
        return
    if path.is_dir():
        raise InputError("a directory, not a case file", file=str(path))
    df, lines = _read_text_table(path, kind, mapping, sheet)
    try:
        if mapping is not None:
            df = mapping.rename(df, str(path))
        renames = reserved_renames(df.columns)
        if renames:
            df = df.rename(renames)
        _check_columns(df.columns, required, str(path))
    except InputError as exc:
        names = excel_sheets(path) if kind == "excel" else []
        if len(names) > 1:  # a cover sheet first: say that another sheet can be chosen
            chosen = sheet if sheet is not None else (mapping.sheet if mapping and mapping.sheet else names[0])
            raise InputError(f"{exc.reason} (in sheet {chosen!r}; the workbook has sheets {names}: choose the one "
                             "with the cases with --sheet NAME, or `sheet = \"NAME\"` in the column mapping)",
                             file=str(path), field=exc.field) from None
        raise
    duplicates = (DuplicateFinder.for_whole(df["case_id"].cast(pl.String).str.strip_chars())
                  if "case_id" in df.columns else None)
    yield validate_table(df.to_arrow(), int(lines[0]) if len(lines) else 2, required, duplicates, str(path),
                         raw_strings=True, row_numbers=lines)


def _check_columns(present: list[str], required: tuple[str, ...], file: str) -> None:
    missing = [c for c in required if c not in present]
    if missing:
        raise InputError(f"missing required column(s) {missing}", file=file, field=missing[0])


def _read_parquet(path: Path, required: tuple[str, ...], batch_rows: int, columns: list[str] | None,
                  mapping: ColumnMapping | None = None, dictionary_codes: bool = False,
                  use_threads: bool = True, stream_duplicates: bool = False,
                  read_ahead: bool = False, earlier_ids=None) -> Iterator[CaseBatch]:
    try:
        pf = parquet_file(path)
        arrow_schema = pf.schema_arrow
    except (pa.ArrowException, OSError) as exc:
        raise InputError(f"not a readable Parquet file: {_short(exc)}", file=str(path)) from None
    names = arrow_schema.names
    twice = repeated_names(names)
    if twice:
        raise InputError(f"column {twice[0]!r} appears more than once; each column must appear once", file=str(path),
                         field=twice[0])
    renames = mapping.renames(names, str(path)) if mapping is not None else {}
    renames.update({old: new for old, new in reserved_renames([renames.get(c, c) for c in names]).items()
                    if old not in renames.values()})
    contract_names = [renames.get(c, c) for c in names]
    _check_columns(contract_names, required, str(path))
    _check_nested(arrow_schema, renames, str(path))
    if columns is not None:
        needed = set(columns) | set(required)
        columns = [c for c, k in zip(names, contract_names) if k in needed]
    id_column = next((c for c, k in zip(names, contract_names) if k == "case_id"), None)
    duplicates: DuplicateFinder | StreamingDuplicateFinder | None = None
    if id_column is not None:
        duplicates = (StreamingDuplicateFinder(
            pre_pass=lambda: DuplicateFinder.for_parquet(parquet_file(path), id_column, path),
            earlier_ids=lambda: (ids_as_checked(t) for t in tables(parquet_file(path), [id_column], False)))
                      if stream_duplicates else DuplicateFinder.for_parquet(pf, id_column, path))
    code_paths = [pf.schema.column(i).path for i in range(len(pf.schema))
                  if pf.schema.column(i).path.split(".")[0] in [k for k, c in zip(names, contract_names)
                                                                 if c in LIST_COLUMNS]]

    def tables(f: pq.ParquetFile, columns: list[str] | None, whole_groups: bool) -> Iterator[pa.Table]:
        """The file's rows in batches, under their contract names."""
        for rg in range(f.num_row_groups):
            if whole_groups:  # nested dictionaries read by whole row groups, then sliced
                pieces = _with_whole_codes(f, rg, columns, use_threads)
            else:
                pieces = (pa.Table.from_batches([b]) for b in row_group_batches(
                    f, rg, columns, batch_rows, use_threads, path))
            for table in pieces:
                if renames:
                    table = table.rename_columns([renames.get(c, c) for c in table.column_names])
                if mapping is not None:
                    if mapping.values:
                        table = mapping.translate(pl.from_arrow(table)).to_arrow()
                yield table

    code_names = [k for k, c in zip(names, contract_names) if c in LIST_COLUMNS]

    def _with_whole_codes(f: pq.ParquetFile, rg: int, columns: list[str] | None, use_threads: bool):
        """One row group's batches, its code lists read dictionary-encoded by the whole row group (Arrow reads
        nested dictionaries no other way) and sliced, every other column streamed batch by batch: only the
        small dictionary-coded lists of a row group stay in memory while its batches are in flight."""
        order = list(columns) if columns is not None else list(names)
        codes_cols = [c for c in order if c in code_names]
        other_cols = [c for c in order if c not in code_names]
        try:
            codes = f.read_row_group(rg, columns=codes_cols, use_threads=use_threads)
        except (OSError, pa.ArrowException) as exc:
            raise unreadable_row_group(path, f, rg, exc) from None
        if not other_cols:
            yield from ([codes.slice(k, batch_rows) for k in range(0, codes.num_rows, batch_rows)] or [codes])
            return
        k = 0
        for b in row_group_batches(f, rg, other_cols, batch_rows, use_threads, path):
            # each batch's code lists copied out of the row group's buffers (small: offsets and dictionary
            # indices), so that batches still in flight when the next row group is read do not keep the whole
            # previous row group's lists alive beside it
            part = codes.slice(k, b.num_rows)
            part = pa.Table.from_arrays([pa.concat_arrays(col.chunks) if col.num_chunks else col
                                         for col in part.columns], schema=part.schema)
            k += b.num_rows
            by_name = {**{c: b.column(i) for i, c in enumerate(b.schema.names)},
                       **{c: part.column(c) for c in codes_cols}}
            fields = [b.schema.field(c) if c in other_cols else part.schema.field(c) for c in order]
            yield pa.Table.from_arrays([by_name[c] for c in order], schema=pa.schema(fields, b.schema.metadata))
        if k == 0 and codes.num_rows == 0:
            yield pa.Table.from_arrays([pa.array([], type=f.schema_arrow.field(c).type) if c in other_cols
                                        else codes.column(c) for c in order], names=order)

    whole_groups = bool(dictionary_codes and code_paths)
    main = parquet_file(path, read_dictionary=code_paths) if whole_groups else pf
    row = 1
    batches = tables(main, columns, whole_groups)
    if read_ahead:  # the next batch is decoded while this one is validated (Arrow frees the GIL)
        from drg.casefile.background import prefetch

        batches = prefetch(batches, depth=1)
    marker = duplicates if not earlier_ids else WithEarlierIds(duplicates, earlier_ids)
    for table in batches:
        yield validate_table(table, row, required, marker, str(path), raw_strings=False)
        row += table.num_rows


def ids_as_checked(table: pa.Table) -> pa.ChunkedArray | pl.Series:
    """The ``case_id`` values of a Parquet batch as :func:`validate_table` compares them for duplicates: an
    Arrow string column as it is, any other type as :func:`coerce_columns` turns it into text."""
    from drg.casefile.duplicates import trimmed_ids
    from drg.casefile.validate import _series

    ids = table.column("case_id")
    if ids.type in (pa.string(), pa.large_string()):
        return trimmed_ids(ids)
    s, _bad = _series("case_id", ids, "")
    return trimmed_ids(coerce_columns(s.to_frame(), raw_strings=False)[0]["case_id"])


def _short(exc: BaseException) -> str:
    """An Arrow error's message without its context lines (Arrow's messages name no row content)."""
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _code_list_type(t: pa.DataType) -> bool:
    """Whether ``t`` can hold a ``dx``/``px`` column: a list of strings (dictionary-coded or not), or text."""
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return True
    if pa.types.is_dictionary(t):
        return pa.types.is_string(t.value_type) or pa.types.is_large_string(t.value_type)
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        v = t.value_type
        if pa.types.is_dictionary(v):
            v = v.value_type
        return pa.types.is_string(v) or pa.types.is_large_string(v) or pa.types.is_null(v)
    return False


def _check_nested(schema: pa.Schema, renames: dict[str, str], file: str) -> None:
    """A contract column of a shape the contract cannot read — a list where a scalar belongs, a scalar or a
    list of anything but strings where the codes belong — is an error of the whole file."""
    for f in schema:
        name = renames.get(f.name, f.name)
        if name not in CASE_SCHEMA:
            continue
        if name in LIST_COLUMNS:
            bad = not _code_list_type(f.type)
        else:
            bad = pa.types.is_nested(f.type) or (pa.types.is_dictionary(f.type)
                                                 and pa.types.is_nested(f.type.value_type))
        if bad:
            want = "a list of strings" if name in LIST_COLUMNS else str(CASE_SCHEMA[name])
            raise InputError(f"column {name} has type {f.type}; the contract wants {want}", file=file, field=name)


_MAY_BEGIN_SPACE[[9, 10, 11, 12, 13, 32]] = True


_MAY_BEGIN_SPACE[0x80:] = True
