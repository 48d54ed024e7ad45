"""The warnings of SPEC §9 raised by a settlement run (fund pace, point value drop, CMI rise, outlier
share)."""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction
from drg.money import (pv_text)
from drg.policy import Policy
from drg.settlement.records import CaseAggregates, PoolResult, SettlementWarning

__all__ = ['pool_warnings']


def pool_warnings(kind: str, pool: str, month: int, pool_res: PoolResult, agg: CaseAggregates, policy: Policy,
                last_pv: Fraction | None, last_cmi: Mapping[str, float], stats: Mapping[str, dict],
                budget_fen: int) -> list[SettlementWarning]:
    """The warnings of SPEC §9 for one pool, year to date through ``month``."""
    import polars as pl

    mon = policy.monitoring
    out: list[SettlementWarning] = []
    ytd = agg.by_month.filter((pl.col("pool") == pool) & (pl.col("year") == agg.year) & (pl.col("month") <= month))
    spent = int(ytd["fund_paid"].sum())
    limit = Fraction(budget_fen * month, 12) * (1 + Fraction(mon.spending_tolerance))
    if spent > limit:
        out.append(SettlementWarning(
            "spending_pace", pool, "pool",
            f"pool {pool}: fund spending through month {month} is {spent / 100:,.2f} yuan, above {month}/12 of the "
            f"budget × (1 + {mon.spending_tolerance}) = {float(limit) / 100:,.2f} yuan",
            round(spent / (budget_fen * month / 12) - 1, 4) if budget_fen else None, float(mon.spending_tolerance)))
    if last_pv:
        drop = 1 - pool_res.point_value / last_pv
        if drop > Fraction(mon.pv_drop_max):
            out.append(SettlementWarning(
                "pv_drop", pool, "pool",
                f"pool {pool}: point value {pv_text(pool_res.point_value)} yuan is {float(drop):.1%} below last "
                f"year's {pv_text(last_pv)} (limit {float(mon.pv_drop_max):.1%})",
                round(float(drop), 4), float(mon.pv_drop_max)))
    for hid, st in sorted(stats.items()):
        prev = last_cmi.get(hid)
        if st["cmi"] is not None and prev:
            rise = st["cmi"] / prev - 1
            if rise > float(mon.cmi_rise_max):
                out.append(SettlementWarning(
                    "cmi_rise", pool, hid, f"hospital {hid} pool {pool}: CMI {st['cmi']:.4f} is {rise:.1%} above "
                    f"last year's {prev:.4f} (limit {float(mon.cmi_rise_max):.1%})", round(rise, 4),
                    float(mon.cmi_rise_max)))
    cases = int(ytd["cases"].sum())
    outl = int(ytd["outliers"].sum())
    if cases and Fraction(outl, cases) > Fraction(mon.outlier_share_max):
        out.append(SettlementWarning(
            "outlier_share", pool, "pool", f"pool {pool}: {outl / cases:.1%} of cases are high or low outliers "
            f"(limit {float(mon.outlier_share_max):.1%})", round(outl / cases, 4), float(mon.outlier_share_max)))
    for hid, st in sorted(stats.items()):
        if st["cases"] and Fraction(st["outliers"], st["cases"]) > Fraction(mon.outlier_share_max):
            out.append(SettlementWarning(
                "outlier_share", pool, hid, f"hospital {hid} pool {pool}: {st['outliers'] / st['cases']:.1%} of "
                f"cases are outliers (limit {float(mon.outlier_share_max):.1%})",
                round(st["outliers"] / st["cases"], 4), float(mon.outlier_share_max)))
    return out
