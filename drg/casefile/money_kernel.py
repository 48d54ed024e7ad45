"""The numba kernel of :func:`drg.casefile.money.yuan_to_fen_array` (imported only for long columns)."""

from __future__ import annotations

import os

import numpy as np

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # see grouper/kernel.py: no spinning OpenMP workers

from numba import njit, prange  # noqa: E402

__all__ = ["fen_kernel"]


@njit(cache=True, nogil=True, parallel=True)
def fen_kernel(x, fen, near_tie):
    """``fen[i]`` = ``x[i]`` yuan × 100 rounded half away from zero in float64; ``near_tie[i]`` when the scaled
    fraction lies within float error of one half (the caller decides those on the exact decimal). NaN and
    infinities give 0."""
    for i in prange(x.shape[0]):
        v = x[i]
        if not np.isfinite(v):
            fen[i] = 0
            near_tie[i] = False
            continue
        scaled = v * 100.0
        fen[i] = np.int64(np.floor(scaled + 0.5) if scaled >= 0 else np.ceil(scaled - 0.5))
        near_tie[i] = abs(abs(scaled - np.trunc(scaled)) - 0.5) < 1e-6
