"""The rows ``drg points`` cannot price (:func:`drg.pricing.priced_file.unpriceable`): repeated ids after trimming,
missing ids not counted as repeats, and every problem of a row named in order."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from drg.pricing.priced_file import unpriceable


def _table(ids):
    n = len(ids)
    return pa.table({"case_id": pa.array(ids, pa.string()), "hospital_id": ["H1"] * n,
                     "los": pa.array([3] * n, pa.int32()), "discharge_date": [dt.date(2025, 3, 1)] * n,
                     "total_cost_fen": pa.array([100_00] * n, pa.int64())})


@pytest.mark.usefixtures("engine")
def test_repeated_ids_after_trimming_and_missing_ids():
    keep, reasons, details = unpriceable(_table(["A", " A", None, None, "B", "A ", "", "B"]))
    assert keep.tolist() == [True, False, False, False, True, False, False, False]
    assert reasons == ["duplicate_case_id", "missing_field", "missing_field", "duplicate_case_id", "missing_field",
                       "duplicate_case_id"]
    assert details[1] == "missing_field:case_id"


@pytest.mark.usefixtures("engine")
def test_ids_sharing_a_hash_are_not_repeats(monkeypatch):
    import numpy as np

    import drg.casefile.idset as idset

    strong = idset.hash_ids
    monkeypatch.setattr(idset, "hash_ids", lambda ids, **kw: strong(ids, **kw)._replace(
        hashes=np.full(len(ids), 7, np.uint64)))       # every id the same hash
    keep, reasons, _ = unpriceable(_table(["A", "B", "C", "B"]))
    assert keep.tolist() == [True, True, True, False] and reasons == ["duplicate_case_id"]


def test_a_table_without_problems_keeps_every_row():
    assert unpriceable(_table(["A", "B"])) == (None, [], [])
