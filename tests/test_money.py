"""Exact money helpers (SPEC §0.1): half-away rounding and the largest-remainder method."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drg.errors import InputError
from drg.money import (amount_for_points, amounts_for_points, apply_ratio, largest_remainder, points_to_units, pv_text, pv_yuan,
                       round_half_away, units_to_decimal, yuan_to_fen)


def test_round_half_away():
    assert [round_half_away(Fraction(n, 2)) for n in (-5, -3, -1, 1, 3, 5)] == [-3, -2, -1, 1, 2, 3]
    assert round_half_away(Decimal("2.4999")) == 2
    assert apply_ratio(100_000_000, Decimal("0.05")) == 5_000_000
    assert apply_ratio(5, Decimal("0.5")) == 3 and apply_ratio(-5, Decimal("0.5")) == -3


def test_largest_remainder_spec_example():
    # SPEC §10 item 10: 115,000,000 fen over 600 and 400.5 points
    assert largest_remainder(115_000_000, [6_000_000, 4_005_000], ["A", "B"]) == [68_965_517, 46_034_483]


def test_largest_remainder_ties_go_by_key():
    assert largest_remainder(2, [1, 1, 1], ["C", "A", "B"]) == [0, 1, 1]
    assert largest_remainder(1, [1, 1], ["B", "A"]) == [0, 1]


def test_largest_remainder_zero_weights():
    assert largest_remainder(0, [0, 0], ["a", "b"]) == [0, 0]
    with pytest.raises(InputError):
        largest_remainder(5, [0, 0], ["a", "b"])
    with pytest.raises(InputError):
        largest_remainder(5, [1, -1], ["a", "b"])


@settings(max_examples=300, deadline=None)
@given(st.integers(-10**13, 10**13), st.lists(st.integers(0, 10**10), min_size=1, max_size=30))
def test_largest_remainder_properties(total, weights):
    if sum(weights) == 0:
        return
    keys = [f"H{i:03d}" for i in range(len(weights))]
    shares = largest_remainder(total, weights, keys)
    assert sum(shares) == total
    w = sum(weights)
    for s, x in zip(shares, weights):
        exact = Fraction(total * x, w)
        assert exact - 1 < s < exact + 1          # each share within 1 fen of its exact value
        assert s in (exact.numerator // exact.denominator, exact.numerator // exact.denominator + 1)


def test_points_to_units_exact_and_strict():
    x = np.array([400.5, 0.0001, 123.4567, 1e6 + 0.0003, 0.0])
    assert points_to_units(x, 10_000).tolist() == [4_005_000, 1, 1_234_567, 10_000_000_003, 0]
    with pytest.raises(InputError, match="more decimals"):
        points_to_units(np.array([1.00005]), 10_000, file="f.parquet")
    with pytest.raises(InputError, match="finite"):
        points_to_units(np.array([np.nan]), 10_000)


def test_display_helpers():
    pv = Fraction(115_000_000 * 10_000, 10_005_000)
    assert pv_yuan(pv) == Decimal("1149.4253") and pv_text(pv) == "1,149.4253"
    assert units_to_decimal(4_005_000, 10_000) == Decimal("400.5000")
    assert yuan_to_fen(12.345) == 1235 and yuan_to_fen("0.005") == 1
    assert amount_for_points(10_000, Fraction(1, 2), 10_000) == 1


@settings(max_examples=300, deadline=None)
@given(units=st.lists(st.integers(-10**15, 10**15), max_size=30),
       pv=st.fractions(min_value=Fraction(-10**6), max_value=Fraction(10**6)).filter(lambda f: f != 0),
       scale=st.sampled_from([1, 100, 10_000]))
def test_amounts_for_points_round_as_one_amount_at_a_time(units, pv, scale):
    """Many amounts at one point value (drg monitor's hospital × DRG amounts) round exactly as
    :func:`amount_for_points` does one by one, halves away from zero included."""
    assert amounts_for_points(units, pv, scale) == [amount_for_points(u, pv, scale) for u in units]


def test_amounts_for_points_halves_and_scale():
    # 25 units of 1/100 point at 2 fen a point = 0.5 fen → 1; −0.5 → −1; a large exact point value
    assert amounts_for_points([25, -25, 24, -24], Fraction(2), 100) == [1, -1, 0, 0]
    pv = Fraction(8397539564246250, 573789360137)
    assert amounts_for_points([123456789], pv, 10_000) == [amount_for_points(123456789, pv, 10_000)]
    with pytest.raises(ValueError):
        amounts_for_points([1], Fraction(1), 0)
