"""CLI of the bureau's bundle and the hospital's estimate: ``drg publish`` and ``drg estimate``.

Thin: each command parses, calls :mod:`drg.bundle` or :mod:`drg.estimate`, and prints text or JSON. The
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
        from drg.bundle import publish

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

    @app.command("estimate")
    def estimate_cmd(
        bundle: Path = typer.Option(..., "--bundle", help="bundle directory published by the bureau"),
        dx: Optional[str] = typer.Option(None, "--dx", help="diagnoses, principal first: I21.000,I50.900x002"),
        px: Optional[str] = typer.Option(None, "--px", help="procedures, principal first"),
        age: Optional[int] = typer.Option(None, "--age", help="age in years"),
        sex: Optional[str] = typer.Option(None, "--sex", help="1 male, 2 female"),
        los: Optional[int] = typer.Option(None, "--los", help="length of stay in days"),
        cost: Optional[str] = typer.Option(None, "--cost", help="total cost in yuan"),
        self_paid: Optional[str] = typer.Option(None, "--self-paid", help="the patient's share in yuan (自付+自费)"),
        other_paid: Optional[str] = typer.Option(None, "--other-paid", help="other payers in yuan (大病, 救助…)"),
        hospital: Optional[str] = typer.Option(None, "--hospital", help="hospital id (for its coefficient)"),
        insurance: Optional[str] = typer.Option(None, "--insurance", help="insurance type: 310 employee, "
                                                "390 resident (the pool whose point value applies)"),
        age_days: Optional[int] = typer.Option(None, "--age-days", help="age in days (newborns)"),
        birth_weight: Optional[int] = typer.Option(None, "--birth-weight", help="birth weight in grams"),
        vent_hours: Optional[int] = typer.Option(None, "--vent-hours", help="hours of invasive ventilation"),
        discharge_status: Optional[int] = typer.Option(None, "--discharge-status", help="离院方式 1-5, 9"),
        json_case: Optional[str] = typer.Option(None, "--json-case", help="the case as a JSON object in a file "
                                                "(or - for standard input)"),
        cases: Optional[Path] = typer.Option(None, "--cases", help="a case file (CSV in UTF-8 or GBK, Excel, "
                                             "Parquet): estimate every case"),
        columns: Optional[Path] = typer.Option(None, "--columns", help="column mapping TOML for the file's "
                                               "own headers"),
        out: Optional[Path] = typer.Option(None, "--out", help="write the file estimate: .xlsx, .csv or .parquet"),
        rejects: Optional[Path] = typer.Option(None, "--rejects", help="write rejected rows here (CSV/Parquet)"),
        allow_unknown: bool = typer.Option(False, "--allow-unknown", help="group a case with unknown codes "
                                           "anyway (as the bureau would)"),
        engine: str = typer.Option("numba", "--engine", help="file pricing engine: numba or python"),
        as_json: bool = typer.Option(False, "--json", help="machine output (JSON)"),
    ) -> None:
        """Estimate what a case (or a file of cases) will earn under the bureau's bundle, and why."""
        from drg.bundle import open_bundle
        from drg.errors import InputError

        b = open_bundle(bundle)
        if cases is not None:
            if dx or json_case:
                raise InputError("give either --cases FILE or one case (--dx … / --json-case), not both")
            from drg.estimate import estimate_file

            res = estimate_file(b, cases, mapping=columns, out=out, rejects=rejects, hospital_id=hospital,
                                insurance_type=insurance, engine=engine)
            s = res["summary"]
            if as_json:
                doc = {"summary": s}
                if out is None:
                    doc["cases"] = res["cases"].drop_columns(["dx", "px"]).to_pylist()
                typer.echo(json.dumps(doc, ensure_ascii=False, indent=1, default=str))
                return
            _print_summary(s)
            return
        from drg.estimate import CaseInput, case_from_json, estimate_case, format_case, parse_yuan, split_codes

        if json_case is not None:
            if dx:
                raise InputError("give either --json-case or --dx …, not both")
            if json_case == "-":
                text, src = sys.stdin.read(), "standard input"
            else:
                p = Path(json_case)
                if not p.is_file():
                    raise InputError("JSON case file not found", file=str(p))
                text, src = p.read_text(encoding="utf-8"), str(p)
            try:
                doc = json.loads(text)
            except ValueError as exc:
                raise InputError(f"not valid JSON ({exc})", file=src) from None
            case = case_from_json(doc, source=src)
            # flags given beside the JSON fill what it leaves out
            for k, v in (("hospital_id", hospital), ("insurance_type", insurance)):
                if getattr(case, k) is None and v is not None:
                    setattr(case, k, v)
        else:
            if cost is None and dx is None:
                raise InputError("give one case (--dx … --age … --sex … --los … --cost …), --json-case FILE, "
                                 "or --cases FILE")
            case = CaseInput(dx=split_codes(dx), px=split_codes(px), sex=_sex(sex), age=age, age_days=age_days,
                             birth_weight=birth_weight, los=los, vent_hours=vent_hours,
                             discharge_status=discharge_status, total_cost_fen=parse_yuan(cost, "--cost"),
                             self_paid_fen=parse_yuan(self_paid, "--self-paid"),
                             other_paid_fen=parse_yuan(other_paid, "--other-paid"), hospital_id=hospital,
                             insurance_type=insurance)
        result = estimate_case(b, case, allow_unknown=allow_unknown)
        if as_json:
            typer.echo(json.dumps(result, ensure_ascii=False, indent=1))
        else:
            typer.echo(format_case(result))


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
