"""Settlement (SPEC §6, §7, §9): the worked example of §10 item 10 to the fen, monthly runs, reserve use,
invariants that must refuse a run."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from fractions import Fraction

import polars as pl
import pytest

from drg.errors import InputError, InvariantError
from drg.money import pv_yuan
from drg.policy import load_policy
from drg.settlement import (HospitalInput, annual_pool, check_invariants, monthly_pool, provisional_point_value,
                            settle_month, settle_year)
from tests.helpers.priced_cases import case, write_budget, write_hospitals, write_income, write_policy, write_priced


@pytest.fixture()
def policy_path(tmp_path):
    return write_policy(tmp_path / "p.toml")


# --------------------------------------------------------------------------------- SPEC §10 item 10
def test_spec_10_item_10_pure(policy_path):
    """B = 100,000,000 fen, ρ = 5 %, S = 20,000,000, A 600 points, B 400.5 points."""
    pol = load_policy(policy_path)
    res, rows = annual_pool("310", 100_000_000, [
        HospitalInput("A", 6_000_000, self_paid=12_000_000),
        HospitalInput("B", 4_005_000, self_paid=8_000_000),
    ], pol)
    assert res.reserve == 5_000_000
    assert res.distributable == 115_000_000
    e = {r["hospital_id"]: r["entitlement"] for r in rows}
    f = {r["hospital_id"]: r["fund_payment"] for r in rows}
    assert e == {"A": 68_965_517, "B": 46_034_483}
    assert f == {"A": 56_965_517, "B": 38_034_483}
    assert sum(f.values()) == 95_000_000
    assert pv_yuan(res.point_value) == Decimal("1149.4253")
    assert res.point_value == Fraction(115_000_000, Fraction(10_005, 10))  # never used rounded


def test_spec_10_item_10_through_files(tmp_path, policy_path):
    """The same example from priced-case files: settle_year end to end, exact to the fen."""
    rows = [case("a1", "A", 600.0, self_paid=120_000.00, fund_paid=500_000.0, total_cost=620_000.0),
            case("b1", "B", 400.5, self_paid=79_000.00, other_paid=1_000.00, fund_paid=300_000.0)]
    priced = write_priced(tmp_path / "priced.parquet", rows)
    budget = write_budget(tmp_path / "budget.parquet", [(2025, "310", 1_000_000.00)])
    income = write_income(tmp_path / "income.parquet", [(2025, "310", "C1", 960_000.0, 0.0)])
    hosp = write_hospitals(tmp_path / "h.parquet", ["A", "B"])
    r = settle_year(priced, hosp, budget, income, policy_path, 2025, prepaid="none", out=tmp_path / "out")
    h = {row["hospital_id"]: row for row in r.hospitals.iter_rows(named=True)}
    assert h["A"]["entitlement"] == 68_965_517 and h["B"]["entitlement"] == 46_034_483
    assert h["A"]["fund_payment"] == 56_965_517 and h["B"]["fund_payment"] == 38_034_483
    assert h["A"]["point_value"] == Decimal("1149.4253")
    assert r.pools["310"].fund_payments == 95_000_000
    c = r.counties.row(0, named=True)
    assert c["share_fen"] == 115_000_000 and c["drg_spending"] == 95_000_000
    assert c["balance"] == 96_000_000 - 95_000_000
    out = pl.read_parquet(tmp_path / "out" / "hospitals.parquet")
    assert out["fund_payment"].to_list() == [56_965_517, 38_034_483]
    assert (tmp_path / "out" / "counties.parquet").exists()


# --------------------------------------------------------------------------------- §6 / §7 rules
def test_deductions_floor_and_raise_others(policy_path):
    pol = load_policy(policy_path)
    res, rows = annual_pool("310", 1_000_000, [
        HospitalInput("A", 1_000_000, deduction_units=3_000_000),   # 100 points, 300 deducted → 0
        HospitalInput("B", 1_000_000),
    ], pol)
    r = {x["hospital_id"]: x for x in rows}
    assert r["A"]["points_units"] == 0 and r["A"]["undeducted_units"] == 2_000_000
    assert r["B"]["entitlement"] == res.distributable
    assert res.undeducted_units == 2_000_000


def test_self_pay_excluded_from_point_value(tmp_path):
    pol = load_policy(write_policy(tmp_path / "p.toml", includes="false"))
    res, rows = annual_pool("310", 100_000_000, [HospitalInput("A", 6_000_000, self_paid=12_000_000),
                                                 HospitalInput("B", 4_005_000, self_paid=8_000_000)], pol)
    assert res.distributable == 95_000_000
    assert sum(r["fund_payment"] for r in rows) == 95_000_000
    assert all(r["fund_payment"] == r["entitlement"] for r in rows)


def test_negative_fund_payment_is_a_recovery(policy_path):
    pol = load_policy(policy_path)
    _, rows = annual_pool("310", 1_000, [HospitalInput("A", 10_000, self_paid=50_000),
                                         HospitalInput("B", 10_000, self_paid=0)], pol)
    a = next(r for r in rows if r["hospital_id"] == "A")
    assert a["fund_payment"] < 0
    assert sum(r["fund_payment"] for r in rows) == 1_000 - 50  # B − R with ρ = 5 %


def test_reserve_shares_loss_capped_and_never_in_fund_payment(tmp_path):
    pol = load_policy(write_policy(tmp_path / "p.toml", reserve_use="share_loss", share="0.5", cap="100.0"))
    res, rows = annual_pool("310", 1_000_000, [
        HospitalInput("A", 10_000, total_cost=2_000_000),     # big loss → capped at 10,000 fen
        HospitalInput("B", 10_000, total_cost=316_678),       # E_B = 316,667: loss 11 fen → share 5.5 → 6
        HospitalInput("C", 10_000, total_cost=0),
    ], pol)
    r = {x["hospital_id"]: x for x in rows}
    assert r["A"]["reserve_share"] == 10_000
    assert [x["entitlement"] for x in rows] == [316_667, 316_667, 316_666]   # leftover fen by hospital id
    assert r["B"]["loss"] == 11 and r["B"]["reserve_share"] == 6             # half away from zero
    assert r["C"]["reserve_share"] == 0
    assert sum(x["fund_payment"] for x in rows) == res.budget - res.reserve
    assert res.reserve_left == res.reserve - res.reserve_to_hospitals


def test_reserve_too_small_is_split_by_largest_remainder(tmp_path):
    pol = load_policy(write_policy(tmp_path / "p.toml", reserve_ratio="0.001", reserve_use="share_loss",
                                   share="1.0"))
    res, rows = annual_pool("310", 1_000_000, [HospitalInput("A", 10_000, total_cost=10_000_000),
                                               HospitalInput("B", 10_000, total_cost=10_000_000)], pol)
    assert res.reserve == 1_000
    assert [x["reserve_share"] for x in rows] == [500, 500]
    assert res.reserve_left == 0


def test_provisional_point_values():
    pv = provisional_point_value("budget_pace", month=3, budget_fen=1_200_000, reserve_fen=0, ytd_self_pay=100,
                                 ytd_points_units=30_000, scale=10_000, includes_self_pay=True,
                                 last_year_pv=None, factor=Decimal(1))
    assert pv == Fraction(300_000 + 100, 3)
    pv2 = provisional_point_value("last_year", month=3, budget_fen=0, reserve_fen=0, ytd_self_pay=0,
                                  ytd_points_units=0, scale=10_000, includes_self_pay=True,
                                  last_year_pv=Fraction(114_942), factor=Decimal("0.95"))
    assert pv2 == Fraction(114_942) * Fraction(95, 100)
    with pytest.raises(InputError, match="last year's point value"):
        provisional_point_value("last_year", month=3, budget_fen=0, reserve_fen=0, ytd_self_pay=0,
                                ytd_points_units=0, scale=10_000, includes_self_pay=True, last_year_pv=None,
                                factor=Decimal(1))


def test_monthly_prepayment_and_negative_month(policy_path):
    pol = load_policy(policy_path)
    rows = monthly_pool("310", 3, [HospitalInput("A", 10_000, self_paid=100), HospitalInput("B", 10_000,
                                                                                          self_paid=9_999)],
                        Fraction(5_000), pol)
    a, b = rows
    assert a["entitlement"] == 5_000 and a["fund_payment"] == 4_900 and a["prepaid"] == 4_165
    assert b["fund_payment"] == -4_999 and b["prepaid"] == 0 and b["balance"] == -4_999


def _city(tmp_path, *, months=(1, 2, 3)):
    rows = []
    n = 0
    for m in months:
        for h, pts, ins, county in (("H1", 120.5, "310", "C1"), ("H2", 80.25, "310", "C2"),
                                    ("H1", 60.0, "390", "C2"), ("H3", 99.9999, "390", "C1")):
            n += 1
            rows.append(case(f"c{n}", h, pts, self_paid=300.0 + n, other_paid=10.0, fund_paid=9_000.0 + n,
                             ins=ins, county=county, day=date(2025, m, 10),
                             case_class="high" if n % 5 == 0 else "normal"))
    return write_priced(tmp_path / "priced.parquet", rows)


def test_settle_month_both_provisional_methods(tmp_path):
    priced = _city(tmp_path)
    budget = write_budget(tmp_path / "b.parquet", [(2025, "310", 80_000.0), (2025, "390", 60_000.0)])
    pace = write_policy(tmp_path / "pace.toml")
    r = settle_month(priced, None, budget, None, pace, "2025-03")
    assert set(r.pools) == {"310", "390"}
    p = r.pools["310"]
    # budget pace: ((B − R) × 3/12 + S_1..3) / P_1..3
    assert p.point_value == (Fraction(8_000_000 - 400_000) * 3 / 12 + p.self_pay) * 10_000 / p.total_points_units
    check_invariants(r)
    assert (r.hospitals["prepaid"] + r.hospitals["balance"] == r.hospitals["fund_payment"]).all()
    last = write_policy(tmp_path / "last.toml", provisional="last_year", factor="0.9")
    r2 = settle_month(priced, None, budget, None, last, "2025-03", last_year_pv={"310": "50", "390": "60"})
    assert r2.pools["310"].point_value == Fraction(5000) * Fraction(9, 10)
    assert r2.pools["390"].point_value == Fraction(6000) * Fraction(9, 10)
    kinds = {w.kind for w in r2.warnings}
    assert "outlier_share" in kinds


def test_annual_recomputes_prepayments_without_ledger(tmp_path):
    priced = _city(tmp_path, months=range(1, 13))
    budget = write_budget(tmp_path / "b.parquet", [(2025, "310", 300_000.0), (2025, "390", 200_000.0)])
    income = write_income(tmp_path / "i.parquet", [(2025, t, c, 100_000.0, 1_000.0) for t in ("310", "390")
                                                   for c in ("C1", "C2")])
    pol = write_policy(tmp_path / "p.toml")
    r = settle_year(priced, None, budget, income, pol, 2025)
    assert r.prepaid_source == "recomputed"
    monthly = sum(int(settle_month(priced, None, budget, None, pol, f"2025-{m:02d}").hospitals["prepaid"].sum())
                  for m in range(1, 13))
    assert int(r.hospitals["prepaid"].sum()) == monthly
    check_invariants(r)
    for pool, p in r.pools.items():
        assert int(r.counties.filter(pl.col("pool") == pool)["drg_spending"].sum()) == p.budget - p.reserve


def test_budget_by_growth_from_last_year_cases(tmp_path):
    rows = [case("a", "A", 100.0, fund_paid=10_000.0, day=date(2024, 6, 1)),
            case("b", "A", 100.0, fund_paid=5_000.0, day=date(2025, 6, 1))]
    priced = write_priced(tmp_path / "p.parquet", rows)
    pol = write_policy(tmp_path / "pol.toml", growth="0.075", reserve_ratio="0")
    r = settle_year(priced, None, None, None, pol, 2025, prepaid="none")
    assert r.pools["310"].budget == 1_075_000
    assert "growth" in r.pools["310"].budget_source or "last year" in r.pools["310"].budget_source


def test_missing_budget_is_an_input_error(tmp_path):
    priced = write_priced(tmp_path / "p.parquet", [case("a", "A", 100.0)])
    with pytest.raises(InputError, match="no budget"):
        settle_year(priced, None, None, None, write_policy(tmp_path / "pol.toml"), 2025, prepaid="none")


def test_points_with_too_many_decimals_are_refused(tmp_path):
    priced = write_priced(tmp_path / "p.parquet", [case("a", "A", 100.00005)])
    budget = write_budget(tmp_path / "b.parquet", [(2025, "310", 1000.0)])
    with pytest.raises(InputError, match="more decimals"):
        settle_year(priced, None, budget, None, write_policy(tmp_path / "pol.toml"), 2025, prepaid="none")


def test_broken_invariant_refuses_the_run(tmp_path, monkeypatch):
    import drg.settlement.annual as settle

    priced = write_priced(tmp_path / "p.parquet", [case("a", "A", 100.0), case("b", "B", 50.0)])
    budget = write_budget(tmp_path / "b.parquet", [(2025, "310", 1000.0)])
    real = settle.largest_remainder

    def off_by_one(total, weights, keys=None):
        out = real(total, weights, keys)
        out[0] += 1
        return out

    monkeypatch.setattr(settle, "largest_remainder", off_by_one)
    out = tmp_path / "out"
    with pytest.raises(InvariantError, match="entitlements"):
        settle_year(priced, None, budget, None, write_policy(tmp_path / "pol.toml"), 2025, prepaid="none",
                    out=out, ledger=tmp_path / "l.duckdb")
    assert not (out / "hospitals.parquet").exists()
    from drg.settlement import Ledger

    assert Ledger(tmp_path / "l.duckdb").runs().height == 0


def test_violation_rows_found_across_row_groups(tmp_path):
    """A run's deductions read the violation column first, then only the row groups that hold one: the rows
    are those of a whole read, in file order, without the rows the run could not settle (by row number)."""
    from datetime import date

    import pyarrow as pa
    import pyarrow.parquet as pq

    from drg.settlement.deductions import _violation_rows

    n = 50
    rows = {"case_id": [f"c{i:03d}" for i in range(n)], "hospital_id": [f"H{i % 3}" for i in range(n)],
            "insurance_type": ["310"] * n, "discharge_date": [date(2025 - (i == 7), 1 + i % 12, 1) for i in range(n)],
            "drg": ["FR21"] * n, "violation": [("upcoding" if i % 9 == 2 else None) for i in range(n)],
            "violation_ref": [None] * n, "points": [10.0] * n, "adjusted_points": [9.0] * n,
            "deduction_points": [1.0 if i % 9 == 2 else 0.0 for i in range(n)]}
    path = tmp_path / "priced.parquet"
    pq.write_table(pa.table(rows), path, row_group_size=8)     # seven row groups, some without a violation
    got = _violation_rows(str(path), 2025, None, True, frozenset({21}))   # row 21 = case c020, not settled
    expected = [f"c{i:03d}" for i in range(n) if i % 9 == 2 and i != 20]
    assert got["case_id"].to_list() == expected
    assert got["violation"].to_list() == ["upcoding"] * len(expected)
    assert _violation_rows(str(path), 2025, 3, True)["case_id"].to_list() == ["c002", "c038"]
