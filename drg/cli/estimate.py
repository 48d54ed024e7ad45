"""CLI of the bureau's bundle and the hospital's estimate: ``drg publish`` and ``drg estimate``.

Thin: each command parses, calls :mod:`drg.estimate.bundle`, :mod:`drg.estimate.one_case` or
:mod:`drg.estimate.month`, and prints text or JSON. The one-case path imports only the standard library,
numpy and the plain-Python grouper and pricing (no numba, polars, pyarrow or duckdb), so a person gets an
answer in well under a second.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import List, Optional

import typer

from drg.cli.options import period_value, sex_value


def register(app, scheme_app=None, policy_app=None, settle_app=None, ledger_app=None, **_: object) -> None:
    """Attach ``publish`` and ``estimate`` to the ``drg`` app (called by ``drg.cli``)."""

    @app.command("publish", short_help="the bureau's bundle for hospitals")
    def publish_cmd(
        scheme: Path = typer.Option(..., "--scheme", help="grouping scheme: a compiled scheme file (drg scheme "
                                    "build) or a rule-table directory (with --codes)"),
        tables: Path = typer.Option(..., "--tables", help="directory of weights.parquet and coefficients.parquet "
                                    "(drg weights --out)"),
        policy: str = typer.Option(..., "--policy", help="policy profile name or TOML path"),
        out: Path = typer.Option(..., "--out", help="bundle directory to write"),
        point_value: Optional[List[str]] = typer.Option(None, "--point-value", help="provisional point value "
                                                        "per pool in yuan, POOL=YUAN (e.g. 310=85.5); repeat "
                                                        "for each pool"),
        ledger: Optional[Path] = typer.Option(None, "--ledger", help="take the point values from this ledger"),
        period: Optional[str] = typer.Option(None, "--period", help="the run in the ledger whose point values "
                                             "are published: a month YYYY-MM (its provisional value) or a "
                                             "year YYYY (the annual value)"),
        codes: Optional[Path] = typer.Option(None, "--codes", help="code dictionary directory: code names for "
                                             "the suggestions on unknown codes (and the code dictionary of a "
                                             "rule-table directory given to --scheme)"),
        as_json: bool = typer.Option(False, "--json", help="print the manifest as JSON"),
    ) -> None:
        """Write what the bureau publishes for hospitals: scheme, weights, coefficients, policy, point values,
        and a workbook of base points, coefficients and point values per DRG (one bundle directory)."""
        from drg.estimate.bundle import publish

        period = period_value(period, kinds=("month", "year"))
        manifest = publish(scheme, tables, policy, out, point_values=point_value or None, ledger=ledger,
                           period=period, codes=codes)
        if as_json:
            typer.echo(json.dumps(manifest, ensure_ascii=False, indent=2))
            return
        typer.echo(f"bundle {out}: policy {manifest['policy_id']}, settlement year {manifest['settlement_year']}, "
                   f"scheme {manifest['scheme']['name']} {manifest['scheme']['version']}, "
                   f"{manifest['weights']['drgs']} DRGs, {manifest['hospitals']} hospitals")
        for pool, pv in manifest["point_values"].items():
            typer.echo(f"  point value {pool}: {pv['yuan_per_point']} yuan/point ({pv['source']})")
        for k, f in manifest["files"].items():
            typer.echo(f"  {f['path']:<22} {f['bytes']:>10,} bytes  sha256 {f['sha256'][:16]}…")
        for w in manifest["warnings"]:
            typer.echo(f"  warning: {w}")

    @app.command("estimate", short_help="what a case or a month of cases will earn, and why")
    def estimate_cmd(
        bundle: Path = typer.Option(..., "--bundle", help="bundle directory published by the bureau (drg publish)"),
        dx: Optional[str] = typer.Option(None, "--dx", help="one case: diagnoses, principal first, e.g. "
                                         "I21.000,I50.900x002"),
        px: Optional[str] = typer.Option(None, "--px", help="procedures, principal first, e.g. 36.0700"),
        age: Optional[int] = typer.Option(None, "--age", help="age in years"),
        sex: Optional[str] = typer.Option(None, "--sex", help="1 or 男 (male), 2 or 女 (female)"),
        los: Optional[int] = typer.Option(None, "--los", help="length of stay in days"),
        cost: Optional[str] = typer.Option(None, "--cost", help="total cost in yuan"),
        self_paid: Optional[str] = typer.Option(None, "--self-paid", help="the patient's share in yuan (自付 + 自费)"),
        other_paid: Optional[str] = typer.Option(None, "--other-paid", help="other payers in yuan (大病保险, "
                                                 "医疗救助 …)"),
        hospital: Optional[str] = typer.Option(None, "--hospital", help="hospital id (its coefficients); also the "
                                               "default for a file's rows"),
        insurance: Optional[str] = typer.Option(None, "--insurance", help="insurance type: 310 employee (职工), "
                                                "390 resident (居民): the pool whose point value applies; also "
                                                "the default for a file's rows"),
        age_days: Optional[int] = typer.Option(None, "--age-days", help="age in days (newborns)"),
        birth_weight: Optional[int] = typer.Option(None, "--birth-weight", help="birth weight in grams"),
        vent_hours: Optional[int] = typer.Option(None, "--vent-hours", help="hours of invasive ventilation"),
        discharge_status: Optional[int] = typer.Option(None, "--discharge-status", help="离院方式: 1 doctor's "
                                                       "order, 2 transfer, 3 to community care, 4 against "
                                                       "advice, 5 death, 9 other"),
        json_case: Optional[str] = typer.Option(None, "--json-case", help="one case as a JSON object in a file "
                                                "(- for standard input)"),
        allow_unknown: bool = typer.Option(False, "--allow-unknown", help="group a case with unknown codes "
                                           "anyway (as the bureau would) instead of stopping with suggestions"),
        steps: bool = typer.Option(False, "--steps", help="print every grouping step (the ADRGs that did not "
                                   "match too)"),
        cases: Optional[Path] = typer.Option(None, "--cases", help="a file of cases: CSV (UTF-8 or GBK), Excel "
                                             "or Parquet"),
        columns: Optional[Path] = typer.Option(None, "--columns", help="column mapping TOML for the file's own "
                                               "headers"),
        sheet: Optional[str] = typer.Option(None, "--sheet", help="the Excel sheet holding the cases (name or "
                                            "1-based number; default the first, or the mapping's sheet)"),
        out: Optional[Path] = typer.Option(None, "--out", help="write the estimate: .xlsx (sheets 汇总, 明细, "
                                           "病组, 拒收, 说明), .csv or .parquet"),
        rejects: Optional[Path] = typer.Option(None, "--rejects", help="write the rejected rows here (CSV or "
                                               "Parquet)"),
        engine: str = typer.Option("numba", "--engine", help="pricing engine for a file: numba or python"),
        as_json: bool = typer.Option(False, "--json", help="print the result as JSON"),
    ) -> None:
        """Estimate what a case, or a file of cases, will earn under the bureau's bundle, and why.

        One case: --dx, --age, --sex, --los and --cost (and --hospital, --insurance for the coefficient and
        the point value), or --json-case FILE. A file (a hospital's month): --cases FILE, with --columns
        MAPPING.toml when its headers are the hospital system's own, and --out estimate.xlsx for the
        workbook. Money is in yuan as typed; the estimate is exact to the fen (points × point value).
        """
        if engine not in ("numba", "python"):
            raise typer.BadParameter("use numba or python", param_hint="--engine")
        args = SimpleNamespace(bundle=bundle, dx=dx, px=px, age=age, sex=sex_value(sex), los=los, cost=cost,
                               self_paid=self_paid, other_paid=other_paid, hospital=hospital, insurance=insurance,
                               age_days=age_days, birth_weight=birth_weight, vent_hours=vent_hours,
                               discharge_status=discharge_status, json_case=json_case, allow_unknown=allow_unknown,
                               steps=steps, cases=cases, columns=columns, sheet=sheet, out=out, rejects=rejects,
                               engine=engine, as_json=as_json)
        run_estimate(args)


def run_estimate(args) -> None:
    """Run ``drg estimate`` with its options (a namespace of the command's parameters)."""
    from drg.estimate.bundle import open_bundle
    from drg.errors import InputError

    b = open_bundle(args.bundle)
    if args.cases is not None:
        if args.dx or args.json_case:
            raise InputError("give either --cases FILE or one case (--dx … / --json-case), not both")
        from drg.estimate.month import estimate_file

        res = estimate_file(b, args.cases, mapping=args.columns, out=args.out, rejects=args.rejects,
                            hospital_id=args.hospital, insurance_type=args.insurance, engine=args.engine,
                            sheet=args.sheet)
        s = res["summary"]
        if args.as_json:
            doc = {"summary": s}
            if args.out is None:
                doc["cases"] = res["cases"].to_pylist()
            print(json.dumps(doc, ensure_ascii=False, indent=1, default=str))
            return
        _print_summary(s)
        return
    from drg.estimate.one_case import CaseInput, case_from_json, estimate_case, format_case, parse_yuan, split_codes

    if args.json_case is not None:
        if args.dx:
            raise InputError("give either --json-case or --dx …, not both")
        if args.json_case == "-":
            text, src = sys.stdin.read(), "standard input"
        else:
            p = Path(args.json_case)
            if not p.is_file():
                raise InputError("JSON case file not found", file=str(p))
            text, src = p.read_text(encoding="utf-8"), str(p)
        try:
            doc = json.loads(text)
        except ValueError as exc:
            raise InputError(f"not valid JSON ({exc})", file=src) from None
        case = case_from_json(doc, source=src)
        for k, v in (("hospital_id", args.hospital), ("insurance_type", args.insurance)):
            if getattr(case, k) is None and v is not None:   # flags fill what the JSON leaves out
                setattr(case, k, v)
    else:
        if args.dx is None:
            raise InputError("give one case (--dx … --age … --sex … --los … --cost …), --json-case FILE, or "
                             "--cases FILE")
        case = CaseInput(dx=split_codes(args.dx), px=split_codes(args.px), sex=args.sex, age=args.age,
                         age_days=args.age_days, birth_weight=args.birth_weight, los=args.los,
                         vent_hours=args.vent_hours, discharge_status=args.discharge_status,
                         total_cost_fen=parse_yuan(args.cost, "--cost"),
                         self_paid_fen=parse_yuan(args.self_paid, "--self-paid"),
                         other_paid_fen=parse_yuan(args.other_paid, "--other-paid"), hospital_id=args.hospital,
                         insurance_type=args.insurance)
    result = estimate_case(b, case, allow_unknown=args.allow_unknown)
    if args.as_json:
        print(json.dumps(result, ensure_ascii=False, indent=1))
    else:
        print(format_case(result, all_steps=args.steps))


def _print_summary(s: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    con = Console()
    t = Table(title=f"estimate of {s['file']}", show_header=False)
    t.add_column("item", style="bold")
    t.add_column("value", justify="right")
    for k, label in (("rows_read", "rows read"), ("cases", "cases"), ("rejected", "rejected rows"),
                     ("points", "points"), ("adjusted_points", "points after readmission"),
                     ("income_yuan", "estimated income (yuan)"), ("cost_yuan", "actual cost (yuan)"),
                     ("margin_yuan", "income − cost (yuan)"), ("outliers", "outliers (high + low)"),
                     ("outlier_share", "outlier share"), ("cmi", "CMI"), ("ungrouped", "ungrouped cases"),
                     ("readmissions_halved", "readmissions halved")):
        t.add_row(label, "—" if s.get(k) is None else str(s[k]))
    for c, v in s["by_class"].items():
        t.add_row(f"class {c}", str(v))
    con.print(t)
    p = Table(title="by pool")
    for c in ("pool", "cases", "points", "point value", "income", "cost", "income − cost"):
        p.add_column(c, justify="right")
    for r in s["pools"]:
        p.add_row(r["pool"], str(r["cases"]), r["points"], r["point_value_yuan"] or "—", r["income_yuan"] or "—",
                  r["cost_yuan"], r["margin_yuan"] or "—")
    con.print(p)
    d = Table(title="top DRGs by cases")
    for c in ("drg", "name", "cases", "points", "high", "low"):
        d.add_column(c)
    for r in s["top_drgs"]:
        d.add_row(r["drg"], r["drg_name"] or "", str(r["cases"]), r["points"], str(r["high"]), str(r["low"]))
    con.print(d)
    for k, v in s["unknown_codes"].items():
        con.print(f"unknown code {k}: nearest {', '.join(v) or '—'}")
    for n in s["notes"]:
        con.print(f"note: {n}")
    if s.get("out"):
        con.print(f"written: {s['out']}" + (f", rejects: {s['rejects_file']}" if s.get("rejects_file") else ""))
