"""``drg group`` over a partitioned dataset on a Dask cluster: each partition read, validated and grouped on a
worker by :func:`drg.grouping.group_file` into its own grouped file and its own rejects, with a manifest.

The one thing that crosses partitions when grouping is a repeated ``case_id``: a row is rejected when any
earlier row of the dataset (in documented order) had its id, as in one pass over the files concatenated.
Each partition's id range (smallest, largest) is read first — a few bytes per partition; only partitions
whose ranges overlap another's can share an id, and only their ids are shuffled by hash to find the ones an
earlier partition also holds. Those ids go back to their partitions (:class:`drg.casefile.duplicates.
WithEarlierIds`). Settlement systems number their cases in order, so ranges rarely overlap and this costs
one read of the id column.

Outputs: ``OUT/<the partition's relative path>`` and ``REJECTS/<same>`` (default ``OUT/_rejects/``), written
in a temporary directory beside the final place and renamed into it when complete, so a task retried after
its worker died writes the same file again and a half-written file is never seen.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa

from drg.distributed.dataset import Dataset, Partition, open_dataset
from drg.distributed.manifest import file_sha256, partition_entry, staged_outputs, write_manifest
from drg.distributed.plugin import kill_once
from drg.distributed.shuffle import bucket_count, buckets_of, shuffle, split_by_bucket, wait

__all__ = ["group_dataset"]

NULL_ID = "\x00<null>"   # how the duplicate finders hash a missing id


# ------------------------------------------------------------------------------------------------ tasks
def _ids(path: str) -> pa.Array:
    """The ``case_id`` values of a file as the case reader compares them for duplicates (nulls as NULL_ID)."""
    from drg.casefile.parquet import parquet_file

    from drg.casefile.reader import ids_as_checked

    pf = parquet_file(path)
    if "case_id" not in pf.schema_arrow.names:
        return pa.array([], pa.string())
    parts = []
    for b in pf.iter_batches(columns=["case_id"], batch_size=1 << 20):
        ids = ids_as_checked(pa.Table.from_batches([b]))
        ids = ids.to_arrow() if hasattr(ids, "to_arrow") else ids
        parts.append(ids.cast(pa.string()).fill_null(NULL_ID))
    arrays = [c for p in parts for c in (p.chunks if isinstance(p, pa.ChunkedArray) else [p])]
    return pa.concat_arrays(arrays) if arrays else pa.array([], pa.string())


def id_range(path: str) -> tuple[int, str | None, str | None, bool]:
    """``(rows, smallest id, largest id, has a null id)`` of one file (ids compared as text)."""
    import pyarrow.compute as pc

    ids = _ids(path)
    nulls = pc.equal(ids, NULL_ID)
    has_null = bool(pc.any(nulls).as_py()) if len(ids) else False
    real = ids.filter(pc.invert(nulls)) if has_null else ids
    if len(real) == 0:
        return len(ids), None, None, has_null
    mm = pc.min_max(real)
    return len(ids), mm["min"].as_py(), mm["max"].as_py(), has_null


def _id_pieces(path: str, part: int, buckets: int) -> list[pa.Table]:
    ids = _ids(path)
    t = pa.table({"id": ids, "part": pa.array(np.full(len(ids), part, np.int32))})
    return split_by_bucket(t, buckets_of(ids, buckets), buckets)


def _repeated_ids(pieces: list[pa.Table]) -> dict[int, list[str]]:
    """Of the ids of one bucket, those an earlier partition also holds: partition → its such ids."""
    import polars as pl

    t = pa.concat_tables(pieces)
    if t.num_rows == 0:
        return {}
    df = pl.from_arrow(t).unique(["id", "part"])
    first = df.group_by("id").agg(pl.col("part").min().alias("first"), pl.len().alias("n")).filter(pl.col("n") > 1)
    later = df.join(first, on="id").filter(pl.col("part") > pl.col("first"))
    out: dict[int, list[str]] = {}
    for part, ids in later.group_by("part").agg(pl.col("id")).iter_rows():
        out[int(part)] = sorted(ids)
    return out


def _overlapping(ranges: list[tuple]) -> list[int]:
    """Partitions whose id ranges overlap another's (so they may share an id), or that share a null id."""
    spans = sorted((lo, hi, k) for k, (_n, lo, hi, _null) in enumerate(ranges) if lo is not None)
    out: set[int] = set()
    group: list[int] = []
    top = None
    for lo, hi, k in spans:
        if top is not None and lo <= top:
            group.append(k)
            top = max(top, hi)
        else:
            if len(group) > 1:
                out.update(group)
            group, top = [k], hi
    if len(group) > 1:
        out.update(group)
    nulls = [k for k, r in enumerate(ranges) if r[3]]
    if len(nulls) > 1:
        out.update(nulls)
    return sorted(out)


def group_partition(scheme_path: str, scheme_sha: str, part: Partition, out: str, rejects: str | None, *,
                    slim: bool, required: tuple[str, ...] | None, earlier_ids: list[str] | None,
                    engine: str = "numba", fault: dict | None = None) -> dict:
    """Group one partition on a worker (the scheme from the worker's cache) and return its manifest entry."""
    from drg.distributed.plugin import cached_scheme, task_threads
    from drg.grouping import group_file

    task_threads()
    scheme = cached_scheme(scheme_path, scheme_sha)
    out_p = Path(out)
    rej_p = Path(rejects) if rejects else None
    with staged_outputs(out_p, rej_p) as (tmp_out, tmp_rej):
        summary = group_file(scheme, part.path, tmp_out, rejects=tmp_rej, slim=slim, required=required,
                             earlier_ids=earlier_ids, on_rows=_fault_hook(fault, part), engine=engine)
    return partition_entry(part, out_p, rej_p, rows=summary.rows, read=summary.read, rejected=summary.rejected,
                           by_status=dict(summary.by_status), by_mdc=dict(summary.by_mdc))


def _fault_hook(fault: dict | None, part: Partition) -> Callable[[int], None] | None:
    """Tests: kill this worker in the middle of partition ``fault["at"]`` (after its first batch went
    to the writer), once."""
    if not fault or fault.get("stage", "group") != "group" or fault.get("at") != part.index:
        return None
    return lambda _rows: kill_once(fault, part.index)


# ------------------------------------------------------------------------------------------------ driver
def earlier_ids(client, ds: Dataset, *, run: str, threads: int,
                on_progress: Callable[[str, int, int], None] | None = None) -> dict[int, list[str]]:
    """For each partition, the ids an earlier partition of ``ds`` also holds (only partitions that can
    share one are shuffled)."""
    paths = [p.path for p in ds]
    ranges = wait(client.map(id_range, paths, key=[f"drg-ids-{run}-{p.index}" for p in ds]), "case ids",
                  on_progress)
    candidates = _overlapping(ranges)
    if not candidates:
        return {}
    rows = sum(ranges[k][0] for k in candidates)
    b = bucket_count(threads, len(candidates), rows)
    mapped = [client.submit(_id_pieces, paths[k], k, b, key=f"drg-idmap-{run}-{k}") for k in candidates]
    reduced = [client.submit(_repeated_ids, pieces, key=f"drg-idreduce-{run}-{i}")
               for i, pieces in enumerate(shuffle(client, mapped, b, key=f"drg-idshuffle-{run}"))]
    out: dict[int, list[str]] = {}
    for found in wait(reduced, "repeated ids", on_progress):
        for k, ids in found.items():
            out.setdefault(k, []).extend(ids)
    return out


def group_dataset(client, scheme: str | Path, cases, out: str | Path, *, rejects: str | Path | None = None,
                  slim: bool = False, required: tuple[str, ...] | None = None, engine: str = "numba",
                  on_progress: Callable[[str, int, int], None] | None = None, fault: dict | None = None) -> dict:
    """Group every partition of the dataset ``cases`` on the cluster of ``client``.

    Parameters
    ----------
    client : a :class:`distributed.Client` (:func:`drg.distributed.plugin.cluster_client`).
    scheme : the compiled scheme file (on storage every worker reads).
    cases : dataset directory, file, or list (:func:`drg.distributed.dataset.open_dataset`).
    out : output directory: one grouped file per partition under its relative path, ``_manifest.json``.
    rejects : directory for each partition's rejects (default ``OUT/_rejects``); row numbers are the rows of
        the partition's own file.
    slim, required, engine : as :func:`drg.grouping.group_file`.
    on_progress : called with ``(stage, done, total)`` as partitions finish.

    Returns
    -------
    dict
        The summary of :class:`drg.grouping.GroupFileSummary` over the dataset, plus ``partitions`` and
        ``manifest``. Read = grouped + rejected, over the dataset as in each file.
    """
    from drg.grouping import GroupFileSummary

    ds = open_dataset(cases)
    out = Path(out)
    rej_root = Path(rejects) if rejects is not None else out / "_rejects"
    scheme = Path(scheme).resolve()
    scheme_sha = file_sha256(scheme)
    run = uuid.uuid4().hex[:8]
    threads = sum(client.nthreads().values()) or 1
    earlier = earlier_ids(client, ds, run=run, threads=threads, on_progress=on_progress)
    futures = [client.submit(group_partition, str(scheme), scheme_sha, p, str(ds.output(out, p)),
                             str(ds.output(rej_root, p)), slim=slim, required=required,
                             earlier_ids=earlier.get(p.index), engine=engine, fault=fault,
                             key=f"drg-group-{run}-{p.index}")
               for p in ds]
    entries = wait(futures, "grouping", on_progress)
    total = GroupFileSummary(out=str(out))
    for e in entries:
        total.rows += e["rows"]
        total.read += e["read"]
        total.rejected += e["rejected"]
        total.by_status.update(Counter(e["by_status"]))
        total.by_mdc.update(Counter(e["by_mdc"]))
    summary = total.to_dict() | {"partitions": len(ds), "repeated_ids_across_partitions":
                                 sum(len(v) for v in earlier.values())}
    sweep_unfinished(out, rej_root)
    files = [_relative(e, out, rej_root) for e in entries]
    manifest = write_manifest(out, "group", files, scheme=str(scheme), scheme_sha256=scheme_sha,
                              cases=ds.source, summary=summary)
    return summary | {"manifest": str(manifest)}


def sweep_unfinished(*roots: Path) -> None:
    """Remove the temporary directories of task attempts that died mid-way (their worker was lost)."""
    for root in roots:
        if Path(root).is_dir():
            for tmp in Path(root).rglob(".drg-tmp-*"):
                shutil.rmtree(tmp, ignore_errors=True)


def _relative(entry: dict, out: Path, rej_root: Path) -> dict:
    e = dict(entry)
    e["output"] = os.path.relpath(e["output"], out)
    if "rejects" in e:
        e["rejects"] = os.path.relpath(e["rejects"], out)
    e.pop("by_mdc", None)
    return e
