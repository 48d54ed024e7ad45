"""One CLI convention: every command on typer, ``-h`` and ``--help`` everywhere, ``drg --version``, usage errors exit
2, ``--period`` read one way, a scheme as a compiled file or a rule-table directory, ``--json`` on every command
that prints a result, help texts that stand alone, commands in the order of the job; ``drg ledger show`` in yuan."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from drg.cli import COMMAND_ORDER, app

from .conftest import MAPPING, settle_args

runner = CliRunner()
PY = sys.executable


def _commands(group=None, prefix=()):
    """Every command path of the drg app, groups included."""
    import typer.main

    group = group or typer.main.get_command(app)
    out = []
    for name in group.list_commands(None):
        cmd = group.get_command(None, name)
        out.append(prefix + (name,))
        if hasattr(cmd, "list_commands"):
            out += _commands(cmd, prefix + (name,))
    return out


def test_every_command_is_a_typer_command_listed_in_job_order():
    import typer.main

    group = typer.main.get_command(app)
    names = group.list_commands(None)
    assert "estimate" in names
    known = [n for n in COMMAND_ORDER if n in names]
    assert names[:len(known)] == known
    assert known == ["synth", "check", "scheme", "group", "explain", "policy", "weights", "points", "settle",
                     "monitor", "audit", "ledger", "publish", "estimate", "demo"]


def test_help_everywhere_stands_alone():
    for path in [()] + _commands():
        for flag in ("-h", "--help"):
            r = runner.invoke(app, [*path, flag])
            assert r.exit_code == 0, (path, flag, r.output)
            assert "Usage: drg" in r.output
            for bad in ("SPEC", "``", "[bold", "<bool>", "§"):
                assert bad not in r.output, (path, bad)


def test_version():
    import drg

    r = subprocess.run([PY, "-m", "drg.cli", "--version"], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.strip() == f"drg {drg.__version__}"


@pytest.mark.parametrize("args", [
    ["settle", "month", "--period", "2025-13", "--priced", "x", "--policy", "demo"],
    ["settle", "year", "--period", "2025-03", "--priced", "x", "--policy", "demo"],
    ["publish", "--scheme", "x", "--tables", "x", "--policy", "demo", "--out", "x", "--ledger", "l", "--period", "25"],
    ["ledger", "show", "--ledger", "x", "--period", "2025-Q5"],
    ["estimate", "--bundle", "x", "--dx", "A00", "--sex", "x"],
    ["explain", "--scheme", "x", "--dx", "A00", "--sex", "3"],
    ["estimate", "--bundle", "x", "--age", "sixty"],
    ["check", "--no-such-option", "x"],
])
def test_usage_errors_exit_2(args):
    r = subprocess.run([PY, "-m", "drg.cli", *args], capture_output=True, text=True)
    assert r.returncode == 2, (args, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr


def test_period_is_read_one_way(city, bundle_world, tmp_path):
    ledger = tmp_path / "l.duckdb"
    r = runner.invoke(app, ["settle", "month", "--period", "2025-3", *settle_args(city, ledger), "--no-statements",
                            "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["period"] == "2025-03"
    r = runner.invoke(app, ["settle", "month", "--period", "2025-Q1", *settle_args(city, ledger), "--no-statements",
                            "--replace", "--json"])
    assert r.exit_code == 0, r.output
    assert [x["period"] for x in json.loads(r.output)] == ["2025-01", "2025-02", "2025-03"]
    w = bundle_world
    r = runner.invoke(app, ["publish", "--scheme", str(w["scheme"]), "--tables", str(w["tables"]), "--policy", "demo",
                            "--ledger", str(ledger), "--period", "2025-3", "--out", str(tmp_path / "b"), "--json"])
    assert r.exit_code == 0, r.output
    assert "month run 2025-03" in json.loads(r.output)["point_values"]["310"]["source"]
    shown = json.loads(runner.invoke(app, ["ledger", "show", "--ledger", str(ledger), "--period", "2025-Q1",
                                           "--json"]).output)
    assert [x["period"] for x in shown] == ["2025-01", "2025-02", "2025-03"]


def test_scheme_as_compiled_file_or_rule_table_directory(bundle_world, tmp_path):
    w = bundle_world
    dx = "I50.908"
    by_file = runner.invoke(app, ["explain", "--scheme", str(w["scheme"]), "--dx", dx, "--age", "60", "--sex", "女",
                                  "--json"])
    by_dir = runner.invoke(app, ["explain", "--scheme", str(w["rules"]), "--codes", str(w["codes"]), "--dx", dx,
                                 "--age", "60", "--sex", "2", "--json"])
    assert by_file.exit_code == 0 and by_dir.exit_code == 0, by_file.output + by_dir.output
    assert json.loads(by_file.output)["drg"] == json.loads(by_dir.output)["drg"]
    r = runner.invoke(app, ["synth", "--scheme", str(w["scheme"]), "--out", str(tmp_path / "s"), "--cases", "300",
                            "--years", "2025", "--quiet", "--json"])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "s" / "cases-2025.parquet").exists()
    r = runner.invoke(app, ["scheme", "show", str(w["scheme"])])
    assert r.exit_code == 0 and "source files" in r.output and re.search(r"[0-9a-f]{64}  1_MDC.txt", r.output)
    r = runner.invoke(app, ["group", "--scheme", str(w["rules"]), "--codes", str(w["codes"]), "--cases",
                            str(w["cases"][2025]), "--out", str(tmp_path / "g.parquet"), "--quiet", "--json"])
    assert r.exit_code == 0, r.output


def test_json_on_every_command_that_prints_a_result(bundle_world, settled, tmp_path):
    w = bundle_world
    calls = {
        "policy list": ["policy", "list"],
        "policy show": ["policy", "show", "demo"],
        "scheme show": ["scheme", "show", str(w["scheme"])],
        "check": ["check", str(w["his"]), "--columns", str(MAPPING)],
        "explain": ["explain", "--scheme", str(w["scheme"]), "--dx", "I50.908", "--age", "60"],
        "estimate": ["estimate", "--bundle", str(w["bundle"]), "--dx", "I50.908", "--age", "60", "--sex", "男",
                     "--los", "5", "--cost", "9000"],
        "ledger show": ["ledger", "show", "--ledger", str(settled["ledger"])],
        "ledger show --run": ["ledger", "show", "--ledger", str(settled["ledger"]), "--run", settled["run_id"]],
    }
    for what, args in calls.items():
        r = runner.invoke(app, [*args, "--json"])
        assert r.exit_code == 0, (what, r.output)
        json.loads(r.output)
    # the commands that write files take --json too (tried in the other tests): every command with output
    import typer.main

    group = typer.main.get_command(app)
    for path in _commands():
        cmd = group
        for p in path:
            cmd = cmd.get_command(None, p)
        if hasattr(cmd, "list_commands"):
            continue
        assert any("--json" in p.opts for p in cmd.params), path


def test_ledger_show_in_yuan(settled):
    r = runner.invoke(app, ["ledger", "show", "--ledger", str(settled["ledger"]), "--run", settled["run_id"]])
    assert r.exit_code == 0, r.output
    assert "(yuan)" in r.output and "decimal[" not in r.output
    assert not re.search(r"\d{5,}/\d{3,}", r.output)       # no exact fractions
    assert re.search(r"\d{1,3}(,\d{3})*\.\d{2}\b", r.output)
    doc = json.loads(runner.invoke(app, ["ledger", "show", "--ledger", str(settled["ledger"]), "--run",
                                         settled["run_id"], "--json"]).output)
    h = doc["hospitals"][0]
    assert re.fullmatch(r"-?\d+\.\d{2}", h["fund_payment_yuan"])
    r = runner.invoke(app, ["ledger", "show", "--ledger", str(settled["ledger"])])
    assert "PV 310" in r.output and "annual" in r.output


def test_one_case_estimate_imports_no_pydantic(bundle_world):
    """typer converts options with pydantic (0.15–0.2 s to import); the one-case path converts its plain options
    itself (drg.cli.options.install_light_coercion)."""
    code = ("import sys\nfrom drg.cli import app\n"
            f"app(['estimate', '--bundle', {str(bundle_world['bundle'])!r}, '--dx', 'I50.908', '--age', '66', "
            "'--sex', '1', '--los', '9', '--cost', '12300.50', '--insurance', '310'], standalone_mode=False)\n"
            "print('LOADED', sorted(m for m in sys.modules if m.split('.')[0] in "
            "('pydantic', 'numba', 'polars', 'pyarrow', 'duckdb')))\n")
    r = subprocess.run([PY, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "LOADED []" in r.stdout


def test_a_bounded_number_option_is_converted_without_pydantic(tmp_path):
    """``--workers`` (every batch command's, ``min=1``) is converted by the light coercion too: a batch command
    imports no pydantic, and a value below the bound or not a number is still a usage error (exit 2)."""
    code = ("import sys\nfrom drg.cli import app\n"
            "try:\n"
            f"    app(['weights', '--history', {str(tmp_path / 'none.parquet')!r}, '--hospitals', 'h.parquet', "
            f"'--policy', 'demo', '--out', {str(tmp_path / 't')!r}, '--workers', '3'], standalone_mode=False)\n"
            "except Exception as exc:\n"
            "    print('ERROR', type(exc).__name__)\n"
            "print('LOADED', sorted(m for m in sys.modules if m.split('.')[0] == 'pydantic'))\n")
    r = subprocess.run([PY, "-c", code], capture_output=True, text=True)
    assert "ERROR InputError" in r.stdout and "LOADED []" in r.stdout, r.stdout + r.stderr
    for value, words in (("0", "greater than or equal to 1"), ("abc", "not a valid integer")):
        r = subprocess.run([PY, "-m", "drg.cli", "weights", "--history", "x.parquet", "--hospitals", "h",
                            "--policy", "demo", "--out", str(tmp_path / "t"), "--workers", value],
                           capture_output=True, text=True)
        assert r.returncode == 2 and words in r.stderr and "--workers" in r.stderr
