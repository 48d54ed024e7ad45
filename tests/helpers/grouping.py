"""Grouping cases through either engine with the reference grouper's interface, so that a test written
against :func:`grouper.reference.group_case` runs on the kernel too (the ``group_case`` fixture,
tests/grouper/conftest.py).

``python`` is the reference itself; ``numba`` groups the cases as one Arrow batch with
:class:`grouper.batch.BatchGrouper` and returns :class:`grouper.reference.Result` objects without steps (only
the reference explains itself).
"""

from __future__ import annotations

import pyarrow as pa

from grouper import Case, Result, group_case

CASE_TYPES = {"sex": pa.int8(), "age": pa.int16(), "age_days": pa.int32(), "birth_weight": pa.int32(),
              "vent_hours": pa.int32(), "dx": pa.list_(pa.string()), "px": pa.list_(pa.string())}


def cases_table(cases: list[Case]) -> pa.Table:
    """Cases as a batch with the contract's grouping columns."""
    return pa.table({k: pa.array([getattr(c, k) for c in cases], t) for k, t in CASE_TYPES.items()})


def group_table(scheme, table: pa.Table, engine: str) -> list[Result]:
    """Every case of ``table`` (the contract's grouping columns) grouped by ``engine``."""
    if engine == "python":
        return [group_case(scheme, Case(sex=r["sex"], age=r["age"], dx=r["dx"] or [], px=r.get("px") or [],
                                        age_days=r.get("age_days"), birth_weight=r.get("birth_weight"),
                                        vent_hours=r.get("vent_hours"), los=r.get("los")))
                for r in table.to_pylist()]
    from grouper.batch import BatchGrouper

    grouper = BatchGrouper(scheme, engine=engine)
    enc, written = grouper.encode_batch(table)
    out = grouper.run_kernel(enc)
    cols = grouper.result_columns(table, enc, out, written=written)
    rows = zip(*(cols[c].to_pylist() for c in ("mdc", "adrg", "drg", "cc_level", "group_status", "group_note",
                                               "cc_dx")))
    return [Result(mdc, adrg, drg, level, status, int(flags), [note] if note else [], cc_dx=cc_dx)
            for (mdc, adrg, drg, level, status, note, cc_dx), flags in zip(rows, out["flags"].tolist())]


def group_case_with(engine: str):
    """:func:`grouper.reference.group_case` for ``engine`` (``numba``: no ``explain``, no ``exact``)."""
    if engine == "python":
        return group_case

    def kernel_group_case(scheme, case: Case, explain: bool = False, exact: bool = False) -> Result:
        if explain or exact:
            raise TypeError("only the reference grouper explains or matches codes exactly: use "
                            "grouper.reference.group_case")
        return group_table(scheme, cases_table([case]), engine)[0]

    return kernel_group_case
