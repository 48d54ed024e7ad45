"""Money columns to fen (:mod:`drg.casefile.money`): ties rounded half away from zero on the decimal, the numba
kernel of long columns against its twin."""

from __future__ import annotations

import numpy as np

from drg.casefile import yuan_to_fen_array, yuan_to_fen_array_twin


def test_yuan_to_fen_ties():
    x = np.array([0.005, 0.015, 1.005, 2.675, -0.005, 12345.675, 0.0, 99.99])
    assert yuan_to_fen_array(x).tolist() == [1, 2, 101, 268, -1, 1234568, 0, 9999]
    assert yuan_to_fen_array_twin(x).tolist() == [1, 2, 101, 268, -1, 1234568, 0, 9999]


def test_fast_yuan_to_fen_agrees_with_its_twin():
    from drg.casefile import FAST_ROWS

    rng = np.random.default_rng(3)
    cents = rng.integers(-10**9, 10**9, 200_000)
    x = np.concatenate([cents / 100, (cents * 10 + 5) / 1000, rng.uniform(-1e6, 1e6, 50_000),
                        [0.005, 0.015, 1.005, 2.675, -0.005, 12345.675, 0.0, 99.99, np.nan, np.inf]])
    assert len(x) >= 10 * FAST_ROWS     # the kernel's road
    assert np.array_equal(yuan_to_fen_array(x), yuan_to_fen_array_twin(x))
