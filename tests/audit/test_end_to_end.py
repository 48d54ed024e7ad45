"""The loop closed, through the command line: detect (drg audit run), decide (the reviewers' columns), deduct
(drg audit apply, drg points --violations), settle (drg settle year) — and each deduction is in the ledger
with the queue row it came from."""

from __future__ import annotations

import json
from decimal import Decimal

import duckdb
import polars as pl
from typer.testing import CliRunner

from drg.cli import app


def _run(*args: str) -> str:
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result.output


def test_detect_decide_deduct_settle(planted, tmp_path):
    ledger = tmp_path / "ledger.duckdb"
    city = planted.out / "city"
    common = ["--hospitals", city / "hospitals.parquet", "--budget", city / "budget.parquet", "--county-income",
              city / "county_income.parquet", "--policy", "demo", "--ledger", ledger, "--no-statements", "--json"]
    _run("settle", "year", "--year", "2024", "--priced", planted.priced[2024], *common)

    # detect: last year's facts and the tiers come from the ledger
    queue = tmp_path / "queue.parquet"
    summary = json.loads(_run("audit", "run", "--priced", planted.priced[2025], "--history", planted.priced[2024],
                              "--policy", "demo", "--out", queue, "--ledger", ledger, "--json"))
    assert summary["detectors"]["upcoding"]["last_year_from"] == "ledger"
    q = pl.read_parquet(queue)
    assert q.height == summary["queued"] and set(q["detector"]) == set(summary["by_detector"])

    # decide: the top row of each detector is a serious violation, the second is dismissed
    decided = q.with_columns(
        pl.when(pl.col("rank") == 1).then(pl.lit("违规")).when(pl.col("rank") == 2).then(pl.lit("不违规"))
        .otherwise(None).alias("decision"),
        pl.when(pl.col("rank") == 1).then(True).otherwise(None).alias("serious"))
    decided.write_parquet(tmp_path / "decided.parquet")
    top = decided.filter(pl.col("rank") == 1)
    violations = tmp_path / "violations.parquet"
    applied = json.loads(_run("audit", "apply", tmp_path / "decided.parquet", "--out", violations, "--policy", "demo",
                              "--ledger", ledger, "--json"))
    assert applied["violations"] == top["case_id"].n_unique()

    # deduct: the priced file shows each deduction with its queue row
    priced = tmp_path / "priced-2025.parquet"
    _run("points", "--cases", planted.grouped[2025], "--tables", planted.tables, "--policy", "demo", "--out", priced,
         "--violations", violations, "--year", "2025", "--json")
    p = pl.read_parquet(priced)
    hit = p.filter(pl.col("violation").is_not_null())
    assert hit.height == applied["violations"]
    refs = dict(zip(top["case_id"], top["queue_ref"]))
    assert all(r in refs.values() for ref in hit["violation_ref"] for r in ref.split(";"))
    assert (hit["adjusted_points"] == 0).all() and (hit["deduction_points"] > 0).all()
    from drg.policy import load_policy

    pol = load_policy("demo")
    for r in hit.filter(pl.col("case_class").is_in(["normal", "high", "low", "unstable"])).iter_rows(named=True):
        m = pol.violations.multiplier(r["violation"])      # SPEC §5.2: m × BP_d
        assert Decimal(str(r["deduction_points"])) == (m * Decimal(str(r["base_points"]))).quantize(Decimal("0.0001"))

    # settle: the ledger has each deduction, its queue row and the reviewer's decision
    out = json.loads(_run("settle", "year", "--year", "2025", "--priced", priced, *common))
    run_id = out["run_id"]
    con = duckdb.connect(str(ledger), read_only=True)
    try:
        trail = con.sql("SELECT * FROM audit_trail WHERE run_id = ? ORDER BY case_id", params=[run_id]).pl()
        queued = con.sql("SELECT queue_ref, decision, decided_at FROM audit_queue WHERE decision IS NOT NULL").pl()
        hospitals = con.sql("SELECT pool, hospital_id, points FROM hospital_results WHERE run_id = ?",
                            params=[run_id]).pl()
    finally:
        con.close()
    assert trail["case_id"].n_unique() == applied["violations"]
    assert trail["queue_ref"].is_not_null().all() and (trail["decision"] == "violation").all()
    assert set(trail["detector"]) == set(top["detector"])
    for r in trail.iter_rows(named=True):
        assert refs[r["case_id"]] in r["queue_ref"] or r["queue_ref"] in refs.values()
        assert r["deduction_points"] == Decimal(str(hit.filter(pl.col("case_id") == r["case_id"])["deduction_points"][0])).quantize(Decimal("0.0001"))
    assert queued.height == decided.filter(pl.col("decision").is_not_null()).height
    # the hospitals' points in the ledger are their priced totals after the deductions (SPEC §5.3)
    totals = pl.read_parquet(priced.with_name(priced.stem + ".hospital_totals.parquet"))
    merged = hospitals.join(totals.select(pl.col("insurance_type").alias("pool"), "hospital_id", "total_points",
                                          "deduction_points"), on=["pool", "hospital_id"])
    assert merged.height == hospitals.height
    bad = [(a, b) for a, b in zip(merged["points"], merged["total_points"])
           if Decimal(str(a)) != Decimal(str(b)).quantize(Decimal("0.0001"))]
    assert not bad
    assert merged["deduction_points"].sum() > 0
