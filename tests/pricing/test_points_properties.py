"""Property tests (hypothesis) of case points: never negative, low ≤ base points, normal = base × coef,
readmission never raises points, the result does not depend on row order or chunking (on each engine);
kernel = twin on every example."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drg.money import round_half_away
from drg.pricing import price_cases
from drg.policy import load_policy
from tests.helpers.grouped_cases import case_rows, hand_tables, price_both

DRGS = [{"drg": "FR23", "base_points": 150.0, "mean_cost": 15000.0},
        {"drg": "GB11", "base_points": 242.694, "mean_cost": 39820.61},
        {"drg": "ES31", "base_points": 48.1758, "mean_cost": 7904.57},
        {"drg": "XJ19", "base_points": 73.1392, "mean_cost": 12000.5, "stable": False},
        {"drg": "TR11", "per_diem_points": 1.8312, "per_diem_mean": 300.45}]
COEF = {("H01", "FR23"): 1.1, ("H01", "GB11"): 0.9702, ("H02", "FR23"): 0.8765, ("H02", "ES31"): 1.0353,
        ("H02", "GB11"): 1.2}
TABLES = hand_tables(DRGS, a_yuan=16407.75, hospitals=(("H01", "A"), ("H02", "B")), coef=COEF)
POLICIES = {}


def _pol(name):
    if name not in POLICIES:
        from dataclasses import replace

        p = load_policy(name)
        POLICIES[name] = replace(p, per_diem=replace(p.per_diem, drgs=("TR11",)))
    return POLICIES[name]


case = st.fixed_dictionaries({
    "drg": st.sampled_from(["FR23", "GB11", "ES31", "XJ19", "TR11", "0000", "NEW1"]),
    "hospital_id": st.sampled_from(["H01", "H02", "H09"]),
    "patient_id": st.sampled_from(["P1", "P2", "P3"]),
    "cost": st.one_of(st.integers(0, 20_000_000).map(lambda f: f / 100),
                      st.integers(0, 2000).map(lambda f: f / 100)),
    "admit": st.dates(dt.date(2024, 1, 1), dt.date(2024, 12, 20)),
    "los": st.integers(0, 60),
})
cases_st = st.lists(case, min_size=1, max_size=25)


def _table(rows):
    rows = [{**r, "case_id": f"c{i:03d}"} for i, r in enumerate(rows)]
    return case_rows(rows)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=cases_st, name=st.sampled_from(["zhejiang-province", "jinhua"]))
def test_points_properties(rows, name):
    pol = _pol(name)
    w, c = TABLES
    t = _table(rows)
    out = price_both(t, w, c, pol).to_pylist()
    for r in out:
        assert r["points"] >= 0 and r["adjusted_points"] >= 0
        assert r["adjusted_points"] <= r["points"]                      # readmission never raises points
        if r["case_class"] == "low":
            assert r["points"] <= r["base_points"]
        if r["case_class"] == "normal":
            want = round_half_away(Fraction(Decimal(repr(r["base_points"]))) * Fraction(Decimal(repr(r["coef"]))) * 10_000)
            assert round(r["points"] * 10_000) == want
        if r["case_class"] == "high":
            assert r["points"] >= round(r["base_points"] * r["coef"], 4) - 1e-9


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(rows=cases_st, seed=st.integers(0, 10_000))
def test_row_order_does_not_matter(engine, rows, seed):
    pol = _pol("zhejiang-province")
    w, c = TABLES
    t = _table(rows)
    perm = np.random.default_rng(seed).permutation(t.num_rows)
    a = price_cases(t, w, c, pol, engine=engine).sort_by("case_id")
    b = price_cases(t.take(pa.array(perm)), w, c, pol, engine=engine).sort_by("case_id")
    assert a.equals(b)


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(rows=cases_st, cut=st.integers(1, 24))
def test_chunking_does_not_matter(engine, rows, cut):
    pol = _pol("zhejiang-province")
    w, c = TABLES
    t = _table(rows)
    chunked = pa.Table.from_batches(t.to_batches(max_chunksize=cut))
    assert price_cases(t, w, c, pol, engine=engine).equals(
        price_cases(chunked, w, c, pol, engine=engine).combine_chunks())


@pytest.mark.parametrize("seed", range(3))
def test_large_random_batch_kernel_equals_twin(seed):
    rng = np.random.default_rng(seed)
    n = 600
    rows = [{"drg": str(rng.choice(["FR23", "GB11", "ES31", "XJ19", "TR11", "0000"])),
             "hospital_id": str(rng.choice(["H01", "H02"])), "patient_id": f"P{rng.integers(0, 60)}",
             "cost": float(rng.integers(0, 10_000_000)) / 100,
             "admit": dt.date(2024, 1, 1) + dt.timedelta(days=int(rng.integers(0, 300))),
             "los": int(rng.integers(0, 30))} for _ in range(n)]
    price_both(_table(rows), *TABLES, _pol("jinhua"))
