"""CLI of the bureau's bundle and the hospital's estimate: ``drg publish`` and ``drg estimate``.

Thin: each command parses, calls :mod:`drg.estimate.bundle` or :mod:`drg.estimate.one_case`, and prints text or JSON. The
one-case path imports only the standard library, numpy and the plain-Python grouper and pricing (no numba,
polars, pyarrow or duckdb), so a person gets an answer in well under a second.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import List, Optional

import typer

_SEX = {"男": 1, "女": 2, "m": 1, "f": 2, "male": 1, "female": 2, "未知": 0}


def _sex(value: Optional[str]) -> Optional[int]:
    from drg.errors import InputError

    if value is None:
        return None
    v = value.strip()
    if v.isdigit():
        return int(v)
    if v.lower() in _SEX:
        return _SEX[v.lower()]
    raise InputError(f"--sex {value!r}: use 1 (male) or 2 (female)", field="sex")


def register(app, scheme_app=None, policy_app=None, settle_app=None, ledger_app=None, **_: object) -> None:
    """Attach ``publish`` and ``estimate`` to the ``drg`` app (called by ``drg.cli``)."""

    @app.command("publish")
    def publish_cmd(
        scheme: Path = typer.Option(..., "--scheme", help="compiled scheme file (drg scheme build)"),
        tables: Path = typer.Option(..., "--tables", help="directory of weights.parquet and coefficients.parquet "
                                    "(drg weights --out)"),
        policy: str = typer.Option(..., "--policy", help="policy profile name or TOML path"),
        out: Path = typer.Option(..., "--out", help="bundle directory to write"),
        point_value: Optional[List[str]] = typer.Option(None, "--point-value", help="provisional point value "
                                                        "per pool in yuan, POOL=YUAN (e.g. 310=85.5); repeat "
                                                        "for each pool"),
        ledger: Optional[Path] = typer.Option(None, "--ledger", help="take point values from this ledger"),
        period: Optional[str] = typer.Option(None, "--period", help="settlement period in the ledger (2025, "
                                             "2025-06)"),
        codes: Optional[Path] = typer.Option(None, "--codes", help="code dictionary directory: code names for "
                                             "the suggestions on unknown codes"),
        as_json: bool = typer.Option(False, "--json", help="print the manifest as JSON"),
    ) -> None:
        """Write what the bureau publishes: scheme, weights, coefficients, policy, point values (one bundle)."""
        from drg.estimate.bundle import publish

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

    @app.command("estimate", context_settings={"allow_extra_args": True, "ignore_unknown_options": True,
                                               "help_option_names": []}, add_help_option=False)
    def estimate_cmd(ctx: typer.Context) -> None:
        """Estimate what a case (or a file of cases) will earn under the bureau's bundle, and why.

        One case: --bundle B --dx I21.000,I50.900x002 --px 36.0700 --age 66 --sex 1 --los 9 --cost 52300.50
        [--self-paid 9800 --hospital H001 --insurance 310]; or --json-case FILE|-; a file: --cases FILE
        [--columns MAPPING.toml] [--out estimate.xlsx] [--rejects rejects.csv]. `drg estimate --help` for all.
        """
        # The options are parsed with argparse, not typer: typer builds a pydantic adapter per option on
        # every call (about 0.2 s of imports), which would double the one-case answer time.
        args = build_parser().parse_args(ctx.args)
        run_estimate(args)


def build_parser():
    """The options of ``drg estimate`` (argparse: fast to build, exits 2 on a usage error)."""
    import argparse

    p = argparse.ArgumentParser(
        prog="drg estimate",
        description="Estimate what a case (or a file of cases) will earn under the bureau's bundle, and why.",
        epilog="Money is in yuan as typed; the estimate is exact to the fen (round(points × point value)).")
    p.add_argument("--bundle", required=True, type=Path, help="bundle directory published by the bureau")
    one = p.add_argument_group("one case")
    one.add_argument("--dx", help="diagnoses, principal first: I21.000,I50.900x002")
    one.add_argument("--px", help="procedures, principal first: 36.0700")
    one.add_argument("--age", type=int, help="age in years")
    one.add_argument("--sex", help="1 male, 2 female (男/女 accepted)")
    one.add_argument("--los", type=int, help="length of stay in days")
    one.add_argument("--cost", help="total cost in yuan")
    one.add_argument("--self-paid", help="the patient's share in yuan (自付 + 自费)")
    one.add_argument("--other-paid", help="other payers in yuan (大病保险, 医疗救助 …)")
    one.add_argument("--hospital", help="hospital id (its coefficient); also the default for a file")
    one.add_argument("--insurance", help="insurance type: 310 employee, 390 resident (the pool whose point "
                     "value applies); also the default for a file")
    one.add_argument("--age-days", type=int, help="age in days (newborns)")
    one.add_argument("--birth-weight", type=int, help="birth weight in grams")
    one.add_argument("--vent-hours", type=int, help="hours of invasive ventilation")
    one.add_argument("--discharge-status", type=int, help="离院方式 1-5 or 9")
    one.add_argument("--json-case", help="the case as a JSON object in a file (- for standard input)")
    one.add_argument("--allow-unknown", action="store_true", help="group a case with unknown codes anyway (as "
                     "the bureau would) instead of stopping with suggestions")
    one.add_argument("--steps", action="store_true", help="print every grouping step (the ADRGs that did not "
                     "match too)")
    f = p.add_argument_group("a file of cases")
    f.add_argument("--cases", type=Path, help="case file: CSV (UTF-8 or GBK), Excel or Parquet")
    f.add_argument("--columns", type=Path, help="column mapping TOML for the file's own headers")
    f.add_argument("--out", type=Path, help="write the estimate: .xlsx (汇总, 明细, 病组, 拒收), .csv or .parquet")
    f.add_argument("--rejects", type=Path, help="write rejected rows here (CSV or Parquet)")
    f.add_argument("--engine", choices=("numba", "python"), default="numba", help="pricing engine for a file")
    p.add_argument("--json", dest="as_json", action="store_true", help="machine output (JSON)")
    return p


def run_estimate(args) -> None:
    """Run ``drg estimate`` with parsed options (see :func:`build_parser`)."""
    from drg.estimate.bundle import open_bundle
    from drg.errors import InputError

    b = open_bundle(args.bundle)
    if args.cases is not None:
        if args.dx or args.json_case:
            raise InputError("give either --cases FILE or one case (--dx … / --json-case), not both")
        from drg.estimate.month import estimate_file

        res = estimate_file(b, args.cases, mapping=args.columns, out=args.out, rejects=args.rejects,
                            hospital_id=args.hospital, insurance_type=args.insurance, engine=args.engine)
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
        case = CaseInput(dx=split_codes(args.dx), px=split_codes(args.px), sex=_sex(args.sex), age=args.age,
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


def main(argv: list[str] | None = None) -> int:
    """``python -m drg.cli.estimate ARGS`` — ``drg estimate`` without the typer layer.

    Typer (0.29) imports pydantic to coerce the ``drg`` group's own ``--help`` option on every call
    (about 0.15–0.2 s); this entry point skips it. Same options, output and exit codes (1 wrong input, 2
    usage).
    """
    from drg.cli.guard import run_guarded

    return run_guarded(lambda: run_estimate(build_parser().parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
