"""The hospital coefficients' kernel (:mod:`drg.pricing.coefficient_cells`): every cell's float and rounded
coefficient equal to the Fractions of :func:`exact_cell`, the cells it cannot be sure of (ties, values on a
clip bound) handed to Fractions, and the sums per cell equal to their twin's."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drg.pricing import coefficient_cells as cc

SCALE = 10_000


def _run(cells, year_factor, year_weight, mean, wh, rest, lo, hi):
    """Cells ``[(drg, tier, [fen per year], [cases per year])]`` through :func:`hospital_cells`; with the
    Fractions of each cell for comparison."""
    ny = len(year_factor)
    s = np.array([c[2] for c in cells], np.int64).reshape(len(cells), ny)
    n = np.array([c[3] for c in cells], np.int64).reshape(len(cells), ny)
    at = np.arange(len(cells))
    drg_at = np.array([c[0] for c in cells], np.int64)
    tier_at = np.array([c[1] for c in cells], np.int64)
    hc, coef, exact = cc.hospital_cells(s, n, at, drg_at, tier_at, year_factor=year_factor, year_weight=year_weight,
                                        mean=mean, wh=wh, rest=rest, lo=lo, hi=hi, scale=SCALE)
    want = [cc.exact_cell(list(c[2]), list(c[3]), year_factor, year_weight, mean[c[0]], wh, rest[c[0]][c[1]], lo,
                          hi, SCALE) for c in cells]
    return hc, coef, exact, want


fractions = st.fractions(min_value=Fraction(1, 1000), max_value=Fraction(3), max_denominator=1000)


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_cells_equal_their_fractions(data):
    ny = data.draw(st.integers(1, 3))
    nd, nt = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3))
    year_weight = data.draw(st.lists(fractions, min_size=ny, max_size=ny))
    year_factor = [w * data.draw(fractions) for w in year_weight]
    mean = data.draw(st.lists(st.fractions(min_value=Fraction(1), max_value=Fraction(10**9)), min_size=nd,
                              max_size=nd))
    wh = data.draw(st.fractions(min_value=0, max_value=1, max_denominator=100))
    rest = [[data.draw(st.fractions(min_value=0, max_value=2, max_denominator=10**6)) for _ in range(nt)]
            for _ in range(nd)]
    lo = data.draw(st.none() | st.fractions(min_value=Fraction(1, 2), max_value=1, max_denominator=100))
    hi = data.draw(st.none() | st.fractions(min_value=1, max_value=3, max_denominator=100))
    year = st.tuples(st.integers(0, 2**50), st.integers(1, 10**6)) | st.just((0, 0)) | \
        st.tuples(st.integers(0, 10**4), st.integers(1, 20))
    cells = data.draw(st.lists(st.tuples(st.integers(0, nd - 1), st.integers(0, nt - 1),
                                         st.lists(year, min_size=ny, max_size=ny)), min_size=1, max_size=40))
    cells = [(d, t, [v for v, _ in ys], [m for _, m in ys]) for d, t, ys in cells if any(m for _, m in ys)]
    if not cells:
        return
    hc, coef, _exact, want = _run(cells, year_factor, year_weight, mean, wh, rest, lo, hi)
    assert hc.tolist() == [w[0] for w in want]
    assert coef.tolist() == [w[1] for w in want]


def test_ties_and_bounds_go_to_fractions():
    """A hospital at exactly the DRG's mean gives hc = 1: with wh = 0.35 and rest 0.65 + 0.00005, v·10⁴ ends
    in an exact half; one at a cost that lands v on the clip bound exactly; both are computed in Fractions
    and rounded as they are (the half away from zero, the bound kept)."""
    mean = [Fraction(10_000)]
    wh, rest = Fraction(35, 100), [[Fraction(65, 100) + Fraction(1, 20_000)]]
    # hc = 1 → v = 1.00005 exactly; hc = 0.5/0.35 + … chosen so that v = 1.2 = hi exactly
    hc_on_bound = (Fraction(12, 10) - rest[0][0]) / wh
    cells = [(0, 0, [10_000 * 7], [7]), (0, 0, [int(hc_on_bound * 10_000 * 35)], [35])]
    assert hc_on_bound * 10_000 * 35 == int(hc_on_bound * 10_000 * 35)
    hc, coef, exact, want = _run(cells, [Fraction(1)], [Fraction(1)], mean, wh, rest, None, Fraction(12, 10))
    assert exact == 2
    assert coef.tolist() == [w[1] for w in want] == [1.0001, 1.2]
    assert hc.tolist() == [w[0] for w in want]


def test_the_python_engine_computes_every_cell_in_fractions(monkeypatch):
    monkeypatch.setattr(cc, "ENGINE", "python")
    cells = [(0, 0, [12_345], [1]), (0, 0, [99_999], [3])]
    hc, coef, exact, want = _run(cells, [Fraction(1)], [Fraction(1)], [Fraction(20_000)], Fraction(1),
                                 [[Fraction(0)]], None, None)
    assert exact == 2 and coef.tolist() == [w[1] for w in want]


def test_a_fen_sum_beyond_exact_floats_goes_to_fractions():
    cells = [(0, 0, [2**53 + 1], [3])]
    hc, coef, exact, want = _run(cells, [Fraction(1)], [Fraction(1)], [Fraction(2**53, 3)], Fraction(1),
                                 [[Fraction(0)]], None, None)
    assert exact == 1 and (hc.tolist(), coef.tolist()) == ([want[0][0]], [want[0][1]])


@pytest.mark.parametrize("x", [Fraction(1, 3), Fraction(10**30 + 7, 10**29 - 3), Fraction(2, 7) ** 40])
def test_double_double_holds_the_value_to_105_bits(x):
    hi, lo = cc.double_double(x)
    assert hi == float(x) and abs(Fraction(hi) + Fraction(lo) - x) <= abs(x) * Fraction(1, 2**105)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(-1, 5), st.integers(-1, 2), st.integers(-10**12, 10**12),
                          st.integers(0, 10**6)), max_size=60))
def test_cell_sums_equal_their_twin(rows):
    cell, year, cost, n = (np.array([r[i] for r in rows], np.int64) for i in range(4))
    fast = cc.cell_sums(cell, year, cost, n, 6, 3)
    twin = cc.cell_sums_twin(cell, year, cost, n, 6, 3)
    for a, b in zip(fast, twin):
        np.testing.assert_array_equal(a, b)
