"""Statements: per hospital and period (CSV, Excel), city summary and point-value chart."""

from __future__ import annotations

import csv
from datetime import date

import polars as pl

from drg.reports.statements import write_statements
from drg.settlement.runs import settle_month, settle_year

from test_settle_fixtures import case, write_budget, write_hospitals, write_income, write_policy, write_priced


def _city(tmp_path):
    rows = []
    for i in range(120):
        cls = "high" if i % 7 == 0 else ("low" if i % 11 == 0 else "normal")
        rows.append(case(f"c{i}", f"H{i % 3}", 50 + i * 0.5, ins="310" if (i // 12) % 2 else "390", county=f"C{i % 2}",
                         self_paid=100.0 + i, day=date(2025, 1 + i % 12, 3), case_class=cls,
                         drg=f"D{i % 9:02d}"))
    return {"priced": write_priced(tmp_path / "p.parquet", rows),
            "budget": write_budget(tmp_path / "b.parquet", [(2025, "310", 90_000.0), (2025, "390", 80_000.0)]),
            "income": write_income(tmp_path / "i.parquet", [(2025, t, c, 40_000.0, 100.0) for t in ("310", "390")
                                                            for c in ("C0", "C1")]),
            "hospitals": write_hospitals(tmp_path / "h.parquet", ["H0", "H1", "H2"]),
            "policy": write_policy(tmp_path / "pol.toml"), "ledger": tmp_path / "l.duckdb"}


def test_statements_and_city_summary(tmp_path):
    c = _city(tmp_path)
    for m in range(1, 13):
        settle_month(c["priced"], c["hospitals"], c["budget"], None, c["policy"], f"2025-{m:02d}",
                     ledger=c["ledger"])
    r = settle_year(c["priced"], c["hospitals"], c["budget"], c["income"], c["policy"], 2025, ledger=c["ledger"])
    files = write_statements(r, tmp_path / "rep", priced=[c["priced"]], ledger=c["ledger"])
    sdir = tmp_path / "rep" / "statements" / "2025"
    assert sorted(p.name for p in sdir.iterdir()) == ["H0.csv", "H0.xlsx", "H1.csv", "H1.xlsx", "H2.csv", "H2.xlsx"]
    with open(sdir / "H1.csv", encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    sections = {r["section"] for r in rows}
    assert {"settlement", "case_classes", "top_drgs"} <= sections
    assert any(s.startswith("outlier_") for s in sections)
    got = {(r["pool"], r["item"]): r["amount"] for r in rows if r["section"] == "settlement"}
    h1 = r.hospitals.filter(pl.col("hospital_id") == "H1").row(0, named=True)
    assert got[(h1["pool"], "fund_payment_yuan")] == f"{h1['fund_payment'] / 100:.2f}" + "00"
    text = (sdir / "H1.csv").read_text(encoding="utf-8")
    assert "PC" not in text  # patient ids (P + case id in the fixture) never written
    sheets = {name: pl.read_excel(sdir / "H1.xlsx", sheet_name=name)
              for name in ("settlement", "case_classes", "top_drgs", "outliers")}
    assert sheets["outliers"].height > 0 and set(sheets["outliers"]["case_class"]) <= {"high", "low"}
    assert "patient_id" not in sheets["outliers"].columns
    summary = pl.read_csv(files["city_summary"])
    assert summary.filter(pl.col("kind") == "month").height == 24 and summary.filter(pl.col("kind") == "year").height == 2
    png = (tmp_path / "rep" / "point_values.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


def test_monthly_statement_without_ledger(tmp_path):
    c = _city(tmp_path)
    r = settle_month(c["priced"], None, c["budget"], None, c["policy"], "2025-02")
    files = write_statements(r, tmp_path / "rep", excel=False)
    assert all(p.endswith(".csv") for p in files["statements"])
    assert (tmp_path / "rep" / "statements" / "2025-02").is_dir()
    assert pl.read_csv(files["city_summary"]).height == 2
