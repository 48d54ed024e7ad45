"""Exact money arithmetic for settlement (SPEC §0.1): half-away rounding, the largest-remainder method,
points held as integer units, point values as exact fractions.

Money is int fen (Python ``int`` inside a run, int64 in files). Points are exact decimals with
``points_decimals`` places, held as integers in units of ``1 / scale`` (``scale = 10 ** points_decimals``).
A point value is a :class:`fractions.Fraction` of fen per point; it is shown in yuan rounded to 4 decimals
and never used rounded.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

import numpy as np

from drg.errors import InputError

__all__ = [
    "round_half_away", "largest_remainder", "amount_for_points", "amounts_for_points", "apply_ratio",
    "points_to_units",
    "units_to_decimal", "fen_to_decimal", "yuan_to_fen", "yuan_text", "pv_yuan", "pv_text", "fraction_text",
    "parse_fraction",
]


def round_half_away(x: Fraction | Decimal | int) -> int:
    """Round an exact number to the nearest integer, halves away from zero (四舍五入).

    Examples
    --------
    >>> round_half_away(Fraction(5, 2)), round_half_away(Fraction(-5, 2)), round_half_away(Fraction(7, 3))
    (3, -3, 2)
    """
    x = Fraction(x)
    q, r = divmod(abs(x.numerator), x.denominator)
    if 2 * r >= x.denominator:
        q += 1
    return q if x.numerator >= 0 else -q


def largest_remainder(total: int, weights: Sequence[int | Fraction], keys: Sequence | None = None) -> list[int]:
    """Share ``total`` fen in proportion to ``weights`` exactly (SPEC §0.1, §7).

    Each share gets ``floor(total × w / Σw)``; the fen left over go one each to the largest fractional parts;
    ties go in ascending ``keys`` order (hospital id, county code; the position when ``keys`` is None).
    The shares always sum to ``total``.

    Parameters
    ----------
    total : int
        Fen to share (may be negative: floors are taken towards −∞ and the leftover is still ≥ 0).
    weights : sequence of int or Fraction
        Non-negative weights (points in integer units, or exact fractions).
    keys : sequence, optional
        Tie-break order, one per weight.

    Raises
    ------
    InputError
        A weight is negative, or all weights are 0 while ``total`` is not.
    """
    n = len(weights)
    if keys is None:
        keys = list(range(n))
    if len(keys) != n:
        raise ValueError("weights and keys differ in length")
    ws = [Fraction(w) for w in weights]
    if any(w < 0 for w in ws):
        raise InputError("largest remainder: negative weight")
    wsum = sum(ws, Fraction(0))
    if n == 0 or wsum == 0:
        if total != 0:
            raise InputError(f"cannot share {total} fen over weights that are all 0")
        return [0] * n
    base: list[int] = []
    rems: list[Fraction] = []
    for w in ws:
        exact = Fraction(total) * w / wsum
        f = exact.numerator // exact.denominator
        base.append(f)
        rems.append(exact - f)
    left = total - sum(base)
    if left:
        order = sorted(range(n), key=lambda i: (-rems[i], keys[i]))
        for i in order[:left]:
            base[i] += 1
    return base


def amount_for_points(units: int, pv_fen: Fraction, scale: int) -> int:
    """``round(points × PV)`` in fen, with points given in integer ``units`` of ``1/scale``."""
    return round_half_away(Fraction(units, scale) * pv_fen)


def amounts_for_points(units: Iterable[int], pv_fen: Fraction, scale: int) -> list[int]:
    """:func:`amount_for_points` of many amounts of points at one point value, the same exact rounding: the
    point value's numerator and denominator are taken once and each amount is two integer products and one
    division (no Fraction, and no greatest common divisor, per amount: ``drg monitor``'s 311 K hospital × DRG
    amounts at 10 M cases).

    >>> amounts_for_points([3, -3, 1, 0], Fraction(5, 6), 1)
    [3, -3, 1, 0]
    """
    if scale <= 0:
        raise ValueError(f"scale must be positive, got {scale}")
    num, den = pv_fen.numerator, pv_fen.denominator * scale   # (a Fraction's denominator is positive)
    out = []
    for u in units:
        n = int(u) * num
        q, r = divmod(-n if n < 0 else n, den)
        if 2 * r >= den:
            q += 1
        out.append(-q if n < 0 else q)
    return out


def apply_ratio(fen: int, ratio: Decimal | Fraction | int) -> int:
    """``round(fen × ratio)`` half away from zero, exact (e.g. reserve ``B × ρ``, prepayment ``F × 0.85``)."""
    return round_half_away(Fraction(fen) * Fraction(ratio))


def points_to_units(values: np.ndarray, scale: int, *, what: str = "points", file: str | None = None) -> np.ndarray:
    """float64 points that carry at most ``log10(scale)`` decimals → int64 units of ``1/scale``.

    The priced-case files store points as float64 written from exact units, so ``x × scale`` lies within
    rounding noise of an integer; anything farther (a point column with more decimals than the policy
    allows) is an input error rather than a silent rounding. NaN counts as 0 only when the caller fills it.
    """
    x = np.asarray(values, dtype=np.float64)
    if not np.all(np.isfinite(x)):
        bad = int(np.flatnonzero(~np.isfinite(x))[0]) + 1
        raise InputError(f"{what} is not a finite number", file=file, row=bad, field=what)
    scaled = x * scale
    units = np.rint(scaled)
    off = np.abs(scaled - units) > 1e-12 * np.abs(scaled) + 1e-6
    if off.any():
        bad = int(np.flatnonzero(off)[0])
        raise InputError(f"{what} {x[bad]!r} has more decimals than the policy's points_decimals",
                         file=file, row=bad + 1, field=what)
    return units.astype(np.int64)


def units_to_decimal(units: int, scale: int) -> Decimal:
    """Integer point units → exact :class:`Decimal` (e.g. 4005000 → Decimal('400.5000'))."""
    places = len(str(scale)) - 1
    return Decimal(units).scaleb(-places)


def fen_to_decimal(fen: int) -> Decimal:
    """Fen → exact yuan :class:`Decimal` with two places."""
    return Decimal(int(fen)).scaleb(-2)


def yuan_to_fen(value: Decimal | int | float | str) -> int:
    """Yuan → integer fen: the decimal value, times 100, rounded half away from zero (四舍五入).

    The one definition of the rule. A float is read as the shortest decimal that prints it (``repr``), as a
    person reads a number in a file: ``yuan_to_fen(12.345) == 1235`` although the binary float is 12.34499….
    Whole columns go through :func:`drg.casefile.money.yuan_to_fen_array` (a numba kernel that defers to this
    function near every tie).
    """
    if isinstance(value, float):
        value = repr(value)
    return int(Decimal(value).scaleb(2).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def yuan_text(fen: int | None) -> str:
    """Integer fen shown as yuan with two decimals and thousands separators (exact): ``"1,234.56"``;
    ``"—"`` for None."""
    if fen is None:
        return "—"
    sign = "-" if fen < 0 else ""
    fen = abs(int(fen))
    return f"{sign}{fen // 100:,}.{fen % 100:02d}"


def pv_yuan(pv_fen: Fraction, places: int = 4) -> Decimal:
    """A point value (fen per point) shown in yuan rounded half away from zero to ``places`` decimals."""
    q = Fraction(pv_fen) / 100 * 10 ** places
    return Decimal(round_half_away(q)).scaleb(-places)


def pv_text(pv_fen: Fraction) -> str:
    """``"1,149.4253"``: a point value in yuan for people (display only)."""
    return f"{pv_yuan(pv_fen):,}"


def fraction_text(x: Fraction) -> str:
    """The exact value as ``"num/den"`` (stored in the ledger and outputs so a PV can be replayed)."""
    x = Fraction(x)
    return f"{x.numerator}/{x.denominator}"


def parse_fraction(text: str) -> Fraction:
    """Inverse of :func:`fraction_text` (also accepts a plain decimal)."""
    return Fraction(text)
