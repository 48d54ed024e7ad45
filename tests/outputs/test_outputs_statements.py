"""Statements a settlement officer signs: written by ``drg settle`` by default, read back with openpyxl and
polars — numbers are numbers, headers are the documented Chinese labels, totals add up and equal the ledger
to the fen, the run id, policy and scheme are on every sheet; the city summary and the CSVs with a BOM."""

from __future__ import annotations

from decimal import Decimal

import duckdb
import openpyxl
import polars as pl
import pytest
from typer.testing import CliRunner

from drg.reports.labels import label

from .conftest import settle_args

SETTLEMENT_HEADERS = ["统筹区", "病例数", "总点数", "未能扣减点数", "点值(元/点)", "应得金额(元)", "个人负担(元)",
                      "基金支付(元)", "已预付(元)", "清算余额(元)", "调剂金分担(元)", "医疗总费用(元)", "超支(元)"]


def _table(ws, first_header: str):
    """(info lines, header, data rows, totals row) of a sheet whose table starts at the row whose first cell
    is ``first_header``."""
    rows = list(ws.iter_rows(values_only=True))
    h = next(i for i, r in enumerate(rows) if r[0] == first_header)
    info = {r[0]: r[1] for r in rows[1:h] if r[0]}
    body, total = [], None
    for r in rows[h + 1:]:
        if r[0] is None:
            break
        if r[0] in ("合计", "total", "合计(月度)"):
            total = r
            break
        body.append(r)
    return info, list(rows[h]), body, total


def _yuan_fen(x) -> int:
    return int((Decimal(repr(x)) * 100).quantize(Decimal(1)))


def test_statements_written_by_default_with_the_run_on_every_sheet(settled):
    sdir = settled["year_dir"] / "statements" / "2025"
    assert sorted(p.name for p in sdir.glob("*.xlsx")) == ["H1.xlsx", "H2.xlsx", "H3.xlsx"]
    for month in ("2025-01", "2025-12"):
        assert (settled["months_dir"] / month / "statements" / month / "H1.xlsx").exists()
    wb = openpyxl.load_workbook(sdir / "H2.xlsx")
    assert wb.sheetnames == ["结算单", "病例类型", "主要病组", "高低倍率病例", "月度预付", "说明"]
    for ws in wb:
        rows = list(ws.iter_rows(values_only=True))
        info = {r[0]: r[1] for r in rows[:12] if r[0]}
        assert info["账本运行号"] == settled["run_id"]
        assert info["政策"] == "outputs-test" and "分组方案" in info and info["期间"].startswith("2025年度")
        assert info["医院"] == "H2 中医院"


def test_settlement_sheet_numbers_totals_and_ledger(settled):
    wb = openpyxl.load_workbook(settled["year_dir"] / "statements" / "2025" / "H1.xlsx")
    _info, header, body, total = _table(wb["结算单"], "统筹区")
    assert header == SETTLEMENT_HEADERS
    assert [r[0] for r in body] == ["职工(310)", "居民(390)"]
    for r in body:
        assert all(isinstance(v, (int, float)) for v in r[1:]), r   # numbers stored as numbers
    for j in range(1, len(header)):
        if j == 4:  # the point value does not add up across pools
            assert total[j] is None
            continue
        assert total[j] == pytest.approx(sum(r[j] for r in body), abs=1e-6), header[j]
    ws = wb["结算单"]
    fund_col = header.index("基金支付(元)")
    row = next(c for c in ws.iter_rows() if c[0].value == "职工(310)")
    assert row[fund_col].number_format == "#,##0.00" and row[4].number_format == "#,##0.0000"
    with duckdb.connect(str(settled["ledger"]), read_only=True) as con:
        fen = dict(con.execute("SELECT pool, fund_payment FROM hospital_results WHERE run_id = ? AND hospital_id = 'H1'",
                               [settled["run_id"]]).fetchall())
        bal = sum(r[0] for r in con.execute("SELECT balance FROM hospital_results WHERE run_id = ? AND "
                                            "hospital_id = 'H1'", [settled["run_id"]]).fetchall())
    assert {"310": _yuan_fen(body[0][fund_col]), "390": _yuan_fen(body[1][fund_col])} == fen
    assert _yuan_fen(total[header.index("清算余额(元)")]) == bal


def test_classes_drgs_outliers_and_months_add_up(settled):
    wb = openpyxl.load_workbook(settled["year_dir"] / "statements" / "2025" / "H3.xlsx")
    _i, _h, settle, total = _table(wb["结算单"], "统筹区")
    cases = total[1]
    _i, h, classes, ctotal = _table(wb["病例类型"], "统筹区")
    assert h[:3] == ["统筹区", "病例类型", "病例数"]
    assert ctotal[2] == cases == sum(r[2] for r in classes)
    assert {r[1] for r in classes} <= {"正常病例", "高倍率病例", "低倍率病例"}
    _i, h, drgs, dtotal = _table(wb["主要病组"], "统筹区")
    assert dtotal[2] == cases and dtotal[3] == pytest.approx(ctotal[3])
    _i, h, outl, _t = _table(wb["高低倍率病例"], "统筹区")
    assert h[:3] == ["统筹区", "结算清单号", "出院日期"]
    assert outl and all(r[4] in ("高倍率病例", "低倍率病例") and isinstance(r[6], (int, float)) for r in outl)
    assert all(not str(r[1]).startswith("P") for r in outl)          # no patient ids
    ratios = [r[5] for r in outl if r[0] == "职工(310)"]
    assert ratios == sorted(ratios, reverse=True)
    _i, h, months, mtotal = _table(wb["月度预付"], "月份")
    assert mtotal[2] == cases
    prepaid = _table(wb["结算单"], "统筹区")[3][SETTLEMENT_HEADERS.index("已预付(元)")]
    assert mtotal[h.index("本月预付(元)")] == pytest.approx(prepaid, abs=1e-6)


def test_notes_sheet_says_what_each_column_means(settled):
    wb = openpyxl.load_workbook(settled["year_dir"] / "statements" / "2025" / "H1.xlsx")
    _i, h, rows, _t = _table(wb["说明"], "列")
    meanings = {r[0]: r[1] for r in rows}
    for head in ("基金支付(元)", "清算余额(元)", "点值(元/点)", "账本运行号"):
        assert meanings[head], head


def test_city_summary_point_values_hospitals_counties(settled):
    ydir = settled["year_dir"]
    wb = openpyxl.load_workbook(ydir / "city_summary.xlsx")
    assert wb.sheetnames == ["点值", "医院", "区县", "预警", "说明"]
    info, h, rows, total = _table(wb["点值"], "期间")
    assert info["账本运行号"] == settled["run_id"]
    assert h[:4] == ["期间", "运行类型", "统筹区", "病例数"] and "点值(元/点)" in h
    months = [r for r in rows if r[1] == "月度预付"]
    year = [r for r in rows if r[1] == "年度清算"]
    assert len(months) == 24 and len(year) == 2
    assert total[3] == sum(r[3] for r in months) == sum(r[3] for r in year)
    # the monthly prepayments add up to the annual run's prepaid, to the fen
    pre = h.index("已预付(元)")
    assert _yuan_fen(total[pre]) == sum(_yuan_fen(r[pre]) for r in year)
    _i, h, hosp, htotal = _table(wb["医院"], "统筹区")
    fund = h.index("基金支付(元)")
    with duckdb.connect(str(settled["ledger"]), read_only=True) as con:
        budget_minus_reserve = con.execute("SELECT sum(budget_fen - reserve_fen) FROM pool_results WHERE run_id = ?",
                                           [settled["run_id"]]).fetchone()[0]
    assert _yuan_fen(htotal[fund]) == budget_minus_reserve   # Σ fund payments = B − R, to the fen
    _i, h, counties, ctotal = _table(wb["区县"], "统筹区")
    assert _yuan_fen(ctotal[h.index("DRG 基金支出(元)")]) == budget_minus_reserve
    assert (ydir / "point_values.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_csv_outputs_have_a_bom_and_yuan(settled):
    ydir = settled["year_dir"]
    for p in (ydir / "city_summary.csv", ydir / "statements" / "2025" / "hospitals.csv"):
        assert p.read_bytes()[:3] == b"\xef\xbb\xbf", p
    h = pl.read_csv(ydir / "statements" / "2025" / "hospitals.csv")
    assert {"基金支付(元)", "账本运行号", "医院名称"} <= set(h.columns)
    assert "'=妇幼保健院" in h["医院名称"].to_list()          # user text cannot become a formula
    fen = pl.read_parquet(ydir / "hospitals.parquet")
    assert sorted(round(x * 100) for x in h["基金支付(元)"].to_list()) == sorted(fen["fund_payment"].to_list())


def test_english_statements_on_request(city, tmp_path):
    from drg.cli import app

    r = CliRunner().invoke(app, ["settle", "year", "--year", "2025", *settle_args(city, tmp_path / "l.duckdb"),
                                 "--out", str(tmp_path / "y"), "--lang", "en", "--prepaid", "none"])
    assert r.exit_code == 0, r.output
    wb = openpyxl.load_workbook(tmp_path / "y" / "statements" / "2025" / "H1.xlsx")
    assert wb.sheetnames[0] == "settlement"
    _i, h, _b, total = _table(wb["settlement"], "pool")
    assert h[7] == label("fund_payment", "en") == "fund payment (yuan)"
    assert total[0] == "total" and total[7] == pytest.approx(sum(r[7] for r in _b))


def test_no_statements_flag_and_monthly_labels(city, tmp_path):
    from drg.cli import app

    runner = CliRunner()
    r = runner.invoke(app, ["settle", "month", "--period", "2025-02", *settle_args(city, tmp_path / "l.duckdb"),
                            "--out", str(tmp_path / "m"), "--no-statements"])
    assert r.exit_code == 0, r.output
    assert not (tmp_path / "m" / "statements").exists() and not (tmp_path / "m" / "city_summary.xlsx").exists()
    r = runner.invoke(app, ["settle", "month", "--period", "2025-03", *settle_args(city, tmp_path / "l.duckdb"),
                            "--out", str(tmp_path / "m3")])
    assert r.exit_code == 0, r.output
    wb = openpyxl.load_workbook(tmp_path / "m3" / "statements" / "2025-03" / "H1.xlsx")
    assert "月度预付" not in wb.sheetnames
    _i, h, body, _t = _table(wb["结算单"], "统筹区")
    assert "暂定点值(元/点)" in h and "本月预付(元)" in h and "结转年终(元)" in h
    assert "statements: 3 hospital workbooks" in r.output
