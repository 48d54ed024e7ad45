"""An Excel case file read as a person sees it: every cell as text, rows numbered as the sheet numbers them
(blank rows skipped, not counted, and not renumbering the rows after them), the header the first row that
holds a value."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import numpy as np
import polars as pl

from drg.errors import InputError

__all__ = ["excel_sheets", "read_excel_sheet"]


def _first_used_row(path: Path, sheet_index: int | None, sheet_name: str | None) -> int:
    """The sheet row (1-based) of the first cell that holds a value, read from the ``.xlsx`` XML (the reader
    starts its table there); 1 when it cannot be told (``.xls``)."""
    try:
        with zipfile.ZipFile(path) as z:
            workbook = z.read("xl/workbook.xml").decode("utf-8", "replace")
            rels = z.read("xl/_rels/workbook.xml.rels").decode("utf-8", "replace")
            sheets = re.findall(r'<(?:\w+:)?sheet\b[^>]*?name="([^"]*)"[^>]*?r:id="([^"]+)"', workbook)
            if not sheets:
                return 1
            if sheet_name is not None:
                from html import unescape

                rid = next((r for n, r in sheets if unescape(n) == sheet_name), None)
            else:
                rid = sheets[sheet_index or 0][1] if (sheet_index or 0) < len(sheets) else None
            if rid is None:
                return 1
            target = next((t for i, t in re.findall(r'<Relationship\b[^>]*?Id="([^"]+)"[^>]*?Target="([^"]+)"', rels)
                           if i == rid), None)
            if target is None:
                target = next((t for t, i in re.findall(r'<Relationship\b[^>]*?Target="([^"]+)"[^>]*?Id="([^"]+)"',
                                                        rels) if i == rid), None)
            if target is None:
                return 1
            target = target.lstrip("/")
            member = target if target.startswith("xl/") else "xl/" + target
            cell = re.compile(rb'<c\b[^>]*?\br="[A-Z]+(\d+)"[^>]*?(?<!/)>(.*?)</c>', re.S)
            with z.open(member) as fh:
                tail = b""
                while True:
                    chunk = fh.read(1 << 16)
                    if not chunk:
                        return 1
                    text = tail + chunk
                    for m in cell.finditer(text):
                        body = m.group(2)
                        if re.search(rb"<v>[^<]|<is>|<t[ >]", body):
                            return int(m.group(1))
                    tail = text[-4096:]
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, IndexError):
        return 1


def excel_sheets(path: Path) -> list[str]:
    """The sheet names of a workbook, in order (empty when they cannot be read)."""
    try:
        import fastexcel

        return list(fastexcel.read_excel(str(path)).sheet_names)
    except Exception:  # noqa: BLE001 - only used to word a message
        return []


def read_excel_sheet(path: Path, sheet: str | int | None) -> tuple[pl.DataFrame, np.ndarray]:
    """The data rows of the sheet (a name, a 0-based index, or None for the first; every cell text) and each
    row's number on the sheet."""
    import fastexcel

    try:
        reader = fastexcel.read_excel(path)
        target = sheet if sheet is not None else 0
        loaded = reader.load_sheet(target, header_row=None, dtypes="string")
        raw = loaded.to_polars()
    except BaseException as exc:  # fastexcel raises its own exception types (and Rust panics)
        if isinstance(exc, (KeyboardInterrupt, SystemExit, MemoryError)):
            raise
        what = (f"sheet {sheet + 1}" if isinstance(sheet, int) else f"sheet {sheet!r}" if sheet is not None
                else "the first sheet")
        names = excel_sheets(path)
        raise InputError(f"cannot read {what} of the Excel file ({type(exc).__name__})"
                         + (f"; the workbook's sheets: {', '.join(names)} (choose one with --sheet or `sheet =` in "
                            "the column mapping)" if names else ""), file=str(path)) from None
    raw = raw.with_columns(pl.all().cast(pl.String))
    first_row = _first_used_row(path, sheet if isinstance(sheet, int) else (None if sheet is not None else 0),
                                sheet if isinstance(sheet, str) else None)
    if raw.height == 0:
        raise InputError("the sheet is empty (no header row)", file=str(path))
    filled = raw.select(pl.any_horizontal([pl.col(c).str.strip_chars().str.len_chars().fill_null(0) > 0
                                           for c in raw.columns])).to_series().to_numpy()
    used = np.flatnonzero(filled)
    if len(used) == 0:
        raise InputError("the sheet is empty (no header row)", file=str(path))
    head = int(used[0])
    names = [v if v is not None and v != "" else f"__UNNAMED__{j}" for j, v in enumerate(raw.row(head))]
    from drg.casefile.schema import repeated_names

    twice = repeated_names(names)
    if twice:
        raise InputError(f"column {twice[0]!r} appears more than once in the header; each column must appear "
                         "once", file=str(path), row=first_row + head, field=twice[0])
    rows = used[used > head]
    frame = raw[rows.tolist()] if len(rows) != raw.height - head - 1 else raw.slice(head + 1)
    frame.columns = names
    return frame, (first_row + rows).astype(np.int64)
