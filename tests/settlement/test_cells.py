"""The settlement's sums per cell (:mod:`drg.settlement.cells`): the kernel and its plain twin give the same
cells, in order of first appearance, with exact sums and each cell's first values, whatever the batches —
and the same as a polars group-by of all the rows at once."""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import drg.settlement.cells as cells_module
from drg.settlement.cells import CellSums


def _run(engine: str, batches, n_keys: int, n_sums: int, mp: pytest.MonkeyPatch) -> CellSums:
    mp.setattr(cells_module, "ENGINE", engine)
    cells = CellSums(n_keys, n_sums, 2)
    for keys, sums, firsts in batches:
        cells.add(keys, sums, firsts)
    return cells


def _reference(batches, n_keys: int, n_sums: int) -> pl.DataFrame:
    keys = np.concatenate([b[0] for b in batches], axis=1)
    sums = np.concatenate([b[1] for b in batches], axis=1)
    firsts = np.concatenate([b[2] for b in batches], axis=1)
    df = pl.DataFrame({**{f"k{j}": keys[j] for j in range(n_keys)}, **{f"s{j}": sums[j] for j in range(n_sums)},
                       "f0": firsts[0], "f1": firsts[1]})
    return (df.group_by([f"k{j}" for j in range(n_keys)], maintain_order=True)
            .agg([pl.col(f"s{j}").sum() for j in range(n_sums)] + [pl.col("f0").first(), pl.col("f1").first()]))


def _as_frame(cells: CellSums, n_keys: int, n_sums: int) -> pl.DataFrame:
    n = cells.n_cells
    # copies: polars would share the cells' own columns, which sorting the cells changes in place
    return pl.DataFrame({**{f"k{j}": cells.keys[:n, j].copy() for j in range(n_keys)},
                         **{f"s{j}": cells.sums[j, :n].copy() for j in range(n_sums)},
                         "f0": cells.firsts[0, :n].copy(), "f1": cells.firsts[1, :n].copy()})


def _batches(rng: np.random.Generator, sizes: list[int], n_keys: int, n_sums: int, distinct: int):
    out = []
    for n in sizes:
        keys = rng.integers(0, distinct, size=(n_keys, n)).astype(np.int32)
        keys[0] = rng.integers(-3, 2**31 - 1, size=n) if distinct > 1000 else keys[0]
        sums = rng.integers(-2**40, 2**40, size=(n_sums, n))
        firsts = rng.integers(0, 2**32, size=(2, n), dtype=np.uint64).astype(np.uint32)
        out.append((keys, sums, firsts))
    return out


@pytest.mark.parametrize("distinct", [1, 3, 50, 10**6], ids=["one-cell", "few", "many", "mostly-distinct"])
def test_kernel_and_twin_give_the_cells_of_a_group_by(distinct):
    rng = np.random.default_rng(distinct)
    batches = _batches(rng, [0, 1, 700, 5, 3000, 2048], 8, 15, distinct)
    with pytest.MonkeyPatch.context() as mp:
        fast = _run("numba", batches, 8, 15, mp)
        plain = _run("python", batches, 8, 15, mp)
    expected = _reference([b for b in batches if b[0].shape[1]], 8, 15)
    assert fast.n_cells == plain.n_cells == expected.height
    assert _as_frame(fast, 8, 15).equals(_as_frame(plain, 8, 15))
    assert _as_frame(fast, 8, 15).cast(expected.schema).equals(expected)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.tuples(st.integers(0, 3), st.integers(-1, 1), st.integers(-10**15, 10**15)),
                         max_size=40), min_size=1, max_size=6))
def test_any_batches_through_both_engines(rows_per_batch):
    batches = []
    for rows in rows_per_batch:
        n = len(rows)
        keys = np.array([[r[0] for r in rows], [r[1] for r in rows]], np.int32).reshape(2, n)
        sums = np.array([[r[2] for r in rows]], np.int64).reshape(1, n)
        firsts = np.vstack([np.arange(n, dtype=np.uint32), np.full(n, len(batches), np.uint32)])
        batches.append((keys, sums, firsts))
    with pytest.MonkeyPatch.context() as mp:
        fast = _run("numba", batches, 2, 1, mp)
        plain = _run("python", batches, 2, 1, mp)
    assert _as_frame(fast, 2, 1).equals(_as_frame(plain, 2, 1))
    nonempty = [b for b in batches if b[0].shape[1]]
    if nonempty:
        assert _as_frame(fast, 2, 1).cast(_reference(nonempty, 2, 1).schema).equals(_reference(nonempty, 2, 1))
    else:
        assert fast.n_cells == 0


def test_the_table_grows_past_its_first_size_and_keeps_every_cell():
    """Batches added one after another, each with new cells, so the lookup table is rebuilt several times."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(cells_module, "ENGINE", "numba")
        cells = CellSums(1, 1, 2)
        for b in range(12):
            ids = np.arange(b * 1000, (b + 1) * 1000, dtype=np.int32)
            cells.add(np.vstack([ids, ids[::-1]])[:1], np.ones((1, 1000), np.int64), np.zeros((2, 1000), np.uint32))
            cells.add(ids[None, :], np.ones((1, 1000), np.int64), np.zeros((2, 1000), np.uint32))
    assert cells.n_cells == 12_000
    assert (cells.sums[0, :12_000] == 2).all()
    assert (cells.keys[:12_000, 0] == np.arange(12_000)).all()


def test_reserve_keeps_what_is_there():
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(cells_module, "ENGINE", "numba")
        cells = CellSums(2, 1, 2)
        cells.reserve(3)
        cells.add(np.array([[1, 2, 1], [0, 0, 0]], np.int32), np.array([[5, 6, 7]]), np.array([[9, 8, 7]] * 2, np.uint32))
        cells.reserve(10**6)
        cells.add(np.array([[2], [0]], np.int32), np.array([[1]]), np.array([[0], [0]], np.uint32))
    assert cells.n_cells == 2
    assert cells.sums[0, :2].tolist() == [12, 7]
    assert cells.firsts[:, :2].tolist() == [[9, 8], [9, 8]]


def test_priced_sums_equal_on_both_engines(engine, tmp_path):
    """A priced file of many cells summed under the test's engine equals the numba sums (cells in order of
    first appearance: the same frame, not only the same set of rows)."""
    from drg.policy import load_policy
    from drg.settlement.aggregates import FINE_KEYS, priced_sums
    from tests.helpers.priced_cases import case, write_priced

    rows = []
    for i in range(400):
        rows.append(case(f"c{i:04d}", f"H{i % 7}", float(i % 13) + 0.25, county=f"C{i % 3}",
                         day=date(2024 + (i % 2), 1 + i % 12, 1 + i % 28), drg=("FR21", "GB19", "")[i % 3],
                         case_class=("normal", "high", "low", "normal")[i % 4], fund_paid=100.0 + i,
                         self_paid=float(i % 5)))
    path = write_priced(tmp_path / "priced.parquet", rows)
    pol = load_policy("demo")
    got = priced_sums(path, 2025, pol, batch_rows=64)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(cells_module, "ENGINE", "numba")
        fast = priced_sums(path, 2025, pol, batch_rows=64)
    assert got.fine.equals(fast.fine)
    assert got.in_order and got.fine.equals(got.fine.sort(FINE_KEYS))
    assert got.fine["cases"].sum() == 400
    assert got.fine["fund_paid"].sum() == sum(round((100.0 + i) * 100) for i in range(400))


def test_priced_sums_enums_leave_out_values_only_other_years_had(tmp_path):
    """A hospital, county and DRG seen only in rows of another year (counted, not summed) are not categories
    of the sums' enums; the values the cells have keep their strings' order and their cells."""
    import polars as pl

    from drg.policy import load_policy
    from drg.settlement.aggregates import priced_sums
    from tests.helpers.priced_cases import case, write_priced

    rows = [case(f"c{i:03d}", ("H2", "H1")[i % 2], 1.5, county=("C2", "C1")[i % 2], day=date(2025, 1 + i % 12, 3),
                 drg=("GB19", "FR21")[i % 2], fund_paid=10.0 + i) for i in range(40)]
    rows += [case(f"x{i:03d}", "H0-OLD", 2.0, county="C0-OLD", day=date(2022, 5, 1), drg="AA11", fund_paid=1.0)
             for i in range(5)]
    path = write_priced(tmp_path / "priced.parquet", rows)
    got = priced_sums(path, 2025, load_policy("demo"))
    assert got.rows_other_years == 5 and got.rows_read == 45
    fine = got.fine
    for col, values in (("hospital_id", ["H1", "H2"]), ("county", ["C1", "C2"]), ("drg", ["FR21", "GB19"])):
        assert isinstance(fine.schema[col], pl.Enum) and fine.schema[col].categories.to_list() == values
    by_hospital = dict(fine.group_by(pl.col("hospital_id").cast(pl.String)).agg(pl.col("cases").sum()).iter_rows())
    assert by_hospital == {"H1": 20, "H2": 20}


@pytest.mark.parametrize("spread", [5, 2**31 - 1], ids=["folded", "column-by-column"])
def test_cells_sorted_by_their_keys(spread):
    """Cells sorted in place by their key rows: folded into one int64 where the ranges allow, else column by
    column (keys spanning the whole int32 range in every column); each cell keeps its own sums and firsts."""
    from drg.settlement.aggregates import _Codes, _sort_cells

    rng = np.random.default_rng(7)
    n_keys = 8
    keys = rng.integers(-spread, spread, size=(n_keys, 3000)).astype(np.int32)
    keys[:, 1500:] = keys[:, :1500]                 # every cell twice
    sums = np.vstack([np.arange(3000, dtype=np.int64) % 1500, np.ones(3000, np.int64)])
    firsts = np.vstack([np.arange(3000) % 1500, np.zeros(3000)]).astype(np.uint32)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(cells_module, "ENGINE", "numba")
        cells = CellSums(n_keys, 2, 2)
        cells.add(keys, sums, firsts)
    before = _as_frame(cells, n_keys, 2)
    _sort_cells(cells, _Codes())
    after = _as_frame(cells, n_keys, 2)
    assert after.equals(before.sort([f"k{j}" for j in range(n_keys)]))
    assert (after["s0"] == 2 * after["f0"].cast(pl.Int64)).all() and (after["s1"] == 2).all()


def test_settlement_modules_import_numba_only_when_a_file_is_summed():
    """The cell kernel's module (numba) is imported by `priced_sums`, not by importing the settlement."""
    import subprocess
    import sys

    code = "import sys, drg.settlement.runs, drg.settlement.aggregates; print('numba' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False"]
