"""Fixtures of the monitoring tests (issue 18), built once per session and kept small:

* ``demo_world`` — the session's ``drg demo`` run (``demo_run`` of tests/conftest.py, shared with
  tests/test_demo.py): weights with the low-risk DRGs into the ledger, last year settled, twelve months and
  the year, the monitoring of the year with its report;
* ``reference_world`` — the CHS-DRG 1.1 reference cases of ``../shared/reference`` grouped with the published
  tables, as the settlement year 2025 and (dates a year earlier, costs 4 % lower) as its history year 2024;
  weights, priced, 2024 settled, the months of the first half and the year of 2025 settled, into a ledger.

Each world names its priced files so that the tests can compute every indicator a second way, in plain SQL
over the priced cases (``tests/monitoring/sql.py``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"

POLICY = """
[policy]
id = "monitoring-test"
name = "provincial rules; low-risk DRGs from 5 history cases (small test data)"
extends = "zhejiang-province"
year = 2025

[budget]
reserve_ratio = 0.05

[monitoring]
low_risk_min_cases = 5
convergence_min_cases = 2
hospital_min_cases = 10
cc_share_min_cases = 5
"""


@pytest.fixture(scope="session")
def demo_world(demo_run) -> dict:
    from drg.synth.demo import SETTLEMENT_YEAR

    out, summary = demo_run
    return {"out": out, "summary": summary, "ledger": out / "ledger.duckdb", "year": SETTLEMENT_YEAR,
            "priced": {y: out / "priced" / f"cases-{y}.parquet" for y in (SETTLEMENT_YEAR - 1, SETTLEMENT_YEAR)},
            "history": [out / "grouped" / f"cases-{y}.parquet" for y in (2023, 2024)],
            "tables": out / "tables", "hospitals": out / "city" / "hospitals.parquet",
            "report": Path(summary["files"]["report"]), "policy": "demo"}


@pytest.fixture(scope="session")
def reference_world(tmp_path_factory) -> dict:
    cases = SHARED / "reference" / "chs_drg_11_cases.parquet"
    if not cases.exists():
        pytest.skip("../shared/reference is not beside the repository")
    import polars as pl
    import pyarrow as pa
    import pyarrow.parquet as pq

    from drg.casefile.schema import SETTLEMENT_REQUIRED
    from drg.grouping import group_file
    from drg.pricing.coefficients import build_tables
    from drg.pricing.priced_file import price_file
    from drg.settlement.runs import settle_months, settle_year
    from grouper.build import build_scheme

    d = tmp_path_factory.mktemp("monitoring_reference")
    scheme, _ = build_scheme(SHARED / "schemes" / "CHS_DRG_11", SHARED / "codes" / "chs_drg_11")
    policy = d / "policy.toml"
    policy.write_text(POLICY, encoding="utf-8")
    grouped = d / "grouped-2025.parquet"
    group_file(scheme, cases, grouped, required=SETTLEMENT_REQUIRED, engine="numba")
    g = pl.read_parquet(grouped)
    # last year: the same stays a year earlier at 96 % of the cost (money columns in yuan and fen)
    money = [c for c in ("total_cost", "fund_paid", "self_paid") if c in g.columns]
    hist = g.with_columns(
        pl.col("case_id") + "-h", pl.col("admit_date").dt.offset_by("-1y"), pl.col("discharge_date").dt.offset_by("-1y"),
        *[(pl.col(c) * 0.96).round(2) for c in money])
    hist = hist.drop([c for c in hist.columns if c.endswith("_fen")])
    grouped_2024 = d / "grouped-2024.parquet"
    table = hist.to_arrow().replace_schema_metadata(pq.read_schema(grouped).metadata)
    pq.write_table(table, grouped_2024)
    hospitals = sorted(g["hospital_id"].unique().to_list())
    counties = sorted(g["county"].unique().to_list())
    hosp = d / "hospitals.parquet"
    pq.write_table(pa.table({"hospital_id": hospitals, "name": [f"医院{h}" for h in hospitals],
                             "tier": ["ABCDE"[i % 5] for i in range(len(hospitals))],
                             "county": [counties[i % len(counties)] for i in range(len(hospitals))]}), hosp)
    spend = g.group_by("insurance_type").agg(pl.col("fund_paid").sum())
    budget = d / "budget.parquet"
    rows = [(y, t, round(v * f, 2)) for t, v in spend.iter_rows() for y, f in ((2024, 0.97), (2025, 1.02))]
    pq.write_table(pa.table({"year": pa.array([r[0] for r in rows], pa.int32()), "insurance_type": [r[1] for r in rows],
                             "fund_budget": [r[2] for r in rows]}), budget)
    by_c = g.group_by(["insurance_type", "county"]).agg(pl.col("fund_paid").sum()).sort(["insurance_type", "county"])
    inc = [(y, t, c, round(v * f, 2), round(v * 0.05, 2)) for t, c, v in by_c.iter_rows()
           for y, f in ((2024, 1.0), (2025, 0.9 if c == counties[0] else 1.15))]
    income = d / "county_income.parquet"
    pq.write_table(pa.table({"year": pa.array([r[0] for r in inc], pa.int32()), "insurance_type": [r[1] for r in inc],
                             "county": [r[2] for r in inc], "income": [r[3] for r in inc],
                             "other_spending": [r[4] for r in inc]}), income)
    ledger = d / "ledger.duckdb"
    tables = d / "tables"
    build_tables([grouped_2024], hosp, policy, tables, year=2025, ledger=ledger)
    priced = {2024: d / "priced-2024.parquet", 2025: d / "priced-2025.parquet"}
    price_file(grouped_2024, tables, policy, priced[2024], year=2024, engine="numba")
    price_file(grouped, tables, policy, priced[2025], year=2025, engine="numba")
    common = dict(ledger=ledger)
    settle_year(priced[2024], hosp, budget, income, policy, 2024, **common)
    settle_months(priced[2025], hosp, budget, income, policy, 2025, months=range(1, 7), **common)  # H1 by month
    settle_year(priced[2025], hosp, budget, income, policy, 2025, **common)
    return {"dir": d, "ledger": ledger, "priced": priced, "history": [grouped_2024], "tables": tables,
            "hospitals": hosp, "policy": str(policy), "year": 2025}
