"""The hospital's estimate as people read it (``drg estimate --cases FILE --out …``).

``.xlsx`` — one workbook:

=======  ======================================================================================================
汇总      the month in figures (cases, points, estimated income, cost, margin, outliers as a percentage, CMI …),
          stored as numbers; a table per pool (职工/居民: cases, points, point value, income, cost, margin) and
          the cases by class, each with a totals row
明细      every case: the file's own columns kept (the hospital's extra columns under their own names), its
          group, class, points and money in yuan; Chinese headers; 男/女, 职工/居民 and class names as words
病组      cases, points, income, cost and margin per DRG, with a totals row
拒收      the rows that were not accepted, with their row number and reason (a note when there is none)
说明      what each column of 明细 means, and which bundle, policy, scheme and point values were used
=======  ======================================================================================================

``.csv`` — the 明细 table (UTF-8 with a byte-order mark, so Excel on Chinese Windows reads it), with
``NAME.summary.csv`` and ``NAME.drgs.csv`` beside it. ``.parquet`` — the per-case machine table (money in
integer fen, ``*_fen``) and ``NAME.summary.json``.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from drg.errors import InputError
from drg.reports.labels import (class_label, coef_source_label, describe, insurance_label, label, pool_label,
                                reject_label, sex_label, yuan)
from drg.reports.workbook import TOTAL_LABEL, Block, Cell, Sheet, write_workbook

__all__ = ["write_estimate", "case_columns", "SHEETS"]

#: Sheet names of the estimate workbook.
SHEETS = ("汇总", "明细", "病组", "拒收", "说明")

#: 明细 columns that get a header of their own in the estimate (income, not entitlement: it is an estimate).
_RENAMED = {"entitlement_fen": "entitlement_est", "margin_fen": "margin_est", "fund_payment_fen": "fund_payment_est",
            "points": "points_case"}
_CASE_POINTS = ("病例点数", "case points")


def _header(col: str) -> tuple[str, str]:
    """(header, kind) of a machine column in 明细; a column the estimate does not know keeps its own name."""
    key = _RENAMED.get(col, col)
    if key == "points_case":
        return _CASE_POINTS[0], "points"
    if col == "point_value":
        return label("point_value"), "pv"
    if col.endswith("_fen"):
        return label(key.removesuffix("_fen")), "yuan"
    head = label(key)
    if head == key:  # the hospital's own column: its own name, as read
        return col, "text"
    kind = {"sex": "text", "insurance_type": "text", "case_class": "text", "coef_source": "text"}.get(col)
    from drg.reports.labels import kind_of

    return head, kind or kind_of(key)


def case_columns(names: list[str]) -> list[tuple[str, str, str]]:
    """``(column, header, kind)`` of the 明细 sheet for a per-case table's columns."""
    return [(c, *_header(c)) for c in names]


def _cell(col: str, v: Any) -> Any:
    if v is None:
        return None
    if col.endswith("_fen") and isinstance(v, int) and not col.startswith("input_"):
        return yuan(v)     # (a column the hospital brought is shown as it came, whatever its name)
    if col == "sex":
        return sex_label(v)
    if col == "insurance_type":
        return insurance_label(v)
    if col == "case_class":
        return class_label(v)
    if col == "coef_source":
        return coef_source_label(v)
    if col == "reject_reason":
        return reject_label(v)
    return v


def _case_sheet(cases) -> Sheet:
    cols = case_columns(cases.column_names)
    data = [cases.column(c).to_pylist() for c, _h, _k in cols]
    rows = [[_cell(c, data[j][i]) for j, (c, _h, _k) in enumerate(cols)] for i in range(cases.num_rows)]
    return Sheet("明细", [(h, k) for _c, h, k in cols], rows)


def _summary_sheet(summary: dict, bundle) -> Sheet:
    def pts(text):
        return None if text is None else Decimal(text)

    items = [
        ("病例文件", Cell(summary["file"]), "file"),
        ("读入行数", Cell(summary["rows_read"], "count"), "rows read"),
        ("病例数", Cell(summary["cases"], "count"), "cases accepted"),
        ("拒收行数", Cell(summary["rejected"], "count"), "rows rejected (sheet 拒收)"),
        ("病例点数", Cell(pts(summary["points"]), "points"), "points before readmission halving"),
        ("调整后点数", Cell(pts(summary["adjusted_points"]), "points"), "points after readmission halving"),
        ("预计 DRG 收入(元)", Cell(yuan(summary["income_fen"]), "yuan"), "round(Σ points × point value) per pool"),
        ("医疗总费用(元)", Cell(yuan(summary["cost_fen"]), "yuan"), "actual total cost"),
        ("结余(+)/超支(−)(元)", Cell(yuan(summary["margin_fen"]), "yuan"), "income − cost"),
        ("高低倍率病例数", Cell(summary["outliers"], "count"), "high and low outliers"),
        ("高低倍率病例占比", Cell(summary["outlier_share"], "pct"), "outlier share"),
        ("CMI", Cell(summary["cmi"], "coef"), f"case-mix index over {summary['cmi_cases']} grouped cases"),
        ("未入组病例数", Cell(summary["ungrouped"], "count"), "cases without a DRG"),
        ("分解住院减半病例数", Cell(summary["readmissions_halved"], "count"), "readmissions halved"),
    ]
    rows = [[name, value, en] for name, value, en in items]
    pools = []
    for p in summary["pools"]:
        pools.append([pool_label(p["pool"]), p["cases"], Decimal(p["points"]),
                      None if p["point_value_yuan"] is None else Decimal(p["point_value_yuan"]), yuan(p["income_fen"]),
                      yuan(p["cost_fen"]), yuan(p["margin_fen"])])

    def total(rows_, cols):
        out = [TOTAL_LABEL["zh"]]
        for j in range(1, cols):
            vals = [r[j] for r in rows_]
            out.append(None if j == 3 or any(v is None for v in vals) else sum(vals))
        return out

    pool_block = Block("按统筹区 by pool", [("统筹区", "text"), ("病例数", "count"), ("调整后点数", "points"),
                                           ("点值(元/点)", "pv"), ("预计 DRG 收入(元)", "yuan"),
                                           ("医疗总费用(元)", "yuan"), ("结余(+)/超支(−)(元)", "yuan")],
                       pools, total(pools, 7) if pools else None)
    classes = [[class_label(c), c, n, n / summary["cases"] if summary["cases"] else None]
               for c, n in summary["by_class"].items()]
    class_block = Block("按病例类型 by case class", [("病例类型", "text"), ("class", "text"), ("病例数", "count"),
                                                     ("占比", "pct")],
                        classes, [TOTAL_LABEL["zh"], None, sum(r[2] for r in classes), 1.0 if classes else None])
    blocks = [pool_block, class_block]
    if summary["unknown_codes"]:
        blocks.append(Block("未知编码 unknown codes", [("编码", "text"), ("最接近的有效编码 nearest valid codes", "text")],
                            [[k, ", ".join(v) or "—"] for k, v in summary["unknown_codes"].items()]))
    notes = [f"说明 note: {n}" for n in summary["notes"]]
    return Sheet("汇总", [("项目", "text"), ("值", "text"), ("item", "text")], rows, more=blocks, notes=notes)


def _drg_sheet(drg_rows: list[dict]) -> Sheet:
    cols = [("DRG", "text"), ("病组名称", "text"), ("病例数", "count"), ("调整后点数", "points"),
            ("预计 DRG 收入(元)", "yuan"), ("医疗总费用(元)", "yuan"), ("结余(+)/超支(−)(元)", "yuan"),
            ("高倍率病例数", "count"), ("低倍率病例数", "count")]
    rows = [[d["drg"], d["drg_name"], d["cases"], Decimal(d["points"]), yuan(d["income_fen"]), yuan(d["cost_fen"]),
             yuan(d["margin_fen"]), d["high"], d["low"]] for d in drg_rows]
    total = [TOTAL_LABEL["zh"], None] + [sum(r[j] for r in rows) if rows else 0 for j in range(2, len(cols))]
    return Sheet("病组", cols, rows, total=total)


def _dates_as_text(table):
    """Date and timestamp columns of rejected rows as ISO text: a rejected date may lie outside what polars and
    Excel can hold (years before 1 or after 9999); such a value is shown as its day count, marked."""
    import datetime as dt

    import pyarrow as pa

    for i, f in enumerate(table.schema):
        if not pa.types.is_temporal(f.type) or not (pa.types.is_date(f.type) or pa.types.is_timestamp(f.type)):
            continue
        if pa.types.is_date64(f.type) or pa.types.is_timestamp(f.type):
            unit = {"s": 86_400, "ms": 86_400_000, "us": 86_400_000_000, "ns": 86_400_000_000_000}[
                getattr(f.type, "unit", "ms")]
            days = [None if v is None else v // unit for v in table.column(i).cast(pa.int64()).to_pylist()]
        else:
            days = table.column(i).cast(pa.int32()).to_pylist()
        text = []
        for d in days:
            if d is None:
                text.append(None)
                continue
            try:
                text.append((dt.date(1970, 1, 1) + dt.timedelta(days=d)).isoformat())
            except OverflowError:
                text.append(f"(day {d} from 1970-01-01)")
        table = table.set_column(i, pa.field(f.name, pa.string()), pa.array(text, pa.string()))
    return table


def _reject_frame(rejected: list):
    """The rejected rows as one polars frame (lists joined with ``|``), or None."""
    import polars as pl
    import pyarrow as pa

    if not rejected:
        return None
    rej = pl.from_arrow(_dates_as_text(pa.concat_tables(rejected, promote_options="permissive")))
    return rej.with_columns([pl.col(c).cast(pl.List(pl.String)).list.join("|")
                             for c, t in rej.schema.items() if isinstance(t, pl.List)])


def _reject_sheet(rej) -> Sheet:
    if rej is None or rej.height == 0:
        return Sheet("拒收", [("行号", "count"), ("拒收原因", "text")], [],
                     notes=["本文件没有被拒收的行：每一行都已计算。 No row of the file was rejected."])
    first = [c for c in ("row_number", "reject_reason") if c in rej.columns]
    names = first + [c for c in rej.columns if c not in first]
    cols = [(label(c) if label(c) != c else c, "count" if c == "row_number" else "text") for c in names]
    rows = [[_cell(c, v) for c, v in zip(names, r)] for r in rej.select(names).iter_rows()]
    return Sheet("拒收", cols, rows)  # the count is in 汇总; the table stays a plain table


def _notes_sheet(cases, bundle, brought: list[str], mapping) -> Sheet:
    m = bundle.manifest
    info = [["发布包 bundle", str(bundle.path)], ["发布时间 published", m.get("created")],
            ["政策 policy", f"{m.get('policy_id')} {m.get('policy_name') or ''}".strip()],
            ["结算年度 settlement year", m.get("settlement_year")],
            ["分组方案 grouping scheme", f"{m['scheme']['name']} {m['scheme']['version']}"],
            ["历史年度 history years", ", ".join(str(y) for y in m.get("weights", {}).get("history_years", []))]]
    for pool, pv in m.get("point_values", {}).items():
        info.append([f"点值 point value {pool_label(pool)}", f"{pv['yuan_per_point']} 元/点 ({pv['source']})"])
    if mapping is not None:
        info.append(["列映射 column mapping", str(mapping)])
    rows = [[k, v] for k, v in info]
    col_rows = []
    own = set(brought) - set(_known())
    for c, head, _k in case_columns(cases.column_names):
        if c in own:
            col_rows.append([head, "医院文件自带的列，原样保留 a column of the hospital's file, kept as read"])
        else:
            key = _RENAMED.get(c, c)
            text = describe(key.removesuffix("_fen")) if key != "points_case" else "按病例类型计算的点数 (分解住院减半之前)"
            if c == "point_value":
                text = describe("point_value")
            col_rows.append([head, text])
    return Sheet("说明", [("项目 item", "text"), ("内容 value", "text")], rows,
                 more=[Block("明细各列 the columns of 明细", [("列 column", "text"), ("含义 meaning", "text")], col_rows)],
                 notes=["金额为元，两位小数；点数四位小数；预计收入 = 点数 × 点值，每例四舍五入到分。",
                        "Money in yuan with two decimals; points with four; income = points × point value, "
                        "rounded to the fen per case."])


def _known() -> set[str]:
    from drg.casefile.schema import CASE_SCHEMA

    return set(CASE_SCHEMA)


def _person_frame(cases):
    """明细 as a polars frame for a CSV people read: Chinese headers, yuan, words for codes."""
    import polars as pl

    cols = case_columns(cases.column_names)
    data = {}
    used: set[str] = set()
    for c, head, kind in cols:
        vals = [_cell(c, v) for v in cases.column(c).to_pylist()]
        name = head if head not in used else f"{head} ({c})"
        used.add(name)
        dtype = pl.Decimal(20, 2) if kind == "yuan" and c.endswith("_fen") else None
        data[name] = pl.Series(name, vals, dtype=dtype, strict=False)
    return pl.DataFrame(data)


def write_estimate(out: Path, summary: dict, cases, drg_rows: list[dict], rejected: list, *, bundle,
                   brought: list[str], mapping=None) -> Path:
    """Write the estimate to ``out`` (``.xlsx``, ``.csv`` or ``.parquet``; see the module docstring)."""
    import polars as pl

    from drg.outputs import write_csv, write_text

    out.parent.mkdir(parents=True, exist_ok=True)
    suffix = out.suffix.lower()
    own = [c for c in brought if c not in _known()]
    if suffix in (".xlsx", ".xlsm"):
        sheets = [_summary_sheet(summary, bundle), _case_sheet(cases), _drg_sheet(drg_rows),
                  _reject_sheet(_reject_frame(rejected)), _notes_sheet(cases, bundle, brought, mapping)]
        return write_workbook(out, sheets, constant_memory=cases.num_rows > 20_000)
    if suffix == ".csv":
        person = _person_frame(cases)
        write_csv(person, out, user_text=[_header(c)[0] for c in own] + ["诊断编码", "手术操作编码", "结算清单号"])
        s = _summary_sheet(summary, bundle)
        sum_df = pl.DataFrame({"项目": [r[0] for r in s.rows],
                               "值": [None if r[1].value is None else str(r[1].value) for r in s.rows],
                               "item": [r[2] for r in s.rows]})
        write_csv(sum_df, out.with_name(out.stem + ".summary.csv"), user_text=["值"])
        d = _drg_sheet(drg_rows)
        drg_df = pl.DataFrame([dict(zip([h for h, _k in d.columns], r)) for r in d.rows]) if d.rows else \
            pl.DataFrame(schema={h: pl.String for h, _k in d.columns})
        write_csv(drg_df, out.with_name(out.stem + ".drgs.csv"), user_text=["病组名称"])
        return out
    if suffix in (".parquet", ".pq"):
        from drg.outputs import atomic_path

        with atomic_path(out) as tmp:
            pl.from_arrow(cases).write_parquet(tmp)
        write_text(out.with_name(out.stem + ".summary.json"), json.dumps(summary, ensure_ascii=False, indent=1,
                                                                         default=str))
        return out
    raise InputError(f"unknown output type {suffix!r}; use .xlsx, .csv or .parquet", file=str(out))
