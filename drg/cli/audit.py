"""CLI of the audit (智能监控): ``drg audit run``, ``drg audit apply`` and ``drg audit measure``.

Thin: each command parses its options, calls one library function (:func:`drg.audit.run.audit_run`,
:func:`drg.audit.apply.apply_decisions`, :func:`drg.audit.measure.measure`) and prints a rich table, or
JSON with ``--json``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from drg.cli.options import PERIOD_HELP, period_value

_ZH = {"split_admission": "分解住院", "low_standard": "低标准入院", "upcoding": "高套分组", "duplicate_claim": "重复结算",
       "cost_shift": "转嫁费用"}


def register(app, **_: object) -> None:
    """Attach ``drg audit`` (called by ``drg.cli``)."""
    from drg.cli import sub_app

    audit_app = sub_app("智能监控: find suspect cases, queue them for review, turn decisions into violations.")
    app.add_typer(audit_app, name="audit", short_help="find suspect cases, queue them for review, apply decisions")

    @audit_app.command("run", short_help="run the detectors over priced cases; write the review queue")
    def run_cmd(
        priced: list[Path] = typer.Option(..., "--priced", help="priced cases of the audited period (drg points); "
                                          "repeat for several files"),
        history: Optional[list[Path]] = typer.Option(None, "--history", help="earlier priced or grouped cases "
                                                     "(context only, never queued); repeat for several files"),
        policy: str = typer.Option(..., "--policy", help="policy profile name or TOML path ([audit] parameters)"),
        out: Path = typer.Option(..., "--out", help="the queue (Parquet); the workbook (.xlsx) and the signals "
                                 "(.signals.parquet) are written beside it"),
        ledger: Optional[Path] = typer.Option(None, "--ledger", help="ledger: last year's monitoring facts and "
                                              "the hospitals' tiers come from it; the queue is recorded in it"),
        hospitals: Optional[Path] = typer.Option(None, "--hospitals", help="hospitals table (tiers for the "
                                                 "cost-shifting peers; default: the ledger's)"),
        period: Optional[str] = typer.Option(None, "--period", help="audit the cases discharged in this period: "
                                             + PERIOD_HELP + " (default: every case of --priced)"),
        no_workbook: bool = typer.Option(False, "--no-workbook", help="write the Parquet queue only"),
        as_json: bool = typer.Option(False, "--json", help="print JSON"),
    ) -> None:
        """Find suspect cases — split admissions (分解住院), low-standard admissions (低标准入院), upcoding
        (高套分组), duplicate claims (重复结算), cost shifting to patients (转嫁费用) — score them, and write the
        review queue: one row per flagged case with its evidence and the columns a reviewer fills, as Parquet
        and as a Chinese workbook with a sheet per detector (docs/audit.md)."""
        from drg.audit.run import audit_run

        result = audit_run(priced, history or [], policy=policy, out=out, ledger=ledger, hospitals=hospitals,
                           period=period_value(period) if period else None, workbook=not no_workbook)
        if as_json:
            typer.echo(json.dumps(result.summary(), ensure_ascii=False, indent=2, default=str))
            return
        from rich.table import Table

        from drg.reports.labels import console

        con = console()
        t = Table(title=f"audit queue {result.queue_id} — {result.audited_cases:,} cases audited, "
                        f"score ≥ {result.min_score} queued (policy {result.policy_id})")
        for c in ("detector", "rule hits", "hospitals flagged", "queued"):
            t.add_column(c, justify="right" if c in ("rule hits", "queued") else "left")
        for det, n in result.counts().items():
            s = result.detectors.get(det, {})
            hits = s.get("candidates", 0)
            flagged = ", ".join(s.get("hospitals_flagged", [])) or "—"
            t.add_row(f"{det} ({_ZH[det]})", f"{int(hits or 0):,}", flagged, f"{n:,}")
        con.print(t)
        for det, s in result.detectors.items():
            for k, v in s.items():
                if k.startswith("note"):
                    con.print(f"[yellow]{det}:[/] {v}", highlight=False)
        for name, path in result.files.items():
            con.print(f"wrote {name}: {path}", highlight=False)

    @audit_app.command("apply", short_help="turn the reviewers' decisions into the violations table")
    def apply_cmd(
        queue: Path = typer.Argument(..., metavar="QUEUE", help="the filled queue: its Parquet file, a CSV, or its "
                                     "workbook (.xlsx)"),
        out: Path = typer.Option(..., "--out", help="the violations table for drg points --violations (.parquet "
                                 "or .csv)"),
        policy: str = typer.Option(..., "--policy", help="policy profile name or TOML path (the violation "
                                   "multipliers)"),
        ledger: Optional[Path] = typer.Option(None, "--ledger", help="ledger to record the decisions in"),
        as_json: bool = typer.Option(False, "--json", help="print JSON"),
    ) -> None:
        """Every row decided 违规 (violation) becomes a violation of its case — the type written, else the
        suggested one; serious as decided; the multiplier written, else the policy's — with its queue_ref, so
        the priced file and the ledger show each deduction with its queue row."""
        from drg.audit.apply import apply_decisions

        result = apply_decisions(queue, out, policy=policy, ledger=ledger)
        if as_json:
            typer.echo(json.dumps(result.summary(), ensure_ascii=False, indent=2))
            return
        from drg.reports.labels import console

        con = console()
        con.print(f"{result.rows:,} queue rows: {result.violations:,} violation(s) written, "
                  f"{result.no_violation:,} dismissed, {result.pending:,} pending", highlight=False)
        for det, n in sorted(result.by_detector.items()):
            con.print(f"  {det} ({_ZH.get(det, det)}): {n:,}", highlight=False)
        con.print(f"wrote violations: {result.out}", highlight=False)

    @audit_app.command("measure", short_help="precision and recall of a queue against planted truth")
    def measure_cmd(
        queue: Path = typer.Argument(..., metavar="QUEUE", help="the queue (Parquet) of drg audit run"),
        truth: Optional[Path] = typer.Option(None, "--truth", help="truth.parquet of drg synth --plant (none: "
                                             "an unplanted city, every flagged case is a false positive)"),
        priced: Path = typer.Option(..., "--priced", help="the audited priced file (the cases the rates are of)"),
        as_json: bool = typer.Option(False, "--json", help="print JSON"),
    ) -> None:
        """Per detector: the planted cases, the flagged ones, precision, recall and the false-positive rate."""
        import polars as pl

        from drg.audit.measure import measure
        from drg.errors import InputError

        for p in (queue, priced, truth):
            if p is not None and not p.exists():
                raise InputError("file not found", file=str(p))
        q = pl.read_parquet(queue)
        audited = pl.read_parquet(priced, columns=["case_id"])["case_id"]
        t = None
        if truth is not None:
            t = pl.read_parquet(truth).filter(pl.col("case_id").is_in(audited.implode()))
        m = measure(q, t, audited.len())
        if as_json:
            typer.echo(json.dumps(m, indent=2))
            return
        from rich.table import Table

        from drg.reports.labels import console

        tab = Table(title=f"{queue.name} against {truth.name if truth else 'no planted truth'} ({audited.len():,} cases)")
        for c in ("detector", "planted", "flagged", "true positives", "precision", "recall", "false-positive rate"):
            tab.add_column(c, justify="left" if c == "detector" else "right")
        for det, v in m.items():
            tab.add_row(f"{det} ({_ZH[det]})", str(v["planted"]), str(v["flagged"]), str(v["true_positives"]),
                        "—" if v["precision"] is None else f"{v['precision']:.1%}",
                        "—" if v["recall"] is None else f"{v['recall']:.1%}", f"{v['false_positive_rate']:.3%}")
        console().print(tab)
