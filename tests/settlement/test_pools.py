"""Pools, budgets and county accounts (SPEC §6 budget, §8); the readers of the budget and county-income tables
are tested in tests/casefile/test_tables.py."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from fractions import Fraction

import polars as pl
import pytest

from drg.errors import InputError
from drg.settlement import check_invariants, county_accounts, pool_budget, settle_year
from tests.helpers.priced_cases import case, write_budget, write_income, write_policy, write_priced


def test_pool_budget_sources():
    table = {(2025, "310"): 100, (2025, "390"): 50}
    assert pool_budget(table, 2025, "310", insurance_types=("310", "390"), growth_rate=Decimal(0),
                       last_year_spending_fen=None)[0] == 100
    assert pool_budget(table, 2025, "all", insurance_types=("310", "390"), growth_rate=Decimal(0),
                       last_year_spending_fen=None)[0] == 150
    b, src = pool_budget(table, 2026, "310", insurance_types=("310",), growth_rate=Decimal("0.075"),
                         last_year_spending_fen=1_000_001)
    assert b == 1_075_001 and "0.075" in src   # 1,075,001.075 → half away from zero
    with pytest.raises(InputError, match="no budget"):
        pool_budget(table, 2026, "310", insurance_types=("310",), growth_rate=Decimal(0),
                    last_year_spending_fen=None)


def test_county_shares_follow_hospital_points_after_deduction():
    # hospital H has 100 points from C1 and 300 from C2 but only 200 after deductions: Q_C1 = 50, Q_C2 = 150
    acc, used = county_accounts(1_000, {"H": 2_000_000}, {("H", "C1"): 1_000_000, ("H", "C2"): 3_000_000},
                                {"C1": 0, "C2": 0}, {"C1": (0, 0), "C2": (0, 0)}, alpha=Decimal("0.5"),
                                reserve_left_fen=10_000)
    a = {x.county: x for x in acc}
    assert a["C1"].q_units == Fraction(500_000) and a["C2"].q_units == Fraction(1_500_000)
    assert a["C1"].share == 250 and a["C2"].share == 750
    # both in gap: claims round(0.5 × 250) = 125, round(0.5 × 750) = 375
    assert (a["C1"].city_share, a["C1"].county_share) == (125, 125)
    assert (a["C2"].city_share, a["C2"].county_share) == (375, 375)
    assert used == 500


def test_gap_claims_above_reserve_split_by_largest_remainder():
    acc, used = county_accounts(0, {"H": 10}, {("H", "A"): 10, ("H", "B"): 10}, {},
                                {"A": (0, 3), "B": (0, 3)}, alpha=Decimal(1), reserve_left_fen=5)
    assert [a.claim for a in acc] == [3, 3]
    assert [a.city_share for a in acc] == [3, 2]          # tie: leftover fen to A (code order)
    assert [a.county_share for a in acc] == [0, 1]
    assert used == 5


def test_county_without_income_row_is_an_error():
    with pytest.raises(InputError, match="county_income has no row for county 'C9'"):
        county_accounts(100, {"H": 1}, {("H", "C9"): 1}, {"C9": 0}, {}, alpha=Decimal("0.5"), reserve_left_fen=0)


def test_single_pool_when_not_pooled_by_insurance_type(tmp_path):
    pol = tmp_path / "p.toml"
    write_policy(pol)
    pol.write_text(pol.read_text() + "\n[pools]\npools_by_insurance_type = false\n", encoding="utf-8")
    rows = [case("a", "A", 100.0, ins="310", county="C1", self_paid=10.0),
            case("b", "B", 50.0, ins="390", county="C2", self_paid=20.0)]
    priced = write_priced(tmp_path / "c.parquet", rows)
    budget = write_budget(tmp_path / "b.parquet", [(2025, "310", 600.0), (2025, "390", 400.0)])
    income = write_income(tmp_path / "i.parquet", [(2025, "310", "C1", 500.0, 0.0), (2025, "390", "C1", 1.0, 0.0),
                                                   (2025, "390", "C2", 300.0, 0.0)])
    r = settle_year(priced, None, budget, income, pol, 2025, prepaid="none")
    assert list(r.pools) == ["all"]
    p = r.pools["all"]
    assert p.budget == 100_000 and p.reserve == 5_000 and p.self_pay == 3_000
    check_invariants(r)
    c = {x["county"]: x for x in r.counties.iter_rows(named=True)}
    assert c["C1"]["income"] == 50_100


def test_counties_table_matches_fund_payments_on_synthetic_city(tmp_path):
    rows = [case(f"c{i}", f"H{i % 5}", 10 + i * 0.3333, ins="310", county=f"C{i % 4}", self_paid=i * 1.11,
                 day=date(2025, 1 + i % 12, 2)) for i in range(200)]
    priced = write_priced(tmp_path / "c.parquet", rows)
    budget = write_budget(tmp_path / "b.parquet", [(2025, "310", 123_456.78)])
    income = write_income(tmp_path / "i.parquet", [(2025, "310", f"C{k}", 20_000.0, 500.0) for k in range(4)])
    r = settle_year(priced, None, budget, income, write_policy(tmp_path / "p.toml", alpha="0.3"), 2025)
    assert int(r.counties["drg_spending"].sum()) == int(r.hospitals["fund_payment"].sum()) == 12_345_678 - 617_284
    g = r.counties.filter(pl.col("balance") < 0)
    for x in g.iter_rows(named=True):
        assert x["city_share"] + x["county_share"] == -x["balance"]


