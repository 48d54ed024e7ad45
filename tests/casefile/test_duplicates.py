"""Repeated case ids: the id-hash kernels against their twins, the streaming finder against the pre-pass, and
the rerun when two different ids share a hash. The streaming finder runs on both engines (its hashing and
its set, or their twins: tests.helpers.engines)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import drg.casefile.idset
from drg.casefile import DuplicateFinder, IdHashCollision, StreamingDuplicateFinder, read_cases, with_duplicate_fallback
from drg.casefile.idset import IdHashSet, hash_ids, id_hash_twin, id_hashes, increasing_twin, insert_marking_twin

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


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(1, 40), max_size=400), st.integers(1, 90), st.integers(0, 3000))
def test_hash_set_marks_what_its_twin_marks(keys, batch, expected):
    """Batches of any size, repeats inside a batch and across batches, and a table that has to grow."""
    spread = np.array(keys, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)  # hashes over every top bucket
    spread[spread == 0] = 1
    fast, seen = IdHashSet(expected), set()
    for k in range(0, len(spread), batch):
        part = spread[k:k + batch]
        assert fast.add(part).tolist() == insert_marking_twin(part, seen).tolist()
    assert fast.count == len(seen)


def test_hash_set_grows_past_its_expected_size():
    rng = np.random.default_rng(5)
    hashes = rng.integers(1, 2**63, 3000, dtype=np.int64).astype(np.uint64)
    hashes = np.concatenate([hashes, hashes[::7]])           # repeats after the table has grown
    fast, seen = IdHashSet(0), set()                        # 1,024 slots to begin with
    for k in range(0, len(hashes), 700):
        assert fast.add(hashes[k:k + 700]).tolist() == insert_marking_twin(hashes[k:k + 700], seen).tolist()
    assert fast.count == len(seen) == 3000 and len(fast._table) >= 3000 / 0.7


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


@pytest.mark.usefixtures("engine")
def test_increasing_ids_fill_no_set():
    finder = StreamingDuplicateFinder(10)
    for batch in (["A1", "A2"], [], ["A3", "B"], ["C"]):
        assert not finder.mark(pa.chunked_array([pa.array(batch, pa.string())])).any()
    assert finder._set is None and not finder.marked_any
    assert finder.mark(pa.chunked_array([pa.array(["D", "A2", "D"])])).tolist() == [False, True, True]
    assert finder._set is not None and finder._set.count == 6


@pytest.mark.usefixtures("engine")
def test_earlier_ids_are_read_again_only_when_the_order_breaks():
    """With ``earlier_ids``, increasing ids are neither hashed nor kept; the first batch out of order has the
    ids before it read again (only as many as went by) and hashed into the set."""
    batches = [["A1", "A2"], ["A3", "A4"], ["B1", "A2", "C", "B1"], ["A4"]]
    calls = []

    def earlier():
        calls.append(1)
        return (pa.chunked_array([pa.array(b)]) for b in batches)

    finder = StreamingDuplicateFinder(10, earlier_ids=earlier)
    marks = [finder.mark(pa.chunked_array([pa.array(b)])).tolist() for b in batches[:2]]
    assert marks == [[False, False], [False, False]] and not calls and not finder._increasing
    assert finder.mark(pa.chunked_array([pa.array(batches[2])])).tolist() == [False, True, False, True]
    assert finder.mark(pa.chunked_array([pa.array(batches[3])])).tolist() == [True]
    assert len(calls) == 1 and finder._set.count == 6


@pytest.mark.usefixtures("engine")
def test_earlier_ids_that_cannot_be_read_again_are_an_error():
    finder = StreamingDuplicateFinder(10, earlier_ids=lambda: iter([pa.chunked_array([pa.array(["A"])])]))
    finder.mark(pa.chunked_array([pa.array(["A", "B"])]))
    with pytest.raises(RuntimeError, match="could not be read again"):
        finder.mark(pa.chunked_array([pa.array(["A"])]))


@pytest.mark.usefixtures("engine")
def test_confirm_accepts_true_repeats():
    finder = StreamingDuplicateFinder(10)
    batches = [pa.chunked_array([pa.array(["A", "B"])]), pa.chunked_array([pa.array(["A", "C"])])]
    assert [finder.mark(b).tolist() for b in batches] == [[False, False], [True, False]]
    finder.confirm(batches)   # "A" really repeats: nothing raised


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
def test_confirm_refuses_a_shared_hash(weak_hash):
    finder = StreamingDuplicateFinder(10)
    ids = pa.chunked_array([pa.array([f"C{i}" for i in range(8)][::-1])])   # (out of order: hashes are set)
    assert finder.mark(ids).sum() == 4     # eight ids, four hashes
    with pytest.raises(IdHashCollision):
        finder.confirm([ids])


@pytest.mark.usefixtures("engine")
def test_a_shared_hash_among_increasing_ids_is_found_by_confirm(weak_hash):
    """Increasing ids are never marked; once the set holds their hashes, a real repeat of one of them also
    marks what shares its hash, and the check after the pass tells the two apart."""
    finder = StreamingDuplicateFinder(10)
    first = pa.chunked_array([pa.array([f"C{i}" for i in range(8)])])
    assert not finder.mark(first).any()
    again = pa.chunked_array([pa.array(["C0"])])
    assert finder.mark(again).tolist() == [True]
    with pytest.raises(IdHashCollision):
        finder.confirm([first, again])


@pytest.mark.usefixtures("engine")
def test_a_shared_hash_reruns_with_the_pre_pass(tmp_path, weak_hash):
    ids = [f"C{i}" for i in range(20)] + ["C3", "C17"]
    path = _ids_file(tmp_path, ids)
    with pytest.raises(IdHashCollision):
        _rejects(path, stream=True)
    assert with_duplicate_fallback(lambda stream: _rejects(path, stream)) == [(21, "duplicate_case_id"),
                                                                             (22, "duplicate_case_id")]


def test_grouping_reruns_on_a_shared_hash_and_writes_the_same_files(tmp_path, built_scheme, engine, weak_hash,
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


def test_pre_pass_twin_still_marks_by_exact_id(tmp_path):
    ids = ["X", "Y", "X"]
    path = _ids_file(tmp_path, ids)
    finder = DuplicateFinder.for_parquet(pq.ParquetFile(path), "case_id", path)
    assert finder.mark(pa.chunked_array([pa.array(ids)])).tolist() == [False, False, True]


def test_a_large_set_is_mapped_zeroed_and_writable():
    """Tables of 32 MB and more are mapped anonymously (huge pages where Linux offers them)."""
    from drg.casefile.idset import _zeroed_table

    table = _zeroed_table(1 << 22)
    assert table.dtype == np.uint64 and len(table) == 1 << 22 and table.flags.writeable
    assert not table[:: 1 << 16].any()
    big = IdHashSet(3_000_000)                                # 2^22 slots: the mapped table
    ids = pa.array([f"C{i}" for i in range(1000)] + ["C5", "C999"])
    assert np.flatnonzero(big.add(id_hashes(ids))).tolist() == [1000, 1001]
