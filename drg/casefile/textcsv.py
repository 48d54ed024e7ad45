"""A CSV case file read as a person sees it: rows numbered by their physical line (the header is line 1),
blank lines skipped (not rows), any line end (``\\r\\n``, ``\\n`` or a lone ``\\r``), and an error that names
the file, the line and the column, never the content of a row.

The usual file is parsed by polars in one go. The lines where records begin are found on the bytes (a line
end outside quotes ends a record: the quotes seen before it are even in number), which also finds a quote
that is never closed. A file polars cannot parse, or whose records polars counts otherwise (a stray quote in
the middle of a value), is read again by Python's ``csv`` module, which numbers the lines itself.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import polars as pl

from drg.errors import InputError

__all__ = ["read_csv_text", "CsvRows"]

_BLANK_BYTES = np.zeros(256, dtype=bool)
_BLANK_BYTES[[9, 10, 11, 12, 13, 32, ord(",")]] = True


class CsvRows:
    """The data rows of a CSV file (every cell text) and the physical line each begins on."""

    def __init__(self, frame: pl.DataFrame, lines: np.ndarray) -> None:
        self.frame = frame
        self.lines = lines


def _unique_header(names: list[str], file: str) -> list[str]:
    from drg.casefile.schema import repeated_names

    names = [n if n != "" else f"__UNNAMED__{i}" for i, n in enumerate(names)]
    twice = repeated_names(names)
    if twice:
        raise InputError(f"column {twice[0]!r} appears more than once in the header; each column must appear "
                         "once", file=file, row=1, field=twice[0])
    return names


def _field_at(data: bytes, start: int, pos: int, header: list[str]) -> str | None:
    """The header name of the column the byte ``pos`` belongs to, in the record that starts at ``start``."""
    k, inside = 0, False
    for b in data[start:pos]:
        if b == 0x22:
            inside = not inside
        elif b == 0x2C and not inside:
            k += 1
    return header[k] if k < len(header) else f"column {k + 1}"


def read_csv_text(text: str, file: str) -> CsvRows:
    """Parse the decoded text of a CSV case file (see the module docstring)."""
    if text.startswith("\ufeff"):
        text = text[1:]
    if "\r" in text:   # a line ends at \r\n, \n or a lone \r, as an editor shows it
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    data = text.encode("utf-8")
    buf = np.frombuffer(data, dtype=np.uint8)
    newlines = np.flatnonzero(buf == 0x0A)
    quotes = np.flatnonzero(buf == 0x22)
    # a line end outside quotes ends a record
    ends = newlines[(np.searchsorted(quotes, newlines) % 2) == 0]
    starts = np.r_[0, ends + 1]
    stops = np.r_[ends, len(data)]
    start_line = np.r_[1, np.searchsorted(newlines, ends) + 2]
    if len(quotes) % 2:
        q = int(quotes[-1])
        rec = int(np.searchsorted(starts, q, side="right")) - 1
        at_field_start = q == int(starts[rec]) or data[q - 1] in (0x2C, 0x0A)
        if at_field_start:   # a quote that opens a value and is never closed
            header = _header_names(data, starts, stops, file)
            line = int(np.searchsorted(newlines, q)) + 1
            raise InputError("a quoted value starts here and its closing quote (\") is missing",
                             file=file, row=line, field=_field_at(data, int(starts[rec]), q, header or []))
        return _read_with_csv_module(text, file)
    # a record is blank when none of its bytes is other than a space, a tab or a comma (each record's span
    # up to the next record's start holds its line end, itself blank, so no span is empty)
    content = np.append(~_BLANK_BYTES[buf], False)
    blank = ~np.logical_or.reduceat(content, np.minimum(starts, len(content) - 1))
    keep = np.flatnonzero(~blank)
    if len(keep) == 0:
        raise InputError("the file is empty (no header line)", file=file)
    header_rec, data_recs = int(keep[0]), keep[1:]
    header = _header_names(data, starts, stops, file)
    lines = start_line[data_recs].astype(np.int64)
    if header_rec == 0 and not blank[:-1].any():   # (a file ending with a line end has a blank last record)
        payload = data
    else:   # blank records left out (their lines keep their numbers)
        payload = b"\n".join(data[int(starts[k]):int(stops[k])] for k in keep)
    try:
        frame = pl.read_csv(io.BytesIO(payload), infer_schema=False, truncate_ragged_lines=False,
                            raise_if_empty=False)
    except BaseException as exc:   # polars' message quotes the row: never shown (the csv module names the line)
        if isinstance(exc, (KeyboardInterrupt, SystemExit, MemoryError)):
            raise
        return _read_with_csv_module(text, file)
    if frame.width != len(header) or frame.height != len(lines):
        return _read_with_csv_module(text, file)
    if frame.columns != header:
        frame.columns = header
    return CsvRows(frame, lines)


def _header_names(data: bytes, starts: np.ndarray, stops: np.ndarray, file: str) -> list[str] | None:
    content = [k for k in range(len(starts)) if data[int(starts[k]):int(stops[k])].strip(b" \t,\n\x0b\x0c")]
    if not content:
        return None
    first = data[int(starts[content[0]]):int(stops[content[0]])].decode("utf-8")
    try:
        names = next(csv.reader([first], strict=True))
    except (csv.Error, StopIteration):
        names = first.split(",")
    return _unique_header(names, file)


def _read_with_csv_module(text: str, file: str) -> CsvRows:
    """The slow road: Python's csv module, record by record, with the line each record starts on."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header: list[str] | None = None
    rows: list[list[str]] = []
    lines: list[int] = []
    line = 0
    try:
        while True:
            first_line = reader.line_num + 1
            try:
                record = next(reader)
            except StopIteration:
                break
            line = reader.line_num
            if not any(cell.strip() for cell in record):
                continue
            if header is None:
                header = _unique_header(record, file)
                continue
            if len(record) > len(header):
                if any(cell.strip() for cell in record[len(header):]):
                    raise InputError(f"the line has {len(record)} values, the header {len(header)}", file=file,
                                     row=first_line, field=f"column {len(header) + 1}")
                record = record[:len(header)]
            rows.append([c if c != "" else None for c in record] + [None] * (len(header) - len(record)))
            lines.append(first_line)
    except csv.Error as exc:
        raise InputError(f"not a readable CSV file ({exc})", file=file, row=reader.line_num or line + 1) from None
    if header is None:
        raise InputError("the file is empty (no header line)", file=file)
    frame = pl.DataFrame({h: pl.Series(h, [r[j] for r in rows], pl.String) for j, h in enumerate(header)})
    return CsvRows(frame, np.array(lines, dtype=np.int64))


def read_csv_file(path: Path, encoding: str | None) -> CsvRows:
    """Read, decode (``encoding`` or detected) and parse a CSV case file."""
    from drg.casefile.reader import detect_encoding

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read the file: {exc.strerror or exc}", file=str(path)) from None
    encoding = encoding or detect_encoding(data, file=str(path))
    try:
        text = data.decode(encoding)
    except (UnicodeDecodeError, LookupError) as exc:
        where = f" (byte {exc.start})" if isinstance(exc, UnicodeDecodeError) else ""
        raise InputError(f"cannot decode as {encoding}{where}", file=str(path)) from None
    return read_csv_text(text, str(path))
