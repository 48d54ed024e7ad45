"""Statements of a settlement run: one per hospital and period (CSV and Excel), and a city summary with a
chart of point values by month (PNG).

A hospital's statement (``statements/PERIOD/HOSPITAL.xlsx`` with sheets ``settlement``, ``case_classes``,
``top_drgs``, ``outliers``; the same content in ``HOSPITAL.csv`` as one long table ``section, pool, item,
cases, points, total_cost_yuan, amount_yuan``) shows, per pool: points by case class, entitlement, self-pay,
fund payment, prepaid, balance, reserve share and the point value; its top DRGs by points; and its outlier
cases (high and low, largest cost ratio first, at most ``max_outliers`` per hospital and pool — the count
of all of them is in the settlement section). Amounts are exact yuan (two decimals) computed from int fen;
patient ids are never written.

The city summary (``city_summary.csv`` / ``.xlsx``) has one row per run and pool (from the ledger when one
is given, so every month of the year appears) and ``point_values.png`` charts the point value of each pool
by month, with the annual value as a dashed line.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from drg.money import fen_to_decimal, pv_yuan, units_to_decimal
from drg.outputs import WORKBOOK_OPTIONS, atomic_path, csv_cell, write_csv

__all__ = ["write_statements", "write_city_summary", "hospital_statement_frames"]

_MONEY_ITEMS = ("entitlement", "self_paid", "fund_payment", "prepaid", "balance", "reserve_share", "total_cost",
                "loss")


def _yuan(fen: int | None) -> Decimal | None:
    return None if fen is None else fen_to_decimal(int(fen))


def _outlier_cases(result, priced: list[Path] | None, max_outliers: int):
    """Outlier cases of the run's period from the priced files (no patient ids)."""
    import polars as pl

    if not priced:
        return None
    cols = ["case_id", "hospital_id", "insurance_type", "discharge_date", "drg", "case_class", "cost_ratio",
            "total_cost", "adjusted_points"]
    frames = []
    for p in priced:
        lf = pl.scan_parquet(p)
        have = lf.collect_schema().names()
        if "case_class" not in have:
            continue
        sel = [c for c in cols if c in have]
        lf = lf.select(sel).filter(pl.col("case_class").is_in(["high", "low"])
                                   & (pl.col("discharge_date").dt.year() == result.year))
        if result.month is not None:
            lf = lf.filter(pl.col("discharge_date").dt.month() == result.month)
        frames.append(lf.collect())
    if not frames:
        return None
    df = pl.concat(frames, how="diagonal_relaxed")
    pool = pl.col("insurance_type").cast(pl.String) if any(p != "all" for p in result.pools) else pl.lit("all")
    df = df.with_columns(pool.alias("pool"))
    if "cost_ratio" not in df.columns:
        df = df.with_columns(pl.lit(None, pl.Float64).alias("cost_ratio"))
    df = df.sort(["pool", "hospital_id", "cost_ratio"], descending=[False, False, True], nulls_last=True)
    return df.group_by(["pool", "hospital_id"], maintain_order=True).head(max_outliers)


def hospital_statement_frames(result, *, priced: list[Path] | None = None, top_drgs: int = 10,
                              max_outliers: int = 200) -> dict[str, Any]:
    """The statement tables of every hospital of a run, as polars frames keyed by sheet name.

    ``settlement`` (pool, hospital_id, item, value_yuan / points), ``case_classes``, ``top_drgs``,
    ``outliers``; each has ``hospital_id`` and ``pool`` columns so one hospital's rows are a filter away.
    """
    import polars as pl

    agg = result.aggregates
    scale = agg.scale
    months = [result.month] if result.month is not None else list(range(1, 13))
    settlement_rows = []
    for r in result.hospitals.iter_rows(named=True):
        base = {"pool": r["pool"], "hospital_id": r["hospital_id"]}
        settlement_rows.append({**base, "item": "points", "value": Decimal(r["points"])})
        settlement_rows.append({**base, "item": "undeducted_points", "value": Decimal(r["undeducted_points"])})
        settlement_rows.append({**base, "item": "point_value_yuan", "value": Decimal(r["point_value"])})
        for k in _MONEY_ITEMS:
            settlement_rows.append({**base, "item": f"{k}_yuan", "value": _yuan(r[k])})
        settlement_rows.append({**base, "item": "cases", "value": Decimal(r["cases"])})
    settlement = pl.DataFrame(settlement_rows, schema={"pool": pl.String, "hospital_id": pl.String,
                                                       "item": pl.String, "value": pl.Decimal(20, 4)}, orient="row")
    bc = (agg.by_class.filter(pl.col("month").is_in(months))
          .group_by(["pool", "hospital_id", "case_class"]).agg(pl.col("cases").sum(), pl.col("adj_u").sum(),
                                                               pl.col("total_cost").sum())
          .sort(["pool", "hospital_id", "case_class"]))
    classes = bc.select("pool", "hospital_id", "case_class", "cases",
                        pl.col("adj_u").map_elements(lambda u: units_to_decimal(u, scale),
                                                     return_dtype=pl.Decimal(20, 4)).alias("points"),
                        pl.col("total_cost").map_elements(_yuan, return_dtype=pl.Decimal(20, 2)).alias("total_cost_yuan"))
    bd = (agg.by_drg.filter(pl.col("month").is_in(months))
          .group_by(["pool", "hospital_id", "drg"]).agg(pl.col("cases").sum(), pl.col("adj_u").sum(),
                                                        pl.col("total_cost").sum())
          .sort(["pool", "hospital_id", "adj_u", "drg"], descending=[False, False, True, False])
          .group_by(["pool", "hospital_id"], maintain_order=True).head(top_drgs))
    drgs = bd.select("pool", "hospital_id", "drg", "cases",
                     pl.col("adj_u").map_elements(lambda u: units_to_decimal(u, scale),
                                                  return_dtype=pl.Decimal(20, 4)).alias("points"),
                     pl.col("total_cost").map_elements(_yuan, return_dtype=pl.Decimal(20, 2)).alias("total_cost_yuan"))
    outl = _outlier_cases(result, priced, max_outliers)
    if outl is None:
        outl = pl.DataFrame(schema={"pool": pl.String, "hospital_id": pl.String, "case_id": pl.String,
                                    "discharge_date": pl.Date, "drg": pl.String, "case_class": pl.String,
                                    "cost_ratio": pl.Float64, "total_cost": pl.Float64, "adjusted_points": pl.Float64})
    else:
        outl = outl.select([c for c in ("pool", "hospital_id", "case_id", "discharge_date", "drg", "case_class",
                                        "cost_ratio", "total_cost", "adjusted_points") if c in outl.columns])
    return {"settlement": settlement, "case_classes": classes, "top_drgs": drgs, "outliers": outl}


def _long_csv_rows(hid: str, frames: dict) -> list[dict]:
    import polars as pl

    rows = []
    for r in frames["settlement"].filter(pl.col("hospital_id") == hid).iter_rows(named=True):
        rows.append({"section": "settlement", "pool": r["pool"], "item": r["item"], "cases": None, "points": None,
                     "total_cost_yuan": None, "amount": str(r["value"])})
    for name, key in (("case_classes", "case_class"), ("top_drgs", "drg")):
        for r in frames[name].filter(pl.col("hospital_id") == hid).iter_rows(named=True):
            rows.append({"section": name, "pool": r["pool"], "item": r[key], "cases": r["cases"],
                         "points": str(r["points"]), "total_cost_yuan": str(r["total_cost_yuan"]), "amount": None})
    for r in frames["outliers"].filter(pl.col("hospital_id") == hid).iter_rows(named=True):
        rows.append({"section": f"outlier_{r.get('case_class')}", "pool": r["pool"], "item": r.get("case_id"),
                     "cases": 1, "points": None if r.get("adjusted_points") is None else f"{r['adjusted_points']:.4f}",
                     "total_cost_yuan": None if r.get("total_cost") is None else f"{r['total_cost']:.2f}",
                     "amount": None if r.get("cost_ratio") is None else f"cost_ratio={r['cost_ratio']:.4f} "
                     f"drg={r.get('drg')}"})
    return rows


def write_statements(result, out_dir: str | Path, *, priced: list[str | Path] | None = None, ledger: Any = None,
                     top_drgs: int = 10, max_outliers: int = 200, excel: bool = True) -> dict[str, Any]:
    """Write every hospital's statement of ``result`` and the city summary under ``out_dir``.

    Parameters
    ----------
    result : drg.settlement.runs.SettlementResult
        A monthly or annual run (with its case aggregates).
    out_dir : path
        Files go to ``out_dir/statements/PERIOD/`` (hospital statements) and ``out_dir/`` (city summary,
        chart).
    priced : list of paths, optional
        The priced-case files of the run, for the outlier-case lists (none listed without them).
    ledger : path or Ledger, optional
        For the city summary and chart over every run of the year.
    excel : bool
        Also write the ``.xlsx`` statements (CSV is always written).

    Returns
    -------
    dict
        ``{"statements": [paths], "city_summary": path, "chart": path}``.
    """
    import csv

    import polars as pl

    out_dir = Path(out_dir)
    sdir = out_dir / "statements" / result.period
    sdir.mkdir(parents=True, exist_ok=True)
    paths = [Path(p) for p in (priced or result.aggregates.files)]
    frames = hospital_statement_frames(result, priced=paths, top_drgs=top_drgs, max_outliers=max_outliers)
    written = []
    fields = ["section", "pool", "item", "cases", "points", "total_cost_yuan", "amount"]
    for hid in sorted(result.hospitals["hospital_id"].unique().to_list()):
        safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in hid)
        csv_path = sdir / f"{safe}.csv"
        # (a byte-order mark for Excel; text from the cases, such as a case id, neutralised: drg.outputs)
        with open(csv_path, "w", newline="", encoding="utf-8-sig") as fh:
            w = csv.DictWriter(fh, fieldnames=fields)
            w.writeheader()
            w.writerows({k: csv_cell(v) if isinstance(v, str) else v for k, v in row.items()}
                        for row in _long_csv_rows(hid, frames))
        written.append(csv_path)
        if excel:
            import xlsxwriter

            xlsx_path = sdir / f"{safe}.xlsx"
            wb = xlsxwriter.Workbook(str(xlsx_path), WORKBOOK_OPTIONS)   # a case id is text, never a formula
            try:
                for sheet, frame in frames.items():
                    part = frame.filter(pl.col("hospital_id") == hid)
                    part.write_excel(wb, worksheet=sheet, autofit=True)
            finally:
                wb.close()
            written.append(xlsx_path)
    summary = write_city_summary(result, out_dir, ledger=ledger, excel=excel)
    return {"statements": [str(p) for p in written], **summary}


def _summary_frame(result, ledger):
    import polars as pl

    rows = []
    if ledger is not None:
        from drg.settlement.ledger import Ledger

        led = ledger if isinstance(ledger, Ledger) else Ledger(ledger)
        if led.path.exists():
            t = led.table("pool_results")
            r = led.table("runs").select("run_id", "kind", "period", "year")
            if t.height:
                j = t.join(r, on="run_id").filter(pl.col("year") == result.year)
                for x in j.sort(["period", "pool"]).iter_rows(named=True):
                    rows.append({"kind": x["kind"], "period": x["period"], "pool": x["pool"], "budget": x["budget"],
                                 "reserve": x["reserve"], "self_pay": x["self_pay"],
                                 "distributable": x["distributable"], "total_points": Decimal(x["total_points"]),
                                 "point_value_yuan": Decimal(x["point_value"]), "fund_payments": x["fund_payments"],
                                 "prepaid": x["prepaid"], "cases": x["cases"]})
    have = {(r["kind"], r["period"], r["pool"]) for r in rows}
    for p in result.pools.values():
        if (result.kind, result.period, p.pool) not in have:
            rows.append({"kind": result.kind, "period": result.period, "pool": p.pool, "budget": p.budget,
                         "reserve": p.reserve, "self_pay": p.self_pay, "distributable": p.distributable,
                         "total_points": units_to_decimal(p.total_points_units, p.scale),
                         "point_value_yuan": pv_yuan(p.point_value), "fund_payments": p.fund_payments,
                         "prepaid": p.prepaid, "cases": p.cases})
    schema = {"kind": pl.String, "period": pl.String, "pool": pl.String, "budget": pl.Int64, "reserve": pl.Int64,
              "self_pay": pl.Int64, "distributable": pl.Int64, "total_points": pl.Decimal(20, 4),
              "point_value_yuan": pl.Decimal(18, 4), "fund_payments": pl.Int64, "prepaid": pl.Int64,
              "cases": pl.Int64}
    return pl.DataFrame(rows, schema=schema, orient="row").sort(["kind", "period", "pool"])


def write_city_summary(result, out_dir: str | Path, *, ledger: Any = None, excel: bool = True) -> dict[str, str]:
    """City summary (one row per run and pool of the year; money in fen) and the point-value chart."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import polars as pl

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    df = _summary_frame(result, ledger)
    csv_path = out_dir / "city_summary.csv"
    write_csv(df, csv_path)
    out = {"city_summary": str(csv_path)}
    if excel:
        import xlsxwriter

        xlsx = out_dir / "city_summary.xlsx"
        with atomic_path(xlsx) as tmp:
            with xlsxwriter.Workbook(str(tmp), WORKBOOK_OPTIONS) as wb:
                df.write_excel(wb, worksheet="point_values", autofit=True)
        out["city_summary_xlsx"] = str(xlsx)
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=100)
    for pool in sorted(df["pool"].unique().to_list()):
        months = df.filter((pl.col("pool") == pool) & (pl.col("kind") == "month")).sort("period")
        color = None
        if months.height:
            x = [int(p.split("-")[1]) for p in months["period"].to_list()]
            (line,) = ax.plot(x, [float(v) for v in months["point_value_yuan"].to_list()], marker="o",
                              label=f"pool {pool} (monthly provisional)")
            color = line.get_color()
        year = df.filter((pl.col("pool") == pool) & (pl.col("kind") == "year"))
        if year.height:
            ax.axhline(float(year["point_value_yuan"][0]), linestyle="--", linewidth=1, color=color,
                       label=f"pool {pool} annual {year['point_value_yuan'][0]}")
    ax.set_xlabel("month")
    ax.set_ylabel("point value (yuan per point)")
    ax.set_xticks(range(1, 13))
    ax.set_title(f"Point values {result.year} (policy {result.policy_id})")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    chart = out_dir / "point_values.png"
    with atomic_path(chart) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    out["chart"] = str(chart)
    return out
