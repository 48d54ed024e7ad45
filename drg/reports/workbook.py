"""Excel workbooks people read: numbers stored as numbers with their formats, a header block that says where
the figures come from, a totals row, text that stays text.

A :class:`Sheet` is a table (columns with a header and a kind of value, rows of values) with an optional
block of ``(label, value)`` lines above it (policy, scheme, ledger run id …), an optional totals row and
notes below. :func:`write_workbook` writes sheets with xlsxwriter under :data:`drg.outputs.WORKBOOK_OPTIONS`
(no string ever becomes a formula, number or link), atomically (:func:`drg.outputs.atomic_path`).

Values: ``int``, ``float``, :class:`~decimal.Decimal` and :class:`~fractions.Fraction` are written as
numbers in the column's format (:data:`drg.reports.labels.FORMATS`); dates as dates; ``bool`` as 是/否
(yes/no); None as an empty cell; anything else as text.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

from drg.reports.labels import FORMATS

__all__ = ["Block", "Cell", "HELPER_MIN_BOOKS", "Sheet", "write_workbook", "write_workbooks", "TOTAL_LABEL"]

#: The label of a totals row.
TOTAL_LABEL = {"zh": "合计", "en": "total"}


@dataclass(frozen=True)
class Cell:
    """A value with its own kind of format (for a column that mixes kinds, such as a summary's values)."""

    value: Any
    kind: str = "text"


@dataclass
class Block:
    """A further table below a sheet's main one, with its own title, columns and totals row."""

    title: str
    columns: Sequence[tuple[str, str]]
    rows: Sequence[Sequence[Any]]
    total: Sequence[Any] | None = None


@dataclass
class Sheet:
    """One worksheet: ``columns`` are ``(header, kind)`` pairs (kind: a key of ``FORMATS``), ``rows`` the
    values in column order. ``info`` lines go above the table, ``notes`` below it; ``total`` is a totals
    row (its first cell usually :data:`TOTAL_LABEL`)."""

    name: str
    columns: Sequence[tuple[str, str]]
    rows: Iterable[Sequence[Any]]
    title: str | None = None
    info: Sequence[tuple[str, Any]] = field(default_factory=list)
    total: Sequence[Any] | None = None
    notes: Sequence[str] = field(default_factory=list)
    lang: str = "zh"
    more: Sequence[Block] = field(default_factory=list)

    @property
    def header_row(self) -> int:
        """0-based row of the table's header (after the title and info block)."""
        n = (1 if self.title else 0) + len(self.info)
        return n + 1 if n else 0


def _width(value: Any) -> int:
    if value is None:
        return 0
    text = value if isinstance(value, str) else str(value)
    return len(text.encode("gbk", "replace"))


def write_workbook(path: str | Path, sheets: Sequence[Sheet], *, constant_memory: bool = False) -> Path:
    """Write ``sheets`` to the workbook ``path`` (atomically); return the path.

    ``constant_memory`` streams rows (for a large table: memory stays flat); rows are then written in
    order, which this function always does.
    """
    import xlsxwriter

    from drg.outputs import WORKBOOK_OPTIONS, atomic_path

    path = Path(path)
    with atomic_path(path) as tmp:
        # in_memory: the parts are zipped from memory, not temporary files (a third faster for small books)
        wb = xlsxwriter.Workbook(str(tmp), {**WORKBOOK_OPTIONS, "constant_memory": constant_memory,
                                            "in_memory": not constant_memory})
        try:
            fmt_cache: dict[tuple, Any] = {}

            def fmt(kind: str | None, bold: bool = False):
                key = (kind, bold)
                if key not in fmt_cache:
                    props: dict[str, Any] = {}
                    if kind and kind != "text":
                        props["num_format"] = FORMATS[kind]
                    if bold:
                        props["bold"] = True
                        props["top"] = 1
                    fmt_cache[key] = wb.add_format(props) if props else None
                return fmt_cache[key]

            title_fmt = wb.add_format({"bold": True, "font_size": 13})
            label_fmt = wb.add_format({"bold": True})
            head_fmt = wb.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1, "text_wrap": True,
                                      "valign": "vcenter"})
            note_fmt = wb.add_format({"italic": True, "font_color": "#555555"})
            for sheet in sheets:
                _write_sheet(wb, sheet, fmt, title_fmt, label_fmt, head_fmt, note_fmt)
        finally:
            wb.close()
    return path


def _write_cell(ws, r: int, c: int, v: Any, f, lang: str, fmt=None) -> None:
    """Write one value as a number, date, yes/no or text (a :class:`Cell` in its own format)."""
    if isinstance(v, Cell):
        v, f = v.value, (fmt(v.kind) if fmt is not None else f)
    if v is None:
        return
    if isinstance(v, bool):
        ws.write_string(r, c, ("yes" if v else "no") if lang == "en" else ("是" if v else "否"))
    elif isinstance(v, (int, float, Decimal, Fraction)):
        x = float(v)
        if x == x:  # NaN: nothing to show
            ws.write_number(r, c, x, f)
    elif isinstance(v, datetime.datetime):
        ws.write_datetime(r, c, v, f)
    elif isinstance(v, datetime.date):
        ws.write_datetime(r, c, datetime.datetime(v.year, v.month, v.day), f)
    else:
        ws.write_string(r, c, str(v))


def _value_width(v: Any) -> int:
    if v is None:
        return 0
    if isinstance(v, Cell):
        return _value_width(v.value)
    if isinstance(v, (int, float, Decimal, Fraction)) and not isinstance(v, bool):
        x = float(v)
        return 0 if x != x else min(18, len(f"{x:,.2f}"))
    if isinstance(v, datetime.date):
        return 10
    return _width(v)


def _write_sheet(wb, sheet: Sheet, fmt, title_fmt, label_fmt, head_fmt, note_fmt) -> None:
    ws = wb.add_worksheet(sheet.name[:31])
    rows = sheet.rows if isinstance(sheet.rows, list) else list(sheet.rows)
    ncol = max([len(sheet.columns)] + [len(b.columns) for b in sheet.more])
    widths = [6] * ncol
    for cols, body in [(sheet.columns, rows[:500])] + [(b.columns, list(b.rows)[:500]) for b in sheet.more]:
        for j, (h, _k) in enumerate(cols):
            widths[j] = max(widths[j], min(40, _width(h) + 2))
        for row in body:
            for j, v in enumerate(row[:ncol]):
                widths[j] = max(widths[j], min(48, _value_width(v) + 2))
    if sheet.info and widths:
        widths[0] = max(widths[0], min(24, max(_width(lab) for lab, _ in sheet.info) + 2))
    for j, w in enumerate(widths):  # before any cell: constant_memory mode streams rows
        ws.set_column(j, j, w)
    r = 0
    if sheet.title:
        ws.write_string(r, 0, sheet.title, title_fmt)
        r += 1
    for lab, value in sheet.info:
        ws.write_string(r, 0, str(lab), label_fmt)
        if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
            ws.write_number(r, 1, float(value))
        elif value is not None:
            ws.write_string(r, 1, str(value))
        r += 1
    if r:
        r += 1
    header = r
    for j, (h, _kind) in enumerate(sheet.columns):
        ws.write_string(r, j, h, head_fmt)
    r += 1
    last = _write_table(ws, r, sheet.columns, rows, sheet.total, fmt, sheet.lang)
    r = last + 1 + (sheet.total is not None)
    table_last = last
    for block in sheet.more:
        r += 1
        ws.write_string(r, 0, block.title, label_fmt)
        r += 1
        for j, (h, _kind) in enumerate(block.columns):
            ws.write_string(r, j, h, head_fmt)
        r += 1
        end = _write_table(ws, r, block.columns, block.rows, block.total, fmt, sheet.lang)
        r = end + 1 + (block.total is not None)
    if sheet.notes:
        r += 1
        for line in sheet.notes:
            ws.write_string(r, 0, line, note_fmt)
            r += 1
    ws.freeze_panes(header + 1, 0)
    if sheet.columns and not sheet.more:
        ws.autofilter(header, 0, max(header, table_last), len(sheet.columns) - 1)


def _write_table(ws, r: int, columns, rows, total, fmt, lang: str) -> int:
    """Write ``rows`` from row ``r`` and the totals row after them; return the last data row."""
    kinds = [k for _h, k in columns]
    cell_fmts = [fmt(k) for k in kinds]
    for row in rows:
        for j, v in enumerate(row):
            _write_cell(ws, r, j, v, cell_fmts[j], lang, fmt)
        r += 1
    last = r - 1
    if total is not None:
        for j, v in enumerate(total):
            if v is None:
                ws.write_blank(r, j, None, fmt(kinds[j], bold=True))
            elif isinstance(v, str):
                ws.write_string(r, j, v, fmt(None, bold=True))
            else:
                _write_cell(ws, r, j, v, fmt(kinds[j], bold=True), lang)
    return last


# ----------------------------------------------------------------------------------------------- many books
#: Below this many workbooks a helper process costs more than it saves.
HELPER_MIN_BOOKS = 100


def write_workbooks(jobs: Sequence[tuple[str | Path, Sequence[Sheet]]]) -> list[str]:
    """Write many workbooks (``[(path, sheets), …]``); return their paths in order.

    xlsxwriter is pure Python (about 20 ms of CPU for a small statement), so with many workbooks the second
    half is written by a helper process (``python -m drg.reports.workbook``, the sheets pickled on its
    standard input) on another core while this process writes the first half. If the helper fails, its
    half is written here.
    """
    import os
    import pickle
    import subprocess
    import sys

    jobs = [(str(p), list(sheets)) for p, sheets in jobs]
    if len(jobs) < HELPER_MIN_BOOKS or (os.cpu_count() or 1) < 2:
        return [str(write_workbook(p, s)) for p, s in jobs]
    mine, theirs = jobs[: len(jobs) // 2], jobs[len(jobs) // 2:]
    proc = None
    try:
        proc = subprocess.Popen([sys.executable, "-m", "drg.reports.workbook"], stdin=subprocess.PIPE,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        proc.stdin.write(pickle.dumps(theirs, protocol=pickle.HIGHEST_PROTOCOL))
        proc.stdin.close()
    except OSError:
        proc = None
    out = [str(write_workbook(p, s)) for p, s in mine]
    ok = proc is not None and proc.wait() == 0 and all(Path(p).exists() for p, _ in theirs)
    if not ok:
        for p, s in theirs:
            write_workbook(p, s)
    return out + [p for p, _ in theirs]


def _main() -> int:
    import pickle
    import sys

    for path, sheets in pickle.loads(sys.stdin.buffer.read()):
        write_workbook(path, sheets)
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(_main())
