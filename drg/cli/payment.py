"""CLI of the payment engine: ``drg policy list|show``, ``drg weights``, ``drg points``.

Thin: each command parses its options, calls one library function, prints a rich table or JSON.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from drg.cli.cluster import on_cluster


def register(app, scheme_app=None, policy_app=None, settle_app=None, ledger_app=None, **_: object) -> None:
    """Attach the payment commands to the ``drg`` app (called by ``drg.cli``)."""

    @policy_app.command("list")
    def policy_list(as_json: bool = typer.Option(False, "--json", help="print JSON")) -> None:
        """List the shipped policy profiles."""
        from drg.policy import list_policies

        infos = list_policies()
        if as_json:
            typer.echo(json.dumps([{"id": i.id, "name": i.name, "city": i.city, "year": i.year,
                                    "path": str(i.path)} for i in infos], ensure_ascii=False, indent=2))
            return
        from rich.console import Console
        from rich.table import Table

        t = Table(title="policy profiles")
        for c in ("id", "name", "city", "year"):
            t.add_column(c)
        for i in infos:
            t.add_row(i.id, i.name, i.city, "" if i.year is None else str(i.year))
        Console().print(t)

    @policy_app.command("show")
    def policy_show(name: str = typer.Argument(..., help="profile name or path to a TOML file"),
                    as_json: bool = typer.Option(False, "--json", help="print JSON")) -> None:
        """Show every parameter of a policy, its value and where the value comes from."""
        from drg.policy import load_policy, policy_rows, policy_to_dict

        pol = load_policy(name)
        if as_json:
            typer.echo(json.dumps(policy_to_dict(pol), ensure_ascii=False, indent=2))
            return
        from rich.console import Console
        from rich.table import Table

        t = Table(title=f"policy {pol.id} — {pol.name}", show_lines=False)
        t.add_column("key", style="bold")
        t.add_column("value")
        t.add_column("origin")
        for key, value, origin in policy_rows(pol):
            style = "yellow" if origin.startswith("default") else None
            t.add_row(key, value, origin, style=style)
        Console().print(t)

    @app.command("weights")
    @on_cluster("weights")
    def weights_cmd(
        history: list[Path] = typer.Option(..., "--history", help="grouped cases of earlier years (Parquet); "
                                           "repeat the option for one file per year"),
        hospitals: Path = typer.Option(..., "--hospitals", help="hospitals table of the settlement year"),
        policy: str = typer.Option(..., "--policy", help="policy profile name or TOML path"),
        out: Path = typer.Option(..., "--out", help="output directory"),
        year: Optional[int] = typer.Option(None, "--year", help="settlement year (default: policy year, "
                                           "else the year after the latest history year)"),
        scheme_id: Optional[str] = typer.Option(None, "--scheme-id", help="scheme id recorded in the tables"),
        as_json: bool = typer.Option(False, "--json", help="print a JSON summary"),
    ) -> None:
        """Base points, means, stability (weights.parquet) and coefficients (coefficients.parquet)."""
        from drg.pricing.coefficients import build_tables

        summary = build_tables(history, hospitals, policy, out, year=year, scheme_id=scheme_id)
        _print_summary(summary, f"weights and coefficients → {out}", as_json)

    @app.command("points")
    @on_cluster("points")
    def points_cmd(
        cases: Path = typer.Option(..., "--cases", help="grouped cases (Parquet)"),
        tables: Path = typer.Option(..., "--tables", help="directory written by `drg weights`"),
        policy: str = typer.Option(..., "--policy", help="policy profile name or TOML path"),
        out: Path = typer.Option(..., "--out", help="priced cases (Parquet)"),
        reviews: Optional[Path] = typer.Option(None, "--reviews", help="special-review table (特病单议)"),
        violations: Optional[Path] = typer.Option(None, "--violations", help="adjudicated violations"),
        year: Optional[int] = typer.Option(None, "--year", help="settlement year, default the policy year "
                                           "(readmissions pair only within it)"),
        as_json: bool = typer.Option(False, "--json", help="print a JSON summary"),
    ) -> None:
        """Price grouped cases in points (case classes, readmission, reviews, violations)."""
        from drg.pricing.priced_file import price_file

        summary = price_file(cases, tables, policy, out, reviews=reviews, violations=violations, year=year)
        _print_summary(summary, f"priced cases → {out}", as_json)


def _print_summary(summary: dict, title: str, as_json: bool) -> None:
    """A command's summary dict as JSON or as a two-column rich table."""
    if as_json:
        typer.echo(json.dumps(summary, ensure_ascii=False, indent=2, default=str))
        return
    from rich.console import Console
    from rich.table import Table

    t = Table(title=title)
    t.add_column("item")
    t.add_column("value", justify="right")
    for k, v in summary.items():
        t.add_row(k, str(v))
    Console().print(t)
