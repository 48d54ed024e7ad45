"""CLI of the grouper: ``drg scheme build``, ``drg scheme show``, ``drg scheme diff``, ``drg group``,
``drg explain``. Thin (``drg scheme migrate`` lives with the payment commands: it prices).

Heavy libraries are imported inside the commands; ``drg explain`` with case flags needs only the scheme
and the plain-Python reference grouper (numpy, no pyarrow/polars/numba). Every ``--scheme`` takes a compiled
scheme file or a rule-table directory (:func:`drg.cli.options.load_any_scheme`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from drg.cli.cluster import on_cluster
from drg.cli.options import load_any_scheme, sex_value, split_codes

_SCHEME_HELP = ("grouping scheme: a compiled scheme file (drg scheme build) or a rule-table directory (with "
                "--codes)")
_CODES_HELP = "code dictionary directory, when --scheme is a rule-table directory"


def _split_codes(text: str | None) -> list[str]:
    return split_codes(text)


def register(app, scheme_app=None, **_: object) -> None:
    """Attach the grouper commands (called by ``drg.cli``)."""

    @scheme_app.command("build", short_help="compile rule tables and a code dictionary into a scheme file")
    def scheme_build(
        rules_dir: Path = typer.Argument(..., metavar="RULES_DIR", help="rule-table directory (the layout of the published CHS-DRG "
                                         "tables: 1_MDC.txt, 2_ADRG.txt, 3_DRG.txt …)"),
        codes: Path = typer.Option(..., "--codes", help="code dictionary directory (ZD_INFO.dat, SS_INFO.dat, SS_VALID.dat)"),
        out: Path = typer.Option(..., "--out", help="scheme file to write"),
        cc_tables: Optional[Path] = typer.Option(None, "--cc-tables", help="take 5_MCC/6_CC/7_CCE from this directory"),
        vent_hours_rule: bool = typer.Option(False, "--vent-hours-rule",
                                             help="local schemes: vent_hours >= 96 enters the ventilation ADRG "
                                                  "(1.x AH1, 2.0 AH2) without a procedure code"),
        as_json: bool = typer.Option(False, "--json", help="print the manifest and checks as JSON"),
    ) -> None:
        """Compile published rule tables and a code dictionary into one scheme file, with build checks."""
        from grouper.build import build_scheme
        from grouper.scheme import SchemeOptions

        scheme, rep = build_scheme(rules_dir, codes, cc_tables_dir=cc_tables,
                                   options=SchemeOptions(vent_hours_rule=vent_hours_rule), out=out)
        if as_json:
            typer.echo(json.dumps({k: v for k, v in scheme.manifest.items() if k != "sources"}
                                  | {"sources": len(scheme.manifest["sources"])}, ensure_ascii=False, indent=1))
            return
        from rich.console import Console

        con = Console()
        m = scheme.manifest
        con.print(f"[bold]{m['scheme']}[/] version {m['version']} → {out}")
        con.print("  " + ", ".join(f"{k} {v:,}" for k, v in m["counts"].items()))
        con.print(f"  {len(m['sources'])} source files (sha256 in the manifest)")
        for line in rep.lines():
            con.print("  " + line, highlight=False, markup=False)

    @scheme_app.command("show", short_help="a scheme's manifest: counts, checks, sources with sha256")
    def scheme_show(scheme: Path = typer.Argument(..., metavar="SCHEME", help="a compiled scheme file, or a rule-table directory "
                                                 "(with --codes)"),
                    codes: Optional[Path] = typer.Option(None, "--codes", help=_CODES_HELP),
                    as_json: bool = typer.Option(False, "--json", help="print the whole manifest as JSON")) -> None:
        """Show a scheme's manifest: name, version, counts, build checks, and every source file with its
        sha256."""
        s = load_any_scheme(scheme, codes)
        m = s.manifest
        if as_json:
            typer.echo(json.dumps(m, ensure_ascii=False, indent=1))
            return
        from drg.reports.labels import console

        con = console()
        con.print(f"[bold]{m.get('scheme')}[/] version {m.get('version')} ({scheme})", highlight=False)
        con.print("  " + ", ".join(f"{k} {v:,}" for k, v in m.get("counts", {}).items()), highlight=False)
        opts = m.get("options") or {}
        if opts:
            con.print("  options: " + ", ".join(f"{k} = {v}" for k, v in opts.items()), highlight=False)
        checks = m.get("checks") or {}
        bad = {k: v for k, v in checks.items() if v}
        con.print("  checks: " + ("all passed" if not bad else "; ".join(f"{k}: {', '.join(map(str, v))}"
                                                                          for k, v in bad.items())),
                  highlight=False, markup=False)
        for note in m.get("reader_notes") or []:
            con.print(f"  note: {note}", highlight=False, markup=False)
        sources = m.get("sources") or {}
        con.print(f"  {len(sources)} source files:", highlight=False)
        for name, digest in sources.items():
            con.print(f"    {digest}  {name}", highlight=False, markup=False)

    @scheme_app.command("diff", short_help="compare two compiled editions")
    def scheme_diff(a: Path = typer.Argument(..., help="the scheme moved from (e.g. chs11.scheme)"),
                    b: Path = typer.Argument(..., help="the scheme moved to (e.g. chs20.scheme)"),
                    examples: int = typer.Option(10, "--examples", help="examples listed under each count"),
                    as_json: bool = typer.Option(False, "--json", help="print JSON")) -> None:
        """Compare two compiled schemes: groups added, removed, renamed; codes moved between lists; CC/MCC and
        exclusion changes, with counts."""
        from grouper.diff import diff_schemes
        from grouper.scheme import load_scheme

        d = diff_schemes(load_scheme(a), load_scheme(b), examples=examples)
        if as_json:
            typer.echo(json.dumps(d, ensure_ascii=False, indent=1))
            return
        _print_diff(d)

    @app.command("group", short_help="assign MDC, ADRG, DRG and CC level to every case")
    @on_cluster("group")
    def group_cmd(
        scheme: Path = typer.Option(..., "--scheme", help=_SCHEME_HELP),
        cases: Path = typer.Option(..., "--cases", help="case file: .parquet, .csv or .xlsx"),
        out: Path = typer.Option(..., "--out", help="grouped cases (.parquet, or .csv)"),
        slim: bool = typer.Option(False, "--slim", help="keep only case_id of the input columns"),
        rejects: Optional[Path] = typer.Option(None, "--rejects", help="write rejected rows here"),
        columns: Optional[Path] = typer.Option(None, "--columns", help="TOML mapping of the file's own headers"),
        sheet: Optional[str] = typer.Option(None, "--sheet", help="the Excel sheet holding the cases (name or "
                                            "1-based number; default the mapping's, else the first)"),
        codes: Optional[Path] = typer.Option(None, "--codes", help=_CODES_HELP),
        strict: bool = typer.Option(False, "--strict", help="refuse the run (exit 1) when more than 5% of the "
                                    "principal diagnoses are unknown to the scheme, instead of warning"),
        quiet: bool = typer.Option(False, "--quiet", help="no progress bar"),
        as_json: bool = typer.Option(False, "--json", help="print the summary as JSON"),
    ) -> None:
        """Group a case file: adds mdc, adrg, drg, cc_level, cc_dx, group_status and group_note to every case."""
        import sys

        from drg.cli.guards import MIN_CASES, UNKNOWN_DX_LIMIT, unknown_dx_message, unknown_principal_share, warn
        from drg.cli.progress import kernels_cached, parquet_rows, row_progress
        from drg.grouping import group_file, scheme_id

        s = load_any_scheme(scheme, codes)
        name = scheme_id(s)
        mapping = columns
        if sheet is not None:  # the sheet travels in the mapping the reader gets
            import dataclasses

            from drg.casefile.mapping import ColumnMapping

            base = ColumnMapping.load(columns) if columns is not None else ColumnMapping()
            mapping = dataclasses.replace(base, sheet=int(sheet) if sheet.strip().isdigit() else sheet)
        share, seen = unknown_principal_share(cases, s, mapping=columns)
        if seen >= MIN_CASES and share > UNKNOWN_DX_LIMIT:
            warn(unknown_dx_message(share, seen, name, str(cases), after=False), strict=strict)
        total = parquet_rows(cases)   # (an unreadable file is reported by the reader, with its name)
        show = not quiet and not as_json
        first = None if kernels_cached("grouper.kernel", "group_kernel") else "compiling kernels (first run only)"
        if first and show and not sys.stderr.isatty():
            sys.stderr.write(first + " …\n")
        with row_progress("grouping", total, enabled=show and sys.stderr.isatty(), first=first) as upd:
            summary = group_file(s, cases, out, rejects=rejects, slim=slim, mapping=mapping, on_rows=upd)
        result = summary.to_dict()
        unknown = summary.by_status.get("unknown_principal_dx", 0)
        if summary.rows >= MIN_CASES and unknown / summary.rows > UNKNOWN_DX_LIMIT:
            message = unknown_dx_message(unknown / summary.rows, summary.rows, name, str(cases), after=True)
            result["warnings"] = [message]
            if strict:
                Path(out).unlink(missing_ok=True)
            warn(message, strict=strict, what=f"{out} was not kept" if strict else "")
        if as_json:
            typer.echo(json.dumps(result, ensure_ascii=False, indent=1))
            return
        from drg.reports.labels import console

        con = console()
        con.print(f"read {summary.read:,}, grouped {summary.rows:,}, rejected {summary.rejected:,} → {out} "
                  f"(scheme {name})", highlight=False)
        for k, v in summary.by_status.most_common():
            con.print(f"  {k}: {v:,}", highlight=False)

    @app.command("explain", short_help="every grouping step of one case")
    def explain_cmd(
        scheme: Path = typer.Option(..., "--scheme", help=_SCHEME_HELP),
        cases: Optional[Path] = typer.Option(None, "--cases", help="case file holding the case"),
        case_id: Optional[str] = typer.Option(None, "--case-id", help="the case to explain"),
        dx: Optional[str] = typer.Option(None, "--dx", help="diagnoses, principal first (separated by , or |)"),
        px: Optional[str] = typer.Option(None, "--px", help="procedures, principal first"),
        age: Optional[int] = typer.Option(None, "--age", help="age in years"),
        sex: Optional[str] = typer.Option(None, "--sex", help="1 or 男 (male), 2 or 女 (female)"),
        los: Optional[int] = typer.Option(None, "--los", help="length of stay in days"),
        age_days: Optional[int] = typer.Option(None, "--age-days", help="age in days (newborns)"),
        birth_weight: Optional[int] = typer.Option(None, "--birth-weight", help="birth weight in grams"),
        vent_hours: Optional[int] = typer.Option(None, "--vent-hours", help="hours of invasive ventilation"),
        codes: Optional[Path] = typer.Option(None, "--codes", help=_CODES_HELP),
        as_json: bool = typer.Option(False, "--json", help="print the steps and the result as JSON"),
    ) -> None:
        """Group one case and print every step: code checks, which MDC was entered and why, which list or
        which term of an 入组条件 matched, an ambiguous group, which CC/MCC counted or was cancelled.

        The case comes from a file (--cases FILE --case-id ID) or from the same flags as drg estimate.
        """
        from drg.errors import InputError
        from grouper.reference import Case, group_case

        sex_code = sex_value(sex)
        s = load_any_scheme(scheme, codes)
        if cases is not None:
            if not case_id:
                raise InputError("--case-id is needed with --cases", field="case_id")
            case = _case_from_file(cases, case_id)
        else:
            if not dx:
                raise InputError("give --cases FILE --case-id ID, or the case flags (at least --dx)", field="dx")
            case = Case(sex=sex_code, age=age, dx=_split_codes(dx), px=_split_codes(px), age_days=age_days,
                        birth_weight=birth_weight, vent_hours=vent_hours, los=los)
        res = group_case(s, case, explain=True)
        out = {"case_id": case_id, "mdc": res.mdc, "adrg": res.adrg, "drg": res.drg, "cc_level": res.cc_level,
               "cc_dx": res.cc_dx, "group_status": res.status, "group_note": res.group_note,
               "cc_detail": [{"position": d.position, "code": d.code, "kind": d.kind, "table": d.table,
                              "excluded_by": d.excluded_by, "counts": d.counts} for d in res.cc_detail],
               "steps": res.steps}
        if as_json:
            typer.echo(json.dumps(out, ensure_ascii=False, indent=1))
            return
        for line in res.steps:
            typer.echo(line)
        name = s.drg_names[s.drg_codes.index(res.drg)] if res.drg in s.drg_codes else ""
        cc = f"cc_level {res.cc_level}" + (f" ({res.cc_dx})" if res.cc_dx else "")
        typer.echo(f"=> drg {res.drg} {name} | mdc {res.mdc} | adrg {res.adrg} | {cc} | "
                   f"{res.status}" + (f" | {res.group_note}" if res.group_note else ""))


def _print_diff(d: dict) -> None:
    """``drg scheme diff`` as rich tables: the counts, then the groups and moves behind them."""
    from rich.console import Console
    from rich.table import Table

    con = Console()
    f, t = d["from"], d["to"]
    con.print(f"[bold]{f['scheme']}[/] ({f['edition']}, {f['version']}) → [bold]{t['scheme']}[/] "
              f"({t['edition']}, {t['version']})")
    summary = Table(title="changes, with counts")
    summary.add_column("what")
    summary.add_column("count", justify="right")
    for k, v in d["summary"].items():
        summary.add_row(k, " → ".join(map(str, v)) if isinstance(v, list) else f"{v:,}")
    con.print(summary)
    for level in ("mdcs", "adrgs", "drgs"):
        rows = ([("added", c, n) for c, n in d[level]["added"]] + [("removed", c, n) for c, n in d[level]["removed"]]
                + [("recoded", f"{c} → {c2}", n) for c, c2, n in d[level]["recoded"]])
        if not rows:
            continue
        table = Table(title=f"{level[:-1].upper()}s added, removed, recoded (renamed: {len(d[level]['renamed'])}, "
                            f"in --json)")
        for c in ("change", "code", "name"):
            table.add_column(c)
        for row in rows:
            table.add_row(*row)
        con.print(table)
    for key, title in (("principal_dx_moves", "principal diagnoses moved between ADRGs"),
                       ("procedure_moves", "procedures moved between ADRGs"),
                       ("mdc_moves", "principal diagnoses moved between MDCs")):
        m = d[key]
        table = Table(title=f"{title}: {m['moved']:,} of {m['codes_in_both']:,} codes in both "
                            f"({m['distinct_pairs']:,} distinct moves; the largest)")
        for c in ("from", "to", "codes"):
            table.add_column(c, justify="right" if c == "codes" else "left")
        for a, b, n in m["pairs"]:
            table.add_row(a, b, f"{n:,}")
        con.print(table)
    if d["behaviour"]:
        table = Table(title="how the editions group")
        for c in ("rule", "from", "to"):
            table.add_column(c)
        for k, (a, b) in d["behaviour"].items():
            table.add_row(k, str(a), str(b))
        con.print(table)


def _case_from_file(path: Path, case_id: str):
    from drg.casefile.reader import read_cases
    from drg.errors import InputError
    from grouper.reference import Case

    import pyarrow.compute as pc

    for b in read_cases(path, required=("case_id", "dx")):
        acc = b.accepted
        hit = pc.equal(acc.column("case_id"), case_id)
        idx = pc.indices_nonzero(hit)
        if len(idx):
            row = acc.slice(int(idx[0].as_py()), 1).to_pylist()[0]
            return Case(sex=row.get("sex"), age=row.get("age"), dx=row.get("dx") or [], px=row.get("px") or [],
                        age_days=row.get("age_days"), birth_weight=row.get("birth_weight"),
                        vent_hours=row.get("vent_hours"), los=row.get("los"))
        if b.rejected is not None and case_id in b.rejected.column("case_id").to_pylist():
            reason = b.rejected.filter(pc.equal(b.rejected.column("case_id"), case_id)).column(
                "reject_reason")[0].as_py()
            raise InputError(f"case {case_id} is rejected by the case reader ({reason})", file=str(path))
    raise InputError(f"case {case_id} not found", file=str(path), field="case_id")
