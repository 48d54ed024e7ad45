"""Writing output files people and programs read: whole or not at all, and safe to open.

Every output of the project goes through here (or through a streaming writer with the same ``.partial``
discipline, :mod:`drg.casefile.partial`):

* :func:`atomic_path` — a file is written under a temporary name beside its target and takes its own name
  only when complete (``os.replace``, atomic on one file system), so a killed or failed run leaves the old
  file or the new one, never a mix and never a stub; an error removes the temporary file.
* :func:`csv_cell` / :func:`neutralise_text` — text that came from a user's input and starts with ``=``,
  ``+``, ``-``, ``@``, a tab or a carriage return is prefixed with ``'`` in CSV outputs (OWASP, "CSV
  injection"), so a spreadsheet shows it as text instead of running it as a formula. Numeric columns are
  never touched.
* :func:`write_csv` — a polars frame to CSV with a UTF-8 byte-order mark (Excel on Chinese Windows reads
  UTF-8 without a BOM as the local code page), user text neutralised, written atomically.
* :data:`WORKBOOK_OPTIONS` — xlsxwriter options under which no string becomes a formula, a number or a URL:
  text from a user's input stays text in every workbook.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from drg.errors import InputError

__all__ = ["FORMULA_PREFIXES", "WORKBOOK_OPTIONS", "OutputError", "atomic_dir", "atomic_path", "io_cause", "writing", "csv_cell", "csv_frame", "neutralise_text",
           "write_csv", "write_text"]

#: A cell that starts with one of these is read as a formula by spreadsheet programs (OWASP).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
#: xlsxwriter options: strings are written as strings, never turned into formulas, numbers or links.
WORKBOOK_OPTIONS = {"strings_to_formulas": False, "strings_to_numbers": False, "strings_to_urls": False}


class OutputError(InputError):
    """An output cannot be written (a full disk, a read-only directory …): one line naming the path and the
    cause; the command line exits 1, as for a wrong input. Nothing written before is lost."""

    def __init__(self, cause: str, *, file: str | None = None) -> None:
        super().__init__(f"cannot write: {cause}", file=file)


def io_cause(exc: BaseException) -> str:
    """The cause of a failed write in a few words (``No space left on device``), from the errno of an
    ``OSError`` or the one Arrow, polars or DuckDB quote in their messages; never a row's content."""
    import re

    number = getattr(exc, "errno", None)
    if not isinstance(number, int):
        m = re.search(r"(?:Errno |os error |errno )(\d+)", str(exc))
        number = int(m.group(1)) if m else None
    if number:
        return os.strerror(number)
    text = str(exc)
    for phrase in ("No space left on device", "Read-only file system", "Permission denied", "Disk quota exceeded",
                   "File too large"):
        if phrase.lower() in text.lower():
            return phrase
    return type(exc).__name__


def _is_io_error(exc: BaseException) -> bool:
    if isinstance(exc, OSError):
        return True
    name = type(exc).__name__
    text = str(exc)
    return ("os error" in text or "Errno" in text or "IO Error" in text or "Could not write" in text
            or name in ("IOException",))


@contextmanager
def writing(path: str | Path) -> Iterator[None]:
    """Turn a failed write inside the block (``OSError``, or an IO error of Arrow, polars or DuckDB) into an
    :class:`OutputError` naming ``path`` and the cause."""
    try:
        yield
    except OutputError:
        raise
    except Exception as exc:
        if _is_io_error(exc) and not isinstance(exc, InputError):
            raise OutputError(io_cause(exc), file=str(path)) from None
        raise


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; when the block ends without error it becomes ``path``
    (replacing an earlier file atomically), otherwise it is removed and an earlier ``path`` is untouched.
    A failed write is an :class:`OutputError` naming ``path``."""
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.partial-{os.getpid()}{path.suffix}")   # (the suffix kept for writers
    try:                                                                       # that look at it)
        with writing(path):
            path.parent.mkdir(parents=True, exist_ok=True)
            yield tmp
            os.replace(tmp, path)
    finally:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass


@contextmanager
def atomic_dir(path: str | Path) -> Iterator[Path]:
    """Yield a temporary directory beside ``path``; when the block ends without error it takes the place of
    ``path`` (an earlier directory of that name is moved aside and removed), otherwise it is removed and an
    earlier ``path`` is untouched."""
    import shutil

    path = Path(path)
    tmp = path.with_name(f".{path.name}.partial-{os.getpid()}")
    old = path.with_name(f".{path.name}.old-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        with writing(path):
            tmp.mkdir(parents=True)
            yield tmp
            if path.exists():
                os.replace(path, old)
            os.replace(tmp, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)


def write_text(path: str | Path, text: str, *, encoding: str = "utf-8") -> None:
    """Write ``text`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding=encoding)


#: A plain number (``-5``, ``+1.50``, ``-2e3``): a spreadsheet reads it as a number, never as a formula, so it
#: is written as it is.
_NUMBER = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"


def csv_cell(value: str | None) -> str | None:
    """One text cell from user input, neutralised for spreadsheets: ``'`` before a leading ``=``, ``+``,
    ``-``, ``@``, tab or carriage return (a plain number such as ``-5.00`` is left as it is)."""
    import re

    if value and value.startswith(FORMULA_PREFIXES) and not re.match(_NUMBER, value):
        return "'" + value
    return value


def neutralise_text(df, columns: Iterable[str] | None = None):
    """``df`` (polars) with its text columns (or only ``columns``) passed through :func:`csv_cell`."""
    import polars as pl

    names = [c for c, t in df.schema.items() if t == pl.String and (columns is None or c in set(columns))]
    if not names:
        return df
    pattern = "^[" + "".join("\\" + p if p in "-+" else p for p in FORMULA_PREFIXES) + "]"
    return df.with_columns([
        pl.when(pl.col(c).str.contains(pattern) & ~pl.col(c).str.contains(_NUMBER))
        .then(pl.lit("'") + pl.col(c)).otherwise(pl.col(c)).alias(c)
        for c in names])


def write_csv(df, path: str | Path, *, user_text: Iterable[str] | None = None, bom: bool = True) -> None:
    """Write the polars frame ``df`` to ``path`` as CSV: UTF-8 with a byte-order mark, every text column
    (or only ``user_text``) neutralised with :func:`neutralise_text`, atomically."""
    df = neutralise_text(df, user_text)
    with atomic_path(path) as tmp:
        df.write_csv(tmp, include_bom=bom)


def _text_column(column):
    """An Arrow column of a type that CSV cannot hold as it is (nested, binary, dates polars cannot show, 256-bit
    decimals …) as text: Arrow's own cast where it has one, else each value's Python text (binary that is
    not UTF-8 with its bytes escaped)."""
    import pyarrow as pa

    t = column.type
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t):
        return pa.array([None if v is None else bytes(v).decode("utf-8", "backslashreplace")
                         for v in column.to_pylist()], pa.string())
    if not pa.types.is_nested(t):
        try:
            return column.cast(pa.string())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
    import json

    def text(v):
        if v is None:
            return None
        try:
            return json.dumps(v, ensure_ascii=False, default=str)
        except (TypeError, ValueError):
            return str(v)

    try:
        values = column.to_pylist()
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, ValueError, OverflowError):
        return column.cast(pa.string(), safe=False)
    return pa.array([text(v) for v in values], pa.string())


def csv_frame(table):
    """A pyarrow table as a polars frame ready for CSV: lists of codes joined with ``|`` (as the readers take
    them), and every column of a type CSV cannot hold as it is turned into text."""
    import pyarrow as pa
    import polars as pl

    safe = (pa.types.is_integer, pa.types.is_floating, pa.types.is_boolean, pa.types.is_string,
            pa.types.is_large_string, pa.types.is_decimal128, pa.types.is_null, pa.types.is_timestamp)
    arrays, names = [], []
    for name, column in zip(table.column_names, table.columns):
        t = column.type
        if (pa.types.is_list(t) or pa.types.is_large_list(t)) and (
                pa.types.is_string(t.value_type) or pa.types.is_large_string(t.value_type)
                or pa.types.is_dictionary(t.value_type) or pa.types.is_null(t.value_type)):
            column = column.cast(pa.list_(pa.string()))
            joined = pl.from_arrow(column).list.join("|")
            joined = joined.set(pl.from_arrow(column).is_null(), None) if column.null_count else joined
            arrays.append(joined.to_arrow())
        elif pa.types.is_dictionary(t):
            column = column.cast(t.value_type)
            arrays.append(column if pa.types.is_string(t.value_type) or pa.types.is_large_string(t.value_type)
                          else _text_column(column))
        elif any(ok(t) for ok in safe):
            arrays.append(column)
        elif pa.types.is_date32(t) or pa.types.is_date64(t):
            # polars holds dates from about year -262000 on; text is safe for every value Arrow holds
            arrays.append(_dates_text(column))
        else:
            arrays.append(_text_column(column))
        names.append(name)
    return pl.from_arrow(pa.Table.from_arrays(arrays, names=names))


def _dates_text(column):
    """Dates as ISO text (what polars writes), any value Arrow holds."""
    import pyarrow as pa

    try:

        lo, hi = -719162, 2932896     # 0001-01-01 … 9999-12-31: what Python's dates (and so every reader) hold
        import pyarrow.compute as pc

        days = column.cast(pa.date32()).cast(pa.int32())
        inside = pc.and_(pc.greater_equal(days, lo), pc.less_equal(days, hi))
        if pc.all(pc.fill_null(inside, True)).as_py():
            return column.cast(pa.date32())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    return _text_column(column)
