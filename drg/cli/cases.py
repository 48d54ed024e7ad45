"""CLI of the foundation: ``drg synth``, ``drg check``, ``drg demo``. Thin: parse, call, print."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer


def _parse_years(text: str) -> list[int]:
    from drg.errors import InputError

    out: list[int] = []
    for part in text.split(","):
        part = part.strip()
        if "-" in part:
            a, b = part.split("-", 1)
            out.extend(range(int(a), int(b) + 1))
        elif part:
            out.append(int(part))
    if not out:
        raise InputError(f"no years in {text!r}", field="years")
    return out


def _print_check(summary, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(summary.to_dict(), ensure_ascii=False, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"check {summary.source}")
    t.add_column("outcome")
    t.add_column("rows", justify="right")
    t.add_row("read", f"{summary.read:,}")
    t.add_row("accepted", f"{summary.accepted:,}")
    t.add_row("rejected", f"{summary.rejected:,}")
    for reason, n in summary.by_reason.items():
        t.add_row(f"  {reason}", f"{n:,}")
    Console().print(t)


def register(app, **_: object) -> None:
    """Attach the foundation commands to the ``drg`` app (called by ``drg.cli``)."""

    @app.command("synth", short_help="a synthetic city: cases by year, hospitals, budget, county income")
    def synth(
        out: Path = typer.Option(..., "--out", help="output directory"),
        cases: int = typer.Option(100_000, "--cases", help="number of cases over all years"),
        years: str = typer.Option("2023-2025", "--years", help="years, e.g. 2023-2025 or 2024,2025"),
        months: str = typer.Option("1-12", "--months", help="months of each year with cases, e.g. 1-12 or 1,2,3"),
        seed: int = typer.Option(20250101, "--seed", help="random seed (same seed, same files)"),
        scheme: str = typer.Option("demo", "--scheme", help="the grouping scheme to draw cases from: a shipped "
                                   "name (demo), a rule-table directory (with --codes), or a compiled scheme file "
                                   "built from rule tables found here"),
        codes: Optional[Path] = typer.Option(None, "--codes", help="code dictionary directory of --scheme"),
        city: str = typer.Option("demo", "--city", help="synthetic-city settings: shipped name or TOML path"),
        chunk_rows: int = typer.Option(1 << 20, "--chunk-rows", help="rows per Parquet row group"),
        plant: bool = typer.Option(False, "--plant", help="plant the behaviours drg audit looks for in the last "
                                   "year (upcoding, split admissions, duplicate claims, low-standard admissions, "
                                   "cost shifting) and write truth.parquet beside the cases"),
        plant_settings: Optional[Path] = typer.Option(None, "--plant-settings", help="TOML overriding the plant "
                                                      "settings (drg.synth.plant.PlantSettings); implies --plant"),
        quiet: bool = typer.Option(False, "--quiet", help="no progress bar"),
        as_json: bool = typer.Option(False, "--json", help="print the files written as JSON"),
    ) -> None:
        """Write a synthetic city: cases by year (with the group each case was drawn from), hospitals, budget
        and county income."""
        from grouper.rules import load_code_dictionary, load_rule_set

        from drg.cli.progress import row_progress
        from drg.synth.samples import city_settings, resolve_rules
        from drg.synth.city import synthesize

        rules_dir, codes_dir = resolve_rules(scheme, codes)
        rules = load_rule_set(rules_dir)
        dictionary = load_code_dictionary(codes_dir)
        planting = None
        if plant or plant_settings is not None:
            from drg.synth.plant import PlantSettings

            planting = PlantSettings.load(plant_settings) if plant_settings is not None else PlantSettings()
        with row_progress("synthesizing", cases, enabled=not (quiet or as_json)) as update:
            result = synthesize(rules, dictionary, out, cases=cases, years=_parse_years(years),
                                months=_parse_years(months), seed=seed, settings=city_settings(city),
                                chunk_rows=chunk_rows, progress=update, plant=planting)
        if as_json:
            typer.echo(json.dumps({"cases": {str(y): {"file": str(p), "cases": result.cases_by_year[y]}
                                             for y, p in result.case_files.items()},
                                   "hospitals": str(result.hospitals), "budget": str(result.budget),
                                   "county_income": str(result.county_income), "manifest": str(result.manifest),
                                   **({"truth": str(result.truth)} if result.truth else {})},
                                  ensure_ascii=False, indent=2))
            return
        from rich.console import Console

        con = Console()
        for year, path in result.case_files.items():
            con.print(f"{path}  {result.cases_by_year[year]:,} cases", highlight=False)
        for p in (result.hospitals, result.budget, result.county_income, result.manifest, result.truth):
            if p is not None:
                con.print(str(p), highlight=False)

    @app.command("check", short_help="validate a case file; count rows by reject reason")
    def check(
        cases: Path = typer.Argument(..., metavar="CASES", help="case file: .parquet, .csv (UTF-8 or GBK) or .xlsx"),
        rejects: Optional[Path] = typer.Option(None, "--rejects", help="write rejected rows here (.parquet or .csv)"),
        columns: Optional[Path] = typer.Option(None, "--columns", help="TOML mapping of the file's own headers"),
        sheet: Optional[str] = typer.Option(None, "--sheet", help="the Excel sheet holding the cases (name or "
                                            "1-based number; default the mapping's, else the first)"),
        as_json: bool = typer.Option(False, "--json", help="print the counts as JSON"),
        quiet: bool = typer.Option(False, "--quiet", help="no progress bar"),
    ) -> None:
        """Validate a case file against the contract; count accepted and rejected rows by reason.

        Patient ids never appear in the output. Exit code 0 even when rows are rejected: the rejects file is
        the answer. Exit code 1 when the file itself cannot be read or lacks a required column.
        """
        from drg.casefile.check import check_cases
        from drg.cli.progress import row_progress

        total = _row_count(cases)
        with row_progress("checking", total, enabled=not (quiet or as_json)) as update:
            summary = check_cases(cases, rejects=rejects, mapping=columns, progress=update, sheet=sheet)
        _print_check(summary, as_json)

    @app.command("demo", short_help="the whole job on the demo data, from synthesis to statements")
    def demo(
        out: Path = typer.Option(Path("demo-out"), "--out", help="working directory of the demo run"),
        cases: int = typer.Option(100_000, "--cases", help="cases over the three synthetic years"),
        seed: int = typer.Option(20250101, "--seed", help="random seed (same seed, same city)"),
        quiet: bool = typer.Option(False, "--quiet", help="no progress output"),
        as_json: bool = typer.Option(False, "--json", help="print the summary as JSON"),
    ) -> None:
        """Run the whole job on the embedded demo data: synthesize a city, group, derive weights, price,
        settle twelve months and the year into a ledger, write the statements; print the city summary."""
        from drg.synth.demo import print_summary, run_demo

        summary = run_demo(out, cases=cases, seed=seed, verbose=not quiet and not as_json)
        if as_json:
            typer.echo(json.dumps(summary, ensure_ascii=False, indent=2, default=str))
        else:
            print_summary(summary)


def _row_count(path: Path) -> int | None:
    if path.suffix.lower() in (".parquet", ".pq") and path.exists():
        try:
            from drg.casefile.parquet import parquet_file

            return parquet_file(path).metadata.num_rows
        except Exception:  # unreadable files are reported by check itself
            return None
    return None
