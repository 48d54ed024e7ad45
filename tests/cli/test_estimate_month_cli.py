"""``drg estimate --cases``: a hospital's month from a GBK CSV with Chinese headers to an Excel estimate, CSV
and JSON outputs, a wrong column mapping named."""

from __future__ import annotations

import json
import subprocess

import polars as pl
import pytest

from drg.estimate import CaseInput, estimate_case, open_bundle, parse_yuan
from tests.helpers.commands import PY
from tests.helpers.estimate_world import MAPPING


def test_gbk_csv_to_excel_in_one_command(world, his_csv, tmp_path):
    path, rows = his_csv
    out, rej = tmp_path / "estimate.xlsx", tmp_path / "rejects.csv"
    r = subprocess.run([PY, "-m", "drg.cli", "estimate", "--bundle", str(world["bundle"]), "--cases", str(path),
                        "--columns", str(MAPPING), "--out", str(out), "--rejects", str(rej)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "estimated income" in r.stdout
    # read the Excel back: numbers are numbers, headers are the documented Chinese labels
    import openpyxl

    wb = openpyxl.load_workbook(out, read_only=True)
    assert wb.sheetnames == ["汇总", "明细", "病组", "拒收", "说明"]
    items = {r[0]: r[1] for r in wb["汇总"].iter_rows(values_only=True) if r[0]}
    cases = pl.read_excel(out, sheet_name="明细")
    drgs = pl.read_excel(out, sheet_name="病组").filter(pl.col("DRG") != "合计")
    rejected = pl.read_excel(out, sheet_name="拒收")
    assert cases.height == len(rows)
    assert rejected.height == 1 and rejected["拒收原因"][0] == "格式错误 (wrong_type)"
    rej_csv = pl.read_csv(rej)
    assert rej_csv.height == 1 and rej_csv["case_id"][0] == "BAD1"
    assert items["病例数"] == len(rows)
    assert items["拒收行数"] == 1
    assert items["读入行数"] == len(rows) + 1
    assert drgs["病例数"].sum() == len(rows)
    # every case's money is exact: the income column (yuan) is the one-case path's entitlement in fen / 100
    # for a case without readmission
    cases = cases.rename({"结算清单号": "case_id", "DRG": "drg", "预计 DRG 收入(元)": "income", "调整原因": "adjust_reason",
                          "病例点数": "points", "病例类型": "case_class"})
    b = open_bundle(world["bundle"])
    by_id = {r["case_id"]: r for r in rows}
    checked = 0
    for rec in cases.filter(pl.col("adjust_reason").fill_null("") == "").head(40).iter_rows(named=True):
        src = by_id[rec["case_id"]]
        est = estimate_case(b, CaseInput(dx=src["dx"], px=src["px"] or [], sex=src["sex"], age=src["age"],
                                         age_days=src["age_days"], birth_weight=src["birth_weight"],
                                         los=src["los"], vent_hours=src["vent_hours"],
                                         total_cost_fen=parse_yuan(src["total_cost"]),
                                         hospital_id=src["hospital_id"], insurance_type=src["insurance_type"]),
                            allow_unknown=True)
        assert est["group"]["drg"] == rec["drg"]
        assert est["pricing"]["case_class_zh"].startswith(rec["case_class"][:2])
        assert est["pricing"]["points"] == pytest.approx(rec["points"], abs=1e-9)
        assert est["money"]["entitlement_fen"] == round(rec["income"] * 100)
        checked += 1
    assert checked >= 20


def test_csv_output_and_json(world, his_csv, tmp_path):
    path, rows = his_csv
    out = tmp_path / "est.csv"
    r = subprocess.run([PY, "-m", "drg.cli", "estimate", "--bundle", str(world["bundle"]), "--cases", str(path),
                        "--columns", str(MAPPING), "--out", str(out), "--json"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["summary"]["cases"] == len(rows)
    assert pl.read_csv(out).height == len(rows)
    assert (tmp_path / "est.summary.csv").exists() and (tmp_path / "est.drgs.csv").exists()


def test_mapping_with_a_wrong_header_names_it(world, his_csv, tmp_path):
    path, _ = his_csv
    bad = tmp_path / "map.toml"
    bad.write_text(MAPPING.read_text(encoding="utf-8").replace('"住院天数"', '"实际住院天数"'), encoding="utf-8")
    r = subprocess.run([PY, "-m", "drg.cli", "estimate", "--bundle", str(world["bundle"]), "--cases", str(path),
                        "--columns", str(bad)], capture_output=True, text=True)
    assert r.returncode == 1
    assert "实际住院天数" in r.stderr
