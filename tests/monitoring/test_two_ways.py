"""Every indicator of SPEC §9 computed two ways — the engine (``drg monitor`` from the ledger's sums) and plain
SQL over the priced case file in DuckDB (tests/monitoring/sql.py) — on the demo city and on the CHS-DRG 1.1
reference cases grouped, priced and settled; they agree (integers and exact points exactly, ratios to 1e-9).
"""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction

import duckdb
import pytest

from . import sql

PERIODS = ("2025-03", "2025-Q2", "2025-H1", "2025")
UNIT_TYPES = ("city", "pool", "county", "hospital", "tier", "mdc", "adrg", "drg")
EXACT = ("cases", "grouped", "drgs_used", "points", "points_before", "total_cost_fen", "avg_cost_fen",
         "low_risk_cases", "low_risk_deaths", "balance_fen")
RATIOS = ("group_rate", "cmi", "avg_los", "cost_index", "time_index", "low_risk_mortality", "high_share", "low_share",
          "outlier_share", "unstable_share", "per_diem_share", "halved_share", "review_share", "ungroupable_share",
          "ambiguous_share", "cc_share", "self_pay_share")


@pytest.fixture(scope="module", params=["demo", "reference"])
def world(request):
    return request.getfixturevalue(f"{request.param}_world") | {"name": request.param}


@pytest.fixture(scope="module")
def monitored(world):
    """``drg monitor`` of each period (tables only; the report has its own test)."""
    from drg.monitoring.monitor import monitor_period

    return {p: monitor_period(world["ledger"], p, report=False) for p in PERIODS}


def _annual_pv(ledger) -> dict[str, Fraction]:
    from drg.settlement.ledger import Ledger

    return Ledger(ledger).point_values(2025, kind="year")


def _low_risk(world) -> set[str]:
    import pyarrow.parquet as pq

    t = pq.read_table(world["tables"] / "low_risk_drgs.parquet").to_pylist()
    return {r["drg"] for r in t if r["low_risk"]}


def _close(a, b, what: str) -> None:
    if a is None or b is None or (isinstance(a, float) and math.isnan(a)):
        assert a is None and b is None or (a is not None and b is not None), f"{what}: {a!r} != {b!r}"
        return
    assert math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12), f"{what}: {a!r} != {b!r}"


@pytest.mark.parametrize("period", PERIODS)
def test_every_indicator_of_every_unit_agrees_with_sql(world, monitored, period):
    import polars as pl

    from drg.settlement.periods import parse_period

    res = monitored[period]
    pv = _annual_pv(world["ledger"])
    low = _low_risk(world)
    con = duckdb.connect()
    spans = {"period": parse_period(period).months, "ytd": tuple(range(1, parse_period(period).last_month + 1))}
    checked = 0
    for scope in res.spans:
        engine = res.indicators.filter(pl.col("scope") == scope)
        for ut in UNIT_TYPES:
            want = sql.indicators(con, str(world["priced"][2025]), str(world["hospitals"]), 2025, spans[scope], ut,
                                  low, pv)
            got = {r["unit"]: r for r in engine.filter(pl.col("unit_type") == ut).iter_rows(named=True)}
            assert set(got) == set(want), f"{world['name']} {period} {scope} {ut}: units differ"
            for unit, w in want.items():
                g = got[unit]
                for k in EXACT:
                    gv, wv = g[k], w[k]
                    if isinstance(gv, Decimal) or isinstance(wv, Decimal):
                        gv, wv = Decimal(gv), Decimal(wv)
                    assert gv == wv, f"{world['name']} {period} {scope} {ut} {unit} {k}: {gv} != {wv}"
                for k in RATIOS:
                    _close(g[k], w[k], f"{world['name']} {period} {scope} {ut} {unit} {k}")
                checked += 1
    assert checked > 50
    con.close()


def test_city_indices_are_one_and_the_low_risk_mortality_is_known(monitored):
    import polars as pl

    city = monitored["2025"].indicators.filter(pl.col("unit_type") == "city").row(0, named=True)
    assert city["cost_index"] == pytest.approx(1.0) and city["time_index"] == pytest.approx(1.0)
    assert monitored["2025"].low_risk["known"] and city["low_risk_cases"] > 0


@pytest.mark.parametrize("period", ("2025-Q2", "2025"))
def test_balance_per_hospital_and_drg_agrees_with_sql(world, monitored, period):
    import polars as pl

    from drg.settlement.periods import parse_period

    res = monitored[period]
    want = sql.hospital_drg(duckdb.connect(), str(world["priced"][2025]), str(world["hospitals"]), 2025,
                            parse_period(period).months, _annual_pv(world["ledger"]))
    got = {(r["hospital_id"], r["drg"]): r for r in
           res.hospital_drg.filter(pl.col("scope") == "period").iter_rows(named=True)}
    assert set(got) == set(want)
    for key, w in want.items():
        g = got[key]
        assert (g["cases"], Decimal(g["points"]), g["total_cost_fen"], g["balance_fen"]) == \
               (w["cases"], Decimal(w["points"]), w["cost"], w["balance_fen"]), key


@pytest.mark.parametrize("period", ("2025-H1", "2025"))
def test_convergence_agrees_with_sql_this_year_and_last(world, monitored, period):
    import polars as pl

    from drg.policy import load_policy
    from drg.settlement.periods import parse_period

    res = monitored[period]
    months = parse_period(period).months
    min_cases = load_policy(world["policy"]).monitoring.convergence_min_cases
    con = duckdb.connect()
    now = sql.convergence(con, str(world["priced"][2025]), str(world["hospitals"]), 2025, months, min_cases)
    last = sql.convergence(con, str(world["priced"][2024]), str(world["hospitals"]), 2024, months, min_cases)
    got = {(r["pool"], r["drg"]): r for r in res.convergence.filter(pl.col("scope") == "period").iter_rows(named=True)}
    assert set(got) == set(now)
    compared = 0
    for key, (h, n, cv) in now.items():
        g = got[key]
        assert (g["hospitals"], g["cases"]) == (h, n)
        _close(g["cv"], cv, f"cv {key}")
        _close(g["cv_last_year"], last.get(key, (0, 0, None))[2], f"cv last year {key}")
        compared += g["cv_last_year"] is not None
    assert compared > 0 or period != "2025"


def test_low_risk_drgs_agree_with_sql_and_the_ledger(world):
    import pyarrow.parquet as pq

    from drg.monitoring.store import read_low_risk
    from drg.policy import load_policy
    from drg.settlement.ledger import Ledger

    mon = load_policy(world["policy"]).monitoring
    meta = pq.read_schema(world["tables"] / "low_risk_drgs.parquet").metadata
    import json

    years = json.loads(meta[b"drg.history_years"])
    want = sql.low_risk(duckdb.connect(), [str(h) for h in world["history"]], years, mon.low_risk_min_cases,
                        float(mon.low_risk_k))
    assert _low_risk(world) == want and want
    stored, info = read_low_risk(Ledger(world["ledger"]), 2025)
    assert stored == want and info["history_years"] == years


def test_projection_agrees_with_sql(world, monitored):
    """P̂ = (Σ_{j≤m} P_j / Σ_{j≤m} P′_j)·Σ P′ and PV̂ = (B − R + Ŝ) / P̂, from the priced files of both years."""
    res = monitored["2025-Q2"]
    con = duckdb.connect()
    now = sql.monthly_pool_sums(con, str(world["priced"][2025]), 2025)
    last = sql.monthly_pool_sums(con, str(world["priced"][2024]), 2024)
    for pool, fig in res.projections.items():
        p = sum(now[(pool, j)][0] for j in range(1, 7))
        p_last = sum(last[(pool, j)][0] for j in range(1, 7))
        p_year = sum(v[0] for (pp, _j), v in last.items() if pp == pool)
        s = sum(now[(pool, j)][1] for j in range(1, 7))
        s_last = sum(last[(pool, j)][1] for j in range(1, 7))
        s_year = sum(v[1] for (pp, _j), v in last.items() if pp == pool)
        p_hat = p / p_last * p_year
        s_hat = Fraction(s, s_last) * s_year
        pv_hat = (fig["budget_fen"] - fig["reserve_fen"] + s_hat) / p_hat / 100
        assert fig["projected_points"] == pytest.approx(float(p_hat), rel=1e-12)
        assert fig["projected_pv_yuan"] == pytest.approx(float(pv_hat), rel=1e-12)
        ratios = [now[(pool, j)][0] / last[(pool, j)][0] for j in range(1, 7)]
        assert fig["band_low_yuan"] == pytest.approx(float((fig["budget_fen"] - fig["reserve_fen"] + s_hat)
                                                           / (max(ratios) * p_year) / 100), rel=1e-12)
        assert fig["band_low_yuan"] <= fig["projected_pv_yuan"] <= fig["band_high_yuan"]


def test_settlement_cmi_is_the_cmi_of_spec_9(world):
    """hospital_results.cmi of the annual run = Σ w_i / grouped cases per hospital and pool, in SQL."""
    con = duckdb.connect()
    rows = con.execute(f"""
        SELECT insurance_type, hospital_id,
               round(sum(CASE WHEN base_points IS NOT NULL THEN base_points ELSE points END / 100.0)
                     / count(*), 4)
        FROM read_parquet('{world["priced"][2025]}')
        WHERE year(discharge_date) = 2025 AND coalesce(group_status, 'ok') = 'ok' AND drg NOT IN ('', '0000')
        GROUP BY ALL""").fetchall()
    want = {(p, h): v for p, h, v in rows}
    led = duckdb.connect(str(world["ledger"]), read_only=True)
    got = {(p, h): v for p, h, v in led.execute("""
        SELECT h.pool, h.hospital_id, h.cmi FROM hospital_results h JOIN runs r USING (run_id)
        WHERE r.kind = 'year' AND r.year = 2025 AND h.cmi IS NOT NULL""").fetchall()}
    led.close()
    assert got.keys() == want.keys()
    for k, v in want.items():
        assert got[k] == pytest.approx(v, abs=1.5e-4), k
