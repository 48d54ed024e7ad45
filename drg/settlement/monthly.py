"""Monthly prepayment (月度预付, SPEC §6): the provisional point value and each hospital's provisional fund
amount and prepayment; a negative month is carried to the year end."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from fractions import Fraction
from drg.errors import InputError
from drg.money import (amount_for_points, apply_ratio)
from drg.policy import Policy
from drg.pricing.adjustments import hospital_total
from drg.settlement.records import HospitalInput

__all__ = ['provisional_point_value', 'monthly_pool']


def provisional_point_value(method: str, *, month: int, budget_fen: int, reserve_fen: int, ytd_self_pay: int,
                            ytd_points_units: int, scale: int, includes_self_pay: bool,
                            last_year_pv: Fraction | None, factor: Decimal) -> Fraction:
    """Provisional point value of month ``m`` in fen per point (SPEC §6).

    ``last_year``: last year's final PV × ``factor``. ``budget_pace``: year to date,
    ``((B − R) × m/12 + S_{1..m}) / P_{1..m}``.
    """
    if method == "last_year":
        if last_year_pv is None:
            raise InputError("prepayment.provisional_pv = last_year needs last year's point value: run the "
                             "annual settlement of last year into the ledger, or give --last-year-pv",
                             field="prepayment.provisional_pv")
        return Fraction(last_year_pv) * Fraction(factor)
    if method != "budget_pace":
        raise InputError(f"unknown provisional_pv {method!r}", field="prepayment.provisional_pv")
    if ytd_points_units <= 0:
        raise InputError("budget_pace: no points in the year to date")
    pot = Fraction((budget_fen - reserve_fen) * month, 12) + (ytd_self_pay if includes_self_pay else 0)
    return pot * scale / ytd_points_units


def monthly_pool(pool: str, month: int, hospitals: Sequence[HospitalInput], pv_fen: Fraction, policy: Policy,
                 ) -> list[dict]:
    """Provisional fund amounts and prepayments of one month in one pool (SPEC §6).

    ``F_{h,m} = round(P_{h,m} × PV_m) − S_{h,m}``; prepayment ``max(0, round(F × prepay_ratio))``; the rest
    (``balance = F − prepayment``, negative for a negative month) is carried to the year end.
    """
    scale = policy.points_scale
    includes = policy.budget.point_value_includes_self_pay
    rows = []
    for h in sorted(hospitals, key=lambda h: h.hospital_id):
        t, und = hospital_total(h.adjusted_units, h.deduction_units)
        e = amount_for_points(t, pv_fen, scale)
        s = h.self_paid if includes else 0
        f = e - s
        pre = max(0, apply_ratio(f, policy.prepayment.prepay_ratio))
        rows.append({"hospital_id": h.hospital_id, "cases": h.cases, "points_units": t, "undeducted_units": und,
                     "entitlement": e, "self_paid": h.self_paid, "fund_payment": f, "prepaid": pre,
                     "balance": f - pre, "reserve_share": 0, "total_cost": h.total_cost,
                     "loss": max(0, h.total_cost - (f + h.self_paid))})
    return rows
