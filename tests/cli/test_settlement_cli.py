"""``drg settle month|year`` and ``drg ledger show`` as a user runs them, on the priced city of the ledger
tests."""

from __future__ import annotations

import polars as pl
from typer.testing import CliRunner

from drg.cli import app
from drg.settlement import Ledger, settle_year


def _year(city, **kw):
    return settle_year(city["priced"], None, city["budget"], city["income"], city["policy"], 2025,
                       ledger=city["ledger"], **kw)


def test_cli_settle_and_ledger_show(priced_city, tmp_path):
    city = priced_city
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


def test_cli_month_range(priced_city, tmp_path):
    city = priced_city
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
