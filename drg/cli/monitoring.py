"""CLI of monitoring: ``drg monitor --ledger L --period 2025-Q2 [--out DIR]``.

Thin: parses the options, calls :func:`drg.monitoring.monitor.monitor_period`, and prints the headline
indicators of the city and each pool and the warnings (rich tables; JSON with ``--json``, money in fen).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from drg.cli.options import PERIOD_HELP, period_value


def register(app, **_: object) -> None:
    """Attach ``drg monitor`` (called by ``drg.cli``)."""

    @app.command("monitor", short_help="indicators, warnings and the city report of a period, from the ledger")
    def monitor_cmd(
        ledger: Path = typer.Option(..., "--ledger", help="ledger (DuckDB file) the settlement runs are in"),
        period: str = typer.Option(..., "--period", help="the period: " + PERIOD_HELP),
        policy: Optional[str] = typer.Option(None, "--policy", help="policy profile name or TOML path for the "
                                             "thresholds (default: the one recorded with the period's runs)"),
        out: Optional[Path] = typer.Option(None, "--out", help="directory for the tables (Parquet, money in fen) "
                                           "and the city report (HTML)"),
        no_report: bool = typer.Option(False, "--no-report", help="with --out, write the tables only"),
        as_json: bool = typer.Option(False, "--json", help="print JSON (money in fen)"),
    ) -> None:
        """The standard DRG indicators of the period and the year to date (入组率, CMI, 次均费用, 费用/时间
        消耗指数, 低风险组死亡率, outlier and other shares, 结余/超支, 同病同价 convergence) for the city, pools,
        counties, hospitals, tiers and MDC/ADRG/DRG, and the warnings with their severity; stored in the
        ledger, and with --out written as Parquet with a self-contained HTML city report."""
        from drg.monitoring.monitor import monitor_period

        text = period_value(period)
        result = monitor_period(ledger, text, policy=policy, out=out, report=not no_report)
        if as_json:
            typer.echo(json.dumps(result.summary(), ensure_ascii=False, indent=2, default=str))
            return
        _print(result)


_ROWS = [("cases", "cases 病例数", "count"), ("group_rate", "入组率 grouping rate", "pct"),
         ("drgs_used", "DRGs used 使用病组数", "count"), ("points", "points 总点数", "num"),
         ("cmi", "CMI", "num"), ("avg_cost_fen", "次均费用 cost per case (yuan)", "yuan"),
         ("avg_los", "average LOS 平均住院日", "los"), ("cost_index", "费用消耗指数 cost index", "num"),
         ("time_index", "时间消耗指数 time index", "num"), ("low_risk_mortality", "低风险组死亡率", "pct"),
         ("outlier_share", "outlier share 高低倍率占比", "pct"), ("self_pay_share", "self-pay share 个人负担占比", "pct"),
         ("balance_fen", "结余/超支 balance (yuan)", "yuan")]


def _cell(v, kind: str) -> str:
    if v is None:
        return "—"
    if kind == "count":
        return f"{int(v):,}"
    if kind == "pct":
        return f"{float(v):.1%}"
    if kind == "yuan":
        return f"{int(v) / 100:,.2f}"
    if kind == "los":
        return f"{float(v):.2f}"
    return f"{float(v):,.4f}"


def _print(result) -> None:
    from rich.table import Table

    from drg.reports.labels import console, pool_label, warning_label

    con = console()
    for scope, span in result.spans.items():
        rows = result.headline(scope)
        t = Table(title=f"monitoring {result.period} — {'the period' if scope == 'period' else 'year to date'} "
                        f"{span} (policy {result.policy_id}; money in yuan)")
        t.add_column("")
        for r in rows:
            t.add_column("city 全市" if r["unit_type"] == "city" else f"pool {pool_label(r['unit'])}", justify="right")
        for key, label, kind in _ROWS:
            t.add_row(label, *[_cell(r.get(key), kind) for r in rows])
        con.print(t)
    if result.warnings:
        w = Table(title=f"{len(result.warnings)} warning(s), alerts first")
        for c in ("severity", "kind", "pool", "subject", "message"):
            w.add_column(c, overflow="fold")
        style = {"alert": "bold red", "warning": "yellow", "info": "cyan"}
        for x in result.warnings:
            w.add_row(x.severity, f"{x.kind} ({warning_label(x.kind)})", x.pool, x.subject, x.message,
                      style=style.get(x.severity))
        con.print(w)
    else:
        con.print("no warnings")
    for name, path in result.files.items():
        con.print(f"wrote {name}: {path}", highlight=False)
