"""Statements of a settlement run, for the people who sign and check them: one workbook per hospital and
period, and the city summary with a chart of point values by month.

Everything here is in yuan with two decimals (exact, from the integer fen of the run), stored as numbers
with their formats; headers are Chinese (English with ``lang="en"``), labels from
:mod:`drg.reports.labels`. Every sheet starts with the period, the policy, the grouping scheme and the
ledger run id, so each figure traces to a run; every table whose rows add up ends with a totals row.

A hospital's statement (``statements/PERIOD/HOSPITAL.xlsx``):

===============  ==========================================================================================
结算单            per pool: cases, points, point value, entitlement, self-pay, fund payment, prepaid, balance,
                  reserve share, total cost, loss; totals row
病例类型          cases, points and total cost by case class; totals row (= the hospital's cases)
主要病组          the DRGs with the most points, the rest in one row; totals row
高低倍率病例      the high and low outlier cases, largest cost ratio first (at most ``max_outliers`` per pool;
                  the count of all of them is noted); no patient ids
月度预付          (annual run with a ledger) each month's provisional amounts and prepayment; totals row
说明              what each column means, and the run
===============  ==========================================================================================

``statements/PERIOD/hospitals.csv`` has every hospital's settlement row of the run (UTF-8 with a BOM, so
Excel on Chinese Windows reads it).

The city summary (``city_summary.xlsx``; its point-value table also as ``city_summary.csv``) has the point
values and pool figures of every run of the year (from the ledger when one is given, with a stale mark), the
hospitals and counties of this run with totals, and its warnings; ``point_values.png`` charts the point value
of each pool by month, with the annual value as a dashed line.

Cost: the statements read the sums the run already made (:class:`drg.settlement.records.CaseAggregates`);
only the outlier list reads the priced files again (four columns first, the rest for the few outlier
rows).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

from drg.reports.labels import KIND_LABELS, class_label, describe, label, pool_label, warning_label, yuan
from drg.reports.workbook import TOTAL_LABEL, Sheet, write_workbook, write_workbooks

__all__ = ["write_statements", "write_city_summary", "hospital_statement_frames", "statement_sheets",
           "SHEET_NAMES"]

#: Sheet names of a hospital's statement and of the city summary, by language.
SHEET_NAMES = {
    "zh": {"settlement": "结算单", "classes": "病例类型", "drgs": "主要病组", "outliers": "高低倍率病例",
           "months": "月度预付", "notes": "说明", "point_values": "点值", "hospitals": "医院", "counties": "区县",
           "warnings": "预警"},
    "en": {"settlement": "settlement", "classes": "case classes", "drgs": "top DRGs", "outliers": "outliers",
           "months": "monthly prepayments", "notes": "notes", "point_values": "point values",
           "hospitals": "hospitals", "counties": "counties", "warnings": "warnings"},
}

#: Money columns of a hospital row (fen in the run's frame, yuan in the statement).
_SETTLEMENT_MONEY = ("entitlement", "self_paid", "fund_payment", "prepaid", "balance", "reserve_share",
                     "total_cost_fen", "loss_fen")

#: Labels that differ in a monthly run (the amounts are provisional).
_MONTH_LABELS = {
    "zh": {"entitlement": "本月暂定金额(元)", "fund_payment": "暂定基金支付(元)", "prepaid": "本月预付(元)",
           "balance": "结转年终(元)", "points": "本月点数", "point_value": "暂定点值(元/点)"},
    "en": {"entitlement": "provisional amount (yuan)", "fund_payment": "provisional fund amount (yuan)",
           "prepaid": "prepayment (yuan)", "balance": "carried to the year end (yuan)", "points": "points of the month",
           "point_value": "provisional point value (yuan per point)"},
}

_T = {  # other words of the statements
    "zh": {"hospital": "医院", "period": "期间", "kind": "运行类型", "policy": "政策", "scheme": "分组方案",
           "run_id": "账本运行号", "not_recorded": "未记入账本", "generated": "生成时间", "ledger": "账本",
           "others": "其余病组", "outlier_note": "按费用倍率从高到低，每个统筹区最多列 {n} 例；本期高低倍率病例共 {total} 例。",
           "no_outliers": "本期没有高低倍率病例。", "column": "列", "meaning": "含义", "avg_cost": "次均费用(元)",
           "month": "月份", "stale": "已过期", "year": "年度", "warning_kind": "类型", "subject": "对象",
           "message": "说明", "title_hospital": "{name} {period}医保 DRG 点数法{kind}结算单",
           "title_city": "{year}年 DRG 点数法结算汇总", "month_total": "合计(月度)",
           "settlement_notes": ["应得金额 = 总点数 × 点值，按最大余数法分配到分；基金支付 = 应得金额 − 个人负担。",
                                "清算余额 = 基金支付 − 已预付；负数为追回。调剂金分担不含在基金支付内。"],
           "month_notes": ["月度预付：本月暂定金额 = 本月点数 × 暂定点值；暂定基金支付 = 暂定金额 − 个人负担；",
                           "本月预付 = 暂定基金支付 × 预付比例(不低于 0)，其余结转年终清算。"],
           "class_note": "点数为违规扣减之前(分解住院减半之后)；扣减见结算单的总点数。"},
    "en": {"hospital": "hospital", "period": "period", "kind": "run", "policy": "policy", "scheme": "grouping scheme",
           "run_id": "ledger run id", "not_recorded": "not recorded in a ledger", "generated": "generated",
           "ledger": "ledger", "others": "other DRGs",
           "outlier_note": "largest cost ratio first, at most {n} per pool; {total} outlier cases in the period.",
           "no_outliers": "no high or low outlier case in the period.", "column": "column", "meaning": "meaning",
           "avg_cost": "cost per case (yuan)", "month": "month", "stale": "stale", "year": "year",
           "warning_kind": "kind", "subject": "subject", "message": "message",
           "title_hospital": "{name} — DRG point-method {kind} statement, {period}",
           "title_city": "DRG point-method settlement summary {year}", "month_total": "total (months)",
           "settlement_notes": ["entitlement = points × point value, shared to the fen by the largest-remainder "
                                "method; fund payment = entitlement − self-paid.",
                                "balance = fund payment − prepaid; negative is a recovery. The reserve share is "
                                "not part of the fund payment."],
           "month_notes": ["monthly prepayment: provisional amount = points of the month × provisional point "
                           "value; provisional fund amount = that − self-paid;",
                           "prepayment = provisional fund amount × the prepayment ratio (not below 0); the rest "
                           "is carried to the year end."],
           "class_note": "points before violation deductions (after readmission halving); deductions show in "
                         "the settlement's points."},
}


# ----------------------------------------------------------------------------------------------- data
def _fen_to_yuan(col: str, alias: str):
    """polars: integer fen → exact yuan Decimal(20,2) (a multiplication by 0.01: polars' decimal division by
    an integer truncates)."""
    import polars as pl

    return (pl.col(col).cast(pl.Decimal(38, 0)) * pl.lit(Decimal("0.01"))).cast(pl.Decimal(20, 2)).alias(alias)


def _units_to_points(col: str, scale: int, alias: str):
    """polars: integer point units of ``1/scale`` → exact points Decimal."""
    import polars as pl

    places = len(str(scale)) - 1
    return (pl.col(col).cast(pl.Decimal(38, 0)) * pl.lit(Decimal(1).scaleb(-places))).cast(
        pl.Decimal(24, places)).alias(alias)


def _months(result) -> list[int]:
    return [result.month] if result.month is not None else list(range(1, 13))


def _outlier_cases(result, priced: Sequence[Path] | None, max_outliers: int):
    """The outlier cases of the run's period (no patient ids), largest cost ratio first, at most
    ``max_outliers`` per pool and hospital, and the count of all of them per (pool, hospital).

    One polars scan per file: the class and date columns are decoded for every case, the others for the
    outlier rows only.
    """
    import polars as pl

    if not priced:
        return None, {}
    wanted = {"case_id": pl.String, "drg": pl.String, "cost_ratio": pl.Float64, "total_cost_fen": pl.Int64,
              "adjusted_points": pl.Float64, "hospital_id": pl.String, "insurance_type": pl.String}
    frames = []
    for p in priced:
        lf = pl.scan_parquet(p)
        names = lf.collect_schema().names()
        if "case_class" not in names or "discharge_date" not in names or "hospital_id" not in names:
            continue
        cols = ["case_class", "discharge_date"] + [c for c in wanted if c in names]
        if "total_cost_fen" not in names and "total_cost" in names:  # a file without the reader's fen columns
            cols.append("total_cost")
        date = pl.col("discharge_date").cast(pl.Date)
        cond = pl.col("case_class").is_in(["high", "low"]) & (date.dt.year() == result.year)
        if result.month is not None:
            cond = cond & (date.dt.month() == result.month)
        part = lf.select(cols).filter(cond)
        casts = [pl.col(c).cast(t) for c, t in wanted.items() if c in cols]
        casts += [pl.lit(None, t).alias(c) for c, t in wanted.items() if c not in cols and c != "total_cost_fen"]
        if "total_cost_fen" not in cols:
            casts.append(pl.lit(None, pl.Int64).alias("total_cost_fen"))
        frames.append(part.with_columns(date.alias("discharge_date"), *casts).collect())
    if not frames:
        return None, {}
    df = pl.concat(frames, how="diagonal_relaxed")
    by_pool = any(p != "all" for p in result.pools)
    df = df.with_columns((pl.col("insurance_type") if by_pool else pl.lit("all")).alias("pool"))
    keys = ["pool", "hospital_id"]
    counts = {(r[0], r[1]): r[2] for r in df.group_by(keys).len().iter_rows()}
    # the top ones of each hospital by a rank (cheap), then the few left sorted with the ties broken by case id
    # (a full sort of every outlier of a 10-million-case year takes ten times as long)
    df = (df.filter(pl.col("cost_ratio").fill_null(float("-inf")).rank("min", descending=True).over(keys)
                    <= max_outliers)
          .sort([*keys, "cost_ratio", "case_id"], descending=[False, False, True, False], nulls_last=True)
          .group_by(keys, maintain_order=True).head(max_outliers))
    if "total_cost" in df.columns:
        from drg.money import yuan_to_fen

        df = df.with_columns(pl.Series("total_cost_fen", [None if v is None else yuan_to_fen(v)
                                                          for v in df["total_cost"].to_list()], pl.Int64))
    return df, counts


def _month_rows(result, ledger) -> dict[str, list[dict]]:
    """hospital → its monthly runs of the year from the ledger (annual run only)."""
    if result.kind != "year" or ledger is None:
        return {}
    from drg.settlement.ledger import Ledger

    led = ledger if isinstance(ledger, Ledger) else Ledger(ledger)
    if not led.path.exists():
        return {}
    rows = led._query("""SELECT h.hospital_id, r.month, h.pool, h.cases, h.points, h.point_value, h.entitlement,
                                h.self_paid, h.fund_payment, h.prepaid
                         FROM runs r JOIN hospital_results h USING (run_id)
                         WHERE r.kind = 'month' AND r.year = ? ORDER BY h.hospital_id, r.month, h.pool""",
                      [result.year])
    out: dict[str, list[dict]] = {}
    for hid, month, pool, cases, pts, pv, ent, sp, fp, pre in rows:
        out.setdefault(hid, []).append({"month": month, "pool": pool, "cases": cases, "points": pts,
                                        "point_value": pv, "entitlement": ent, "self_paid": sp,
                                        "fund_payment": fp, "prepaid": pre})
    return out


def hospital_statement_frames(result, *, priced: Sequence[Path] | None = None, top_drgs: int = 10,
                              max_outliers: int = 200) -> dict[str, Any]:
    """The statement tables of every hospital of a run as polars frames (money in yuan, exact decimals):

    ``settlement`` (the hospital rows of the run), ``case_classes`` (pool, hospital_id, case_class, cases,
    points, total_cost_yuan), ``top_drgs`` (the ``top_drgs`` DRGs with the most points per pool and hospital)
    and ``outliers`` (pool, hospital_id, case_id, discharge_date, drg, case_class, cost_ratio,
    total_cost_yuan, adjusted_points). Each has ``hospital_id`` and ``pool`` columns.
    """
    import polars as pl

    agg = result.aggregates
    scale = agg.scale
    months = _months(result)
    money = [c for c in _SETTLEMENT_MONEY if c in result.hospitals.columns]
    settlement = result.hospitals.with_columns(
        [_fen_to_yuan(c, c.removesuffix("_fen") + "_yuan") for c in money]).drop(money)

    def sums(df, key):
        g = (df.filter(pl.col("month").is_in(months)).group_by(["pool", "hospital_id", key])
             .agg(pl.col("cases").sum(), pl.col("adj_u").sum(), pl.col("total_cost").sum()))
        return g.with_columns(_units_to_points("adj_u", scale, "points"),
                              _fen_to_yuan("total_cost", "total_cost_yuan"))

    classes = sums(agg.by_class, "case_class").sort(["pool", "hospital_id", "case_class"]).select(
        "pool", "hospital_id", "case_class", "cases", "points", "total_cost_yuan")
    drgs = (sums(agg.by_drg, "drg").sort(["pool", "hospital_id", "adj_u", "drg"],
                                         descending=[False, False, True, False])
            .group_by(["pool", "hospital_id"], maintain_order=True).head(top_drgs)
            .select("pool", "hospital_id", "drg", "cases", "points", "total_cost_yuan"))
    outl, _counts = _outlier_cases(result, priced, max_outliers)
    if outl is None:
        outl = pl.DataFrame(schema={"pool": pl.String, "hospital_id": pl.String, "case_id": pl.String,
                                    "discharge_date": pl.Date, "drg": pl.String, "case_class": pl.String,
                                    "cost_ratio": pl.Float64, "total_cost_yuan": pl.Decimal(20, 2),
                                    "adjusted_points": pl.Float64})
    else:
        outl = outl.with_columns(_fen_to_yuan("total_cost_fen", "total_cost_yuan")).select(
            "pool", "hospital_id", "case_id", "discharge_date", "drg", "case_class", "cost_ratio", "total_cost_yuan",
            "adjusted_points")
    return {"settlement": settlement, "case_classes": classes, "top_drgs": drgs, "outliers": outl}


# ----------------------------------------------------------------------------------------------- sheets
def _dec(x) -> Decimal | None:
    return None if x is None else Decimal(x)


def _sum(values) -> Any:
    vals = [v for v in values if v is not None]
    return sum(vals, Decimal(0) if vals and isinstance(vals[0], Decimal) else 0) if vals else None


def _info(result, lang: str, hospital: tuple[str, str] | None = None, ledger: Any = None) -> list[tuple[str, Any]]:
    from drg.settlement.periods import parse_period

    t = _T[lang]
    per = parse_period(result.period)
    kind = KIND_LABELS[result.kind][1 if lang == "en" else 0]
    lines = []
    if hospital is not None:
        lines.append((t["hospital"], " ".join(x for x in hospital if x)))
    lines += [(t["period"], f"{per.label(lang)} ({result.period})"), (t["kind"], kind),
              (t["policy"], result.policy_id), (t["scheme"], result.scheme_id or "—"),
              (t["run_id"], result.run_id or t["not_recorded"])]
    if ledger is not None:
        lines.append((t["ledger"], str(getattr(ledger, "path", ledger))))
    lines.append((t["generated"], datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")))
    return lines


def _head(key: str, lang: str, kind: str) -> str:
    if kind == "month" and key in _MONTH_LABELS[lang]:
        return _MONTH_LABELS[lang][key]
    return label(key, lang)


def _settlement_sheet(result, rows: list[dict], lang: str, info) -> Sheet:
    keys = ["pool", "cases", "points", "undeducted_points", "point_value", "entitlement", "self_paid",
            "fund_payment", "prepaid", "balance", "reserve_share", "total_cost_fen", "loss_fen"]
    kinds = ["text", "count", "points", "points", "pv"] + ["yuan"] * 8
    cols = [(_head(k.removesuffix("_fen"), lang, result.kind), kd) for k, kd in zip(keys, kinds)]
    body = []
    for r in rows:
        body.append([pool_label(r["pool"], lang), r["cases"], _dec(r["points"]), _dec(r["undeducted_points"]),
                     _dec(r["point_value"])] + [yuan(r[k]) for k in keys[5:]])
    total = [TOTAL_LABEL[lang]] + [_sum(x[j] for x in body) if j != 4 else None for j in range(1, len(keys))]
    notes = _T[lang]["month_notes" if result.kind == "month" else "settlement_notes"]
    return Sheet(SHEET_NAMES[lang]["settlement"], cols, body, title=info[0], info=info[1], total=total,
                 notes=notes, lang=lang)


def _class_sheet(rows, lang: str, info) -> Sheet:
    cols = [(label("pool", lang), "text"), (label("case_class", lang), "text"), (label("cases", lang), "count"),
            (label("adjusted_points", lang), "points"), (label("total_cost", lang), "yuan")]
    body = [[pool_label(r["pool"], lang), class_label(r["case_class"] or "", lang) or "—", r["cases"], r["points"],
             r["total_cost_yuan"]] for r in rows]
    total = [TOTAL_LABEL[lang], None, _sum(r[2] for r in body), _sum(r[3] for r in body), _sum(r[4] for r in body)]
    return Sheet(SHEET_NAMES[lang]["classes"], cols, body, title=info[0], info=info[1], total=total,
                 notes=[_T[lang]["class_note"]], lang=lang)


def _drg_sheet(rows, class_rows, lang: str, info, top: int) -> Sheet:
    cols = [(label("pool", lang), "text"), (label("drg", lang), "text"), (label("cases", lang), "count"),
            (label("adjusted_points", lang), "points"), (label("total_cost", lang), "yuan"),
            (_T[lang]["avg_cost"], "yuan")]
    by_pool: dict[str, list] = {}
    for r in rows:
        by_pool.setdefault(r["pool"], []).append(r)
    totals: dict[str, list] = {}
    for r in class_rows:
        t = totals.setdefault(r["pool"], [0, Decimal(0), Decimal(0)])
        t[0] += r["cases"]
        t[1] += r["points"]
        t[2] += r["total_cost_yuan"]
    body = []
    for pool in sorted(set(by_pool) | set(totals)):
        shown = sorted(by_pool.get(pool, []), key=lambda r: (-r["points"], r["drg"]))[:top]
        for r in shown:
            body.append([pool_label(pool, lang), r["drg"], r["cases"], r["points"], r["total_cost_yuan"],
                         (r["total_cost_yuan"] / r["cases"]).quantize(Decimal("0.01")) if r["cases"] else None])
        t = totals.get(pool, [0, Decimal(0), Decimal(0)])
        rest = [t[0] - sum(r["cases"] for r in shown), t[1] - sum(r["points"] for r in shown),
                t[2] - sum(r["total_cost_yuan"] for r in shown)]
        if rest[0]:
            body.append([pool_label(pool, lang), _T[lang]["others"], rest[0], rest[1], rest[2],
                         (rest[2] / rest[0]).quantize(Decimal("0.01"))])
    total = [TOTAL_LABEL[lang], None, _sum(r[2] for r in body), _sum(r[3] for r in body), _sum(r[4] for r in body),
             None]
    return Sheet(SHEET_NAMES[lang]["drgs"], cols, body, title=info[0], info=info[1], total=total, lang=lang)


def _outlier_sheet(rows, count: int, lang: str, info, max_outliers: int) -> Sheet:
    cols = [(label("pool", lang), "text"), (label("case_id", lang), "text"), (label("discharge_date", lang), "date"),
            (label("drg", lang), "text"), (label("case_class", lang), "text"), (label("cost_ratio", lang), "coef"),
            (label("total_cost", lang), "yuan"), (label("adjusted_points", lang), "points")]
    body = [[pool_label(r["pool"], lang), r["case_id"], r["discharge_date"], r["drg"],
             class_label(r["case_class"], lang), r["cost_ratio"], yuan(r["total_cost_fen"]), r["adjusted_points"]]
            for r in rows]
    note = (_T[lang]["outlier_note"].format(n=max_outliers, total=count) if count else _T[lang]["no_outliers"])
    return Sheet(SHEET_NAMES[lang]["outliers"], cols, body, title=info[0], info=info[1], notes=[note], lang=lang)


def _months_sheet(rows, lang: str, info) -> Sheet:
    keys = [("month", "int"), ("pool", "text"), ("cases", "count"), ("points", "points"), ("point_value", "pv"),
            ("entitlement", "yuan"), ("self_paid", "yuan"), ("fund_payment", "yuan"), ("prepaid", "yuan")]
    cols = [(_T[lang]["month"] if k == "month" else _head(k, lang, "month"), kd) for k, kd in keys]
    body = [[r["month"], pool_label(r["pool"], lang), r["cases"], _dec(r["points"]), _dec(r["point_value"]),
             yuan(r["entitlement"]), yuan(r["self_paid"]), yuan(r["fund_payment"]), yuan(r["prepaid"])]
            for r in rows]
    total = [TOTAL_LABEL[lang], None] + [_sum(r[j] for r in body) if j != 4 else None for j in range(2, len(keys))]
    return Sheet(SHEET_NAMES[lang]["months"], cols, body, title=info[0], info=info[1], total=total,
                 notes=_T[lang]["month_notes"], lang=lang)


def _notes_sheet(sheets: list[Sheet], keys: list[str], lang: str, info) -> Sheet:
    t = _T[lang]
    seen, body = set(), []
    for k in keys:
        head = label(k, lang)
        if head in seen:
            continue
        seen.add(head)
        body.append([head, describe(k, lang)])
    return Sheet(SHEET_NAMES[lang]["notes"], [(t["column"], "text"), (t["meaning"], "text")], body,
                 title=info[0], info=info[1], lang=lang)


def statement_sheets(result, hospital_id: str, *, rows: list[dict], classes: list[dict], drgs: list[dict],
                     outliers: list[dict], outlier_count: int, months: list[dict] | None = None,
                     lang: str = "zh", top_drgs: int = 10, max_outliers: int = 50, ledger: Any = None) -> list[Sheet]:
    """The sheets of one hospital's statement (see the module docstring), from its rows of the run."""
    from drg.settlement.periods import parse_period

    name = next((r["name"] for r in rows if r.get("name")), "")
    per = parse_period(result.period).label(lang)
    kind = KIND_LABELS[result.kind][1 if lang == "en" else 0]
    title = _T[lang]["title_hospital"].format(name=name or hospital_id, period=per, kind=kind)
    info = (title, _info(result, lang, (hospital_id, name), ledger))
    sheets = [_settlement_sheet(result, rows, lang, info), _class_sheet(classes, lang, info),
              _drg_sheet(drgs, classes, lang, info, top_drgs),
              _outlier_sheet(outliers, outlier_count, lang, info, max_outliers)]
    if months:
        sheets.append(_months_sheet(months, lang, info))
    keys = ["pool", "cases", "points", "undeducted_points", "point_value", "entitlement", "self_paid",
            "fund_payment", "prepaid", "balance", "reserve_share", "total_cost", "loss", "case_class",
            "adjusted_points", "drg", "case_id", "cost_ratio", "run_id"]
    sheets.append(_notes_sheet(sheets, keys, lang, info))
    return sheets


# ----------------------------------------------------------------------------------------------- writing
def _safe(hid: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in hid)


def _by_hospital(df) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    if df is None or not df.height:
        return out
    for r in df.iter_rows(named=True):
        out.setdefault(r["hospital_id"], []).append(r)
    return out


def write_statements(result, out_dir: str | Path, *, priced: Sequence[str | Path] | None = None, ledger: Any = None,
                     top_drgs: int = 10, max_outliers: int = 50, excel: bool = True, lang: str = "zh",
                     city_summary: bool = True) -> dict[str, Any]:
    """Write every hospital's statement of ``result`` and the city summary under ``out_dir``.

    Parameters
    ----------
    result : drg.settlement.records.SettlementResult
        A monthly or annual run (with its case aggregates).
    out_dir : path
        Statements go to ``out_dir/statements/PERIOD/`` (``HOSPITAL.xlsx`` and ``hospitals.csv``), the city
        summary and its chart to ``out_dir``.
    priced : list of paths, optional
        The priced-case files of the run, for the outlier-case lists (default: the files the run read).
    ledger : path or Ledger, optional
        For the monthly prepayments of an annual statement and the city summary over every run of the year.
    excel : bool
        Write the ``.xlsx`` statements (the CSV of the hospitals is always written).
    lang : ``"zh"`` (default) or ``"en"``: the language of headers and labels.
    city_summary : bool
        Also write the city summary and the chart.

    Returns
    -------
    dict
        ``{"statements": [paths], "hospitals_csv": path, "city_summary": path, "city_summary_xlsx": path,
        "chart": path}``.
    """
    from drg.outputs import write_csv

    if lang not in _T:
        raise ValueError(f"lang must be zh or en, got {lang!r}")
    out_dir = Path(out_dir)
    sdir = out_dir / "statements" / result.period
    sdir.mkdir(parents=True, exist_ok=True)
    paths = [Path(p) for p in (priced or (result.aggregates.files if result.aggregates else []))]
    summary = _CitySummary(result, out_dir, ledger, lang) if city_summary else None  # the chart starts now
    written: list[str] = []
    hosp = result.hospitals.sort(["hospital_id", "pool"])
    # every hospital's rows of the run, one CSV (yuan, Chinese headers, BOM)
    csv_path = sdir / "hospitals.csv"
    write_csv(_hospital_table(result, hosp, lang), csv_path, user_text=[label("name", lang)])
    if excel and hosp.height:
        # only the DRGs a statement shows become Python rows (every hospital's every DRG was 0.5 GB of dicts at
        # 10 M cases); the "others" row comes from the class totals
        frames = hospital_statement_frames(result, priced=[], top_drgs=top_drgs)
        outl, counts = _outlier_cases(result, paths, max_outliers)
        rows_of = _by_hospital(hosp)
        classes_of = _by_hospital(frames["case_classes"])
        drgs_of = _by_hospital(frames["top_drgs"])
        outl_of = _by_hospital(outl)
        months_of = _month_rows(result, ledger)
        jobs = []
        for hid in sorted(rows_of):
            sheets = statement_sheets(
                result, hid, rows=rows_of[hid], classes=classes_of.get(hid, []), drgs=drgs_of.get(hid, []),
                outliers=outl_of.get(hid, []), outlier_count=sum(n for (p, h), n in counts.items() if h == hid),
                months=months_of.get(hid), lang=lang, top_drgs=top_drgs, max_outliers=max_outliers, ledger=ledger)
            jobs.append((sdir / f"{_safe(hid)}.xlsx", sheets))
        written += write_workbooks(jobs)
    out: dict[str, Any] = {"statements": written, "hospitals_csv": str(csv_path)}
    if summary is not None:
        out.update(summary.finish(excel))
    return out


def _hospital_table(result, hosp, lang: str):
    """This run's hospital rows for people: yuan, Chinese headers, the run id."""
    import polars as pl

    money = [c for c in _SETTLEMENT_MONEY if c in hosp.columns]
    cols = [pl.col("pool").alias(label("pool", lang)), pl.col("hospital_id").alias(label("hospital_id", lang)),
            pl.col("name").alias(label("name", lang)), pl.col("cases").alias(label("cases", lang)),
            pl.col("points").alias(_head("points", lang, result.kind)),
            pl.col("point_value").alias(_head("point_value", lang, result.kind))]
    cols += [_fen_to_yuan(c, _head(c.removesuffix("_fen"), lang, result.kind)) for c in money]
    cols += [pl.col("cmi").alias(label("cmi", lang)), pl.col("outlier_share").alias(label("outlier_share", lang)),
             pl.lit(result.period).alias(label("period", lang)),
             pl.lit(result.run_id or "").alias(label("run_id", lang))]
    return hosp.select(cols)


# ----------------------------------------------------------------------------------------------- city
def _summary_rows(result, ledger) -> list[dict]:
    """One row per run and pool of the year: from the ledger when given (with the stale mark), and this
    run's pools when it is not (yet) there. Money in fen."""
    rows = []
    if ledger is not None:
        from drg.settlement.ledger import Ledger

        led = ledger if isinstance(ledger, Ledger) else Ledger(ledger)
        if led.path.exists():
            q = led._query("""SELECT r.kind, r.period, p.pool, p.cases, p.budget_fen, p.reserve_fen, p.self_pay_fen,
                                     p.distributable_fen, p.total_points, p.point_value, p.fund_payments_fen,
                                     p.prepaid_fen, r.run_id, s.stale
                              FROM runs r JOIN pool_results p USING (run_id) JOIN run_status s USING (run_id)
                              WHERE r.year = ? ORDER BY r.kind = 'year', r.period, p.pool""", [result.year])
            for x in q:
                rows.append(dict(zip(("kind", "period", "pool", "cases", "budget", "reserve", "self_pay",
                                      "distributable", "total_points", "point_value", "fund_payments", "prepaid",
                                      "run_id", "stale"), x)))
    have = {(r["kind"], r["period"], r["pool"]) for r in rows}
    for p in result.pools.values():
        if (result.kind, result.period, p.pool) not in have:
            rows.append({"kind": result.kind, "period": result.period, "pool": p.pool, "cases": p.cases,
                         "budget": p.budget, "reserve": p.reserve, "self_pay": p.self_pay,
                         "distributable": p.distributable,
                         "total_points": Decimal(p.total_points_units).scaleb(-(len(str(p.scale)) - 1)),
                         "point_value": p.point_value_yuan, "fund_payments": p.fund_payments, "prepaid": p.prepaid,
                         "run_id": result.run_id, "stale": False})
    rows.sort(key=lambda r: (r["kind"] == "year", r["period"], r["pool"]))
    return rows


_SUMMARY_KEYS = [("period", "text"), ("kind", "text"), ("pool", "text"), ("cases", "count"), ("budget", "yuan"),
                 ("reserve", "yuan"), ("self_pay", "yuan"), ("distributable", "yuan"), ("total_points", "points"),
                 ("point_value", "pv"), ("fund_payments", "yuan"), ("prepaid", "yuan"), ("run_id", "text")]


def _summary_sheets(result, rows, ledger, lang: str) -> list[Sheet]:
    t = _T[lang]
    names = SHEET_NAMES[lang]
    title = t["title_city"].format(year=result.year)
    info = [(t["year"], result.year), (t["policy"], result.policy_id), (t["scheme"], result.scheme_id or "—"),
            (t["run_id"], result.run_id or t["not_recorded"])]
    if ledger is not None:
        info.append((t["ledger"], str(getattr(ledger, "path", ledger))))
    info.append((t["generated"], datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")))
    cols = [(label(k, lang), kd) for k, kd in _SUMMARY_KEYS] + [(t["stale"], "text")]
    body = []
    for r in rows:
        body.append([r["period"], KIND_LABELS[r["kind"]][1 if lang == "en" else 0], pool_label(r["pool"], lang),
                     r["cases"], yuan(r["budget"]), yuan(r["reserve"]), yuan(r["self_pay"]), yuan(r["distributable"]),
                     _dec(r["total_points"]), _dec(r["point_value"]), yuan(r["fund_payments"]), yuan(r["prepaid"]),
                     r["run_id"], bool(r["stale"])])
    months = [b for b, r in zip(body, rows) if r["kind"] == "month"]
    total = None
    if months:
        total = [t["month_total"], None, None, _sum(b[3] for b in months)] + [None] * 6 + \
                [_sum(b[10] for b in months), _sum(b[11] for b in months), None, None]
    sheets = [Sheet(names["point_values"], cols, body, title=title, info=info, total=total, lang=lang)]
    # this run's hospitals
    hk = [("pool", "text"), ("hospital_id", "text"), ("name", "text"), ("cases", "count"), ("points", "points"),
          ("point_value", "pv"), ("entitlement", "yuan"), ("self_paid", "yuan"), ("fund_payment", "yuan"),
          ("prepaid", "yuan"), ("balance", "yuan"), ("reserve_share", "yuan"), ("total_cost_fen", "yuan"),
          ("loss_fen", "yuan"), ("cmi", "coef"), ("outlier_share", "pct")]
    hcols = [(_head(k.removesuffix("_fen"), lang, result.kind), kd) for k, kd in hk]
    hbody = []
    for r in result.hospitals.sort(["pool", "hospital_id"]).iter_rows(named=True):
        hbody.append([pool_label(r["pool"], lang), r["hospital_id"], r["name"], r["cases"], _dec(r["points"]),
                      _dec(r["point_value"])] + [yuan(r[k]) for k, _ in hk[6:14]] + [r["cmi"], r["outlier_share"]])
    htotal = [TOTAL_LABEL[lang], None, None] + [_sum(b[j] for b in hbody) if j not in (5, 14, 15) else None
                                                for j in range(3, len(hk))]
    run_info = [(t["period"], result.period)] + info[1:]
    sheets.append(Sheet(names["hospitals"], hcols, hbody, title=title, info=run_info, total=htotal, lang=lang))
    if result.counties.height:
        ck = [("pool", "text"), ("county", "text"), ("q_points", "points"), ("share_fen", "yuan"),
              ("self_paid_fen", "yuan"), ("income", "yuan"), ("drg_spending", "yuan"), ("other_spending", "yuan"),
              ("balance", "yuan"), ("city_share", "yuan"), ("county_share", "yuan")]
        ccols = [(label("county_balance" if k == "balance" else k.removesuffix("_fen"), lang), kd) for k, kd in ck]
        cbody = []
        for r in result.counties.sort(["pool", "county"]).iter_rows(named=True):
            cbody.append([pool_label(r["pool"], lang), r["county"], _dec(r["q_points"])]
                         + [yuan(r[k]) for k, _ in ck[3:]])
        ctotal = [TOTAL_LABEL[lang], None] + [_sum(b[j] for b in cbody) for j in range(2, len(ck))]
        sheets.append(Sheet(names["counties"], ccols, cbody, title=title, info=run_info, total=ctotal, lang=lang))
    wbody = [[warning_label(w.kind, lang), pool_label(w.pool, lang),
              label("pool", lang) if w.subject == "pool" else w.subject, w.message] for w in result.warnings]
    sheets.append(Sheet(names["warnings"], [(t["warning_kind"], "text"), (label("pool", lang), "text"),
                                            (t["subject"], "text"), (t["message"], "text")], wbody,
                        title=title, info=run_info, lang=lang))
    keys = [k for k, _ in _SUMMARY_KEYS] + [k for k, _ in hk] + ["county", "share", "income", "drg_spending",
                                                                 "other_spending", "county_balance", "city_share",
                                                                 "county_share"]
    sheets.append(_notes_sheet(sheets, [k.removesuffix("_fen") for k in keys], lang, (title, info)))
    return sheets


def _summary_csv_frame(rows, lang: str):
    import polars as pl

    t = _T[lang]
    data = {label(k, lang): [] for k, _ in _SUMMARY_KEYS}
    data[t["stale"]] = []
    for r in rows:
        for k, kind in _SUMMARY_KEYS:
            v = r[k]
            if k == "kind":
                v = KIND_LABELS[v][1 if lang == "en" else 0]
            elif kind == "yuan":
                v = yuan(v)
            elif kind in ("points", "pv"):
                v = _dec(v)
            data[label(k, lang)].append(v)
        data[t["stale"]].append(bool(r["stale"]))
    schema = {label(k, lang): (pl.Int64 if kd == "count" else pl.Decimal(20, 2) if kd == "yuan" else
                               pl.Decimal(20, 4) if kd in ("points", "pv") else pl.String) for k, kd in _SUMMARY_KEYS}
    schema[t["stale"]] = pl.Boolean
    return pl.DataFrame(data, schema=schema)


def write_city_summary(result, out_dir: str | Path, *, ledger: Any = None, excel: bool = True,
                       lang: str = "zh") -> dict[str, str]:
    """The city summary of ``result``'s year (``city_summary.xlsx`` and ``.csv``, yuan) and the point-value
    chart (``point_values.png``) under ``out_dir``."""
    return _CitySummary(result, out_dir, ledger, lang).finish(excel)


class _CitySummary:
    """The city summary in two steps: the chart starts drawing in a helper process (:meth:`__init__`), the
    tables are written and the chart collected later (:meth:`finish`)."""

    def __init__(self, result, out_dir, ledger, lang: str) -> None:
        from drg.reports.chart import start_chart

        self.result, self.ledger, self.lang = result, ledger, lang
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.rows = _summary_rows(result, ledger)
        self.chart = start_chart(_chart_spec(result, self.rows, lang), self.out_dir / "point_values.png")

    def finish(self, excel: bool = True) -> dict[str, str]:
        from drg.outputs import write_csv

        csv_path = self.out_dir / "city_summary.csv"
        write_csv(_summary_csv_frame(self.rows, self.lang), csv_path, user_text=[])
        out = {"city_summary": str(csv_path)}
        if excel:
            out["city_summary_xlsx"] = str(write_workbook(
                self.out_dir / "city_summary.xlsx", _summary_sheets(self.result, self.rows, self.ledger, self.lang)))
        out["chart"] = str(self.chart.wait())
        return out


def _chart_spec(result, rows, lang: str) -> dict:
    lines = []
    for pool in sorted({r["pool"] for r in rows}):
        months = sorted((r for r in rows if r["pool"] == pool and r["kind"] == "month"), key=lambda r: r["period"])
        year = [r for r in rows if r["pool"] == pool and r["kind"] == "year"]
        lines.append({"pool": pool_label(pool, "en"), "pool_zh": pool_label(pool, "zh"),
                      "months": [[int(r["period"].split("-")[1]), str(r["point_value"])] for r in months],
                      "annual": str(year[0]["point_value"]) if year else None})
    return {"lang": lang, "lines": lines, "title_zh": f"{result.year}年点值(政策 {result.policy_id})",
            "title_en": f"Point values {result.year} (policy {result.policy_id})"}
