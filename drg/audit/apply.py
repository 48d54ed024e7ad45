"""``drg audit apply``: the reviewers' decisions turned into the violations table ``drg points --violations``
deducts (SPEC §5.2; CONTRACT.md: ``case_id, violation, serious``, optional ``multiplier``).

Every queue row decided ``violation`` (违规) becomes a violation of its case: the type the reviewer wrote,
else the one the detector suggested; ``serious`` as decided (empty: not serious, so the case's points go to
0 without a further deduction); the multiplier as written (empty: the policy's for the type). The row's
``queue_ref`` goes with it (column ``queue_ref``), so the priced file (``violation_ref``) and the ledger show
which queue row each deduction came from.

A case decided a violation on more than one row (two detectors) is one violation: the row whose deduction
multiplier is the largest (the written one, else the policy's; ties: the first row in queue order), with
every decided row's reference joined by ``;``. Rows decided ``no_violation`` and undecided rows are left
out; an unknown decision, type or multiplier is an error naming the row.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

from drg.errors import InputError

__all__ = ["ApplyResult", "VIOLATION_COLUMNS", "apply_decisions", "decisions_to_violations"]

#: Columns of the violations table written.
VIOLATION_COLUMNS = ("case_id", "violation", "serious", "multiplier", "queue_ref", "detector")

_TRUE = {"1", "true", "yes", "y", "t", "是", "严重"}
_FALSE = {"0", "false", "no", "n", "f", "否", "", "不严重"}


@dataclass
class ApplyResult:
    """What :func:`apply_decisions` did: rows read, decided (violation / no violation), pending, the
    violations written (one per case), per detector, and the file."""

    rows: int
    violations: int
    no_violation: int
    pending: int
    by_detector: dict[str, int]
    out: str
    decided_rows: object = None   # polars frame: queue_ref, decision, violation, serious, multiplier (for the ledger)

    def summary(self) -> dict:
        return {"rows": self.rows, "violations": self.violations, "no_violation": self.no_violation,
                "pending": self.pending, "by_detector": self.by_detector, "out": self.out}


def _text(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float) and v != v:
        return ""
    return str(v).strip()


def decisions_to_violations(queue, policy, *, file: str = "queue"):
    """``(violations frame, decided rows frame, counts)`` from a filled queue (:func:`drg.audit.queue.read_queue`)."""
    import polars as pl

    from drg.audit.queue import DECISIONS

    rows = []
    counts = {"violation": 0, "no_violation": 0, "pending": 0}
    sheet = queue["_sheet"].to_list() if "_sheet" in queue.columns else [None] * queue.height
    for i, r in enumerate(queue.iter_rows(named=True)):
        where = {"file": file + (f" (sheet {sheet[i]})" if sheet[i] else ""), "row": i + 1}
        raw = _text(r["decision"])
        if raw.lower() not in DECISIONS and raw not in DECISIONS:
            raise InputError(f"decision {raw!r} is not one of 违规/不违规/待定 (violation/no_violation/pending)",
                             field="decision", **where)
        decision = DECISIONS.get(raw.lower(), DECISIONS.get(raw))
        ref, case = _text(r["queue_ref"]), _text(r["case_id"])
        if decision is None:
            counts["pending"] += 1
            continue
        if not ref or not case:
            raise InputError("a decided row has no queue_ref or case_id", field="queue_ref" if not ref else "case_id",
                             **where)
        counts[decision] += 1
        vtype = _text(r["violation"]) or _text(r["suggested_violation"])
        serious_text = _text(r["serious"]).lower()
        if isinstance(r["serious"], bool):
            serious = r["serious"]
        elif serious_text in _TRUE:
            serious = True
        elif serious_text in _FALSE:
            serious = False
        else:
            raise InputError(f"serious {r['serious']!r} is not 是/否 (yes/no)", field="serious", **where)
        mult_text = _text(r["multiplier"])
        multiplier = None
        if mult_text:
            try:
                multiplier = Decimal(mult_text)
            except InvalidOperation:
                raise InputError(f"multiplier {mult_text!r} is not a number", field="multiplier", **where) from None
            if multiplier < 0:
                raise InputError("multiplier must be ≥ 0", field="multiplier", **where)
        if decision == "violation":
            if not vtype:
                raise InputError("a violation without a type (and no suggested type)", field="violation", **where)
            m = multiplier if multiplier is not None else policy.violations.multiplier(vtype)
            if serious and m is None:
                raise InputError(f"violation type {vtype!r} has no multiplier in the policy (violations.multipliers) "
                                 "and the row gives none", field="multiplier", **where)
        rows.append({"queue_ref": ref, "case_id": case, "detector": _text(r["detector"]) or None,
                     "decision": decision, "violation": vtype or None, "serious": serious,
                     "multiplier": None if multiplier is None else float(multiplier), "order": i,
                     "rank_m": float(m) if decision == "violation" and m is not None else 0.0})
    decided = pl.DataFrame(rows, schema={"queue_ref": pl.String, "case_id": pl.String, "detector": pl.String,
                                         "decision": pl.String, "violation": pl.String, "serious": pl.Boolean,
                                         "multiplier": pl.Float64, "order": pl.Int64, "rank_m": pl.Float64})
    v = decided.filter(pl.col("decision") == "violation")
    refs = v.sort("order").group_by("case_id", maintain_order=True).agg(pl.col("queue_ref").str.join(";").alias("refs"))
    best = (v.sort(["case_id", "rank_m", "order"], descending=[False, True, False])
            .unique("case_id", keep="first", maintain_order=True)
            .join(refs, on="case_id").sort("order"))
    violations = best.select("case_id", "violation", "serious", "multiplier", pl.col("refs").alias("queue_ref"),
                             "detector")
    return violations, decided.drop("order", "rank_m"), counts


def apply_decisions(queue: str | Path, out: str | Path, *, policy, ledger=None) -> ApplyResult:
    """Read a filled queue (Parquet, CSV or its workbook), write the violations table to ``out`` (Parquet, or
    CSV with a BOM for ``.csv``), and with ``ledger`` record the decisions against the queue rows there."""
    from drg.audit.queue import read_queue
    from drg.policy import Policy, load_policy

    pol = policy if isinstance(policy, Policy) else load_policy(policy)
    q = read_queue(queue)
    violations, decided, counts = decisions_to_violations(q, pol, file=str(queue))
    out = Path(out)
    if out.suffix.lower() == ".csv":
        from drg.outputs import write_csv

        write_csv(violations, out, user_text=["violation", "detector"])
    else:
        import pyarrow.parquet as pq

        from drg.outputs import atomic_path

        with atomic_path(out) as tmp:
            pq.write_table(violations.to_arrow(), tmp)
    by = {d: int(n) for d, n in violations.group_by("detector").len().iter_rows()} if violations.height else {}
    result = ApplyResult(q.height, violations.height, counts["no_violation"], counts["pending"], by, str(out),
                         decided_rows=decided)
    if ledger is not None:
        from drg.audit.ledger import record_decisions
        from drg.settlement.ledger import Ledger

        led = ledger if isinstance(ledger, Ledger) else Ledger(ledger)
        record_decisions(led, decided)
    return result
