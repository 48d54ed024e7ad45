"""The monitoring facts the upcoding signals read (SPEC §9; :mod:`drg.monitoring.store`): exact sums per month
and (pool, hospital, county, MDC, ADRG, DRG, case class, group state) — cases, grouped, CC and MCC cases,
Σ w of the CMI …

They are not computed again here: this year's come from the settlement's own reduction of the priced files
(:func:`drg.settlement.aggregates.read_priced`, the sums a settlement run stores as ``monitor_facts``),
last year's from the ledger's ``monitor_facts`` (:func:`drg.monitoring.store.read_facts`) when a ledger is
given, else from the same reduction of the priced history files. The CMI and the CC/MCC shares are then the
monitoring module's own (:func:`drg.monitoring.indicators.indicators`, :func:`~drg.monitoring.indicators.cc_shares`).
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["FACT_NAMES", "facts_from_priced", "year_facts"]

#: The settlement's fine sums under their ``monitor_facts`` names (as :func:`drg.monitoring.store.record_run`
#: stores them).
FACT_NAMES = {"pts_u": "points_before_units", "adj_u": "points_units", "ded_u": "deduction_units",
              "total_cost": "total_cost_fen", "fund_paid": "fund_paid_fen", "selfpay": "self_pay_fen",
              "los": "los_days", "outlier": "outliers", "cc": "cc_cases", "mcc": "mcc_cases", "w_u": "w_units"}


def facts_from_priced(files, year: int, policy):
    """The ``monitor_facts`` rows of ``year`` (and of ``year − 1`` when the files hold it) of priced files, as
    a settlement run would store them: a polars frame with the columns of :func:`drg.monitoring.store.read_facts`."""
    import polars as pl

    from drg.settlement.aggregates import GROUP_STATES, as_strings, read_priced

    agg = read_priced([Path(f) for f in files], year, policy)
    fine = as_strings(agg.fine).rename(FACT_NAMES)
    return fine.with_columns(
        pl.col("grp").cast(pl.Int64).replace_strict({i: s for i, s in enumerate(GROUP_STATES)}, default="ungroupable",
                                                    return_dtype=pl.String).alias("group_state"),
        pl.lit(agg.scale, pl.Int64).alias("scale")).drop("grp")


def year_facts(ac, policy, ledger=None, months: tuple[int, ...] | None = None):
    """``(this year's facts, last year's facts or None, where last year's came from)`` for the audited files of
    ``ac`` (:class:`drg.audit.cases.AuditCases`): this year's restricted to ``months``."""
    import polars as pl

    year = ac.year
    priced_history = [f for f in ac.history_files if _is_priced(f)]
    facts = facts_from_priced(ac.files + priced_history, year, policy)
    cur = facts.filter(pl.col("year") == year)
    if months is not None:
        cur = cur.filter(pl.col("month").is_in(list(months)))
    last, source = None, None
    if ledger is not None:
        from drg.monitoring.store import read_facts

        led = read_facts(ledger, year - 1)
        if led.height:
            last, source = led, "ledger"
    if last is None:
        prev = facts.filter(pl.col("year") == year - 1)
        if prev.height:
            last, source = prev, "priced history"
    if last is not None and months is not None:
        last = last.filter(pl.col("month").is_in(list(months)))
    return cur, last, source


def _is_priced(path: str) -> bool:
    import pyarrow.parquet as pq

    try:
        return "adjusted_points" in pq.read_schema(path).names
    except Exception:  # noqa: BLE001 - unreadable files are reported by the case reader
        return False
