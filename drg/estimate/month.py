"""A hospital's month (``drg estimate --cases``): every case of a file grouped and priced as the bureau will,
with a summary per pool and DRG, written as an Excel workbook or CSV, the rejected rows beside."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from drg.errors import InputError
from drg.money import round_half_away, units_to_decimal, yuan_text
from drg.pricing.exact import CLASS_NAMES
from grouper.results import has_drg
from grouper.lookup import suggest_codes

__all__ = ['estimate_file']


# --------------------------------------------------------------------------------------------- month file
def estimate_file(bundle, path: str | Path, *, mapping: str | Path | None = None, out: str | Path | None = None,
                  rejects: str | Path | None = None, hospital_id: str | None = None,
                  insurance_type: str | None = None, engine: str = "numba", top: int = 10,
                  sheet: str | int | None = None) -> dict:
    """Estimate every case of a file (a hospital's month): per-case results, a summary, rejects.

    The steps: read and validate the file (:func:`_read_month`), fill the hospital and insurance type a file
    may lack, group every case with the reference grouper as the bureau's scheme does
    (:func:`_group_month`), price with the bureau's batch path (:func:`_price_month`), turn points into money
    with the bundle's point values (:class:`_Money`), and summarise by pool and DRG (:func:`_summary`).

    Parameters
    ----------
    bundle : drg.estimate.bundle.Bundle
    path : a CSV (UTF-8 or GBK), Excel or Parquet case file (:func:`drg.casefile.reader.read_cases`).
    mapping : a column-mapping TOML for the hospital system's own headers.
    out : ``.xlsx`` (sheets 汇总, 明细, 病组, 拒收 and 说明: :mod:`drg.estimate.workbook`), ``.csv`` (the
        明细 table; the summary and the DRGs beside it as ``NAME.summary.csv`` and ``NAME.drgs.csv``; UTF-8 with
        a BOM) or ``.parquet`` (the per-case table, money in fen; the summary beside it as JSON).
    rejects : where to write rejected rows (CSV or Parquet); they are also counted in the summary.
    hospital_id, insurance_type : defaults for rows (or files) without them.
    engine : ``numba`` or ``python`` for :func:`drg.pricing.points.price_cases`.
    sheet : the Excel sheet holding the cases (name or 1-based number); default the mapping's, else the first.

    Returns
    -------
    dict
        ``summary`` (JSON-ready), ``cases`` (a pyarrow Table of the per-case results: the file's columns as
        read, money as integer fen in ``*_fen`` columns, and the grouping, pricing and money of each case) and
        ``rejected``.
    """
    path = Path(path)
    table, rejected, n_read = _read_month(path, mapping, rejects, sheet)
    brought = [c for c in table.column_names if c not in _DERIVED]
    table = _with_default(table, "hospital_id", hospital_id)
    table = _with_default(table, "insurance_type", insurance_type)
    table, unknown_codes = _group_month(table, bundle.scheme)
    priced, notes = _price_month(table, bundle, engine, path)
    money = _Money(priced, bundle, "self_paid" in table.column_names)
    result = _case_rows(priced, money, bundle, brought)
    summary, drg_rows = _summary(path, bundle, priced, money, n_read, sum(t.num_rows for t in rejected),
                                 unknown_codes, notes, top)
    if out is not None:
        from drg.estimate.workbook import write_estimate

        write_estimate(Path(out), summary, result, drg_rows, rejected, bundle=bundle, brought=brought,
                       mapping=mapping)
        summary["out"] = str(out)
    if rejects is not None:
        summary["rejects_file"] = str(rejects)
    return {"summary": summary, "cases": result, "rejected": rejected}


def _read_month(path: Path, mapping, rejects, sheet=None) -> tuple:
    """The accepted cases as one table, the rejected rows (written to ``rejects``), and the rows read."""
    import pyarrow as pa

    from drg.casefile.reader import read_cases
    from drg.casefile.rejects import write_rejects
    from drg.casefile.schema import ESTIMATE_REQUIRED

    accepted, rejected = [], []
    n_read = 0
    for batch in read_cases(path, mapping=mapping, required=ESTIMATE_REQUIRED, sheet=sheet):
        n_read += batch.n_read
        if batch.accepted.num_rows:
            accepted.append(pa.Table.from_batches([batch.accepted]))
        if batch.rejected is not None and batch.rejected.num_rows:
            rejected.append(batch.rejected)
    if rejects is not None:
        write_rejects(rejected, rejects)
    table = pa.concat_tables(accepted, promote_options="permissive") if accepted else None
    if table is None or table.num_rows == 0:
        n_rej = sum(t.num_rows for t in rejected)
        raise InputError(f"no case of the file was accepted ({n_rej} rejected; see --rejects)", file=str(path))
    return table, rejected, n_read


def _with_default(table, name: str, default: str | None):
    """``table`` with column ``name`` (as text) filled with ``default`` where it is missing or empty."""
    import pyarrow as pa

    n = table.num_rows
    values = table.column(name).cast(pa.string()).to_pylist() if name in table.column_names else [None] * n
    column = pa.array([default if v is None or v == "" else v for v in values], pa.string())
    if name in table.column_names:
        return table.set_column(table.column_names.index(name), name, column)
    return table.append_column(name, column)


_GROUP_INPUTS = ("sex", "age", "age_days", "birth_weight", "vent_hours", "los", "dx", "px", "discharge_status")
_GROUP_RESULTS = (("mdc", "string"), ("adrg", "string"), ("drg", "string"), ("cc_level", "int8"),
                  ("cc_dx", "string"), ("group_status", "string"), ("group_note", "string"))


def _group_month(table, scheme) -> tuple:
    """Every case grouped with the reference grouper (the result columns replace any the file has); unknown
    codes are noted on the case with the nearest valid codes, and returned with their suggestions."""
    import pyarrow as pa

    from grouper.reference import Case, group_case, normalize_code

    n = table.num_rows
    cols = {c: (table.column(c).to_pylist() if c in table.column_names else [None] * n) for c in _GROUP_INPUTS}
    results = {k: [] for k, _ in _GROUP_RESULTS}
    unknown_codes: dict[tuple[str, bool], list[str]] = {}
    for i in range(n):
        dx = [c for c in (cols["dx"][i] or []) if c is not None]
        px = [c for c in (cols["px"][i] or []) if c is not None]
        r = group_case(scheme, Case(sex=cols["sex"][i], age=cols["age"][i], dx=dx, px=px, age_days=cols["age_days"][i],
                                    birth_weight=cols["birth_weight"][i], vent_hours=cols["vent_hours"][i],
                                    los=cols["los"][i], discharge_status=cols["discharge_status"][i]))
        hints = []
        for c, is_px in [(c, False) for c in dx if normalize_code(c) not in scheme.dx_index] + \
                        [(c, True) for c in px if normalize_code(c) not in scheme.px_index]:
            key = (normalize_code(c), is_px)
            if key not in unknown_codes:
                unknown_codes[key] = suggest_codes(scheme, c, is_px=is_px, n=3)
            if unknown_codes[key]:
                hints.append(f"{c} → {'/'.join(unknown_codes[key])}?")
        note = "; ".join(x for x in (r.group_note, "nearest codes: " + ", ".join(hints)) if x) if hints else r.group_note
        for k, v in (("mdc", r.mdc), ("adrg", r.adrg), ("drg", r.drg), ("cc_level", r.cc_level),
                     ("cc_dx", r.cc_dx), ("group_status", r.status), ("group_note", note)):
            results[k].append(v)
    for k, typ in _GROUP_RESULTS:
        if k in table.column_names:
            table = table.drop_columns([k])
        table = table.append_column(k, pa.array(results[k], getattr(pa, typ)()))
    return table, unknown_codes


def _price_month(table, bundle, engine: str, path: Path) -> tuple:
    """The cases priced as :func:`drg.pricing.points.price_cases` prices the bureau's file; readmission is
    checked inside the file when it has the columns for it (noted either way)."""
    import dataclasses

    import pyarrow as pa

    from drg.pricing.coefficients import read_coefficients
    from drg.pricing.points import price_cases
    from drg.pricing.weights import read_weights

    policy = bundle.policy
    notes = []
    if policy.readmission.enabled:
        lacking = [c for c in ("patient_id", "admit_date", "discharge_date") if c not in table.column_names]
        if lacking:
            policy = dataclasses.replace(policy, readmission=dataclasses.replace(policy.readmission, enabled=False))
            notes.append(f"readmissions (分解住院) not checked: the file has no {', '.join(lacking)}")
        else:
            notes.append(f"readmissions within {policy.readmission.window_days} days inside this file are halved; "
                         "stays outside the file are not seen")
    if "discharge_date" not in table.column_names:
        table = table.append_column("discharge_date", pa.nulls(table.num_rows, pa.date32()))
    priced = price_cases(table, read_weights(bundle.file("weights")), read_coefficients(bundle.file("coefficients")),
                         policy, engine=engine, file=str(path))
    return priced, notes


class _Money:
    """Each case's points in units and its money in fen under the bundle's point value of its pool."""

    def __init__(self, priced, bundle, has_self_paid: bool) -> None:
        scale = bundle.policy.points_scale
        n = priced.num_rows
        self.scale = scale
        # points columns are exact decimals with points_decimals places: × scale and round gives the units
        self.adjusted_u = [int(round(x * scale)) for x in priced.column("adjusted_points").to_pylist()]
        self.points_u = [int(round(x * scale)) for x in priced.column("points").to_pylist()]
        self.insurance = priced.column("insurance_type").to_pylist()
        self.pv_of = {x: bundle.point_value(x) for x in set(self.insurance)}
        self.pv = [self.pv_of[x] for x in self.insurance]
        self.entitlement = [None if pv is None else round_half_away(
            Fraction(u * pv.fen_per_point.numerator, scale * pv.fen_per_point.denominator))
            for u, pv in zip(self.adjusted_u, self.pv)]
        self.cost = priced.column("total_cost_fen").to_pylist()
        self.self_paid = priced.column("self_paid_fen").to_pylist() if has_self_paid else [None] * n
        self.other_paid = (priced.column("other_paid_fen").to_pylist() if "other_paid_fen" in priced.column_names
                           else [0] * n)
        self.fund = [None if e is None or s is None else e - s - (o or 0)
                     for e, s, o in zip(self.entitlement, self.self_paid, self.other_paid)]



#: Columns the estimate makes (never "brought" by the hospital's file).
_DERIVED = frozenset({"row_number", "total_cost_fen", "fund_paid_fen", "self_paid_fen", "other_paid_fen", "mdc",
                      "adrg", "drg", "cc_level", "cc_dx", "group_status", "group_note"})

#: The identity columns shown first, then the results.
_FIRST = ("row_number", "case_id", "patient_id", "hospital_id", "insurance_type", "sex", "age", "los", "dx", "px",
          "discharge_date")
_RESULTS = ("mdc", "drg", "drg_name", "cc_level", "cc_dx", "group_status", "group_note", "case_class", "base_points", "coef",
            "coef_source", "cost_ratio", "points", "adjusted_points", "adjust_reason", "price_note")


def _case_rows(priced, money: _Money, bundle, brought: list[str] | None = None):
    """The per-case result table (the 明细 sheet, a machine table): the case as read (every column the file
    brought, money as integer fen), its group, class, points and money (``*_fen``)."""
    import pyarrow as pa

    from drg.casefile.schema import MONEY_COLUMNS

    def fen(vals):
        return pa.array(vals, pa.int64())

    drg_names = dict(zip(bundle.scheme.drg_codes, bundle.scheme.drg_names))
    pv_yuan = {x: None if pv is None else float(pv.yuan_text) for x, pv in money.pv_of.items()}
    keep = [c for c in _FIRST if c in priced.column_names]
    result = priced.select(keep)
    extra = {c: priced.column(c) for c in _RESULTS if c != "drg_name"}
    extra["drg_name"] = pa.array([drg_names.get(d) for d in priced.column("drg").to_pylist()], pa.string())
    extra = {c: extra[c] for c in _RESULTS}
    extra |= {
        "total_cost_fen": fen(money.cost),
        "point_value": pa.array([pv_yuan[x] for x in money.insurance], pa.float64()),
        "entitlement_fen": fen(money.entitlement),
        "margin_fen": fen([None if e is None else e - c for e, c in zip(money.entitlement, money.cost)]),
        "self_paid_fen": fen(money.self_paid), "fund_payment_fen": fen(money.fund),
    }
    for k, v in extra.items():
        result = result.append_column(k, v)
    # the rest of what the file brought: contract columns (money as fen) and the hospital's own columns
    for c in brought or []:
        if c in result.column_names or c in _RESULTS:
            continue
        if c in MONEY_COLUMNS:
            if f"{c}_fen" in priced.column_names and f"{c}_fen" not in result.column_names:
                result = result.append_column(f"{c}_fen", priced.column(f"{c}_fen"))
            continue
        if c in priced.column_names:
            result = result.append_column(c, priced.column(c))
    for lc in ("dx", "px"):
        if lc in result.column_names:
            joined = ["|".join(c for c in x or [] if c is not None) for x in result.column(lc).to_pylist()]
            result = result.set_column(result.column_names.index(lc), lc, pa.array(joined, pa.string()))
    return result


def _pool_rows(money: _Money, pools_by_insurance_type: bool) -> tuple[list[dict], int | None]:
    """Per pool: cases, points, point value, income ``round(Σ points × PV)``, cost, margin; and the total
    income (None when a pool has no point value)."""
    by_pool: dict[str, dict] = {}
    for i in range(len(money.cost)):
        pool = money.insurance[i] if pools_by_insurance_type else "all"
        s = by_pool.setdefault(str(pool), {"cases": 0, "points_u": 0, "cost_fen": 0, "self_fen": 0, "pv": money.pv[i]})
        s["cases"] += 1
        s["points_u"] += money.adjusted_u[i]
        s["cost_fen"] += money.cost[i]
        s["self_fen"] += (money.self_paid[i] or 0) + (money.other_paid[i] or 0)
    rows, total, known = [], 0, True
    for pool, s in sorted(by_pool.items()):
        pv = s["pv"]
        inc = None if pv is None else round_half_away(Fraction(s["points_u"], money.scale) * pv.fen_per_point)
        if inc is None:
            known = False
        else:
            total += inc
        rows.append({"pool": pool, "cases": s["cases"], "points": str(units_to_decimal(s["points_u"], money.scale)),
                     "point_value_yuan": None if pv is None else pv.yuan_text,
                     "income_fen": inc, "income_yuan": yuan_text(inc) if inc is not None else None,
                     "cost_fen": s["cost_fen"], "cost_yuan": yuan_text(s["cost_fen"]),
                     "margin_fen": None if inc is None else inc - s["cost_fen"],
                     "margin_yuan": None if inc is None else yuan_text(inc - s["cost_fen"]),
                     "self_paid_fen": s["self_fen"] if money.self_paid[0] is not None else None,
                     "fund_payment_fen": None if inc is None or money.self_paid[0] is None else inc - s["self_fen"]})
    return rows, (total if known else None)


def _drg_rows(priced, money: _Money, drg_names: dict) -> list[dict]:
    """Per DRG: cases, points, income, cost, margin and outliers, the most frequent first."""
    drgs = priced.column("drg").to_pylist()
    classes = priced.column("case_class").to_pylist()
    by_drg: dict[str, dict] = {}
    for i, code in enumerate(drgs):
        d = by_drg.setdefault(code, {"drg": code, "drg_name": drg_names.get(code), "cases": 0, "points_u": 0,
                                     "income_fen": 0, "cost_fen": 0, "high": 0, "low": 0})
        d["cases"] += 1
        d["points_u"] += money.adjusted_u[i]
        d["income_fen"] += money.entitlement[i] or 0
        d["cost_fen"] += money.cost[i]
        d["high"] += classes[i] == "high"
        d["low"] += classes[i] == "low"
    rows = sorted(by_drg.values(), key=lambda d: (-d["cases"], -d["points_u"], d["drg"]))
    for d in rows:
        d["points"] = str(units_to_decimal(d.pop("points_u"), money.scale))
        d["margin_fen"] = d["income_fen"] - d["cost_fen"]
    return rows


def _summary(path: Path, bundle, priced, money: _Money, n_read: int, n_rejected: int, unknown_codes: dict,
             notes: list[str], top: int) -> tuple[dict, list[dict]]:
    """The JSON-ready summary of the month (the 汇总 sheet) and the per-DRG rows (the 病组 sheet)."""
    policy = bundle.policy
    n = priced.num_rows
    pools, total_income = _pool_rows(money, policy.pools_by_insurance_type)
    drg_rows = _drg_rows(priced, money, dict(zip(bundle.scheme.drg_codes, bundle.scheme.drg_names)))
    classes = priced.column("case_class").to_pylist()
    counts = {c: classes.count(c) for c in CLASS_NAMES if classes.count(c)}
    rw = [b / 100 for b in priced.column("base_points").to_pylist() if b is not None]
    total_cost = sum(money.cost)
    known = total_income is not None
    n_out = counts.get("high", 0) + counts.get("low", 0)
    scale = money.scale
    summary = {
        "file": str(path), "bundle": str(bundle.path), "policy_id": bundle.manifest.get("policy_id"),
        "settlement_year": bundle.manifest.get("settlement_year"),
        "rows_read": n_read, "cases": n, "rejected": n_rejected,
        "points": str(units_to_decimal(sum(money.points_u), scale)),
        "adjusted_points": str(units_to_decimal(sum(money.adjusted_u), scale)),
        "income_fen": total_income, "income_yuan": yuan_text(total_income) if known else None,
        "cost_fen": total_cost, "cost_yuan": yuan_text(total_cost),
        "margin_fen": total_income - total_cost if known else None,
        "margin_yuan": yuan_text(total_income - total_cost) if known else None,
        "by_class": counts, "outliers": n_out, "outlier_share": round(n_out / n, 4),
        "cmi": round(sum(rw) / len(rw), 4) if rw else None, "cmi_cases": len(rw),
        "ungrouped": sum(1 for d in priced.column("drg").to_pylist() if not has_drg(d)),
        "readmissions_halved": sum(1 for x in priced.column("adjust_reason").to_pylist() if x and "readmission" in x),
        "unknown_codes": {f"{'px' if k[1] else 'dx'} {k[0]}": v for k, v in sorted(unknown_codes.items())},
        "pools": pools, "top_drgs": drg_rows[:top], "notes": notes,
    }
    missing_pv = sorted({"(none)" if x is None else str(x) for x, pv in money.pv_of.items() if pv is None})
    if missing_pv:
        summary["notes"].append(f"no point value in the bundle for insurance type(s) {', '.join(missing_pv)} "
                                f"(bundle pools: {', '.join(sorted(bundle.point_values))}); their cases have points "
                                "but no money (give --insurance when the file has no insurance_type)")
    summary["notes"].append("the total income is round(Σ points × point value) per pool; the per-case "
                            "entitlements are each rounded, so their sum may differ by a few fen")
    return summary, drg_rows
