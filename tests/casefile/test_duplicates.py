"""Repeated case ids: the id-hash kernel against its twin, the pre-pass with and without spilling its hashes to
disk, the streaming finder against the pre-pass, and different ids that share a hash told apart. The finders
run on both engines (the kernel's hashing or its twin: tests.helpers.engines)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import drg.casefile.idset
from drg.casefile import DuplicateFinder, StreamingDuplicateFinder, read_cases
from drg.casefile.duplicates import _HashPile
from drg.casefile.idset import hash_ids, id_hash_twin, id_hashes, increasing_twin
from drg.outputs import OutputError

ids_strategy = st.lists(st.one_of(st.none(), st.text(max_size=12), st.sampled_from(["C1", "C2", " C1", "中文"])),
                        max_size=60)


@settings(max_examples=150, deadline=None)
@given(ids_strategy, st.sampled_from([pa.string(), pa.large_string()]), st.integers(0, 5))
def test_id_hashes_agree_with_twin(values, string_type, cut):
    arr = pa.array(values, string_type)
    cut = min(cut, len(values))
    chunked = pa.chunked_array([arr.slice(0, cut), arr.slice(cut)], string_type)  # a slice with an offset
    want = [id_hash_twin(v) for v in values]
    assert id_hashes(arr).tolist() == want
    assert id_hashes(chunked).tolist() == want
    assert 0 not in want


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(alphabet="AB中", max_size=3)), max_size=12),
       st.booleans(), st.integers(0, 12), st.one_of(st.none(), st.text(alphabet="AB中", max_size=3)))
def test_increasing_ids_are_told_as_the_twin_tells_them(values, sort, cut, after):
    if sort:
        values = sorted(set(v for v in values if v is not None), key=str.encode)
    arr = pa.array(values, pa.string())
    cut = min(cut, len(values))
    chunked = pa.chunked_array([arr.slice(0, cut), arr.slice(cut)], pa.string())
    prev = None if after is None else np.frombuffer(after.encode(), np.uint8)
    for ids in (arr, chunked):
        hashed = hash_ids(ids, check_order=True, after=prev)
        assert hashed.hashes.tolist() == [id_hash_twin(v) for v in values]
        assert hashed.increasing == increasing_twin(values, None if after is None else after.encode())
        if hashed.increasing:
            want = values[-1].encode() if values else (None if after is None else after.encode())
            assert (None if hashed.last is None else hashed.last.tobytes()) == want
    assert not hash_ids(arr).increasing          # the order is only checked when asked


def test_id_hashes_of_other_types_hash_their_text():
    assert id_hashes(pa.array([12, None, 7])).tolist() == [id_hash_twin("12"), id_hash_twin(None), id_hash_twin("7")]
    d = pa.array(["b", "a", "b", None]).dictionary_encode()
    assert id_hashes(d).tolist() == [id_hash_twin(v) for v in ["b", "a", "b", None]]


def _ids_file(tmp_path, ids, row_group_size=4, name="ids.parquet"):
    path = tmp_path / name
    pq.write_table(pa.table({"case_id": pa.array(ids, pa.string()), "dx": [["I10.x00"]] * len(ids)}), path,
                   row_group_size=row_group_size)
    return path


def _rejects(path, stream):
    out = []
    for b in read_cases(path, required=("case_id",), batch_rows=3, stream_duplicates=stream):
        if b.rejected is not None:
            out += list(zip(b.rejected.column("row_number").to_pylist(),
                            b.rejected.column("reject_reason").to_pylist()))
    return out


@pytest.mark.usefixtures("engine")
@pytest.mark.parametrize("ids", [
    [f"C{i}" for i in range(12)],
    ["C1", "C2", "C1", "C3", "C2", "C2", "C9", "C1"],   # repeats in a batch and across row groups
    ["C1", None, "C1", None, "", " ", "C 1", "C1 "],     # nulls and blanks are missing, repeats still marked
    ["甲", "乙", "甲", "甲"],
    ["A1", "A2", "A3", "A4", "A5", "A6", "A2", "B1", "A6", "A7"],   # increasing for two batches, then not
    ["C1", "C2", "C3", "C3", "C4"],                                  # an id equal to the one before
    ["B", "A", "B"],
])
def test_streaming_finder_rejects_what_the_pre_pass_rejects(tmp_path, ids):
    path = _ids_file(tmp_path, ids)
    assert _rejects(path, stream=True) == _rejects(path, stream=False)


@pytest.mark.usefixtures("engine")
def test_streaming_finder_on_integer_ids_and_through_a_mapping(tmp_path):
    path = tmp_path / "int.parquet"
    pq.write_table(pa.table({"结算号": pa.array([5, 6, 5, 7, 6], pa.int64()), "dx": [["I10.x00"]] * 5}), path,
                   row_group_size=2)
    mapping = tmp_path / "m.toml"
    mapping.write_text('[columns]\ncase_id = "结算号"\n', encoding="utf-8")
    for stream in (True, False):
        rej = [b.rejected for b in read_cases(path, mapping=mapping, required=("case_id",), stream_duplicates=stream)
               if b.rejected is not None]
        assert pa.concat_tables(rej).column("row_number").to_pylist() == [3, 5]


@pytest.mark.usefixtures("engine")
@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from(["A", "B", "C", "D", "E", "F", "G"]), min_size=1, max_size=10), st.integers(0, 10))
def test_streaming_finder_after_increasing_ids(tmp_path_factory, tail, n_sorted):
    """Any number of increasing ids first (kept as hashes only), then anything."""
    ids = [f"{i:02d}" for i in range(n_sorted)] + tail + [f"{i:02d}" for i in range(0, n_sorted, 3)]
    path = _ids_file(tmp_path_factory.mktemp("ids"), ids)
    assert _rejects(path, stream=True) == _rejects(path, stream=False)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 60), max_size=300), st.integers(1, 50), st.sampled_from([1, 3, 16, 1000]))
def test_hash_pile_finds_the_repeated_hashes_in_memory_or_spilled(keys, batch, memory_rows):
    """Hashes over every top bucket, some repeated inside a batch or across batches; with a small
    ``memory_rows`` they go to temporary parts, which are removed afterwards."""
    from collections import Counter

    spread = np.array(keys, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15) + np.uint64(1)
    pile = _HashPile(len(spread), memory_rows)
    spilled = pile._dir
    try:
        for k in range(0, len(spread), batch):
            pile.add(spread[k:k + batch])
        got = pile.repeated()
    finally:
        pile.close()
    assert got.tolist() == sorted(int(h) for h, c in Counter(spread.tolist()).items() if c > 1)
    assert (spilled is not None) == (len(spread) > memory_rows)
    assert spilled is None or not spilled.exists()


def test_hash_pile_takes_more_rows_than_it_was_told():
    pile = _HashPile(2)
    pile.add(np.array([7, 8, 7], np.uint64))
    pile.add(np.array([8], np.uint64))
    assert pile.repeated().tolist() == [7, 8]


def test_a_pre_pass_that_cannot_spill_names_the_directory(tmp_path, monkeypatch):
    import tempfile

    blocked = tmp_path / "a-file"
    blocked.write_text("not a directory")
    monkeypatch.setattr(tempfile, "tempdir", str(blocked))
    with pytest.raises(OutputError) as err:
        _HashPile(100, memory_rows=10)
    assert err.value.file == str(blocked)


@pytest.mark.usefixtures("engine")
@pytest.mark.parametrize("workers", [1, 3])
def test_a_spilled_pre_pass_marks_what_one_in_memory_marks(tmp_path, workers):
    rng = np.random.default_rng(11)
    ids = [f"C{int(v)}" for v in rng.integers(0, 400, 600)]
    path = _ids_file(tmp_path, ids, row_group_size=50)
    marks = {}
    for memory_rows in (8, 10_000):
        finder = DuplicateFinder.for_parquet(pq.ParquetFile(path), "case_id", path, workers=workers,
                                             memory_rows=memory_rows)
        marks[memory_rows] = np.concatenate([finder.mark(pa.chunked_array([pa.array(ids[k:k + 50])]))
                                             for k in range(0, len(ids), 50)]).tolist()
    seen, want = set(), []
    for v in ids:
        want.append(v in seen)
        seen.add(v)
    assert marks[8] == marks[10_000] == want


@pytest.mark.usefixtures("engine")
def test_increasing_ids_need_no_pre_pass():
    """While the ids increase, nothing is hashed, kept or read again; the first batch out of order runs the
    pre-pass once and shows it the ids that went by (only as many as went by)."""
    batches = [["A1", "A2"], [], ["A3", "A4"], ["B1", "A2", "C", "B1"], ["A4"]]
    calls = []

    def pre_pass():
        calls.append("pre-pass")
        return DuplicateFinder.for_whole(pl.Series([v for b in batches for v in b]))

    def earlier():
        calls.append("earlier")
        return (pa.chunked_array([pa.array(b, pa.string())]) for b in batches)

    finder = StreamingDuplicateFinder(pre_pass, earlier)
    marks = [finder.mark(pa.chunked_array([pa.array(b, pa.string())])).tolist() for b in batches[:3]]
    assert marks == [[False, False], [], [False, False]] and not calls and finder.ordered
    assert finder.mark(pa.chunked_array([pa.array(batches[3])])).tolist() == [False, True, False, True]
    assert finder.mark(pa.chunked_array([pa.array(batches[4])])).tolist() == [True]
    assert calls == ["pre-pass", "earlier"] and not finder.ordered


@pytest.mark.usefixtures("engine")
def test_earlier_ids_that_cannot_be_read_again_are_an_error():
    finder = StreamingDuplicateFinder(lambda: DuplicateFinder.for_whole(pl.Series(["A", "B", "A"])),
                                      lambda: iter([pa.chunked_array([pa.array(["A"])])]))
    finder.mark(pa.chunked_array([pa.array(["A", "B"])]))
    with pytest.raises(RuntimeError, match="could not be read again"):
        finder.mark(pa.chunked_array([pa.array(["A"])]))


@pytest.fixture
def weak_hash(monkeypatch):
    """Make ids hash into four values only, so that different ids share hashes (on the engine's hashing:
    request ``engine`` first)."""
    strong = drg.casefile.idset.hash_ids

    def weak(ids, **kw):
        hashed = strong(ids, **kw)
        if hashed.hashes is None:
            return hashed
        return hashed._replace(hashes=(hashed.hashes & np.uint64(3)) | np.uint64(4))

    monkeypatch.setattr(drg.casefile.idset, "hash_ids", weak)


@pytest.mark.usefixtures("engine")
@pytest.mark.parametrize("stream", [True, False])
def test_ids_that_share_a_hash_are_told_apart(tmp_path, weak_hash, stream):
    ids = [f"C{i}" for i in range(20)][::-1] + ["C3", "C17"]
    path = _ids_file(tmp_path, ids)
    assert _rejects(path, stream) == [(21, "duplicate_case_id"), (22, "duplicate_case_id")]


def test_grouping_with_shared_hashes_writes_what_exact_hashes_write(tmp_path, built_scheme, engine, weak_hash,
                                                                    monkeypatch):
    from drg.grouping import group_file

    scheme = built_scheme("demo")
    ids = [f"C{i}" for i in range(30)] + ["C3", "C29", "C3"]
    path = _ids_file(tmp_path, ids)
    tbl = pq.read_table(path)
    tbl = tbl.append_column("sex", pa.array([1] * len(ids), pa.int8())).append_column(
        "age", pa.array([50] * len(ids), pa.int16()))
    pq.write_table(tbl, path, row_group_size=4)
    weak = group_file(scheme, path, tmp_path / "weak.parquet", rejects=tmp_path / "weak-rej.parquet", slim=True,
                      engine=engine)
    monkeypatch.undo()
    exact = group_file(scheme, path, tmp_path / "exact.parquet", rejects=tmp_path / "exact-rej.parquet",
                       slim=True, engine=engine)
    assert weak.to_dict() | {"out": ""} == exact.to_dict() | {"out": ""}
    assert weak.rejected == 3
    assert pq.read_table(tmp_path / "weak.parquet").equals(pq.read_table(tmp_path / "exact.parquet"))
    assert pq.read_table(tmp_path / "weak-rej.parquet").equals(pq.read_table(tmp_path / "exact-rej.parquet"))


def test_pre_pass_marks_by_exact_id(tmp_path):
    ids = ["X", "Y", "X"]
    path = _ids_file(tmp_path, ids)
    finder = DuplicateFinder.for_parquet(pq.ParquetFile(path), "case_id", path)
    assert finder.mark(pa.chunked_array([pa.array(ids)])).tolist() == [False, False, True]
