"""``drg demo``: the whole job on the embedded demo data, stage by stage.

The stages are the yearly work of a city's medical insurance bureau, run on a synthetic city drawn from the
demo scheme (``data/schemes/demo``) with the demo policy (``data/policies/demo.toml``):

1. synthesize two history years and one settlement year (``city/``);
2. compile the demo scheme (``scheme/demo.scheme``) and group every year (``grouped/``, rejects beside);
3. derive weights and coefficients from the two history years (``tables/``);
4. price the last history year and the settlement year in points (``priced/``);
5. settle the last history year, so that the settlement year has a last-year point value and CMI;
6. run twelve monthly settlements and the annual one of the settlement year into the ledger
   (``ledger.duckdb``; results under ``settle/``);
7. write the hospital statements and the city summary with its point-value chart (``statements/``);
8. monitor the settlement year from the ledger (SPEC §9): indicators, warnings and the city report
   (``monitor/report-2025.html``, one self-contained HTML file).

Every number of the printed summary can be traced to a file under the working directory and a ledger run.
Re-running the demo into the same directory replaces its ledger runs (``replace=True``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

__all__ = ["run_demo", "print_summary", "group_year", "DEMO_YEARS", "HISTORY_YEARS", "SETTLEMENT_YEAR"]

HISTORY_YEARS = (2023, 2024)
SETTLEMENT_YEAR = 2025
DEMO_YEARS = (*HISTORY_YEARS, SETTLEMENT_YEAR)
POLICY = "demo"


class _Stages:
    """Times each stage and tells the user what is happening."""

    def __init__(self, verbose: bool) -> None:
        self.timings: dict[str, float] = {}
        self.verbose = verbose
        self._console = None

    def run(self, name: str, fn: Callable, *args, **kwargs):
        t0 = time.perf_counter()
        result = fn(*args, **kwargs)
        self.timings[name] = round(time.perf_counter() - t0, 2)
        if self.verbose:
            if self._console is None:
                from rich.console import Console

                self._console = Console(stderr=True)
            self._console.print(f"[dim]demo:[/] {name} [dim]{self.timings[name]:.1f} s[/]", highlight=False)
        return result


def group_year(scheme, cases: Path, out: Path, rejects: Path) -> dict:
    """Group one case file with its rejects (what ``drg group`` does)."""
    from drg.grouping import group_file

    from drg.casefile.schema import SETTLEMENT_REQUIRED

    return group_file(scheme, cases, out, rejects=rejects, required=SETTLEMENT_REQUIRED).to_dict()


def run_demo(out: str | Path, *, cases: int = 100_000, seed: int = 20250101, verbose: bool = True) -> dict:
    """Run the demo pipeline into ``out`` and return its summary (a JSON-able dict)."""
    from grouper.build import build_scheme
    from drg.grouping import scheme_id as scheme_id_of
    from grouper.rules import load_code_dictionary, load_rule_set

    from drg.pricing.coefficients import build_tables
    from drg.settlement.ledger import Ledger
    from drg.pricing.priced_file import price_file
    from drg.reports.statements import write_statements
    from drg.synth.samples import city_settings, schemes
    from drg.settlement.runs import settle_months, settle_year
    from drg.synth.city import synthesize

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    st = _Stages(verbose)
    sample = schemes()["demo"]

    def synth():
        rules = load_rule_set(sample.rules_dir)
        return synthesize(rules, load_code_dictionary(sample.codes_dir), out / "city", cases=cases,
                          years=list(DEMO_YEARS), seed=seed, settings=city_settings("demo"))

    city = st.run("synthesize a city", synth)
    scheme, build_report = st.run("compile the demo scheme", build_scheme, sample.rules_dir, sample.codes_dir,
                                  out=out / "scheme" / "demo.scheme")
    grouped_dir = out / "grouped"
    grouped_dir.mkdir(exist_ok=True)
    grouping = {}
    for year in DEMO_YEARS:
        grouping[year] = st.run(f"group {year}", group_year, scheme, city.case_files[year],
                                grouped_dir / f"cases-{year}.parquet", grouped_dir / f"rejects-{year}.csv")
    grouped = {y: grouped_dir / f"cases-{y}.parquet" for y in DEMO_YEARS}

    tables = out / "tables"
    scheme_id = scheme_id_of(scheme)
    ledger_path = out / "ledger.duckdb"
    weights_summary = st.run("weights and coefficients", build_tables, [grouped[y] for y in HISTORY_YEARS],
                             city.hospitals, POLICY, tables, year=SETTLEMENT_YEAR, ledger=ledger_path)
    priced_dir = out / "priced"
    priced_dir.mkdir(exist_ok=True)
    priced = {}
    for year in (HISTORY_YEARS[-1], SETTLEMENT_YEAR):
        priced[year] = priced_dir / f"cases-{year}.parquet"
        st.run(f"price {year}", price_file, grouped[year], tables, POLICY, priced[year], year=year)

    ledger = Ledger(ledger_path)
    common = dict(ledger=ledger, replace=True)  # the scheme id travels in the priced files' metadata
    last = HISTORY_YEARS[-1]
    st.run(f"settle {last}", settle_year, priced[last], city.hospitals, city.budget, city.county_income, POLICY,
           last, out=out / "settle" / str(last), **common)
    months = st.run(f"months {SETTLEMENT_YEAR}-01..12", settle_months, priced[SETTLEMENT_YEAR], city.hospitals,
                    city.budget, city.county_income, POLICY, SETTLEMENT_YEAR, out=out / "settle", **common)
    annual = st.run(f"settle {SETTLEMENT_YEAR}", settle_year, priced[SETTLEMENT_YEAR], city.hospitals,
                    city.budget, city.county_income, POLICY, SETTLEMENT_YEAR,
                    out=out / "settle" / str(SETTLEMENT_YEAR), **common)
    statements = st.run("statements and city summary", write_statements, annual, out / "statements",
                        priced=[priced[SETTLEMENT_YEAR]], ledger=ledger)
    from drg.monitoring.monitor import monitor_period

    monitoring = st.run("monitoring and city report", monitor_period, ledger, str(SETTLEMENT_YEAR),
                        out=out / "monitor")

    return {
        "out": str(out),
        "scheme": scheme_id,
        "policy": POLICY,
        "years": list(DEMO_YEARS),
        "settlement_year": SETTLEMENT_YEAR,
        "cases_by_year": {str(k): v for k, v in city.cases_by_year.items()},
        "grouping": {str(k): v for k, v in grouping.items()},
        "scheme_checks": build_report.to_dict() if hasattr(build_report, "to_dict") else str(build_report),
        "weights": weights_summary,
        "monthly_point_values": {r.period: {k: str(p.point_value_yuan) for k, p in r.pools.items()}
                                 for r in months},
        "annual": annual.summary(),
        "hospital_rows": annual.hospitals.to_dicts(),
        "county_rows": annual.counties.to_dicts(),
        "warnings": [w.message for w in annual.warnings],
        "statements": str(out / "statements"),
        "files": {"ledger": str(ledger_path), "report": monitoring.files.get("report"),
                  **{k: str(v) for k, v in statements.items() if k != "statements"}},
        "monitoring": {"period": monitoring.period, "warnings": {s: sum(1 for w in monitoring.warnings
                                                                        if w.severity == s)
                                                                 for s in ("alert", "warning", "info")},
                       "files": monitoring.files},
        "statement_files": len(statements["statements"]),
        "timings_s": st.timings,
    }


def print_summary(summary: dict) -> None:
    """Print the demo's city summary as rich tables."""
    from rich.console import Console
    from rich.table import Table

    from decimal import Decimal

    from drg.money import yuan_text

    con = Console()
    year = summary["settlement_year"]
    t = Table(title=f"demo city — scheme {summary['scheme']}, policy {summary['policy']}")
    for col in ("year", "cases read", "grouped (ok)", "no group (0000)", "rejected"):
        t.add_column(col, justify="right")
    for y, g in summary["grouping"].items():
        ok = g["by_status"].get("ok", 0)
        t.add_row(y, f"{g['read']:,}", f"{ok:,}", f"{g['rows'] - ok:,}", f"{g['rejected']:,}")
    con.print(t)

    pools = summary["annual"]["pools"]
    p = Table(title=f"annual settlement {year} (money in yuan)")
    p.add_column("")
    for pool in pools:
        p.add_column(f"pool {pool}", justify="right")
    rows = [("cases", lambda v: f"{v['cases']:,}"), ("fund budget B (yuan)", lambda v: yuan_text(v["budget_fen"])),
            ("reserve R (yuan)", lambda v: yuan_text(v["reserve_fen"])),
            ("self-pay S (yuan)", lambda v: yuan_text(v["self_pay_fen"])),
            ("distributable D (yuan)", lambda v: yuan_text(v["distributable_fen"])),
            ("total points P", lambda v: f"{Decimal(v['total_points']):,}"),
            ("point value (yuan per point)", lambda v: v["point_value_yuan"]),
            ("fund payments (yuan)", lambda v: yuan_text(v["fund_payments_fen"])),
            ("prepaid, 12 months (yuan)", lambda v: yuan_text(v["prepaid_fen"])),
            ("reserve to hospitals (yuan)", lambda v: yuan_text(v["reserve_to_hospitals_fen"])),
            ("reserve to counties (yuan)", lambda v: yuan_text(v["reserve_to_counties_fen"]))]
    for label, fmt in rows:
        p.add_row(label, *(fmt(v) for v in pools.values()))
    con.print(p)

    m = Table(title=f"provisional point values {year} (yuan per point)")
    m.add_column("month")
    pool_names = list(pools)
    for pool in pool_names:
        m.add_column(pool, justify="right")
    for period, pvs in summary["monthly_point_values"].items():
        m.add_row(period, *(pvs.get(pool, "") for pool in pool_names))
    con.print(m)
    if summary["warnings"]:
        con.print(f"[yellow]{len(summary['warnings'])} monitoring warnings[/], e.g. {summary['warnings'][0]}",
                  highlight=False)
    files = summary["files"]
    con.print(f"statements: {summary['statement_files']} hospital workbooks under {summary['statements']}",
              highlight=False)
    if summary.get("monitoring"):
        counts = summary["monitoring"]["warnings"]
        con.print(f"monitoring {summary['monitoring']['period']}: {counts['alert']} alert(s), {counts['warning']} "
                  f"warning(s), {counts['info']} note(s)", highlight=False)
    for key, what in (("city_summary_xlsx", "city summary"), ("chart", "point-value chart"), ("ledger", "ledger"),
                      ("report", "city report (HTML)")):
        if files.get(key):
            con.print(f"{what}: {files[key]}", highlight=False)
    con.print("timings: " + ", ".join(f"{k} {v:.1f} s" for k, v in summary["timings_s"].items()), highlight=False)
