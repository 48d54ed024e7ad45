"""Weights from history (SPEC §2): trimming, year weights, cost index, A, base points, stability, per-diem
points, file metadata."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from decimal import Decimal

import numpy as np
import pyarrow as pa
import pytest

from drg.errors import InputError
from drg.policy import load_policy
from drg.pricing import compute_weights, read_weights, trim_mask, write_weights
from tests.helpers.grouped_cases import case_rows


@pytest.fixture(scope="module")
def pol():
    return load_policy("zhejiang-province")


def _with(pol, **kw):
    w = pol.weights
    trim = kw.pop("trim", None)
    if trim:
        w = replace(w, trim=replace(w.trim, **trim))
    return replace(pol, weights=replace(w, **kw))


def hist(spec):
    """spec: list of (drg, year, cost yuan[, los])."""
    rows = []
    for i, s in enumerate(spec):
        drg, year, cost = s[:3]
        los = s[3] if len(s) > 3 else 5
        rows.append({"case_id": f"h{i}", "drg": drg, "cost": cost, "los": los, "admit": dt.date(year, 6, 1)})
    return case_rows(rows)


def bp_of(w):
    return dict(zip(w.table.column("drg").to_pylist(), w.table.column("base_points").to_pylist()))


def test_sd_trimming_one_pass_sample_sd(pol):
    x = np.array([10.0] * 20 + [1000.0])
    g = np.zeros(len(x), np.int64)
    keep = trim_mask(x, g, pol)
    assert not keep[-1] and keep[:-1].all()
    # groups under 2 cases are not trimmed; a group of identical costs keeps everything
    assert trim_mask(np.array([5.0]), np.array([0]), pol).all()
    assert trim_mask(np.array([7.0, 7.0, 7.0]), np.array([0, 0, 0]), pol).all()


def test_percentile_trimming_keeps_bounds(pol):
    p = _with(pol, trim={"method": "percentile", "lo": Decimal(10), "hi": Decimal(90)})
    x = np.arange(11, dtype=float)            # 10th pct = 1, 90th = 9 (linear)
    keep = trim_mask(x, np.zeros(11, np.int64), p)
    assert keep.tolist() == [False] + [True] * 9 + [False]
    none = _with(pol, trim={"method": "none"})
    assert trim_mask(x, np.zeros(11, np.int64), none).all()


def test_year_weights_and_cost_index(pol):
    spec = [("FR23", 2022, 10000.0)] * 5 + [("FR23", 2023, 20000.0)] * 5 + [("ES31", 2023, 5000.0)] * 10
    p = _with(pol, trim={"method": "none"})
    w, _ = compute_weights(hist(spec), p, settlement_year=2024)
    # equal weights: mean_FR = 15,000; A = (50,000 + 100,000 + 50,000) / 20 = 10,000
    assert w.a_fen == 1_000_000 and bp_of(w)["FR23"] == 150.0 and bp_of(w)["ES31"] == 50.0
    p2 = _with(p, year_weights=(Decimal(1), Decimal(3)))
    w2, _ = compute_weights(hist(spec), p2, settlement_year=2024)
    # mean_FR = (10,000 + 3 × 20,000) / 4 = 17,500; A = (1×50,000 + 3×(100,000+50,000)) / (5 + 3×15) = 10,000
    assert bp_of(w2)["FR23"] == 175.0
    p3 = _with(p, cost_index={2022: Decimal(2)})
    w3, _ = compute_weights(hist(spec), p3, settlement_year=2024)
    # 2022 costs doubled: mean_FR = 20,000; A = (100,000 + 100,000 + 50,000) / 20 = 12,500 → 160
    assert bp_of(w3)["FR23"] == 160.0


def test_history_years_window(pol):
    spec = [("FR23", 2020, 99999.0)] * 5 + [("FR23", 2022, 15000.0)] * 5 + [("ES31", 2023, 5000.0)] * 5
    w, _ = compute_weights(hist(spec), _with(pol, trim={"method": "none"}), settlement_year=2024)
    assert w.years == (2022, 2023)
    assert bp_of(w)["FR23"] == 150.0
    with pytest.raises(InputError, match="no history"):
        compute_weights(hist(spec), pol, settlement_year=2030)


def test_base_points_round_half_away_exact(pol):
    # mean_d / A × 100 = 1/3 × 100 = 33.3333…; and a tie: mean 10,000.005 yuan over A 10,000 → 100.00005 → 100.0001
    spec = [("AA11", 2023, 10000.0), ("AA11", 2023, 10000.01)] + [("ZZ11", 2023, 10000.005 * 2 - 10000.0)] * 0
    p = _with(pol, trim={"method": "none"})
    w, _ = compute_weights(hist(spec), p, settlement_year=2024)
    assert bp_of(w)["AA11"] == 100.0    # only one DRG: its mean is A
    spec = [("AA11", 2023, 1.00), ("AA11", 2023, 1.01), ("BB11", 2023, 1.005 * 0 + 1.00), ("BB11", 2023, 1.00)]
    w, _ = compute_weights(hist(spec), p, settlement_year=2024)
    # A = 4.01 / 4 = 1.0025 yuan; AA mean 1.005 → 100.2493765…; BB 1.00 → 99.7506234…
    assert bp_of(w)["AA11"] == 100.2494 and bp_of(w)["BB11"] == 99.7506


def test_stability_rules(pol):
    spec = [("FR23", 2023, 15000.0 + i) for i in range(5)] + [("XJ19", 2023, 12000.0)] * 4 + \
           [("ZZ11", 2023, c) for c in (100.0, 100.0, 100.0, 100.0, 100.0, 20000.0)]
    p = _with(pol, trim={"method": "none"})
    w, _ = compute_weights(hist(spec), p, settlement_year=2024)
    st = dict(zip(w.table.column("drg").to_pylist(), w.table.column("stable").to_pylist()))
    assert st == {"FR23": True, "XJ19": False, "ZZ11": False}     # 4 cases < n_min; cv > 1.0


def test_per_diem_points_and_ungroupable_excluded(pol):
    p = replace(_with(pol, trim={"method": "none"}), per_diem=replace(pol.per_diem, drgs=("TR1",)))
    spec = [("TR11", 2023, 3000.0, 10), ("TR11", 2023, 9000.0, 20)] + [("FR23", 2023, 10000.0)] * 5 + \
           [("0000", 2023, 99999.0)] * 3
    t = hist(spec)
    w, _ = compute_weights(t, p, settlement_year=2024)
    row = {r["drg"]: r for r in w.table.to_pylist()}
    assert w.a_fen == 1_000_000                      # per-diem and ungroupable cases are not in A
    assert row["TR11"]["per_diem_points"] == 4.0     # 12,000 / 30 bed-days = 400 → 4 points a day
    assert row["TR11"]["base_points"] is None and "0000" not in row


def test_min_los_per_diem(pol):
    p = replace(_with(pol, trim={"method": "none"}), per_diem=replace(pol.per_diem, min_los=60))
    spec = [("FR23", 2023, 10000.0)] * 5 + [("FR23", 2023, 60000.0, 60)]
    w, _ = compute_weights(hist(spec), p, settlement_year=2024)
    row = w.table.to_pylist()[0]
    assert row["base_points"] == 100.0 and row["per_diem_points"] == 10.0 and row["per_diem_cases"] == 1


def test_metadata_roundtrip(pol, tmp_path):
    spec = [("FR23", 2023, 15000.0)] * 5 + [("ES31", 2023, 5000.0)] * 5
    w, _ = compute_weights(hist(spec), pol, settlement_year=2024, scheme_id="CHS_DRG_11")
    write_weights(w, tmp_path / "w.parquet")
    r = read_weights(tmp_path / "w.parquet")
    assert r.a_fen == w.a_fen and r.years == (2023,) and r.scheme_id == "CHS_DRG_11"
    assert r.policy_id == "zhejiang-province" and r.settlement_year == 2024
    assert r.table.equals(w.table)
    import pyarrow.parquet as pq

    md = pq.read_schema(tmp_path / "w.parquet").metadata
    assert md[b"drg.all_drg_mean_yuan"] == b"10000.0"


def test_missing_columns_named(pol):
    t = hist([("FR23", 2023, 1.0)]).drop_columns(["los"])
    with pytest.raises(InputError, match="los"):
        compute_weights(t, pol, settlement_year=2024)
    t = hist([("FR23", 2023, 1.0)])
    t = t.set_column(t.column_names.index("total_cost"), "total_cost",
                     pa.array([None], pa.float64()))
    with pytest.raises(InputError, match="row 1"):
        compute_weights(t, pol, settlement_year=2024)


def test_year_weights_follow_the_settlement_year(pol):
    # only 2023 present with weights [1, 3] for (2022, 2023): 2023 is the newest year and gets weight 3;
    # weight 0 drops a year entirely
    spec = [("FR23", 2022, 10000.0)] * 5 + [("FR23", 2023, 20000.0)] * 5 + [("ES31", 2023, 5000.0)] * 5
    p = _with(pol, trim={"method": "none"}, year_weights=(Decimal(0), Decimal(1)))
    w, _ = compute_weights(hist(spec), p, settlement_year=2024)
    assert w.years == (2023,) and bp_of(w)["FR23"] == round(20000 / 12500 * 100, 4)
    p = _with(pol, trim={"method": "none"}, year_weights=(Decimal(1), Decimal(0)))
    w, _ = compute_weights(hist(spec), p, settlement_year=2024)
    assert w.years == (2022,) and bp_of(w)["FR23"] == 100.0
