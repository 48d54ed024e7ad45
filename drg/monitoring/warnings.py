"""The warnings of SPEC §9 (风险预警), each with a severity — ``info``, ``warning`` or ``alert`` — and the
figures behind it. Every threshold is a policy key of ``[monitoring]`` (:data:`drg.policy.PARAMS`): a warning
level and a larger alert level.

=================  ============================================================================  ===========
kind               when                                                                          keys
=================  ============================================================================  ===========
spending_pace      year-to-date fund spending Σ_h F_{h,1..m} above m/12 × B × (1 + tolerance)    spending_tolerance, spending_alert
pv_drop            the provisional point value more than x below last year's                     pv_drop_max, pv_drop_alert
pv_projection      year-end point value projected from the year to date, with its band;          pv_floor, pv_drop_max,
                   warning when PV̂ is below the floor, alert when the whole band is; info        projection_from_month
                   before the projection month or without a floor
county_gap         a county's (projected) balance G_c negative: the gap, the city's share        county.gap_city_share
                   under §8 and the reserve left; alert when the reserve does not cover it
cmi_rise           a hospital's CMI up more than y on last year's same period                    cmi_rise_max, cmi_rise_alert
cc_share_rise      a hospital's CC/MCC share within an ADRG up more than w share points          cc_share_rise_max, cc_share_rise_alert
outlier_share      the share of high and low outliers above z (city, pool, hospital)             outlier_share_max, outlier_share_alert
group_rate         入组率 below its floor (city, pool, hospital)                                  group_rate_min, group_rate_alert
months_missing     months of the span without a monthly run (info)
=================  ============================================================================  ===========

Hospitals are checked when they have at least ``hospital_min_cases`` cases in the span (and, for a
comparison with last year, in last year's span).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Any

__all__ = ["MonitorWarning", "SEVERITIES", "severity", "fund_pace", "pv_drop", "pv_projection", "rate_checks",
           "cmi_rise", "cc_share_rise"]

SEVERITIES = ("alert", "warning", "info")


@dataclass(frozen=True)
class MonitorWarning:
    """One warning: kind, severity, the pool and subject (``pool``, ``city``, a hospital, a county, a
    hospital/ADRG pair), messages in English and Chinese, the value and threshold compared, and the figures
    behind it (JSON-able)."""

    kind: str
    severity: str
    pool: str
    subject_type: str
    subject: str
    message: str
    message_zh: str
    value: float | None = None
    threshold: float | None = None
    figures: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def severity(value: float, warn: Decimal | float, alert: Decimal | float, *, above: bool = True) -> str | None:
    """``alert`` beyond the alert level, ``warning`` beyond the warning level, else None (``above``: larger is
    worse; else smaller is worse)."""
    v, w, a = float(value), float(warn), float(alert)
    if above:
        return "alert" if v > a else "warning" if v > w else None
    return "alert" if v < a else "warning" if v < w else None


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{x:.1%}"


def _yuan(fen: int | float | Fraction | None) -> str:
    return "—" if fen is None else f"{float(fen) / 100:,.2f}"


def _pv(fen: Fraction | None) -> str:
    return "—" if fen is None else f"{float(fen) / 100:,.4f}"


# ----------------------------------------------------------------------------------------------- pool
def fund_pace(pool: str, month: int, spent_fen: int, budget_fen: int, mon, months_run: list[int]) -> MonitorWarning | None:
    """Year-to-date fund spending against m/12 of the budget (SPEC §9)."""
    if not budget_fen or month < 1:
        return None
    pace = Fraction(budget_fen * month, 12)
    over = Fraction(spent_fen) / pace - 1
    sev = severity(float(over), mon.spending_tolerance, mon.spending_alert)
    if sev is None:
        return None
    fig = {"month": month, "spent_fen": spent_fen, "budget_fen": budget_fen, "pace_fen": round(float(pace)),
           "over": float(over), "months_run": months_run}
    return MonitorWarning(
        "spending_pace", sev, pool, "pool", pool,
        f"pool {pool}: fund spending through month {month} is {_yuan(spent_fen)} yuan, {_pct(float(over))} above "
        f"{month}/12 of the budget ({_yuan(pace)} yuan; warning above {_pct(float(mon.spending_tolerance))}, "
        f"alert above {_pct(float(mon.spending_alert))})",
        f"统筹区 {pool}: 1–{month} 月基金支出 {_yuan(spent_fen)} 元，超出预算进度 {_yuan(pace)} 元 {_pct(float(over))}",
        float(over), float(mon.spending_tolerance if sev == "warning" else mon.spending_alert), fig)


def pv_drop(pool: str, label: str, pv: Fraction, last_pv: Fraction | None, mon) -> MonitorWarning | None:
    """The point value ``pv`` (provisional or annual) more than x below last year's."""
    if not last_pv or pv is None:
        return None
    drop = 1 - pv / last_pv
    sev = severity(float(drop), mon.pv_drop_max, mon.pv_drop_alert)
    if sev is None:
        return None
    return MonitorWarning(
        "pv_drop", sev, pool, "pool", pool,
        f"pool {pool}: point value {label} {_pv(pv)} yuan is {_pct(float(drop))} below last year's {_pv(last_pv)} "
        f"(warning above {_pct(float(mon.pv_drop_max))}, alert above {_pct(float(mon.pv_drop_alert))})",
        f"统筹区 {pool}: {label} 点值 {_pv(pv)} 元，比上年 {_pv(last_pv)} 元低 {_pct(float(drop))}",
        float(drop), float(mon.pv_drop_max if sev == "warning" else mon.pv_drop_alert),
        {"point_value_yuan": float(pv) / 100, "last_year_yuan": float(last_pv) / 100, "drop": float(drop)})


def pv_projection(pool: str, month: int, points: dict[int, int], points_last: dict[int, int],
                  self_pay: dict[int, int], self_pay_last: dict[int, int], budget_fen: int, reserve_fen: int,
                  includes_self_pay: bool, floor: Fraction | None, mon, scale: int) -> tuple[MonitorWarning, dict]:
    """The year-end point value projected from the year to date (SPEC §9) and its band.

    ``points``/``points_last``: month → points after §5 (units) this year (months 1..m) and last year (all
    twelve); the same for self-pay (fen). P̂ = (Σ_{j≤m} P_j / Σ_{j≤m} P′_j) · Σ_{1..12} P′_j, Ŝ likewise,
    PV̂ = (B − R + Ŝ) / P̂; the band takes the smallest and largest monthly ratio P_j / P′_j in place of the
    year-to-date ratio (Ŝ held at its projection). Returns the warning and the figures.
    """
    months = [j for j in range(1, month + 1) if points_last.get(j)]
    total_last = sum(points_last.get(j, 0) for j in range(1, 13))
    fig: dict[str, Any] = {"month": month, "budget_fen": budget_fen, "reserve_fen": reserve_fen,
                           "floor_yuan": None if floor is None else float(floor) / 100}
    if not months or not total_last or sum(points.get(j, 0) for j in months) == 0:
        w = MonitorWarning("pv_projection", "info", pool, "pool", pool,
                           f"pool {pool}: no projection of the year-end point value (last year's monthly points "
                           f"are not in the ledger)", f"统筹区 {pool}: 无上年分月点数，无法预测年终点值", None, None, fig)
        return w, fig
    ratio = Fraction(sum(points.get(j, 0) for j in months), sum(points_last[j] for j in months))
    ratios = [Fraction(points.get(j, 0), points_last[j]) for j in months]
    p_hat = ratio * total_last
    s_last_ytd = sum(self_pay_last.get(j, 0) for j in months)
    s_hat = (Fraction(sum(self_pay.get(j, 0) for j in months), s_last_ytd) * sum(self_pay_last.values())
             if s_last_ytd else Fraction(sum(self_pay.get(j, 0) for j in range(1, month + 1)) * 12, month))
    d_hat = budget_fen - reserve_fen + (s_hat if includes_self_pay else 0)

    def pv_of(p_units: Fraction) -> Fraction | None:
        return d_hat * scale / p_units if p_units > 0 else None

    pv_hat = pv_of(p_hat)
    pv_lo = pv_of(max(ratios) * total_last)
    pv_hi = pv_of(min(ratios) * total_last)
    fig.update({"ratio": float(ratio), "ratio_min": float(min(ratios)), "ratio_max": float(max(ratios)),
                "projected_points": float(p_hat / scale), "projected_self_pay_fen": round(float(s_hat)),
                "projected_pv_yuan": None if pv_hat is None else float(pv_hat) / 100,
                "band_low_yuan": None if pv_lo is None else float(pv_lo) / 100,
                "band_high_yuan": None if pv_hi is None else float(pv_hi) / 100,
                "last_year_points": total_last / scale})
    sev = "info"
    if month >= mon.projection_from_month and floor is not None and pv_hat is not None:
        if pv_hi is not None and pv_hi < floor:
            sev = "alert"
        elif pv_hat < floor:
            sev = "warning"
    early = month < mon.projection_from_month
    text = (f"pool {pool}: year-end point value projected from months 1–{month}: {_pv(pv_hat)} yuan "
            f"(band {_pv(pv_lo)}–{_pv(pv_hi)}); floor {_pv(floor)}" + (" — too early to warn" if early else ""))
    zh = (f"统筹区 {pool}: 按 1–{month} 月预测年终点值 {_pv(pv_hat)} 元 (区间 {_pv(pv_lo)}–{_pv(pv_hi)})，"
          f"下限 {_pv(floor)} 元" + ("，月份尚早仅供参考" if early else ""))
    return MonitorWarning("pv_projection", sev, pool, "pool", pool, text, zh,
                          None if pv_hat is None else float(pv_hat) / 100,
                          None if floor is None else float(floor) / 100, fig), fig


# ----------------------------------------------------------------------------------------------- rates
def rate_checks(rows: list[dict], mon) -> list[MonitorWarning]:
    """Outlier share above its threshold and 入组率 below its floor, for the units in ``rows`` (dicts with
    ``unit_type`` city/pool/hospital, ``unit``, ``name``, ``cases``, ``outlier_share``, ``group_rate``)."""
    out = []
    for r in rows:
        ut, unit = r["unit_type"], r["unit"]
        if ut == "hospital" and (r["cases"] or 0) < mon.hospital_min_cases:
            continue
        pool = unit if ut == "pool" else "all"
        who = {"city": "city", "pool": f"pool {unit}"}.get(ut, f"hospital {unit}")
        who_zh = {"city": "全市", "pool": f"统筹区 {unit}"}.get(ut, f"医院 {unit} {r.get('name') or ''}".strip())
        o = r.get("outlier_share")
        if o is not None:
            sev = severity(o, mon.outlier_share_max, mon.outlier_share_alert)
            if sev:
                out.append(MonitorWarning(
                    "outlier_share", sev, pool, ut, unit,
                    f"{who}: {_pct(o)} of cases are high or low outliers (warning above "
                    f"{_pct(float(mon.outlier_share_max))}, alert above {_pct(float(mon.outlier_share_alert))})",
                    f"{who_zh}: 高低倍率病例占比 {_pct(o)}", o,
                    float(mon.outlier_share_max if sev == "warning" else mon.outlier_share_alert),
                    {"cases": r["cases"], "outlier_share": o}))
        g = r.get("group_rate")
        if g is not None:
            sev = severity(g, mon.group_rate_min, mon.group_rate_alert, above=False)
            if sev:
                out.append(MonitorWarning(
                    "group_rate", sev, pool, ut, unit,
                    f"{who}: 入组率 (grouping rate) {_pct(g)} is below {_pct(float(mon.group_rate_min))}"
                    f" (alert below {_pct(float(mon.group_rate_alert))})",
                    f"{who_zh}: 入组率 {_pct(g)}，低于 {_pct(float(mon.group_rate_min))}", g,
                    float(mon.group_rate_min if sev == "warning" else mon.group_rate_alert),
                    {"cases": r["cases"], "grouped": r.get("grouped"), "group_rate": g}))
    return out


def cmi_rise(hospital: str, name: str, cmi: float | None, cmi_last: float | None, cases: int, cases_last: int,
             mon) -> MonitorWarning | None:
    """A hospital's CMI up more than the policy allows on last year's same period."""
    if cmi is None or not cmi_last or cases < mon.hospital_min_cases or cases_last < mon.hospital_min_cases:
        return None
    rise = cmi / cmi_last - 1
    sev = severity(rise, mon.cmi_rise_max, mon.cmi_rise_alert)
    if sev is None:
        return None
    return MonitorWarning(
        "cmi_rise", sev, "all", "hospital", hospital,
        f"hospital {hospital}: CMI {cmi:.4f} is {_pct(rise)} above last year's {cmi_last:.4f} for the same months "
        f"(warning above {_pct(float(mon.cmi_rise_max))}, alert above {_pct(float(mon.cmi_rise_alert))})",
        f"医院 {hospital} {name}: CMI {cmi:.4f}，比上年同期 {cmi_last:.4f} 上升 {_pct(rise)}".replace("  ", " "),
        rise, float(mon.cmi_rise_max if sev == "warning" else mon.cmi_rise_alert),
        {"cmi": cmi, "cmi_last_year": cmi_last, "cases": cases, "cases_last_year": cases_last})


def cc_share_rise(hospital: str, name: str, adrg: str, share: float, share_last: float, cases: int,
                  cases_last: int, mon) -> MonitorWarning | None:
    """A hospital's CC/MCC share within an ADRG up more than w share points on last year's same period."""
    if cases < mon.cc_share_min_cases or cases_last < mon.cc_share_min_cases:
        return None
    diff = share - share_last
    sev = severity(diff, mon.cc_share_rise_max, mon.cc_share_rise_alert)
    if sev is None or math.isnan(diff):
        return None
    return MonitorWarning(
        "cc_share_rise", sev, "all", "hospital_adrg", f"{hospital}/{adrg}",
        f"hospital {hospital}, ADRG {adrg}: CC/MCC share {_pct(share)} against {_pct(share_last)} last year "
        f"(+{diff * 100:.1f} points; warning above {float(mon.cc_share_rise_max) * 100:.1f}, alert above "
        f"{float(mon.cc_share_rise_alert) * 100:.1f})",
        f"医院 {hospital} {name} ADRG {adrg}: 并发症/合并症病例占比 {_pct(share)}，上年同期 {_pct(share_last)}，"
        f"上升 {diff * 100:.1f} 个百分点",
        diff, float(mon.cc_share_rise_max if sev == "warning" else mon.cc_share_rise_alert),
        {"adrg": adrg, "cc_share": share, "cc_share_last_year": share_last, "cases": cases,
         "cases_last_year": cases_last})
