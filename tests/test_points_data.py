"""Small synthetic grouped-case tables for the payment-engine tests (builders, plus a sanity test)."""

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


def test_builders_make_contract_columns():
    t = make_cases(50)
    assert t.num_rows == 52
    assert {"case_id", "drg", "adrg", "total_cost", "discharge_date"} <= set(t.column_names)
    assert make_hospitals().num_rows == len(HOSPITALS)
