"""``drg policy list|show``, ``drg weights`` and ``drg points`` as a user runs them."""

from __future__ import annotations

import json

import pyarrow.parquet as pq

from tests.helpers.grouped_cases import make_cases, make_hospitals


def test_cli_policy_list_and_show():
    from typer.testing import CliRunner

    from drg.cli import app

    r = CliRunner().invoke(app, ["policy", "list", "--json"])
    assert r.exit_code == 0 and "jinhua" in r.output
    r = CliRunner().invoke(app, ["policy", "show", "jinhua", "--json"])
    assert r.exit_code == 0
    d = json.loads(r.output)
    assert d["readmission"]["window_days"] == 10
    assert d["origins"]["readmission.window_days"]["origin"].startswith("source")
    r = CliRunner().invoke(app, ["policy", "show", "demo"])
    assert r.exit_code == 0 and "coef.blend" in r.output


def test_cli_weights_and_points(tmp_path):
    from typer.testing import CliRunner

    from drg.cli import app

    pq.write_table(make_cases(1500, seed=9), tmp_path / "h.parquet")
    pq.write_table(make_hospitals(), tmp_path / "hosp.parquet")
    pq.write_table(make_cases(300, years=(2024,), seed=10), tmp_path / "c.parquet")
    r = CliRunner().invoke(app, ["weights", "--history", str(tmp_path / "h.parquet"), "--hospitals",
                                 str(tmp_path / "hosp.parquet"), "--policy", "jinhua", "--out", str(tmp_path / "t"),
                                 "--year", "2024", "--json"])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(app, ["points", "--cases", str(tmp_path / "c.parquet"), "--tables", str(tmp_path / "t"),
                                 "--policy", "jinhua", "--out", str(tmp_path / "p.parquet"), "--json"])
    assert r.exit_code == 0, r.output
    assert pq.read_table(tmp_path / "p.parquet").num_rows == 302
