"""What the ledger keeps for monitoring (SPEC §9), and how monitoring reads it back.

Written by every settlement run, in the run's own transaction (:meth:`drg.settlement.ledger.Ledger.record`
calls :func:`record_run`), deleted with the run when it is replaced:

    monitor_facts          run_id, year, month, pool, hospital_id, county, mdc, adrg, drg, case_class,
                           group_state (grouped | ungroupable | ambiguous) and the exact sums of the cell:
                           cases, grouped, total_cost_fen, fund_paid_fen, self_pay_fen, points_before_units,
                           points_units, deduction_units, w_units, scale, los_days, deaths, halved, outliers,
                           cc_cases, mcc_cases. A monthly run keeps its month, an annual run the twelve
                           months of its year. Points are integers in units of 1/scale point.
    monitor_hospitals      run_id, hospital_id, name, tier, county (the hospitals table of the run)
    monitor_county_income  run_id, year, pool, county, income_fen, other_spending_fen

Written by ``drg weights`` (:func:`record_low_risk`), replaced for the same settlement year and scheme:

    low_risk_drgs          settlement_year, scheme_id, drg, history_cases, history_deaths, mortality,
                           classified, low_risk, history_years, computed_at

Written by ``drg monitor`` (:func:`record_monitoring`), replaced for the same monitored period:

    monitor_indicators     period, scope (period | ytd), span, unit_type, unit, name, the indicators
    monitor_hospital_drg   period, scope, span, hospital_id, drg, pool, cases, points, cost, balance
    monitor_convergence    period, scope, span, pool, drg, hospitals, cases, cv, cv_last_year, …
    monitor_warnings       period, kind, severity, pool, subject_type, subject, message, message_zh,
                           value, threshold, figures (JSON)

Reading: the sums of a month come from the latest run that covers it (:func:`read_facts`), so a month run
again, or an annual run after its months, is what monitoring sees.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

__all__ = ["MONITOR_DDL", "RUN_TABLES", "RESULT_TABLES", "FACT_SUMS", "record_run", "record_low_risk",
           "read_facts", "read_hospitals", "read_county_income", "read_low_risk", "record_monitoring",
           "pool_runs", "latest_policy"]

#: The sums of a ``monitor_facts`` row (exact integers).
FACT_SUMS = ("cases", "grouped", "total_cost_fen", "fund_paid_fen", "self_pay_fen", "points_before_units",
             "points_units", "deduction_units", "w_units", "los_days", "deaths", "halved", "outliers", "cc_cases",
             "mcc_cases")

#: Tables keyed by run id (deleted with a replaced run).
RUN_TABLES = ("monitor_facts", "monitor_hospitals", "monitor_county_income")
#: Tables ``drg monitor`` writes, keyed by the monitored period.
RESULT_TABLES = ("monitor_indicators", "monitor_hospital_drg", "monitor_convergence", "monitor_warnings")

_SUM_DDL = ", ".join(f"{c} BIGINT" for c in FACT_SUMS)

MONITOR_DDL = f"""
CREATE TABLE IF NOT EXISTS monitor_facts (
    run_id VARCHAR NOT NULL, year INTEGER, month INTEGER, pool VARCHAR, hospital_id VARCHAR, county VARCHAR,
    mdc VARCHAR, adrg VARCHAR, drg VARCHAR, case_class VARCHAR, group_state VARCHAR, scale BIGINT, {_SUM_DDL});
CREATE TABLE IF NOT EXISTS monitor_hospitals (
    run_id VARCHAR NOT NULL, hospital_id VARCHAR, name VARCHAR, tier VARCHAR, county VARCHAR);
CREATE TABLE IF NOT EXISTS monitor_county_income (
    run_id VARCHAR NOT NULL, year INTEGER, pool VARCHAR, county VARCHAR, income_fen BIGINT,
    other_spending_fen BIGINT);
CREATE TABLE IF NOT EXISTS low_risk_drgs (
    settlement_year INTEGER, scheme_id VARCHAR, drg VARCHAR, history_cases BIGINT, history_deaths BIGINT,
    mortality DOUBLE, classified BOOLEAN, low_risk BOOLEAN, history_years VARCHAR, computed_at TIMESTAMP);
"""

_GROUP_STATE_SQL = "CASE grp WHEN 0 THEN 'grouped' WHEN 2 THEN 'ambiguous' ELSE 'ungroupable' END"


# ----------------------------------------------------------------------------------------------- writing
def record_run(con: Any, run_id: str, result: Any) -> None:
    """Insert the monitoring sums of a settlement run (inside the caller's transaction): the months the run
    covers (a monthly run its month, an annual run its year), its hospitals table and its county income."""
    agg = result.aggregates
    fine = getattr(agg, "fine", None) if agg is not None else None
    if fine is not None and fine.height:
        # the whole finest grain goes to DuckDB as Arrow, the months of the run chosen there: its text columns
        # are enums (Arrow dictionaries), so the Arrow view copies no string and no filtered copy is made
        con.register("m_fine", fine.to_arrow())
        con.execute(f"""
            INSERT INTO monitor_facts
            SELECT ? AS run_id, year, month, pool::VARCHAR, hospital_id::VARCHAR, county::VARCHAR, mdc::VARCHAR,
                   adrg::VARCHAR, drg::VARCHAR, case_class::VARCHAR,
                   {_GROUP_STATE_SQL} AS group_state, ? AS scale,
                   cases, grouped, total_cost, fund_paid, selfpay, pts_u, adj_u, ded_u, w_u, los, deaths, halved,
                   outlier, cc, mcc
            FROM m_fine WHERE year = ? AND (? IS NULL OR month = ?)""",
                    [run_id, agg.scale, result.year, result.month, result.month])
        con.unregister("m_fine")
    info = result.monitoring or {}
    hospitals = info.get("hospitals") or {}
    if hospitals:
        con.executemany("INSERT INTO monitor_hospitals VALUES (?, ?, ?, ?, ?)", [
            [run_id, h, str(v.get("name") or ""), str(v.get("tier") or ""), str(v.get("county") or "")]
            for h, v in hospitals.items()])
    income = info.get("county_income") or {}
    rows = []
    for (y, t, c), (i, o) in income.items():
        if y == result.year:
            rows.append([run_id, y, _pool_of_type(t, result), c, i, o])
    if rows:
        con.executemany("INSERT INTO monitor_county_income VALUES (?, ?, ?, ?, ?, ?)", rows)


def _pool_of_type(insurance_type: str, result: Any) -> str:
    from drg.settlement.pools import ALL_POOLS

    return ALL_POOLS if list(result.pools) == [ALL_POOLS] else str(insurance_type)


def record_low_risk(ledger: Any, table: Any, *, settlement_year: int | None, scheme_id: str | None,
                    history_years: list[int]) -> None:
    """Store the low-risk DRG table of ``drg weights`` (:func:`drg.monitoring.lowrisk.low_risk_table`) in the
    ledger, replacing the one of the same settlement year and scheme."""
    with ledger.connect() as con:
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute("DELETE FROM low_risk_drgs WHERE settlement_year IS NOT DISTINCT FROM ? "
                        "AND scheme_id IS NOT DISTINCT FROM ?", [settlement_year, scheme_id])
            con.register("lr", table)
            con.execute("""INSERT INTO low_risk_drgs SELECT ?, ?, drg, history_cases, history_deaths, mortality,
                           classified, low_risk, ?, ? FROM lr""",
                        [settlement_year, scheme_id, json.dumps(history_years),
                         datetime.now(timezone.utc).replace(tzinfo=None)])
            con.unregister("lr")
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise


def record_monitoring(ledger: Any, period: str, tables: dict[str, Any]) -> None:
    """Replace what ``drg monitor`` stored for ``period`` by ``tables`` (name → polars frame), in one
    transaction."""
    with ledger.connect() as con:
        con.execute("BEGIN TRANSACTION")
        try:
            for name, frame in tables.items():
                arrow = frame.to_arrow()
                con.register("m_new", arrow)
                exists = con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = ?",
                                     [name]).fetchall()[0][0]
                if not exists:
                    con.execute(f"CREATE TABLE {name} AS SELECT * FROM m_new LIMIT 0")
                else:
                    _add_missing_columns(con, name, arrow)
                con.execute(f"DELETE FROM {name} WHERE period = ?", [period])
                con.execute(f"INSERT INTO {name} BY NAME SELECT * FROM m_new")
                con.unregister("m_new")
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise


def _add_missing_columns(con: Any, name: str, arrow: Any) -> None:
    have = {r[0] for r in con.execute("SELECT column_name FROM information_schema.columns WHERE table_name = ?",
                                      [name]).fetchall()}
    for f in arrow.schema:
        if f.name not in have:
            typ = con.execute("SELECT typeof(" + _quote(f.name) + ") FROM m_new LIMIT 1").fetchall()
            con.execute(f"ALTER TABLE {name} ADD COLUMN {_quote(f.name)} {typ[0][0] if typ else 'VARCHAR'}")


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# ----------------------------------------------------------------------------------------------- reading
def _latest_runs_sql(year_param: str = "?") -> str:
    """Per (year, month): the latest run whose facts cover it."""
    return f"""
        WITH covered AS (
            SELECT DISTINCT f.run_id, f.year, f.month, r.created_at
            FROM monitor_facts f JOIN runs r USING (run_id) WHERE f.year = {year_param}),
        latest AS (
            SELECT year, month, arg_max(run_id, created_at) AS run_id FROM covered GROUP BY year, month)"""


def read_facts(ledger: Any, year: int, months: tuple[int, ...] | None = None):
    """The ``monitor_facts`` rows of ``year`` (its ``months``), each month from the latest run covering it,
    as a polars frame (empty with the columns when there are none)."""

    where = "" if months is None else f" AND f.month IN ({', '.join(str(int(m)) for m in months)})"
    with ledger.connect(read_only=True) as con:
        if not _has_table(con, "monitor_facts"):
            return _empty_facts()
        return con.sql(_latest_runs_sql() + f"""
            SELECT f.* EXCLUDE (run_id) FROM monitor_facts f JOIN latest l USING (run_id, year, month)
            WHERE f.year = ? {where}
            ORDER BY f.year, f.month, f.pool, f.hospital_id, f.county, f.mdc, f.adrg, f.drg, f.case_class,
                     f.group_state""", params=[year, year]).pl()
        # (in one order every time: the float terms of the indices are then summed in the same order, and a
        # run's indicators are the same to the last digit whenever it is monitored)


def _empty_facts():
    import polars as pl

    s = {"year": pl.Int32, "month": pl.Int32}
    s.update({c: pl.String for c in ("pool", "hospital_id", "county", "mdc", "adrg", "drg", "case_class",
                                     "group_state")})
    s["scale"] = pl.Int64
    s.update({c: pl.Int64 for c in FACT_SUMS})
    return pl.DataFrame(schema=s)


def _has_table(con: Any, name: str) -> bool:
    return bool(con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = ?",
                            [name]).fetchall()[0][0])


def read_hospitals(ledger: Any, year: int) -> dict[str, dict]:
    """``{hospital_id: {"name", "tier", "county"}}`` from the latest run of ``year`` that kept a hospitals
    table (else of any year)."""
    with ledger.connect(read_only=True) as con:
        if not _has_table(con, "monitor_hospitals"):
            return {}
        rows = con.execute("""
            SELECT h.hospital_id, h.name, h.tier, h.county FROM monitor_hospitals h
            WHERE h.run_id = (SELECT r.run_id FROM runs r WHERE r.run_id IN (SELECT run_id FROM monitor_hospitals)
                              ORDER BY r.year = ? DESC, r.year DESC, r.created_at DESC LIMIT 1)""", [year]).fetchall()
    return {h: {"name": n, "tier": t, "county": c} for h, n, t, c in rows}


def read_county_income(ledger: Any, year: int) -> dict[tuple[str, str], tuple[int, int]]:
    """``{(pool, county): (income, other spending)}`` fen of ``year`` from its latest run that kept them."""
    with ledger.connect(read_only=True) as con:
        if not _has_table(con, "monitor_county_income"):
            return {}
        rows = con.execute("""
            SELECT pool, county, sum(income_fen), sum(other_spending_fen) FROM monitor_county_income
            WHERE year = ? AND run_id = (SELECT i.run_id FROM monitor_county_income i JOIN runs r USING (run_id)
                                         WHERE i.year = ? ORDER BY r.created_at DESC LIMIT 1)
            GROUP BY pool, county""", [year, year]).fetchall()
    return {(p, c): (int(i), int(o)) for p, c, i, o in rows}


def read_low_risk(ledger: Any, year: int, scheme_id: str | None = None) -> tuple[set[str] | None, dict]:
    """The low-risk DRGs fixed for settlement ``year`` (and ``scheme_id`` when given), and what they rest on;
    ``(None, {})`` when ``drg weights`` stored none."""
    with ledger.connect(read_only=True) as con:
        if not _has_table(con, "low_risk_drgs"):
            return None, {}
        rows = con.execute("""
            SELECT drg, low_risk, classified, history_years, scheme_id FROM low_risk_drgs
            WHERE settlement_year = ? AND (? IS NULL OR scheme_id IS NOT DISTINCT FROM ?)""",
                           [year, scheme_id, scheme_id]).fetchall()
    if not rows:
        return None, {}
    return ({d for d, low, _c, _y, _s in rows if low},
            {"classified": sum(1 for r in rows if r[2]), "history_years": json.loads(rows[0][3] or "[]"),
             "scheme_id": rows[0][4]})


def pool_runs(ledger: Any, year: int):
    """Every run of ``year`` and ``year − 1`` with its pool figures (one row per run and pool): kind, period,
    year, month, pool, budget, reserve, self-pay, distributable, total points (units as DECIMAL), the exact
    point value, fund payments, prepaid, reserve left, created."""
    with ledger.connect(read_only=True) as con:
        return con.sql("""
            SELECT r.run_id, r.kind, r.period, r.year, r.month, r.created_at, r.policy_id, r.scheme_id, p.pool,
                   p.budget_fen, p.reserve_fen, p.self_pay_fen, p.distributable_fen, p.total_points,
                   p.point_value_exact, p.fund_payments_fen, p.prepaid_fen, p.reserve_left_fen,
                   p.provisional_method
            FROM runs r JOIN pool_results p USING (run_id)
            WHERE r.year IN (?, ?) ORDER BY r.year, r.kind, r.period, p.pool""", params=[year - 1, year]).pl()


def latest_policy(ledger: Any, year: int) -> tuple[str | None, str | None]:
    """``(policy file path, policy id)`` of the latest run of ``year``."""
    with ledger.connect(read_only=True) as con:
        rows = con.execute("""
            SELECT r.policy_id, (SELECT i.path FROM run_inputs i WHERE i.run_id = r.run_id AND i.role = 'policy'
                                 LIMIT 1)
            FROM runs r WHERE r.year = ? ORDER BY r.created_at DESC LIMIT 1""", [year]).fetchall()
    if not rows:
        return None, None
    return rows[0][1], rows[0][0]
