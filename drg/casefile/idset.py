"""Case ids hashed to 64 bits straight from their Arrow buffers (a numba kernel), for the exact duplicate check
of :mod:`drg.casefile.duplicates`.

:func:`hash_ids` (and :func:`id_hashes`, its hashes alone) hashes each id's UTF-8 bytes (FNV-1a, then the
MurmurHash3 finaliser so that every bit depends on every byte). A null id has its own hash; no hash is 0. The
same pass can check that the ids strictly increase, in which case none repeats and no hash is needed (0.09 s
for each of the two over 10 million ids): :class:`drg.casefile.duplicates.StreamingDuplicateFinder` reads an
increasing file with no pre-pass.

The plain-Python twins (:func:`id_hash_twin`, :func:`increasing_twin`) define the same results one id at a
time; the tests run both.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pyarrow as pa
from numba import njit

from drg.casefile.strings import string_buffers

__all__ = ['NULL_ID_HASH', 'HashedIds', 'fmix64', 'hash_ids', 'id_hashes', 'increasing_twin', 'id_hash_twin']

_FNV_OFFSET = np.uint64(0xCBF29CE484222325)
_FNV_PRIME = np.uint64(0x100000001B3)
_MASK64 = (1 << 64) - 1
#: The hash of a null id (an arbitrary odd constant; a string that hashes to it is told apart by the check
#: after the pass, like any other collision).
NULL_ID_HASH = np.uint64(0x9E3779B97F4A7C15)
_NO_BYTES = np.zeros(0, np.uint8)


@njit(cache=True, nogil=True, inline="always")
def fmix64(h):
    """MurmurHash3's 64-bit finaliser: every input bit reaches every output bit (the low bits a table's mask
    keeps included)."""
    h ^= h >> np.uint64(33)
    h *= np.uint64(0xFF51AFD7ED558CCD)
    h ^= h >> np.uint64(33)
    h *= np.uint64(0xC4CEB9FE1A85EC53)
    h ^= h >> np.uint64(33)
    return h


@njit(cache=True, nogil=True, inline="always")
def _finish(h):
    h = fmix64(h)
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
    :class:`drg.casefile.duplicates.StreamingDuplicateFinder` then knows with no pre-pass. Without
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
