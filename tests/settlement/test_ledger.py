"""The settlement ledger (DuckDB): one run per period, --replace in one transaction, a run killed half-way
leaves the ledger exactly as it was, inputs hashed, prepayments and last year's point value read back (the
commands are in tests/cli/test_settlement_cli.py)."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from fractions import Fraction

import duckdb
import pytest

from drg.errors import InputError
from drg.settlement import Ledger, PAUSE_ENV, settle_month, settle_year
from tests.helpers.paths import REPO
from tests.helpers.priced_cases import write_budget, write_policy


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


def test_settle_months_equals_single_months(city, tmp_path):
    from drg.settlement import settle_months

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
