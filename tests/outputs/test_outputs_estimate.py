"""The hospital's workbook (``drg estimate --cases … --out est.xlsx``) and the bundle's workbook, read back: numbers
are numbers, headers are the documented Chinese labels, the hospital's own columns are kept under their own
names, sex and insurance type are words, percentages are percentages, 拒收 is always there, 说明 says what was
used."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import openpyxl
import polars as pl
import pytest
from typer.testing import CliRunner

from drg.cli import app
from drg.money import round_half_away

from .conftest import EXTRA, MAPPING, write_his_csv


@pytest.fixture(scope="module")
def estimate(bundle_world, tmp_path_factory):
    out = tmp_path_factory.mktemp("est") / "estimate.xlsx"
    r = CliRunner().invoke(app, ["estimate", "--bundle", str(bundle_world["bundle"]), "--cases", str(bundle_world["his"]),
                                 "--columns", str(MAPPING), "--out", str(out), "--json"])
    assert r.exit_code == 0, r.output
    import json

    return out, json.loads(r.output)["summary"]


def _rows(ws):
    return list(ws.iter_rows(values_only=True))


def test_sheets_and_summary_numbers(estimate, bundle_world):
    out, s = estimate
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == ["汇总", "明细", "病组", "拒收", "说明"]
    ws = wb["汇总"]
    items = {r[0]: r[1] for r in _rows(ws) if r[0]}
    assert items["病例数"] == s["cases"] == len(bundle_world["month"])
    assert items["拒收行数"] == 1
    assert isinstance(items["预计 DRG 收入(元)"], float) and round(items["预计 DRG 收入(元)"] * 100) == s["income_fen"]
    assert items["高低倍率病例占比"] == pytest.approx(s["outlier_share"])
    share = next(c for c in ws.iter_rows() if c[0].value == "高低倍率病例占比")[1]
    assert share.number_format == "0.0%"                 # 0.14 shows as 14.0%
    # the pool table: 职工/居民, numbers, a totals row that adds up
    rows = _rows(ws)
    h = next(i for i, r in enumerate(rows) if r[0] == "统筹区")
    pools = [r for r in rows[h + 1:h + 4] if r[0] and r[0] != "合计"]
    total = next(r for r in rows[h + 1:] if r[0] == "合计")
    assert {r[0] for r in pools} <= {"职工(310)", "居民(390)"}
    assert total[1] == sum(r[1] for r in pools) == s["cases"]
    assert round(total[4] * 100) == s["income_fen"]
    assert not any(isinstance(v, str) and " / " in v for r in rows for v in r)   # no line squeezed into one string


def test_detail_sheet_labels_and_own_columns(estimate, bundle_world):
    out, _ = estimate
    cases = pl.read_excel(out, sheet_name="明细")
    for head in ("结算清单号", "性别", "险种", "DRG", "病例类型", "病例点数", "医疗总费用(元)", "预计 DRG 收入(元)",
                 "点值(元/点)", *EXTRA):
        assert head in cases.columns, head
    assert not [c for c in cases.columns if c.isascii() and "_" in c]          # no snake_case headers
    assert set(cases["性别"].unique()) <= {"男", "女", "未知"}
    assert set(cases["险种"].unique()) <= {"职工", "居民"}
    assert cases["患者姓名"][1] == "患者1" and cases["出院科室"][0] == "=心内科"      # kept as text, as read
    assert cases.schema["预计 DRG 收入(元)"].is_numeric() and cases.schema["病例点数"].is_numeric()
    # each case's income is round(adjusted points × point value) to the fen
    for r in cases.head(30).iter_rows(named=True):
        pv = Fraction(Decimal(repr(r["点值(元/点)"]))) * 100
        fen = round_half_away(Fraction(Decimal(repr(r["调整后点数"]))) * pv)
        assert round(r["预计 DRG 收入(元)"] * 100) == fen


def test_drg_sheet_totals(estimate):
    out, s = estimate
    d = pl.read_excel(out, sheet_name="病组")
    total = d.filter(pl.col("DRG") == "合计")
    d = d.filter(pl.col("DRG") != "合计")
    assert d["病例数"].sum() == s["cases"] == total["病例数"][0]


def test_rejected_rows_and_notes(estimate, bundle_world):
    out, _ = estimate
    rej = pl.read_excel(out, sheet_name="拒收")
    assert rej.height == 1 and rej["拒收原因"][0] == "格式错误 (wrong_type)" and rej["结算清单号"][0] == "BAD1"
    notes = {r[0]: r[1] for r in _rows(openpyxl.load_workbook(out)["说明"]) if r[0]}
    assert notes["发布包 bundle"] == str(bundle_world["bundle"])
    assert notes["政策 policy"].startswith("demo")
    assert notes["点值 point value 职工(310)"].startswith("85.5000 元/点")
    assert "医院文件自带的列" in notes["患者姓名"]
    assert notes["预计 DRG 收入(元)"]


def test_empty_rejects_sheet_has_a_note(bundle_world, tmp_path):
    his = write_his_csv(bundle_world["month"][:20], tmp_path / "m.csv", extra=False)
    out = tmp_path / "e.xlsx"
    r = CliRunner().invoke(app, ["estimate", "--bundle", str(bundle_world["bundle"]), "--cases", str(his), "--columns",
                                 str(MAPPING), "--out", str(out)])
    assert r.exit_code == 0, r.output
    rows = _rows(openpyxl.load_workbook(out)["拒收"])
    assert rows[0][:2] == ("行号", "拒收原因") and any("没有被拒收" in (r[0] or "") for r in rows)


def test_csv_estimate_is_for_people(bundle_world, tmp_path):
    out = tmp_path / "e.csv"
    r = CliRunner().invoke(app, ["estimate", "--bundle", str(bundle_world["bundle"]), "--cases",
                                 str(bundle_world["his"]), "--columns", str(MAPPING), "--out", str(out)])
    assert r.exit_code == 0, r.output
    for p in (out, tmp_path / "e.summary.csv", tmp_path / "e.drgs.csv"):
        assert p.read_bytes()[:3] == b"\xef\xbb\xbf", p
    df = pl.read_csv(out)
    assert "预计 DRG 收入(元)" in df.columns and "患者姓名" in df.columns
    assert df["出院科室"][0] == "'=心内科"                    # neutralised in a CSV


def test_bundle_workbook(bundle_world):
    from drg.estimate.bundle import open_bundle
    from drg.pricing.weights import read_weights

    b = bundle_world["bundle"]
    path = b / "病组点数表.xlsx"
    m = open_bundle(b).manifest
    assert m["files"]["workbook"]["path"] == "病组点数表.xlsx"
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["病组", "系数", "点值", "说明"]
    drg = pl.read_excel(path, sheet_name="病组")
    w = read_weights(b / "weights.parquet").table
    assert drg["DRG"].to_list() == w.column("drg").to_pylist()
    assert drg["基准点数"].to_list() == pytest.approx(w.column("base_points").to_pylist())
    col = "正常病例支付标准(元) 职工(310)"
    for bp, amount in zip(drg["基准点数"].head(20), drg[col].head(20)):
        assert round(amount * 100) == round_half_away(Fraction(Decimal(repr(bp))) * 8550)
    coef = pl.read_excel(path, sheet_name="系数")
    assert {"医院编码", "差异系数", "系数来源", "正常病例预计收入(元) 居民(390)"} <= set(coef.columns)
    pv = pl.read_excel(path, sheet_name="点值")
    assert pv["点值(元/点)"].to_list() == [85.5, 80.2]
