"""grouper.prefetch: a hint that compiles for 1-d and 2-d arrays, any integer index types, and changes nothing."""

from __future__ import annotations

import numpy as np
import pytest
from numba import njit
from numba.core.errors import TypingError

from grouper.prefetch import prefetch, prefetch_for_write


@njit
def _touch(a1, a2, i, j):
    prefetch(a1, i)
    prefetch_for_write(a1, np.int32(i))
    prefetch(a2, (i, j))
    prefetch_for_write(a2, (np.uint64(i), np.int16(j)))
    return a1[i] + a2[i, j]


@njit
def _wrong_rank(a2, i):
    prefetch(a2, i)


def test_prefetch_is_a_hint_that_compiles_for_each_rank_and_index_type():
    a1 = np.arange(10, dtype=np.int64)
    a2 = np.arange(12, dtype=np.int64).reshape(3, 4)
    before = (a1.copy(), a2.copy())
    assert _touch(a1, a2, 2, 3) == 2 + 11
    assert (a1 == before[0]).all() and (a2 == before[1]).all()


def test_an_index_that_does_not_match_the_rank_is_refused_when_compiled():
    with pytest.raises(TypingError):
        _wrong_rank(np.zeros((2, 2)), 1)
