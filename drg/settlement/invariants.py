"""The money invariants of a settlement run (SPEC §6–§8), checked inside every run before anything is
recorded."""

from __future__ import annotations

from drg.errors import InvariantError
from drg.settlement.records import SettlementResult

__all__ = ['check_invariants']


# ----------------------------------------------------------------------------------------------- invariants
def check_invariants(result: SettlementResult) -> None:
    """Raise :class:`InvariantError` if a money invariant of SPEC §6–§8 fails.

    Annual: Σ entitlements = D; Σ fund payments = B − R; Σ county DRG spending = Σ fund payments; reserve
    paid out (hospitals + counties) ≤ R, every share ≥ 0. Every run: prepaid + balance = fund payment and
    fund payment = entitlement − self-pay (self-pay 0 when the PV excludes it) for every hospital;
    prepayments ≥ 0.
    """
    import polars as pl

    h = result.hospitals
    for pool, p in result.pools.items():
        hp = h.filter(pl.col("pool") == pool)
        fsum = int(hp["fund_payment"].sum()) if hp.height else 0
        if fsum != p.fund_payments:
            raise InvariantError(f"pool {pool}: Σ fund payments {fsum} ≠ recorded {p.fund_payments}")
        if result.kind == "year":
            esum = int(hp["entitlement"].sum())
            if esum != p.distributable:
                raise InvariantError(f"pool {pool}: Σ entitlements {esum} ≠ distributable {p.distributable}")
            if fsum != p.budget - p.reserve:
                raise InvariantError(f"pool {pool}: Σ fund payments {fsum} ≠ budget − reserve "
                                     f"{p.budget - p.reserve}")
            cp = result.counties.filter(pl.col("pool") == pool)
            if cp.height:
                xsum = int(cp["drg_spending"].sum())
                if xsum != fsum:
                    raise InvariantError(f"pool {pool}: Σ county DRG spending {xsum} ≠ Σ fund payments {fsum}")
                if int(cp["share_fen"].sum()) != p.distributable:
                    raise InvariantError(f"pool {pool}: Σ county shares ≠ distributable")
                if (cp["city_share"] < 0).any() or (cp["county_share"] < 0).any():
                    raise InvariantError(f"pool {pool}: a negative gap share")
                city = int(cp["city_share"].sum())
                if city != p.reserve_to_counties:
                    raise InvariantError(f"pool {pool}: Σ city gap shares {city} ≠ {p.reserve_to_counties}")
            rsum = int(hp["reserve_share"].sum())
            if rsum != p.reserve_to_hospitals or (hp["reserve_share"] < 0).any():
                raise InvariantError(f"pool {pool}: reserve shares do not add up")
            if p.reserve_to_hospitals + p.reserve_to_counties + p.reserve_left != p.reserve or p.reserve_left < 0:
                raise InvariantError(f"pool {pool}: reserve used {p.reserve_to_hospitals} + "
                                     f"{p.reserve_to_counties} exceeds or misstates the reserve {p.reserve}")
    if h.height:
        bad = h.filter(pl.col("prepaid") + pl.col("balance") != pl.col("fund_payment"))
        if bad.height:
            r = bad.row(0, named=True)
            raise InvariantError(f"hospital {r['hospital_id']} pool {r['pool']}: prepaid + balance ≠ fund payment")
        s = pl.col("self_paid") if result.includes_self_pay else pl.lit(0)
        bad = h.filter(pl.col("entitlement") - s != pl.col("fund_payment"))
        if bad.height:
            r = bad.row(0, named=True)
            raise InvariantError(f"hospital {r['hospital_id']} pool {r['pool']}: fund payment ≠ entitlement − "
                                 f"self-pay")
        if (h["prepaid"] < 0).any() and result.kind == "month":
            raise InvariantError("a negative monthly prepayment")
