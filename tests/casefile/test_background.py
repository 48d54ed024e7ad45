"""The grouping pipeline's background stages: reading ahead and writing behind lose nothing and hide no error."""

from __future__ import annotations

import pytest

from drg.casefile.background import WriteBehind, prefetch


def test_write_behind_writes_everything_in_order():
    seen = []
    behind = WriteBehind(seen.append)
    for i in range(50):
        behind.write(i)
    behind.close()
    assert seen == list(range(50))


def test_write_behind_raises_the_writers_error():
    def fail(item):
        raise OSError("disk full")

    behind = WriteBehind(fail)
    behind.write(0)
    with pytest.raises(OSError, match="disk full"):
        behind.close()          # waits for the thread, then raises what the writer raised
    with pytest.raises(OSError, match="disk full"):
        behind.write(1)         # and every later write says so too


def test_prefetch_passes_items_and_errors():
    assert list(prefetch(iter(range(7)))) == list(range(7))

    def broken():
        yield 1
        raise ValueError("bad row group")

    with pytest.raises(ValueError, match="bad row group"):
        list(prefetch(broken()))


def test_slim_grouping_reads_codes_as_dictionaries_and_agrees_with_full(tmp_path):
    """``--slim`` decodes each distinct code once (Parquet dictionaries); the groups, statuses and notes are
    those of the full run, blank and unknown codes included."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from grouper.build import build_scheme
    from drg.grouping import group_file
    from drg.synth.samples import schemes

    sample = schemes()["demo"]
    scheme, _ = build_scheme(sample.rules_dir, sample.codes_dir)
    dx = [["J18.900", "E11.900"], ["J18.900", "NOPE.1"], ["  ", ""], ["i63.900 ", "I10.x00"], ["J44.900"], None]
    px = [[], ["99.9999"], [], [], ["33.2400"], []]
    n = len(dx)
    t = pa.table({"case_id": [f"c{i}" for i in range(n)], "sex": pa.array([1] * n, pa.int8()),
                  "age": pa.array([60] * n, pa.int16()), "dx": pa.array(dx, pa.list_(pa.string())),
                  "px": pa.array(px, pa.list_(pa.string()))})
    src = tmp_path / "cases.parquet"
    pq.write_table(t, src, row_group_size=4)
    slim = group_file(scheme, src, tmp_path / "slim.parquet", slim=True, rejects=tmp_path / "r1.csv")
    full = group_file(scheme, src, tmp_path / "full.parquet", slim=False, rejects=tmp_path / "r2.csv")
    assert (slim.rows, slim.rejected) == (full.rows, full.rejected) == (4, 2)   # two rows have no diagnosis
    cols = ["case_id", "mdc", "adrg", "drg", "cc_level", "group_status", "group_note"]
    assert pq.read_table(tmp_path / "slim.parquet").select(cols).equals(
        pq.read_table(tmp_path / "full.parquet").select(cols))
    assert pq.read_table(tmp_path / "full.parquet").schema.field("dx").type == pa.list_(pa.string())
    # the summary's counts (taken on the kernel's integer output) equal the written columns' value counts
    from collections import Counter

    written = pq.read_table(tmp_path / "slim.parquet")
    assert slim.by_status == full.by_status == Counter(written.column("group_status").to_pylist())
    assert slim.by_mdc == full.by_mdc == Counter(written.column("mdc").to_pylist())


def test_grouping_pipeline_gives_back_the_callers_kernel_threads(tmp_path):
    """The pipeline runs the kernel on the cores its other threads leave (at least one) and restores the
    calling thread's numba setting afterwards."""
    import numba
    import pyarrow as pa

    from drg.casefile.background import available_cores
    from drg.synth.samples import schemes
    from grouper.build import build_scheme
    from drg.grouping import group_batches, kernel_threads

    sample = schemes()["demo"]
    scheme, _ = build_scheme(sample.rules_dir, sample.codes_dir)
    assert 1 <= kernel_threads() <= max(1, available_cores() - 2)
    batch = pa.table({"case_id": ["a"], "sex": pa.array([1], pa.int8()), "age": pa.array([60], pa.int16()),
                      "dx": pa.array([["J18.900"]], pa.list_(pa.string()))})
    before = numba.get_num_threads()
    group_batches(scheme, [batch], tmp_path / "g.parquet")
    assert numba.get_num_threads() == before
