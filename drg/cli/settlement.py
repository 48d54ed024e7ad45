"""CLI of settlement: ``drg settle month``, ``drg settle year`` and ``drg ledger show``.

Thin: each command parses its options, calls :func:`drg.settlement.runs.settle_month` / :func:`drg.settlement.runs.settle_year`
(and :func:`drg.reports.statements.write_statements` with ``--statements``), and prints the pool figures, the warnings
and the files written (rich tables, or JSON with ``--json``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from drg.cli.cluster import on_cluster


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
    from rich.console import Console
    from rich.table import Table

    from drg.money import yuan_text
    from drg.money import units_to_decimal

    con = Console()
    t = Table(title=f"{result.kind} {result.period} — policy {result.policy_id}"
                    + (f", scheme {result.scheme_id}" if result.scheme_id else ""))
    t.add_column("")
    pools = list(result.pools.values())
    for p in pools:
        t.add_column(f"pool {p.pool}", justify="right")
    lines = [
        ("cases", lambda p: f"{p.cases:,}"),
        ("budget B (yuan)", lambda p: yuan_text(p.budget)),
        ("reserve R", lambda p: yuan_text(p.reserve)),
        ("self-pay S", lambda p: yuan_text(p.self_pay)),
        ("distributable D" if result.kind == "year" else "provisional amounts", lambda p: yuan_text(p.distributable)),
        ("points P" if result.kind == "year" else "points P (year to date)",
         lambda p: f"{units_to_decimal(p.total_points_units, p.scale):,}"),
        ("point value (yuan/point)", lambda p: f"{p.point_value_yuan:,}"),
        ("fund payments", lambda p: yuan_text(p.fund_payments)),
        ("prepaid", lambda p: yuan_text(p.prepaid)),
    ]
    if result.kind == "year":
        lines += [("reserve to hospitals", lambda p: yuan_text(p.reserve_to_hospitals)),
                  ("reserve to counties", lambda p: yuan_text(p.reserve_to_counties)),
                  ("reserve left", lambda p: yuan_text(p.reserve_left))]
    else:
        lines += [("provisional method", lambda p: p.provisional_method)]
    for label, fn in lines:
        t.add_row(label, *[fn(p) for p in pools])
    con.print(t)
    if result.run_id:
        con.print(f"recorded in the ledger as run {result.run_id}", highlight=False)
    if result.kind == "year" and result.counties.height:
        c = Table(title="county accounts (yuan)")
        for col in ("pool", "county", "drg spending", "balance", "city share", "county share"):
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
                con.print(f"  [yellow]{w.kind}[/] {w.message}", highlight=False)
            else:
                by_kind.setdefault((w.kind, w.pool), []).append(w)
        for (kind, pool), ws in by_kind.items():
            shown = ", ".join(w.subject + (f" {w.value:.1%}" if w.value is not None and kind != "recovery" else "")
                              for w in ws[:6])
            more = f" … and {len(ws) - 6} more" if len(ws) > 6 else ""
            con.print(f"  [yellow]{kind}[/] pool {pool}: {len(ws)} hospital(s): {shown}{more}", highlight=False)
    for name, path in summary.get("out_files", {}).items():
        con.print(f"wrote {name}: {path}", highlight=False)
    if extra and extra.get("statements_written"):
        con.print(f"statements: {extra['statements_written']} files under {extra['statements_dir']}",
                  highlight=False)


def _print_months(results) -> None:
    from rich.console import Console
    from rich.table import Table

    from drg.money import yuan_text

    method = next(iter(results[0].pools.values())).provisional_method
    t = Table(title=f"monthly runs {results[0].period} … {results[-1].period} (provisional PV: {method})")
    for c in ("period", "pool", "PV (yuan)", "cases", "fund amounts", "prepaid", "warn"):
        t.add_column(c, justify="left" if c in ("period", "pool") else "right", no_wrap=True)
    for r in results:
        for p in r.pools.values():
            n = sum(1 for w in r.warnings if w.pool in (p.pool, "all"))
            t.add_row(r.period, p.pool, f"{p.point_value_yuan:,}", f"{p.cases:,}", yuan_text(p.fund_payments),
                      yuan_text(p.prepaid), str(n))
    Console().print(t)


def register(app, scheme_app=None, policy_app=None, settle_app=None, ledger_app=None, **_: object) -> None:
    """Attach ``drg settle month|year`` and ``drg ledger show`` (called by ``drg.cli``)."""

    priced_opt = typer.Option(..., "--priced", help="priced cases (output of `drg points`); repeatable")
    hospitals_opt = typer.Option(None, "--hospitals", help="hospitals table of the settlement year")
    budget_opt = typer.Option(None, "--budget", help="budget table (year, insurance_type, fund_budget yuan)")
    income_opt = typer.Option(None, "--county-income", help="county income table (SPEC §8)")
    policy_opt = typer.Option(..., "--policy", help="policy profile name or TOML path")
    ledger_opt = typer.Option(None, "--ledger", help="ledger (DuckDB file) to record the run in")
    out_opt = typer.Option(None, "--out", help="directory for hospitals.parquet and counties.parquet")
    replace_opt = typer.Option(False, "--replace", help="replace a period already in the ledger")
    lpv_opt = typer.Option(None, "--last-year-pv", help="last year's point value in yuan: one value, or "
                           "310=V,390=W (default: the ledger's annual run of last year)")
    stmt_opt = typer.Option(None, "--statements", help="write hospital statements and the city summary here")
    json_opt = typer.Option(False, "--json", help="print a JSON summary")
    scheme_opt = typer.Option(None, "--scheme-id", help="scheme id to record (default: from the priced file)")

    def _statements(result, statements, priced, ledger):
        if statements is None:
            return {}
        from drg.reports.statements import write_statements

        files = write_statements(result, statements, priced=priced, ledger=ledger)
        return {"statements_written": len(files["statements"]), "statements_dir": str(statements),
                "city_summary": files.get("city_summary"), "chart": files.get("chart")}

    @settle_app.command("month")
    @on_cluster("settle-month")
    def settle_month_cmd(
        period: str = typer.Option(..., "--period", help="YYYY-MM, or a range YYYY-MM:YYYY-MM of one year"),
        priced: list[Path] = priced_opt, hospitals: Optional[Path] = hospitals_opt,
        budget: Optional[Path] = budget_opt, county_income: Optional[Path] = income_opt, policy: str = policy_opt,
        ledger: Optional[Path] = ledger_opt, out: Optional[Path] = out_opt, replace: bool = replace_opt,
        last_year_pv: Optional[str] = lpv_opt, statements: Optional[Path] = stmt_opt,
        scheme_id: Optional[str] = scheme_opt, as_json: bool = json_opt,
    ) -> None:
        """Monthly run: provisional point value, provisional fund amounts, prepayments, §9 warnings.

        ``--period 2025-01:2025-12`` runs a range of months of one year from a single read of the priced
        files (each month its own run; ``--out`` gets one sub-directory per period).
        """
        from drg.settlement.periods import parse_period
        from drg.settlement.runs import settle_month, settle_months

        if ":" in period:
            first, _, last = period.partition(":")
            (y1, m1), (y2, m2) = parse_period(first.strip()), parse_period(last.strip())
            if y1 != y2 or m2 < m1:
                from drg.errors import InputError

                raise InputError(f"--period range must be within one year, first ≤ last: {period!r}", field="period")
            results = settle_months(priced, hospitals, budget, county_income, policy, y1, months=range(m1, m2 + 1),
                                    ledger=ledger, out=out, replace=replace,
                                    last_year_pv=_last_year_pv(last_year_pv), scheme_id=scheme_id)
            extras = [_statements(r, statements, priced, ledger) for r in results]
            if as_json:
                typer.echo(json.dumps([{**r.summary(), **e} for r, e in zip(results, extras)], ensure_ascii=False,
                                      indent=2, default=str))
                return
            _print_months(results)
            if ledger is not None:
                typer.echo(f"recorded {len(results)} runs in the ledger {ledger}")
            return
        result = settle_month(priced, hospitals, budget, county_income, policy, period, ledger=ledger, out=out,
                              replace=replace, last_year_pv=_last_year_pv(last_year_pv), scheme_id=scheme_id)
        _print_result(result, as_json, _statements(result, statements, priced, ledger))

    @settle_app.command("year")
    @on_cluster("settle-year")
    def settle_year_cmd(
        year: int = typer.Option(..., "--year", help="settlement year"),
        priced: list[Path] = priced_opt, hospitals: Optional[Path] = hospitals_opt,
        budget: Optional[Path] = budget_opt, county_income: Optional[Path] = income_opt, policy: str = policy_opt,
        ledger: Optional[Path] = ledger_opt, out: Optional[Path] = out_opt, replace: bool = replace_opt,
        last_year_pv: Optional[str] = lpv_opt, statements: Optional[Path] = stmt_opt,
        scheme_id: Optional[str] = scheme_opt,
        prepaid: str = typer.Option("auto", "--prepaid", help="auto | ledger | recompute | none: where the "
                                    "year's prepayments come from (auto: the ledger's monthly runs, else "
                                    "recomputed)"),
        as_json: bool = json_opt,
    ) -> None:
        """Annual run: final point value, entitlements, fund payments, balances, reserve, county accounts."""
        from drg.settlement.runs import settle_year

        result = settle_year(priced, hospitals, budget, county_income, policy, year, ledger=ledger, out=out,
                             replace=replace, last_year_pv=_last_year_pv(last_year_pv), scheme_id=scheme_id,
                             prepaid=prepaid)
        _print_result(result, as_json, _statements(result, statements, priced, ledger))

    @ledger_app.command("show")
    def ledger_show(
        ledger: Path = typer.Option(..., "--ledger", help="ledger (DuckDB file)"),
        run: Optional[str] = typer.Option(None, "--run", help="show one run's pools, hospitals and warnings"),
        as_json: bool = json_opt,
    ) -> None:
        """List the runs in the ledger (or one run in detail)."""
        from drg.settlement.ledger import Ledger

        led = Ledger(ledger)
        if not led.path.exists():
            from drg.errors import InputError

            raise InputError("ledger not found", file=str(ledger))
        if run is None:
            df = led.runs()
            if as_json:
                typer.echo(json.dumps(df.to_dicts(), ensure_ascii=False, indent=2, default=str))
                return
            from rich.console import Console
            from rich.table import Table

            t = Table(title=f"ledger {ledger} — {df.height} run(s); point values in yuan per point")
            pvs = [dict(x.rsplit(" ", 1) for x in (r or "").split(", ") if x) for r in df["point_values"].to_list()]
            pools = sorted({k for d in pvs for k in d})
            t.add_column("run id", no_wrap=True)
            t.add_column("policy")
            for p in pools:
                t.add_column(f"PV {p}", justify="right")
            t.add_column("warn", justify="right")
            for r, d in zip(df.iter_rows(named=True), pvs):
                t.add_row(r["run_id"], r["policy_id"], *[d.get(p, "") for p in pools], str(r["warnings"]))
            Console().print(t)
            return
        tables = {name: led.table(name, run) for name in ("runs", "run_inputs", "pool_results",
                                                            "hospital_results", "county_results", "warnings")}
        if tables["runs"].height == 0:
            from drg.errors import InputError

            raise InputError(f"no run {run!r} in the ledger", file=str(ledger))
        if as_json:
            typer.echo(json.dumps({k: v.to_dicts() for k, v in tables.items()}, ensure_ascii=False, indent=2,
                                  default=str))
            return
        from rich.console import Console

        con = Console()
        import polars as pl

        with pl.Config(tbl_rows=200, tbl_cols=30, fmt_str_lengths=120, tbl_width_chars=200):
            for name, df in tables.items():
                con.print(f"[bold]{name}[/] ({df.height} rows)")
                con.print(str(df.drop("run_id")), highlight=False)
