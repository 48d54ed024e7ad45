"""Column helpers shared by the pricing steps: string columns as integer codes, the year of each case."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

__all__ = ["case_years", "encode_strings"]


def encode_strings(col: pa.ChunkedArray | pa.Array) -> tuple[np.ndarray, list]:
    """Dictionary-encode a string column: (int32 codes, -1 for null, and the dictionary values)."""
    import pyarrow.compute as pc

    arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    if pa.types.is_dictionary(arr.type):
        arr = arr.cast(pa.string())
    enc = pc.dictionary_encode(arr.cast(pa.string()))
    return np.asarray(enc.indices.fill_null(-1), dtype=np.int32), enc.dictionary.to_pylist()


def case_years(t: pa.Table) -> np.ndarray:
    """Discharge year of each case (SPEC §0.1: a case belongs to the year of its discharge date)."""
    import pyarrow.compute as pc

    return np.asarray(pc.year(t.column("discharge_date")).fill_null(0), dtype=np.int32)
