"""Repeated ``case_id`` values, found exactly in bounded memory: the pre-pass finder, and the streaming finder that
needs no pre-pass while a file's ids come in increasing order."""

from __future__ import annotations

from collections.abc import Callable, Iterable
import os
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
from drg.casefile.parquet import parquet_file

from drg.casefile.parquet import row_group_batches
from drg.casefile.schema import DEFAULT_BATCH_ROWS

__all__ = ['DuplicateFinder', 'MAX_PARTS', 'SPILL_ROWS', 'StreamingDuplicateFinder', 'WithEarlierIds', 'trimmed_ids']


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


#: How many case-id hashes the pre-pass holds in memory (8 bytes each). A file with more rows has its hashes
#: written to temporary files, split by their top bits into parts of about this many, and each part is sorted
#: alone: the pre-pass then holds one part, so memory is the same for a file of one million rows or of a
#: hundred million.
SPILL_ROWS = 1 << 20
#: at most this many parts (a file of more than ``SPILL_ROWS * MAX_PARTS`` rows has larger parts)
MAX_PARTS = 256


class _HashPile:
    """The case-id hashes of a file, added batch by batch (from several threads), then asked for the hashes
    that occur more than once. Up to ``memory_rows`` hashes are kept in memory; beyond, they go to
    ``parts`` temporary files by their top bits (a hash's part never depends on the batch it came in), and
    each part is read back and sorted on its own. The files have no name from the moment they are opened
    (unlinked, their directory removed), so nothing is left on disk however the run ends."""

    def __init__(self, expected_rows: int, memory_rows: int = SPILL_ROWS) -> None:
        import threading

        parts = 1
        while expected_rows > parts * memory_rows and parts < MAX_PARTS:
            parts <<= 1
        self._bits = parts.bit_length() - 1
        self._lock = threading.Lock()
        self._buffer = np.empty(expected_rows if parts == 1 else 0, dtype=np.uint64)
        self._held = 0
        self._extra: list[np.ndarray] = []   # (only if more rows come than the file said it has)
        self._dir: Path | None = None
        self._files: list = []
        if parts > 1:
            import tempfile

            from drg.outputs import writing

            with writing(Path(tempfile.gettempdir())):
                self._dir = Path(tempfile.mkdtemp(prefix="drg-case-ids-"))
                try:   # the files are unlinked at once: a run killed at any moment leaves nothing behind
                    for p in range(parts):
                        self._files.append(open(self._dir / f"{p:03d}.u64", "w+b"))
                        os.unlink(self._files[-1].name)
                finally:
                    for f in self._files if len(self._files) < parts else ():
                        f.close()
                    os.rmdir(self._dir)

    def add(self, hashes: np.ndarray) -> None:
        if self._dir is None:
            with self._lock:
                room = min(len(hashes), len(self._buffer) - self._held)
                self._buffer[self._held:self._held + room] = hashes[:room]
                self._held += room
                if room < len(hashes):
                    self._extra.append(hashes[room:].copy())
            return
        from drg.outputs import writing

        part = (hashes >> np.uint64(64 - self._bits)).astype(np.uint8)
        order = np.argsort(part, kind="stable")      # (a radix sort on 8-bit keys)
        grouped = hashes[order]
        bounds = np.searchsorted(part[order], np.arange(len(self._files) + 1))
        with self._lock, writing(self._dir):
            for p, f in enumerate(self._files):
                if bounds[p + 1] > bounds[p]:
                    f.write(grouped[bounds[p]:bounds[p + 1]].tobytes())

    def repeated(self) -> np.ndarray:
        """The hashes added more than once, sorted, each once."""
        if self._dir is None:
            return _repeated(np.concatenate([self._buffer[:self._held], *self._extra]) if self._extra
                             else self._buffer[:self._held])
        from drg.outputs import writing

        found = []
        with writing(self._dir):
            for f in self._files:   # the parts in the order of their top bits: the result comes out sorted
                f.flush()
                f.seek(0)
                found.append(_repeated(np.fromfile(f, dtype=np.uint64)))
        return np.concatenate(found)

    def close(self) -> None:
        for f in self._files:
            f.close()
        self._files = []
        self._dir = None


def _repeated(hashes: np.ndarray) -> np.ndarray:
    """The values of ``hashes`` (sorted in place) that occur more than once, sorted, each once."""
    if len(hashes) < 2:
        return np.empty(0, dtype=np.uint64)
    hashes.sort()
    return np.unique(hashes[1:][hashes[1:] == hashes[:-1]])


def _arrow_ids(ids) -> pa.Array | pa.ChunkedArray:
    return ids.to_arrow() if isinstance(ids, pl.Series) else ids


class DuplicateFinder:
    """Finds rows whose ``case_id`` an earlier row of the same input already had, exactly.

    A pre-pass hashes every id to 64 bits (:func:`drg.casefile.idset.id_hashes`; for a Parquet file reading
    only the ``case_id`` column) and keeps the hashes that occur more than once: the candidates. In the main
    pass only the rows whose hash is a candidate are compared, by their id's text, with the candidate ids seen
    before them, so two different ids that happen to share a hash are told apart. Memory: the pre-pass holds at
    most ``SPILL_ROWS`` hashes (8 bytes each; a larger file's hashes are spilled to temporary files by their top
    bits and each part sorted alone); the main pass holds the candidate hashes and the candidate ids seen so
    far (none in a file without repeats).
    """

    def __init__(self, candidate_hashes: np.ndarray) -> None:
        self._candidates = candidate_hashes
        self._seen: set[str] = set()

    @classmethod
    def for_parquet(cls, pf: pq.ParquetFile, column: str = "case_id", path: Path | None = None,
                    workers: int | None = None, memory_rows: int = SPILL_ROWS) -> DuplicateFinder:
        """The finder of a Parquet file, from its ``case_id`` column alone.

        With ``path``, the row groups are shared among ``workers`` threads (default: the cores, at most 4),
        each reading its own in batches and hashing them."""
        n = pf.num_row_groups
        if workers is None:
            from drg.casefile.background import available_cores

            workers = min(4, available_cores())
        workers = max(1, min(workers, n)) if path is not None else 1
        pile = _HashPile(pf.metadata.num_rows, memory_rows)

        def hash_groups(row_groups) -> None:
            from drg.casefile import idset
            from drg.casefile.reader import ids_as_checked

            f = parquet_file(path) if path is not None else pf
            for rg in row_groups:   # the ids as validate_table compares them (trimmed)
                for b in row_group_batches(f, rg, [column], DEFAULT_BATCH_ROWS, workers == 1, path):
                    pile.add(idset.id_hashes(_arrow_ids(ids_as_checked(pa.table({"case_id": b.column(0)})))))

        try:
            if workers == 1:
                hash_groups(range(n))
            else:
                from concurrent.futures import ThreadPoolExecutor

                with ThreadPoolExecutor(workers, thread_name_prefix="drg-ids") as pool:
                    list(pool.map(hash_groups, [range(w, n, workers) for w in range(workers)]))
            return cls(pile.repeated())
        finally:
            pile.close()

    @classmethod
    def for_whole(cls, ids: pl.Series | pa.Array | pa.ChunkedArray) -> DuplicateFinder:
        """The finder of ids held whole (a CSV or Excel file's, a priced table's)."""
        from drg.casefile import idset

        return cls(_repeated(idset.id_hashes(_arrow_ids(ids))))

    def mark(self, ids: pl.Series | pa.ChunkedArray) -> np.ndarray:
        """Return a mask of the rows of ``ids`` (in file order) that repeat an earlier id; remember them."""
        from drg.casefile import idset

        out = np.zeros(len(ids), dtype=bool)
        if len(self._candidates) == 0:
            return out
        ids = _arrow_ids(ids)
        hashes = idset.id_hashes(ids)
        at = np.minimum(np.searchsorted(self._candidates, hashes), len(self._candidates) - 1)
        rows = np.flatnonzero(self._candidates[at] == hashes)
        if not len(rows):
            return out
        values = ids.take(pa.array(rows)).to_pylist()
        for i, value in zip(rows.tolist(), values):
            key = WithEarlierIds.NULL if value is None else str(value)
            if key in self._seen:
                out[i] = True
            else:
                self._seen.add(key)
        return out


class StreamingDuplicateFinder:
    """:class:`DuplicateFinder` without a pre-pass for a file whose ids come in increasing order.

    While every id so far has come after the one before it, in byte order (the usual case: settlement
    systems number their cases in order), no id can repeat: nothing is marked and nothing is kept
    (:func:`drg.casefile.idset.hash_ids` checks the order on the id bytes). At the first batch out of order,
    ``pre_pass()`` gives the file's :class:`DuplicateFinder` and the ids before that batch are read again
    through ``earlier_ids`` (a callable giving the file's ids from the first row, in batches) so that it knows
    which candidate ids were already seen; from then on it marks every batch. Both finders mark the same rows,
    exactly, in bounded memory.
    """

    def __init__(self, pre_pass: Callable[[], DuplicateFinder],
                 earlier_ids: Callable[[], Iterable[pl.Series | pa.ChunkedArray]]) -> None:
        self._pre_pass = pre_pass
        self._earlier_ids = earlier_ids
        self._inner: DuplicateFinder | None = None
        self._last: np.ndarray | None = None       # the last id's bytes, while they increase
        self._seen = 0

    @property
    def ordered(self) -> bool:
        """Whether every id so far came after the one before it (no pre-pass was needed)."""
        return self._inner is None

    def mark(self, ids: pl.Series | pa.ChunkedArray) -> np.ndarray:
        """Return a mask of the rows of ``ids`` (in file order) that repeat an earlier id."""
        from drg.casefile import idset

        ids = _arrow_ids(ids)
        if self._inner is None:
            hashed = idset.hash_ids(ids, check_order=True, after=self._last, hashes=False)
            if hashed.increasing:
                self._last = hashed.last
                self._seen += len(ids)
                return np.zeros(len(ids), dtype=bool)
            self._inner = self._pre_pass()
            self._replay()
        return self._inner.mark(ids)

    def _replay(self) -> None:
        """Show the finder the ids before the first batch out of order (all different: nothing is marked)."""
        left = self._seen
        for ids in self._earlier_ids() if left else ():
            ids = _arrow_ids(ids)
            self._inner.mark(ids.slice(0, left))
            left -= min(left, len(ids))
            if not left:
                break
        if left:
            raise RuntimeError(f"the first {self._seen:,} case ids could not be read again")
        self._last = None


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


