"""Fixtures for the tests of what people read (issue 17): a small settled city with its ledger, statements and
city summary written by the command line; a small published bundle with a hospital's GBK month file.

Both are built once per session and shared; the tests read the files back (openpyxl, polars, duckdb).
"""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

REPO = Path(__file__).resolve().parents[2]
MAPPING = REPO / "data" / "mappings" / "his-example.toml"

POLICY = """
[policy]
id = "outputs-test"
name = "provincial rules, budget-paced prepayment"
extends = "zhejiang-province"

[budget]
reserve_ratio = 0.05

[prepayment]
provisional_pv = "budget_pace"
prepay_ratio = 0.85

[county]
gap_city_share = 0.5
"""

PRICED_SCHEMA = pa.schema([
    ("case_id", pa.string()), ("patient_id", pa.string()), ("hospital_id", pa.string()),
    ("insurance_type", pa.string()), ("county", pa.string()), ("discharge_date", pa.date32()),
    ("total_cost", pa.float64()), ("fund_paid", pa.float64()), ("self_paid", pa.float64()),
    ("other_paid", pa.float64()), ("drg", pa.string()), ("case_class", pa.string()), ("base_points", pa.float64()),
    ("coef", pa.float64()), ("cost_ratio", pa.float64()), ("points", pa.float64()),
    ("adjusted_points", pa.float64()), ("adjust_reason", pa.string()), ("deduction_points", pa.float64()),
])


def priced_rows(n: int = 216) -> list[dict]:
    """Priced cases of 2025 (and a few of 2024) at three hospitals, two pools, two counties, every month;
    some high and low outliers. Points carry at most 4 decimals; money is yuan."""
    rows = []
    for i in range(n):
        cls = "high" if i % 7 == 0 else ("low" if i % 11 == 0 else "normal")
        pts = round(40 + (i * 37 % 100) * 1.25 + 0.0125 * (i % 3), 4)
        fund, selfp, other = 3000.0 + (i * 53 % 900), 200.0 + (i % 13) * 17.5, 10.0 * (i % 2)
        rows.append({"case_id": f"c{i:04d}", "patient_id": f"P{i:04d}", "hospital_id": f"H{i % 3 + 1}",
                     "insurance_type": "310" if (i // 36) % 2 else "390", "county": f"C{(i // 5) % 2 + 1}",
                     "discharge_date": date(2025, 1 + (i // 3) % 12, 1 + i % 27),
                     "total_cost": round(fund + selfp + other, 2),
                     "fund_paid": fund, "self_paid": selfp, "other_paid": other, "drg": f"D{i % 9:02d}",
                     "case_class": cls, "base_points": pts, "coef": 1.0, "cost_ratio": 1.0 + (i % 17) / 4,
                     "points": pts, "adjusted_points": pts, "adjust_reason": "", "deduction_points": 0.0})
    for i, (h, ins) in enumerate((("H1", "310"), ("H2", "310"), ("H1", "390"), ("H3", "390"))):
        rows.append({**rows[i], "case_id": f"p{i}", "hospital_id": h, "insurance_type": ins,
                     "discharge_date": date(2024, 6, 1)})
    return rows


def write_priced(path: Path, rows: list[dict]) -> Path:
    pq.write_table(pa.Table.from_pylist(rows, schema=PRICED_SCHEMA), path)
    return path


@pytest.fixture(scope="session")
def city(tmp_path_factory) -> dict:
    """The input files of a small city's settlement year 2025."""
    d = tmp_path_factory.mktemp("outputs_city")
    policy = d / "policy.toml"
    policy.write_text(POLICY, encoding="utf-8")
    budget = d / "budget.parquet"
    pq.write_table(pa.table({"year": pa.array([2025, 2025], pa.int32()), "insurance_type": ["310", "390"],
                             "fund_budget": [300_000.0, 260_000.0]}), budget)
    income = d / "county_income.parquet"
    pq.write_table(pa.table({"year": pa.array([2025] * 4, pa.int32()), "insurance_type": ["310", "310", "390", "390"],
                             "county": ["C1", "C2", "C1", "C2"], "income": [150_000.0, 140_000.0, 120_000.0, 150_000.0],
                             "other_spending": [1000.0, 500.0, 800.0, 0.0]}), income)
    hospitals = d / "hospitals.parquet"
    pq.write_table(pa.table({"hospital_id": ["H1", "H2", "H3"], "name": ["第一人民医院", "中医院", "=妇幼保健院"],
                             "tier": ["A", "B", "C"], "county": ["C1", "C1", "C2"]}), hospitals)
    priced = write_priced(d / "priced-2025.parquet", priced_rows())
    return {"dir": d, "priced": priced, "budget": budget, "income": income, "hospitals": hospitals,
            "policy": policy}


def settle_args(city: dict, ledger: Path) -> list[str]:
    return ["--priced", str(city["priced"]), "--hospitals", str(city["hospitals"]), "--budget", str(city["budget"]),
            "--county-income", str(city["income"]), "--policy", str(city["policy"]), "--ledger", str(ledger)]


@pytest.fixture(scope="session")
def settled(city) -> dict:
    """Twelve monthly runs and the annual run of 2025 through the command line, statements by default."""
    runner = CliRunner()
    d = city["dir"]
    ledger = d / "ledger.duckdb"
    r = runner.invoke(_app(), ["settle", "month", "--period", "2025", *settle_args(city, ledger), "--out",
                               str(d / "months"), "--json"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(_app(), ["settle", "year", "--year", "2025", *settle_args(city, ledger), "--out",
                               str(d / "year"), "--json"])
    assert r.exit_code == 0, r.output
    import json

    summary = json.loads(r.output)
    return {**city, "ledger": ledger, "year_dir": d / "year", "months_dir": d / "months", "summary": summary,
            "run_id": summary["run_id"]}


def _app():
    from drg.cli import app

    return app


# ------------------------------------------------------------------------------------------------ estimate
from tests.helpers.estimate_world import HIS_HEADERS  # noqa: E402  (the hospital system's headers, once)
EXTRA = ("患者姓名", "出院科室")


def write_his_csv(rows: list[dict], path: Path, *, extra: bool = True, bad_row: bool = False) -> Path:
    """A hospital system's GBK export: Chinese headers, 男/女 and insurance types in words, two columns of its own."""
    sex = {1: "男", 2: "女", 0: "未知"}
    ins = {"310": "职工基本医疗保险", "390": "城乡居民基本医疗保险"}
    with open(path, "w", encoding="gbk", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(list(HIS_HEADERS.values()) + (list(EXTRA) if extra else []))
        for i, r in enumerate(rows):
            out = []
            for k in HIS_HEADERS:
                v = r.get(k)
                if k == "sex":
                    v = sex.get(v, "未知")
                elif k == "insurance_type":
                    v = ins.get(v, v)
                elif k in ("dx", "px"):
                    v = "|".join(v or [])
                elif k in ("total_cost", "fund_paid", "self_paid", "other_paid"):
                    v = "" if v is None else f"{v:.2f}"
                out.append("" if v is None else str(v))
            w.writerow(out + ([f"患者{i}", "=心内科" if i == 0 else "心内科"] if extra else []))
        if bad_row:
            w.writerow(["BAD1", "P1", "H0004", "男", "sixty", "", "", "3", "", "I50.908", "", "", "2025-01-01",
                        "2025-01-04", "100.00", "50.00", "50.00", "0", "职工基本医疗保险", ""]
                       + (["x", "y"] if extra else []))
    return path


@pytest.fixture(scope="session")
def bundle_world(tmp_path_factory) -> dict:
    """The demo scheme compiled, a small synthetic city grouped and priced into tables, a bundle published
    with point values 310 = 85.5 and 390 = 80.2, and a GBK month of one hospital."""
    from drg.estimate.bundle import publish
    from drg.grouping import group_file
    from drg.pricing.coefficients import build_tables
    from drg.synth.city import synthesize
    from drg.synth.samples import city_settings, schemes
    from grouper.build import build_scheme
    from grouper.rules import load_code_dictionary, load_rule_set

    root = tmp_path_factory.mktemp("outputs_bundle")
    sample = schemes()["demo"]
    scheme, _ = build_scheme(sample.rules_dir, sample.codes_dir, out=root / "demo.scheme")
    res = synthesize(load_rule_set(sample.rules_dir), load_code_dictionary(sample.codes_dir), root / "city",
                     cases=4500, years=[2023, 2024, 2025], settings=city_settings("demo"), seed=11)
    grouped = {}
    for y in (2023, 2024, 2025):
        grouped[y] = root / f"grouped-{y}.parquet"
        group_file(scheme, res.case_files[y], grouped[y], engine="numba")
    build_tables([grouped[2023], grouped[2024]], res.hospitals, "demo", root / "tables", year=2025)
    publish(root / "demo.scheme", root / "tables", "demo", root / "bundle", point_values=["310=85.5", "390=80.2"])
    month = [r for r in pq.read_table(res.case_files[2025]).to_pylist()
             if r["hospital_id"] == "H0004" and not (r["age"] == 0 and r["age_days"] is None)][:120]
    his = write_his_csv(month, root / "出院结算-2025.csv", bad_row=True)
    return {"root": root, "scheme": root / "demo.scheme", "tables": root / "tables", "bundle": root / "bundle",
            "grouped": grouped, "cases": res.case_files, "hospitals": res.hospitals, "month": month, "his": his,
            "rules": sample.rules_dir, "codes": sample.codes_dir}
