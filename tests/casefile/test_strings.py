"""Dictionary-encoded text columns read value by value (drg.casefile.strings.per_dictionary_value) and the
helpers built on it: blank values, set membership, integer codes, the settlement's flags."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

VALUES = st.sampled_from(["H01", "H02", " ", "", "患者", "ok", None])


def _dictionary_chunks(parts: list[list]) -> pa.ChunkedArray:
    """Each part its own chunk with its own dictionary (as Parquet row groups read as dictionaries are)."""
    chunks = [pa.array(p, pa.string()).dictionary_encode() for p in parts]
    return pa.chunked_array(chunks, pa.dictionary(pa.int32(), pa.string()))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(VALUES, max_size=8), max_size=4))
def test_dictionary_columns_give_what_their_strings_give(parts):
    from drg.casefile.problems import blank_mask
    from drg.casefile.strings import per_dictionary_value
    from drg.pricing.columns import encode_strings, values_in
    from drg.settlement.aggregates import _flags

    col = _dictionary_chunks(parts)
    plain = pa.chunked_array([pa.array(p, pa.string()) for p in parts], pa.string())
    flat = [v for p in parts for v in p]
    lengths = per_dictionary_value(col, lambda d: [len(v) for v in d.to_pylist()], -1, np.int64)
    assert lengths.tolist() == [-1 if v is None else len(v) for v in flat]
    assert blank_mask(col).tolist() == blank_mask(plain).tolist()
    assert values_in(col, ["H01", "ok"]).tolist() == values_in(plain, ["H01", "ok"]).tolist()
    codes, names = encode_strings(col)
    assert [None if c < 0 else names[c] for c in codes] == flat and len(set(names)) == len(names)
    rule = lambda v: v is not None and v.startswith("H")  # noqa: E731
    assert _flags(col, rule).tolist() == _flags(plain, rule).tolist() == [rule(v) for v in flat]
