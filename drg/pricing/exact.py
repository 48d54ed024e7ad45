"""Exact plain-Python pricing: the twins of the numba kernels in :mod:`drg.pricing.kernels` (SPEC §0.1, §4, §5.1).

Rational arithmetic (``fractions.Fraction``) on the exact inputs, rounded once, half away from zero. This
module imports neither numba nor pyarrow, so the one-case path of ``drg estimate`` prices with the very
functions the tests hold the kernels to.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from typing import NamedTuple

from drg.money import round_half_away

__all__ = ["NORMAL", "HIGH", "LOW", "UNSTABLE", "PER_DIEM", "UNGROUPABLE", "REVIEW", "CLASS_NAMES", "COEF_SCALE",
           "round_half_away", "to_units", "price_one_exact", "pair_twin", "scale_units_twin", "CaseToPrice",
           "PricingRule", "WeightRow", "text_group_hash_twin", "same_texts_twin"]

NORMAL, HIGH, LOW, UNSTABLE, PER_DIEM, UNGROUPABLE, REVIEW = range(7)
#: Coefficients are rounded to 4 decimals (SPEC §3.5) whatever ``points_decimals`` says: units of 1/10,000.
COEF_SCALE = 10_000
CLASS_NAMES = ("normal", "high", "low", "unstable", "per_diem", "ungroupable", "review")


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


class PricingRule(NamedTuple):
    """The policy's pricing constants, exact (SPEC §4); :meth:`of` builds them from a policy and A."""

    a_fen: Fraction               # A, the all-DRG mean cost per case
    low_ratio: Decimal            # L
    low_rule_jinhua: bool         # low outliers by the Jinhua rule (no coefficient) instead of the province's
    ungroupable_review: bool      # ungroupable cases wait for special review (0 points) instead of c / A
    ungroupable_factor: Decimal
    scale: int                    # 10 ** points_decimals

    @classmethod
    def of(cls, policy, a_fen: Fraction) -> PricingRule:
        pr = policy.pricing
        return cls(Fraction(a_fen), pr.low_ratio, pr.low_outlier_rule == "jinhua", pr.ungroupable == "review",
                   pr.ungroupable_factor, policy.points_scale)


class CaseToPrice(NamedTuple):
    """One case's inputs to pricing."""

    cost_fen: int
    bed_days: int            # max(los, 1)
    ungroupable: bool        # no DRG: 0000 or an ambiguous group
    review: bool             # a special-review row sets the points
    review_u: int            # the review's points, in units
    per_diem: bool           # the per-diem rule applies (SPEC §2.7)
    coef_u: int              # coefficient in units of 1/COEF_SCALE


class WeightRow(NamedTuple):
    """One DRG's weights, exact (``None`` where the weights table has no value)."""

    base_u: int | None                      # base points in units
    mean_fen: Fraction | None               # mean_d
    stable: bool
    high_ratio: Decimal                     # H(BP)
    per_diem_u: int | None                  # per-diem points in units
    per_diem_mean_fen: Fraction | None      # mean cost per bed-day


def price_one_exact(case: CaseToPrice, row: WeightRow | None, rule: PricingRule) -> tuple[int, int, float, bool]:
    """Plain-Python, exact twin of :func:`drg.pricing.kernels.price_kernel` for one case.

    ``row`` is the case's DRG in the weights table (None when the DRG has none). The class and the points
    are decided on exact values (SPEC §0.1): fen, the exact means, the policy's decimals. Returns
    ``(case_class, points_u, cost_ratio, no_weight)``; the cost ratio returned is the float64 ``cost / mean``
    a person reads (the kernel's), never used in a decision.
    """
    c = Fraction(int(case.cost_fen))
    nan = float("nan")
    scale = rule.scale
    bp_u = row.base_u if row is not None else None
    mean_fen = row.mean_fen if bp_u is not None else None
    pdp_u = row.per_diem_u if row is not None else None

    def shown(mean) -> float:
        return float(case.cost_fen) / float(mean) if float(mean) != 0 else nan

    if case.review:
        return REVIEW, int(case.review_u), (shown(mean_fen) if mean_fen is not None and mean_fen == mean_fen
                                            else nan), False
    a = Fraction(rule.a_fen)
    if case.ungroupable:
        if rule.ungroupable_review:
            return UNGROUPABLE, 0, nan, False
        return UNGROUPABLE, round_half_away(c / a * 100 * scale * Fraction(rule.ungroupable_factor)), nan, False
    if case.per_diem and pdp_u is not None:
        return (PER_DIEM, int(pdp_u) * int(case.bed_days),
                (float(case.cost_fen) / int(case.bed_days)) / float(row.per_diem_mean_fen)
                if float(row.per_diem_mean_fen) != 0 else nan, False)
    if bp_u is None or case.per_diem:   # no weight, or a per-diem case whose DRG has no per-diem points (§4)
        return UNSTABLE, round_half_away(c / a * 100 * scale), nan, True
    if not row.stable or Fraction(mean_fen) == 0:   # (mean 0: a history that cost nothing has no ratio)
        return UNSTABLE, round_half_away(c / a * 100 * scale), shown(mean_fen), False
    rr = c / Fraction(mean_fen)
    bp = Fraction(int(bp_u))
    coef = Fraction(int(case.coef_u), COEF_SCALE)
    h, low = Fraction(row.high_ratio), Fraction(rule.low_ratio)
    if rr >= h:
        return HIGH, round_half_away(bp * coef + (rr - h) * bp), shown(mean_fen), False
    if rr <= low:
        v = bp * rr if rule.low_rule_jinhua else bp * coef * rr
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


def _group_of_twin(x: int, hosp: int, match: int, year: int) -> int:
    m = (1 << 64) - 1
    x ^= (hosp * 0x9E3779B97F4A7C15) & m
    x ^= (match * 0xC2B2AE3D27D4EB4F) & m
    x ^= (year * 0x165667B19E3779F9) & m
    x ^= x >> 30
    x = (x * 0xBF58476D1CE4E5B9) & m
    x ^= x >> 27
    x = (x * 0x94D049BB133111EB) & m
    return x ^ (x >> 31)


def text_group_hash_twin(patient_id: str, hosp: int, match: int, year: int) -> int:
    """Plain twin of :func:`drg.pricing.kernels.text_group_hash` for one stay: FNV-1a of the id's UTF-8
    bytes mixed with the codes (as uint64; codes are taken modulo 2**64, as numba's unsigned casts do)."""
    m = (1 << 64) - 1
    h = 0xCBF29CE484222325
    for byte in patient_id.encode():
        h = ((h ^ byte) * 0x100000001B3) & m
    return _group_of_twin(h, hosp & m, match & m, year & m)


def same_texts_twin(values: list, a, b) -> bool:
    """Plain twin of :func:`drg.pricing.kernels.same_texts`: ``values[a[k]] == values[b[k]]`` for every k."""
    return all(values[int(i)] == values[int(j)] for i, j in zip(a, b))
