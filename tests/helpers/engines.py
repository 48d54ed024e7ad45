"""The two engines every grouping and pricing test runs on: ``numba`` (the kernels) and ``python`` (their
plain twins).

Functions that take an ``engine`` argument get it from the ``engine`` fixture (tests/conftest.py):
:func:`drg.pricing.points.price_cases`, ``price_file``, ``estimate_file``, :class:`grouper.batch.BatchGrouper`,
``group_batches`` and ``group_file``. Two kernels sit deeper, where no caller passes an engine, and are chosen
by module-level names that :func:`engine_routes` sets for the length of a test:

* yuan → fen (:func:`drg.casefile.money.yuan_to_fen_array`): the numba kernel from ``FAST_ROWS`` values on,
  the twin below. ``numba`` sets ``FAST_ROWS`` to 0 (the kernel on every column, however short), ``python``
  to the largest size (the twin on every column).
* case-id hashing for the duplicate check (:mod:`drg.casefile.duplicates`): ``python`` replaces
  :func:`drg.casefile.idset.hash_ids` by :func:`hash_ids_twin`, built from the module's own twins
  (``id_hash_twin``, ``increasing_twin``).
* a settlement's sums per cell (:mod:`drg.settlement.cells`): ``python`` sets its ``ENGINE`` to the twin.
* the trimming and sums of ``drg weights`` (:mod:`drg.pricing.trimming`): ``python`` sets its ``ENGINE``
  to the numpy twin (:func:`drg.pricing.weights.drg_year_sums_numpy`).
* the hospital coefficients of ``drg weights`` (:mod:`drg.pricing.coefficient_cells`): ``python`` sets its
  ``ENGINE`` to the Fractions of every cell.
* the projection of ``drg weights``' history (:mod:`drg.pricing.history_scan`): ``python`` sets its ``ENGINE``
  to the numpy passes.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pyarrow as pa
import pytest

ENGINES = ("numba", "python")


def hash_ids_twin(ids: pa.Array | pa.ChunkedArray, *, check_order: bool = False, after: np.ndarray | None = None,
                  hashes: bool = True):
    """Plain twin of :func:`drg.casefile.idset.hash_ids`, one id at a time."""
    from drg.casefile.idset import HashedIds, id_hash_twin, increasing_twin

    values: list[str | None] = []
    for chunk in (ids.chunks if isinstance(ids, pa.ChunkedArray) else [ids]):
        if pa.types.is_dictionary(chunk.type):
            chunk = chunk.dictionary_decode()
        if chunk.type not in (pa.string(), pa.large_string()):
            chunk = chunk.cast(pa.large_string())
        values += chunk.to_pylist()
    increasing = check_order and increasing_twin(values, None if after is None else bytes(after))
    last = (np.frombuffer(values[-1].encode("utf-8"), np.uint8).copy() if values else after) if increasing else None
    out = np.array([id_hash_twin(v) for v in values], np.uint64) if hashes else None
    return HashedIds(out, increasing, last)


@contextmanager
def engine_routes(engine: str) -> Iterator[str]:
    """Send the kernels that no caller chooses (see the module docstring) to ``engine`` until the block ends."""
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")
    import drg.casefile.idset as idset
    import drg.casefile.money as money
    import drg.pricing.coefficient_cells as coefficient_cells
    import drg.pricing.history_scan as history_scan
    import drg.pricing.trimming as trimming
    import drg.settlement.cells as cells

    with pytest.MonkeyPatch.context() as mp:
        if engine == "numba":
            mp.setattr(money, "FAST_ROWS", 0)
        else:
            mp.setattr(money, "FAST_ROWS", sys.maxsize)
            mp.setattr(idset, "hash_ids", hash_ids_twin)
            mp.setattr(cells, "ENGINE", "python")
            mp.setattr(trimming, "ENGINE", "python")
            mp.setattr(coefficient_cells, "ENGINE", "python")
            mp.setattr(history_scan, "ENGINE", "python")
        yield engine
