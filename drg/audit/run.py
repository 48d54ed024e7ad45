"""``drg audit run``: the detectors over a period's priced cases, the review queue they fill.

:func:`audit_run` reads the audited priced files and the history (:mod:`drg.audit.cases`), this year's and
last year's monitoring facts (:mod:`drg.audit.facts`), runs every detector (:data:`drg.audit.common.DETECTORS`),
keeps the findings that score at least ``audit.min_score``, and writes the queue (Parquet), its signals
(``QUEUE.signals.parquet``) and its workbook (``QUEUE.xlsx``, :mod:`drg.audit.queue`); with a ledger it also
records the queue there (:mod:`drg.audit.ledger`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from drg.audit.common import DETECTORS
from drg.errors import InputError

__all__ = ["AuditResult", "audit_run", "run_detectors"]


@dataclass
class AuditResult:
    """What :func:`audit_run` found: the queue (polars frame of :data:`drg.audit.queue.QUEUE_COLUMNS`), the
    signals (a list of dicts), per-detector summaries, the audited case count and the files written."""

    queue_id: str
    period: str | None
    queue: Any
    signals: list[dict]
    detectors: dict[str, dict]
    audited_cases: int
    files: dict[str, str] = field(default_factory=dict)
    policy_id: str = ""
    min_score: float = 0.5

    def counts(self) -> dict[str, int]:
        import polars as pl

        return {d: self.queue.filter(pl.col("detector") == d).height for d in DETECTORS}

    def summary(self) -> dict:
        """JSON-able: the queue id, the counts per detector, each detector's summary, the signals, the files."""
        return {"queue_id": self.queue_id, "period": self.period, "policy_id": self.policy_id,
                "audited_cases": self.audited_cases, "min_score": self.min_score, "queued": self.queue.height,
                "by_detector": self.counts(), "detectors": self.detectors, "signals": self.signals,
                "files": self.files}


def _sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _tiers(hospitals, ledger, year: int) -> dict[str, str]:
    if hospitals is not None:
        from drg.casefile.tables import read_hospitals

        return {h: v["tier"] for h, v in read_hospitals(hospitals).items()}
    if ledger is not None:
        from drg.monitoring.store import read_hospitals

        return {h: str(v.get("tier") or "") for h, v in read_hospitals(ledger, year).items()}
    return {}


def run_detectors(ac, policy, *, ledger=None) -> list:
    """Every detector's :class:`drg.audit.common.Findings` over ``ac`` (:class:`drg.audit.cases.AuditCases`)."""
    from drg.audit.cost_shift import detect_cost_shift
    from drg.audit.duplicates import detect_duplicates
    from drg.audit.facts import year_facts
    from drg.audit.low_standard import detect_low_standard
    from drg.audit.split import detect_split
    from drg.audit.upcoding import detect_upcoding

    months = None
    if ac.period:
        from drg.settlement.periods import parse_period

        months = tuple(parse_period(ac.period).months)
    now, last, source = year_facts(ac, policy, ledger, months)
    return [detect_split(ac, policy), detect_low_standard(ac, policy),
            detect_upcoding(ac, policy, facts_now=now, facts_last=last, last_source=source),
            detect_duplicates(ac, policy), detect_cost_shift(ac, policy)]


def _queue_frame(findings: list, ac, policy, queue_id: str):
    """The queue rows: findings scoring at least ``audit.min_score`` with the case's columns, ranked."""
    import polars as pl

    from drg.audit.common import empty_rows

    rows = pl.concat([f.rows for f in findings] or [empty_rows()], how="vertical_relaxed")
    rows = rows.filter(pl.col("score") >= float(policy.audit.min_score) - 1e-12)
    suggested = {"split_admission": policy.audit.split.violation, "low_standard": policy.audit.low_standard.violation,
                 "upcoding": policy.audit.upcoding.violation, "duplicate_claim": policy.audit.duplicate.violation,
                 "cost_shift": policy.audit.cost_shift.violation}
    order = {d: i for i, d in enumerate(DETECTORS)}
    info = ac.audited.select("case_id", "hospital_id", "pool", pl.col("discharge").alias("discharge_date"), "drg",
                             "adrg", "case_class", pl.col("total_fen").alias("total_cost_fen"), "points",
                             "adjusted_points")
    q = (rows.join(info, on="case_id", how="left")
         .with_columns(pl.col("detector").replace_strict(order, return_dtype=pl.Int32).alias("_o"),
                       pl.col("score").round(4), pl.col("strength").round(4))
         .sort(["_o", "score", "case_id"], descending=[False, True, False])
         .with_columns(pl.int_range(1, pl.len() + 1).over("detector").cast(pl.Int32).alias("rank"),
                       pl.format("{}-{}", pl.lit(queue_id), pl.int_range(1, pl.len() + 1).cast(pl.String)
                                 .str.zfill(5)).alias("queue_ref"),
                       pl.lit(queue_id).alias("queue_id"),
                       pl.col("detector").replace_strict(suggested, return_dtype=pl.String).alias("suggested_violation"),
                       pl.lit(None, pl.String).alias("decision"), pl.lit(None, pl.String).alias("violation"),
                       pl.lit(None, pl.Boolean).alias("serious"), pl.lit(None, pl.Float64).alias("multiplier"),
                       pl.lit(None, pl.String).alias("reviewer_note"))
         .drop("_o"))
    from drg.audit.queue import QUEUE_COLUMNS

    return q.select(QUEUE_COLUMNS)


def audit_run(priced, history=(), *, policy, out: str | Path, ledger=None, hospitals=None, period: str | None = None,
              workbook: bool = True) -> AuditResult:
    """Run the detectors and write the review queue.

    Parameters
    ----------
    priced : path or list of paths
        Priced case files (``drg points``) of the audited period.
    history : paths
        Earlier priced (or grouped) files: context for the rules (never queued).
    policy : name, path or :class:`drg.policy.Policy`
        The ``[audit]`` parameters and the violation multipliers.
    out : path
        The queue's Parquet file; ``OUT.signals.parquet`` and (``workbook``) ``OUT.xlsx`` beside it.
    ledger : path or :class:`drg.settlement.ledger.Ledger`, optional
        Last year's monitoring facts and the hospitals' tiers come from it; the queue is recorded in it.
    hospitals : path, optional
        The hospitals table (tiers for the cost-shifting peers); else the ledger's.
    period : str, optional
        ``YYYY``, ``YYYY-MM``, ``YYYY-Qn``, ``YYYY-Hn``: the audited cases are those discharged in it.
    """
    import polars as pl

    from drg.audit.cases import read_audit_cases
    from drg.audit.queue import write_queue, write_queue_workbook
    from drg.policy import Policy, load_policy

    pol = policy if isinstance(policy, Policy) else load_policy(policy)
    led = None
    if ledger is not None:
        from drg.settlement.ledger import Ledger

        led = ledger if isinstance(ledger, Ledger) else Ledger(ledger)
        if not led.path.exists():
            raise InputError("ledger not found", file=str(led.path))
    priced_list = [Path(p) for p in ([priced] if isinstance(priced, (str, Path)) else priced)]
    history_list = [Path(p) for p in ([history] if isinstance(history, (str, Path)) else history)]
    ac = read_audit_cases(priced_list, history_list, period=period, policy=pol)
    if not ac.audited.height:
        raise InputError(f"no priced case discharged in {period}" if period else "no priced case to audit",
                         file=", ".join(map(str, priced_list)))
    ac.tiers = _tiers(hospitals, led, ac.year)
    findings = run_detectors(ac, pol, ledger=led)

    digest = hashlib.sha256()
    for p in priced_list + history_list:
        digest.update(_sha256(p).encode())
    digest.update(json.dumps({"policy": pol.id, "period": ac.period,
                              "audit": repr(pol.audit), "tiers": sorted(ac.tiers.items())}).encode())
    queue_id = f"AQ-{ac.period or ac.year}-{digest.hexdigest()[:8]}"
    queue = _queue_frame(findings, ac, pol, queue_id)
    signals = [s for f in findings for s in f.signals]
    detectors = {f.detector: {**f.summary, "queued": queue.filter(pl.col("detector") == f.detector).height}
                 for f in findings}
    out = Path(out)
    result = AuditResult(queue_id, ac.period, queue, signals, detectors, ac.audited.height, policy_id=pol.id,
                         min_score=float(pol.audit.min_score))
    meta = {"queue_id": queue_id, "period": ac.period or str(ac.year), "policy_id": pol.id,
            "scheme_id": ac.scheme_id or "", "min_score": str(pol.audit.min_score),
            "priced": json.dumps([str(p) for p in priced_list], ensure_ascii=False),
            "history": json.dumps([str(p) for p in history_list], ensure_ascii=False)}
    write_queue(queue, out, metadata=meta)
    result.files["queue"] = str(out)
    sig_path = out.with_name(out.stem + ".signals.parquet")
    _write_signals(signals, sig_path)
    result.files["signals"] = str(sig_path)
    if workbook:
        info = [("队列编号", queue_id), ("期间", ac.period or str(ac.year)), ("政策", pol.id),
                ("分组方案", ac.scheme_id or "—"), ("审核病例数", ac.audited.height),
                ("入队阈值 audit.min_score", float(pol.audit.min_score)),
                ("计价文件", "; ".join(map(str, priced_list)))]
        book = out.with_suffix(".xlsx")
        write_queue_workbook(queue, signals, book, info=info, summary=detectors)
        result.files["workbook"] = str(book)
    if led is not None:
        from drg.audit.ledger import record_queue

        record_queue(led, queue, period=ac.period or str(ac.year), policy_id=pol.id)
        result.files["ledger"] = str(led.path)
    return result


def _write_signals(signals: list[dict], path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from drg.outputs import atomic_path

    keys = ("detector", "level", "hospital_id", "unit", "what", "observed", "cases", "expected", "ratio", "p", "p_adj")
    schema = pa.schema([("detector", pa.string()), ("level", pa.string()), ("hospital_id", pa.string()),
                        ("unit", pa.string()), ("what", pa.string()), ("observed", pa.float64()),
                        ("cases", pa.int64()), ("expected", pa.float64()), ("ratio", pa.float64()),
                        ("p", pa.float64()), ("p_adj", pa.float64()), ("figures", pa.string())])
    cols = {k: [s.get(k) for s in signals] for k in keys}
    cols["figures"] = [json.dumps({k: v for k, v in s.items() if k not in keys}, ensure_ascii=False, default=str)
                       for s in signals]
    with atomic_path(path) as tmp:
        pq.write_table(pa.table(cols, schema=schema), tmp)
