"""What crosses partitions goes over slim projections, shuffled by key with Dask tasks, and sums come back
as a tree.

* :func:`buckets_of` places each key (a patient id, a DRG, a case id) in one of ``n`` buckets by its
  64-bit FNV-1a hash over the UTF-8 bytes — the same bucket on every machine of a cluster, whatever its CPU
  (a hash seeded per process, or one whose bits depend on the CPU's instructions, would send one patient's
  stays to two buckets).
* :func:`shuffle` is Dask's task-based shuffle over futures: each map task returns one small table per
  bucket; one ``getitem`` task per (map, bucket) runs where the map's result lives, and the reduce task of
  bucket ``i`` receives its pieces in partition order. The scheduler places, retries and recomputes these
  tasks like any other (a worker lost mid-way: its results are recomputed from their inputs).
* :func:`tree_reduce` adds up partial results ``fan_in`` at a time, on the workers.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence

import numpy as np
import pyarrow as pa
from numba import njit

__all__ = ["buckets_of", "bucket_count", "split_by_bucket", "shuffle", "tree_reduce", "wait"]


@njit(cache=True, nogil=True)
def _fnv1a(offsets, data, start, n, buckets):
    out = np.empty(n, np.int32)
    for i in range(n):
        h = np.uint64(14695981039346656037)
        for j in range(offsets[start + i], offsets[start + i + 1]):
            h ^= np.uint64(data[j])
            h *= np.uint64(1099511628211)
        h ^= h >> np.uint64(33)
        out[i] = np.int32(h % np.uint64(buckets))
    return out


def buckets_of(keys: pa.Array | pa.ChunkedArray, buckets: int) -> np.ndarray:
    """The bucket (0 … ``buckets``-1) of each key; a null key is hashed as the empty string."""
    if isinstance(keys, pa.ChunkedArray):
        keys = keys.combine_chunks()
    if pa.types.is_dictionary(keys.type):
        keys = keys.cast(keys.type.value_type)
    if not pa.types.is_large_string(keys.type):
        keys = keys.cast(pa.large_string())
    n = len(keys)
    if n == 0 or buckets <= 1:
        return np.zeros(n, np.int32)
    _validity, offsets, data = keys.buffers()
    off = np.frombuffer(offsets, np.int64)
    raw = np.frombuffer(data, np.uint8) if data is not None else np.zeros(1, np.uint8)
    return _fnv1a(off, raw, keys.offset, n, buckets)


def split_by_bucket(table: pa.Table, bucket: np.ndarray, buckets: int) -> list[pa.Table]:
    """``table``'s rows by bucket, each piece in row order."""
    order = np.argsort(bucket, kind="stable")
    bounds = np.searchsorted(bucket[order], np.arange(buckets + 1))
    return [table.take(pa.array(order[bounds[i]:bounds[i + 1]])) for i in range(buckets)]


def bucket_count(workers_threads: int, partitions: int, rows: int | None = None,
                 rows_per_bucket: int = 4_000_000) -> int:
    """How many buckets a shuffle uses: two per worker thread, more when a bucket would hold more than
    ``rows_per_bucket`` rows, never more than the partitions."""
    n = max(1, 2 * workers_threads)
    if rows:
        n = max(n, -(-rows // rows_per_bucket))
    return max(1, min(n, partitions))


def shuffle(client, mapped: Sequence, buckets: int, *, key: str) -> list[list]:
    """For each bucket, the futures of its pieces from every map result (a list of ``buckets`` tables per
    map task), in partition order."""
    return [[client.submit(operator.getitem, m, i, key=f"{key}-piece-{k}-{i}") for k, m in enumerate(mapped)]
            for i in range(buckets)]


def tree_reduce(client, parts: Sequence, combine: Callable, *, key: str, fan_in: int = 8):
    """The future of ``combine(list)`` applied as a tree over ``parts``, ``fan_in`` at a time, in order."""
    level = 0
    parts = list(parts)
    while len(parts) > 1:
        parts = [client.submit(combine, parts[i:i + fan_in], key=f"{key}-tree-{level}-{i // fan_in}")
                 for i in range(0, len(parts), fan_in)]
        level += 1
    return parts[0]


def wait(futures: Sequence, stage: str, on_progress: Callable[[str, int, int], None] | None = None, *,
         gather: bool = True) -> list | None:
    """The results of ``futures`` (in their order), calling ``on_progress(stage, done, total)`` as each
    finishes; the first task error is raised here, as the task raised it. ``gather=False``: only wait (the
    results stay on the workers, for the next tasks)."""
    from distributed import as_completed

    futures = list(futures)
    if not futures:
        return []
    total = len(futures)
    if on_progress is not None:
        on_progress(stage, 0, total)
        for done, _ in enumerate(as_completed(futures), start=1):
            on_progress(stage, done, total)
    if not gather:
        from distributed import wait as dask_wait

        dask_wait(futures)
        for f in futures:          # an error is raised here rather than in a later task
            if f.status == "error":
                f.result()
        return None
    return futures[0].client.gather(futures)
