"""Exact plain-Python pricing: the twins of the numba kernels in :mod:`drg.pricing.kernels` (SPEC §0.1, §4, §5.1).

Rational arithmetic (``fractions.Fraction``) on the exact inputs, rounded once, half away from zero. This
module imports neither numba nor pyarrow, so the one-case path of ``drg estimate`` prices with the very
functions the tests hold the kernels to.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from drg.money import round_half_away

__all__ = ["NORMAL", "HIGH", "LOW", "UNSTABLE", "PER_DIEM", "UNGROUPABLE", "REVIEW", "CLASS_NAMES", "COEF_SCALE",
           "round_half_away", "to_units", "price_one_exact", "pair_twin", "scale_units_twin", "is_ungroupable"]

NORMAL, HIGH, LOW, UNSTABLE, PER_DIEM, UNGROUPABLE, REVIEW = range(7)
#: Coefficients are rounded to 4 decimals (SPEC §3.5) whatever ``points_decimals`` says: units of 1/10,000.
COEF_SCALE = 10_000
CLASS_NAMES = ("normal", "high", "low", "unstable", "per_diem", "ungroupable", "review")


def is_ungroupable(drg: str | None) -> bool:
    """A case without a DRG to price by: none, ``0000``, or a CHS-DRG 2.0 ambiguous group (``GQY``), which
    SPEC §2 leaves out of every weight and §4 prices as ungroupable."""
    if drg is None:
        return True
    d = drg.strip()
    return d in ("", "0000") or (len(d) == 3 and d.endswith("QY"))


def to_units(x: Fraction | Decimal | float | int, scale: int) -> int:
    """``x`` in units of ``1/scale``, rounded half away from zero on the exact decimal.

    A float is read as the shortest decimal that prints it (``repr``), as a person reads a number in a
    file: ``to_units(0.00005, 10_000) == 1``.
    """
    if isinstance(x, float):
        x = Decimal(repr(x))
    return round_half_away(Fraction(x) * scale)


def scale_units_twin(points_u, factor) -> list[int]:
    """Plain-Python twin of :func:`scale_units`."""
    f = Fraction(factor)
    return [round_half_away(Fraction(int(p)) * f) for p in points_u]


def price_one_exact(cost_fen: int, bed_days: int, ungroupable: bool, review: bool, review_u: int,
                    per_diem: bool, coef_u: int, bp_u: int | None, mean_fen: Fraction | float | None,
                    stable: bool, high_h: Decimal, pdp_u: int | None, pd_mean_fen: Fraction | float | None,
                    a_fen: Fraction | float, low_l: Decimal, low_rule_jinhua: bool, ung_review: bool,
                    ung_factor: Decimal, scale: int) -> tuple[int, int, float, bool]:
    """Plain-Python, exact twin of :func:`price_kernel` for one case.

    ``coef_u`` is the coefficient in units of 1/:data:`COEF_SCALE`; points are in units of 1/``scale``.
    ``mean_fen`` (mean_d), ``pd_mean_fen`` and ``a_fen`` (A) should be exact (``Fraction``): the class and
    the points are decided on them (SPEC §0.1). ``bp_u``/``mean_fen`` are ``None`` when the DRG has no
    weight; ``pdp_u`` ``None`` when it has no per-diem points. Returns ``(case_class, points_u, cost_ratio,
    no_weight)``; the cost ratio returned is the float64 ``cost / mean`` a person reads (the kernel's),
    never used in a decision.
    """
    c = Fraction(int(cost_fen))
    nan = float("nan")

    def shown(mean) -> float:
        return float(cost_fen) / float(mean)

    if review:
        return REVIEW, int(review_u), (shown(mean_fen) if mean_fen is not None and mean_fen == mean_fen
                                       else nan), False
    a = Fraction(a_fen)
    if ungroupable:
        if ung_review:
            return UNGROUPABLE, 0, nan, False
        return UNGROUPABLE, round_half_away(c / a * 100 * scale * Fraction(ung_factor)), nan, False
    if per_diem and pdp_u is not None:
        return PER_DIEM, int(pdp_u) * int(bed_days), (float(cost_fen) / int(bed_days)) / float(pd_mean_fen), False
    if bp_u is None or per_diem:   # no weight, or a per-diem case whose DRG has no per-diem points (§4)
        return UNSTABLE, round_half_away(c / a * 100 * scale), nan, True
    rr = c / Fraction(mean_fen)
    if not stable:
        return UNSTABLE, round_half_away(c / a * 100 * scale), shown(mean_fen), False
    bp = Fraction(int(bp_u))
    coef = Fraction(int(coef_u), COEF_SCALE)
    h, low = Fraction(high_h), Fraction(low_l)
    if rr >= h:
        return HIGH, round_half_away(bp * coef + (rr - h) * bp), shown(mean_fen), False
    if rr <= low:
        v = bp * rr if low_rule_jinhua else bp * coef * rr
        return LOW, min(round_half_away(v), int(bp_u)), shown(mean_fen), False
    return NORMAL, round_half_away(bp * coef), shown(mean_fen), False


def pair_twin(stays: list[dict], window: int) -> set:
    """Plain-Python twin of the pairing: ``stays`` are dicts with ``key`` (the group), ``admit``,
    ``discharge`` (ints, days), ``case_id`` and ``halvable``. Returns the case ids halved."""
    groups: dict = {}
    for s in stays:
        groups.setdefault(s["key"], []).append(s)
    halved = set()
    for g in groups.values():
        g.sort(key=lambda s: (s["admit"], s["discharge"], s["case_id"]))
        for cur, nxt in zip(g, g[1:]):
            if cur["halvable"] and 0 <= nxt["admit"] - cur["discharge"] <= window:
                halved.add(cur["case_id"])
    return halved
