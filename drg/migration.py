"""Moving a pooling area from one grouping edition to the next (``drg scheme migrate``): what a bureau needs to
decide its first CHS-DRG 2.0 year and to show each hospital.

Given a year's cases (raw codes, as the settlement lists hold them) and the two compiled schemes, it

1. groups the year under both editions (``drg.grouping.group_file``: the same validation and rejects);
2. writes the **crosswalk**: every (old DRG → new DRG) pair with its cases and their cost;
3. writes, **per hospital**, how many of its cases changed group, and the changed cases themselves;
4. with history (the earlier years' case files, raw codes too), regroups the history under each edition,
   builds weights and coefficients from it (``drg.pricing``), prices the year under each and writes the
   **points each hospital would have** under either edition (SPEC §2: weights for a 2.0 year come from
   history regrouped under 2.0).

The grouper itself compares the editions' rules (``grouper.diff``); this module only regroups and prices.
Output files (``OUT/``): ``year-from.parquet``, ``year-to.parquet`` (the grouped year), ``crosswalk.csv``,
``hospitals.csv``, ``changed_cases.parquet``, ``summary.json``; with history also ``history-{from,to}-N.parquet``,
``tables-{from,to}/`` (weights, coefficients), ``priced-{from,to}.parquet`` and their hospital totals. Money in
the CSV files is yuan (``*_yuan``), in Parquet fen (``*_fen``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from drg.casefile.parquet import read_parquet

from drg.errors import InputError
from grouper.scheme import Scheme

__all__ = ["migrate", "crosswalk", "changes_by_hospital"]

SIDES = ("from", "to")


def _group_year(schemes: dict[str, Scheme], cases: Path, out: Path, mapping, on_rows) -> dict:
    from drg.grouping import group_file

    summaries = {}
    for side in SIDES:
        summaries[side] = group_file(schemes[side], cases, out / f"year-{side}.parquet", mapping=mapping,
                                     rejects=out / "rejects.csv" if side == "from" else None,
                                     on_rows=on_rows).to_dict()
    return summaries


def _paired(out: Path) -> pa.Table:
    """The year's cases under both editions, one row per case: ``case_id, hospital_id, total_cost_fen`` and
    ``drg_/adrg_/group_status_`` + ``from``/``to``."""
    cols = ["case_id", "hospital_id", "insurance_type", "total_cost_fen", "adrg", "drg", "group_status"]
    parts = {}
    for side in SIDES:
        path = out / f"year-{side}.parquet"
        names = pq.read_schema(path).names
        parts[side] = read_parquet(path, columns=[c for c in cols if c in names])
    a, b = parts["from"], parts["to"]
    if not a.column("case_id").equals(b.column("case_id")):   # pragma: no cover - same reader, same order
        raise InputError("the two groupings of the year do not hold the same cases in the same order",
                         file=str(out))
    table = a.select([c for c in ("case_id", "hospital_id", "insurance_type", "total_cost_fen")
                      if c in a.column_names])
    for side, t in parts.items():
        for c in ("adrg", "drg", "group_status"):
            table = table.append_column(f"{c}_{side}", t.column(c))
    if "total_cost_fen" not in table.column_names:
        table = table.append_column("total_cost_fen", pa.nulls(table.num_rows, pa.int64()))
    for c in ("hospital_id", "insurance_type"):
        if c not in table.column_names:
            table = table.append_column(c, pa.nulls(table.num_rows, pa.string()))
    return table


def _yuan(fen) -> str:
    from drg.money import fen_to_decimal

    return str(fen_to_decimal(int(fen))) if fen is not None else ""


def crosswalk(paired: pa.Table, schemes: dict[str, Scheme]) -> list[dict]:
    """Every (old DRG → new DRG) pair of a year: cases, total and mean cost in fen, names, largest first."""
    import polars as pl

    df = pl.from_arrow(paired.select(["drg_from", "drg_to", "total_cost_fen"]))
    g = (df.group_by(["drg_from", "drg_to"])
         .agg(pl.len().alias("cases"), pl.col("total_cost_fen").sum().alias("total_cost_fen"))
         .sort(["cases", "drg_from", "drg_to"], descending=[True, False, False]))
    names = {side: dict(zip(schemes[side].drg_results, schemes[side].drg_names
                            + ["ambiguous (与主要诊断无关的手术)"] * len(schemes[side].mdc_codes)))
             for side in SIDES}
    rows = []
    for r in g.iter_rows(named=True):
        rows.append({"drg_from": r["drg_from"], "name_from": names["from"].get(r["drg_from"], ""),
                     "drg_to": r["drg_to"], "name_to": names["to"].get(r["drg_to"], ""), "cases": r["cases"],
                     "total_cost_fen": r["total_cost_fen"],
                     "mean_cost_fen": round(r["total_cost_fen"] / r["cases"]) if r["cases"] else None})
    return rows


def changes_by_hospital(paired: pa.Table, *, by_pool: bool = False) -> list[dict]:
    """Per hospital (and with ``by_pool`` per hospital and insurance type, as the points are): cases, cases
    whose DRG changed (and their share), cases without a DRG under each edition (``0000`` or ambiguous)."""
    import polars as pl

    from grouper.results import has_drg

    df = pl.from_arrow(paired.select(["hospital_id", "insurance_type", "drg_from", "drg_to"]))
    keys = ["hospital_id", "insurance_type"] if by_pool else ["hospital_id"]
    df = df.with_columns(
        (pl.col("drg_from") != pl.col("drg_to")).alias("changed"),
        ~pl.col("drg_from").map_elements(has_drg, return_dtype=pl.Boolean).alias("none_from"),
        ~pl.col("drg_to").map_elements(has_drg, return_dtype=pl.Boolean).alias("none_to"))
    g = (df.group_by(keys)
         .agg(pl.len().alias("cases"), pl.col("changed").sum().alias("changed"),
              pl.col("none_from").sum().alias("ungroupable_from"), pl.col("none_to").sum().alias("ungroupable_to"))
         .sort(keys[::-1]))
    return [r | {"changed_share": round(r["changed"] / r["cases"], 4) if r["cases"] else None}
            for r in g.iter_rows(named=True)]


def _write_csv(path: Path, rows: list[dict], columns: list[str]) -> None:
    import csv

    with open(path, "w", encoding="utf-8-sig", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=columns, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow(r)


def _points(schemes, history: list[Path], hospitals: Path, policy, year, out: Path, mapping, on_rows) -> dict:
    """Regroup the history under each edition, build its tables, price the year: hospital totals per side."""
    from drg.grouping import group_file
    from drg.pricing.coefficients import build_tables
    from drg.pricing.priced_file import price_file

    totals = {}
    for side in SIDES:
        # the policy names the scheme of the new year: the old edition's pricing is the comparison, unchecked
        pol = policy if side == "to" else replace(policy, scheme=None)
        regrouped = []
        for k, h in enumerate(history):
            path = out / f"history-{side}-{k + 1}.parquet"
            group_file(schemes[side], h, path, mapping=mapping, on_rows=on_rows)
            regrouped.append(path)
        build_tables(regrouped, hospitals, pol, out / f"tables-{side}", year=year)
        summary = price_file(out / f"year-{side}.parquet", out / f"tables-{side}", pol, out / f"priced-{side}.parquet",
                             year=year)
        totals[side] = read_parquet(summary["hospital_totals"]).to_pylist()
    key = lambda r: (r["hospital_id"], r["insurance_type"])  # noqa: E731
    by = {side: {key(r): r for r in totals[side]} for side in SIDES}
    rows = []
    for k in sorted(set(by["from"]) | set(by["to"]), key=lambda k: (str(k[1]), str(k[0]))):
        a, b = by["from"].get(k, {}), by["to"].get(k, {})
        pa_, pb = a.get("total_points"), b.get("total_points")
        rows.append({"hospital_id": k[0], "insurance_type": k[1], "points_from": pa_, "points_to": pb,
                     "points_change": None if pa_ is None or pb is None else round(pb - pa_, policy.points_decimals),
                     "points_change_share": (round((pb - pa_) / pa_, 4) if pa_ and pb is not None else None)})
    return {"rows": rows}


def migrate(scheme_from: Scheme, scheme_to: Scheme, cases: str | Path, out: str | Path, *,
            history: list[str | Path] | None = None, hospitals: str | Path | None = None, policy=None,
            year: int | None = None, mapping=None, on_rows: Callable[[int], None] | None = None) -> dict:
    """Regroup a year's cases under two editions and report the crosswalk, the changes per hospital and, with
    history, the points per hospital under either edition (see the module docstring for the files).

    Parameters
    ----------
    scheme_from, scheme_to : Scheme
        The edition in use and the one to move to (e.g. CHS-DRG 1.1 and 2.0).
    cases : path
        The year's case file (raw codes; Parquet, CSV or Excel).
    out : path
        Output directory.
    history : list of paths, optional
        Case files of the earlier years (raw codes), for the weights; needs ``hospitals`` and ``policy``.
    hospitals : path, optional
        The hospitals table of the settlement year.
    policy : str, path or Policy, optional
        The policy of the new year; its ``[policy] scheme``, when set, must name ``scheme_to``.
    year : int, optional
        Settlement year (default the policy's year).
    mapping : path, optional
        Column mapping of a hospital system's export (``--columns``).

    Returns
    -------
    dict
        A JSON-ready summary: cases, changed, the largest crosswalk pairs, per-hospital figures, files.
    """
    from drg.policy import Policy, load_policy

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    history = [Path(h) for h in (history or [])]
    if history and (hospitals is None or policy is None):
        raise InputError("the points per hospital need --hospitals and --policy with --history", field="history")
    pol = None
    if policy is not None:
        pol = policy if isinstance(policy, Policy) else load_policy(policy)
        from drg.grouping import scheme_id

        pol.check_scheme(scheme_id(scheme_to), what=f"the scheme to move to ({scheme_to.name})")
        year = year if year is not None else pol.year
    schemes = {"from": scheme_from, "to": scheme_to}
    grouped = _group_year(schemes, Path(cases), out, mapping, on_rows)
    paired = _paired(out)
    walk = crosswalk(paired, schemes)
    by_pool = bool(history) and pol.pools_by_insurance_type
    hosp = changes_by_hospital(paired, by_pool=by_pool)
    changed = paired.filter(pc.not_equal(paired.column("drg_from"), paired.column("drg_to")))
    pq.write_table(changed.sort_by([("hospital_id", "ascending"), ("case_id", "ascending")]),
                   out / "changed_cases.parquet")
    _write_csv(out / "crosswalk.csv", [r | {"total_cost_yuan": _yuan(r["total_cost_fen"]),
                                             "mean_cost_yuan": _yuan(r["mean_cost_fen"])} for r in walk],
               ["drg_from", "name_from", "drg_to", "name_to", "cases", "total_cost_yuan", "mean_cost_yuan"])
    points = _points(schemes, history, Path(hospitals), pol, year, out, mapping, on_rows) if history else None
    hosp_rows = hosp
    columns = ["hospital_id", "cases", "changed", "changed_share", "ungroupable_from", "ungroupable_to"]
    if points:
        counts = {(r["hospital_id"], r.get("insurance_type") if by_pool else "all"): r for r in hosp}
        hosp_rows = [counts.get((p["hospital_id"], p["insurance_type"]), {}) | p for p in points["rows"]]
        columns = ["hospital_id", "insurance_type", *columns[1:], "points_from", "points_to", "points_change",
                   "points_change_share"]
    _write_csv(out / "hospitals.csv", hosp_rows, columns)
    n = paired.num_rows
    summary = {
        "from": {"scheme": scheme_from.name, "version": scheme_from.version},
        "to": {"scheme": scheme_to.name, "version": scheme_to.version},
        "cases": n, "rejected": grouped["from"]["rejected"], "changed": changed.num_rows,
        "changed_share": round(changed.num_rows / n, 4) if n else None,
        "by_status": {side: grouped[side]["by_status"] for side in SIDES},
        "crosswalk_pairs": len(walk), "largest_moves": [r for r in walk if r["drg_from"] != r["drg_to"]][:10],
        "hospitals": hosp_rows, "year": year, "policy": pol.id if pol else None,
        "files": sorted(p.name for p in out.iterdir()),
    }
    (out / "summary.json").write_text(json.dumps(summary, ensure_ascii=False, indent=1, default=str),
                                      encoding="utf-8")
    return summary
