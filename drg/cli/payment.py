"""CLI of the payment engine: ``drg policy list|show``, ``drg weights``, ``drg points``, ``drg scheme migrate``.

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
    _register_migrate(scheme_app)

    @policy_app.command("list", short_help="the shipped policy profiles")
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

    @policy_app.command("show", short_help="every parameter of a policy and where it comes from")
    def policy_show(name: str = typer.Argument(..., metavar="POLICY", help="profile name or path to a TOML file"),
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

    @app.command("weights", short_help="base points and coefficients from grouped history")
    @on_cluster("weights")
    def weights_cmd(
        history: list[Path] = typer.Option(..., "--history", help="grouped cases of earlier years (drg group); "
                                           "repeat the option for one file per year"),
        hospitals: Path = typer.Option(..., "--hospitals", help="hospitals table of the settlement year"),
        policy: str = typer.Option(..., "--policy", help="policy profile name or TOML path"),
        out: Path = typer.Option(..., "--out", help="output directory"),
        year: Optional[int] = typer.Option(None, "--year", help="settlement year (default: policy year, "
                                           "else the year after the latest history year)"),
        scheme_id: Optional[str] = typer.Option(None, "--scheme-id", help="scheme id recorded in the tables "
                                                "(default: the one the history files were grouped with)"),
        ledger: Optional[Path] = typer.Option(None, "--ledger", help="ledger (DuckDB file) to keep the low-risk "
                                              "DRGs in, for drg monitor"),
        as_json: bool = typer.Option(False, "--json", help="print a JSON summary"),
    ) -> None:
        """Base points, means and stability per DRG (weights.parquet), each hospital's coefficients
        (coefficients.parquet) and the low-risk DRGs of the same history years (low_risk_drgs.parquet; with
        --ledger also into the ledger), from grouped history."""
        from drg.pricing.coefficients import build_tables

        summary = build_tables(history, hospitals, policy, out, year=year, scheme_id=scheme_id, ledger=ledger)
        _print_summary(summary, f"weights and coefficients → {out}", as_json)

    @app.command("points", short_help="price grouped cases in points")
    @on_cluster("points")
    def points_cmd(
        cases: Path = typer.Option(..., "--cases", help="grouped cases (drg group), Parquet"),
        tables: Path = typer.Option(..., "--tables", help="directory written by drg weights"),
        policy: str = typer.Option(..., "--policy", help="policy profile name or TOML path"),
        out: Path = typer.Option(..., "--out", help="priced cases (Parquet)"),
        reviews: Optional[Path] = typer.Option(None, "--reviews", help="special-review table (特病单议)"),
        violations: Optional[Path] = typer.Option(None, "--violations", help="adjudicated violations"),
        year: Optional[int] = typer.Option(None, "--year", help="settlement year, default the policy year "
                                           "(readmissions pair only within it)"),
        strict: bool = typer.Option(False, "--strict", help="refuse the run (exit 1) when most cases are not of "
                                    "the tables' settlement year, instead of warning"),
        rejects: Optional[Path] = typer.Option(None, "--rejects", help="write the rows that cannot be priced "
                                               "here (.parquet or .csv)"),
        as_json: bool = typer.Option(False, "--json", help="print a JSON summary"),
    ) -> None:
        """Price grouped cases in points: case classes, readmission halving, special review, violations."""
        import pyarrow.parquet as pq

        from drg.cli.guards import check_year
        from drg.pricing.priced_file import price_file
        from drg.pricing.weights import grouped_scheme_id

        grouped_scheme_id(cases, command="points")      # a file no grouping produced: say so before anything
        wfile = Path(tables) / "weights.parquet"
        tables_year = None
        if wfile.is_file():
            sy = (pq.read_schema(wfile).metadata or {}).get(b"drg.settlement_year", b"").decode()
            tables_year = int(sy) if sy.isdigit() else None
        check_year(cases, year or tables_year, strict=strict,
                   what="--year" if year else f"the tables ({tables})")
        from drg.cli.progress import kernels_cached

        if not as_json and not kernels_cached("drg.pricing.kernels", "price_kernel"):
            typer.echo("compiling kernels (first run only) …", err=True)
        summary = price_file(cases, tables, policy, out, reviews=reviews, violations=violations, year=year,
                             rejects=rejects)
        _print_summary(summary, f"priced cases → {out}", as_json)


def _register_migrate(scheme_app) -> None:
    @scheme_app.command("migrate")
    def scheme_migrate(
        scheme_from: Path = typer.Option(..., "--from", help="scheme in use (e.g. chs11.scheme)"),
        scheme_to: Path = typer.Option(..., "--to", help="scheme to move to (e.g. chs20.scheme)"),
        cases: Path = typer.Option(..., "--cases", help="a year's case file, raw codes (Parquet, CSV, Excel)"),
        out: Path = typer.Option(..., "--out", help="output directory"),
        history: Optional[list[Path]] = typer.Option(None, "--history", help="case files of earlier years (raw "
                                                     "codes), one per year: the points per hospital"),
        hospitals: Optional[Path] = typer.Option(None, "--hospitals", help="hospitals table (with --history)"),
        policy: Optional[str] = typer.Option(None, "--policy", help="policy of the new year (with --history)"),
        year: Optional[int] = typer.Option(None, "--year", help="settlement year (default: the policy's)"),
        columns: Optional[Path] = typer.Option(None, "--columns", help="TOML mapping of the files' own headers"),
        as_json: bool = typer.Option(False, "--json", help="print the summary as JSON"),
    ) -> None:
        """Regroup a year under two editions: the crosswalk (old DRG → new DRG, cases, cost), the cases whose
        group changed per hospital, and with --history the points each hospital would have under each."""
        from drg.migration import migrate
        from grouper.scheme import load_scheme

        summary = migrate(load_scheme(scheme_from), load_scheme(scheme_to), cases, out, history=history or None,
                          hospitals=hospitals, policy=policy, year=year, mapping=columns)
        if as_json:
            typer.echo(json.dumps(summary, ensure_ascii=False, indent=1, default=str))
            return
        from rich.console import Console
        from rich.table import Table

        con = Console()
        con.print(f"{summary['from']['scheme']} → {summary['to']['scheme']}: {summary['cases']:,} cases, "
                  f"{summary['changed']:,} changed DRG ({summary['changed_share']:.1%}) → {out}")
        t = Table(title="largest moves (crosswalk.csv has every pair)")
        for c in ("from", "to", "cases", "total cost (yuan)"):
            t.add_column(c, justify="right" if c in ("cases", "total cost (yuan)") else "left")
        for r in summary["largest_moves"]:
            t.add_row(f"{r['drg_from']} {r['name_from']}", f"{r['drg_to']} {r['name_to']}", f"{r['cases']:,}",
                      f"{r['total_cost_fen'] / 100:,.2f}")
        con.print(t)
        t = Table(title="per hospital (hospitals.csv)")
        keys = [k for k in ("hospital_id", "insurance_type", "cases", "changed", "changed_share", "points_from",
                            "points_to", "points_change") if any(k in r for r in summary["hospitals"])]
        for k in keys:
            t.add_column(k, justify="left" if k in ("hospital_id", "insurance_type") else "right")
        for r in summary["hospitals"][:40]:
            t.add_row(*("" if r.get(k) is None else str(r.get(k)) for k in keys))
        con.print(t)


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
        t.add_row(k, json.dumps(v, ensure_ascii=False, default=str) if isinstance(v, dict) else str(v))
    Console().print(t)
