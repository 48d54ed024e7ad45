"""The sums ``drg monitor`` reads from the ledger (:class:`drg.monitoring.sums.LedgerSums`: grouped in DuckDB,
the index terms in numpy over integer codes) against the straightforward way (the whole facts frame read,
prepared and summed in polars, :class:`drg.monitoring.indicators.FrameSums`): equal to the last bit, for
every unit type and span, last year's facts, an empty year, and facts with a NULL key."""

from __future__ import annotations

import shutil

import duckdb
import pytest

SPANS = ((3,), (4, 5, 6), tuple(range(1, 7)), tuple(range(1, 13)), (2, 11))


def _both(ledger, year, months, low_risk=None):
    import polars as pl

    from drg.monitoring.indicators import FrameSums, prepare
    from drg.monitoring.store import read_facts, read_hospitals
    from drg.monitoring.sums import LedgerFacts

    hospitals = read_hospitals(ledger, 2025)
    lean = LedgerFacts(ledger, year).sums(months, hospitals, low_risk)
    facts = read_facts(ledger, year)
    plain = FrameSums(prepare(facts.filter(pl.col("month").is_in(list(months))), hospitals, low_risk))
    return lean, plain, hospitals


def _same(a, b, keys):
    """Equal frames up to row order (the exact sums and the float terms bit for bit)."""
    assert a.columns == b.columns and a.schema == b.schema
    assert a.sort(keys).equals(b.sort(keys)), (a.sort(keys), b.sort(keys))


@pytest.fixture(scope="module")
def ledger(demo_world):
    from drg.settlement.ledger import Ledger

    return Ledger(demo_world["ledger"])


@pytest.fixture(scope="module")
def low_risk(ledger):
    from drg.monitoring.store import read_low_risk

    return read_low_risk(ledger, 2025)[0]


@pytest.mark.parametrize("months", SPANS)
def test_ledger_sums_equal_the_frame_sums(ledger, low_risk, months):
    from drg.monitoring.indicators import UNIT_TYPES
    from drg.monitoring.sums import LedgerSums

    lean, plain, _ = _both(ledger, 2025, months, low_risk)
    assert isinstance(lean, LedgerSums) and not lean.empty and not plain.empty
    for ut in UNIT_TYPES:
        (lp, ld), (pp, pd) = lean.unit_sums(ut), plain.unit_sums(ut)
        assert lp.equals(pp), ut                        # sorted by unit and pool, floats to the last bit
        _same(ld, pd, ["unit"])
    _same(lean.hospital_drg_cells(), plain.hospital_drg_cells(), ["hospital_id", "drg", "pool"])
    _same(lean.hospital_mean_cells(), plain.hospital_mean_cells(), ["pool", "drg", "hospital_id"])
    _same(lean.cc_cells(), plain.cc_cells(), ["hospital_id", "adrg"])
    _same(lean.month_cells(), plain.month_cells(), ["month", "pool", "hospital_id", "county"])


def test_the_indicators_and_tables_are_equal_either_way(ledger, low_risk):
    from drg.monitoring import indicators as ind

    lean, plain, hospitals = _both(ledger, 2025, tuple(range(1, 7)), low_risk)
    pv = {"310": None, "390": None}
    kw = dict(scale=10000, pv_by_pool=pv, hospitals=hospitals)
    assert ind.indicators(lean, low_risk_known=True, **kw).equals(ind.indicators(plain, low_risk_known=True, **kw))
    assert ind.hospital_drg(lean, **kw).equals(ind.hospital_drg(plain, **kw))
    assert ind.cc_shares(lean).sort(["hospital_id", "adrg"]).equals(ind.cc_shares(plain).sort(["hospital_id", "adrg"]))
    last, last_plain, _ = _both(ledger, 2024, tuple(range(1, 7)))
    assert not last.empty
    conv = dict(scale=10000, scale_last=10000, min_cases=2, pv_by_pool=pv)
    assert ind.convergence(lean, last, **conv).equals(ind.convergence(plain, last_plain, **conv))


def test_monitor_period_equals_the_straightforward_way(ledger, monkeypatch):
    """``drg monitor`` with the facts summed in the ledger, and again with every fact read into polars."""
    from drg.monitoring.monitor import monitor_period
    from drg.monitoring.sums import LedgerFacts

    for period in ("2025-Q2", "2025"):
        lean = monitor_period(ledger, period, report=False, store=False)
        with monkeypatch.context() as m:
            m.setattr(LedgerFacts, "codable", property(lambda self: False))
            plain = monitor_period(ledger, period, report=False, store=False)
        for name in ("indicators", "hospital_drg", "convergence"):
            assert getattr(lean, name).equals(getattr(plain, name)), (period, name)
        assert [w.to_dict() for w in lean.warnings] == [w.to_dict() for w in plain.warnings]
        assert (lean.counties, lean.projections, lean.pace) == (plain.counties, plain.projections, plain.pace)


def test_a_year_without_facts(ledger):
    from drg.monitoring import indicators as ind
    from drg.monitoring.sums import LedgerFacts

    facts = LedgerFacts(ledger, 2019)
    assert facts.empty and facts.months == [] and facts.pools() == [] and facts.scale() is None
    sums = facts.sums(None, {}, None)
    assert sums.empty and sums.unit_sums("city") is None
    assert sums.hospital_drg_cells().height == sums.cc_cells().height == sums.month_cells().height == 0
    assert ind.indicators(sums, scale=10000, pv_by_pool={}, hospitals={}, low_risk_known=False).height == 0
    # months the ledger does not cover are no rows either
    assert LedgerFacts(ledger, 2025, (13,)).empty


def test_a_null_key_is_summed_the_straightforward_way(demo_world, tmp_path):
    """No settlement run writes a NULL key; a ledger that has one is still monitored, from the whole frame."""
    from drg.monitoring.indicators import FrameSums
    from drg.monitoring.monitor import monitor_period
    from drg.monitoring.sums import LedgerFacts
    from drg.settlement.ledger import Ledger

    path = tmp_path / "ledger.duckdb"
    shutil.copy(demo_world["ledger"], path)
    con = duckdb.connect(str(path))
    con.execute("UPDATE monitor_facts SET mdc = NULL WHERE month = 2 AND hospital_id = "
                "(SELECT min(hospital_id) FROM monitor_facts)")
    con.close()
    facts = LedgerFacts(Ledger(path), 2025)
    assert not facts.codable and isinstance(facts.sums((2,), {}, None), FrameSums)
    res = monitor_period(path, "2025-Q1", report=False, store=False)
    assert res.indicators.height


def test_unit_sums_are_the_same_whichever_way_the_keys_are_sorted(ledger, low_risk, monkeypatch):
    """The unit × pool keys sorted as 16-bit integers (radix) or as int64 give the same rows, the float terms
    added in the same order to the last bit."""
    from drg.monitoring import sums
    from drg.monitoring.indicators import UNIT_TYPES

    radix, _, _ = _both(ledger, 2025, tuple(range(1, 13)), low_risk)
    monkeypatch.setattr(sums, "RADIX_SORT_KEYS", 0)
    wide, _, _ = _both(ledger, 2025, tuple(range(1, 13)), low_risk)
    for ut in UNIT_TYPES:
        (a, da), (b, db) = radix.unit_sums(ut), wide.unit_sums(ut)
        assert a.equals(b) and da.equals(db), ut
