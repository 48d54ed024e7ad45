"""Settlement and monitoring periods as people write them: the one grammar of CONTRACT.md, read one way
everywhere (every ``--period`` option, the ledger, the bundle).

==============  ==================  ========================
written         kind                months
==============  ==================  ========================
``2025-03``     month               3
``2025-Q2``     quarter (季度)      4, 5, 6
``2025-H1``     half (半年)         1 … 6
``2025``        year (年度)         1 … 12
==============  ==================  ========================

A month may be written with one digit (``2025-3``) and ``q``/``h`` in lower case; the canonical text
(:attr:`Period.text`) is what is stored and printed. A range ``FIRST:LAST`` of two periods of one year
(``2025-01:2025-06``) covers the months from the first one's first month to the last one's last month
(:func:`parse_period_range`).

Standard library only (the one-case estimate and every command's option parsing import it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from drg.errors import InputError

__all__ = ["Period", "PERIOD_KINDS", "PERIOD_GRAMMAR", "parse_period", "parse_month", "parse_period_range",
           "month_period"]

#: The kinds of period, shortest first.
PERIOD_KINDS = ("month", "quarter", "half", "year")
#: The grammar as written in messages and help texts.
PERIOD_GRAMMAR = "YYYY-MM (a month), YYYY-Qn (a quarter), YYYY-Hn (a half-year) or YYYY (a year)"

_PATTERN = re.compile(r"^\s*(\d{4})(?:-(?:(\d{1,2})|([Qq])([1-4])|([Hh])([12])))?\s*$")
_MIN_YEAR, _MAX_YEAR = 1990, 2100


@dataclass(frozen=True, order=True)
class Period:
    """A period of one year: ``kind`` (month, quarter, half, year), ``year`` and ``index`` (the month 1–12,
    the quarter 1–4, the half 1–2; 0 for a year)."""

    year: int
    kind: str
    index: int = 0

    @property
    def months(self) -> tuple[int, ...]:
        """The calendar months the period covers, in order."""
        if self.kind == "month":
            return (self.index,)
        if self.kind == "quarter":
            return tuple(range(3 * self.index - 2, 3 * self.index + 1))
        if self.kind == "half":
            return tuple(range(6 * self.index - 5, 6 * self.index + 1))
        return tuple(range(1, 13))

    @property
    def first_month(self) -> int:
        return self.months[0]

    @property
    def last_month(self) -> int:
        return self.months[-1]

    @property
    def month(self) -> int | None:
        """The month of a month period, else None."""
        return self.index if self.kind == "month" else None

    @property
    def text(self) -> str:
        """The canonical text: ``2025-03``, ``2025-Q2``, ``2025-H1``, ``2025``."""
        if self.kind == "month":
            return f"{self.year:04d}-{self.index:02d}"
        if self.kind == "quarter":
            return f"{self.year:04d}-Q{self.index}"
        if self.kind == "half":
            return f"{self.year:04d}-H{self.index}"
        return f"{self.year:04d}"

    def label(self, lang: str = "zh") -> str:
        """The period for people: ``2025年3月``, ``2025年第2季度``, ``2025年上半年``, ``2025年度`` (or in English)."""
        if lang == "en":
            return {"month": f"{self.year}-{self.index:02d}", "quarter": f"{self.year} Q{self.index}",
                    "half": f"{self.year} H{self.index}", "year": f"year {self.year}"}[self.kind]
        return {"month": f"{self.year}年{self.index}月", "quarter": f"{self.year}年第{self.index}季度",
                "half": f"{self.year}年{'上' if self.index == 1 else '下'}半年", "year": f"{self.year}年度"}[self.kind]

    def __str__(self) -> str:
        return self.text


def month_period(year: int, month: int) -> Period:
    """The month period ``year``-``month``."""
    return Period(int(year), "month", int(month))


def parse_period(text: str | int | Period, *, kinds: tuple[str, ...] = PERIOD_KINDS,
                 what: str = "period") -> Period:
    """Read a period written as in CONTRACT.md (``2025-03``, ``2025-Q2``, ``2025-H1``, ``2025``).

    Parameters
    ----------
    text : the period as written (an int is a year; a :class:`Period` is returned as it is, if allowed).
    kinds : the kinds the caller accepts (e.g. ``("month",)`` for a monthly run).
    what : the name used in the message (an option such as ``--period``).

    Raises
    ------
    InputError
        The text is not a period of the grammar, the month or year is out of range, or the kind is not one
        of ``kinds`` (the message says which are).
    """
    if isinstance(text, Period):
        p = text
    else:
        raw = str(text)
        m = _PATTERN.match(raw)
        if not m:
            raise InputError(f"{what} must be {_grammar(kinds)}, got {raw!r}", field=what)
        year = int(m.group(1))
        if m.group(2) is not None:
            p = Period(year, "month", int(m.group(2)))
            if not 1 <= p.index <= 12:
                raise InputError(f"{what} {raw!r}: month {p.index} is not 1–12", field=what)
        elif m.group(4) is not None:
            p = Period(year, "quarter", int(m.group(4)))
        elif m.group(6) is not None:
            p = Period(year, "half", int(m.group(6)))
        else:
            p = Period(year, "year", 0)
        if not _MIN_YEAR <= year <= _MAX_YEAR:
            raise InputError(f"{what} {raw!r}: year {year} is not {_MIN_YEAR}–{_MAX_YEAR}", field=what)
    if p.kind not in kinds:
        raise InputError(f"{what} must be {_grammar(kinds)}, got {p.text!r} (a {p.kind})", field=what)
    return p


def parse_month(text: str, *, what: str = "period") -> tuple[int, int]:
    """``"2025-03"`` → ``(2025, 3)``: a month period only."""
    p = parse_period(text, kinds=("month",), what=what)
    return p.year, p.index


def parse_period_range(text: str, *, what: str = "period") -> tuple[int, tuple[int, ...]]:
    """A period or a range ``FIRST:LAST`` within one year → ``(year, months)``.

    ``2025-Q1`` → ``(2025, (1, 2, 3))``; ``2025-02:2025-05`` → ``(2025, (2, 3, 4, 5))``; ``2025`` → the twelve
    months.
    """
    if ":" not in str(text):
        p = parse_period(text, what=what)
        return p.year, p.months
    first_text, _, last_text = str(text).partition(":")
    first, last = parse_period(first_text, what=what), parse_period(last_text, what=what)
    if first.year != last.year or last.last_month < first.first_month:
        raise InputError(f"{what} range must be within one year, first ≤ last: {text!r}", field=what)
    return first.year, tuple(range(first.first_month, last.last_month + 1))


def _grammar(kinds: tuple[str, ...]) -> str:
    parts = {"month": "YYYY-MM (a month)", "quarter": "YYYY-Qn (a quarter)", "half": "YYYY-Hn (a half-year)",
             "year": "YYYY (a year)"}
    named = [parts[k] for k in PERIOD_KINDS if k in kinds]
    return named[0] if len(named) == 1 else ", ".join(named[:-1]) + " or " + named[-1]
