"""Numba kernels of the payment side, each with a plain-Python twin, and the exact-decimal arithmetic.

Owns: case classification and points (SPEC §4), readmission pairing (SPEC §5.1), the points scaling by a
factor with rounding half away from zero.

Points are held as int64 in units of ``1 / scale`` (``scale = 10 ** points_decimals``; 0.0001 point by
default). How the kernel stays exact (SPEC §0.1):

* normal, per-diem, readmission and review points are integer arithmetic on exact inputs
  (``BP_u × coef_u``, ``BPd_u × bed-days``, ``points_u × num / den``) with half-away integer rounding;
* the forms with a division (unstable, ungroupable, high, low) are evaluated in float64 and rounded
  ``floor(v + 0.5)``; whenever the fractional part lies within float error of one half, or the cost ratio
  lies within float error of a class bound (H or L), the kernel raises a flag and the row is re-evaluated
  by the twin :func:`price_one_exact` in rational arithmetic (``fractions.Fraction`` of the exact inputs:
  fen, the float64 means as stored, the policy's decimals). So the kernel's answer is the exact one.

The twin :func:`price_one_exact` evaluates every row in rational arithmetic; the tests run every case
through both and require equal results.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from typing import NamedTuple

import numpy as np
import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # see grouper/kernel.py: no spinning OpenMP workers

from numba import njit

# The plain-Python twins live in drg.pricing.exact (no numba there, so a one-case estimate can use them).
from drg.pricing.exact import COEF_SCALE, HIGH, LOW, NORMAL, PER_DIEM, REVIEW, UNGROUPABLE, UNSTABLE


# --------------------------------------------------------------------------------------------- exact helpers
def scale_units(points_u: np.ndarray, factor: Decimal | Fraction) -> np.ndarray:
    """``points × factor`` on integer points, rounded half away from zero (readmission ×0.5)."""
    f = Fraction(factor)
    return _scale_kernel(np.asarray(points_u, dtype=np.int64), f.numerator, f.denominator)


@njit(cache=True)
def _scale_kernel(p, num, den):
    out = np.empty_like(p)
    for i in range(p.shape[0]):
        v = p[i] * num
        a = v if v >= 0 else -v
        q = a // den
        if 2 * (a - q * den) >= den:
            q += 1
        out[i] = q if v >= 0 else -q
    return out


# --------------------------------------------------------------------------------------------- pricing
@njit(cache=True)
def _round_flag(v):
    """floor(v + 0.5) for v ≥ 0 (half away for v < 0) and whether v is within float error of a tie."""
    a = abs(v)
    fl = np.floor(a)
    frac = a - fl
    tol = 1e-12 * max(1.0, a)      # float64 error of these few operations is ~1e-15 relative
    flag = abs(frac - 0.5) <= tol
    q = fl + 1.0 if frac >= 0.5 else fl
    return (np.int64(q) if v >= 0 else -np.int64(q)), flag


@njit(cache=True)
def _div_round(p, s):
    """Integer p / s rounded half away from zero."""
    a = p if p >= 0 else -p
    q = a // s
    if 2 * (a - q * s) >= s:
        q += 1
    return q if p >= 0 else -q


class CaseArrays(NamedTuple):
    """The inputs of pricing, one value per case (the kernel's first argument)."""

    cost_fen: np.ndarray       # int64 total cost
    bed_days: np.ndarray       # int32 (int64 past its range) max(los, 1)
    ungroupable: np.ndarray    # bool: no DRG (0000 or an ambiguous group)
    review: np.ndarray         # bool: a special-review row sets the points
    review_u: np.ndarray       # int64 the review's points in units
    per_diem: np.ndarray       # bool: the per-diem rule applies (SPEC §2.7)
    widx: np.ndarray           # int32 row of the case's DRG in the weights arrays, -1 without weight
    coef_u: np.ndarray         # int64 coefficient in units of 1/COEF_SCALE


class WeightArrays(NamedTuple):
    """The weights table, one value per DRG row (``-1`` / NaN where a value is missing)."""

    base_u: np.ndarray              # int64 base points in units
    mean_fen: np.ndarray            # float64 mean cost (fen)
    stable: np.ndarray              # bool
    high_ratio: np.ndarray          # float64 H(BP)
    per_diem_u: np.ndarray          # int64 per-diem points in units
    per_diem_mean_fen: np.ndarray   # float64 mean cost per bed-day (fen)


class KernelRule(NamedTuple):
    """The pricing constants in float64 (the exact twin takes :class:`drg.pricing.exact.PricingRule`)."""

    a_fen: float                # A, the all-DRG mean cost
    low_ratio: float            # L
    low_rule_jinhua: bool
    ungroupable_review: bool
    ungroupable_factor: float
    scale: int                  # 10 ** points_decimals


@njit(cache=True)
def price_kernel(cases, weights, rule):
    """Classify and price every case (SPEC §4): ``cases`` a :class:`CaseArrays`, ``weights`` a
    :class:`WeightArrays`, ``rule`` a :class:`KernelRule`.

    Returns ``(case_class int8, points_u int64, cost_ratio float64, needs_exact bool, no_weight bool)``; a
    case flagged ``needs_exact`` lies within float error of a rounding tie or a class bound and is priced
    again by the exact twin.
    """
    cost_fen, bed_days, ungroupable = cases.cost_fen, cases.bed_days, cases.ungroupable
    review, review_u, per_diem, widx, coef_u = cases.review, cases.review_u, cases.per_diem, cases.widx, cases.coef_u
    bp_u, mean_fen, stable, high_h = weights.base_u, weights.mean_fen, weights.stable, weights.high_ratio
    pdp_u, pd_mean_fen = weights.per_diem_u, weights.per_diem_mean_fen
    a_fen, low_l, low_rule_jinhua = rule.a_fen, rule.low_ratio, rule.low_rule_jinhua
    ung_review, ung_factor, scale = rule.ungroupable_review, rule.ungroupable_factor, rule.scale
    n = cost_fen.shape[0]
    cls = np.empty(n, np.int8)
    pts = np.zeros(n, np.int64)
    ratio = np.full(n, np.nan)
    flag = np.zeros(n, np.bool_)
    noweight = np.zeros(n, np.bool_)
    k_a = 100.0 * scale / a_fen
    for i in range(n):
        c = float(cost_fen[i])
        w = widx[i]
        if review[i]:
            cls[i] = REVIEW
            pts[i] = review_u[i]
            if w >= 0 and mean_fen[w] == mean_fen[w] and mean_fen[w] != 0.0:
                ratio[i] = c / mean_fen[w]
            continue
        if ungroupable[i]:
            cls[i] = UNGROUPABLE
            if ung_review:
                pts[i] = 0
            else:
                pts[i], flag[i] = _round_flag(c * k_a * ung_factor)
            continue
        if per_diem[i] and w >= 0 and pdp_u[w] >= 0:
            cls[i] = PER_DIEM
            pts[i] = pdp_u[w] * bed_days[i]
            if pd_mean_fen[w] != 0.0:     # (a DRG whose history cost nothing has no ratio)
                ratio[i] = (c / bed_days[i]) / pd_mean_fen[w]
            continue
        if w < 0 or bp_u[w] < 0 or per_diem[i]:  # no weight, or per-diem without per-diem points (§4)
            cls[i] = UNSTABLE
            noweight[i] = True
            pts[i], flag[i] = _round_flag(c * k_a)
            continue
        if mean_fen[w] == 0.0:      # a DRG whose history cost nothing: no ratio, priced as unstable (§4)
            cls[i] = UNSTABLE
            pts[i], flag[i] = _round_flag(c * k_a)
            continue
        r = c / mean_fen[w]
        ratio[i] = r
        if not stable[w]:
            cls[i] = UNSTABLE
            pts[i], flag[i] = _round_flag(c * k_a)
            continue
        bp = bp_u[w]
        h = high_h[w]
        near = abs(r - h) <= 1e-12 * h or abs(r - low_l) <= 1e-12 * max(low_l, 1e-300)
        if r >= h:
            cls[i] = HIGH
            v = bp * float(coef_u[i]) / COEF_SCALE + (r - h) * bp
            pts[i], f = _round_flag(v)
            flag[i] = f or near
        elif r <= low_l:
            cls[i] = LOW
            if low_rule_jinhua:
                v = bp * r
            else:
                v = bp * float(coef_u[i]) / COEF_SCALE * r
            q, f = _round_flag(v)
            if q > bp:
                q = bp
            pts[i] = q
            flag[i] = f or near
        else:
            cls[i] = NORMAL
            pts[i] = _div_round(bp * coef_u[i], COEF_SCALE)
            flag[i] = near
    return cls, pts, ratio, flag, noweight


# --------------------------------------------------------------------------------------------- readmission
@njit(cache=True)
def pair_kernel(same_group_as_next, admit, discharge, halvable, window):
    """Readmission pairing over stays sorted by (group, admission date, discharge date, case id).

    ``same_group_as_next[i]`` says sorted stay i+1 is in i's group. Stay i is halved when it is
    halvable and the next stay of its group is admitted 0..window days (inclusive) after i's discharge.
    Returns a bool mask in sorted order.
    """
    n = admit.shape[0]
    out = np.zeros(n, np.bool_)
    for i in range(n - 1):
        if same_group_as_next[i] and halvable[i]:
            gap = admit[i + 1] - discharge[i]
            if 0 <= gap <= window:
                out[i] = True
    return out


@njit(cache=True, inline="always")
def _group_of(x, hosp, match, year):
    """A patient-id hash mixed with the hospital, match-code and year codes into one uint64 (splitmix64)."""
    x ^= np.uint64(hosp) * np.uint64(0x9E3779B97F4A7C15)
    x ^= np.uint64(match) * np.uint64(0xC2B2AE3D27D4EB4F)
    x ^= np.uint64(year) * np.uint64(0x165667B19E3779F9)
    x ^= x >> np.uint64(30)
    x *= np.uint64(0xBF58476D1CE4E5B9)
    x ^= x >> np.uint64(27)
    x *= np.uint64(0x94D049BB133111EB)
    x ^= x >> np.uint64(31)
    return x


@njit(cache=True)
def text_group_hash(offsets, data, first_row, rows, lo, hi, hosp, match, year, out):
    """The group hash of the stays ``rows[lo:hi]`` (file rows, all in one Arrow chunk of patient ids that
    begins at file row ``first_row``), the patient id hashed from its UTF-8 bytes (FNV-1a) on the chunk's
    buffers: no copy of the ids. Writes ``out[lo:hi]``. Plain twin:
    :func:`drg.pricing.exact.text_group_hash_twin`."""
    for k in range(lo, hi):
        i = rows[k]
        j = i - first_row
        h = np.uint64(0xCBF29CE484222325)
        for t in range(offsets[j], offsets[j + 1]):
            h = (h ^ np.uint64(data[t])) * np.uint64(0x100000001B3)
        out[k] = _group_of(h, hosp[i], match[i], year[i])


@njit(cache=True)
def sort_runs_by_dates(keys, rows, admit, dis):
    """In place: inside each run of equal ``keys``, order ``rows`` by (admission, discharge). A short run
    (one patient's stays in one group, the usual case) by insertion sort; a long one (one patient with
    thousands of stays) by a stable merge sort of the two dates packed into one key, so that no run costs
    more than O(L log L)."""
    n = keys.shape[0]
    i = 0
    while i < n:
        j = i + 1
        while j < n and keys[j] == keys[i]:
            j += 1
        if j - i > 32:
            packed = np.empty(j - i, np.uint64)
            for k in range(i, j):
                r = rows[k]
                packed[k - i] = (np.uint64(admit[r] + 2147483648) << np.uint64(32)) | np.uint64(dis[r] + 2147483648)
            order = np.argsort(packed, kind="mergesort")
            run = rows[i:j].copy()
            for k in range(j - i):
                rows[i + k] = run[order[k]]
        else:
            for k in range(i + 1, j):
                r = rows[k]
                a, d = admit[r], dis[r]
                m = k - 1
                while m >= i and (admit[rows[m]] > a or (admit[rows[m]] == a and dis[rows[m]] > d)):
                    rows[m + 1] = rows[m]
                    m -= 1
                rows[m + 1] = r
        i = j


@njit(cache=True)
def same_texts(offsets, data, a, b):
    """Whether string ``a[k]`` equals string ``b[k]`` for every k, the strings given by Arrow ``offsets``
    (int64) and UTF-8 ``data``. Plain twin: :func:`drg.pricing.exact.same_texts_twin`."""
    for k in range(a.shape[0]):
        i, j = a[k], b[k]
        n = offsets[i + 1] - offsets[i]
        if offsets[j + 1] - offsets[j] != n:
            return False
        p, q = offsets[i], offsets[j]
        for t in range(n):
            if data[p + t] != data[q + t]:
                return False
    return True
