"""Exactness at the edges (SPEC §0.1, §4), found by review: every decision is taken on exact values.

- A per-diem case whose DRG has no per-diem points is a no-weight case: unstable, noted, no coefficient.
- Unstable and ungroupable points divide by the exact A, so an exact tie rounds away from zero.
- The class is decided on the exact cost ratio r = c / mean_d, so r = H exactly is a high outlier even when
  mean_d has no exact float64.
Each case goes through the numba kernel and the exact twin (the ``engine`` fixture).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from fractions import Fraction

import pyarrow as pa

from drg.pricing import compute_coefficients, compute_weights, price_cases
from drg.policy import load_policy
from tests.helpers.grouped_cases import case_rows, hand_tables


def _policy(**sections):
    pol = load_policy("zhejiang-province")
    pol = replace(pol, readmission=replace(pol.readmission, enabled=False),
                  weights=replace(pol.weights, trim=replace(pol.weights.trim, method="none")))
    return replace(pol, **sections) if sections else pol


def _history(costs_fen: list[int], drg: str = "BB11") -> pa.Table:
    n = len(costs_fen)
    return pa.table({"hospital_id": ["H01"] * n, "drg": [drg] * n, "adrg": [drg[:3]] * n,
                     "los": pa.array([5] * n, pa.int32()),
                     "discharge_date": pa.array([dt.date(2023, 6, 1)] * n, pa.date32()),
                     "total_cost": [c / 100 for c in costs_fen]})


def test_per_diem_case_without_per_diem_points_is_a_no_weight_case(engine):
    pol = load_policy("zhejiang-province")
    pol = replace(pol, per_diem=replace(pol.per_diem, min_los=60),
                  readmission=replace(pol.readmission, enabled=False))
    w, c = hand_tables([{"drg": "FR23", "base_points": 150.0, "mean_cost": 15000.0}],
                       coef={("H01", "FR23"): 1.10})
    t = case_rows([{"drg": "FR23", "cost": 15000.0, "los": 60, "case_id": "normal_cost"},
                   {"drg": "FR23", "cost": 40000.0, "los": 60, "case_id": "high_cost"}])
    out = price_cases(t, w, c, pol, engine=engine).to_pylist()
    assert [r["case_class"] for r in out] == ["unstable", "unstable"]
    assert [r["points"] for r in out] == [150.0, 400.0]  # c / A × 100 with A = 10,000: no coefficient
    assert all("per-diem case without per-diem points" in r["price_note"] for r in out)


def test_unstable_and_ungroupable_points_divide_by_the_exact_a(engine):
    pol = _policy()
    n, total = 3005, 2 * 10**9          # A = 2e9 / 3005 fen, exactly; no float64 holds it
    base = total // n
    w, trimmed = compute_weights(_history([base] * (n - 1) + [total - base * (n - 1)]), pol, settlement_year=2024)
    coefs = compute_coefficients(w, trimmed, pa.table({"hospital_id": ["H01"], "tier": ["A"]}), pol,
                                 settlement_year=2024)
    assert Fraction(1000) / w.a_fen * 100 == Fraction(601, 4000)   # 0.15025 points: a tie at 4 decimals
    case = pa.table({"case_id": ["NW", "UG"], "patient_id": ["P1", "P2"], "hospital_id": ["H01", "H01"],
                     "adrg": ["ZZ1", "00"], "drg": ["ZZ19", "0000"], "los": pa.array([5, 5], pa.int32()),
                     "admit_date": pa.array([dt.date(2024, 3, 1)] * 2, pa.date32()),
                     "discharge_date": pa.array([dt.date(2024, 3, 6)] * 2, pa.date32()),
                     "total_cost": [10.00, 10.00], "self_paid": [0.0, 0.0], "insurance_type": ["310", "310"]})
    out = price_cases(case, w, coefs, pol, engine=engine).to_pylist()
    assert [(r["case_class"], r["points"]) for r in out] == [("unstable", 0.1503), ("ungroupable", 0.1503)]


def test_class_is_decided_on_the_exact_cost_ratio(engine, tmp_path):
    pol = _policy()
    # mean_d of AA11 is exactly 100000/3 fen (33333.333… has no float64); a case of 1,000.00 yuan has r = 3
    hist = pa.concat_tables([
        _history([33333, 33333, 33334, 33333, 33333, 33334], "AA11"),
        _history([100000] * 6, "BB11"),
    ])
    w, trimmed = compute_weights(hist, pol, settlement_year=2024)
    assert w.mean_exact["AA11"] == Fraction(100000, 3)
    coefs = compute_coefficients(w, trimmed, pa.table({"hospital_id": ["H01"], "tier": ["A"]}), pol,
                                 settlement_year=2024)
    bp = dict(zip(w.table.column("drg").to_pylist(), w.table.column("base_points").to_pylist()))["AA11"]
    assert pol.pricing.high_ratio(bp) == 3  # BP ≤ 100 → H = 3
    case = pa.table({"case_id": ["R3"], "patient_id": ["P1"], "hospital_id": ["H01"], "adrg": ["AA1"],
                     "drg": ["AA11"], "los": pa.array([5], pa.int32()),
                     "admit_date": pa.array([dt.date(2024, 3, 1)], pa.date32()),
                     "discharge_date": pa.array([dt.date(2024, 3, 6)], pa.date32()),
                     "total_cost": [1000.00], "self_paid": [0.0], "insurance_type": ["310"]})
    assert price_cases(case, w, coefs, pol, engine=engine).column("case_class").to_pylist() == ["high"]
    # and the same through the weights file (the exact mean is stored as num/den)
    from drg.pricing import read_weights, write_weights

    write_weights(w, tmp_path / "weights.parquet")
    w2 = read_weights(tmp_path / "weights.parquet")
    assert price_cases(case, w2, coefs, pol, engine=engine).column("case_class").to_pylist() == ["high"]


def test_coefficients_keep_four_decimals_whatever_points_decimals_says(engine):
    pol = replace(load_policy("zhejiang-province"), points_decimals=2,
                  readmission=replace(load_policy("zhejiang-province").readmission, enabled=False))
    w, c = hand_tables([{"drg": "FR23", "base_points": 150.0, "mean_cost": 15000.0}], coef={("H01", "FR23"): 1.2345})
    out = price_cases(case_rows([{"cost": 15000.0}]), w, c, pol, engine=engine).to_pylist()[0]
    assert (out["coef"], out["points"]) == (1.2345, 185.18)   # 150 × 1.2345 = 185.175 → 2 decimals
    from drg.pricing import Weights, compute_coefficients as coefs

    wt = Weights(pa.table({"drg": ["FR23"], "base_points": [150.0], "mean_cost_fen": [10000.0]}), Fraction(10000),
                 (2023,), "t", None, 2024, {"FR23": Fraction(10000)})
    trimmed = pa.table({"hospital_id": ["H01"] * 5, "drg": ["FR23"] * 5, "year": pa.array([2023] * 5, pa.int32()),
                        "cost_fen": pa.array([12345] * 5, pa.int64())})
    table = coefs(wt, trimmed, pa.table({"hospital_id": ["H01"], "tier": ["A"]}), pol, settlement_year=2024)
    assert table.column("coef").to_pylist() == [1.2345]
