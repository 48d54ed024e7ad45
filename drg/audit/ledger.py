"""The audit in the settlement ledger: the review queues, the reviewers' decisions, and the trail from each
deduction back to its queue row.

    audit_queue   queue_id, queue_ref, period, policy_id, detector, rank, score, case_id, hospital_id, pool,
                  discharge_date, drg, suggested_violation, evidence_text, recorded_at, decision, violation,
                  serious, multiplier, decided_at
    audit_trail   (view) every settled deduction (``deductions``, :mod:`drg.settlement.deductions`) with the
                  queue row(s) its ``violation_ref`` names: run, period, pool, hospital, case, violation,
                  deduction points, queue reference, detector, score, evidence, decision

``drg audit run --ledger`` records a queue (replacing an earlier recording of the same queue id);
``drg audit apply --ledger`` records the decisions on its rows.
"""

from __future__ import annotations

from datetime import datetime, timezone

__all__ = ["AUDIT_DDL", "record_decisions", "record_queue", "trail"]

AUDIT_DDL = """
CREATE TABLE IF NOT EXISTS audit_queue (
    queue_id VARCHAR NOT NULL, queue_ref VARCHAR NOT NULL, period VARCHAR, policy_id VARCHAR, detector VARCHAR,
    rank INTEGER, score DOUBLE, case_id VARCHAR, hospital_id VARCHAR, pool VARCHAR, discharge_date DATE,
    drg VARCHAR, suggested_violation VARCHAR, evidence_text VARCHAR, recorded_at TIMESTAMP, decision VARCHAR,
    violation VARCHAR, serious BOOLEAN, multiplier DOUBLE, decided_at TIMESTAMP);
CREATE OR REPLACE VIEW audit_trail AS
    SELECT d.run_id, r.kind, r.period, d.pool, d.hospital_id, d.case_id, d.discharge_date, d.drg, d.violation,
           d.points, d.adjusted_points, d.deduction_points, q.queue_ref, q.queue_id, q.detector, q.score,
           q.evidence_text, q.decision, q.serious, q.multiplier, q.decided_at
    FROM deductions d JOIN runs r USING (run_id)
    LEFT JOIN audit_queue q ON d.violation_ref IS NOT NULL
         AND list_contains(string_split(d.violation_ref, ';'), q.queue_ref);
"""


def _now():
    return datetime.now(timezone.utc).replace(tzinfo=None)


def record_queue(ledger, queue, *, period: str, policy_id: str) -> None:
    """Store a queue (polars frame of :data:`drg.audit.queue.QUEUE_COLUMNS`) in ``audit_queue``, replacing the
    rows of the same queue id, in one transaction."""
    import polars as pl

    rows = queue.select("queue_id", "queue_ref", pl.lit(period).alias("period"), pl.lit(policy_id).alias("policy_id"),
                        "detector", "rank", "score", "case_id", "hospital_id", "pool", "discharge_date", "drg",
                        "suggested_violation", "evidence_text", pl.lit(_now()).alias("recorded_at"),
                        "decision", "violation", "serious", "multiplier", pl.lit(None, pl.Datetime).alias("decided_at"))
    with ledger.connect() as con:
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(AUDIT_DDL)
            ids = rows["queue_id"].unique().to_list()
            for qid in ids:
                con.execute("DELETE FROM audit_queue WHERE queue_id = ?", [qid])
            con.register("q_new", rows.to_arrow())
            con.execute("INSERT INTO audit_queue BY NAME SELECT * FROM q_new")
            con.unregister("q_new")
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise


def record_decisions(ledger, decided) -> int:
    """Record decided rows (``queue_ref, decision, violation, serious, multiplier``) on their queue rows;
    return how many rows of ``audit_queue`` were updated (a reference the ledger does not know is skipped)."""
    if decided is None or not decided.height:
        return 0
    with ledger.connect() as con:
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(AUDIT_DDL)
            con.register("d_new", decided.select("queue_ref", "decision", "violation", "serious", "multiplier").to_arrow())
            n = con.execute("""UPDATE audit_queue q SET decision = d.decision, violation = d.violation,
                               serious = d.serious, multiplier = d.multiplier, decided_at = ?
                               FROM d_new d WHERE q.queue_ref = d.queue_ref""", [_now()]).fetchall()
            con.unregister("d_new")
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    return int(n[0][0]) if n and n[0] else 0


def trail(ledger, run_id: str | None = None):
    """The ``audit_trail`` view (optionally one run's rows) as a polars frame."""
    with ledger.connect() as con:
        con.execute(AUDIT_DDL)
        sql = "SELECT * FROM audit_trail" + (" WHERE run_id = ?" if run_id else "") + " ORDER BY run_id, case_id"
        return con.sql(sql, params=[run_id] if run_id else None).pl()
