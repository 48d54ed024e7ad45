"""The parts of a distributed run that need no cluster: datasets and their documented order, the portable
bucket hash, overlapping id ranges, ids repeated from earlier files, and the partial-result functions that a
partition computes and the client combines."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest


def _write(path, ids):
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({"case_id": ids}), path)


def test_dataset_order_and_hidden_files(tmp_path):
    from drg.distributed.dataset import open_dataset

    for rel in ("year=2025/month=10/part-0.parquet", "year=2025/month=02/part-0.parquet",
                "year=2024/month=12/part-1.parquet", "year=2024/month=12/part-0.parquet",
                "_rejects/year=2025/month=02/part-0.parquet", ".drg-tmp-1/x.parquet",
                "year=2025/month=03/part-0.parquet.partial"):
        _write(tmp_path / rel, ["a"])
    (tmp_path / "_manifest.json").write_text("{}")
    ds = open_dataset(tmp_path)
    assert [p.name for p in ds] == ["year=2024/month=12/part-0.parquet", "year=2024/month=12/part-1.parquet",
                                    "year=2025/month=02/part-0.parquet", "year=2025/month=10/part-0.parquet"]
    assert [p.index for p in ds] == [0, 1, 2, 3]
    assert ds.output(tmp_path / "out", ds.partitions[2]) == tmp_path / "out/year=2025/month=02/part-0.parquet"
    listed = open_dataset([tmp_path / "year=2025/month=10/part-0.parquet", tmp_path / "year=2024/month=12"])
    assert [p.name for p in listed] == ["year=2025/month=10/part-0.parquet", "year=2024/month=12/part-0.parquet",
                                        "year=2024/month=12/part-1.parquet"]


def test_dataset_errors(tmp_path):
    from drg.distributed.dataset import open_dataset
    from drg.errors import InputError

    with pytest.raises(InputError, match="not found"):
        open_dataset(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no Parquet file"):
        open_dataset(tmp_path / "empty")
    _write(tmp_path / "a.parquet", ["x"])
    with pytest.raises(InputError, match="twice"):
        open_dataset([tmp_path / "a.parquet", tmp_path / "a.parquet"])


def test_split_cases_keeps_every_row_in_order(tmp_path):
    from drg.distributed.dataset import open_dataset, split_cases

    import datetime as dt

    t = pa.table({"case_id": [f"c{i}" for i in range(10)],
                  "discharge_date": [dt.date(2025, 1 + i % 3, 1) for i in range(10)]})
    pq.write_table(t, tmp_path / "cases.parquet")
    ds = split_cases(tmp_path / "cases.parquet", tmp_path / "parts", partitions=3)
    assert pa.concat_tables([pq.read_table(p.path) for p in ds]).equals(t)
    by_month = split_cases(tmp_path / "cases.parquet", tmp_path / "months", by="month")
    assert [p.name for p in by_month] == [f"year=2025/month=0{m}/part-0.parquet" for m in (1, 2, 3)]
    assert pq.read_table(open_dataset(tmp_path / "months").partitions[1].path).column("case_id").to_pylist() == \
        ["c1", "c4", "c7"]


def test_bucket_hash_is_portable_fnv1a():
    """The bucket of a key is FNV-1a 64 of its UTF-8 bytes (folded): the same on every machine."""
    from drg.distributed.shuffle import buckets_of

    def fnv(s: str, n: int) -> int:
        h = 14695981039346656037
        for b in s.encode():
            h = ((h ^ b) * 1099511628211) % 2 ** 64
        h ^= h >> 33
        return h % n

    keys = ["P000123", "病人-甲", "", "P000124", None]
    got = buckets_of(pa.array(keys), 7)
    assert got.tolist() == [fnv(k or "", 7) for k in keys]
    sliced = pa.array(["x", *keys]).slice(1)
    assert buckets_of(sliced, 7).tolist() == got.tolist()
    assert buckets_of(pa.array(keys).dictionary_encode(), 7).tolist() == got.tolist()


def test_split_by_bucket_keeps_row_order():
    from drg.distributed.shuffle import split_by_bucket

    t = pa.table({"v": list(range(8))})
    pieces = split_by_bucket(t, np.array([1, 0, 1, 2, 0, 1, 2, 0]), 4)
    assert [p.column("v").to_pylist() for p in pieces] == [[1, 4, 7], [0, 2, 5], [3, 6], []]


def test_overlapping_id_ranges():
    from drg.distributed.grouping import _overlapping

    ranges = [(3, "a1", "a9", False), (3, "b1", "b9", False), (2, "a5", "a6", False), (1, None, None, True),
              (1, "c1", "c1", True), (4, "d0", "e0", False), (1, "d5", "d5", False)]
    assert _overlapping(ranges) == [0, 2, 3, 4, 5, 6]
    assert _overlapping([(1, "a", "b", False), (1, "c", "d", False)]) == []


def test_ids_repeated_from_earlier_partitions():
    from drg.distributed.grouping import NULL_ID, _repeated_ids

    pieces = [pa.table({"id": ["x", "y", "x"], "part": pa.array([0, 0, 0], pa.int32())}),
              pa.table({"id": ["x", "z", NULL_ID], "part": pa.array([2, 2, 2], pa.int32())}),
              pa.table({"id": ["x", "z", NULL_ID, "w"], "part": pa.array([4, 4, 4, 4], pa.int32())})]
    assert _repeated_ids(pieces) == {2: ["x"], 4: sorted([NULL_ID, "x", "z"])}


def test_earlier_ids_mark_like_one_pass(tmp_path):
    """A file read with the ids of earlier files rejects what one pass over them all would: the first
    occurrence in the dataset is kept, every later one rejected (nulls too)."""
    from drg.casefile.duplicates import DuplicateFinder, WithEarlierIds

    inner = DuplicateFinder.for_whole(__import__("polars").Series(["a", "b", "a"]))
    finder = WithEarlierIds(inner, ["b", WithEarlierIds.NULL])
    assert finder.mark(pa.chunked_array([["a", "b", "a", None, "c"]])).tolist() == [False, True, True, True, False]


def test_weights_from_drg_shards_equal_the_whole(tmp_path):
    """compute_weights' steps over DRG shards (the shard holding each DRG's every case, in order) give the
    whole history's weights; a DRG in two shards is refused."""
    from drg.policy import load_policy
    from drg.pricing.weights import DrgYearSums, HistoryRows, drg_year_sums, history_rows, history_years, \
        weights_from_sums

    import datetime as dt

    rng = np.random.default_rng(3)
    n = 4000
    drgs = rng.choice(["A11", "B22", "C33", "D44", "0000"], n)
    hist = pa.table({"hospital_id": rng.choice(["H1", "H2", "H3"], n).tolist(), "drg": drgs.tolist(),
                     "los": rng.integers(1, 40, n).tolist(),
                     "discharge_date": [dt.date(2023 + int(y), 5, 1) for y in rng.integers(0, 2, n)],
                     "total_cost": np.round(rng.lognormal(9, 0.6, n), 2).tolist()})
    pol = load_policy("demo")
    rows, present = history_rows(hist, pol)
    years = history_years(present, pol, 2025)
    whole = weights_from_sums(drg_year_sums(rows, years, pol), years, pol, settlement_year=2025)
    proj = rows.to_arrow()
    shard_of = {"A11": 0, "B22": 1, "C33": 0, "D44": 1}
    shards = []
    for s in (0, 1):
        keep = [shard_of[d] == s for d in proj.column("drg").cast(pa.string()).to_pylist()]
        pieces = [proj.slice(0, 2000).filter(keep[:2000]), proj.slice(2000).filter(keep[2000:])]
        shards.append(drg_year_sums(HistoryRows.from_arrow(pa.concat_tables(pieces)), years, pol))
    parted = weights_from_sums(DrgYearSums.combine(shards), years, pol, settlement_year=2025)
    assert parted.table.equals(whole.table) and parted.a_fen == whole.a_fen
    with pytest.raises(ValueError, match="two parts"):
        DrgYearSums.combine([shards[0], shards[0]])
