"""The bundle's workbook for people (``病组点数表.xlsx``, written by ``drg publish``): what a hospital's
medical insurance office opens to see the base points, its coefficients and the point values — without
reading Parquet or JSON.

=========  ==================================================================================================
病组        per DRG: name, base points, per-diem points, stable or not, history cases, mean cost, coefficient
            of variation, and per pool the payment of a normal case at coefficient 1 (base points × point
            value)
系数        per hospital and DRG: tier, coefficient and where it comes from, the hospital's history cases, and
            per pool what a normal case of that DRG earns there (base points × coefficient × point value)
点值        the point value of each pool and where it comes from
说明        the policy, scheme, settlement year, history years, and what each column means
=========  ==================================================================================================

Amounts are exact to the fen: ``round(points × point value)`` on the exact point value (SPEC §0.1), shown in
yuan.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from pathlib import Path

from drg.money import round_half_away
from drg.reports.labels import coef_source_label, describe, label, pool_label, yuan
from drg.reports.workbook import Block, Sheet, write_workbook

__all__ = ["write_bundle_workbook"]


def _points(x) -> Fraction | None:
    if x is None:
        return None
    return Fraction(Decimal(repr(float(x))))


def _amount(points: Fraction | None, pv_fen: Fraction) -> Decimal | None:
    return None if points is None else yuan(round_half_away(points * pv_fen))


def write_bundle_workbook(path: str | Path, weights, coefficients, point_values: dict, scheme,
                          info: dict) -> Path:
    """Write the bundle's workbook (see the module docstring)."""
    wt = weights.table
    names = dict(zip(scheme.drg_codes, scheme.drg_names))
    pools = sorted(point_values)
    drgs = wt.column("drg").to_pylist()
    cols = {c: wt.column(c).to_pylist() if c in wt.column_names else [None] * len(drgs)
            for c in ("base_points", "per_diem_points", "stable", "n_cases", "mean_cost_fen", "cv")}
    bp = {d: _points(b) for d, b in zip(drgs, cols["base_points"])}
    drg_rows = []
    for i, d in enumerate(drgs):
        mean = cols["mean_cost_fen"][i]
        drg_rows.append([d, names.get(d), cols["base_points"][i], cols["per_diem_points"][i],
                         None if cols["stable"][i] is None else bool(cols["stable"][i]), cols["n_cases"][i],
                         None if mean is None else yuan(round_half_away(Fraction(Decimal(repr(float(mean)))))),
                         cols["cv"][i]]
                        + [_amount(bp[d], point_values[p].fen_per_point) for p in pools])
    drg_cols = [(label("drg"), "text"), (label("drg_name"), "text"), (label("base_points"), "points"),
                (label("per_diem_points"), "points"), (label("stable"), "text"), (label("n_cases"), "count"),
                (label("mean_cost"), "yuan"), (label("cv"), "coef")]
    drg_cols += [(f"正常病例支付标准(元) {pool_label(p)}", "yuan") for p in pools]

    ct = coefficients
    c = {k: ct.column(k).to_pylist() for k in ("hospital_id", "tier", "drg", "coef", "coef_source", "n_hospital")
         if k in ct.column_names}
    coef_rows = []
    for i in range(ct.num_rows):
        d = c["drg"][i]
        coef = c["coef"][i]
        pts = None if bp.get(d) is None or coef is None else bp[d] * _points(coef)
        coef_rows.append([c["hospital_id"][i], c.get("tier", [None] * ct.num_rows)[i], d, names.get(d), coef,
                          coef_source_label(c["coef_source"][i]), c.get("n_hospital", [None] * ct.num_rows)[i]]
                         + [_amount(pts, point_values[p].fen_per_point) for p in pools])
    coef_cols = [(label("hospital_id"), "text"), (label("tier"), "text"), (label("drg"), "text"),
                 (label("drg_name"), "text"), (label("coef"), "coef"), (label("coef_source"), "text"),
                 ("本院历史病例数", "count")]
    coef_cols += [(f"正常病例预计收入(元) {pool_label(p)}", "yuan") for p in pools]

    pv_rows = [[pool_label(p), Decimal(point_values[p].yuan_text), point_values[p].source] for p in pools]
    about = [["政策 policy", f"{info.get('policy_id')} {info.get('policy_name') or ''}".strip()],
             ["分组方案 grouping scheme", info.get("scheme_id")],
             ["结算年度 settlement year", info.get("settlement_year")],
             ["历史年度 history years", ", ".join(str(y) for y in info.get("history_years") or [])]]
    meanings = [[label(k), describe(k)] for k in ("drg", "base_points", "per_diem_points", "stable", "n_cases",
                                                  "mean_cost", "cv", "coef", "coef_source", "point_value")]
    meanings += [["正常病例支付标准(元)", "基准点数 × 点值(系数为 1 时一个正常病例的金额)"],
                 ["正常病例预计收入(元)", "基准点数 × 差异系数 × 点值：本院一个正常病例的预计金额"],
                 ["本院历史病例数", "本院该病组在历史年度的病例数(决定是否采用本院系数)"]]
    sheets = [
        Sheet("病组", drg_cols, drg_rows),
        Sheet("系数", coef_cols, coef_rows),
        Sheet("点值", [(label("pool"), "text"), (label("point_value"), "pv"), ("来源 source", "text")], pv_rows),
        Sheet("说明", [("项目 item", "text"), ("内容 value", "text")], about,
              more=[Block("各列含义 what each column means", [("列 column", "text"), ("含义 meaning", "text")],
                          meanings)],
              notes=["金额为元，按精确点值计算后四舍五入到分。 Amounts in yuan, from the exact point value, rounded "
                     "to the fen."]),
    ]
    return write_workbook(path, sheets, constant_memory=len(coef_rows) > 20_000)
