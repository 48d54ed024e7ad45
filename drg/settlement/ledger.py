"""The settlement ledger: every run, its inputs and its results in one embedded DuckDB file.

The ledger is the bureau's record of what was computed and paid. Each run (a month ``2025-03`` or a year
``2025``) is stored with its policy id, scheme id, the sha256 of every input file, the pool figures (budget,
reserve, self-pay, distributable, total points, point value — exact as ``num/den`` fen per point and shown
in yuan), the per-hospital and per-county results and the warnings. The tables are plain SQL tables that any
DuckDB client can query::

    runs            run_id, kind (month|year), period, year, month, policy_id, scheme_id, created_at,
                    engine_version, prepaid_source, replaced_run
    run_inputs      run_id, role (priced|hospitals|budget|county_income|policy), path, sha256, size_bytes
    pool_results    run_id, pool, budget, budget_source, reserve, self_pay, distributable, total_points,
                    point_value, point_value_exact, provisional_method, cases, fund_payments, prepaid,
                    reserve_to_hospitals, reserve_to_counties, reserve_left, undeducted_points
    hospital_results run_id + the columns of ``hospitals.parquet`` (drg.settlement.runs.HOSPITAL_COLUMNS)
    county_results  run_id + the columns of ``counties.parquet`` (drg.settlement.runs.COUNTY_COLUMNS)
    warnings        run_id, kind, pool, subject, message, value, threshold
    run_outputs     run_id, role (out|statements), path: the directories the run wrote its files to
                    (``PATH/runs/RUN_ID``; drg.settlement.rundirs), committed with the run
    run_rejects     run_id, file, row_number, reject_reason, reject_detail, total_cost_fen, fund_paid_fen:
                    the priced rows the run could not settle (drg.settlement.aggregates), left out of it

Money columns are BIGINT fen; points and displayed point values DECIMAL(18,4).

A period is stored once: recording a period already present is refused unless ``replace=True``, which
deletes the old run and inserts the new one in a single transaction. Everything a run writes happens in
one transaction, so a run killed half-way leaves the ledger exactly as it was. (For the test of that, the
environment variable ``DRG_LEDGER_TEST_PAUSE`` = seconds makes :meth:`Ledger.record` sleep inside the open
transaction, after its inserts and before the commit.)
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

__all__ = ["Ledger", "LEDGER_TABLES", "PAUSE_ENV"]

PAUSE_ENV = "DRG_LEDGER_TEST_PAUSE"
LEDGER_TABLES = ("runs", "run_inputs", "pool_results", "hospital_results", "county_results", "warnings",
                 "run_outputs", "run_rejects")

_DDL = """
CREATE TABLE IF NOT EXISTS runs (
    run_id VARCHAR PRIMARY KEY, kind VARCHAR NOT NULL, period VARCHAR NOT NULL, year INTEGER NOT NULL,
    month INTEGER, policy_id VARCHAR, scheme_id VARCHAR, created_at TIMESTAMP, engine_version VARCHAR,
    prepaid_source VARCHAR, replaced_run VARCHAR, UNIQUE (kind, period));
CREATE TABLE IF NOT EXISTS run_inputs (
    run_id VARCHAR NOT NULL, role VARCHAR, path VARCHAR, sha256 VARCHAR, size_bytes BIGINT);
CREATE TABLE IF NOT EXISTS pool_results (
    run_id VARCHAR NOT NULL, pool VARCHAR NOT NULL, budget BIGINT, budget_source VARCHAR, reserve BIGINT,
    self_pay BIGINT, distributable BIGINT, total_points DECIMAL(18,4), point_value DECIMAL(18,4),
    point_value_exact VARCHAR, provisional_method VARCHAR, cases BIGINT, fund_payments BIGINT, prepaid BIGINT,
    reserve_to_hospitals BIGINT, reserve_to_counties BIGINT, reserve_left BIGINT,
    undeducted_points DECIMAL(18,4));
CREATE TABLE IF NOT EXISTS hospital_results (
    run_id VARCHAR NOT NULL, kind VARCHAR, period VARCHAR, pool VARCHAR, hospital_id VARCHAR, name VARCHAR,
    cases BIGINT, points DECIMAL(18,4), undeducted_points DECIMAL(18,4), entitlement BIGINT, self_paid BIGINT,
    fund_payment BIGINT, prepaid BIGINT, balance BIGINT, reserve_share BIGINT, total_cost BIGINT, loss BIGINT,
    cmi DOUBLE, outlier_share DOUBLE, point_value DECIMAL(18,4), point_value_exact VARCHAR);
CREATE TABLE IF NOT EXISTS county_results (
    run_id VARCHAR NOT NULL, kind VARCHAR, period VARCHAR, pool VARCHAR, county VARCHAR,
    q_points DECIMAL(18,4), share BIGINT, self_paid BIGINT, income BIGINT, drg_spending BIGINT,
    other_spending BIGINT, balance BIGINT, gap_claim BIGINT, city_share BIGINT, county_share BIGINT);
CREATE TABLE IF NOT EXISTS warnings (
    run_id VARCHAR NOT NULL, kind VARCHAR, pool VARCHAR, subject VARCHAR, message VARCHAR, value DOUBLE,
    threshold DOUBLE);
CREATE TABLE IF NOT EXISTS run_outputs (run_id VARCHAR NOT NULL, role VARCHAR, path VARCHAR);
CREATE TABLE IF NOT EXISTS run_rejects (
    run_id VARCHAR NOT NULL, file VARCHAR, row_number BIGINT, reject_reason VARCHAR, reject_detail VARCHAR,
    total_cost_fen BIGINT, fund_paid_fen BIGINT);
"""


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
        """A DuckDB connection to the ledger (tables created if needed when writable)."""
        import duckdb

        if read_only and not self.path.exists():
            raise InputError("ledger not found", file=str(self.path))
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            con = duckdb.connect(str(self.path), read_only=read_only)
        except duckdb.Error as exc:
            raise InputError(f"cannot open the ledger: {exc}", file=str(self.path)) from None
        try:
            if not read_only:
                con.execute(_DDL)
            yield con
        finally:
            con.close()

    def _query(self, sql: str, params: list | None = None) -> list[tuple]:
        if not self.path.exists():
            return []
        with self.connect(read_only=True) as con:
            if not con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = 'runs'").fetchone()[0]:
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
                    for t in LEDGER_TABLES:
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
                    con.execute("INSERT INTO pool_results VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", [
                        run_id, p.pool, p.budget, p.budget_source, p.reserve, p.self_pay, p.distributable,
                        units_to_decimal(p.total_points_units, p.scale), p.point_value_yuan,
                        fraction_text(p.point_value), p.provisional_method, p.cases, p.fund_payments, p.prepaid,
                        p.reserve_to_hospitals, p.reserve_to_counties, p.reserve_left,
                        units_to_decimal(p.undeducted_units, p.scale)])
                con.register("h_frame", result.hospitals.to_arrow())
                con.register("c_frame", result.counties.to_arrow())
                con.execute("INSERT INTO hospital_results SELECT ?, * FROM h_frame", [run_id])
                con.execute("INSERT INTO county_results SELECT ?, * FROM c_frame", [run_id])
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
        """One row per run: run id, kind, period, policy, scheme, created, pools, point values, warnings."""
        import polars as pl

        rows = self._query("""
            SELECT r.run_id, r.kind, r.period, r.policy_id, r.scheme_id, r.created_at, r.prepaid_source,
                   string_agg(p.pool || ' ' || CAST(p.point_value AS VARCHAR), ', ' ORDER BY p.pool) AS point_values,
                   (SELECT count(*) FROM hospital_results h WHERE h.run_id = r.run_id) AS hospital_rows,
                   (SELECT count(*) FROM warnings w WHERE w.run_id = r.run_id) AS warnings,
                   (SELECT count(*) FROM run_inputs i WHERE i.run_id = r.run_id) AS inputs
            FROM runs r LEFT JOIN pool_results p USING (run_id)
            GROUP BY r.run_id, r.kind, r.period, r.policy_id, r.scheme_id, r.created_at, r.prepaid_source, r.year
            ORDER BY r.year, r.kind = 'year', r.period""")
        cols = ["run_id", "kind", "period", "policy_id", "scheme_id", "created_at", "prepaid_source",
                "point_values", "hospital_rows", "warnings", "inputs"]
        return pl.DataFrame(rows, schema=cols, orient="row") if rows else pl.DataFrame(schema=cols)

    def table(self, name: str, run_id: str | None = None):
        """A ledger table as a polars frame (optionally one run's rows)."""

        if name not in LEDGER_TABLES:
            raise InputError(f"no ledger table {name!r} (tables: {', '.join(LEDGER_TABLES)})")
        if not self.path.exists():
            raise InputError("ledger not found", file=str(self.path))
        with self.connect(read_only=True) as con:
            sql = f"SELECT * FROM {name}" + (" WHERE run_id = ?" if run_id else "")
            return con.sql(sql, params=[run_id] if run_id else None).pl()

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
        rows = self._query("""SELECT p.pool, p.fund_payments FROM runs r JOIN pool_results p USING (run_id)
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
