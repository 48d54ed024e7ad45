"""CLI of settlement: ``drg settle month``, ``drg settle year`` and ``drg ledger show``.

Thin: each command parses its options, calls :func:`drg.settlement.runs.settle_month` /
:func:`drg.settlement.runs.settle_year`, writes the statements and the city summary
(:func:`drg.reports.statements.write_statements`; by default beside the run's results, ``--no-statements``
turns them off), and prints the pool figures in yuan, the warnings and the files written (rich tables, or
JSON with ``--json``). ``drg ledger show`` prints the ledger's runs in yuan (:mod:`drg.reports.ledger_view`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from drg.cli.cluster import on_cluster
from drg.cli.options import PERIOD_HELP, period_value


def _last_year_pv(text: Optional[str]):
    """``--last-year-pv 1149.4253`` (every pool) or ``310=1149.4253,390=980.1``."""
    if not text:
        return None
    if "=" not in text:
        return text.strip()
    out = {}
    for part in text.split(","):
        k, _, v = part.partition("=")
        out[k.strip()] = v.strip()
    return out


def _print_result(result, as_json: bool, extra: dict | None = None) -> None:
    summary = result.summary()
    if extra:
        summary.update(extra)
    if as_json:
        typer.echo(json.dumps(summary, ensure_ascii=False, indent=2, default=str))
        return
    from drg.reports.labels import console
    from rich.table import Table

    from drg.money import units_to_decimal, yuan_text
    from drg.reports.labels import pool_label, warning_label

    con = console()
    kind = "annual settlement" if result.kind == "year" else "monthly prepayment"
    t = Table(title=f"{kind} {result.period} — policy {result.policy_id}"
                    + (f", scheme {result.scheme_id}" if result.scheme_id else "") + " (money in yuan)")
    t.add_column("")
    pools = list(result.pools.values())
    for p in pools:
        t.add_column(f"pool {pool_label(p.pool, 'en')}", justify="right")
    lines = [
        ("cases", lambda p: f"{p.cases:,}"),
        ("fund budget B (yuan)", lambda p: yuan_text(p.budget)),
        ("reserve R (yuan)", lambda p: yuan_text(p.reserve)),
        ("self-pay S (yuan)", lambda p: yuan_text(p.self_pay)),
        ("distributable D (yuan)" if result.kind == "year" else "provisional amounts (yuan)",
         lambda p: yuan_text(p.distributable)),
        ("points P" if result.kind == "year" else "points P (year to date)",
         lambda p: f"{units_to_decimal(p.total_points_units, p.scale):,}"),
        ("point value (yuan per point)", lambda p: f"{p.point_value_yuan:,}"),
        ("fund payments (yuan)", lambda p: yuan_text(p.fund_payments)),
        ("prepaid (yuan)", lambda p: yuan_text(p.prepaid)),
    ]
    if result.kind == "year":
        lines += [("reserve to hospitals (yuan)", lambda p: yuan_text(p.reserve_to_hospitals)),
                  ("reserve to counties (yuan)", lambda p: yuan_text(p.reserve_to_counties)),
                  ("reserve left (yuan)", lambda p: yuan_text(p.reserve_left))]
    else:
        lines += [("provisional method", lambda p: p.provisional_method)]
    for label, fn in lines:
        t.add_row(label, *[fn(p) for p in pools])
    con.print(t)
    if result.run_id:
        con.print(f"recorded in the ledger as run {result.run_id}", highlight=False)
    if result.kind == "year" and result.counties.height:
        c = Table(title="county accounts (yuan)")
        for col in ("pool", "county", "DRG spending", "balance", "city share", "county share"):
            c.add_column(col, justify="right")
        for r in result.counties.iter_rows(named=True):
            c.add_row(r["pool"], r["county"], yuan_text(r["drg_spending"]), yuan_text(r["balance"]),
                      yuan_text(r["city_share"]), yuan_text(r["county_share"]))
        con.print(c)
    if result.warnings:
        con.print(f"[bold yellow]{len(result.warnings)} warning(s)[/] (all stored with the run; --json lists them):")
        by_kind: dict[tuple[str, str], list] = {}
        for w in result.warnings:
            if w.subject in ("pool", "all"):
                con.print(f"  [yellow]{w.kind}[/] ({warning_label(w.kind)}) {w.message}", highlight=False)
            else:
                by_kind.setdefault((w.kind, w.pool), []).append(w)
        for (kind_, pool), ws in by_kind.items():
            shown = ", ".join(w.subject + (f" {w.value:.1%}" if w.value is not None and kind_ != "recovery" else "")
                              for w in ws[:6])
            more = f" … and {len(ws) - 6} more" if len(ws) > 6 else ""
            con.print(f"  [yellow]{kind_}[/] ({warning_label(kind_)}) pool {pool}: {len(ws)} hospital(s): "
                      f"{shown}{more}", highlight=False)
    for name, path in summary.get("out_files", {}).items():
        con.print(f"wrote {name}: {path}", highlight=False)
    _print_statements(extra or {}, 1)


def _print_statements(extra: dict, runs: int) -> None:
    if extra.get("statements_skipped"):
        typer.echo(extra["statements_skipped"])
    if extra.get("statements_written") is not None:
        typer.echo(f"statements: {extra['statements_written']} hospital workbooks under {extra['statements_dir']}"
                   + (f" (and those of {runs - 1} more months)" if runs > 1 else ""))
        for key, what in (("city_summary_xlsx", "city summary"), ("chart", "point-value chart")):
            if extra.get(key):
                typer.echo(f"{what}: {extra[key]}")


def _print_months(results) -> None:
    from drg.reports.labels import console
    from rich.table import Table

    from drg.money import yuan_text

    method = next(iter(results[0].pools.values())).provisional_method
    t = Table(title=f"monthly runs {results[0].period} … {results[-1].period} (provisional point value: {method})")
    for c in ("period", "pool", "point value (yuan/point)", "cases", "fund amounts (yuan)", "prepaid (yuan)",
              "warnings"):
        t.add_column(c, justify="left" if c in ("period", "pool") else "right", no_wrap=True)
    for r in results:
        for p in r.pools.values():
            n = sum(1 for w in r.warnings if w.pool in (p.pool, "all"))
            t.add_row(r.period, p.pool, f"{p.point_value_yuan:,}", f"{p.cases:,}", yuan_text(p.fund_payments),
                      yuan_text(p.prepaid), str(n))
    console().print(t)


def register(app, scheme_app=None, policy_app=None, settle_app=None, ledger_app=None, **_: object) -> None:
    """Attach ``drg settle month|year`` and ``drg ledger show`` (called by ``drg.cli``)."""

    priced_opt = typer.Option(..., "--priced", help="priced cases (output of drg points); repeat for several files")
    hospitals_opt = typer.Option(None, "--hospitals", help="hospitals table of the settlement year")
    budget_opt = typer.Option(None, "--budget", help="budget table (year, insurance_type, fund_budget in yuan)")
    income_opt = typer.Option(None, "--county-income", help="county fund income table (year, insurance_type, "
                              "county, income, other_spending in yuan), for the county accounts of city-level "
                              "pooling")
    policy_opt = typer.Option(..., "--policy", help="policy profile name or TOML path")
    ledger_opt = typer.Option(None, "--ledger", help="ledger (DuckDB file) to record the run in")
    out_opt = typer.Option(None, "--out", help="directory for the results: hospitals.parquet, counties.parquet "
                           "(fen), the statements and the city summary (yuan)")
    replace_opt = typer.Option(False, "--replace", help="replace a period already in the ledger")
    lpv_opt = typer.Option(None, "--last-year-pv", help="last year's point value in yuan per point: one value, or "
                           "310=V,390=W (default: the ledger's annual run of last year)")
    stmt_opt = typer.Option(None, "--statements", help="write the statements and the city summary here instead "
                            "of under --out")
    no_stmt_opt = typer.Option(False, "--no-statements", help="do not write the statements and the city summary")
    lang_opt = typer.Option("zh", "--lang", help="language of the statements: zh (Chinese, default) or en")
    json_opt = typer.Option(False, "--json", help="print the result as JSON (money in fen)")
    scheme_opt = typer.Option(None, "--scheme-id", help="scheme id to record (default: from the priced file)")

    strict_opt = typer.Option(False, "--strict", help="refuse the run when a priced row cannot be settled "
                              "(by default it is left out, recorded with the run and warned about)")

    def _lang(lang: str) -> str:
        if lang not in ("zh", "en"):
            raise typer.BadParameter("use zh or en", param_hint="--lang")
        return lang

    def _statement_options(out, statements, no_statements: bool, lang: str):
        """Where the run writes its statements and city summary: --statements DIR, else --out; none with
        --no-statements (or without either directory)."""
        from drg.settlement.runs import StatementOptions

        base = statements if statements is not None else out
        if no_statements or base is None:
            return None
        return StatementOptions(Path(base), lang=_lang(lang))

    def _statements(result, opts) -> dict:
        # the statements are written by the run itself, into its run directory (drg.settlement.rundirs)
        if opts is None:
            return {}
        files = result.statement_files or {}
        return {"statements_written": len(files.get("statements", [])),
                "statements_dir": str(opts.directory / "statements" / result.period),
                **{k: v for k, v in files.items() if k != "statements"}}

    @settle_app.command("month", short_help="monthly prepayment runs, with statements")
    @on_cluster("settle-month")
    def settle_month_cmd(
        period: str = typer.Option(..., "--period", help="the month YYYY-MM; or several months of one year, each "
                                   "its own run: a quarter YYYY-Qn, a half-year YYYY-Hn, a year YYYY or a range "
                                   "YYYY-MM:YYYY-MM"),
        priced: list[Path] = priced_opt, hospitals: Optional[Path] = hospitals_opt,
        budget: Optional[Path] = budget_opt, county_income: Optional[Path] = income_opt, policy: str = policy_opt,
        ledger: Optional[Path] = ledger_opt, out: Optional[Path] = out_opt, replace: bool = replace_opt,
        last_year_pv: Optional[str] = lpv_opt, statements: Optional[Path] = stmt_opt,
        no_statements: bool = no_stmt_opt, lang: str = lang_opt,
        scheme_id: Optional[str] = scheme_opt, as_json: bool = json_opt, strict: bool = strict_opt,
    ) -> None:
        """Monthly prepayment run: provisional point value, each hospital's provisional fund amount and
        prepayment, and the monitoring warnings; with --out, the hospital statements and the city summary.

        Several months (a quarter, a half-year, a year or a range) are run from a single read of the priced
        files, each its own run in the ledger; --out gets one directory per month.
        """
        from drg.settlement.periods import parse_period_range
        from drg.settlement.runs import settle_month, settle_months

        opts = _statement_options(out, statements, no_statements, lang)
        text = period_value(period, allow_range=True)
        year, months = parse_period_range(text)
        if len(months) > 1:
            results = settle_months(priced, hospitals, budget, county_income, policy, year, months=months,
                                    ledger=ledger, out=out, replace=replace,
                                    last_year_pv=_last_year_pv(last_year_pv), scheme_id=scheme_id,
                                    statements=opts, strict=strict)
            extras = [_statements(r, opts) for r in results]
            if as_json:
                typer.echo(json.dumps([{**r.summary(), **e} for r, e in zip(results, extras)], ensure_ascii=False,
                                      indent=2, default=str))
                return
            _print_months(results)
            if ledger is not None:
                typer.echo(f"recorded {len(results)} runs in the ledger {ledger}")
            _print_statements(extras[-1], len(results))
            return
        result = settle_month(priced, hospitals, budget, county_income, policy, f"{year:04d}-{months[0]:02d}",
                              ledger=ledger, out=out, replace=replace, last_year_pv=_last_year_pv(last_year_pv),
                              scheme_id=scheme_id, statements=opts, strict=strict)
        _print_result(result, as_json, _statements(result, opts))

    @settle_app.command("year", short_help="the annual settlement, with statements")
    @on_cluster("settle-year")
    def settle_year_cmd(
        year: Optional[int] = typer.Option(None, "--year", help="settlement year (or --period YYYY)"),
        period: Optional[str] = typer.Option(None, "--period", help="the settlement year as a period: YYYY"),
        priced: list[Path] = priced_opt, hospitals: Optional[Path] = hospitals_opt,
        budget: Optional[Path] = budget_opt, county_income: Optional[Path] = income_opt, policy: str = policy_opt,
        ledger: Optional[Path] = ledger_opt, out: Optional[Path] = out_opt, replace: bool = replace_opt,
        last_year_pv: Optional[str] = lpv_opt, statements: Optional[Path] = stmt_opt,
        no_statements: bool = no_stmt_opt, lang: str = lang_opt,
        scheme_id: Optional[str] = scheme_opt,
        prepaid: str = typer.Option("auto", "--prepaid", help="where the year's prepayments come from: auto (the "
                                    "ledger's monthly runs, else recomputed), ledger, recompute or none"),
        as_json: bool = json_opt, strict: bool = strict_opt,
    ) -> None:
        """Annual settlement: the final point value, each hospital's entitlement, fund payment and balance
        after its prepayments, the reserve, the county accounts; with --out, the hospital statements and the
        city summary."""
        from drg.settlement.runs import settle_year

        opts = _statement_options(out, statements, no_statements, lang)
        if prepaid not in ("auto", "ledger", "recompute", "none"):
            raise typer.BadParameter("use auto, ledger, recompute or none", param_hint="--prepaid")
        if period is not None:
            p_year = int(period_value(period, kinds=("year",)))
            if year is not None and year != p_year:
                raise typer.BadParameter(f"--year {year} and --period {period} differ", param_hint="--period")
            year = p_year
        if year is None:
            raise typer.BadParameter("give the settlement year: --year YYYY (or --period YYYY)", param_hint="--year")
        period_value(str(year), kinds=("year",), option="--year")
        result = settle_year(priced, hospitals, budget, county_income, policy, year, ledger=ledger, out=out,
                             replace=replace, last_year_pv=_last_year_pv(last_year_pv), scheme_id=scheme_id,
                             prepaid=prepaid, statements=opts, strict=strict)
        _print_result(result, as_json, _statements(result, opts))

    @ledger_app.command("show", short_help="the ledger's runs, or one run, in yuan")
    def ledger_show(
        ledger: Path = typer.Option(..., "--ledger", help="ledger (DuckDB file)"),
        run: Optional[str] = typer.Option(None, "--run", help="show one run: its pools, hospitals, counties, "
                                          "inputs and warnings"),
        period: Optional[str] = typer.Option(None, "--period", help="show the runs of a period: " + PERIOD_HELP),
        as_json: bool = typer.Option(False, "--json", help="print JSON (money in yuan as exact decimal text)"),
    ) -> None:
        """The runs in the ledger with their point values, a stale mark on an annual run whose months were run
        again after it; or one run in detail. Money in yuan."""
        from drg.reports.ledger_view import run_detail, run_list

        if period is not None:
            period = period_value(period)
        if run is None:
            view = run_list(ledger, period=period)
            if as_json:
                typer.echo(json.dumps(view.to_json(), ensure_ascii=False, indent=2, default=str))
            else:
                view.print()
            return
        detail = run_detail(ledger, run)
        if as_json:
            typer.echo(json.dumps(detail.to_json(), ensure_ascii=False, indent=2, default=str))
        else:
            detail.print()
