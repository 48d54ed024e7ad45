"""Statements: per hospital and period (CSV, Excel), city summary and point-value chart."""

from __future__ import annotations

from datetime import date

import polars as pl

from drg.reports import write_statements
from drg.settlement import settle_month, settle_year
from tests.helpers.priced_cases import case, write_budget, write_hospitals, write_income, write_policy, write_priced


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
    assert sorted(p.name for p in sdir.iterdir()) == ["H0.xlsx", "H1.xlsx", "H2.xlsx", "hospitals.csv"]
    rows = pl.read_csv(sdir / "hospitals.csv")  # UTF-8 with a BOM, Chinese headers, yuan
    h1 = r.hospitals.filter(pl.col("hospital_id") == "H1").sort("pool")
    got = rows.filter(pl.col("医院编码") == "H1").sort("统筹区")
    assert [round(x * 100) for x in got["基金支付(元)"].to_list()] == h1["fund_payment"].to_list()
    text = (sdir / "hospitals.csv").read_text(encoding="utf-8-sig")
    assert "PC" not in text  # patient ids (P + case id in the fixture) never written
    import openpyxl

    wb = openpyxl.load_workbook(sdir / "H1.xlsx")
    assert wb.sheetnames == ["结算单", "病例类型", "主要病组", "高低倍率病例", "月度预付", "说明"]
    outl = [row for row in wb["高低倍率病例"].iter_rows(values_only=True) if row[4] in ("高倍率病例", "低倍率病例")]
    assert outl and all(not str(row[1]).startswith("P") for row in outl)
    summary = pl.read_csv(files["city_summary"])
    assert summary.filter(pl.col("运行类型") == "月度预付").height == 24
    assert summary.filter(pl.col("运行类型") == "年度清算").height == 2
    png = (tmp_path / "rep" / "point_values.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


def test_monthly_statement_without_ledger(tmp_path):
    c = _city(tmp_path)
    r = settle_month(c["priced"], None, c["budget"], None, c["policy"], "2025-02")
    files = write_statements(r, tmp_path / "rep", excel=False)
    assert files["statements"] == [] and files["hospitals_csv"].endswith(".csv")
    assert (tmp_path / "rep" / "statements" / "2025-02").is_dir()
    assert pl.read_csv(files["city_summary"]).height == 2
