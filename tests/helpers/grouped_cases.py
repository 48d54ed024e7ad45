"""Small synthetic grouped-case tables for the payment-engine tests: random grouped cases and hospitals,
hand-built weights and coefficients for worked examples, case rows from dicts, and :func:`price_both`."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa

HOSPITALS = [("H01", "City No.1", "A", "330701"), ("H02", "City No.2", "A", "330702"),
             ("H03", "County A", "B", "330703"), ("H04", "County B", "C", "330704"),
             ("H05", "Township", "D", "330704")]
DRGS = [  # drg, adrg, mean cost yuan, sd
    ("FR23", "FR2", 15000.0, 3000.0), ("GB11", "GB1", 40000.0, 9000.0), ("ES31", "ES3", 8000.0, 2000.0),
    ("RE13", "RE1", 9000.0, 1500.0), ("TR11", "TR1", 300.0, 50.0), ("BR21", "BR2", 22000.0, 6000.0),
    ("ZZ11", "ZZ1", 5000.0, 4900.0),
]


def make_cases(n: int = 2000, *, years=(2022, 2023), seed: int = 1, tiny_drg: bool = True,
               money_type: pa.DataType = pa.float64(), hospitals=None, n_patients: int | None = None) -> pa.Table:
    """Grouped cases with the contract's columns plus mdc, adrg, drg, group_status."""
    rng = np.random.default_rng(seed)
    hospitals = hospitals or [h[0] for h in HOSPITALS]
    rows = {k: [] for k in ("case_id", "patient_id", "hospital_id", "mdc", "adrg", "drg", "group_status",
                            "los", "admit_date", "discharge_date", "total_cost", "fund_paid", "self_paid",
                            "insurance_type", "county")}
    n_patients = n_patients or max(n // 3, 1)
    for i in range(n):
        k = rng.integers(0, len(DRGS) + 1)
        year = int(rng.choice(years))
        if k == len(DRGS):
            drg, adrg, mean, sd = "0000", "00", 7000.0, 3000.0
        else:
            drg, adrg, mean, sd = DRGS[k]
        h = hospitals[int(rng.integers(0, len(hospitals)))]
        hf = 1.0 + 0.05 * (hospitals.index(h) - 2)
        los = int(rng.integers(1, 20)) if drg != "TR11" else int(rng.integers(20, 90))
        cost = max(100.0, rng.normal(mean, sd) * hf) * (los if drg == "TR11" else 1)
        cost = round(cost, 2)
        self_paid = round(cost * 0.3, 2)
        admit = dt.date(year, 1, 1) + dt.timedelta(days=int(rng.integers(0, 250)))
        rows["case_id"].append(f"C{year}{i:07d}")
        rows["patient_id"].append(f"P{int(rng.integers(0, n_patients)):06d}")
        rows["hospital_id"].append(h)
        rows["mdc"].append(drg[:1] if drg != "0000" else "0000")
        rows["adrg"].append(adrg)
        rows["drg"].append(drg)
        rows["group_status"].append("ok" if drg != "0000" else "ungroupable")
        rows["los"].append(los)
        rows["admit_date"].append(admit)
        rows["discharge_date"].append(admit + dt.timedelta(days=los))
        rows["total_cost"].append(cost)
        rows["fund_paid"].append(round(cost - self_paid, 2))
        rows["self_paid"].append(self_paid)
        rows["insurance_type"].append("310" if rng.random() < 0.6 else "390")
        rows["county"].append(HOSPITALS[hospitals.index(h) % len(HOSPITALS)][3])
    if tiny_drg:  # a DRG with 2 cases: unstable
        for j in range(2):
            rows["case_id"].append(f"TINY{j}")
            rows["patient_id"].append(f"PT{j}")
            rows["hospital_id"].append(hospitals[0])
            rows["mdc"].append("X")
            rows["adrg"].append("XJ1")
            rows["drg"].append("XJ19")
            rows["group_status"].append("ok")
            rows["los"].append(5)
            d0 = dt.date(years[-1], 3, 1)
            rows["admit_date"].append(d0)
            rows["discharge_date"].append(d0 + dt.timedelta(days=5))
            rows["total_cost"].append(12000.0 + j)
            rows["fund_paid"].append(8000.0)
            rows["self_paid"].append(4000.0 + j)
            rows["insurance_type"].append("310")
            rows["county"].append("330701")
    t = pa.table({
        "case_id": pa.array(rows["case_id"], pa.string()), "patient_id": pa.array(rows["patient_id"], pa.string()),
        "hospital_id": pa.array(rows["hospital_id"], pa.string()), "mdc": pa.array(rows["mdc"], pa.string()),
        "adrg": pa.array(rows["adrg"], pa.string()), "drg": pa.array(rows["drg"], pa.string()),
        "group_status": pa.array(rows["group_status"], pa.string()), "los": pa.array(rows["los"], pa.int32()),
        "admit_date": pa.array(rows["admit_date"], pa.date32()),
        "discharge_date": pa.array(rows["discharge_date"], pa.date32()),
        "total_cost": pa.array(rows["total_cost"], pa.float64()).cast(money_type),
        "fund_paid": pa.array(rows["fund_paid"], pa.float64()).cast(money_type),
        "self_paid": pa.array(rows["self_paid"], pa.float64()).cast(money_type),
        "insurance_type": pa.array(rows["insurance_type"], pa.string()),
        "county": pa.array(rows["county"], pa.string()),
    })
    return t


def make_hospitals(rows=None) -> pa.Table:
    rows = rows or HOSPITALS
    return pa.table({"hospital_id": [r[0] for r in rows], "name": [r[1] for r in rows],
                     "tier": [r[2] for r in rows], "county": [r[3] for r in rows]})


# ------------------------------------------------------------------ hand-built tables for worked examples
def hand_tables(drgs, *, a_yuan=10000.0, hospitals=(("H01", "A"),), coef=None, policy_id="test"):
    """Weights and coefficients built by hand.

    ``drgs``: list of dicts with drg, base_points, mean_cost (yuan), stable, optional per_diem_points and
    per_diem_mean (yuan per bed-day). ``coef``: {(hospital, drg): value}, default 1.0.
    """
    from fractions import Fraction

    from drg.pricing import Weights

    rows = []
    for d in drgs:
        rows.append({"drg": d["drg"], "n_cases": d.get("n_cases", 10),
                     "mean_cost": d.get("mean_cost"),
                     "mean_cost_fen": None if d.get("mean_cost") is None else d["mean_cost"] * 100,
                     "cv": 0.5, "stable": d.get("stable", True), "base_points": d.get("base_points"),
                     "per_diem_points": d.get("per_diem_points"), "per_diem_cases": 0,
                     "per_diem_mean_fen": None if d.get("per_diem_mean") is None else d["per_diem_mean"] * 100,
                     "per_diem_mean_cost": d.get("per_diem_mean")})
    schema = pa.schema([("drg", pa.string()), ("n_cases", pa.int64()), ("mean_cost", pa.float64()),
                        ("mean_cost_fen", pa.float64()), ("cv", pa.float64()), ("stable", pa.bool_()),
                        ("base_points", pa.float64()), ("per_diem_points", pa.float64()),
                        ("per_diem_cases", pa.int64()), ("per_diem_mean_fen", pa.float64()),
                        ("per_diem_mean_cost", pa.float64())])
    w = Weights(pa.Table.from_pylist(rows, schema=schema), Fraction(a_yuan * 100), (2022, 2023), policy_id)
    coef = coef or {}
    crow = {k: [] for k in ("hospital_id", "tier", "drg", "coef", "coef_source")}
    for h, tier in hospitals:
        for d in drgs:
            if d.get("base_points") is None:
                continue
            v = coef.get((h, d["drg"]))
            crow["hospital_id"].append(h)
            crow["tier"].append(tier)
            crow["drg"].append(d["drg"])
            crow["coef"].append(1.0 if v is None else v)
            crow["coef_source"].append("1.0" if v is None else "hospital")
    return w, pa.table(crow)


def case_rows(rows, money_type=pa.float64()):
    """A grouped case table from dicts; defaults fill the columns a test does not care about."""
    out = {k: [] for k in ("case_id", "patient_id", "hospital_id", "adrg", "drg", "los", "admit_date",
                           "discharge_date", "total_cost", "self_paid", "insurance_type")}
    for i, r in enumerate(rows):
        admit = r.get("admit", dt.date(2024, 3, 1))
        los = r.get("los", 5)
        dis = r.get("discharge", admit + dt.timedelta(days=los))
        out["case_id"].append(r.get("case_id", f"K{i:04d}"))
        out["patient_id"].append(r.get("patient_id", f"P{i:04d}"))
        out["hospital_id"].append(r.get("hospital_id", "H01"))
        drg = r.get("drg", "FR23")
        out["adrg"].append(r.get("adrg", drg[:3]))
        out["drg"].append(drg)
        out["los"].append(los)
        out["admit_date"].append(admit)
        out["discharge_date"].append(dis)
        out["total_cost"].append(r.get("cost", 15000.0))
        out["self_paid"].append(r.get("self_paid", 0.0))
        out["insurance_type"].append(r.get("insurance_type", "310"))
    return pa.table({
        "case_id": pa.array(out["case_id"], pa.string()), "patient_id": pa.array(out["patient_id"], pa.string()),
        "hospital_id": pa.array(out["hospital_id"], pa.string()), "adrg": pa.array(out["adrg"], pa.string()),
        "drg": pa.array(out["drg"], pa.string()), "los": pa.array(out["los"], pa.int32()),
        "group_status": pa.array(["ok" if d != "0000" else "ungroupable" for d in out["drg"]], pa.string()),
        "admit_date": pa.array(out["admit_date"], pa.date32()),
        "discharge_date": pa.array(out["discharge_date"], pa.date32()),
        "total_cost": pa.array(out["total_cost"], pa.float64()).cast(money_type),
        "self_paid": pa.array(out["self_paid"], pa.float64()).cast(money_type),
        "insurance_type": pa.array(out["insurance_type"], pa.string())})


def price_both(cases, weights, coefs, policy, **kw):
    """Price through the numba kernels and the exact twins (also yuan → fen: :mod:`tests.helpers.engines`);
    assert they agree; return the kernel's table."""
    from drg.pricing import price_cases
    from tests.helpers.engines import engine_routes

    with engine_routes("numba"):
        a = price_cases(cases, weights, coefs, policy, engine="numba", **kw)
    with engine_routes("python"):
        b = price_cases(cases, weights, coefs, policy, engine="python", **kw)
    assert a.equals(b), _diff(a, b)
    return a


def _diff(a, b):
    for name in a.column_names:
        if not a.column(name).equals(b.column(name)):
            x, y = a.column(name).to_pylist(), b.column(name).to_pylist()
            bad = [(i, u, v) for i, (u, v) in enumerate(zip(x, y)) if u != v and not (u != u and v != v)]
            return f"column {name} differs: {bad[:5]}"
    return "schemas differ"
