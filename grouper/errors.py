"""Errors that reach a person: each names the file, and where it applies the row, field or key.

The grouper raises :class:`InputError` for a rule table, code dictionary or scheme file it cannot read; the
payment engine (``drg.errors``) raises the same class for its own inputs, so a caller catches one type and
the command line maps it to exit code 1.
"""

from __future__ import annotations

__all__ = ["InputError"]


class InputError(Exception):
    """The input is wrong (CLI exit code 1).

    Parameters
    ----------
    message : str
        What is wrong, in words a settlement officer understands.
    file, row, field : optional
        Where it is wrong. ``row`` is the row as a person finds it in the file (a CSV file's physical line,
        the header being line 1; an Excel sheet's row; a Parquet file's 1-based row).
    """

    def __init__(self, message: str, *, file: str | None = None, row: int | None = None,
                 field: str | None = None) -> None:
        self.file, self.row, self.field = file, row, field
        self.reason = message
        where = []
        if file:
            where.append(str(file))
        if row is not None:
            where.append(f"row {row}")
        if field:
            where.append(f"field {field!r}")
        super().__init__(f"{': '.join([', '.join(where), message]) if where else message}")
