"""The independent groupers' answers in ``../shared/reference`` (CHS-DRG 1.1 and 2.0), and how our results are
compared with them (docs/grouper-differences.md)."""

from __future__ import annotations

import pytest

from grouper import Case, normalize_code
from tests.helpers.grouping import group_table
from tests.helpers.paths import SHARED

REF = SHARED / "reference"


def reference_case(row: dict) -> Case:
    """A row of ``../shared/reference/chs_drg_*_cases.parquet`` as a :class:`grouper.reference.Case`."""
    return Case(sex=row["sex"], age=row["age"], dx=row["dx"] or [], px=row["px"] or [], age_days=row["age_days"],
                birth_weight=row["birth_weight"], vent_hours=row["vent_hours"], los=row["los"])


def agrees(expected: dict, drg: str, status: str) -> bool:
    """Whether our result agrees with the independent grouper's answer: the same DRG; a refused input
    (信息校验不通过) and any non-``ok`` status; 无法入组 and ``0000``; an ambiguous answer (歧义组) and our
    ambiguous group of the same code."""
    if expected["status"] == "信息校验不通过":
        return status != "ok"
    if expected["status"] == "无法入组":
        return drg == "0000"
    if expected["status"] == "歧义组":
        return drg == expected["drg"] and status == "ambiguous"
    return drg == expected["drg"]


def reference_comparisons(scheme, edition: str):
    """``compare(engine)``: every reference case of ``edition`` (``"11"``, ``"20"``) with its expected answer,
    its result on ``engine`` and whether its codes are tidy (every raw code equals its normalised form);
    grouped once per engine."""
    import csv

    import pyarrow.parquet as pq

    cases = REF / f"chs_drg_{edition}_cases.parquet"
    if not cases.exists():
        pytest.skip(f"{cases} absent")
    table = pq.read_table(cases)
    rows = table.to_pylist()
    with open(REF / f"chs_drg_{edition}_expected.csv", encoding="utf-8") as fh:
        expected = {r["case_id"]: r for r in csv.DictReader(fh)}
    done: dict[str, list] = {}

    def compare(engine: str) -> list:
        if engine not in done:
            done[engine] = [(r, expected[r["case_id"]], res,
                             all(c == normalize_code(c) for c in (r["dx"] or []) + (r["px"] or [])))
                            for r, res in zip(rows, group_table(scheme, table, engine))]
        return done[engine]

    return compare
