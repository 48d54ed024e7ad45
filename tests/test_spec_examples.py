"""SPEC.md §10 worked examples 1–9, each one a test (pricing ones through the kernel and its twin)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from fractions import Fraction

import pyarrow as pa
import pytest

from drg.pricing import compute_coefficients, compute_weights, tier_chain
from drg.policy import load_policy
from tests.helpers.grouped_cases import case_rows, hand_tables, make_hospitals, price_both


@pytest.fixture(scope="module")
def province():
    return load_policy("zhejiang-province")


@pytest.fixture(scope="module")
def jinhua():
    return load_policy("jinhua")


def _tables(**extra):
    drgs = [{"drg": "FR23", "base_points": 150.0, "mean_cost": 15000.0, "stable": True},
            {"drg": "XJ19", "base_points": 120.0, "mean_cost": 12000.0, "stable": False},
            {"drg": "TR11", "per_diem_points": 6.0, "per_diem_mean": 600.0}]
    return hand_tables(drgs, a_yuan=10000.0, coef={("H01", "FR23"): 1.10, ("H01", "XJ19"): 1.10}, **extra)


def _one(policy, **row):
    w, c = _tables()
    return price_both(case_rows([row]), w, c, policy).to_pylist()[0]


def test_example_1_base_points(province):
    # DRG mean 15,000 yuan, all-DRG mean 10,000 → 150.0000
    rows = [{"drg": "FR23", "cost": 15000.0, "case_id": f"a{i}"} for i in range(5)] + \
           [{"drg": "ES31", "cost": 5000.0, "case_id": f"b{i}"} for i in range(5)]
    hist = case_rows([{**r, "admit": dt.date(2023, 5, 1)} for r in rows])
    w, _ = compute_weights(hist, province, settlement_year=2024)
    assert w.a_fen == 1_000_000
    bp = dict(zip(w.table.column("drg").to_pylist(), w.table.column("base_points").to_pylist()))
    assert bp["FR23"] == 150.0
    assert bp["ES31"] == 50.0


def test_example_2_normal(province):
    r = _one(province, drg="FR23", cost=15000.0)
    assert r["case_class"] == "normal"
    assert r["points"] == 165.0


def test_example_3_low_outlier_province_and_jinhua(province, jinhua):
    r = _one(province, drg="FR23", cost=5000.0)
    assert r["case_class"] == "low" and r["points"] == 55.0
    r = _one(province, drg="FR23", cost=6000.0)      # r = 0.4 exactly: still low
    assert r["case_class"] == "low" and r["points"] == 66.0
    assert r["cost_ratio"] == 0.4
    r = _one(jinhua, drg="FR23", cost=6000.0)
    assert r["case_class"] == "low" and r["points"] == 60.0


def test_example_4_high_outlier(province):
    r = _one(province, drg="FR23", cost=40000.0)
    assert r["case_class"] == "high"
    assert r["high_ratio"] == 2.0
    assert r["points"] == 265.0          # 165 + (8/3 − 2) × 150


def test_example_5_unstable(province):
    r = _one(province, drg="XJ19", cost=12345.67)
    assert r["case_class"] == "unstable"
    assert r["points"] == 123.4567


def test_example_6_per_diem(province):
    from dataclasses import replace

    pol = replace(province, per_diem=replace(province.per_diem, drgs=("TR11",)))
    r = _one(pol, drg="TR11", cost=27000.0, los=45)
    assert r["case_class"] == "per_diem"
    assert r["per_diem_points"] == 6.0 and r["bed_days"] == 45
    assert r["points"] == 270.0


def test_example_7_readmission_halves_earlier_stay(province):
    w, c = _tables()
    d0 = dt.date(2024, 3, 1)
    cases = case_rows([
        {"case_id": "first", "patient_id": "P1", "drg": "FR23", "cost": 15000.0, "admit": d0, "los": 5},
        {"case_id": "second", "patient_id": "P1", "drg": "FR23", "cost": 15000.0,
         "admit": d0 + dt.timedelta(days=5 + 15), "los": 5},   # admitted 15 days after discharge
    ])
    out = {r["case_id"]: r for r in price_both(cases, w, c, province).to_pylist()}
    assert out["first"]["points"] == 165.0
    assert out["first"]["adjusted_points"] == 82.5
    assert out["first"]["adjust_reason"] == "readmission"
    assert out["second"]["adjusted_points"] == 165.0


def test_example_8_serious_upcoding(province):
    w, c = _tables()
    cases = case_rows([{"case_id": "up", "drg": "FR23", "cost": 15000.0}])
    viol = pa.table({"case_id": ["up"], "violation": ["upcoding"], "serious": [True]})
    r = price_both(cases, w, c, province, violations=viol).to_pylist()[0]
    assert r["points"] == 165.0
    assert r["adjusted_points"] == 0.0
    assert r["deduction_points"] == 300.0
    assert r["adjust_reason"] == "violation:upcoding"


def test_example_9_tier_fallback():
    chain = tier_chain({"A": Fraction(6, 5)}, ("A", "B", "C"), Decimal("0.9"), Decimal("1.1"))
    assert chain["B"] == (Fraction(108, 100), "from_higher")
    assert float(chain["C"][0]) == pytest.approx(0.972)


def test_example_9_tier_fallback_through_coefficients(province):
    from dataclasses import replace

    # tier A (三甲) hospitals cost 1.2 × the DRG mean... built so that TC_A = 1.20; tier B has no case
    pol = replace(province, coef=replace(province.coef, blend=replace(province.coef.blend, hospital=Decimal(0),
                                                                          tier=Decimal(1))))
    rows = []
    for i in range(5):
        rows.append({"case_id": f"a{i}", "hospital_id": "H01", "drg": "FR23", "cost": 18000.0,
                     "admit": dt.date(2023, 4, 1)})
        rows.append({"case_id": f"c{i}", "hospital_id": "H04", "drg": "FR23", "cost": 12000.0,
                     "admit": dt.date(2023, 4, 1)})
    hist = case_rows(rows)
    pol = replace(pol, weights=replace(pol.weights, trim=replace(pol.weights.trim, method="none")))
    w, trimmed = compute_weights(hist, pol, settlement_year=2024)
    # mean_d = 15,000; tier A mean 18,000 → 1.2; tier C (H04) 12,000 → 0.8; tier B: none → 0.9 × 1.2
    coefs = compute_coefficients(w, trimmed, make_hospitals(), pol, settlement_year=2024)
    got = {r["hospital_id"]: r for r in coefs.to_pylist()}
    assert got["H01"]["coef"] == 1.2
    assert got["H03"]["tier"] == "B" and got["H03"]["coef"] == 1.08
    assert got["H03"]["tier_coef_source"] == "from_higher"
    assert got["H04"]["coef"] == 0.8
