"""Column helpers of the pricing steps: rows taken from a chunked column chunk by chunk, nulls filled only
where there are some."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drg.pricing.columns import filled, take_rows


def _chunked(values: list, cuts: list[int], dictionary: bool) -> pa.ChunkedArray:
    bounds = sorted({0, len(values), *[c % (len(values) + 1) for c in cuts]})
    chunks = [pa.array(values[a:b], pa.string()) for a, b in zip(bounds, bounds[1:])] or [pa.array([], pa.string())]
    if dictionary:   # each chunk its own dictionary, as a Parquet file read row group by row group gives them
        chunks = [c.dictionary_encode() for c in chunks]
    return pa.chunked_array(chunks)


@settings(max_examples=150, deadline=None)
@given(values=st.lists(st.one_of(st.none(), st.text(max_size=4)), min_size=1, max_size=40),
       cuts=st.lists(st.integers(0, 40), max_size=5), dictionary=st.booleans(), data=st.data())
def test_take_rows_equals_arrow_take(values, cuts, dictionary, data):
    col = _chunked(values, cuts, dictionary)
    rows = np.array(data.draw(st.lists(st.integers(0, len(values) - 1), max_size=30)), np.int64)
    got = take_rows(col, rows)
    want = col.take(pa.array(rows, pa.int64()))
    assert got.to_pylist() == want.to_pylist()
    assert isinstance(got, pa.Array)


def test_take_rows_out_of_range_is_an_error():
    col = pa.chunked_array([pa.array(["a"]), pa.array(["b"])])
    with pytest.raises(IndexError):
        take_rows(col, np.array([2]))


def test_filled_returns_the_column_itself_without_nulls():
    col = pa.chunked_array([pa.array([1, 2]), pa.array([3])])
    assert filled(col, 0) is col
    assert filled(pa.chunked_array([pa.array([1, None])]), 0).to_pylist() == [1, 0]
