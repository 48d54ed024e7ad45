"""``drg audit`` and ``drg synth --plant`` on the command line: help, JSON, exit codes (2 usage, 1 input naming
the file, row or field)."""

from __future__ import annotations

import json

import polars as pl
from typer.testing import CliRunner

from drg.cli import app


def _invoke(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def test_help_lists_the_commands():
    r = _invoke("audit", "-h")
    assert r.exit_code == 0
    for cmd in ("run", "apply", "measure"):
        assert cmd in r.output
    assert _invoke("audit", "run", "-h").exit_code == 0
    assert "--plant" in _invoke("synth", "-h").output


def test_usage_errors_exit_2(planted):
    assert _invoke("audit", "run", "--policy", "demo", "--out", "q.parquet").exit_code == 2      # no --priced
    assert _invoke("audit", "apply", "--out", "v.parquet", "--policy", "demo").exit_code == 2     # no QUEUE
    r = _invoke("audit", "run", "--priced", planted.priced[2025], "--policy", "demo", "--out", "q.parquet",
                "--period", "2025-13")
    assert r.exit_code == 2


def _main(monkeypatch, capsys, *args) -> tuple[int, str]:
    """The console script in this process (its exit code and standard error, spaces normalised)."""
    import sys

    import pytest

    from drg.cli import main

    monkeypatch.setattr(sys, "argv", ["drg", *map(str, args)])
    monkeypatch.setenv("COLUMNS", "200")
    with pytest.raises(SystemExit) as exc:
        main()
    return exc.value.code, " ".join(capsys.readouterr().err.split())


def test_input_errors_exit_1_naming_the_file(planted, tmp_path, monkeypatch, capsys):
    missing = tmp_path / "missing.parquet"
    code, err = _main(monkeypatch, capsys, "audit", "run", "--priced", missing, "--policy", "demo",
                      "--out", tmp_path / "q.parquet")
    assert code == 1 and "missing.parquet" in err
    bad = tmp_path / "decided.csv"
    bad.write_text("queue_ref,case_id,detector,suggested_violation,decision\nQ-1,c1,upcoding,upcoding,违规\n"
                   "Q-2,c2,upcoding,upcoding,perhaps\n", encoding="utf-8")
    code, err = _main(monkeypatch, capsys, "audit", "apply", bad, "--out", tmp_path / "v.csv", "--policy", "demo")
    assert code == 1 and "decided.csv" in err and "row 2" in err and "decision" in err
    assert not (tmp_path / "v.csv").exists()
    code, err = _main(monkeypatch, capsys, "audit", "run", "--priced", planted.priced[2025], "--policy", "demo",
                      "--out", tmp_path / "q.parquet", "--ledger", tmp_path / "no-ledger.duckdb")
    assert code == 1 and "no-ledger.duckdb" in err


def test_run_apply_measure_json(planted, tmp_path):
    q = tmp_path / "q.parquet"
    r = _invoke("audit", "run", "--priced", planted.priced[2025], "--history", planted.priced[2024], "--policy", "demo",
                "--out", q, "--hospitals", planted.hospitals, "--period", "2025-Q3", "--no-workbook", "--json")
    assert r.exit_code == 0, r.output
    s = json.loads(r.output)
    assert s["period"] == "2025-Q3" and set(s["by_detector"]) == {"split_admission", "low_standard", "upcoding",
                                                                  "duplicate_claim", "cost_shift"}
    queue = pl.read_parquet(q)
    assert queue["discharge_date"].dt.month().is_between(7, 9).all()
    assert not q.with_suffix(".xlsx").exists()
    r = _invoke("audit", "measure", q, "--truth", planted.truth, "--priced", planted.priced[2025], "--json")
    assert r.exit_code == 0, r.output
    m = json.loads(r.output)
    assert m["duplicate_claim"]["flagged"] == queue.filter(pl.col("detector") == "duplicate_claim").height
    r = _invoke("audit", "run", "--priced", planted.priced[2025], "--policy", "demo", "--out", tmp_path / "q2.parquet")
    assert r.exit_code == 0 and "queue" in r.output and "分解住院" in r.output
    r = _invoke("audit", "apply", q, "--out", tmp_path / "v.parquet", "--policy", "demo")
    assert r.exit_code == 0 and "0 violation(s) written" in r.output


def test_synth_plant_writes_the_truth(tmp_path):
    r = _invoke("synth", "--out", tmp_path, "--cases", "6000", "--years", "2024-2025", "--plant", "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    truth = pl.read_parquet(out["truth"])
    assert truth.height and set(truth["year"]) == {2025}
