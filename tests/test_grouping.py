"""Grouping case files (:mod:`drg.grouping`): the pipeline that reads with :mod:`drg.casefile`, groups with
:mod:`grouper` and writes the grouped file; errors reach the caller and leave no half-written file, slim files
read as plain strings. Every test on both engines."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest


def test_slim_grouping_reads_codes_as_dictionaries_and_agrees_with_full(tmp_path, built_scheme, engine):
    """``--slim`` decodes each distinct code once (Parquet dictionaries); the groups, statuses and notes are
    those of the full run, blank and unknown codes included."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from drg.grouping import group_file

    scheme = built_scheme("demo")
    dx = [["J18.900", "E11.900"], ["J18.900", "NOPE.1"], ["  ", ""], ["i63.900 ", "I10.x00"], ["J44.900"], None]
    px = [[], ["99.9999"], [], [], ["33.2400"], []]
    n = len(dx)
    t = pa.table({"case_id": [f"c{i}" for i in range(n)], "sex": pa.array([1] * n, pa.int8()),
                  "age": pa.array([60] * n, pa.int16()), "dx": pa.array(dx, pa.list_(pa.string())),
                  "px": pa.array(px, pa.list_(pa.string()))})
    src = tmp_path / "cases.parquet"
    pq.write_table(t, src, row_group_size=4)
    slim = group_file(scheme, src, tmp_path / "slim.parquet", slim=True, rejects=tmp_path / "r1.csv", engine=engine)
    full = group_file(scheme, src, tmp_path / "full.parquet", slim=False, rejects=tmp_path / "r2.csv",
                      engine=engine)
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


def test_grouping_pipeline_gives_back_the_callers_kernel_threads(tmp_path, built_scheme, engine):
    """The pipeline runs the kernel on the cores its other threads leave (at least one) and restores the
    calling thread's numba setting afterwards."""
    import numba
    import pyarrow as pa

    from drg.casefile import available_cores
    from drg.grouping import group_batches, kernel_threads

    scheme = built_scheme("demo")
    assert 1 <= kernel_threads() <= max(1, available_cores() - 2)
    batch = pa.table({"case_id": ["a"], "sex": pa.array([1], pa.int8()), "age": pa.array([60], pa.int16()),
                      "dx": pa.array([["J18.900"]], pa.list_(pa.string()))})
    before = numba.get_num_threads()
    group_batches(scheme, [batch], tmp_path / "g.parquet", engine=engine)
    assert numba.get_num_threads() == before


def _one_case_then_a_broken_stream(scheme_path: Path):
    """The scheme, a one-case batch, and a batch stream that yields it and then fails like a bad file."""
    from drg.errors import InputError
    from grouper import load_scheme

    s = load_scheme(scheme_path)
    good = pa.table({"case_id": ["a"], "sex": pa.array([1], pa.int8()), "age": pa.array([40], pa.int16()),
                     "dx": pa.array([[s.dx_codes[0]]], pa.list_(pa.string()))})

    def batches():
        yield good
        raise InputError("broken row group", file="x.parquet")

    return s, good, batches


def test_reader_errors_reach_the_caller_through_the_prefetch_thread(tmp_path, demo_scheme_file, engine):
    from drg.errors import InputError
    from drg.grouping import group_batches

    s, good, batches = _one_case_then_a_broken_stream(demo_scheme_file)
    with pytest.raises(InputError, match="broken row group"):
        group_batches(s, batches(), tmp_path / "o.parquet", engine=engine)
    summary = group_batches(s, iter([good, good]), tmp_path / "o2.parquet", engine=engine)
    assert summary.rows == 2 and pq.read_table(tmp_path / "o2.parquet").num_rows == 2


def test_a_failed_run_leaves_no_half_grouped_file(tmp_path, demo_scheme_file, engine):
    from drg.errors import InputError
    from drg.grouping import group_batches

    s, good, batches = _one_case_then_a_broken_stream(demo_scheme_file)
    out = tmp_path / "o.parquet"
    group_batches(s, iter([good]), out, slim=True, engine=engine)
    before = out.read_bytes()
    for slim in (False, True):
        with pytest.raises(InputError):
            group_batches(s, batches(), out, slim=slim, engine=engine)
        assert out.read_bytes() == before and not list(tmp_path.glob("*.partial"))
    with pytest.raises(InputError):
        group_batches(s, batches(), tmp_path / "new.parquet", engine=engine)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.parquet"]


def test_slim_file_reads_as_plain_strings_with_its_scheme_id(tmp_path, demo_scheme_file, engine):
    """--slim writes the result columns as dictionary indices without an Arrow schema: every reader sees the
    contract's plain strings, the values equal the decoded kernel output, and the scheme id is kept."""
    import polars as pl

    from grouper.batch import RESULT_COLUMNS, BatchGrouper
    from drg.grouping import group_batches, scheme_id
    from grouper import load_scheme

    s = load_scheme(demo_scheme_file)
    dx = pa.array([[s.dx_codes[0], "ZZZ99"], [], [s.dx_codes[5]], None], pa.list_(pa.string()))
    batch = pa.table({"case_id": ["a", "b", "c", "d"], "sex": pa.array([1, 2, 0, 1], pa.int8()),
                      "age": pa.array([40, 50, 60, 70], pa.int16()), "dx": dx})
    slim, full = tmp_path / "slim.parquet", tmp_path / "full.parquet"
    group_batches(s, iter([batch, batch.slice(1)]), slim, slim=True, engine=engine)
    group_batches(s, iter([batch, batch.slice(1)]), full, engine=engine)
    got = pq.read_table(slim)
    assert got.schema.field("drg").type == pa.string() and got.schema.field("cc_level").type == pa.int8()
    assert got.column_names == ["case_id", *RESULT_COLUMNS]
    assert pl.read_parquet(slim).schema["group_note"] == pl.String
    assert pq.read_schema(slim).metadata[b"drg.scheme_id"].decode() == scheme_id(s)
    want = BatchGrouper(s, engine=engine).group(batch)
    for c in RESULT_COLUMNS:
        assert got.column(c).to_pylist() == want[c].to_pylist() + want[c].to_pylist()[1:]
        assert pq.read_table(full).column(c).to_pylist() == got.column(c).to_pylist()
    full_schema = pq.read_schema(full)
    assert full_schema.field("drg").type == pa.string() and full_schema.field("age").type == pa.int16()
    assert full_schema.field("group_note").type == pa.string()
    assert "ZZZ99" in got.column("group_note")[0].as_py()
    assert got.column("drg").to_pylist()[1] == "0000"
    meta = pq.ParquetFile(slim).metadata.row_group(0)
    assert [meta.column(k).is_stats_set for k in range(meta.num_columns)] == [True] + [False] * 7


def test_openmp_workers_sleep_from_the_first_thread_numba_starts(tmp_path, demo_scheme_file):
    """OpenMP reads OMP_WAIT_POLICY once, when numba starts its threading layer; the grouping pipeline asks
    numba for its thread count before the kernel runs, so the kernel module's setting must already be in
    place then (before it was not, and an idle OpenMP worker spun through every `drg group`: 3.6 s of CPU
    over 10 M cases). Checked in a fresh interpreter through the library, without the command line's
    settings, and for the command line's batch settings."""
    import os
    import subprocess
    import sys

    from tests.helpers.paths import REPO

    code = """
import os, sys, importlib.abc
seen = []
class Hook(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name in ("numba.np.ufunc.omppool", "numba.np.ufunc.tbbpool", "numba.np.ufunc.workqueue"):
            seen.append(os.environ.get("OMP_WAIT_POLICY"))
        return None
sys.meta_path.insert(0, Hook())
if sys.argv[3] == "cli":
    from drg.cli.runtime import batch_process
    batch_process("check")
    import numba
    numba.get_num_threads()
else:
    from drg.grouping import group_batches
    from tests.test_grouping import _one_case_then_a_broken_stream
    s, good, _ = _one_case_then_a_broken_stream(sys.argv[1])
    group_batches(s, iter([good]), sys.argv[2])
print(seen)
"""
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    for how in ("library", "cli"):
        out = subprocess.run([sys.executable, "-c", code, str(demo_scheme_file), str(tmp_path / "o.parquet"), how],
                             capture_output=True, text=True, check=True, env=env, cwd=REPO).stdout
        seen = eval(out.strip().splitlines()[-1])
        assert seen and set(seen) == {"PASSIVE"}, (how, seen)
    # a value the user set is kept
    out = subprocess.run([sys.executable, "-c", code, str(demo_scheme_file), str(tmp_path / "o.parquet"), "cli"],
                         capture_output=True, text=True, check=True, env=env | {"OMP_WAIT_POLICY": "ACTIVE"},
                         cwd=REPO).stdout
    assert set(eval(out.strip().splitlines()[-1])) == {"ACTIVE"}
