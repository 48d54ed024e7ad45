"""``drg estimate`` for one case and ``drg publish`` as a user runs them: one case from flags, a JSON file or
stdin, its text output and usage errors, the one-case path's import budget; a bundle published from flags
(a hospital's month, ``drg estimate --cases``, is in test_estimate_month_cli.py)."""

from __future__ import annotations

import json
import subprocess
from decimal import Decimal
from fractions import Fraction

from drg.estimate import open_bundle
from tests.helpers.commands import PY, run
from tests.helpers.estimate_world import CASE_JSON, FLAGS


def test_flags_and_json_give_the_same_estimate(world, tmp_path):
    b = str(world["bundle"])
    by_flags = run(["estimate", "--bundle", b, *FLAGS, "--json"])
    assert by_flags.returncode == 0, by_flags.stderr
    f = tmp_path / "case.json"
    f.write_text(json.dumps(CASE_JSON), encoding="utf-8")
    by_file = run(["estimate", "--bundle", b, "--json-case", str(f), "--json"])
    by_stdin = run(["estimate", "--bundle", b, "--json-case", "-", "--json"], input=json.dumps(CASE_JSON))
    docs = [json.loads(x.stdout) for x in (by_flags, by_file, by_stdin)]
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
