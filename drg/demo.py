"""``drg demo``: the whole job on the embedded demo data, stage by stage.

The stages are the monthly and annual work of a city's medical insurance bureau, run on a synthetic city
drawn from the demo scheme (``data/schemes/demo``) with the demo policy (``data/policies/demo.toml``):

1. synthesize two history years and one settlement year;
2. validate every case file (rejects written beside it);

Each stage writes its files under the demo's working directory, so every number of the summary can be
traced to a file.
"""

from __future__ import annotations

import time
from pathlib import Path

import polars as pl

DEMO_YEARS = (2023, 2024, 2025)


def run_demo(out: str | Path, *, cases: int = 100_000, seed: int = 20250101, verbose: bool = True) -> dict:
    """Run the demo pipeline into ``out`` and return its summary (a JSON-able dict)."""
    from grouper.rules import load_code_dictionary, load_rule_set

    from drg.cases import check_cases
    from drg.samples import city_settings, schemes
    from drg.synth import synthesize

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    say = _say if verbose else (lambda *a: None)

    t0 = time.perf_counter()
    sample = schemes()["demo"]
    rules = load_rule_set(sample.rules_dir)
    codes = load_code_dictionary(sample.codes_dir)
    city = synthesize(rules, codes, out / "city", cases=cases, years=list(DEMO_YEARS), seed=seed,
                      settings=city_settings("demo"))
    timings["synthesize"] = time.perf_counter() - t0
    say(f"synthesized {sum(city.cases_by_year.values()):,} cases in {timings['synthesize']:.1f} s")

    t0 = time.perf_counter()
    checks = {}
    for year, path in city.case_files.items():
        checks[year] = check_cases(path, rejects=out / "city" / f"rejects-{year}.csv").to_dict()
    timings["validate"] = time.perf_counter() - t0
    say(f"validated in {timings['validate']:.1f} s")

    settlement_year = DEMO_YEARS[-1]
    frame = pl.read_parquet(city.case_files[settlement_year],
                            columns=["hospital_id", "county", "insurance_type", "drg", "total_cost", "fund_paid"])
    by_pool = (frame.group_by("insurance_type")
               .agg(pl.len().alias("cases"), pl.col("total_cost").sum().round(2).alias("total_cost"),
                    pl.col("fund_paid").sum().round(2).alias("fund_paid"))
               .sort("insurance_type"))
    return {
        "out": str(out),
        "scheme": rules.name,
        "years": list(DEMO_YEARS),
        "settlement_year": settlement_year,
        "cases_by_year": {str(k): v for k, v in city.cases_by_year.items()},
        "checks": {str(k): v for k, v in checks.items()},
        "hospitals": pl.read_parquet(city.hospitals).height,
        "counties": frame["county"].n_unique(),
        "drgs_seen": frame["drg"].n_unique(),
        "pools": by_pool.to_dicts(),
        "timings_s": {k: round(v, 2) for k, v in timings.items()},
    }


def _say(message: str) -> None:
    from rich.console import Console

    Console(stderr=True).print(f"[dim]demo:[/] {message}", highlight=False)


def print_summary(summary: dict) -> None:
    """Print the demo's city summary as rich tables."""
    from rich.console import Console
    from rich.table import Table

    con = Console()
    t = Table(title=f"demo city — scheme {summary['scheme']}, settlement year {summary['settlement_year']}")
    t.add_column("year")
    t.add_column("cases read", justify="right")
    t.add_column("accepted", justify="right")
    t.add_column("rejected", justify="right")
    for year, c in summary["checks"].items():
        t.add_row(year, f"{c['read']:,}", f"{c['accepted']:,}", f"{c['rejected']:,}")
    con.print(t)
    p = Table(title=f"pools of {summary['settlement_year']} ({summary['hospitals']} hospitals, "
                    f"{summary['counties']} counties, {summary['drgs_seen']} DRGs)")
    for col in ("insurance_type", "cases", "total_cost", "fund_paid"):
        p.add_column(col, justify="right")
    for row in summary["pools"]:
        p.add_row(row["insurance_type"], f"{row['cases']:,}", f"{row['total_cost']:,.2f}", f"{row['fund_paid']:,.2f}")
    con.print(p)
    con.print(f"files under {summary['out']}; timings {summary['timings_s']}")
