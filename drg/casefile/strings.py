"""Arrow string arrays read on their buffers: offsets and bytes, blank values found without copies."""

from __future__ import annotations

import numpy as np
import polars as pl
import pyarrow as pa

__all__ = ['string_buffers', 'null_or_blank', 'per_dictionary_value']


#: bytes that may begin a whitespace character: ASCII tab..carriage return and space, and every non-ASCII
#: lead byte (U+0085, U+00A0, U+3000 ... are whitespace to ``str.strip_chars``)
_MAY_BEGIN_SPACE = np.zeros(256, dtype=bool)


def string_buffers(chunk: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """The offsets (``len + 1`` of them, int32 or int64) and the UTF-8 bytes of an Arrow ``string`` or
    ``large_string`` array, as numpy views (no copy; a sliced array's own offsets)."""
    _validity, offsets, data = chunk.buffers()
    n = len(chunk)
    off = np.frombuffer(offsets, np.int64 if chunk.type == pa.large_string() else np.int32)[
        chunk.offset:chunk.offset + n + 1]
    return off, (np.frombuffer(data, np.uint8) if data is not None else np.zeros(0, np.uint8))


def null_or_blank(column: pa.ChunkedArray) -> np.ndarray | None:
    """Rows of a plain Arrow string column that are null, empty or whitespace only (None for other types).

    A value can only strip to nothing if it is empty or its first byte may begin a whitespace character;
    only those few candidates go through polars' ``strip_chars`` (the rule the other formats use), so an id
    column of clean ids costs one pass over its offsets instead of a trimmed copy of every id."""
    parts = []
    for chunk in column.chunks:
        if chunk.type not in (pa.string(), pa.large_string()):
            return None
        off, data = string_buffers(chunk)
        length = np.diff(off)
        mask = length == 0
        if data.size:
            first = data[np.minimum(off[:-1], data.size - 1)]
            maybe = np.flatnonzero(_MAY_BEGIN_SPACE[first] & ~mask)
            if len(maybe):
                values = pl.from_arrow(chunk.take(pa.array(maybe)))
                mask[maybe] = (values.str.strip_chars().str.len_bytes() == 0).fill_null(False).to_numpy()
        if chunk.null_count:
            mask |= chunk.is_null().to_numpy(zero_copy_only=False)
        parts.append(mask)
    return np.concatenate(parts) if parts else np.zeros(0, dtype=bool)


def per_dictionary_value(column, per_value, null, dtype) -> np.ndarray:
    """A value per row of a dictionary-encoded column (Arrow array or chunked array, each chunk with its own
    dictionary): ``per_value(dictionary)`` gives one value per dictionary entry, evaluated once per chunk and
    taken by the row's index; a null row gets ``null``. No value is built per row."""
    out = np.empty(len(column), dtype)
    at = 0
    for chunk in (column.chunks if isinstance(column, pa.ChunkedArray) else [column]):
        table = np.append(np.asarray(per_value(chunk.dictionary), dtype), np.array([null], dtype))
        out[at:at + len(chunk)] = table[np.asarray(chunk.indices.fill_null(len(chunk.dictionary)), np.int64)]
        at += len(chunk)
    return out
