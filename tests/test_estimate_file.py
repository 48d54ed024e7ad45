"""``drg estimate --cases``: a hospital's month from a GBK CSV with Chinese headers to an Excel estimate."""

from __future__ import annotations

import json
import subprocess
import sys

import polars as pl
import pytest

from drg.estimate.bundle import open_bundle
from drg.estimate.one_case import CaseInput, estimate_case, parse_yuan
from drg.estimate.month import estimate_file
from test_estimate_fixtures import MAPPING, write_his_csv, world  # noqa: F401 - the session fixture

PY = sys.executable
BAD_ROW = ["BAD1", "P1", "H0004", "男", "sixty", "", "", "3", "", "I50.908", "", "", "2025-01-01", "2025-01-04",
           "100.00", "50.00", "50.00", "0", "职工基本医疗保险", ""]


@pytest.fixture(scope="module")
def his_csv(world, tmp_path_factory):
    rows = [r for r in world["month"].to_pylist() if r["hospital_id"] == "H0004"
            and not (r["age"] == 0 and r["age_days"] is None)][:150]
    path = tmp_path_factory.mktemp("his") / "出院结算清单-2025.csv"
    write_his_csv(rows, path, extra_rows=[BAD_ROW])
    return path, rows


def test_generator_writes_gbk_with_chinese_headers(his_csv):
    path, _ = his_csv
    raw = path.read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    assert raw.decode("gbk").startswith("结算清单号,医保个人编号")


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


def test_summary_adds_up(world, his_csv):
    path, rows = his_csv
    res = estimate_file(open_bundle(world["bundle"]), path, mapping=MAPPING)
    s = res["summary"]
    t = res["cases"]
    assert s["rows_read"] == s["cases"] + s["rejected"]
    assert s["cases"] == t.num_rows == len(rows)
    assert sum(s["by_class"].values()) == s["cases"]
    assert s["outliers"] == s["by_class"].get("high", 0) + s["by_class"].get("low", 0)
    assert s["cost_fen"] == sum(parse_yuan(r["total_cost"]) for r in rows)
    assert sum(p["cases"] for p in s["pools"]) == s["cases"]
    assert s["income_fen"] == sum(p["income_fen"] for p in s["pools"])
    # the pool income is round(Σ points × PV); the sum of the per-case roundings is within half a fen a case
    per_case = sum(t.column("entitlement_fen").to_pylist())  # integer fen in the machine table
    assert abs(per_case - s["income_fen"]) <= s["cases"] / 2
    bp = [x for x in t.column("base_points").to_pylist() if x is not None]
    assert s["cmi"] == pytest.approx(sum(bp) / len(bp) / 100, abs=1e-4)
    assert s["top_drgs"][0]["cases"] >= s["top_drgs"][-1]["cases"]


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


def test_parquet_input_without_hospital_column_uses_flags(world, tmp_path):
    t = world["month"].slice(0, 60).drop_columns(["hospital_id", "insurance_type"])
    import pyarrow.parquet as pq

    p = tmp_path / "month.parquet"
    pq.write_table(t, p)
    res = estimate_file(open_bundle(world["bundle"]), p, hospital_id="H0002", insurance_type="390",
                        engine="python")
    c = res["cases"]
    assert set(c.column("hospital_id").to_pylist()) == {"H0002"}
    assert set(c.column("point_value").to_pylist()) == {80.2}


def test_mapping_with_a_wrong_header_names_it(world, his_csv, tmp_path):
    path, _ = his_csv
    bad = tmp_path / "map.toml"
    bad.write_text(MAPPING.read_text(encoding="utf-8").replace('"住院天数"', '"实际住院天数"'), encoding="utf-8")
    r = subprocess.run([PY, "-m", "drg.cli", "estimate", "--bundle", str(world["bundle"]), "--cases", str(path),
                        "--columns", str(bad)], capture_output=True, text=True)
    assert r.returncode == 1
    assert "实际住院天数" in r.stderr


def test_unknown_codes_in_a_file_are_noted_with_suggestions(world, tmp_path):
    rows = [r for r in world["month"].to_pylist() if r["age"] > 0][:5]
    rows[0] = dict(rows[0], dx=["I21.000"] + rows[0]["dx"][1:])
    p = write_his_csv(rows, tmp_path / "m.csv")
    res = estimate_file(open_bundle(world["bundle"]), p, mapping=MAPPING, engine="python")
    assert "dx I21.000" in res["summary"]["unknown_codes"]
    assert "I21.900" in res["summary"]["unknown_codes"]["dx I21.000"]
    note = res["cases"].column("group_note").to_pylist()[0]
    assert "I21.000" in note and "I21.900" in note
