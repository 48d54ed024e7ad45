"""Numba kernels of ``drg weights``' trimming and sums (SPEC §2.2–§2.3, §2.6–§2.7) over the history's slim
projection (:class:`drg.pricing.weights.HistoryRows`): one pass for the values trimmed on and their groups,
one for each group's mean and sample SD, one for the trimming decisions and the exact sums.

The decisions must be those of the numpy code they replace (:func:`drg.pricing.weights.drg_year_sums_numpy`,
the twin), bit for bit: a case on the edge of ``k·SD`` is kept or dropped the same way. So the group
statistics are computed as numpy computes ``x.mean()`` and ``x.std(ddof=1)`` on a group's values gathered in
row order: the same pairwise summation (:func:`pairwise_sum`: blocks of eight accumulators up to 128 values,
halves above, as numpy's ``pairwise_sum_DOUBLE``), the mean as that sum divided by n, the SD as the square
root of the pairwise sum of squared deviations divided by n − 1. The tests compare them with numpy on groups
of every size class and run whole histories through both engines.

What it saves over the numpy code at 20 M history cases: a stable ``argsort`` of the group keys and one of
the DRGs (replaced by counting sorts), the per-group fancy indexing, and a dozen 20 M-element temporaries
(keys, masks, selections), each of them fresh memory.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["ENGINE", "pairwise_sum", "group_moments", "group_moments_twin", "trim_values", "kept_sums"]

#: The engine :func:`drg.pricing.weights.drg_year_sums` uses: ``numba`` (these kernels) or ``python`` (its
#: numpy twin). No caller chooses it; the tests' engine fixture sets it for the length of a test.
ENGINE = "numba"


@njit(cache=True)
def _block_sum(a, lo, n):
    """numpy's sum of at most 128 values: in order under eight, else eight accumulators and the rest."""
    if n < 8:
        res = 0.0
        for i in range(lo, lo + n):
            res += a[i]
        return res
    r0, r1, r2, r3 = a[lo], a[lo + 1], a[lo + 2], a[lo + 3]
    r4, r5, r6, r7 = a[lo + 4], a[lo + 5], a[lo + 6], a[lo + 7]
    i = 8
    whole = n - n % 8
    while i < whole:
        j = lo + i
        r0 += a[j]
        r1 += a[j + 1]
        r2 += a[j + 2]
        r3 += a[j + 3]
        r4 += a[j + 4]
        r5 += a[j + 5]
        r6 += a[j + 6]
        r7 += a[j + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += a[lo + i]
        i += 1
    return res


@njit(cache=True)
def pairwise_sum(a, lo, n):
    """The sum of ``a[lo:lo + n]`` in numpy's order for a contiguous float64 reduction (``np.add.reduce``):
    blocks of at most 128 values (:func:`_block_sum`), above that the sum of the two halves, the first half
    a multiple of eight. The halving is walked with an explicit stack (numba's cache does not keep recursive
    functions safely: a cached recursive version crashed the second process that loaded it)."""
    if n <= 128:
        return _block_sum(a, lo, n)
    s_lo = np.empty(256, np.int64)
    s_n = np.empty(256, np.int64)
    s_done = np.empty(256, np.bool_)
    vals = np.empty(256, np.float64)
    top = 0
    vtop = 0
    s_lo[0], s_n[0], s_done[0] = lo, n, False
    top = 1
    while top > 0:
        top -= 1
        l, m, done = s_lo[top], s_n[top], s_done[top]
        if m <= 128:
            vals[vtop] = _block_sum(a, l, m)
            vtop += 1
        elif done:
            vtop -= 1
            vals[vtop - 1] = vals[vtop - 1] + vals[vtop]
        else:
            half = m // 2
            half -= half % 8
            s_lo[top], s_n[top], s_done[top] = l, m, True          # add the halves once both are done
            s_lo[top + 1], s_n[top + 1], s_done[top + 1] = l + half, m - half, False
            s_lo[top + 2], s_n[top + 2], s_done[top + 2] = l, half, False   # the first half first
            top += 3
    return vals[0]


def group_moments(group: np.ndarray, values: np.ndarray, n_groups: int, scratch: np.ndarray | None = None):
    """Per group ``0 … n_groups − 1`` of ``group`` (rows of a negative group left out): the count, the mean
    and the sample SD (``ddof=1``; NaN under two values) of ``values`` taken in row order, as numpy's
    ``x.mean()`` and ``x.std(ddof=1)`` give them. A counting sort copies the values into ``scratch`` (float64,
    at least as long as ``group``; made when not given) group after group, each in row order, where the sums
    read them in turn: one pass reading the rows in order, none reading them at random (gathering each
    group's values through a sorted row order took 0.30 s over 20 M rows, the copy 0.10 s)."""
    if scratch is None or scratch.shape[0] < group.shape[0] or scratch.dtype != np.float64:
        scratch = np.empty(group.shape[0], np.float64)
    return _group_moments(group, values, n_groups, scratch)


@njit(cache=True)
def _group_moments(group, values, n_groups, by_group):
    n = group.shape[0]
    count = np.zeros(n_groups, np.int64)
    for i in range(n):
        g = group[i]
        if g >= 0:
            count[g] += 1
    start = np.zeros(n_groups + 1, np.int64)
    for g in range(n_groups):
        start[g + 1] = start[g] + count[g]
    at = start[:n_groups].copy()
    for i in range(n):
        g = group[i]
        if g >= 0:
            by_group[at[g]] = values[i]
            at[g] += 1
    mean = np.full(n_groups, np.nan)
    sd = np.full(n_groups, np.nan)
    for g in range(n_groups):
        m = count[g]
        if m == 0:
            continue
        s = start[g]
        mu = pairwise_sum(by_group, s, m) / m
        mean[g] = mu
        if m >= 2:
            for j in range(s, s + m):      # (the group's values are not read again: squared deviations in place)
                d = by_group[j] - mu
                by_group[j] = d * d
            sd[g] = np.sqrt(pairwise_sum(by_group, s, m) / (m - 1))
    return count, mean, sd


def group_moments_twin(group: np.ndarray, values: np.ndarray, n_groups: int):
    """Plain twin of :func:`group_moments`: numpy's own ``mean`` and ``std(ddof=1)`` on each group."""
    count = np.zeros(n_groups, np.int64)
    mean = np.full(n_groups, np.nan)
    sd = np.full(n_groups, np.nan)
    for g in range(n_groups):
        x = values[group == g]
        count[g] = len(x)
        if len(x):
            mean[g] = x.mean()
        if len(x) >= 2:
            sd[g] = x.std(ddof=1)
    return count, mean, sd


@njit(cache=True)
def trim_values(drg, year, cost_fen, bed_days, per_diem, years, index):
    """The value each case is trimmed on — cost after the year's cost index, per bed-day for a per-diem case
    (float64, the numpy code's operations) — and its trimming group ``(drg · ny + year) · 2 + per_diem``
    (−1 for a case outside ``years``)."""
    n = drg.shape[0]
    ny = years.shape[0]
    values = np.empty(n, np.float64)
    group = np.empty(n, np.int32)
    for i in range(n):
        y = -1
        for j in range(ny):
            if year[i] == years[j]:
                y = j
                break
        if y < 0:
            values[i] = 0.0
            group[i] = -1
            continue
        v = index[y] * np.float64(cost_fen[i])
        if per_diem[i]:
            v = v / np.float64(bed_days[i])
        values[i] = v
        group[i] = (drg[i] * ny + y) * 2 + (1 if per_diem[i] else 0)
    return values, group


@njit(cache=True)
def kept_sums(group, values, mean, bound, trimmed, drg, hospital, cost_fen, bed_days, n_drgs, ny, space):
    """Keep a case when its group is untrimmed (``trimmed`` False: under two cases, or no trimming) or
    ``|value − mean| ≤ bound`` of its group; sum what is kept, exactly, per ``drg · ny + year``: regular
    cases' fen and count, per-diem cases' fen, bed-days and count. ``group`` is overwritten with each case's
    DRG where it is a kept regular case, else −1 (the groups of the cv). ``space`` > 0: also the kept regular
    cases' fen and count per ``((hospital + 1) · n_drgs + drg) · ny + year`` (arrays of ``space`` entries,
    at least (hospitals + 1) · n_drgs · ny; hospital −1 is a missing id)."""
    nk = n_drgs * ny
    s_reg = np.zeros(nk, np.int64)
    n_reg = np.zeros(nk, np.int64)
    s_pd = np.zeros(nk, np.int64)
    b_pd = np.zeros(nk, np.int64)
    n_pd = np.zeros(nk, np.int64)
    dense = space > 0
    h_cost = np.zeros(space, np.int64)
    h_n = np.zeros(space, np.int64)
    for i in range(group.shape[0]):
        g = group[i]
        if g < 0:
            continue
        keep = True
        if trimmed[g]:
            keep = abs(values[i] - mean[g]) <= bound[g]
        if not keep:
            group[i] = -1
            continue
        y = (g >> 1) % ny
        key = drg[i] * ny + y
        if g & 1:
            s_pd[key] += cost_fen[i]
            b_pd[key] += bed_days[i]
            n_pd[key] += 1
            group[i] = -1
        else:
            s_reg[key] += cost_fen[i]
            n_reg[key] += 1
            group[i] = drg[i]
            if dense:
                hk = ((hospital[i] + 1) * n_drgs + drg[i]) * ny + y
                h_cost[hk] += cost_fen[i]
                h_n[hk] += 1
    return s_reg, n_reg, s_pd, b_pd, n_pd, h_cost, h_n
