"""``drg weights``' scan of its history files (:func:`drg.pricing.coefficients.scan_history`): the one-pass
kernel of :mod:`drg.pricing.history_scan` against the numpy passes it replaced (its twin) on histories with
every kind of value the rows can hold — missing DRG, hospital, date, status; ungroupable and ambiguous
groups; per-diem by DRG, ADRG and length of stay; fen and stays too wide for the narrow arrays; dictionaries
that differ between row groups and files; CSV as well as Parquet."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drg.errors import InputError
from drg.policy import load_policy
from drg.pricing import history_scan
from drg.pricing.coefficients import scan_history

DRGS = ["FR23", "GB19", "0000", "ES31", "FRQY", None, " ", "GZ11"]
ADRGS = ["FR2", "GB1", None, "ES3", "GZ1"]


def _history(rng: np.random.Generator, n: int, *, years=(2023, 2024), wide: bool = False) -> pa.Table:
    day0 = np.array([(dt.date(y, 1, 1) - dt.date(1970, 1, 1)).days for y in years])
    days = rng.choice(day0, n) + rng.integers(0, 365, n)
    cost = rng.integers(0, 5_000_000, n)
    los = rng.integers(0, 40, n)
    if wide:
        cost[rng.integers(0, n, 3)] = 2**40
        los[rng.integers(0, n, 3)] = 40_000
    return pa.table({
        "hospital_id": pa.array(rng.choice(["H01", "H02", "H03", None], n, p=[.4, .3, .29, .01]).tolist(),
                                pa.string()),
        "drg": pa.array(rng.choice(np.array(DRGS, dtype=object), n).tolist(), pa.string()),
        "adrg": pa.array(rng.choice(np.array(ADRGS, dtype=object), n).tolist(), pa.string()),
        "los": pa.array(los, pa.int32() if not wide else pa.int64(), mask=rng.random(n) < .02),
        "discharge_date": pa.array(days.astype(np.int32), pa.int32(), mask=rng.random(n) < .02).cast(pa.date32()),
        "discharge_status": pa.array(rng.choice([1, 5, 2], n), pa.int8(), mask=rng.random(n) < .05),
        "group_status": pa.array(rng.choice(["ok", "ok", "ungroupable", None], n).tolist(), pa.string()),
        "total_cost_fen": pa.array(cost, pa.int64()),
    }, metadata={b"drg.scheme_id": b"test"})


def _write(tmp_path: Path, name: str, t: pa.Table, row_group: int = 97) -> Path:
    path = tmp_path / name
    pq.write_table(t, path, row_group_size=row_group)
    return path


def _scan(files, pol, engine: str, monkeypatch):
    with monkeypatch.context() as mp:
        mp.setattr(history_scan, "ENGINE", engine)
        return scan_history(files, pol)


def _equal(a, b) -> None:
    for f in ("drg", "hospital", "year", "cost_fen", "bed_days", "per_diem"):
        x, y = getattr(a.rows, f), getattr(b.rows, f)
        assert x.dtype == y.dtype and np.array_equal(x, y), f
    assert a.rows.drg_names == b.rows.drg_names and a.rows.hospital_names == b.rows.hospital_names
    assert np.array_equal(a.years, b.years) and a.years.dtype == b.years.dtype
    assert a.cases == b.cases and a.hospitals == b.hospitals
    assert a.deaths.order == b.deaths.order and a.deaths.counts == b.deaths.counts


@pytest.mark.parametrize("wide", [False, True])
@pytest.mark.parametrize("policy", ["demo", "zhejiang-province", "per-diem"])
def test_the_kernel_scans_as_the_numpy_passes(tmp_path, monkeypatch, wide, policy):
    pol = load_policy("demo" if policy == "per-diem" else policy)
    if policy == "per-diem":
        pol = replace(pol, per_diem=replace(pol.per_diem, drgs=("GB19", "GZ1"), min_los=30))
    rng = np.random.default_rng(7)
    files = [_write(tmp_path, "h1.parquet", _history(rng, 3000, wide=wide)),
             _write(tmp_path, "h2.parquet", _history(rng, 2000, years=(2022, 2024)), row_group=500)]
    fast = _scan(files, pol, "numba", monkeypatch)
    _equal(fast, _scan(files, pol, "python", monkeypatch))
    assert fast.rows.cost_fen.dtype == (np.int64 if wide else np.int32)
    assert fast.rows.bed_days.dtype == (np.int32 if wide else np.int16)
    assert None in fast.hospitals and 0 in fast.years.tolist()
    assert fast.rows.per_diem.any() == (policy == "per-diem")


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 400), st.integers(0, 2**31), st.sampled_from([1, 7, 64]))
def test_any_history_scans_as_the_numpy_passes(tmp_path_factory, n, seed, row_group):
    tmp = tmp_path_factory.mktemp("scan")
    rng = np.random.default_rng(seed)
    files = [_write(tmp, "h.parquet", _history(rng, n), row_group=row_group)]
    pol = load_policy("demo")
    with pytest.MonkeyPatch.context() as mp:
        fast = _scan(files, pol, "numba", mp)
        _equal(fast, _scan(files, pol, "python", mp))


def test_a_csv_history_scans_as_the_numpy_passes(tmp_path, monkeypatch):
    from tests.helpers.grouped_cases import case_rows

    rows = [{"hospital_id": h, "drg": d, "cost": c, "admit": dt.date(y, 4, 2), "los": los}
            for h, d, c, y, los in (("H01", "FR23", 12000.5, 2023, 3), ("H02", "0000", 900.0, 2024, 2),
                                    ("H01", "GB19", 31000.0, 2024, 45), ("H03", "FR23", 8000.25, 2023, 1))]
    t = case_rows(rows)
    path = tmp_path / "h.csv"
    import pyarrow.csv as pcsv

    pcsv.write_csv(t, path)
    pol = load_policy("demo")
    fast = _scan([path], pol, "numba", monkeypatch)
    _equal(fast, _scan([path], pol, "python", monkeypatch))
    assert fast.rows.cost_fen.tolist() == [1200050, 3100000, 800025]


def test_years_far_from_today_and_beyond_9999(tmp_path, monkeypatch):
    """Years outside the kernel's table (1900–2199) are computed, and a year past 9999 sends the whole scan to
    the numpy passes: the same result either way."""
    rng = np.random.default_rng(3)
    t = _history(rng, 300, years=(1850, 2300))
    files = [_write(tmp_path, "old.parquet", t)]
    pol = load_policy("demo")
    _equal(_scan(files, pol, "numba", monkeypatch), _scan(files, pol, "python", monkeypatch))
    days = np.full(300, 3_700_000, np.int32)              # (the year 12100)
    far = t.set_column(t.column_names.index("discharge_date"), "discharge_date",
                       pa.array(days, pa.int32(), mask=np.arange(300) == 7).cast(pa.date32()))
    files = [_write(tmp_path, "far.parquet", far)]
    import drg.pricing.coefficients as coefficients

    called = []
    real = coefficients._projected_numpy
    monkeypatch.setattr(coefficients, "_projected_numpy", lambda *a: called.append(1) or real(*a))
    fast = _scan(files, pol, "numba", monkeypatch)
    assert called and 12100 in fast.years.tolist()
    _equal(fast, _scan(files, pol, "python", monkeypatch))


def test_a_stay_too_long_is_an_error_naming_file_row_and_field(tmp_path, monkeypatch):
    rng = np.random.default_rng(1)
    t = _history(rng, 500, wide=True)
    t = t.set_column(t.column_names.index("drg"), "drg", pa.array(["FR23"] * 500))
    los = t.column("los").to_numpy(zero_copy_only=False).copy()
    los[321] = 2**31
    t = t.set_column(t.column_names.index("los"), "los", pa.array(np.nan_to_num(los).astype(np.int64)))
    path = _write(tmp_path, "h.parquet", t, row_group=100)
    with pytest.raises(InputError) as err:
        _scan([path], load_policy("demo"), "numba", monkeypatch)
    assert (err.value.file, err.value.row, err.value.field) == (str(path), 322, "los")


def test_civil_year_is_arrows_year():
    days = np.concatenate([np.arange(-800_000, 3_000_000, 997), np.arange(-30, 30), [-719468, -719469, 0]])
    want = pc.year(pa.array(days.astype(np.int32), pa.int32()).cast(pa.date32())).to_numpy()
    got = np.array([history_scan.civil_year(int(d)) for d in days])
    assert np.array_equal(got, want)
    table = history_scan.YEAR_OF_DAY
    first = history_scan.FIRST_DAY
    span = np.arange(first, first + len(table))
    assert np.array_equal(table, pc.year(pa.array(span.astype(np.int32)).cast(pa.date32())).to_numpy())


@pytest.mark.parametrize("wide", [False, True])
def test_pages_touched_ahead_of_the_kernel_change_nothing(tmp_path, monkeypatch, wide):
    """With the page toucher on (every history here; slices of 64 rows, so the kernel waits for it between
    batches) the scan is the numpy passes', also when a column is widened mid-scan (the toucher is then
    stopped: its arrays are not the projection's any more); it is stopped once."""
    monkeypatch.setattr(history_scan, "TOUCH_MIN_ROWS", 1)
    monkeypatch.setattr(history_scan.PageToucher, "SLICE", 64)
    stopped = []
    real_stop = history_scan.PageToucher.stop
    monkeypatch.setattr(history_scan.PageToucher, "stop", lambda self: stopped.append(self._done) or real_stop(self))
    rng = np.random.default_rng(9)
    files = [_write(tmp_path, "h1.parquet", _history(rng, 3000)),
             _write(tmp_path, "h2.parquet", _history(rng, 2000, wide=wide), row_group=300)]
    pol = load_policy("demo")
    fast = _scan(files, pol, "numba", monkeypatch)
    _equal(fast, _scan(files, pol, "python", monkeypatch))
    assert len(stopped) == 1


def test_the_toucher_stops_when_a_batch_fails(tmp_path, monkeypatch):
    monkeypatch.setattr(history_scan, "TOUCH_MIN_ROWS", 1)
    threads = []
    real_init = history_scan.PageToucher.__init__

    def init(self, *a):
        real_init(self, *a)
        threads.append(self._thread)

    monkeypatch.setattr(history_scan.PageToucher, "__init__", init)
    rng = np.random.default_rng(1)
    t = _history(rng, 500)
    t = t.set_column(t.column_names.index("drg"), "drg", pa.array(["FR23"] * 500))
    t = t.set_column(t.column_names.index("los"), "los", pa.array([3] * 499 + [2**31], pa.int64()))
    with pytest.raises(InputError):
        _scan([_write(tmp_path, "h.parquet", t)], load_policy("demo"), "numba", monkeypatch)
    assert threads and not any(th.is_alive() for th in threads)
