"""The settlement ledger: every run, its inputs and its results in one embedded DuckDB file.

The ledger is the bureau's record of what was computed and paid. Each run (a month ``2025-03`` or a year
``2025``) is stored with its policy id, scheme id, the sha256 of every input file, the pool figures (budget,
reserve, self-pay, distributable, total points, point value — exact as ``num/den`` fen per point and shown
in yuan), the per-hospital and per-county results and the warnings. The tables are plain SQL tables that any
DuckDB client can query::

    runs            run_id, kind (month|year), period, year, month, policy_id, scheme_id, created_at,
                    engine_version, prepaid_source, replaced_run
    run_inputs      run_id, role (priced|hospitals|budget|county_income|policy), path, sha256, size_bytes
    pool_results    run_id, pool, budget_fen, budget_source, reserve_fen, self_pay_fen, distributable_fen,
                    total_points, point_value, point_value_exact, provisional_method, cases,
                    fund_payments_fen, prepaid_fen, reserve_to_hospitals_fen, reserve_to_counties_fen,
                    reserve_left_fen, undeducted_points
    hospital_results run_id + the columns of ``hospitals.parquet`` (drg.settlement.records.HOSPITAL_COLUMNS)
    county_results  run_id + the columns of ``counties.parquet`` (drg.settlement.records.COUNTY_COLUMNS)
    warnings        run_id, kind, pool, subject, message, value, threshold
    run_outputs     run_id, role (out|statements), path: the directories the run wrote its files to
                    (``PATH/runs/RUN_ID``; drg.settlement.rundirs), committed with the run
    run_rejects     run_id, file, row_number, reject_reason, reject_detail, total_cost_fen, fund_paid_fen:
                    the priced rows the run could not settle (drg.settlement.aggregates), left out of it

and, for monitoring (SPEC §9; :mod:`drg.monitoring.store`), the run's exact sums per month and (pool,
hospital, county, DRG, case class) in ``monitor_facts``, its hospitals table and county income; the low-risk
DRGs of ``drg weights``; the indicators and warnings of ``drg monitor``.

Money in the tables is BIGINT fen: the contract's settlement columns (``entitlement``, ``fund_payment``,
``income``, ``county_share`` …) under their contract names, every other one ending in ``_fen``. Points and
displayed point values are DECIMAL(18,4).

People read the views, in yuan as ``DECIMAL(18,2)`` (never a float), each column commented in Chinese and
English (``COMMENT ON COLUMN``; ``SELECT column_name, comment FROM duckdb_columns() WHERE table_name = …``)::

    run_status      every run with ``stale``: a year run whose months were run again after it
    pools_yuan      pool figures of every run
    hospitals_yuan  hospital results of every run
    counties_yuan   county accounts of every annual run
    point_values    the point value of every run and pool, in period order

docs/ledger.md shows the queries a bureau runs on them.

A period is stored once: recording a period already present is refused unless ``replace=True``, which
deletes the old run and inserts the new one in a single transaction. Everything a run writes happens in
one transaction, so a run killed half-way leaves the ledger exactly as it was. (For the test of that, the
environment variable ``DRG_LEDGER_TEST_PAUSE`` = seconds makes :meth:`Ledger.record` sleep inside the open
transaction, after its inserts and before the commit.)

A ledger written by an earlier version (money columns without ``_fen``, no views) is brought up to date the
first time it is opened for writing, or opened read-only (its columns renamed, the views created, in one
transaction).
"""

from __future__ import annotations

import os
import time
import uuid
from contextlib import contextmanager
from datetime import datetime, timezone
from fractions import Fraction
from pathlib import Path
from typing import Any

from drg.errors import InputError

__all__ = ["Ledger", "LEDGER_TABLES", "LEDGER_VIEWS", "PAUSE_ENV", "SCHEMA_VERSION"]

PAUSE_ENV = "DRG_LEDGER_TEST_PAUSE"
LEDGER_TABLES = ("runs", "run_inputs", "pool_results", "hospital_results", "county_results", "warnings",
                 "run_outputs", "run_rejects")
LEDGER_VIEWS = ("run_status", "pools_yuan", "hospitals_yuan", "counties_yuan", "point_values")
#: Version of the ledger's layout (kept in ``ledger_meta``): 2 = money columns named by unit, yuan views.
SCHEMA_VERSION = 2

_DDL = """
CREATE TABLE IF NOT EXISTS runs (
    run_id VARCHAR PRIMARY KEY, kind VARCHAR NOT NULL, period VARCHAR NOT NULL, year INTEGER NOT NULL,
    month INTEGER, policy_id VARCHAR, scheme_id VARCHAR, created_at TIMESTAMP, engine_version VARCHAR,
    prepaid_source VARCHAR, replaced_run VARCHAR, UNIQUE (kind, period));
CREATE TABLE IF NOT EXISTS run_inputs (
    run_id VARCHAR NOT NULL, role VARCHAR, path VARCHAR, sha256 VARCHAR, size_bytes BIGINT);
CREATE TABLE IF NOT EXISTS pool_results (
    run_id VARCHAR NOT NULL, pool VARCHAR NOT NULL, budget_fen BIGINT, budget_source VARCHAR, reserve_fen BIGINT,
    self_pay_fen BIGINT, distributable_fen BIGINT, total_points DECIMAL(18,4), point_value DECIMAL(18,4),
    point_value_exact VARCHAR, provisional_method VARCHAR, cases BIGINT, fund_payments_fen BIGINT,
    prepaid_fen BIGINT, reserve_to_hospitals_fen BIGINT, reserve_to_counties_fen BIGINT, reserve_left_fen BIGINT,
    undeducted_points DECIMAL(18,4));
CREATE TABLE IF NOT EXISTS hospital_results (
    run_id VARCHAR NOT NULL, kind VARCHAR, period VARCHAR, pool VARCHAR, hospital_id VARCHAR, name VARCHAR,
    cases BIGINT, points DECIMAL(18,4), undeducted_points DECIMAL(18,4), entitlement BIGINT, self_paid BIGINT,
    fund_payment BIGINT, prepaid BIGINT, balance BIGINT, reserve_share BIGINT, total_cost_fen BIGINT,
    loss_fen BIGINT, cmi DOUBLE, outlier_share DOUBLE, point_value DECIMAL(18,4), point_value_exact VARCHAR);
CREATE TABLE IF NOT EXISTS county_results (
    run_id VARCHAR NOT NULL, kind VARCHAR, period VARCHAR, pool VARCHAR, county VARCHAR,
    q_points DECIMAL(18,4), share_fen BIGINT, self_paid_fen BIGINT, income BIGINT, drg_spending BIGINT,
    other_spending BIGINT, balance BIGINT, gap_claim_fen BIGINT, city_share BIGINT, county_share BIGINT);
CREATE TABLE IF NOT EXISTS warnings (
    run_id VARCHAR NOT NULL, kind VARCHAR, pool VARCHAR, subject VARCHAR, message VARCHAR, value DOUBLE,
    threshold DOUBLE);
CREATE TABLE IF NOT EXISTS ledger_meta (key VARCHAR PRIMARY KEY, value VARCHAR);
CREATE TABLE IF NOT EXISTS run_outputs (run_id VARCHAR NOT NULL, role VARCHAR, path VARCHAR);
CREATE TABLE IF NOT EXISTS run_rejects (
    run_id VARCHAR NOT NULL, file VARCHAR, row_number BIGINT, reject_reason VARCHAR, reject_detail VARCHAR,
    total_cost_fen BIGINT, fund_paid_fen BIGINT);
"""

#: Money columns renamed by the layout of version 2 (table → old name → new name).
_RENAMES_V2 = {
    "pool_results": {c: f"{c}_fen" for c in ("budget", "reserve", "self_pay", "distributable", "fund_payments",
                                             "prepaid", "reserve_to_hospitals", "reserve_to_counties",
                                             "reserve_left")},
    "hospital_results": {"total_cost": "total_cost_fen", "loss": "loss_fen"},
    "county_results": {"share": "share_fen", "self_paid": "self_paid_fen", "gap_claim": "gap_claim_fen"},
}


def _yuan(col: str, alias: str | None = None) -> str:
    """SQL: the fen column ``col`` as exact yuan, DECIMAL(18,2)."""
    return f"CAST(CAST({col} AS DECIMAL(18,0)) * 0.01 AS DECIMAL(18,2)) AS {alias or col.removesuffix('_fen') + '_yuan'}"


#: The views people read: (name, comment, SELECT, {column: comment}).
_VIEWS: list[tuple[str, str, str, dict[str, str]]] = [
    ("run_status", "运行清单: 每次结算运行及其是否过期 / every settlement run, and whether it is stale", """
        SELECT r.run_id, r.kind, r.period, r.year, r.month, r.policy_id, r.scheme_id, r.created_at,
               r.prepaid_source, r.replaced_run,
               r.kind = 'year' AND EXISTS (SELECT 1 FROM runs m WHERE m.kind = 'month' AND m.year = r.year
                                           AND m.created_at > r.created_at) AS stale,
               CASE WHEN r.kind = 'year' AND EXISTS (SELECT 1 FROM runs m WHERE m.kind = 'month'
                         AND m.year = r.year AND m.created_at > r.created_at)
                    THEN 'months run after this annual run: ' || (SELECT string_agg(m.period, ', ' ORDER BY m.period)
                         FROM runs m WHERE m.kind = 'month' AND m.year = r.year AND m.created_at > r.created_at)
                    END AS stale_reason
        FROM runs r""", {
        "run_id": "运行号 run id", "kind": "运行类型 kind: month 月度预付 / year 年度清算",
        "period": "期间 period (YYYY-MM or YYYY)", "year": "年度 year", "month": "月份 month (null for a year run)",
        "policy_id": "政策 policy id", "scheme_id": "分组方案 grouping scheme id",
        "created_at": "运行时间 (UTC) created at", "prepaid_source": "预付来源 where the year's prepayments came from",
        "replaced_run": "被替换的运行号 run this one replaced",
        "stale": "已过期 stale: a year run whose monthly runs were run again after it",
        "stale_reason": "过期原因 why the run is stale"}),
    ("pools_yuan", "统筹区结果(元) pool figures of every run, in yuan", f"""
        SELECT p.run_id, r.kind, r.period, r.year, r.month, p.pool, p.cases, {_yuan('p.budget_fen', 'budget_yuan')},
               p.budget_source, {_yuan('p.reserve_fen', 'reserve_yuan')},
               {_yuan('p.self_pay_fen', 'self_pay_yuan')}, {_yuan('p.distributable_fen', 'distributable_yuan')},
               p.total_points, p.point_value AS point_value_yuan, p.provisional_method,
               {_yuan('p.fund_payments_fen', 'fund_payments_yuan')}, {_yuan('p.prepaid_fen', 'prepaid_yuan')},
               {_yuan('p.reserve_to_hospitals_fen', 'reserve_to_hospitals_yuan')},
               {_yuan('p.reserve_to_counties_fen', 'reserve_to_counties_yuan')},
               {_yuan('p.reserve_left_fen', 'reserve_left_yuan')}, p.undeducted_points
        FROM pool_results p JOIN runs r USING (run_id)""", {
        "run_id": "运行号 run id", "kind": "运行类型 kind (month/year)", "period": "期间 period",
        "year": "年度 year", "month": "月份 month", "pool": "统筹区 pool: 310 职工 employee, 390 居民 resident",
        "cases": "病例数 cases", "budget_yuan": "基金预算(元) fund budget B", "budget_source": "预算来源 budget source",
        "reserve_yuan": "调剂金(元) reserve R", "self_pay_yuan": "个人负担(元) self-pay S (everything the fund did not pay)",
        "distributable_yuan": "可分配总额(元) distributable D = B − R + S (month: the month's provisional amounts)",
        "total_points": "总点数 total points P (month: year to date)",
        "point_value_yuan": "点值(元/点) point value, rounded to 4 decimals for display",
        "provisional_method": "预付点值方法 provisional point-value method (month runs)",
        "fund_payments_yuan": "基金支付(元) fund payments Σ F", "prepaid_yuan": "预付(元) prepayments",
        "reserve_to_hospitals_yuan": "调剂金分担医院(元) reserve paid to hospitals",
        "reserve_to_counties_yuan": "调剂金分担区县(元) reserve paid to counties",
        "reserve_left_yuan": "调剂金结余(元) reserve left", "undeducted_points": "未能扣减点数 deductions not taken"}),
    ("hospitals_yuan", "医院结算结果(元) hospital results of every run, in yuan", f"""
        SELECT h.run_id, h.kind, h.period, r.year, r.month, h.pool, h.hospital_id, h.name, h.cases, h.points,
               h.undeducted_points, h.point_value AS point_value_yuan, {_yuan('h.entitlement', 'entitlement_yuan')},
               {_yuan('h.self_paid', 'self_paid_yuan')}, {_yuan('h.fund_payment', 'fund_payment_yuan')},
               {_yuan('h.prepaid', 'prepaid_yuan')}, {_yuan('h.balance', 'balance_yuan')},
               {_yuan('h.reserve_share', 'reserve_share_yuan')}, {_yuan('h.total_cost_fen', 'total_cost_yuan')},
               {_yuan('h.loss_fen', 'loss_yuan')}, h.cmi, h.outlier_share
        FROM hospital_results h JOIN runs r USING (run_id)""", {
        "run_id": "运行号 run id", "kind": "运行类型 kind (month/year)", "period": "期间 period",
        "year": "年度 year", "month": "月份 month", "pool": "统筹区 pool", "hospital_id": "医院编码 hospital id",
        "name": "医院名称 hospital name", "cases": "病例数 cases", "points": "总点数(扣减后) points after deductions",
        "undeducted_points": "未能扣减点数 deductions not taken", "point_value_yuan": "点值(元/点) point value",
        "entitlement_yuan": "应得金额(元) entitlement E = points × point value",
        "self_paid_yuan": "个人负担(元) self-paid S_h", "fund_payment_yuan": "基金支付(元) fund payment F = E − S",
        "prepaid_yuan": "已预付(元) prepaid", "balance_yuan": "清算余额(元) balance F − prepaid (negative: recovery)",
        "reserve_share_yuan": "调剂金分担(元) reserve share (not part of the fund payment)",
        "total_cost_yuan": "医疗总费用(元) total cost", "loss_yuan": "超支(元) loss: total cost above E",
        "cmi": "CMI 病例组合指数 case-mix index", "outlier_share": "高低倍率病例占比 outlier share (0–1)"}),
    ("counties_yuan", "区县账户(元) county accounts of every annual run, in yuan", f"""
        SELECT c.run_id, c.kind, c.period, r.year, c.pool, c.county, c.q_points, {_yuan('c.share_fen', 'share_yuan')},
               {_yuan('c.self_paid_fen', 'self_paid_yuan')}, {_yuan('c.income', 'income_yuan')},
               {_yuan('c.drg_spending', 'drg_spending_yuan')}, {_yuan('c.other_spending', 'other_spending_yuan')},
               {_yuan('c.balance', 'balance_yuan')}, {_yuan('c.gap_claim_fen', 'gap_claim_yuan')},
               {_yuan('c.city_share', 'city_share_yuan')}, {_yuan('c.county_share', 'county_share_yuan')}
        FROM county_results c JOIN runs r USING (run_id)""", {
        "run_id": "运行号 run id", "kind": "运行类型 kind", "period": "期间 period", "year": "年度 year",
        "pool": "统筹区 pool", "county": "区县 county", "q_points": "区县点数 county points Q",
        "share_yuan": "区县分配额(元) county share of D", "self_paid_yuan": "个人负担(元) self-paid S_c",
        "income_yuan": "基金收入(元) county fund income I", "drg_spending_yuan": "DRG 基金支出(元) DRG spending X",
        "other_spending_yuan": "其他支出(元) other spending O", "balance_yuan": "当期结余(元) balance G = I − X − O",
        "gap_claim_yuan": "市级应分担(元) the city's claimed share of a gap",
        "city_share_yuan": "市级分担(元) city share (from the reserve)",
        "county_share_yuan": "区县分担(元) county share of the gap"}),
    ("point_values", "点值 the point value of every run and pool, in period order", """
        SELECT r.kind, r.period, r.year, r.month, p.pool, p.point_value AS point_value_yuan, p.point_value_exact,
               p.provisional_method, r.run_id
        FROM pool_results p JOIN runs r USING (run_id)""", {
        "kind": "运行类型 kind: month 月度暂定点值 / year 年度清算点值", "period": "期间 period",
        "year": "年度 year", "month": "月份 month", "pool": "统筹区 pool",
        "point_value_yuan": "点值(元/点) point value, rounded to 4 decimals",
        "point_value_exact": "精确点值(分/点) exact point value, num/den fen per point",
        "provisional_method": "预付点值方法 provisional method", "run_id": "运行号 run id"}),
]


def _sql_text(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class Ledger:
    """A settlement ledger in the DuckDB file ``path`` (created on first use).

    A connection is opened per operation and closed after it, so other readers (any SQL client) can open
    the file between runs.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    # ------------------------------------------------------------------ connection
    @contextmanager
    def connect(self, read_only: bool = False):
        """A DuckDB connection to the ledger (tables and views created, an older layout brought up to date,
        when writable; a read-only open of an older ledger first brings it up to date)."""

        if read_only and not self.path.exists():
            raise InputError("ledger not found", file=str(self.path))
        self.path.parent.mkdir(parents=True, exist_ok=True)
        con = self._open(read_only)
        try:
            if not read_only:
                from drg.monitoring.store import MONITOR_DDL

                con.execute(_DDL)
                con.execute(MONITOR_DDL)
                if _schema_version(con) != _current_version():
                    _upgrade(con)
            elif _needs_upgrade(con):  # an older ledger: brought up to date, then read
                con.close()
                with self.connect(read_only=False):
                    pass
                con = self._open(read_only)
            yield con
        finally:
            con.close()

    def _open(self, read_only: bool):
        import duckdb

        try:
            return duckdb.connect(str(self.path), read_only=read_only)
        except duckdb.Error as exc:
            raise InputError(f"cannot open the ledger: {exc}", file=str(self.path)) from None

    def _query(self, sql: str, params: list | None = None) -> list[tuple]:
        if not self.path.exists():
            return []
        with self.connect(read_only=True) as con:
            if not con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = 'runs'").fetchall()[0][0]:
                return []
            return con.execute(sql, params or []).fetchall()

    # ------------------------------------------------------------------ writing
    def has_run(self, kind: str, period: str) -> bool:
        """Whether a ``kind`` run of ``period`` is recorded."""
        return bool(self._query("SELECT 1 FROM runs WHERE kind = ? AND period = ?", [kind, period]))

    def record(self, result: Any, *, replace: bool = False, run_id: str | None = None,
               outputs: list[tuple[str, str]] = ()) -> str:
        """Store a :class:`drg.settlement.runs.SettlementResult` in one transaction; return its run id.

        Raises
        ------
        InputError
            The period is already recorded and ``replace`` is False.
        """
        import drg

        from drg.outputs import writing

        run_id = run_id or f"{result.kind}-{result.period}-{uuid.uuid4().hex[:12]}"
        with writing(self.path), self.connect() as con:
            con.execute("BEGIN TRANSACTION")
            try:
                old = con.execute("SELECT run_id FROM runs WHERE kind = ? AND period = ?",
                                  [result.kind, result.period]).fetchall()
                replaced = None
                if old:
                    if not replace:
                        raise InputError(f"{result.kind} {result.period} is already in the ledger (run "
                                         f"{old[0][0]}); use --replace to run it again", file=str(self.path))
                    replaced = old[0][0]
                    from drg.monitoring.store import RUN_TABLES

                    for t in LEDGER_TABLES + RUN_TABLES:
                        con.execute(f"DELETE FROM {t} WHERE run_id = ?", [replaced])
                con.execute("INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", [
                    run_id, result.kind, result.period, result.year, result.month, result.policy_id,
                    result.scheme_id, datetime.now(timezone.utc).replace(tzinfo=None), drg.__version__,
                    result.prepaid_source, replaced])
                if result.inputs:
                    con.executemany("INSERT INTO run_inputs VALUES (?, ?, ?, ?, ?)",
                                    [[run_id, i.role, i.path, i.sha256, i.size] for i in result.inputs])
                from drg.money import fraction_text, units_to_decimal

                for p in result.pools.values():
                    con.execute("INSERT INTO pool_results VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
                                "?)", [
                        run_id, p.pool, p.budget, p.budget_source, p.reserve, p.self_pay, p.distributable,
                        units_to_decimal(p.total_points_units, p.scale), p.point_value_yuan,
                        fraction_text(p.point_value), p.provisional_method, p.cases, p.fund_payments, p.prepaid,
                        p.reserve_to_hospitals, p.reserve_to_counties, p.reserve_left,
                        units_to_decimal(p.undeducted_units, p.scale)])
                con.register("h_frame", result.hospitals.to_arrow())
                con.register("c_frame", result.counties.to_arrow())
                con.execute("INSERT INTO hospital_results BY NAME SELECT ? AS run_id, * FROM h_frame", [run_id])
                con.execute("INSERT INTO county_results BY NAME SELECT ? AS run_id, * FROM c_frame", [run_id])
                from drg.monitoring.store import record_run

                record_run(con, run_id, result)   # the sums monitoring reads (SPEC §9)
                if outputs:
                    con.executemany("INSERT INTO run_outputs VALUES (?, ?, ?)",
                                    [[run_id, role, path] for role, path in outputs])
                rejects = getattr(getattr(result, "aggregates", None), "rejects", None)
                if rejects is not None and rejects.height:
                    con.register("r_frame", rejects.to_arrow())
                    con.execute("INSERT INTO run_rejects SELECT ?, file, row_number, reject_reason, reject_detail, "
                                "total_cost_fen, fund_paid_fen FROM r_frame", [run_id])
                if result.warnings:
                    con.executemany("INSERT INTO warnings VALUES (?, ?, ?, ?, ?, ?, ?)", [
                        [run_id, w.kind, w.pool, w.subject, w.message, w.value, w.threshold]
                        for w in result.warnings])
                pause = os.environ.get(PAUSE_ENV)
                if pause:
                    import sys

                    sys.stderr.write(f"ledger: pausing {pause} s inside the open transaction\n")
                    sys.stderr.flush()
                    time.sleep(float(pause))
                con.execute("COMMIT")
            except BaseException:
                try:   # (a failed COMMIT has ended the transaction already: its own error is the one to report)
                    con.execute("ROLLBACK")
                except Exception:
                    pass
                raise
        return run_id

    # ------------------------------------------------------------------ reading
    def runs(self):
        """One row per run: run id, kind, period, policy, scheme, created, prepaid source, point values (by
        pool, yuan per point), hospital rows, warnings, inputs, and ``stale`` (a year run whose months were
        run again after it) with its reason."""
        import polars as pl

        rows = self._query("""
            SELECT r.run_id, r.kind, r.period, r.policy_id, r.scheme_id, r.created_at, r.prepaid_source,
                   string_agg(p.pool || ' ' || CAST(p.point_value AS VARCHAR), ', ' ORDER BY p.pool) AS point_values,
                   (SELECT count(*) FROM hospital_results h WHERE h.run_id = r.run_id) AS hospital_rows,
                   (SELECT count(*) FROM warnings w WHERE w.run_id = r.run_id) AS warnings,
                   (SELECT count(*) FROM run_inputs i WHERE i.run_id = r.run_id) AS inputs,
                   any_value(s.stale) AS stale, any_value(s.stale_reason) AS stale_reason
            FROM runs r LEFT JOIN pool_results p USING (run_id) LEFT JOIN run_status s USING (run_id)
            GROUP BY r.run_id, r.kind, r.period, r.policy_id, r.scheme_id, r.created_at, r.prepaid_source, r.year
            ORDER BY r.year, r.kind = 'year', r.period""")
        cols = ["run_id", "kind", "period", "policy_id", "scheme_id", "created_at", "prepaid_source",
                "point_values", "hospital_rows", "warnings", "inputs", "stale", "stale_reason"]
        return pl.DataFrame(rows, schema=cols, orient="row") if rows else pl.DataFrame(schema=cols)

    def table(self, name: str, run_id: str | None = None):
        """A ledger table or view (:data:`LEDGER_TABLES`, :data:`LEDGER_VIEWS`) as a polars frame
        (optionally one run's rows)."""

        if name not in LEDGER_TABLES + LEDGER_VIEWS:
            raise InputError(f"no ledger table {name!r} (tables: {', '.join(LEDGER_TABLES)}; views: "
                             f"{', '.join(LEDGER_VIEWS)})")
        if not self.path.exists():
            raise InputError("ledger not found", file=str(self.path))
        with self.connect(read_only=True) as con:
            sql = f"SELECT * FROM {name}" + (" WHERE run_id = ?" if run_id else "")
            return con.sql(sql, params=[run_id] if run_id else None).pl()

    def column_comments(self, name: str) -> dict[str, str]:
        """``{column: comment}`` of a view (its Chinese and English description)."""
        rows = self._query("SELECT column_name, comment FROM duckdb_columns() WHERE table_name = ? "
                           "ORDER BY column_index", [name])
        return {c: m for c, m in rows if m}

    def committed_runs(self, path: str) -> list[str]:
        """The runs that wrote files under the output directory ``path``, oldest first."""
        rows = self._query("""SELECT o.run_id FROM run_outputs o JOIN runs r USING (run_id) WHERE o.path = ?
                              ORDER BY r.created_at, o.run_id""", [path]) if self._has_table("run_outputs") else []
        return [r for (r,) in rows]

    def _has_table(self, name: str) -> bool:
        return bool(self._query("SELECT 1 FROM information_schema.tables WHERE table_name = ?", [name]))

    def point_values(self, year: int, kind: str = "year") -> dict[str, Fraction]:
        """Exact point values (fen per point) by pool of the ``kind`` runs of ``year`` (last month's for months)."""
        rows = self._query("""SELECT p.pool, p.point_value_exact FROM runs r JOIN pool_results p USING (run_id)
                              WHERE r.kind = ? AND r.year = ? ORDER BY r.period""", [kind, year])
        return {pool: Fraction(v) for pool, v in rows}

    def monthly_point_values(self, year: int | None = None) -> list[tuple[str, str, str, Fraction]]:
        """``(kind, period, pool, point value fen)`` of every run (of ``year``), in period order."""
        where = "WHERE r.year = ?" if year is not None else ""
        rows = self._query(f"""SELECT r.kind, r.period, p.pool, p.point_value_exact FROM runs r
                               JOIN pool_results p USING (run_id) {where} ORDER BY r.period, p.pool""",
                           [year] if year is not None else [])
        return [(k, per, pool, Fraction(v)) for k, per, pool, v in rows]

    def fund_spending(self, year: int) -> dict[str, int]:
        """Σ fund payments by pool of the annual run of ``year`` (last year's fund DRG spending)."""
        rows = self._query("""SELECT p.pool, p.fund_payments_fen FROM runs r JOIN pool_results p USING (run_id)
                              WHERE r.kind = 'year' AND r.year = ?""", [year])
        return {pool: int(v) for pool, v in rows}

    def hospital_cmi(self, year: int, pool: str) -> dict[str, float]:
        """Per-hospital CMI of the annual run of ``year`` in ``pool``."""
        rows = self._query("""SELECT h.hospital_id, h.cmi FROM runs r JOIN hospital_results h USING (run_id)
                              WHERE r.kind = 'year' AND r.year = ? AND h.pool = ? AND h.cmi IS NOT NULL""",
                           [year, pool])
        return {h: float(v) for h, v in rows}

    def prepayments(self, year: int) -> tuple[dict[tuple[str, str], int], set[int]]:
        """Σ monthly prepayments by (pool, hospital) over the monthly runs of ``year``, and the months run."""
        rows = self._query("""SELECT h.pool, h.hospital_id, sum(h.prepaid) FROM runs r
                              JOIN hospital_results h USING (run_id)
                              WHERE r.kind = 'month' AND r.year = ? GROUP BY ALL""", [year])
        months = {int(m) for (m,) in self._query("SELECT month FROM runs WHERE kind = 'month' AND year = ?", [year])}
        return {(p, h): int(v) for p, h, v in rows}, months


# ---------------------------------------------------------------------- layout
def _needs_upgrade(con) -> bool:
    """Whether an open connection shows a ledger of an earlier layout (one that has runs)."""
    if _schema_version(con) == _current_version():
        return False
    return bool(con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = 'runs'").fetchall()[0][0])


def _views_digest() -> str:
    import hashlib

    return hashlib.sha256(repr(_VIEWS).encode()).hexdigest()[:16]


def _schema_version(con) -> str | None:
    """The layout a ledger is at: ``"VERSION/VIEWS-DIGEST"`` (views are recreated when their text changes)."""
    has = con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = 'ledger_meta'").fetchall()[0][0]
    if not has:  # a ledger of the first layout
        return None
    rows = con.execute("SELECT value FROM ledger_meta WHERE key = 'schema_version'").fetchall()
    return rows[0][0] if rows else None


def _current_version() -> str:
    return f"{SCHEMA_VERSION}/{_views_digest()}"


def _upgrade(con) -> None:
    """Bring a ledger to :data:`SCHEMA_VERSION` in one transaction: money columns renamed by unit, the yuan
    views created with their column comments."""
    con.execute("BEGIN TRANSACTION")
    try:
        for table, renames in _RENAMES_V2.items():
            have = {r[0] for r in con.execute("SELECT column_name FROM information_schema.columns "
                                              "WHERE table_name = ?", [table]).fetchall()}
            for old, new in renames.items():
                if old in have and new not in have:
                    con.execute(f"ALTER TABLE {table} RENAME COLUMN {old} TO {new}")
        for name, comment, select, columns in _VIEWS:
            con.execute(f"CREATE OR REPLACE VIEW {name} AS {select}")
            con.execute(f"COMMENT ON VIEW {name} IS {_sql_text(comment)}")
            for col, text in columns.items():
                con.execute(f"COMMENT ON COLUMN {name}.{col} IS {_sql_text(text)}")
        con.execute("INSERT OR REPLACE INTO ledger_meta VALUES ('schema_version', ?)", [_current_version()])
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
