"""The settlement ledger (DuckDB): one run per period, --replace in one transaction, a run killed half-way
leaves the ledger exactly as it was, inputs hashed, prepayments and last year's point value read back."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from datetime import date
from fractions import Fraction
from pathlib import Path

import duckdb
import polars as pl
import pytest
from typer.testing import CliRunner

from drg.cli import app
from drg.errors import InputError
from drg.settlement.ledger import PAUSE_ENV, Ledger
from drg.settlement.runs import settle_month, settle_year

from test_settle_fixtures import case, write_budget, write_income, write_policy, write_priced

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture()
def city(tmp_path):
    rows = []
    n = 0
    for m in range(1, 13):
        for h, pts, ins, county in (("H1", 120.5, "310", "C1"), ("H2", 80.25, "310", "C2"),
                                    ("H1", 60.0, "390", "C2"), ("H3", 99.9999, "390", "C1")):
            n += 1
            rows.append(case(f"c{n}", h, pts, self_paid=300.0 + n, other_paid=10.0, fund_paid=9_000.0 + n * 7,
                             ins=ins, county=county, day=date(2025, m, 10)))
    for i, (h, ins) in enumerate((("H1", "310"), ("H2", "310"), ("H1", "390"), ("H3", "390"))):
        rows.append(case(f"p{i}", h, 100.0, fund_paid=50_000.0, ins=ins, day=date(2024, 5, 1)))
    priced = write_priced(tmp_path / "priced.parquet", rows)
    budget = write_budget(tmp_path / "budget.parquet", [(2024, "310", 200_000.0), (2024, "390", 150_000.0),
                                                        (2025, "310", 210_000.0), (2025, "390", 160_000.0)])
    income = write_income(tmp_path / "income.parquet", [(2025, t, c, 80_000.0, 2_000.0) for t in ("310", "390")
                                                        for c in ("C1", "C2")])
    return {"priced": priced, "budget": budget, "income": income, "policy": write_policy(tmp_path / "p.toml"),
            "ledger": tmp_path / "ledger.duckdb", "dir": tmp_path}


def _year(city, **kw):
    return settle_year(city["priced"], None, city["budget"], city["income"], city["policy"], 2025,
                       ledger=city["ledger"], **kw)


def test_period_recorded_once_and_replace(city):
    r1 = _year(city)
    with pytest.raises(InputError, match="already in the ledger"):
        _year(city)
    r2 = _year(city, replace=True)
    led = Ledger(city["ledger"])
    runs = led.runs()
    assert runs.height == 1 and runs["run_id"][0] == r2.run_id != r1.run_id
    with duckdb.connect(str(city["ledger"]), read_only=True) as con:  # plain SQL, any client
        assert con.execute("SELECT count(*) FROM hospital_results WHERE run_id = ?", [r1.run_id]).fetchone()[0] == 0
        n, total = con.execute("SELECT count(*), sum(fund_payment) FROM hospital_results").fetchone()
        assert n == r2.hospitals.height and total == sum(p.budget - p.reserve for p in r2.pools.values())
        replaced = con.execute("SELECT replaced_run FROM runs").fetchone()[0]
        assert replaced == r1.run_id


def test_inputs_hashed(city):
    r = _year(city)
    inputs = Ledger(city["ledger"]).table("run_inputs", r.run_id)
    got = {row["role"]: row["sha256"] for row in inputs.iter_rows(named=True)}
    assert got["priced"] == hashlib.sha256(city["priced"].read_bytes()).hexdigest()
    assert set(got) == {"priced", "budget", "county_income", "policy"}


def test_results_stored_exactly(city):
    r = _year(city)
    led = Ledger(city["ledger"])
    pools = led.table("pool_results", r.run_id)
    for row in pools.iter_rows(named=True):
        p = r.pools[row["pool"]]
        assert Fraction(row["point_value_exact"]) == p.point_value
        assert row["distributable_fen"] == p.distributable
    assert led.point_values(2025) == {k: p.point_value for k, p in r.pools.items()}
    h = led.table("hospital_results", r.run_id).sort(["pool", "hospital_id"])
    assert h["entitlement"].to_list() == r.hospitals.sort(["pool", "hospital_id"])["entitlement"].to_list()
    w = led.table("warnings", r.run_id)
    assert w.height == len(r.warnings)


def test_annual_takes_prepayments_from_monthly_runs(city):
    paid = {}
    for m in range(1, 13):
        mr = settle_month(city["priced"], None, city["budget"], None, city["policy"], f"2025-{m:02d}",
                          ledger=city["ledger"])
        for row in mr.hospitals.iter_rows(named=True):
            key = (row["pool"], row["hospital_id"])
            paid[key] = paid.get(key, 0) + row["prepaid"]
    r = _year(city)
    assert r.prepaid_source == "ledger"
    for row in r.hospitals.iter_rows(named=True):
        assert row["prepaid"] == paid[(row["pool"], row["hospital_id"])]
        assert row["prepaid"] + row["balance"] == row["fund_payment"]
    assert Ledger(city["ledger"]).runs().height == 13


def test_missing_months_warned(city):
    settle_month(city["priced"], None, city["budget"], None, city["policy"], "2025-01", ledger=city["ledger"])
    r = _year(city)
    assert any(w.kind == "months_missing" and "2, 3" in w.message for w in r.warnings)


def test_last_year_point_value_from_the_ledger(city):
    r24 = settle_year(city["priced"], None, city["budget"], None, city["policy"], 2024, ledger=city["ledger"],
                      prepaid="none")
    pol = write_policy(city["dir"] / "last.toml", provisional="last_year", factor="0.95")
    m = settle_month(city["priced"], None, city["budget"], None, pol, "2025-02", ledger=city["ledger"])
    for pool, p in m.pools.items():
        assert p.point_value == r24.pools[pool].point_value * Fraction(95, 100)


def test_budget_growth_from_last_years_run(city, tmp_path):
    r24 = settle_year(city["priced"], None, city["budget"], None, city["policy"], 2024, ledger=city["ledger"],
                      prepaid="none")
    only24 = write_budget(tmp_path / "b24.parquet", [(2024, "310", 200_000.0), (2024, "390", 150_000.0)])
    pol = write_policy(tmp_path / "g.toml", growth="0.075")
    r = settle_year(city["priced"], None, only24, None, pol, 2025, ledger=city["ledger"], prepaid="none")
    for pool, p in r.pools.items():
        last = r24.pools[pool].fund_payments
        assert p.budget == (last * 1075 + 500) // 1000


def _run_killed(city, *, replace: bool):
    code = ("import sys; from drg.settlement.runs import settle_year; "
            f"settle_year({str(city['priced'])!r}, None, {str(city['budget'])!r}, {str(city['income'])!r}, "
            f"{str(city['policy'])!r}, 2025, ledger={str(city['ledger'])!r}, replace={replace})")
    env = dict(os.environ, **{PAUSE_ENV: "60"})
    proc = subprocess.Popen([sys.executable, "-c", code], env=env, stderr=subprocess.PIPE, text=True, cwd=REPO)
    try:
        deadline = time.monotonic() + 60
        line = ""
        while "pausing" not in line:
            line = proc.stderr.readline()
            assert line or proc.poll() is None, "child ended before reaching the transaction"
            assert time.monotonic() < deadline
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL


def _snapshot(path):
    with duckdb.connect(str(path), read_only=True) as con:
        return {t: sorted(con.execute(f"SELECT * FROM {t}").fetchall(), key=repr)
                for t in ("runs", "run_inputs", "pool_results", "hospital_results", "county_results", "warnings")}


def test_killed_replace_leaves_ledger_exactly_as_it_was(city):
    _year(city)
    before = _snapshot(city["ledger"])
    _run_killed(city, replace=True)
    assert _snapshot(city["ledger"]) == before


def test_killed_first_run_leaves_no_trace(city):
    settle_month(city["priced"], None, city["budget"], None, city["policy"], "2025-01", ledger=city["ledger"])
    before = _snapshot(city["ledger"])
    _run_killed(city, replace=False)
    assert _snapshot(city["ledger"]) == before
    assert not Ledger(city["ledger"]).has_run("year", "2025")


def test_cli_settle_and_ledger_show(city, tmp_path):
    runner = CliRunner()
    args = ["--priced", str(city["priced"]), "--budget", str(city["budget"]), "--policy", str(city["policy"]),
            "--ledger", str(city["ledger"])]
    res = runner.invoke(app, ["settle", "month", "--period", "2025-03", *args, "--out", str(tmp_path / "m")])
    assert res.exit_code == 0, res.output
    assert "point value" in res.output
    res = runner.invoke(app, ["settle", "year", "--year", "2025", *args, "--county-income", str(city["income"]),
                              "--out", str(tmp_path / "y"), "--json"])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "y" / "hospitals.parquet").exists() and (tmp_path / "y" / "counties.parquet").exists()
    h = pl.read_parquet(tmp_path / "y" / "hospitals.parquet")
    assert {"pool", "hospital_id", "points", "entitlement", "self_paid", "fund_payment", "prepaid", "balance",
            "reserve_share", "point_value"} <= set(h.columns)
    c = pl.read_parquet(tmp_path / "y" / "counties.parquet")
    assert {"income", "drg_spending", "other_spending", "balance", "city_share", "county_share"} <= set(c.columns)
    res = runner.invoke(app, ["settle", "year", "--year", "2025", *args])
    assert res.exit_code != 0 and "already in the ledger" in str(res.exception or res.output)
    res = runner.invoke(app, ["ledger", "show", "--ledger", str(city["ledger"]), "--json"])
    assert res.exit_code == 0, res.output
    assert '"period": "2025-03"' in res.output and '"period": "2025"' in res.output
    res = runner.invoke(app, ["ledger", "show", "--ledger", str(city["ledger"])])
    assert res.exit_code == 0, res.output


def test_settle_months_equals_single_months(city, tmp_path):
    from drg.settlement.runs import settle_months

    many = settle_months(city["priced"], None, city["budget"], None, city["policy"], 2025, months=[1, 2, 3],
                         ledger=city["ledger"], out=tmp_path / "months")
    assert [r.period for r in many] == ["2025-01", "2025-02", "2025-03"]
    assert (tmp_path / "months" / "2025-02" / "hospitals.parquet").exists()
    for r in many:
        one = settle_month(city["priced"], None, city["budget"], None, city["policy"], r.period)
        assert one.hospitals.drop("name").equals(r.hospitals.drop("name"))
        assert {k: p.point_value for k, p in one.pools.items()} == {k: p.point_value for k, p in r.pools.items()}
    with pytest.raises(InputError, match="2025-02 is already in the ledger"):
        settle_months(city["priced"], None, city["budget"], None, city["policy"], 2025, months=[4, 2],
                      ledger=city["ledger"])
    assert Ledger(city["ledger"]).runs().height == 3


def test_cli_month_range(city, tmp_path):
    runner = CliRunner()
    res = runner.invoke(app, ["settle", "month", "--period", "2025-01:2025-12", "--priced", str(city["priced"]),
                              "--budget", str(city["budget"]), "--policy", str(city["policy"]),
                              "--ledger", str(city["ledger"]), "--out", str(tmp_path / "m")])
    assert res.exit_code == 0, res.output
    assert Ledger(city["ledger"]).runs().height == 12
    assert (tmp_path / "m" / "2025-12" / "hospitals.parquet").exists()
    r = _year(city)
    assert r.prepaid_source == "ledger" and not any(w.kind == "months_missing" for w in r.warnings)
    res = runner.invoke(app, ["settle", "month", "--period", "2025-05:2025-02", "--priced", str(city["priced"]),
                              "--budget", str(city["budget"]), "--policy", str(city["policy"])])
    assert res.exit_code != 0
