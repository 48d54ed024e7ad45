"""The annual settlement of one pool (年度清算, SPEC §6, §7): reserve, distributable, the point value, each
hospital's entitlement by the largest-remainder method, fund payment, balance and the reserve's loss sharing."""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from drg.errors import InputError
from drg.money import (apply_ratio, largest_remainder)
from drg.policy import Policy
from drg.pricing.adjustments import hospital_total
from drg.settlement.records import HospitalInput, PoolResult

__all__ = ['annual_pool']


def annual_pool(pool: str, budget_fen: int, hospitals: Sequence[HospitalInput], policy: Policy, *,
                budget_source: str = "", cases: int | None = None) -> tuple[PoolResult, list[dict]]:
    """The annual settlement of one pool (SPEC §6, §7): exact to the fen.

    Returns the pool figures and one dict per hospital (sorted by hospital id) with ``points_units``,
    ``undeducted_units``, ``entitlement``, ``self_paid``, ``fund_payment``, ``prepaid``, ``balance``,
    ``reserve_share``, ``total_cost``, ``loss`` (total cost above the hospital's DRG income ``F_h + S_h``,
    which is ``E_h`` when the point value includes self-pay). County accounts are added by the caller (they
    need the county breakdown); ``reserve_left`` here is what §7 left.
    """
    scale = policy.points_scale
    hs = sorted(hospitals, key=lambda h: h.hospital_id)
    ids = [h.hospital_id for h in hs]
    if len(set(ids)) != len(ids):
        raise InputError(f"pool {pool}: a hospital appears twice")
    reserve = apply_ratio(budget_fen, policy.budget.reserve_ratio)
    includes = policy.budget.point_value_includes_self_pay
    s_total = sum(h.self_paid for h in hs)
    d = budget_fen - reserve + (s_total if includes else 0)
    totals = [hospital_total(h.adjusted_units, h.deduction_units) for h in hs]
    p_units = sum(t for t, _ in totals)
    if p_units <= 0:
        raise InputError(f"pool {pool}: total points after deductions are 0; no point value can be set")
    pv = Fraction(d * scale, p_units)
    ent = largest_remainder(d, [t for t, _ in totals], ids)
    rows = []
    for h, (t, und), e in zip(hs, totals, ent):
        s = h.self_paid if includes else 0
        f = e - s
        # the hospital's DRG income is F_h + S_h (= E_h when the point value includes self-pay)
        loss = max(0, h.total_cost - (f + h.self_paid))
        rows.append({"hospital_id": h.hospital_id, "cases": h.cases, "points_units": t, "undeducted_units": und,
                     "entitlement": e, "self_paid": h.self_paid, "fund_payment": f, "prepaid": h.prepaid,
                     "balance": f - h.prepaid, "reserve_share": 0, "total_cost": h.total_cost, "loss": loss})
    # §7 reserve use: share a hospital's loss (actual total cost above E_h), capped; never above R.
    rp = policy.reserve
    used = 0
    if rp.use == "share_loss" and reserve > 0:
        claims = []
        for r in rows:
            c = apply_ratio(r["loss"], rp.share)
            if rp.cap_fen is not None:
                c = min(c, rp.cap_fen)
            claims.append(max(0, c))
        if sum(claims) > reserve:
            claims = largest_remainder(reserve, claims, ids)
        for r, c in zip(rows, claims):
            r["reserve_share"] = c
        used = sum(claims)
    res = PoolResult(pool=pool, budget=budget_fen, budget_source=budget_source, reserve=reserve, self_pay=s_total,
                     distributable=d, total_points_units=p_units, point_value=pv, provisional_method="",
                     cases=sum(h.cases for h in hs) if cases is None else cases,
                     fund_payments=sum(r["fund_payment"] for r in rows), prepaid=sum(r["prepaid"] for r in rows),
                     reserve_to_hospitals=used, reserve_to_counties=0, reserve_left=reserve - used,
                     undeducted_units=sum(u for _, u in totals), scale=scale)
    return res, rows
