"""The kernels of ``drg weights``' trimming and sums (:mod:`drg.pricing.trimming`) against numpy: the
pairwise sum and the group statistics bit for bit, and whole histories' sums through both engines."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drg.policy import load_policy
from drg.pricing import trimming
from drg.pricing.weights import HistoryRows, HistoryYears, drg_year_sums, drg_year_sums_numpy


@pytest.mark.parametrize("n", [1, 2, 7, 8, 9, 15, 16, 17, 127, 128, 129, 255, 256, 257, 1000, 4097, 65_537,
                               300_001])
def test_pairwise_sum_is_numpys(n):
    rng = np.random.default_rng(n)
    x = rng.lognormal(8, 2, n) * rng.choice([1.0, 1e-3, 1e6], n)
    assert trimming.pairwise_sum(x, 0, n) == np.add.reduce(x)
    if n > 3:
        assert trimming.pairwise_sum(x, 3, n - 3) == np.add.reduce(x[3:])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(-1, 6), st.floats(0, 1e9, allow_nan=False)), max_size=400),
       st.integers(0, 3))
def test_group_moments_equal_numpys(pairs, extra_groups):
    group = np.array([g for g, _ in pairs], np.int32)
    values = np.array([v for _, v in pairs], np.float64)
    n_groups = 7 + extra_groups
    fast = trimming.group_moments(group, values, n_groups)
    twin = trimming.group_moments_twin(group, values, n_groups)
    for a, b in zip(fast, twin):
        np.testing.assert_array_equal(a, b)     # (NaN where the twin has NaN; values bit for bit)


def test_group_moments_of_large_groups_bit_for_bit():
    rng = np.random.default_rng(7)
    group = rng.integers(0, 5, 200_000).astype(np.int32)
    values = rng.lognormal(9, 1, 200_000)
    for a, b in zip(trimming.group_moments(group, values, 5), trimming.group_moments_twin(group, values, 5)):
        assert a.tobytes() == b.tobytes()


def test_group_moments_reuse_a_scratch_array_whatever_it_holds():
    """drg_year_sums hands both passes one scratch array: what an earlier pass left in it (or a shorter or
    other-typed one, replaced) changes nothing."""
    rng = np.random.default_rng(11)
    group = rng.integers(-1, 40, 50_000).astype(np.int32)
    values = rng.lognormal(9, 1, 50_000)
    before = values.copy()
    twin = trimming.group_moments_twin(group, values, 40)
    scratch = rng.random(60_000)
    for given_scratch in (scratch, scratch, np.zeros(10), np.zeros(50_000, np.float32)):
        for a, b in zip(trimming.group_moments(group, values, 40, given_scratch), twin):
            assert a.tobytes() == b.tobytes()
    assert values.tobytes() == before.tobytes()          # (the values themselves untouched)


def _rows(rng, n: int, *, drgs: int = 6, hospitals: int = 4) -> HistoryRows:
    """History rows with groups of one case, ties, per-diem cases, a missing hospital and a year outside."""
    drg = rng.integers(0, drgs, n).astype(np.int32)
    cost = rng.lognormal(9, 0.8, n).astype(np.int64)
    cost[rng.random(n) < 0.02] *= 40                      # outliers to trim
    cost[rng.random(n) < 0.1] = 5000                     # ties
    year = rng.choice([2022, 2023, 2024], n, p=[0.05, 0.45, 0.5]).astype(np.int32)
    hospital = rng.integers(-1, hospitals, n).astype(np.int32)
    bed_days = rng.integers(1, 60, n).astype(np.int32)
    per_diem = rng.random(n) < 0.15
    if n:
        drg[0] = drgs            # a DRG of a single case
    return HistoryRows(drg, [f"D{i:02d}" for i in range(drgs + 1)], hospital, [f"H{i}" for i in range(hospitals)],
                       year, cost, bed_days, per_diem)


def _years(index: str = "1.03") -> HistoryYears:
    return HistoryYears((2023, 2024), {2023: Decimal(1), 2024: Decimal(2)}, {2023: Decimal(index), 2024: Decimal(1)})


def _equal(a, b) -> None:
    assert a.sums == b.sums and a.pd_sums == b.pd_sums and a.n_of == b.n_of and a.cv_of == b.cv_of
    assert a.trimmed.equals(b.trimmed)


@pytest.mark.parametrize("method", ["sd", "none", "percentile"])
@pytest.mark.parametrize("n", [0, 1, 50, 20_000])
def test_year_sums_of_both_engines_are_equal(method, n):
    pol = load_policy("demo")
    pol = replace(pol, weights=replace(pol.weights, trim=replace(pol.weights.trim, method=method,
                                                                 k=Decimal("2.5"))))
    rows = _rows(np.random.default_rng(n), n)
    _equal(drg_year_sums(rows, _years(), pol), drg_year_sums_numpy(rows, _years(), pol))


def test_year_sums_without_the_dense_hospital_table():
    """Hospitals × DRGs × years too many for arrays of their own: the kept cases are summed by polars."""
    pol = load_policy("demo")
    rows = _rows(np.random.default_rng(5), 3000, drgs=3000, hospitals=3000)
    whole = drg_year_sums_numpy(rows, _years(), pol)
    _equal(drg_year_sums(rows, _years(), pol), whole)


def test_the_python_engine_runs_the_twin(engine, monkeypatch):
    pol = load_policy("demo")
    rows = _rows(np.random.default_rng(11), 500)
    called = []
    import drg.pricing.weights as weights

    real = weights.drg_year_sums_numpy
    monkeypatch.setattr(weights, "drg_year_sums_numpy", lambda *a: called.append(1) or real(*a))
    weights.drg_year_sums(rows, _years(), pol)
    assert bool(called) == (engine == "python")


def test_the_history_builder_widens_a_column_whose_values_do_not_fit():
    """The projection starts narrow (16-bit codes, years and days, 32-bit fen) and widens a column the first
    time a part's values do not fit; the rows are those of the parts, in order."""
    from drg.pricing.weights import HistoryRowsBuilder

    def part(drgs, cost, days):
        n = len(cost)
        return HistoryRows(np.arange(n, dtype=np.int32) % len(drgs), drgs, np.zeros(n, np.int32), ["H1"],
                           np.full(n, 2024, np.int32), np.array(cost, np.int64), np.array(days, np.int32),
                           np.zeros(n, bool))

    built = HistoryRowsBuilder(2)
    built.add(part(["A1", "B2"], [100, 200], [1, 2]))
    assert built.rows().cost_fen.dtype == np.int32 and built.rows().bed_days.dtype == np.int16
    built.add(part(["C3"], [2**40], [40_000]))                        # grows past its capacity, too
    big = [f"D{i}" for i in range(40_000)]
    built.add(part(big, list(range(40_000)), [3] * 40_000))
    rows = built.rows()
    assert rows.cost_fen.dtype == np.int64 and rows.bed_days.dtype == np.int32 and rows.drg.dtype == np.int32
    assert rows.cost_fen[:3].tolist() == [100, 200, 2**40] and rows.bed_days[:3].tolist() == [1, 2, 40_000]
    assert len(rows) == 40_003 and rows.drg_names[rows.drg[-1]] == "D39999"
    assert rows.year.dtype == np.int16 and (rows.year == 2024).all()


def test_a_stay_too_long_for_the_projection_is_an_error_naming_file_row_and_field():
    """Bed-days are held in 32 bits at most: a LOS of 2**31 days or more is refused with the file, the row and
    the field (never silently wrapped)."""
    import datetime as dt

    import pyarrow as pa

    from drg.errors import InputError
    from drg.pricing.weights import history_rows

    hist = pa.table({"hospital_id": ["H1", "H1"], "drg": ["FR23", "FR23"], "los": pa.array([3, 2**31], pa.int64()),
                     "discharge_date": [dt.date(2024, 5, 1)] * 2, "total_cost": [1000.0, 2000.0]})
    with pytest.raises(InputError) as err:
        history_rows(hist, load_policy("demo"), file="h.parquet")
    assert err.value.file == "h.parquet" and err.value.row == 2 and err.value.field == "los"


@pytest.mark.parametrize("method", ["sd", "none"])
@pytest.mark.parametrize("dense", [True, False])
def test_year_sums_in_parts_on_threads_equal_the_twin(monkeypatch, method, dense):
    """The rows cut into parts (one per core; here as many as 7-row parts allow, up to 8) that count, scatter
    and sum at once on threads: the same sums, trimming decisions and cv as the numpy twin, bit for bit."""
    import drg.pricing.weights as weights

    monkeypatch.setattr(weights, "PART_MIN_ROWS", 7)
    monkeypatch.setattr("drg.casefile.background.available_cores", lambda: 8)
    pol = load_policy("demo")
    pol = replace(pol, weights=replace(pol.weights, trim=replace(pol.weights.trim, method=method)))
    rows = _rows(np.random.default_rng(23), 2000, **({} if dense else {"drgs": 3000, "hospitals": 3000}))
    assert len(weights._row_parts(len(rows))) == 8
    _equal(drg_year_sums(rows, _years(), pol), drg_year_sums_numpy(rows, _years(), pol))


def test_group_ranges_cover_every_group_once():
    from drg.pricing.weights import _group_parts

    for counts in ([0, 0, 0], [5], [1, 0, 9, 0, 0, 3], list(range(50))):
        start = np.concatenate([[0], np.cumsum(counts)])
        for k in (1, 2, 3, 8):
            ranges = _group_parts(start, k)
            assert len(ranges) == k and ranges[0][0] == 0 and ranges[-1][1] == len(counts)
            assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:])) and all(lo <= hi for lo, hi in ranges)
