"""Case ids hashed to 64 bits and a set of those hashes filled as rows stream by (numba kernels).

Used by :class:`drg.casefile.reader.StreamingDuplicateFinder` to find repeated ``case_id`` values in the same pass that
validates the rows, instead of a pre-pass over the id column: on a 10-million-case file the pre-pass costs
0.5-0.8 s before the first batch can start, while hashing and inserting in the validating thread costs
about 0.45 s spread over the run.

* :func:`hash_ids` (and :func:`id_hashes`, its hashes alone) hashes each id's UTF-8 bytes straight from the
  Arrow buffers (FNV-1a, then the MurmurHash3 finaliser so that every bit depends on every byte). A null id
  has its own hash. No hash is 0 (0 marks an empty slot of the set). The same pass can check that the ids
  strictly increase, in which case none repeats and the set is not needed (0.09 s for each of the two over
  10 million ids).
* :class:`IdHashSet` is an open-addressing table of hashes (linear probing, at most 70 % full). A batch's
  hashes are inserted bucket by bucket (256 buckets by their top bits, each a contiguous half-megabyte
  region of the 128 MB table of 10 million ids), not in row order: a random insert into a table that size
  misses the cache and the TLB every time (1.2 s for 10 million ids), bucketed ones about a third of that.
  Rows of one bucket keep their file order, so of two equal ids the earlier one is the one inserted.

The plain-Python twins (:func:`id_hash_twin`, :func:`increasing_twin`, :func:`insert_marking_twin`) define
the same results one id at a time; the tests run both.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pyarrow as pa
from numba import njit

from drg.casefile.strings import string_buffers

__all__ = ['NULL_ID_HASH', 'HashedIds', 'hash_ids', 'id_hashes', 'increasing_twin', 'id_hash_twin', 'insert_marking_twin', 'IdHashSet']

_FNV_OFFSET = np.uint64(0xCBF29CE484222325)
_FNV_PRIME = np.uint64(0x100000001B3)
_MASK64 = (1 << 64) - 1
#: The hash of a null id (an arbitrary odd constant; a string that hashes to it is told apart by the check
#: after the pass, like any other collision).
NULL_ID_HASH = np.uint64(0x9E3779B97F4A7C15)
_BUCKET_BITS = 8
_NO_BYTES = np.zeros(0, np.uint8)
_MAX_LOAD = 0.7


@njit(cache=True, nogil=True, inline="always")
def _finish(h):
    h ^= h >> np.uint64(33)
    h *= np.uint64(0xFF51AFD7ED558CCD)
    h ^= h >> np.uint64(33)
    h *= np.uint64(0xC4CEB9FE1A85EC53)
    h ^= h >> np.uint64(33)
    return h if h != np.uint64(0) else np.uint64(1)


@njit(cache=True, nogil=True, inline="always")
def _after(a, a0, a1, b, b0, b1):
    """Whether the bytes ``a[a0:a1]`` come after ``b[b0:b1]`` (byte order, a prefix first)."""
    for k in range(min(a1 - a0, b1 - b0)):
        if a[a0 + k] != b[b0 + k]:
            return a[a0 + k] > b[b0 + k]
    return a1 - a0 > b1 - b0


@njit(cache=True, nogil=True)
def _hash_strings(offsets, data, nulls, out, check_order, prev, has_prev, do_hash):
    """``out[i]`` = hash of the bytes ``data[offsets[i]:offsets[i + 1]]`` (``nulls`` empty, or a mask);
    nothing is hashed without ``do_hash``.

    With ``check_order``, returns whether every id comes after the one before it (the first after ``prev``
    when ``has_prev``); a null breaks the order. Without, returns False."""
    has_nulls = len(nulls) > 0
    ordered = check_order
    for i in range(len(offsets) - 1):
        if has_nulls and nulls[i]:
            if do_hash:
                out[i] = NULL_ID_HASH
            ordered = False
            continue
        a0 = offsets[i]
        a1 = offsets[i + 1]
        if do_hash:
            h = _FNV_OFFSET
            for k in range(a0, a1):
                h = (h ^ np.uint64(data[k])) * _FNV_PRIME
            out[i] = _finish(h)
        elif not ordered:
            break
        if ordered:
            if i > 0:
                ordered = _after(data, a0, a1, data, offsets[i - 1], a0)
            elif has_prev:
                ordered = _after(data, a0, a1, prev, 0, len(prev))
    return ordered


class HashedIds(NamedTuple):
    """The hashes of a column of ids and, when asked, whether the ids strictly increase."""

    #: (None when not asked for)
    hashes: np.ndarray | None
    #: every id comes after the one before it in byte order, the first after ``after`` (False when the order
    #: was not checked, or there is a null)
    increasing: bool
    #: the last id's UTF-8 bytes (``after`` for an empty column)
    last: np.ndarray | None


def hash_ids(ids: pa.Array | pa.ChunkedArray, *, check_order: bool = False,
             after: np.ndarray | None = None, hashes: bool = True) -> HashedIds:
    """The 64-bit hash of each id of an Arrow string column (other types are cast to strings first), and
    with ``check_order`` whether the ids strictly increase, starting after the bytes ``after``.

    Both come from one pass over the id bytes: a file whose ids are written in increasing order (as
    settlement systems usually number them) has no repeated id, which
    :class:`drg.casefile.reader.StreamingDuplicateFinder` then knows without inserting any hash into its set. Without
    ``hashes`` only the order is checked (the pass stops at the first id out of order)."""
    chunks = ids.chunks if isinstance(ids, pa.ChunkedArray) else [ids]
    out = np.empty(len(ids) if hashes else 0, dtype=np.uint64)
    at = 0
    ordered = check_order
    last = after
    for chunk in chunks:
        if not (hashes or ordered):
            break
        if pa.types.is_dictionary(chunk.type):
            chunk = chunk.dictionary_decode()
        if chunk.type not in (pa.string(), pa.large_string()):
            chunk = chunk.cast(pa.large_string())
        n = len(chunk)
        if not n:
            continue
        off, data = string_buffers(chunk)
        nulls = chunk.is_null().to_numpy(zero_copy_only=False) if chunk.null_count else np.zeros(0, bool)
        ordered = _hash_strings(off, data, nulls, out[at:at + n] if hashes else out, ordered,
                                _NO_BYTES if last is None else last, last is not None, hashes)
        if ordered:
            last = data[off[n - 1]:off[n]].copy()
        at += n
    return HashedIds(out if hashes else None, bool(ordered), last if ordered else None)


def id_hashes(ids: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """The 64-bit hash of each id of an Arrow string column (other types are cast to strings first)."""
    return hash_ids(ids).hashes


def increasing_twin(values: list[str | None], after: bytes | None = None) -> bool:
    """Plain-Python twin of ``hash_ids(..., check_order=True).increasing``: no null, and each id's UTF-8
    bytes after the one before (the first after ``after``)."""
    if any(v is None for v in values):
        return False
    raw = ([after] if after is not None else []) + [v.encode("utf-8") for v in values]
    return all(a < b for a, b in zip(raw, raw[1:]))


def id_hash_twin(value: str | None) -> int:
    """Plain-Python twin of :func:`id_hashes` for one id."""
    if value is None:
        return int(NULL_ID_HASH)
    h = int(_FNV_OFFSET)
    for b in value.encode("utf-8"):
        h = ((h ^ b) * int(_FNV_PRIME)) & _MASK64
    for shift_mul in (0xFF51AFD7ED558CCD, 0xC4CEB9FE1A85EC53, None):
        h ^= h >> 33
        if shift_mul is not None:
            h = (h * shift_mul) & _MASK64
    return h or 1


@njit(cache=True, nogil=True)
def _insert_marking(hashes, table, slot_shift, repeated):
    """Insert ``hashes`` into ``table`` (a power of two long, ``2 ** (64 - slot_shift)``; linear probing
    from each hash's top bits), bucket by bucket; mark in
    ``repeated`` each row whose hash the table already held. Returns the number of hashes added."""
    n = len(hashes)
    n_buckets = 1 << _BUCKET_BITS
    to_bucket = np.uint64(64 - _BUCKET_BITS)
    start = np.zeros(n_buckets + 1, np.int64)
    for i in range(n):
        start[(hashes[i] >> to_bucket) + np.uint64(1)] += 1
    for b in range(n_buckets):
        start[b + 1] += start[b]
    order = np.empty(n, np.int64)
    for i in range(n):  # a stable counting sort: in a bucket, rows keep their order
        b = hashes[i] >> to_bucket
        order[start[b]] = i
        start[b] += 1
    to_slot = np.uint64(slot_shift)
    last = np.uint64(len(table) - 1)
    added = 0
    for j in range(n):
        i = order[j]
        h = hashes[i]
        s = h >> to_slot
        while True:
            v = table[s]
            if v == np.uint64(0):
                table[s] = h
                added += 1
                break
            if v == h:
                repeated[i] = True
                break
            s = (s + np.uint64(1)) & last
    return added


def insert_marking_twin(hashes, seen: set[int]) -> np.ndarray:
    """Plain-Python twin of :meth:`IdHashSet.add`: the rows whose hash ``seen`` (updated) already held."""
    out = np.zeros(len(hashes), dtype=bool)
    for i, h in enumerate(int(x) for x in hashes):
        if h in seen:
            out[i] = True
        else:
            seen.add(h)
    return out


def _zeroed_table(slots: int) -> np.ndarray:
    """A zeroed uint64 array; a large one is mapped with transparent huge pages where Linux offers them
    (fewer page faults and TLB misses for the set's scattered inserts)."""
    nbytes = slots * 8
    if nbytes >= 32 << 20:
        try:
            import mmap

            m = mmap.mmap(-1, nbytes, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
            m.madvise(mmap.MADV_HUGEPAGE)
            return np.frombuffer(m, dtype=np.uint64)
        except (AttributeError, OSError, ValueError):  # pragma: no cover - not Linux
            pass
    return np.zeros(slots, dtype=np.uint64)


class IdHashSet:
    """The set of id hashes seen so far. ``expected`` (the file's row count) sizes the table once; it
    doubles if more ids come."""

    def __init__(self, expected: int = 0) -> None:
        self.count = 0
        self._table = _zeroed_table(self._slots_for(expected))
        self._shift = 64 - (len(self._table).bit_length() - 1)

    @staticmethod
    def _slots_for(n: int) -> int:
        slots = 1 << 10
        while slots * _MAX_LOAD < n:
            slots <<= 1
        return slots

    def add(self, hashes: np.ndarray) -> np.ndarray:
        """Insert ``hashes`` (in row order) and return the mask of rows whose hash was already in the set:
        held from an earlier batch or an earlier row of this one."""
        if (self.count + len(hashes)) > len(self._table) * _MAX_LOAD:
            self._grow(self.count + len(hashes))
        repeated = np.zeros(len(hashes), dtype=bool)
        self.count += _insert_marking(hashes, self._table, self._shift, repeated)
        return repeated

    def _grow(self, n: int) -> None:
        held = self._table[self._table != 0]
        self._table = _zeroed_table(self._slots_for(n))
        self._shift = 64 - (len(self._table).bit_length() - 1)
        _insert_marking(held, self._table, self._shift, np.zeros(len(held), dtype=bool))
