"""Column helpers shared by the pricing steps: string columns as integer codes, the year of each case."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

__all__ = ["case_years", "encode_strings", "filled", "take_rows", "values_in"]


def filled(col: pa.ChunkedArray | pa.Array, value) -> pa.ChunkedArray | pa.Array:
    """``col`` with its nulls replaced by ``value``; ``col`` itself when it has none. (Arrow's ``fill_null``
    copies a column without nulls too: at 10 M cases a fresh 40–80 MB column for each of a dozen calls, and
    the machine charges for every page of fresh memory.)"""
    return col if col.null_count == 0 else col.fill_null(value)


def take_rows(col: pa.ChunkedArray | pa.Array, rows: np.ndarray) -> pa.Array:
    """``col[rows]`` as one array, taken chunk by chunk: Arrow's ``take`` on a chunked column joins every
    chunk into one fresh array first (10 M patient ids: 150 MB) however few the rows."""
    rows = np.asarray(rows, dtype=np.int64)
    if not isinstance(col, pa.ChunkedArray):
        return col.take(pa.array(rows))
    if col.num_chunks <= 1 or not len(rows):
        return (col.chunk(0) if col.num_chunks else pa.array([], col.type)).take(pa.array(rows))
    order = None if bool(np.all(rows[1:] >= rows[:-1])) else np.argsort(rows, kind="stable")
    ordered = rows if order is None else rows[order]
    starts = np.cumsum([0] + [len(c) for c in col.chunks], dtype=np.int64)
    if len(ordered) and (ordered[0] < 0 or ordered[-1] >= starts[-1]):
        raise IndexError("row out of range")
    cut = np.searchsorted(ordered, starts)
    parts = [col.chunk(c).take(pa.array(ordered[cut[c]:cut[c + 1]] - starts[c]))
             for c in range(col.num_chunks) if cut[c + 1] > cut[c]]
    taken = pa.concat_arrays(parts)
    if order is None:
        return taken
    back = np.empty(len(order), np.int64)
    back[order] = np.arange(len(order))
    return taken.take(pa.array(back))


def encode_strings(col: pa.ChunkedArray | pa.Array) -> tuple[np.ndarray, list]:
    """Dictionary-encode a string column: (int32 codes, -1 for null, and the dictionary values)."""
    import pyarrow.compute as pc

    if pa.types.is_dictionary(col.type):   # (read as a dictionary: each chunk's few values looked up once)
        return _encode_dictionary(col)
    arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    enc = pc.dictionary_encode(arr.cast(pa.string()))
    return np.asarray(filled(enc.indices, -1), dtype=np.int32), enc.dictionary.to_pylist()


def _encode_dictionary(column) -> tuple[np.ndarray, list]:
    """:func:`encode_strings` of a dictionary column: one code per distinct value over every chunk, in order of
    first appearance in the chunks' dictionaries (a null, or a null value, is -1)."""
    from drg.casefile.strings import per_dictionary_value

    index: dict[str, int] = {}

    def codes(values: pa.Array) -> list[int]:
        if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
            values = values.cast(pa.string())
        return [-1 if v is None else index.setdefault(v, len(index)) for v in values.to_pylist()]

    return per_dictionary_value(column, codes, -1, np.int32), list(index)


def values_in(col: pa.ChunkedArray | pa.Array, values) -> np.ndarray:
    """Whether each value of a string column (plain or dictionary) is one of ``values`` (a null is not)."""
    import pyarrow.compute as pc

    from drg.casefile.strings import per_dictionary_value

    value_set = pa.array(list(values), pa.string())

    def hits(strings) -> np.ndarray:
        return np.asarray(pc.is_in(strings.cast(pa.string()), value_set=value_set).fill_null(False), dtype=bool)

    return per_dictionary_value(col, hits, False, bool) if pa.types.is_dictionary(col.type) else hits(col)


def case_years(t: pa.Table) -> np.ndarray:
    """Discharge year of each case (SPEC §0.1: a case belongs to the year of its discharge date)."""
    import pyarrow.compute as pc

    return np.asarray(filled(pc.year(t.column("discharge_date")), 0), dtype=np.int32)
