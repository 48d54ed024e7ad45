"""``drg estimate`` and ``drg publish`` as a user runs them: one case from flags, a JSON file or stdin, its
text output and usage errors, the one-case path's import budget; a hospital's GBK month to Excel and CSV
with JSON; a wrong column mapping named; a bundle published from flags."""

from __future__ import annotations

import json
import subprocess
from decimal import Decimal
from fractions import Fraction

import polars as pl
import pytest

from drg.estimate import CaseInput, estimate_case, open_bundle, parse_yuan
from tests.helpers.commands import PY, run
from tests.helpers.estimate_world import CASE_JSON, FLAGS, MAPPING


def test_flags_and_json_give_the_same_estimate(world, tmp_path):
    b = str(world["bundle"])
    by_flags = run(["estimate", "--bundle", b, *FLAGS, "--json"])
    assert by_flags.returncode == 0, by_flags.stderr
    f = tmp_path / "case.json"
    f.write_text(json.dumps(CASE_JSON), encoding="utf-8")
    by_file = run(["estimate", "--bundle", b, "--json-case", str(f), "--json"])
    by_stdin = run(["estimate", "--bundle", b, "--json-case", "-", "--json"], input=json.dumps(CASE_JSON))
    direct = subprocess.run([PY, "-m", "drg.cli.estimate", "--bundle", b, *FLAGS, "--json"], capture_output=True,
                            text=True)
    docs = [json.loads(x.stdout) for x in (by_flags, by_file, by_stdin, direct)]
    for d in docs[1:]:
        assert d["group"] == docs[0]["group"]
        assert d["pricing"] == docs[0]["pricing"]
        assert d["money"] == docs[0]["money"]
    d = docs[0]
    assert d["group"]["drg"].startswith("FR2")
    assert d["group"]["drg_name"]
    assert d["money"]["total_cost_fen"] == 1230050
    exact = Fraction(Decimal(d["pricing"]["points_text"])) * 8550      # points × PV (85.5 yuan) in fen
    assert d["money"]["entitlement_fen"] == int(exact + Fraction(1, 2))   # half away from zero (positive)
    assert d["money"]["fund_payment_fen"] == d["money"]["entitlement_fen"] - 280000


def test_text_output_names_every_number(world):
    r = run(["estimate", "--bundle", str(world["bundle"]), *FLAGS])
    assert r.returncode == 0, r.stderr
    for word in ("DRG", "grouping path", "CC/MCC", "base points", "coefficient", "cost ratio", "case class",
                 "points", "point value", "entitlement", "fund payment", "normal range"):
        assert word in r.stdout, word


def test_usage_error_exits_2(world):
    r = run(["estimate", "--bundle", str(world["bundle"]), "--age", "sixty"])
    assert r.returncode == 2


def test_one_case_path_imports_no_heavy_library(world):
    """numba, polars, pyarrow and duckdb take about a second to import: the one-case path must not."""
    code = (
        "import sys\n"
        "from drg.cli import app\n"
        f"args = ['estimate', '--bundle', {str(world['bundle'])!r}, *{FLAGS!r}]\n"
        "try:\n"
        "    app(args, standalone_mode=False)\n"
        "except SystemExit as e:\n"
        "    assert not e.code, e.code\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('numba', 'polars', 'pyarrow', 'duckdb'))\n"
        "print('HEAVY', heavy)\n"
    )
    r = subprocess.run([PY, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "DRG" in r.stdout
    assert "HEAVY []" in r.stdout, r.stdout[-500:]
    r = subprocess.run([PY, "-c", "import sys, drg.cli, drg.estimate.one_case, drg.estimate.bundle, drg.cli.estimate; "
                        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
                        "('numba', 'polars', 'pyarrow', 'duckdb')))"], capture_output=True, text=True)
    assert r.stdout.strip() == "[]", r.stdout


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


def test_publish_cli(world, tmp_path):
    out = tmp_path / "bundle"
    r = subprocess.run([PY, "-m", "drg.cli", "publish", "--scheme", str(world["scheme"]), "--tables",
                        str(world["tables"]), "--policy", str(world["policy"]), "--point-value", "310=85.5",
                        "--point-value", "390=80.2", "--out", str(out)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "85.5000 yuan/point" in r.stdout
    assert open_bundle(out).point_value("390").fen_per_point == 8020
    r = subprocess.run([PY, "-m", "drg.cli", "publish", "--scheme", str(world["scheme"]), "--tables",
                        str(world["tables"]), "--policy", str(world["policy"]), "--point-value", "310=x",
                        "--out", str(out)], capture_output=True, text=True)
    assert r.returncode == 1 and "310=x" in r.stderr
