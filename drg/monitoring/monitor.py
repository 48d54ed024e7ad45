"""``drg monitor``: the indicators and warnings of one period (SPEC §9), from the ledger alone.

:func:`monitor_period` reads the ledger's monitoring sums (:mod:`drg.monitoring.store`) for the period and
the year to date through its last month, computes the indicators of every unit
(:mod:`drg.monitoring.indicators`), the balance per hospital and DRG, the 同病同价 convergence against last
year, and the warnings (:mod:`drg.monitoring.warnings`) — fund pace, point value, the projected year-end
point value with its band, county gaps, hospital CMI and CC/MCC shares, outliers, 入组率 — stores them in the
ledger (replacing what an earlier ``drg monitor`` stored for the period), and, given ``out``, writes them as
Parquet with the city report (:func:`drg.monitoring.report.write_report`).

The thresholds come from the policy: ``policy`` given, else the policy file recorded with the period's
latest run, else the shipped profile of its policy id.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from drg.errors import InputError

__all__ = ["MonitorResult", "monitor_period", "OUTPUT_FILES"]

#: The Parquet files ``drg monitor --out`` writes (besides the report).
OUTPUT_FILES = ("indicators", "hospital_drg", "convergence", "warnings")


@dataclass
class MonitorResult:
    """What :func:`monitor_period` computed: frames (polars) with ``period``, ``scope`` (``period`` or
    ``ytd``) and ``span`` columns, the warnings (alerts first), and what the report shows."""

    period: str
    year: int
    months: tuple[int, ...]
    spans: dict[str, str]               # scope → span text ("2025-Q2", "2025-01:2025-06")
    policy_id: str
    scheme_id: str | None
    indicators: Any
    hospital_drg: Any
    convergence: Any
    warnings: list
    pools: list[str]
    point_values: dict = field(default_factory=dict)   # pool → {"months": {m: yuan}, "annual": yuan, "last_year": yuan}
    pace: dict = field(default_factory=dict)           # pool → {"budget_fen", "months": {m: cumulative fen}}
    counties: list[dict] = field(default_factory=list)  # county accounts, projected or settled
    projections: dict = field(default_factory=dict)    # pool → figures
    pv_basis: dict = field(default_factory=dict)       # pool → how the balance was valued
    months_covered: list[int] = field(default_factory=list)
    low_risk: dict = field(default_factory=dict)
    hospitals: dict = field(default_factory=dict)      # hospital → name, tier, county (the ledger's)
    files: dict[str, str] = field(default_factory=dict)

    def headline(self, scope: str = "period") -> list[dict]:
        """The city and pool rows of the indicators of ``scope``."""
        import polars as pl

        return (self.indicators.filter((pl.col("scope") == scope) & pl.col("unit_type").is_in(["city", "pool"]))
                .to_dicts())

    def summary(self) -> dict:
        """JSON-able: the headline indicators (money in fen), the warnings with their figures, the files."""
        def clean(row: dict) -> dict:
            from decimal import Decimal

            return {k: (str(v) if isinstance(v, Decimal) else v) for k, v in row.items()}

        return {"period": self.period, "spans": self.spans, "policy_id": self.policy_id, "scheme_id": self.scheme_id,
                "months_covered": self.months_covered, "pools": self.pools,
                "headline": {s: [clean(r) for r in self.headline(s)] for s in self.spans},
                "warnings": [w.to_dict() for w in self.warnings],
                "projections": self.projections, "counties": self.counties, "pv_basis": self.pv_basis,
                "low_risk": self.low_risk, "files": self.files}


def _policy(ledger, year: int, policy):
    from drg.monitoring.store import latest_policy
    from drg.policy import Policy, load_policy

    if isinstance(policy, Policy):
        return policy
    if policy is not None:
        return load_policy(policy)
    path, pid = latest_policy(ledger, year)
    for cand in (path, pid):
        if cand and (Path(cand).exists() or cand == pid):
            try:
                return load_policy(cand)
            except Exception:  # noqa: BLE001 - a recorded policy that moved: try the next, then the defaults
                continue
    return load_policy("zhejiang-province")


def monitor_period(ledger: Any, period: str, *, policy: Any = None, out: str | Path | None = None,
                   report: bool = True, store: bool = True, lang: str = "zh") -> MonitorResult:
    """Indicators and warnings of ``period`` (``2025-03``, ``2025-Q2``, ``2025-H1``, ``2025``) from the ledger.

    Parameters
    ----------
    ledger : path or :class:`drg.settlement.ledger.Ledger`
    period : the period as written in CONTRACT.md
    policy : Policy, profile name or path, optional (thresholds; default: the one of the period's runs)
    out : directory, optional — write ``indicators.parquet``, ``hospital_drg.parquet``,
        ``convergence.parquet``, ``warnings.parquet`` and (``report``) the city report there
    store : keep the results in the ledger (``monitor_*`` tables), replacing the period's earlier ones

    Raises
    ------
    InputError
        The ledger has no settlement run covering the period.
    """
    import polars as pl

    from drg.monitoring import indicators as ind
    from drg.monitoring import store as st
    from drg.monitoring.sums import LedgerFacts
    from drg.settlement.ledger import Ledger
    from drg.settlement.periods import parse_period

    led = ledger if isinstance(ledger, Ledger) else Ledger(ledger)
    p = parse_period(period)
    year, months = p.year, p.months
    last_month = p.last_month
    # the facts stay in the ledger: each output reads the sums it needs (drg.monitoring.sums)
    facts = LedgerFacts(led, year, tuple(range(1, last_month + 1)))
    covered = list(facts.months)
    if not any(m in covered for m in months):
        raise InputError(f"the ledger has no settlement run covering {p.text} (run drg settle month/year first)",
                         file=str(led.path))
    pol = _policy(led, year, policy)
    mon = pol.monitoring
    facts_last = LedgerFacts(led, year - 1)
    hospitals = st.read_hospitals(led, year)
    low_risk, low_info = st.read_low_risk(led, year)
    runs = st.pool_runs(led, year)
    scale = facts.scale() or pol.points_scale
    scale_last = facts_last.scale()
    pools = facts.pools()

    pv_basis, pv_span = _span_point_values(runs, year, last_month, pools)
    spans = {"period": p.text}
    if months != tuple(range(1, last_month + 1)):
        spans["ytd"] = f"{year:04d}-01:{year:04d}-{last_month:02d}" if last_month > 1 else f"{year:04d}-01"
    frames: dict[str, list] = {"indicators": [], "hospital_drg": [], "convergence": []}
    prepared = {}
    for scope, span in spans.items():
        span_months = months if scope == "period" else tuple(range(1, last_month + 1))
        f = facts.sums(span_months, hospitals, low_risk)
        prepared[scope] = (f, span_months)
        tag = [pl.lit(p.text).alias("period"), pl.lit(scope).alias("scope"), pl.lit(span).alias("span")]
        frames["indicators"].append(ind.indicators(f, scale=scale, pv_by_pool=pv_span, hospitals=hospitals,
                                                   low_risk_known=low_risk is not None).with_columns(tag))
        frames["hospital_drg"].append(ind.hospital_drg(f, scale=scale, pv_by_pool=pv_span, hospitals=hospitals)
                                      .with_columns(tag))
        f_last = facts_last.sums(span_months, hospitals, low_risk) if not facts_last.empty else None
        frames["convergence"].append(ind.convergence(f, f_last, scale=scale, scale_last=scale_last,
                                                     min_cases=mon.convergence_min_cases, pv_by_pool=pv_span)
                                     .with_columns(tag))
    tables = {k: _front(pl.concat(v, how="diagonal_relaxed")) for k, v in frames.items()}

    from drg.monitoring.checks import period_warnings

    checked = period_warnings(
        period=p, pools=pools, facts=facts.sums(None, hospitals, low_risk),
        facts_last=None if facts_last.empty else facts_last.sums(None, hospitals, None),
        prepared=prepared["period"][0],
        prepared_last=None if facts_last.empty else facts_last.sums(p.months, hospitals, None),
        indicators=tables["indicators"].filter(pl.col("scope") == "period"), runs=runs, policy=pol, scale=scale,
        scale_last=scale_last or scale, hospitals=hospitals, covered=covered, ledger=led)
    scheme_id = next((s for s in runs["scheme_id"].to_list() if s), None) if runs.height else None
    result = MonitorResult(
        period=p.text, year=year, months=months, spans=spans, policy_id=pol.id, scheme_id=scheme_id,
        indicators=tables["indicators"], hospital_drg=tables["hospital_drg"], convergence=tables["convergence"],
        warnings=checked.warnings, pools=pools, point_values=checked.point_values, pace=checked.pace,
        counties=checked.counties, projections=checked.projections, pv_basis=pv_basis,
        months_covered=[m for m in covered if m <= last_month],
        low_risk={"known": low_risk is not None, "drgs": len(low_risk or ()), **low_info}, hospitals=hospitals)
    warn_frame = _warnings_frame(p.text, result.warnings)
    if store:
        st.record_monitoring(led, p.text, {"monitor_indicators": result.indicators,
                                           "monitor_hospital_drg": result.hospital_drg,
                                           "monitor_convergence": result.convergence,
                                           "monitor_warnings": warn_frame})
    if out is not None:
        write_outputs(result, warn_frame, out, report=report, lang=lang)
    return result


def _front(frame):
    cols = ["period", "scope", "span"]
    return frame.select(cols + [c for c in frame.columns if c not in cols])


def _span_point_values(runs, year: int, last_month: int, pools: list[str]) -> tuple[dict, dict]:
    """The point value the balance of a span is valued at, per pool: the year's annual value once settled,
    else the provisional value of the latest monthly run up to the span's last month."""
    from drg.money import parse_fraction

    basis, pv = {}, {}
    for pool in pools:
        rows = runs.filter((runs["year"] == year) & (runs["pool"] == pool))
        annual = rows.filter(rows["kind"] == "year")
        monthly = rows.filter((rows["kind"] == "month") & (rows["month"] <= last_month)).sort("month")
        if annual.height:
            pv[pool] = parse_fraction(annual["point_value_exact"][-1])
            basis[pool] = {"kind": "annual", "period": str(year), "point_value_yuan": float(pv[pool]) / 100}
        elif monthly.height:
            pv[pool] = parse_fraction(monthly["point_value_exact"][-1])
            basis[pool] = {"kind": "provisional", "period": monthly["period"][-1],
                           "point_value_yuan": float(pv[pool]) / 100}
        else:
            pv[pool] = None
            basis[pool] = {"kind": "none", "period": None, "point_value_yuan": None}
    return basis, pv


def _warnings_frame(period: str, warnings: list):
    import json

    import polars as pl

    rows = [{"period": period, "kind": w.kind, "severity": w.severity, "pool": w.pool,
             "subject_type": w.subject_type, "subject": w.subject, "message": w.message,
             "message_zh": w.message_zh, "value": w.value, "threshold": w.threshold,
             "figures": json.dumps(w.figures, ensure_ascii=False, default=str)} for w in warnings]
    schema = {"period": pl.String, "kind": pl.String, "severity": pl.String, "pool": pl.String,
              "subject_type": pl.String, "subject": pl.String, "message": pl.String, "message_zh": pl.String,
              "value": pl.Float64, "threshold": pl.Float64, "figures": pl.String}
    return pl.DataFrame(rows, schema=schema, orient="row") if rows else pl.DataFrame(schema=schema)


def write_outputs(result: MonitorResult, warn_frame, out: str | Path, *, report: bool = True,
                  lang: str = "zh") -> dict[str, str]:
    """Write the monitoring tables as Parquet into ``out`` (money columns ``*_fen`` with ``unit: fen``), and
    the city report (one function, :func:`drg.monitoring.report.write_report`, so the caller decides where
    it goes)."""
    from drg.settlement.records import write_frame

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tag = result.period
    for name, frame in (("indicators", result.indicators), ("hospital_drg", result.hospital_drg),
                        ("convergence", result.convergence), ("warnings", warn_frame)):
        path = out / f"{name}-{tag}.parquet"
        tmp = out / f".{path.name}.partial"
        write_frame(frame, tmp)
        tmp.replace(path)
        result.files[name] = str(path)
    if report:
        from drg.monitoring.report import write_report

        result.files["report"] = str(write_report(result, out, lang=lang))
    return result.files
