"""A hospital's month (``drg estimate --cases``): every case of a file grouped and priced as the bureau will,
with a summary per pool and DRG, written as an Excel workbook or CSV, the rejected rows beside."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path
from drg.errors import InputError
from drg.money import round_half_away, units_to_decimal, yuan_text
from drg.pricing.exact import CLASS_NAMES
from grouper.results import has_drg
from grouper.lookup import suggest_codes
from drg.estimate.one_case import CLASS_ZH

__all__ = ['estimate_file']


# --------------------------------------------------------------------------------------------- month file
def estimate_file(bundle, path: str | Path, *, mapping: str | Path | None = None, out: str | Path | None = None,
                  rejects: str | Path | None = None, hospital_id: str | None = None,
                  insurance_type: str | None = None, engine: str = "numba", top: int = 10) -> dict:
    """Estimate every case of a file (a hospital's month): per-case results, a summary, rejects.

    Parameters
    ----------
    bundle : drg.estimate.bundle.Bundle
    path : a CSV (UTF-8 or GBK), Excel or Parquet case file (:func:`drg.casefile.reader.read_cases`).
    mapping : a column-mapping TOML for the hospital system's own headers.
    out : ``.xlsx`` (sheets 汇总, 明细, 病组 and 拒收), ``.csv`` (cases; the summary beside it as
        ``NAME.summary.csv``) or ``.parquet``.
    rejects : where to write rejected rows (CSV or Parquet); they are also counted in the summary.
    hospital_id, insurance_type : defaults for rows (or files) without them.
    engine : ``numba`` or ``python`` for :func:`drg.pricing.points.price_cases`.

    Returns
    -------
    dict
        ``summary`` (JSON-ready), ``cases`` (a pyarrow Table of the per-case results) and ``rejected``.
    """
    import dataclasses

    import pyarrow as pa

    from drg.casefile.schema import ESTIMATE_REQUIRED
    from drg.casefile.reader import read_cases
    from drg.casefile.rejects import write_rejects
    from grouper.reference import Case, group_case

    path = Path(path)
    scheme, policy = bundle.scheme, bundle.policy
    accepted, rejected = [], []
    n_read = 0
    for batch in read_cases(path, mapping=mapping, required=ESTIMATE_REQUIRED):
        n_read += batch.n_read
        if batch.accepted.num_rows:
            accepted.append(pa.Table.from_batches([batch.accepted]))
        if batch.rejected is not None and batch.rejected.num_rows:
            rejected.append(batch.rejected)
    if rejects is not None:
        write_rejects(rejected, rejects)
    n_rej = sum(t.num_rows for t in rejected)
    t = pa.concat_tables(accepted, promote_options="permissive") if accepted else None
    if t is None or t.num_rows == 0:
        raise InputError(f"no case of the file was accepted ({n_rej} rejected; see --rejects)", file=str(path))
    n = t.num_rows

    # defaults for hospital and insurance type
    def fill(name: str, default: str | None) -> list:
        vals = t.column(name).cast(pa.string()).to_pylist() if name in t.column_names else [None] * n
        return [default if v is None or v == "" else v for v in vals]

    hosp = fill("hospital_id", hospital_id)
    ins = fill("insurance_type", insurance_type)
    for name, vals in (("hospital_id", hosp), ("insurance_type", ins)):
        arr = pa.array(vals, pa.string())
        t = t.set_column(t.column_names.index(name), name, arr) if name in t.column_names else t.append_column(name, arr)

    # group with the reference grouper
    cols = {c: (t.column(c).to_pylist() if c in t.column_names else [None] * n)
            for c in ("sex", "age", "age_days", "birth_weight", "vent_hours", "los", "dx", "px", "discharge_status")}
    g = {k: [] for k in ("mdc", "adrg", "drg", "cc_level", "group_status", "group_note")}
    unknown_codes: dict[tuple[str, bool], list[str]] = {}
    from grouper.reference import normalize_code
    for i in range(n):
        dx = [c for c in (cols["dx"][i] or []) if c is not None]
        px = [c for c in (cols["px"][i] or []) if c is not None]
        r = group_case(scheme, Case(sex=cols["sex"][i], age=cols["age"][i], dx=dx, px=px, age_days=cols["age_days"][i],
                                    birth_weight=cols["birth_weight"][i], vent_hours=cols["vent_hours"][i],
                                    los=cols["los"][i], discharge_status=cols["discharge_status"][i]))
        note = r.group_note
        bad = [(c, False) for c in dx if normalize_code(c) not in scheme.dx_index] + \
              [(c, True) for c in px if normalize_code(c) not in scheme.px_index]
        if bad:
            hints = []
            for c, is_px in bad:
                key = (normalize_code(c), is_px)
                if key not in unknown_codes:
                    unknown_codes[key] = suggest_codes(scheme, c, is_px=is_px, n=3)
                if unknown_codes[key]:
                    hints.append(f"{c} → {'/'.join(unknown_codes[key])}?")
            if hints:
                note = "; ".join(x for x in (note, "nearest codes: " + ", ".join(hints)) if x)
        for k, v in (("mdc", r.mdc), ("adrg", r.adrg), ("drg", r.drg), ("cc_level", r.cc_level),
                     ("group_status", r.status), ("group_note", note)):
            g[k].append(v)
    for k, typ in (("mdc", pa.string()), ("adrg", pa.string()), ("drg", pa.string()), ("cc_level", pa.int8()),
                   ("group_status", pa.string()), ("group_note", pa.string())):
        if k in t.column_names:
            t = t.drop_columns([k])
        t = t.append_column(k, pa.array(g[k], typ))

    # price with the bureau's batch path
    from drg.pricing.coefficients import read_coefficients
    from drg.pricing.points import price_cases
    from drg.pricing.weights import read_weights

    weights = read_weights(bundle.file("weights"))
    coefs = read_coefficients(bundle.file("coefficients"))
    notes = []
    pol = policy
    if pol.readmission.enabled:
        lacking = [c for c in ("patient_id", "admit_date", "discharge_date") if c not in t.column_names]
        if lacking:
            pol = dataclasses.replace(pol, readmission=dataclasses.replace(pol.readmission, enabled=False))
            notes.append(f"readmissions (分解住院) not checked: the file has no {', '.join(lacking)}")
        else:
            notes.append(f"readmissions within {pol.readmission.window_days} days inside this file are halved; "
                         "stays outside the file are not seen")
    if "discharge_date" not in t.column_names:
        t = t.append_column("discharge_date", pa.nulls(n, pa.date32()))
    priced = price_cases(t, weights, coefs, pol, engine=engine, file=str(path))

    # money
    scale = policy.points_scale
    # points columns are exact decimals with points_decimals places: × scale and round gives the integer units
    pts_u = [int(round(x * scale)) for x in priced.column("adjusted_points").to_pylist()]
    raw_u = [int(round(x * scale)) for x in priced.column("points").to_pylist()]
    pv_of = {x: bundle.point_value(x) for x in set(ins)}
    pvs = [pv_of[x] for x in ins]
    ent = [None if pv is None else round_half_away(Fraction(u * pv.fen_per_point.numerator, scale * pv.fen_per_point.denominator))
           for u, pv in zip(pts_u, pvs)]
    pv_yuan = {x: None if pv is None else float(pv.yuan_text) for x, pv in pv_of.items()}
    cost = priced.column("total_cost_fen").to_pylist()
    selfp = priced.column("self_paid_fen").to_pylist() if "self_paid" in t.column_names else [None] * n
    other = priced.column("other_paid_fen").to_pylist() if "other_paid_fen" in priced.column_names else [0] * n
    fund = [None if e is None or s is None else e - s - (o or 0) for e, s, o in zip(ent, selfp, other)]
    drg_names = dict(zip(scheme.drg_codes, scheme.drg_names))
    drgs = priced.column("drg").to_pylist()
    bps = priced.column("base_points").to_pylist()
    classes = priced.column("case_class").to_pylist()

    def yuan(vals):
        return pa.array([None if v is None else v / 100 for v in vals], pa.float64())

    keep = [c for c in ("row_number", "case_id", "patient_id", "hospital_id", "insurance_type", "sex", "age", "los",
                        "dx", "px", "discharge_date") if c in priced.column_names]
    result = priced.select(keep)
    extra = {
        "mdc": priced.column("mdc"), "drg": priced.column("drg"),
        "drg_name": pa.array([drg_names.get(d) for d in drgs], pa.string()),
        "cc_level": priced.column("cc_level"), "group_status": priced.column("group_status"),
        "group_note": priced.column("group_note"), "case_class": priced.column("case_class"),
        "base_points": priced.column("base_points"), "coef": priced.column("coef"),
        "coef_source": priced.column("coef_source"), "cost_ratio": priced.column("cost_ratio"),
        "points": priced.column("points"), "adjusted_points": priced.column("adjusted_points"),
        "adjust_reason": priced.column("adjust_reason"), "price_note": priced.column("price_note"),
        "total_cost": yuan(cost), "point_value": pa.array([pv_yuan[x] for x in ins], pa.float64()),
        "entitlement": yuan(ent), "margin": yuan([None if e is None else e - c for e, c in zip(ent, cost)]),
        "self_paid": yuan(selfp), "fund_payment": yuan(fund),
        "entitlement_fen": pa.array(ent, pa.int64()),
    }
    for k, v in extra.items():
        result = result.append_column(k, v)
    for lc in ("dx", "px"):
        if lc in result.column_names:
            joined = ["|".join(x or []) for x in result.column(lc).to_pylist()]
            result = result.set_column(result.column_names.index(lc), lc, pa.array(joined, pa.string()))

    # summary
    by_pool: dict[str, dict] = {}
    for i in range(n):
        pool = ins[i] if policy.pools_by_insurance_type else "all"
        s = by_pool.setdefault(str(pool), {"cases": 0, "points_u": 0, "cost_fen": 0, "self_fen": 0, "pv": pvs[i]})
        s["cases"] += 1
        s["points_u"] += pts_u[i]
        s["cost_fen"] += cost[i]
        s["self_fen"] += (selfp[i] or 0) + (other[i] or 0)
    pools = []
    tot_income = 0
    income_known = True
    for pool, s in sorted(by_pool.items()):
        pv = s["pv"]
        inc = None if pv is None else round_half_away(Fraction(s["points_u"], scale) * pv.fen_per_point)
        if inc is None:
            income_known = False
        else:
            tot_income += inc
        pools.append({"pool": pool, "cases": s["cases"], "points": str(units_to_decimal(s["points_u"], scale)),
                      "point_value_yuan": None if pv is None else pv.yuan_text,
                      "income_fen": inc, "income_yuan": yuan_text(inc) if inc is not None else None,
                      "cost_fen": s["cost_fen"], "cost_yuan": yuan_text(s["cost_fen"]),
                      "margin_fen": None if inc is None else inc - s["cost_fen"],
                      "margin_yuan": None if inc is None else yuan_text(inc - s["cost_fen"]),
                      "self_paid_fen": s["self_fen"] if selfp[0] is not None else None,
                      "fund_payment_fen": None if inc is None or selfp[0] is None else inc - s["self_fen"]})
    total_cost = sum(cost)
    counts = {c: classes.count(c) for c in CLASS_NAMES if classes.count(c)}
    rw = [b / 100 for b in bps if b is not None]
    by_drg: dict[str, dict] = {}
    for i in range(n):
        d = by_drg.setdefault(drgs[i], {"drg": drgs[i], "drg_name": drg_names.get(drgs[i]), "cases": 0, "points_u": 0,
                                        "income_fen": 0, "cost_fen": 0, "high": 0, "low": 0})
        d["cases"] += 1
        d["points_u"] += pts_u[i]
        d["income_fen"] += ent[i] or 0
        d["cost_fen"] += cost[i]
        d["high"] += classes[i] == "high"
        d["low"] += classes[i] == "low"
    drg_rows = sorted(by_drg.values(), key=lambda d: (-d["cases"], -d["points_u"], d["drg"]))
    for d in drg_rows:
        d["points"] = str(units_to_decimal(d.pop("points_u"), scale))
        d["margin_fen"] = d["income_fen"] - d["cost_fen"]
    n_out = counts.get("high", 0) + counts.get("low", 0)
    summary = {
        "file": str(path), "bundle": str(bundle.path), "policy_id": bundle.manifest.get("policy_id"),
        "settlement_year": bundle.manifest.get("settlement_year"),
        "rows_read": n_read, "cases": n, "rejected": n_rej,
        "points": str(units_to_decimal(sum(raw_u), scale)), "adjusted_points": str(units_to_decimal(sum(pts_u), scale)),
        "income_fen": tot_income if income_known else None,
        "income_yuan": yuan_text(tot_income) if income_known else None,
        "cost_fen": total_cost, "cost_yuan": yuan_text(total_cost),
        "margin_fen": tot_income - total_cost if income_known else None,
        "margin_yuan": yuan_text(tot_income - total_cost) if income_known else None,
        "by_class": counts, "outliers": n_out, "outlier_share": round(n_out / n, 4),
        "cmi": round(sum(rw) / len(rw), 4) if rw else None, "cmi_cases": len(rw),
        "ungrouped": sum(1 for d in drgs if not has_drg(d)),
        "readmissions_halved": sum(1 for x in priced.column("adjust_reason").to_pylist() if x and "readmission" in x),
        "unknown_codes": {f"{'px' if k[1] else 'dx'} {k[0]}": v for k, v in sorted(unknown_codes.items())},
        "pools": pools, "top_drgs": drg_rows[:top], "notes": notes,
    }
    missing_pv = sorted({"(none)" if x is None else str(x) for x, pv in pv_of.items() if pv is None})
    if missing_pv:
        summary["notes"].append(f"no point value in the bundle for insurance type(s) {', '.join(missing_pv)} "
                                f"(bundle pools: {', '.join(sorted(bundle.point_values))}); their cases have points "
                                "but no money (give --insurance when the file has no insurance_type)")
    summary["notes"].append("the total income is round(Σ points × point value) per pool; the per-case "
                            "entitlements are each rounded, so their sum may differ by a few fen")
    if out is not None:
        _write_outputs(Path(out), summary, result, drg_rows, rejected)
        summary["out"] = str(out)
    if rejects is not None:
        summary["rejects_file"] = str(rejects)
    return {"summary": summary, "cases": result, "rejected": rejected}


_SUMMARY_LABELS = [
    ("file", "病例文件 file"), ("bundle", "发布包 bundle"), ("policy_id", "政策 policy"),
    ("settlement_year", "结算年度 settlement year"), ("rows_read", "读入行数 rows read"),
    ("cases", "病例数 cases"), ("rejected", "拒收行数 rejected rows"), ("points", "病例点数 points"),
    ("adjusted_points", "调整后点数 adjusted points"), ("income_yuan", "预计 DRG 收入(元) estimated income"),
    ("cost_yuan", "实际总费用(元) actual cost"), ("margin_yuan", "结余(+)/超支(−)(元) income − cost"),
    ("outliers", "高低倍率病例数 outliers"), ("outlier_share", "高低倍率占比 outlier share"),
    ("cmi", "CMI"), ("ungrouped", "未入组病例 ungrouped"), ("readmissions_halved", "分解住院减半 readmissions halved"),
]


def _summary_rows(summary: dict) -> list[tuple[str, str]]:
    rows = [(label, "" if summary.get(k) is None else str(summary.get(k))) for k, label in _SUMMARY_LABELS]
    for c, v in summary["by_class"].items():
        rows.append((f"{CLASS_ZH[c]} {c}", str(v)))
    for p in summary["pools"]:
        rows.append((f"统筹区 pool {p['pool']}: 病例/点数/点值/收入/费用/结余",
                     f"{p['cases']} / {p['points']} / {p['point_value_yuan']} / {p['income_yuan']} / "
                     f"{p['cost_yuan']} / {p['margin_yuan']}"))
    for k, v in summary["unknown_codes"].items():
        rows.append((f"未知编码 unknown code {k}", "nearest: " + ", ".join(v)))
    for note in summary["notes"]:
        rows.append(("说明 note", note))
    return rows


def _write_outputs(out: Path, summary: dict, cases, drg_rows: list[dict], rejected: list) -> None:
    import polars as pl

    out.parent.mkdir(parents=True, exist_ok=True)
    suffix = out.suffix.lower()
    cases_df = pl.from_arrow(cases)
    drg_df = pl.DataFrame([{"drg": d["drg"], "drg_name": d["drg_name"], "cases": d["cases"],
                            "points": float(d["points"]), "income": d["income_fen"] / 100,
                            "cost": d["cost_fen"] / 100, "margin": d["margin_fen"] / 100, "high": d["high"],
                            "low": d["low"]} for d in drg_rows])
    sum_df = pl.DataFrame(_summary_rows(summary), schema=["项目 item", "值 value"], orient="row")
    if suffix in (".xlsx", ".xlsm"):
        rej = None
        if rejected:
            rej = pl.from_arrow(pa_concat(rejected))
            rej = rej.with_columns([pl.col(c).cast(pl.List(pl.String)).list.join("|")
                                    for c, t in rej.schema.items() if isinstance(t, pl.List)])
        _write_workbook(out, [("汇总", sum_df), ("明细", cases_df), ("病组", drg_df)] + ([("拒收", rej)] if rej is not None
                                                                                     else []))
    elif suffix == ".csv":
        cases_df.write_csv(out)
        sum_df.write_csv(out.with_name(out.stem + ".summary.csv"))
        drg_df.write_csv(out.with_name(out.stem + ".drgs.csv"))
    elif suffix in (".parquet", ".pq"):
        cases_df.write_parquet(out)
        out.with_name(out.stem + ".summary.json").write_text(json.dumps(summary, ensure_ascii=False, indent=1),
                                                             encoding="utf-8")
    else:
        raise InputError(f"unknown output type {suffix!r}; use .xlsx, .csv or .parquet", file=str(out))


def pa_concat(tables: list):
    import pyarrow as pa

    return pa.concat_tables(tables, promote_options="permissive")


_MONEY_COLUMNS = ("total_cost", "entitlement", "margin", "self_paid", "fund_payment", "income", "cost")


_POINT_COLUMNS = ("base_points", "coef", "points", "adjusted_points", "cost_ratio", "point_value")


def _write_workbook(path: Path, sheets: list) -> None:
    """Write polars frames as plain worksheets (header row, frozen, filter; money and points formatted).

    Rows are streamed with xlsxwriter's ``constant_memory`` mode: about three times as fast as a formatted
    Excel table, and memory stays flat for a large month.
    """
    import datetime

    import xlsxwriter

    with xlsxwriter.Workbook(str(path), {"constant_memory": True}) as wb:
        head = wb.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1})
        money = wb.add_format({"num_format": "#,##0.00"})
        points = wb.add_format({"num_format": "0.0000"})
        for name, df in sheets:
            ws = wb.add_worksheet(name)
            cols = df.columns
            fmts = [money if c in _MONEY_COLUMNS else points if c in _POINT_COLUMNS else None for c in cols]
            widths = [max(8, min(48, len(c.encode("gbk", "replace")) + 2)) for c in cols]
            sample = df.head(200).rows()
            for row in sample:
                for j, v in enumerate(row):
                    if isinstance(v, str):
                        widths[j] = max(widths[j], min(48, len(v.encode("gbk", "replace")) + 2))
            for j, (w, f) in enumerate(zip(widths, fmts)):
                ws.set_column(j, j, w, f)
            ws.write_row(0, 0, cols, head)
            ws.freeze_panes(1, 0)
            if df.height:
                ws.autofilter(0, 0, df.height, len(cols) - 1)
            for i, row in enumerate(df.iter_rows(), start=1):
                for j, v in enumerate(row):
                    if v is None:
                        continue
                    if isinstance(v, (datetime.date, datetime.datetime)):
                        ws.write_string(i, j, v.isoformat())
                    elif isinstance(v, float) and v != v:
                        continue
                    else:
                        ws.write(i, j, v, fmts[j])
