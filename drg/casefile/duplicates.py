"""Repeated ``case_id`` values: the pre-pass finder, the streaming finder and the fallback between them."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from drg.casefile.parquet import row_group_batches
from drg.casefile.schema import DEFAULT_BATCH_ROWS

__all__ = ['DuplicateFinder', 'IdHashCollision', 'StreamingDuplicateFinder', 'WithEarlierIds', 'trimmed_ids', 'with_duplicate_fallback']


T = TypeVar("T")

#: bytes that may end a whitespace character: ASCII tab..carriage return and space, and every UTF-8
#: continuation byte (U+00A0, U+3000 … end in one)
_MAY_END_SPACE = np.zeros(256, dtype=bool)
_MAY_END_SPACE[[9, 10, 11, 12, 13, 32]] = True
_MAY_END_SPACE[0x80:0xC0] = True


def trimmed_ids(ids: pl.Series | pa.ChunkedArray | pa.Array):
    """Case ids as they are compared for repeats: blanks around an id do not count (``X1`` and `` X1 ``
    are the same id, in every format). Only ids whose first or last byte may belong to a blank are looked
    at; a column with none is returned as it is (no copy)."""
    from drg.casefile.strings import _MAY_BEGIN_SPACE, string_buffers

    if isinstance(ids, pl.Series):
        return ids.str.strip_chars() if ids.dtype == pl.String else ids
    chunks = ids.chunks if isinstance(ids, pa.ChunkedArray) else [ids]
    for chunk in chunks:
        if chunk.type not in (pa.string(), pa.large_string()):
            return ids
        off, data = string_buffers(chunk)
        if not data.size or len(off) < 2:
            continue
        length = np.diff(off)
        nonempty = length > 0
        first = data[np.minimum(off[:-1], data.size - 1)]
        last = data[np.clip(off[1:] - 1, 0, data.size - 1)]
        if (nonempty & (_MAY_BEGIN_SPACE[first] | _MAY_END_SPACE[last])).any():
            stripped = pl.from_arrow(ids).str.strip_chars().to_arrow()
            return stripped if isinstance(ids, pa.Array) else pa.chunked_array([stripped])
    return ids


class DuplicateFinder:
    """Finds rows whose ``case_id`` an earlier row of the same input already had.

    For a streamed Parquet file it first reads only the ``case_id`` column, hashing each id to 64 bits, so
    that only ids whose hash repeats (few) are compared as strings in the main pass: memory stays at 8 bytes
    a row however long the ids are.
    """

    def __init__(self, candidate_hashes: np.ndarray) -> None:
        self._candidates = candidate_hashes
        self._seen: set[str] = set()

    @staticmethod
    def _hash(ids: pl.Series) -> np.ndarray:
        ids = ids.cast(pl.String)
        if ids.null_count():    # (fill_null copies every string, so only when there is a null to fill)
            ids = ids.fill_null("\x00<null>")
        return ids.hash(seed=7).to_numpy().copy()

    @classmethod
    def _from_hashes(cls, hashes: np.ndarray) -> DuplicateFinder:
        if len(hashes) == 0:
            return cls(np.empty(0, dtype=np.uint64))
        hashes.sort()
        repeated = hashes[1:][hashes[1:] == hashes[:-1]]
        return cls(np.unique(repeated))

    @classmethod
    def for_parquet(cls, pf: pq.ParquetFile, column: str = "case_id", path: Path | None = None,
                    workers: int | None = None) -> DuplicateFinder:
        """The finder of a Parquet file, from its ``case_id`` column alone.

        With ``path``, the row groups are shared among ``workers`` threads (default: the cores, at most 4),
        each reading its own in batches and hashing them; the hashes are then sorted once. Memory stays at
        8 bytes a row."""
        n = pf.num_row_groups
        if workers is None:
            from drg.casefile.background import available_cores

            workers = min(4, available_cores())
        workers = max(1, min(workers, n)) if path is not None else 1

        def hashes(row_groups) -> list[np.ndarray]:
            from drg.casefile.reader import ids_as_checked

            f = pq.ParquetFile(path) if path is not None else pf

            def checked(column) -> pl.Series:   # the ids as validate_table compares them (trimmed)
                ids = ids_as_checked(pa.table({"case_id": column}))
                return ids if isinstance(ids, pl.Series) else pl.from_arrow(ids)

            return [cls._hash(checked(b.column(0))) for rg in row_groups
                    for b in row_group_batches(f, rg, [column], DEFAULT_BATCH_ROWS, workers == 1, path)]

        if workers == 1:
            parts = hashes(range(n))
        else:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(workers, thread_name_prefix="drg-ids") as pool:
                parts = [h for part in pool.map(hashes, [range(w, n, workers) for w in range(workers)])
                         for h in part]
        return cls._from_hashes(np.concatenate(parts) if parts else np.empty(0, dtype=np.uint64))

    @classmethod
    def for_whole(cls, ids: pl.Series) -> DuplicateFinder:
        return cls._from_hashes(cls._hash(ids))

    def mark(self, ids: pl.Series | pa.ChunkedArray) -> np.ndarray:
        """Return a mask of the rows of ``ids`` (in file order) that repeat an earlier id; remember them."""
        out = np.zeros(len(ids), dtype=bool)
        if len(self._candidates) == 0:
            return out
        if not isinstance(ids, pl.Series):
            ids = pl.from_arrow(ids)
        hashes = self._hash(ids)
        for i in np.flatnonzero(np.isin(hashes, self._candidates)):
            value = ids[int(i)]
            key = "\x00<null>" if value is None else str(value)
            if key in self._seen:
                out[i] = True
            else:
                self._seen.add(key)
        return out


class IdHashCollision(Exception):
    """Two different case ids of one file share a 64-bit hash, so a streaming duplicate check may have
    marked a row that repeats no earlier id. Raised by :func:`read_cases` after the last batch; the caller
    runs again with the pre-pass (:func:`with_duplicate_fallback`). About one 10-million-row file in
    370,000 has such a pair."""


class StreamingDuplicateFinder:
    """Finds rows whose ``case_id`` an earlier row already had in the same pass that validates them, with
    no pre-pass (:class:`DuplicateFinder` is the pre-pass twin; both mark the same rows).

    While every id so far has come after the one before it, in byte order (the usual case: settlement
    systems number their cases in order), no id can repeat and nothing is marked
    (:func:`drg.casefile.idset.hash_ids` checks the order on the id bytes). From the first batch out of order on, the
    ids' 64-bit hashes go into an :class:`drg.casefile.idset.IdHashSet`, those of the earlier ids first, and a row
    whose hash the set already held is marked. The earlier ids are read again through ``earlier_ids`` (a
    callable giving the file's ids from the first row, in batches) when one is given, so that increasing
    ids are never hashed; without it their hashes are kept as they go by (8 bytes a row).

    Equal ids have equal hashes, so every repeat is marked; a marked row might in principle only share its
    hash with a different id, so when any row was marked, :meth:`confirm` reads the ids again and checks
    that each marked hash belongs to one id. When that fails it raises :class:`IdHashCollision`. Memory:
    12-23 bytes a row once the set is filled, plus the ids of the marked hashes during the check.
    """

    def __init__(self, expected_rows: int = 0,
                 earlier_ids: Callable[[], Iterable[pl.Series | pa.ChunkedArray]] | None = None) -> None:
        self._expected = expected_rows
        self._earlier_ids = earlier_ids
        self._set = None                           # an IdHashSet once the ids are out of order
        self._increasing: list[np.ndarray] = []    # without earlier_ids: the hashes so far, while increasing
        self._last: np.ndarray | None = None       # the last id's bytes, while they increase
        self._seen = 0
        self._marked: list[np.ndarray] = []

    def mark(self, ids: pl.Series | pa.ChunkedArray) -> np.ndarray:
        """Return a mask of the rows of ``ids`` (in file order) whose id hash an earlier row had."""
        from drg.casefile.idset import hash_ids

        ids = ids.to_arrow() if isinstance(ids, pl.Series) else ids
        n = len(ids)
        hashes = None
        if self._set is None:
            keep = self._earlier_ids is None
            hashed = hash_ids(ids, check_order=True, after=self._last, hashes=keep)
            if hashed.increasing:
                if keep:
                    self._increasing.append(hashed.hashes)
                self._last = hashed.last
                self._seen += n
                return np.zeros(n, dtype=bool)
            hashes = hashed.hashes
            self._fill_set()
        if hashes is None:
            hashes = hash_ids(ids).hashes
        self._seen += n
        repeated = self._set.add(hashes)
        if repeated.any():
            self._marked.append(hashes[repeated])
        return repeated

    def _fill_set(self) -> None:
        """At the first batch out of order: the set, holding the hashes of every id before it (all
        different, so nothing is marked; a mark here could only be two different ids sharing a hash)."""
        from drg.casefile.idset import IdHashSet, id_hashes

        self._set = IdHashSet(max(self._expected, self._seen))
        if self._earlier_ids is None:
            for earlier in self._increasing:
                self._set.add(earlier)
            self._increasing.clear()
        else:
            left = self._seen
            for ids in self._earlier_ids() if left else ():
                ids = ids.to_arrow() if isinstance(ids, pl.Series) else ids
                self._set.add(id_hashes(ids.slice(0, left)))
                left -= min(left, len(ids))
                if not left:
                    break
            if left:
                raise RuntimeError(f"the first {self._seen:,} case ids could not be read again")
        self._last = None

    @property
    def marked_any(self) -> bool:
        return bool(self._marked)

    def confirm(self, id_batches: Iterable[pl.Series | pa.ChunkedArray]) -> None:
        """After the last batch: given the file's ids again (the same values :meth:`mark` saw), check that
        each hash that marked a row belongs to one id only; raise :class:`IdHashCollision` if not."""
        from drg.casefile.idset import id_hashes

        if not self._marked:
            return
        marked = np.unique(np.concatenate(self._marked))
        found: list[pl.DataFrame] = []
        for ids in id_batches:
            ids = ids if isinstance(ids, pl.Series) else pl.from_arrow(ids)
            hashes = id_hashes(ids.to_arrow())
            at = np.minimum(np.searchsorted(marked, hashes), len(marked) - 1)
            hit = marked[at] == hashes
            if hit.any():
                found.append(pl.DataFrame({"hash": hashes[hit], "id": ids.cast(pl.String).filter(hit)})
                             .unique())
        if found and pl.concat(found).unique()["hash"].is_duplicated().any():
            raise IdHashCollision("two different case ids share a 64-bit hash")


class WithEarlierIds:
    """A duplicate finder that also marks the rows whose ``case_id`` is one of ``earlier``: the ids that rows
    of earlier files of the same dataset already had (a dataset grouped file by file, :mod:`drg.distributed`).
    The file's own repeats are still found by ``inner``, so together they mark what one pass over the files
    concatenated would. A null id counts as the text ``"\\x00<null>"``, as the finders hash it."""

    NULL = "\x00<null>"

    def __init__(self, inner, earlier) -> None:
        self.inner = inner
        self._earlier = pa.array(sorted(set(earlier)), pa.string())
        self._null = self.NULL in set(earlier)

    def mark(self, ids: pl.Series | pa.ChunkedArray) -> np.ndarray:
        import pyarrow.compute as pc

        out = self.inner.mark(ids) if self.inner is not None else np.zeros(len(ids), dtype=bool)
        arr = ids.to_arrow() if isinstance(ids, pl.Series) else ids
        hit = pc.is_in(arr.cast(pa.string()), value_set=self._earlier)
        if self._null:
            hit = pc.or_kleene(hit, arr.is_null())
        return out | np.asarray(hit.fill_null(False), dtype=bool)


def with_duplicate_fallback(run: Callable[[bool], T]) -> T:
    """``run(True)`` (repeated ids found as the rows stream by); in the rare case that two ids of the file
    share a hash, ``run(False)`` again from the start with the exact pre-pass. ``run`` must write its
    outputs afresh each time (as :func:`drg.grouping.group_file` does)."""
    try:
        return run(True)
    except IdHashCollision:
        return run(False)
