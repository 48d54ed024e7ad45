"""Small priced-case files for the settlement tests (the columns of ``drg points`` output), with the policy,
budget, county income and hospitals tables beside them, and the priced city of the ledger tests."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

POLICY_TEMPLATE = """
[policy]
id = "{id}"
extends = "zhejiang-province"

[budget]
reserve_ratio = {reserve_ratio}
point_value_includes_self_pay = {includes}
growth_rate = {growth}

[prepayment]
provisional_pv = "{provisional}"
factor = {factor}
prepay_ratio = 0.85

[reserve]
use = "{reserve_use}"
{reserve_extra}

[county]
gap_city_share = {alpha}
"""


def write_policy(path: Path, *, id="t", reserve_ratio="0.05", includes="true", growth="0.0",
                 provisional="budget_pace", factor="1.0", reserve_use="none", share=None, cap=None,
                 alpha="0.5") -> Path:
    extra = ""
    if share is not None:
        extra += f"share = {share}\n"
    if cap is not None:
        extra += f"cap = {cap}\n"
    path.write_text(POLICY_TEMPLATE.format(id=id, reserve_ratio=reserve_ratio, includes=includes, growth=growth,
                                           provisional=provisional, factor=factor, reserve_use=reserve_use,
                                           reserve_extra=extra, alpha=alpha), encoding="utf-8")
    return path


def case(case_id, hospital, points, *, self_paid=0.0, other_paid=0.0, fund_paid=None, total_cost=None,
         ins="310", county="C1", day=date(2025, 3, 15), case_class="normal", drg="FR21", base_points=None,
         deduction=0.0):
    """One priced case; money in yuan (float), points as a float with ≤ 4 decimals."""
    if fund_paid is None:
        fund_paid = 1000.0
    if total_cost is None:
        total_cost = round(fund_paid + self_paid + other_paid, 2)
    return {"case_id": case_id, "patient_id": "P" + case_id, "hospital_id": hospital, "insurance_type": ins,
            "county": county, "discharge_date": day, "total_cost": total_cost, "fund_paid": fund_paid,
            "self_paid": self_paid, "other_paid": other_paid, "drg": drg, "case_class": case_class,
            "base_points": base_points if base_points is not None else points, "coef": 1.0, "cost_ratio": 1.0,
            "points": points, "adjusted_points": points, "adjust_reason": "", "deduction_points": deduction}


SCHEMA = pa.schema([
    ("case_id", pa.string()), ("patient_id", pa.string()), ("hospital_id", pa.string()),
    ("insurance_type", pa.string()), ("county", pa.string()), ("discharge_date", pa.date32()),
    ("total_cost", pa.float64()), ("fund_paid", pa.float64()), ("self_paid", pa.float64()),
    ("other_paid", pa.float64()), ("drg", pa.string()), ("case_class", pa.string()), ("base_points", pa.float64()),
    ("coef", pa.float64()), ("cost_ratio", pa.float64()), ("points", pa.float64()),
    ("adjusted_points", pa.float64()), ("adjust_reason", pa.string()), ("deduction_points", pa.float64()),
])


def write_priced(path: Path, rows: list[dict]) -> Path:
    pq.write_table(pa.Table.from_pylist(rows, schema=SCHEMA), path)
    return path


def write_budget(path: Path, rows: list[tuple[int, str, float]]) -> Path:
    pq.write_table(pa.table({"year": pa.array([r[0] for r in rows], pa.int32()),
                             "insurance_type": [r[1] for r in rows],
                             "fund_budget": pa.array([r[2] for r in rows], pa.float64())}), path)
    return path


def write_income(path: Path, rows: list[tuple[int, str, str, float, float]]) -> Path:
    pq.write_table(pa.table({"year": pa.array([r[0] for r in rows], pa.int32()),
                             "insurance_type": [r[1] for r in rows], "county": [r[2] for r in rows],
                             "income": [r[3] for r in rows], "other_spending": [r[4] for r in rows]}), path)
    return path


def write_hospitals(path: Path, ids: list[str]) -> Path:
    pq.write_table(pa.table({"hospital_id": ids, "name": [f"Hospital {i}" for i in ids],
                             "tier": ["A"] * len(ids), "county": ["C1"] * len(ids)}), path)
    return path


def write_priced_city(directory: Path) -> dict:
    """A year of priced cases in two pools (four a month, and four of the year before), with its budget,
    county income, policy and the path of a ledger not yet written: the city of the ledger tests."""
    rows = []
    n = 0
    for m in range(1, 13):
        for h, pts, ins, county in (("H1", 120.5, "310", "C1"), ("H2", 80.25, "310", "C2"),
                                    ("H1", 60.0, "390", "C2"), ("H3", 99.9999, "390", "C1")):
            n += 1
            rows.append(case(f"c{n}", h, pts, self_paid=300.0 + n, other_paid=10.0, fund_paid=9_000.0 + n * 7,
                             ins=ins, county=county, day=date(2025, m, 10)))
    for i, (h, ins) in enumerate((("H1", "310"), ("H2", "310"), ("H1", "390"), ("H3", "390"))):
        rows.append(case(f"p{i}", h, 100.0, fund_paid=50_000.0, ins=ins, day=date(2024, 5, 1)))
    priced = write_priced(directory / "priced.parquet", rows)
    budget = write_budget(directory / "budget.parquet", [(2024, "310", 200_000.0), (2024, "390", 150_000.0),
                                                         (2025, "310", 210_000.0), (2025, "390", 160_000.0)])
    income = write_income(directory / "income.parquet", [(2025, t, c, 80_000.0, 2_000.0) for t in ("310", "390")
                                                         for c in ("C1", "C2")])
    return {"priced": priced, "budget": budget, "income": income, "policy": write_policy(directory / "p.toml"),
            "ledger": directory / "ledger.duckdb", "dir": directory}
