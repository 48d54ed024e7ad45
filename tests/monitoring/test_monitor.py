"""``drg monitor`` and what it rests on: the sums a settlement run keeps, the ledger tables, the warnings and
their severities, the low-risk rule, the command line."""

from __future__ import annotations

import json
from decimal import Decimal
from fractions import Fraction

import duckdb
import pytest
from typer.testing import CliRunner

from drg.cli import app


# ------------------------------------------------------------------------------------------------ the ledger
def test_each_month_is_read_from_the_latest_run_that_covers_it(demo_world):
    """Months are kept by their monthly run and again by the annual run; monitoring reads the latest."""
    con = duckdb.connect(str(demo_world["ledger"]), read_only=True)
    per_run = dict(con.execute("""SELECT r.period, count(DISTINCT f.month) FROM monitor_facts f JOIN runs r
                                  USING (run_id) WHERE r.year = 2025 GROUP BY ALL""").fetchall())
    cases = con.execute("""SELECT sum(cases) FROM monitor_facts f JOIN runs r USING (run_id)
                           WHERE r.kind = 'year' AND r.year = 2025""").fetchone()[0]
    con.close()
    assert per_run["2025"] == 12 and all(per_run[f"2025-{m:02d}"] == 1 for m in range(1, 13))
    from drg.monitoring.store import read_facts
    from drg.settlement.ledger import Ledger

    facts = read_facts(Ledger(demo_world["ledger"]), 2025)
    assert int(facts["cases"].sum()) == cases == demo_world["summary"]["annual"]["pools"]["310"]["cases"] + \
        demo_world["summary"]["annual"]["pools"]["390"]["cases"]


def test_a_replaced_run_takes_its_sums_with_it(demo_world, tmp_path):
    from drg.settlement.runs import settle_month

    city = demo_world["out"] / "city"
    led = tmp_path / "l.duckdb"
    for _ in range(2):
        settle_month(demo_world["priced"][2025], city / "hospitals.parquet", city / "budget.parquet",
                     city / "county_income.parquet", "demo", "2025-03", ledger=led, replace=True)
    con = duckdb.connect(str(led), read_only=True)
    runs = con.execute("SELECT count(DISTINCT run_id) FROM monitor_facts").fetchone()[0]
    months = con.execute("SELECT DISTINCT month FROM monitor_facts").fetchall()
    income = con.execute("SELECT count(DISTINCT run_id) FROM monitor_county_income").fetchone()[0]
    hospitals = con.execute("SELECT count(DISTINCT run_id) FROM monitor_hospitals").fetchone()[0]
    con.close()
    assert runs == income == hospitals == 1 and months == [(3,)]


def test_monitor_stores_its_tables_in_the_ledger_and_as_parquet(demo_world, tmp_path):
    import polars as pl

    from drg.monitoring.monitor import monitor_period

    res = monitor_period(demo_world["ledger"], "2025-Q4", out=tmp_path, report=False)
    again = monitor_period(demo_world["ledger"], "2025-Q4", report=False)
    con = duckdb.connect(str(demo_world["ledger"]), read_only=True)
    stored = con.execute("SELECT count(*) FROM monitor_indicators WHERE period = '2025-Q4'").fetchone()[0]
    warn = con.execute("SELECT count(*) FROM monitor_warnings WHERE period = '2025-Q4'").fetchone()[0]
    con.close()
    assert stored == res.indicators.height == again.indicators.height      # replaced, not added
    assert warn == len(res.warnings)
    ind = pl.read_parquet(res.files["indicators"])
    assert set(ind["scope"]) == {"period", "ytd"} and set(ind["span"]) == {"2025-Q4", "2025-01:2025-12"}
    import pyarrow.parquet as pq

    schema = pq.read_schema(res.files["indicators"])
    assert schema.field("balance_fen").metadata == {b"unit": b"fen"}
    assert schema.field("points").metadata == {b"unit": b"point"}
    # the same run monitored again gives the same indicators to the last digit, in the same order (the float
    # terms of the indices and the convergence SDs are summed in one order every time)
    assert again.indicators.equals(res.indicators)
    assert again.convergence.equals(res.convergence)


def test_a_month_the_ledger_does_not_have_is_an_input_error(demo_world):
    r = CliRunner().invoke(app, ["monitor", "--ledger", str(demo_world["ledger"]), "--period", "2022-Q1"])
    assert r.exit_code == 1 and "no settlement run covering 2022-Q1" in str(r.exception or r.output)


# ------------------------------------------------------------------------------------------------ command line
def test_drg_monitor_prints_json_and_writes_the_report(demo_world, tmp_path):
    r = CliRunner().invoke(app, ["monitor", "--ledger", str(demo_world["ledger"]), "--period", "2025-Q3", "--json",
                                 "--out", str(tmp_path)])
    assert r.exit_code == 0, r.output
    s = json.loads(r.output)
    city = next(x for x in s["headline"]["period"] if x["unit_type"] == "city")
    assert city["cases"] > 0 and 0 < city["group_rate"] <= 1 and Decimal(city["points"]) > 0
    assert s["spans"] == {"period": "2025-Q3", "ytd": "2025-01:2025-09"}
    assert {w["severity"] for w in s["warnings"]} <= {"alert", "warning", "info"}
    sev = [w["severity"] for w in s["warnings"]]
    assert sev == sorted(sev, key=["alert", "warning", "info"].index)           # alerts first
    assert (tmp_path / "report-2025-Q3.html").exists() and (tmp_path / "warnings-2025-Q3.parquet").exists()


def test_drg_monitor_prints_tables(demo_world):
    r = CliRunner().invoke(app, ["monitor", "--ledger", str(demo_world["ledger"]), "--period", "2025-03"])
    assert r.exit_code == 0, r.output
    assert "入组率" in r.output and "费用消耗指数" in r.output and "year to date" in r.output


def test_a_malformed_period_is_a_usage_error(demo_world):
    r = CliRunner().invoke(app, ["monitor", "--ledger", str(demo_world["ledger"]), "--period", "2025-Q5"])
    assert r.exit_code == 2


def test_demo_prints_the_report_path(demo_world):
    s = demo_world["summary"]
    assert s["files"]["report"].endswith("report-2025.html") and s["monitoring"]["period"] == "2025"


# ------------------------------------------------------------------------------------------------ warnings
def test_severity_steps():
    from drg.monitoring.warnings import severity

    assert severity(0.04, Decimal("0.05"), Decimal("0.10")) is None
    assert severity(0.06, Decimal("0.05"), Decimal("0.10")) == "warning"
    assert severity(0.11, Decimal("0.05"), Decimal("0.10")) == "alert"
    assert severity(0.93, Decimal("0.95"), Decimal("0.90"), above=False) == "warning"
    assert severity(0.89, Decimal("0.95"), Decimal("0.90"), above=False) == "alert"


def _mon(**kw):
    from drg.policy import MonitoringPolicy

    return MonitoringPolicy(**kw)


def test_projection_warns_below_the_floor_and_alerts_when_the_whole_band_is():
    from drg.monitoring.warnings import pv_projection

    last = {j: 1_000_000 for j in range(1, 13)}            # 100 points a month (scale 10 000)
    selfp = {j: 0 for j in range(1, 13)}
    budget = 120_000                                        # fen: last year's value would be 100 fen a point
    # this year 10 % more points every month: PV̂ = 120 000 / 1 320 = 90.9 fen, band 90.9–90.9
    w, fig = pv_projection("310", 3, {j: 1_100_000 for j in (1, 2, 3)}, last, selfp, selfp, budget, 0, True,
                           Fraction(95), _mon(), 10_000)
    assert w.severity == "alert" and fig["projected_pv_yuan"] == pytest.approx(1200 / 1320)
    # a mixed year: the projection under the floor, the top of the band above it
    w, fig = pv_projection("310", 3, {1: 800_000, 2: 1_300_000, 3: 1_300_000}, last, selfp, selfp, budget, 0, True,
                           Fraction(95), _mon(), 10_000)
    assert w.severity == "warning" and fig["band_low_yuan"] < 0.95 < fig["band_high_yuan"]
    # too early: information only
    w, _ = pv_projection("310", 2, {1: 1_100_000, 2: 1_100_000}, last, selfp, selfp, budget, 0, True, Fraction(95),
                         _mon(), 10_000)
    assert w.severity == "info"


def test_fund_pace_and_point_value_drop():
    from drg.monitoring.warnings import fund_pace, pv_drop

    assert fund_pace("310", 6, 520, 1000, _mon(), [1, 2, 3, 4, 5, 6]) is None          # 4 % over pace
    assert fund_pace("310", 6, 540, 1000, _mon(), []).severity == "warning"              # 8 %
    assert fund_pace("310", 6, 560, 1000, _mon(), []).severity == "alert"                # 12 %
    assert pv_drop("310", "x", Fraction(93), Fraction(100), _mon()).severity == "warning"
    assert pv_drop("310", "x", Fraction(89), Fraction(100), _mon()).severity == "alert"
    assert pv_drop("310", "x", Fraction(99), Fraction(100), _mon()) is None


def test_hospital_rises_and_rates():
    from drg.monitoring.warnings import cc_share_rise, cmi_rise, rate_checks

    mon = _mon(hospital_min_cases=10, cc_share_min_cases=5)
    assert cmi_rise("H1", "", 1.08, 1.0, 50, 50, mon).severity == "warning"
    assert cmi_rise("H1", "", 1.2, 1.0, 50, 50, mon).severity == "alert"
    assert cmi_rise("H1", "", 1.2, 1.0, 5, 50, mon) is None                               # too few cases
    assert cc_share_rise("H1", "", "FR2", 0.62, 0.50, 20, 20, mon).severity == "alert"
    assert cc_share_rise("H1", "", "FR2", 0.57, 0.50, 20, 20, mon).severity == "warning"
    ws = rate_checks([{"unit_type": "city", "unit": "city", "name": "", "cases": 100, "outlier_share": 0.12,
                       "group_rate": 0.80, "grouped": 80}], mon)
    assert {(w.kind, w.severity) for w in ws} == {("outlier_share", "alert"), ("group_rate", "alert")}


def test_a_policy_whose_alert_is_below_its_warning_is_refused(tmp_path):
    from drg.errors import PolicyError
    from drg.policy import load_policy

    p = tmp_path / "p.toml"
    p.write_text('[policy]\nid = "x"\n[monitoring]\ncmi_rise_max = 0.2\ncmi_rise_alert = 0.1\n', encoding="utf-8")
    with pytest.raises(PolicyError, match="monitoring.cmi_rise_alert"):
        load_policy(p)


def test_every_monitoring_threshold_has_its_origin():
    from drg.policy import PARAMS

    keys = [p for p in PARAMS if p.key.startswith("monitoring.")]
    assert len(keys) >= 15 and all(p.origin for p in keys)
    assert all(p.origin.startswith(("default", "source")) for p in keys)


# ------------------------------------------------------------------------------------------------ low risk
def test_low_risk_rule():
    from drg.monitoring.lowrisk import classify_low_risk

    counts = {"A": (100, 0), "B": (1000, 1), "C": (100, 2), "D": (100, 4), "E": (100, 40), "F": (10, 0)}
    got = classify_low_risk(counts, min_cases=30, k=1.0)
    assert got["A"] == (True, True) and got["F"] == (False, False)
    assert got["B"] == (True, True) and got["E"] == (True, False)       # ln .001 < μ − s; ln .4 is not
    assert got["C"] == (True, False)
    # fewer than 3 DRGs with deaths: only the DRGs without deaths are low-risk
    got = classify_low_risk({"A": (40, 0), "B": (40, 1), "C": (40, 2)}, min_cases=30, k=1.0)
    assert [d for d, (_c, low) in got.items() if low] == ["A"]
