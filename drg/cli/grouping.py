"""CLI of the grouper: ``drg scheme build``, ``drg scheme show``, ``drg group``, ``drg explain``. Thin.

Heavy libraries are imported inside the commands; ``drg explain`` with case flags needs only the scheme
file and the plain-Python reference grouper (numpy, no pyarrow/polars/numba).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from drg.cli.cluster import on_cluster



def _split_codes(text: str | None) -> list[str]:
    if not text:
        return []
    import re

    return [c for c in re.split(r"[|,;，；]", text) if c != ""]


def register(app, scheme_app=None, **_: object) -> None:
    """Attach the grouper commands (called by ``drg.cli``)."""

    @scheme_app.command("build")
    def scheme_build(
        rules_dir: Path = typer.Argument(..., help="rule tables (layout of ../shared/schemes/CHS_DRG_11)"),
        codes: Path = typer.Option(..., "--codes", help="code dictionary directory (ZD_INFO.dat, SS_INFO.dat, SS_VALID.dat)"),
        out: Path = typer.Option(..., "--out", help="scheme file to write"),
        cc_tables: Optional[Path] = typer.Option(None, "--cc-tables", help="take 5_MCC/6_CC/7_CCE from this directory"),
        vent_hours_rule: bool = typer.Option(False, "--vent-hours-rule",
                                             help="local schemes: vent_hours >= 96 enters AH1 without a procedure code"),
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

    @scheme_app.command("show")
    def scheme_show(scheme: Path = typer.Argument(..., help="scheme file"),
                    as_json: bool = typer.Option(False, "--json", help="print JSON")) -> None:
        """Print a scheme file's manifest (name, version, counts, checks)."""
        from grouper.scheme import load_scheme

        s = load_scheme(scheme)
        m = {k: v for k, v in s.manifest.items() if k != "sources"} | {"sources": len(s.manifest["sources"])}
        typer.echo(json.dumps(m, ensure_ascii=False, indent=1 if as_json else 1))

    @app.command("group")
    @on_cluster("group")
    def group_cmd(
        scheme: Path = typer.Option(..., "--scheme", help="scheme file (drg scheme build)"),
        cases: Path = typer.Option(..., "--cases", help="case file: .parquet, .csv or .xlsx"),
        out: Path = typer.Option(..., "--out", help="grouped cases (.parquet, or .csv)"),
        slim: bool = typer.Option(False, "--slim", help="keep only case_id of the input columns"),
        rejects: Optional[Path] = typer.Option(None, "--rejects", help="write rejected rows here"),
        columns: Optional[Path] = typer.Option(None, "--columns", help="TOML mapping of the file's own headers"),
        quiet: bool = typer.Option(False, "--quiet", help="no progress bar"),
        as_json: bool = typer.Option(False, "--json", help="print the summary as JSON"),
    ) -> None:
        """Group a case file: adds mdc, adrg, drg, cc_level, group_status, group_note to every case."""
        import sys

        from drg.cli.progress import row_progress
        from drg.grouping import group_file
        from grouper.scheme import load_scheme

        s = load_scheme(scheme)
        total = None
        if cases.suffix.lower() in (".parquet", ".pq") and cases.exists():
            import pyarrow.parquet as pq

            total = pq.ParquetFile(cases).metadata.num_rows
        with row_progress("grouping", total, enabled=not quiet and not as_json and sys.stderr.isatty()) as upd:
            summary = group_file(s, cases, out, rejects=rejects, slim=slim, mapping=columns,
                                 on_rows=upd)
        result = summary.to_dict()
        if as_json:
            typer.echo(json.dumps(result, ensure_ascii=False, indent=1))
            return
        from rich.console import Console

        con = Console()
        con.print(f"read {summary.read:,}, grouped {summary.rows:,}, rejected {summary.rejected:,} → {out}")
        for k, v in summary.by_status.most_common():
            con.print(f"  {k}: {v:,}")

    @app.command("explain")
    def explain_cmd(
        scheme: Path = typer.Option(..., "--scheme", help="scheme file"),
        cases: Optional[Path] = typer.Option(None, "--cases", help="case file holding the case"),
        case_id: Optional[str] = typer.Option(None, "--case-id", help="the case to explain"),
        dx: Optional[str] = typer.Option(None, "--dx", help="diagnoses, principal first (comma or | separated)"),
        px: Optional[str] = typer.Option(None, "--px", help="procedures, principal first"),
        age: Optional[int] = typer.Option(None, "--age"),
        sex: Optional[int] = typer.Option(None, "--sex", help="1 male, 2 female"),
        los: Optional[int] = typer.Option(None, "--los"),
        age_days: Optional[int] = typer.Option(None, "--age-days"),
        birth_weight: Optional[int] = typer.Option(None, "--birth-weight"),
        vent_hours: Optional[int] = typer.Option(None, "--vent-hours"),
        as_json: bool = typer.Option(False, "--json", help="print JSON"),
    ) -> None:
        """Group one case and print every step: which list matched, which CC/MCC counted or was cancelled."""
        from drg.errors import InputError
        from grouper.reference import Case, group_case
        from grouper.scheme import load_scheme

        s = load_scheme(scheme)
        if cases is not None:
            if not case_id:
                raise InputError("--case-id is needed with --cases", field="case_id")
            case = _case_from_file(cases, case_id)
        else:
            if not dx:
                raise InputError("give --cases FILE --case-id ID, or the case flags (at least --dx)", field="dx")
            case = Case(sex=sex, age=age, dx=_split_codes(dx), px=_split_codes(px), age_days=age_days,
                        birth_weight=birth_weight, vent_hours=vent_hours, los=los)
        res = group_case(s, case, explain=True)
        out = {"case_id": case_id, "mdc": res.mdc, "adrg": res.adrg, "drg": res.drg, "cc_level": res.cc_level,
               "group_status": res.status, "group_note": res.group_note, "steps": res.steps}
        if as_json:
            typer.echo(json.dumps(out, ensure_ascii=False, indent=1))
            return
        for line in res.steps:
            typer.echo(line)
        name = s.drg_names[s.drg_codes.index(res.drg)] if res.drg in s.drg_codes else ""
        typer.echo(f"=> drg {res.drg} {name} | mdc {res.mdc} | adrg {res.adrg} | cc_level {res.cc_level} | "
                   f"{res.status}" + (f" | {res.group_note}" if res.group_note else ""))


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
