"""Pools, budgets and county accounts under city-level pooling (统筹区, 市级统筹; SPEC §6 budget, §8).

This module owns:

- the pool of a case (its insurance type ``310``/``390``, or ``"all"`` when the policy does not pool by
  insurance type — ``pools.pools_by_insurance_type``);
- the fund budget ``B_k`` of a pool: from the budget table (read by :mod:`drg.casefile.tables`), or last
  year's fund DRG spending × (1 + ``budget.growth_rate``);
- the county accounts of SPEC §8 (分级核算、缺口分担): county shares of ``D_k`` by the largest-remainder
  method on ``Q_c``, county DRG spending, balances and gaps shared between city (from what is left of the
  reserve) and county (``county.gap_city_share`` = α).

All money is int fen; shares are exact (:mod:`drg.money`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from drg.errors import InputError
from drg.money import apply_ratio, largest_remainder

__all__ = ["ALL_POOLS", "pool_of", "pool_budget", "CountyAccount", "county_accounts"]

#: The single pool's name when the policy does not pool by insurance type.
ALL_POOLS = "all"


def pool_of(insurance_type: str, pools_by_insurance_type: bool) -> str:
    """The pool a case belongs to: its insurance type, or ``"all"``."""
    return str(insurance_type) if pools_by_insurance_type else ALL_POOLS


def pool_budget(budget: Mapping[tuple[int, str], int] | None, year: int, pool: str, *,
                insurance_types: tuple[str, ...], growth_rate: Decimal,
                last_year_spending_fen: int | None, file: str | None = None) -> tuple[int, str]:
    """The fund budget ``B_k`` of a pool in fen and where it came from (SPEC §6).

    From the budget table when it has the year (for pool ``"all"``: the sum over ``insurance_types``, all of
    which must be present); otherwise last year's fund DRG spending × (1 + ``growth_rate``), rounded half
    away from zero.
    """
    types = insurance_types if pool == ALL_POOLS else (pool,)
    if budget is not None and types and all((year, t) in budget for t in types):
        return sum(budget[(year, t)] for t in types), "budget table"
    if last_year_spending_fen is None:
        raise InputError(f"no budget for year {year} pool {pool} in the budget table, and last year's fund DRG "
                         f"spending is unknown (run the annual settlement of {year - 1} into the ledger, or "
                         f"include {year - 1}'s priced cases)", file=file, field="fund_budget")
    b = apply_ratio(last_year_spending_fen, Decimal(1) + Decimal(growth_rate))
    return b, f"last year's fund DRG spending {last_year_spending_fen} fen × (1 + {growth_rate})"


# ----------------------------------------------------------------------------------------------- §8
@dataclass(frozen=True)
class CountyAccount:
    """One county's account in one pool (SPEC §8), all fen."""

    county: str
    q_units: Fraction         # Q_c in point units (exact)
    share: int                # county share of D_k
    self_paid: int            # S_c
    income: int               # I_c
    drg_spending: int         # X_c = share − S_c
    other_spending: int       # O_c
    balance: int              # G_c = I_c − X_c − O_c
    city_share: int           # the city's part of the gap, from the reserve
    county_share: int         # the county's part of the gap
    claim: int                # round(α × gap) before the reserve cap


def county_accounts(distributable_fen: int, hospital_points: Mapping[str, int],
                    county_points: Mapping[tuple[str, str], int], county_self_paid: Mapping[str, int],
                    income: Mapping[str, tuple[int, int]], *, alpha: Decimal, reserve_left_fen: int,
                    includes_self_pay: bool = True) -> tuple[list[CountyAccount], int]:
    """County accounts of one pool (SPEC §8). Returns the accounts (sorted by county) and reserve used.

    Parameters
    ----------
    distributable_fen : int
        ``D_k``.
    hospital_points : mapping hospital → int
        ``P_h`` after deductions, integer point units.
    county_points : mapping (hospital, county) → int
        ``q_{h,c}``: adjusted points of county c's insured at hospital h, integer point units.
    county_self_paid : mapping county → int
        ``S_c`` in fen (ignored — spending is the whole share — when the point value excludes self-pay).
    income : mapping county → (income, other_spending)
        ``I_c`` and ``O_c`` in fen; every county with cases must be present.
    alpha : Decimal
        The city's share of a gap (``county.gap_city_share``).
    reserve_left_fen : int
        ``R_k`` minus what §7 paid out: the most the city can pay towards gaps.
    """
    q_h: dict[str, int] = {}
    for (h, _c), q in county_points.items():
        q_h[h] = q_h.get(h, 0) + q
    qc: dict[str, Fraction] = {}
    for (h, c), q in county_points.items():
        ph = hospital_points.get(h, 0)
        if ph and q_h[h]:
            qc[c] = qc.get(c, Fraction(0)) + Fraction(ph * q, q_h[h])
        else:
            qc.setdefault(c, Fraction(0))
    counties = sorted(set(qc) | set(income) | set(county_self_paid))
    missing = [c for c in counties if c not in income and (qc.get(c) or county_self_paid.get(c))]
    if missing:
        raise InputError(f"county_income has no row for county {missing[0]!r} (cases of its insured were settled)",
                         field="county")
    weights = [qc.get(c, Fraction(0)) for c in counties]
    shares = largest_remainder(distributable_fen, weights, counties) if any(weights) else [0] * len(counties)
    rows = []
    for c, q, share in zip(counties, weights, shares):
        s = county_self_paid.get(c, 0) if includes_self_pay else 0
        inc, oth = income.get(c, (0, 0))
        x = share - s
        g = inc - x - oth
        claim = apply_ratio(-g, alpha) if g < 0 else 0
        rows.append([c, q, share, s, inc, x, oth, g, claim])
    claims = [r[8] for r in rows]
    total_claims = sum(claims)
    reserve_left_fen = max(0, reserve_left_fen)
    if total_claims <= reserve_left_fen:
        city = claims
    else:
        city = largest_remainder(reserve_left_fen, claims, [r[0] for r in rows])
    out = []
    for r, cs in zip(rows, city):
        gap = -r[7] if r[7] < 0 else 0
        out.append(CountyAccount(county=r[0], q_units=r[1], share=r[2], self_paid=r[3], income=r[4],
                                 drg_spending=r[5], other_spending=r[6], balance=r[7], city_share=cs,
                                 county_share=gap - cs, claim=r[8]))
    return out, sum(city)
