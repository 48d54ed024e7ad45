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

__all__ = ["FORMULA_PREFIXES", "WORKBOOK_OPTIONS", "atomic_path", "csv_cell", "neutralise_text", "write_csv",
           "write_text"]

#: A cell that starts with one of these is read as a formula by spreadsheet programs (OWASP).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
#: xlsxwriter options: strings are written as strings, never turned into formulas, numbers or links.
WORKBOOK_OPTIONS = {"strings_to_formulas": False, "strings_to_numbers": False, "strings_to_urls": False}


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; when the block ends without error it becomes ``path``
    (replacing an earlier file atomically), otherwise it is removed and an earlier ``path`` is untouched."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.partial-{os.getpid()}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text(path: str | Path, text: str, *, encoding: str = "utf-8") -> None:
    """Write ``text`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding=encoding)


def csv_cell(value: str | None) -> str | None:
    """One text cell from user input, neutralised for spreadsheets: ``'`` before a leading ``=``, ``+``,
    ``-``, ``@``, tab or carriage return."""
    if value and value.startswith(FORMULA_PREFIXES):
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
        pl.when(pl.col(c).str.contains(pattern)).then(pl.lit("'") + pl.col(c)).otherwise(pl.col(c)).alias(c)
        for c in names])


def write_csv(df, path: str | Path, *, user_text: Iterable[str] | None = None, bom: bool = True) -> None:
    """Write the polars frame ``df`` to ``path`` as CSV: UTF-8 with a byte-order mark, every text column
    (or only ``user_text``) neutralised with :func:`neutralise_text`, atomically."""
    df = neutralise_text(df, user_text)
    with atomic_path(path) as tmp:
        df.write_csv(tmp, include_bom=bom)
