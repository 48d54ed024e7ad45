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
    # read the Excel back
    summary = pl.read_excel(out, sheet_name="汇总")
    cases = pl.read_excel(out, sheet_name="明细")
    drgs = pl.read_excel(out, sheet_name="病组")
    rejected = pl.read_excel(out, sheet_name="拒收")
    assert cases.height == len(rows)
    assert rejected.height == 1 and rejected["reject_reason"][0] == "wrong_type"
    rej_csv = pl.read_csv(rej)
    assert rej_csv.height == 1 and rej_csv["case_id"][0] == "BAD1"
    items = dict(zip(summary["项目 item"], summary["值 value"]))
    assert items["病例数 cases"] == str(len(rows))
    assert items["拒收行数 rejected rows"] == "1"
    assert items["读入行数 rows read"] == str(len(rows) + 1)
    assert drgs["cases"].sum() == len(rows)
    # every case's money is exact: entitlement column (yuan) = entitlement_fen / 100, and the one-case path
    # gives the same numbers for a case without readmission
    assert (cases["entitlement"] * 100).round(0).cast(pl.Int64).to_list() == cases["entitlement_fen"].to_list()
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
        assert est["pricing"]["case_class"] == rec["case_class"]
        assert est["pricing"]["points"] == pytest.approx(rec["points"], abs=1e-9)
        assert est["money"]["entitlement_fen"] == rec["entitlement_fen"]
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
