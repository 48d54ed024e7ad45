"""Property tests (hypothesis) of the settlement invariants with random hospitals, points, self-pay,
deductions, reserve policies and county splits (SPEC §6–§8)."""

from __future__ import annotations

import dataclasses
from datetime import date
from decimal import Decimal
from fractions import Fraction

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drg.policy import BudgetPolicy, ReservePolicy, load_policy
from drg.settlement import HospitalInput, annual_pool, check_invariants, county_accounts, monthly_pool, settle_year
from tests.helpers.priced_cases import case, write_budget, write_income, write_policy, write_priced

BASE = load_policy("zhejiang-province")

hospital = st.tuples(st.integers(0, 5_000_000_000),     # adjusted points units (up to 500,000 points)
                     st.integers(0, 2_000_000_000),     # deduction units
                     st.integers(0, 10**10),            # self-pay fen
                     st.integers(0, 10**11),            # total cost fen
                     st.integers(0, 10**10))            # prepaid fen
ratio = st.decimals(min_value=0, max_value=1, places=3)


def _policy(rho, includes, use, share, cap):
    return dataclasses.replace(BASE, budget=BudgetPolicy(Decimal(0), rho, includes),
                               reserve=ReservePolicy(use, share, cap))


@settings(max_examples=300, deadline=None)
@given(budget=st.integers(0, 10**13), hs=st.lists(hospital, min_size=1, max_size=25), rho=ratio,
       includes=st.booleans(), use=st.sampled_from(["none", "share_loss"]),
       share=st.decimals(min_value=Decimal("0.001"), max_value=1, places=3),
       cap=st.one_of(st.none(), st.integers(0, 10**9)))
def test_annual_pool_invariants(budget, hs, rho, includes, use, share, cap):
    pol = _policy(rho, includes, use, share, cap)
    inputs = [HospitalInput(f"H{i:03d}", a, d, s, c, prepaid=p) for i, (a, d, s, c, p) in enumerate(hs)]
    if sum(max(0, a - d) for a, d, *_ in hs) == 0:
        return
    res, rows = annual_pool("310", budget, inputs, pol)
    assert res.reserve == round(Fraction(budget) * Fraction(rho) + Fraction(1, 10**12))  # ties: budget×ρ has ≤ 3 dp
    assert sum(r["entitlement"] for r in rows) == res.distributable
    assert sum(r["fund_payment"] for r in rows) == budget - res.reserve
    assert res.distributable == budget - res.reserve + (sum(h.self_paid for h in inputs) if includes else 0)
    for r, h in zip(rows, sorted(inputs, key=lambda h: h.hospital_id)):
        assert r["prepaid"] + r["balance"] == r["fund_payment"]
        assert r["points_units"] == max(0, h.adjusted_units - h.deduction_units)
        assert r["undeducted_units"] == max(0, h.deduction_units - h.adjusted_units)
        exact = Fraction(res.distributable * r["points_units"], res.total_points_units)
        assert abs(r["entitlement"] - exact) < 1
        assert 0 <= r["reserve_share"] <= (cap if cap is not None else r["reserve_share"])
        if use == "none":
            assert r["reserve_share"] == 0
    assert 0 <= res.reserve_to_hospitals <= res.reserve
    assert res.reserve_left == res.reserve - res.reserve_to_hospitals


@settings(max_examples=300, deadline=None)
@given(d=st.integers(0, 10**12), data=st.data(), alpha=ratio, reserve_left=st.integers(0, 10**9),
       includes=st.booleans())
def test_county_accounts_invariants(d, data, alpha, reserve_left, includes):
    n_h = data.draw(st.integers(1, 8))
    counties = [f"C{i}" for i in range(data.draw(st.integers(1, 6)))]
    hp, cp = {}, {}
    for h in range(n_h):
        hid = f"H{h}"
        for c in counties:
            if data.draw(st.booleans()):
                cp[(hid, c)] = data.draw(st.integers(0, 10**9))
        q = sum(v for (x, _), v in cp.items() if x == hid)
        hp[hid] = data.draw(st.integers(0, q)) if q else 0      # after deductions: never above q_h
    if sum(hp.values()) == 0:
        return
    csp = {c: data.draw(st.integers(0, d // max(1, len(counties)))) for c in counties}
    income = {c: (data.draw(st.integers(0, 10**12)), data.draw(st.integers(0, 10**10))) for c in counties}
    accounts, used = county_accounts(d, hp, cp, csp, income, alpha=alpha, reserve_left_fen=reserve_left,
                                     includes_self_pay=includes)
    assert sum(a.share for a in accounts) == d
    assert sum(a.drg_spending for a in accounts) == d - (sum(csp.values()) if includes else 0)
    assert used == sum(a.city_share for a in accounts) <= reserve_left
    for a in accounts:
        assert a.balance == a.income - a.drg_spending - a.other_spending
        gap = max(0, -a.balance)
        assert 0 <= a.city_share <= a.claim and a.city_share + a.county_share == gap
        assert a.county_share >= 0
    if sum(a.claim for a in accounts) <= reserve_left:
        assert all(a.city_share == a.claim for a in accounts)
    else:
        assert used == reserve_left


@settings(max_examples=200, deadline=None)
@given(hs=st.lists(st.tuples(st.integers(0, 10**9), st.integers(0, 10**8), st.integers(0, 10**9)), min_size=1,
                   max_size=20),
       pv=st.fractions(min_value=0, max_value=10**6, max_denominator=10**9), ratio_=ratio)
def test_monthly_invariants(hs, pv, ratio_):
    pol = dataclasses.replace(BASE, prepayment=dataclasses.replace(BASE.prepayment, prepay_ratio=ratio_))
    rows = monthly_pool("310", 4, [HospitalInput(f"H{i}", a, d, s) for i, (a, d, s) in enumerate(hs)], pv, pol)
    for r in rows:
        assert r["prepaid"] >= 0 and r["prepaid"] + r["balance"] == r["fund_payment"]
        assert r["fund_payment"] == r["entitlement"] - r["self_paid"]
        if r["fund_payment"] <= 0:
            assert r["prepaid"] == 0


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_settle_year_end_to_end_invariants(tmp_path_factory, data):
    """Random small cities through files: every invariant checked by the run and again here."""
    tmp = tmp_path_factory.mktemp("prop")
    n = data.draw(st.integers(1, 40))
    rows = []
    for i in range(n):
        pts = data.draw(st.integers(0, 5_000_000)) / 10_000
        rows.append(case(f"c{i}", data.draw(st.sampled_from(["H1", "H2", "H3", "H4"])), pts,
                         self_paid=data.draw(st.integers(0, 5_000_000)) / 100,
                         other_paid=data.draw(st.integers(0, 100_000)) / 100,
                         fund_paid=data.draw(st.integers(0, 10_000_000)) / 100,
                         ins=data.draw(st.sampled_from(["310", "390"])),
                         county=data.draw(st.sampled_from(["C1", "C2", "C3"])),
                         day=date(2025, data.draw(st.integers(1, 12)), 1),
                         deduction=data.draw(st.sampled_from([0, 0, 0, 100.5, 1000.0]))))
    priced = write_priced(tmp / "p.parquet", rows)
    budget = write_budget(tmp / "b.parquet", [(2025, t, data.draw(st.integers(0, 10**9)) / 100)
                                              for t in ("310", "390")])
    income = write_income(tmp / "i.parquet", [(2025, t, c, data.draw(st.integers(0, 10**8)) / 100,
                                               data.draw(st.integers(0, 10**6)) / 100)
                                              for t in ("310", "390") for c in ("C1", "C2", "C3")])
    pol = write_policy(tmp / "pol.toml", reserve_ratio=str(data.draw(ratio)),
                       includes=data.draw(st.sampled_from(["true", "false"])),
                       reserve_use=data.draw(st.sampled_from(["none", "share_loss"])), share="0.5",
                       alpha=str(data.draw(ratio)))
    from drg.errors import InputError

    try:
        r = settle_year(priced, None, budget, income, pol, 2025)
    except InputError as exc:   # a pool whose points are all deducted has no point value: refused, not wrong
        assert "total points after deductions are 0" in str(exc)
        return
    check_invariants(r)
    for pool, p in r.pools.items():
        h = r.hospitals.filter(pl.col("pool") == pool)
        c = r.counties.filter(pl.col("pool") == pool)
        assert int(h["entitlement"].sum()) == p.distributable
        assert int(h["fund_payment"].sum()) == p.budget - p.reserve
        assert int(c["drg_spending"].sum()) == int(h["fund_payment"].sum())
        assert p.reserve_to_hospitals + p.reserve_to_counties <= p.reserve
    assert (r.hospitals["prepaid"] + r.hospitals["balance"] == r.hospitals["fund_payment"]).all()
