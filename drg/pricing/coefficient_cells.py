"""The hospital coefficients of every hospital × DRG cell (医院系数, SPEC §3.1, §3.5), exactly rounded, fast.

A cell's coefficient is a ratio of year-weighted means, ``hc = mean_h / mean_d``, blended
``v = wh·hc + (wt·tc + w1)``, clipped and rounded half away from zero to 4 decimals; the table also keeps
``hc`` as the float nearest to it. The exact rationals of these need more than 64 bits (fen sums times year
weights times the DRG mean's numerator and denominator), and 250 K of them as Python integers took 0.5 s at
10 M history cases.

The kernel here computes each cell in double-double arithmetic (about 104 bits: every operation's error
below 2^-100 of its result; the terms are all non-negative, so the errors do not grow by cancellation) and
knows how far it can be off. A result is taken only where that error cannot change it: ``hc``'s nearest
float where the double-double is not within the error of the midpoint between two floats, the clip where
``v`` is not within it of a bound, the 4-decimal rounding where ``v·10⁴`` is not within it of a half. Any
other cell — an exact tie, or a value on a bound (both occur: a hospital's mean equal to the DRG's, a clip
at exactly 1.1) — is marked unsure and computed in Fractions by :func:`exact_cell`, which is also the plain
twin (``ENGINE = "python"``: every cell in Fractions). Both give the same floats, bit for bit.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from numba import njit

from drg.money import round_half_away

__all__ = ["ENGINE", "cell_sums", "cell_sums_twin", "hospital_cells", "exact_cell", "double_double"]

#: ``numba`` (the kernel, Fractions for its unsure cells) or ``python`` (Fractions for every cell). No caller
#: chooses it; the tests' engine fixture sets it for the length of a test.
ENGINE = "numba"

#: the bound taken on the relative error of a double-double result of the kernel (its operations: below
#: 2^-100 together; 2^-90 leaves a margin of a thousand)
ERROR = 2.0 ** -90


def double_double(x: Fraction) -> tuple[float, float]:
    """``x`` as a pair of floats ``hi + lo`` (``hi`` the float nearest to x, ``lo`` the float nearest to the
    rest): relative error under 2^-105."""
    hi = float(x)
    return hi, float(x - Fraction(hi))


# ---------------------------------------------------------------------------------- double-double arithmetic
@njit(cache=True, inline="always")
def _two_sum(a, b):
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


@njit(cache=True, inline="always")
def _quick_two_sum(a, b):      # |a| ≥ |b|
    s = a + b
    return s, b - (s - a)


@njit(cache=True, inline="always")
def _split(a):
    t = 134217729.0 * a         # 2^27 + 1 (Dekker)
    hi = t - (t - a)
    return hi, a - hi


@njit(cache=True, inline="always")
def _two_prod(a, b):
    p = a * b
    ah, al = _split(a)
    bh, bl = _split(b)
    return p, ((ah * bh - p) + ah * bl + al * bh) + al * bl


@njit(cache=True, inline="always")
def _mul(ah, al, bh, bl):
    p, e = _two_prod(ah, bh)
    e += ah * bl + al * bh
    return _quick_two_sum(p, e)


@njit(cache=True, inline="always")
def _mul_d(ah, al, b):
    p, e = _two_prod(ah, b)
    e += al * b
    return _quick_two_sum(p, e)


@njit(cache=True, inline="always")
def _div_d(ah, al, b):
    q1 = ah / b
    p, e = _two_prod(q1, b)
    s, f = _two_sum(ah, -p)
    f += al
    f -= e
    return _quick_two_sum(q1, (s + f) / b)


@njit(cache=True, inline="always")
def _add(ah, al, bh, bl):
    s, e = _two_sum(ah, bh)
    t, f = _two_sum(al, bl)
    e += t
    s, e = _quick_two_sum(s, e)
    e += f
    return _quick_two_sum(s, e)


# ----------------------------------------------------------------------------------------------- the sums
@njit(cache=True)
def _cell_sums(cell, year, cost, n, n_cells, ny):
    s = np.zeros((n_cells, ny), np.int64)
    c = np.zeros((n_cells, ny), np.int64)
    for i in range(cell.shape[0]):
        if cell[i] >= 0 and year[i] >= 0:
            s[cell[i], year[i]] += cost[i]
            c[cell[i], year[i]] += n[i]
    return s, c


def cell_sums(cell: np.ndarray, year: np.ndarray, cost: np.ndarray, n: np.ndarray, n_cells: int, ny: int):
    """The fen and case counts of rows (cell, year position, fen, cases) summed per cell and year: two int64
    arrays ``(n_cells, ny)``. Rows whose cell or year is −1 are left out."""
    if ENGINE == "python":
        return cell_sums_twin(cell, year, cost, n, n_cells, ny)
    return _cell_sums(cell.astype(np.int64), year.astype(np.int64), cost.astype(np.int64), n.astype(np.int64),
                      n_cells, ny)


def cell_sums_twin(cell, year, cost, n, n_cells: int, ny: int):
    """Plain twin of :func:`cell_sums`."""
    s = np.zeros((n_cells, ny), np.int64)
    c = np.zeros((n_cells, ny), np.int64)
    for i, (k, y, v, m) in enumerate(zip(cell.tolist(), year.tolist(), cost.tolist(), n.tolist())):
        if k >= 0 and y >= 0:
            s[k, y] += v
            c[k, y] += m
    return s, c


# ------------------------------------------------------------------------------------------------ the cells
@njit(cache=True)
def _hospital_cells(s, c, at, drg_at, tier_at, f, inv_w, inv_mean, wh, rest, lo, hi, coef_lo, coef_hi, has_lo,
                    has_hi):
    m = at.shape[0]
    ny = s.shape[1]
    hc = np.empty(m, np.float64)
    coef = np.empty(m, np.float64)
    unsure = np.zeros(m, np.bool_)
    limit = 2.0 ** 53
    for k in range(m):
        cell = at[k]
        d = drg_at[k]
        # mean_h = Σ_y f_y · s_y / n_y ÷ Σ_y w_y (the cell's years), every term ≥ 0
        th, tl = 0.0, 0.0
        mask = 0
        bad = False
        for y in range(ny):
            n = c[cell, y]
            if n == 0:
                continue
            v = s[cell, y]
            if v < 0 or v >= limit:     # (a fen sum that is not an exact float, or negative: Fractions)
                bad = True
                break
            ph, pl = _mul_d(f[y, 0], f[y, 1], np.float64(v))
            ph, pl = _div_d(ph, pl, np.float64(n))
            th, tl = _add(th, tl, ph, pl)
            mask |= 1 << y
        if bad or inv_mean[d, 0] <= 0.0:
            unsure[k] = True
            continue
        th, tl = _mul(th, tl, inv_w[mask, 0], inv_w[mask, 1])
        th, tl = _mul(th, tl, inv_mean[d, 0], inv_mean[d, 1])          # hc = mean_h / mean_d
        # the float nearest to hc: th, unless hc may lie across the midpoint to the next float
        err = ERROR * th
        up = np.nextafter(th, np.inf) - th
        down = th - np.nextafter(th, -np.inf)
        gap = up if tl > 0 else down if tl < 0 else min(up, down)
        if abs(tl) + err >= gap / 2:
            unsure[k] = True
            continue
        hc[k] = th
        # v = wh·hc + rest (rest = wt·tc + w1 of the cell's DRG and tier), clipped to [lo, hi]
        t = tier_at[k]
        vh, vl = _mul(wh[0], wh[1], th, tl)
        vh, vl = _add(vh, vl, rest[d, t, 0], rest[d, t, 1])
        err = ERROR * vh
        clipped = 0
        if has_lo:
            dh, dl = _add(vh, vl, -lo[0], -lo[1])
            if abs(dh + dl) <= 2 * err + ERROR * lo[0]:
                unsure[k] = True
                continue
            if dh + dl < 0:
                clipped = -1
        if has_hi and clipped == 0:
            dh, dl = _add(vh, vl, -hi[0], -hi[1])
            if abs(dh + dl) <= 2 * err + ERROR * hi[0]:
                unsure[k] = True
                continue
            if dh + dl > 0:
                clipped = 1
        if clipped < 0:
            coef[k] = coef_lo
            continue
        if clipped > 0:
            coef[k] = coef_hi
            continue
        # half away from zero to 4 decimals: x = v·10⁴, its whole part and whether its fraction is past ½
        xh, xl = _mul_d(vh, vl, 10000.0)
        if xh < 0:
            unsure[k] = True
            continue
        whole = np.floor(xh)
        frac = (xh - whole) + xl
        if abs(frac - 0.5) <= 2 * ERROR * xh + 2.0 ** -40:
            unsure[k] = True
            continue
        if frac >= 0.5:
            whole += 1.0
        coef[k] = whole / 10000.0
    return hc, coef, unsure


def hospital_cells(s: np.ndarray, c: np.ndarray, at: np.ndarray, drg_at: np.ndarray, tier_at: np.ndarray, *,
                   year_factor: list[Fraction], year_weight: list[Fraction], mean: list[Fraction], wh: Fraction,
                   rest: list[list[Fraction]], lo: Fraction | None, hi: Fraction | None, scale: int):
    """The hospital coefficient (its nearest float) and the coefficient (blended, clipped, rounded half away
    to ``1 / scale``) of the cells ``at`` of the sums :func:`cell_sums`, whose DRG positions are ``drg_at``
    and tier positions ``tier_at``.

    ``year_factor[y]`` is the year's weight × cost index, ``year_weight[y]`` its weight, ``mean[d]`` the DRG's
    exact mean (not 0), ``rest[d][t]`` the part of the blend that is not the hospital's (``wt·tc + w1``).
    Returns two float64 arrays and the number of cells computed in Fractions."""
    m = len(at)
    hc = np.empty(m, np.float64)
    coef = np.empty(m, np.float64)
    exact_all = (ENGINE == "python" or scale != 10000 or wh < 0 or
                 any(r < 0 for row in rest for r in row) or any(f < 0 for f in year_factor) or
                 (lo is not None and hi is not None and lo > hi))
    if m and not exact_all:
        ny = s.shape[1]
        f = np.array([double_double(x) for x in year_factor], np.float64).reshape(ny, 2)
        inv_w = np.zeros((1 << ny, 2), np.float64)
        for mask in range(1, 1 << ny):
            w = sum((year_weight[y] for y in range(ny) if mask >> y & 1), Fraction(0))
            if w > 0:
                inv_w[mask] = double_double(1 / w)
        inv_mean = np.array([double_double(1 / x) if x > 0 else (0.0, 0.0) for x in mean], np.float64).reshape(-1, 2)
        rest_dd = np.array([[double_double(r) for r in row] for row in rest], np.float64).reshape(len(rest), -1, 2)
        bound = lambda b: np.array(double_double(b) if b is not None else (0.0, 0.0), np.float64)  # noqa: E731
        rounded = lambda b: round_half_away(b * scale) / scale if b is not None else 0.0  # noqa: E731
        hc, coef, unsure = _hospital_cells(
            s, c, at.astype(np.int64), drg_at.astype(np.int64), tier_at.astype(np.int64), f, inv_w, inv_mean,
            np.array(double_double(wh)), rest_dd, bound(lo), bound(hi), rounded(lo), rounded(hi), lo is not None,
            hi is not None)
        todo = np.flatnonzero(unsure)
    else:
        todo = np.arange(m)
    for k in todo.tolist():
        cell, d = int(at[k]), int(drg_at[k])
        hc[k], coef[k] = exact_cell(s[cell].tolist(), c[cell].tolist(), year_factor, year_weight, mean[d], wh,
                                    rest[d][int(tier_at[k])], lo, hi, scale)
    return hc, coef, len(todo)


def exact_cell(s: list[int], c: list[int], year_factor: list[Fraction], year_weight: list[Fraction],
               mean: Fraction, wh: Fraction, rest: Fraction, lo: Fraction | None, hi: Fraction | None,
               scale: int) -> tuple[float, float]:
    """One cell in Fractions (SPEC §3.1, §3.5): ``(float(hc), coefficient)``."""
    years = [y for y in range(len(c)) if c[y]]
    mean_h = sum((year_factor[y] * s[y] / c[y] for y in years), Fraction(0)) \
        / sum((year_weight[y] for y in years), Fraction(0))
    hc = mean_h / mean
    v = wh * hc + rest
    if lo is not None and v < lo:
        v = lo
    if hi is not None and v > hi:
        v = hi
    return float(hc), round_half_away(v * scale) / scale
