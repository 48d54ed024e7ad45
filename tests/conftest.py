"""Fixtures shared by the test modules: the published CHS-DRG schemes, each compiled once per session.

The published tables and reference cases are read from ``../shared`` (never copied into the repository);
a test that needs them is skipped when that folder is absent.
"""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO / ".." / "shared"
EDITIONS = {"11": ("CHS_DRG_11", "chs_drg_11"), "20": ("CHS_DRG_20", "chs_drg_20")}


def _build(edition: str):
    from grouper.build import build_scheme

    rules, codes = EDITIONS[edition]
    if not (SHARED / "schemes" / rules).is_dir():
        pytest.skip(f"../shared/schemes/{rules} absent")
    return build_scheme(SHARED / "schemes" / rules, SHARED / "codes" / codes)


@pytest.fixture(scope="session")
def built11():
    """``(scheme, build report)`` of CHS-DRG 1.1."""
    return _build("11")


@pytest.fixture(scope="session")
def built20():
    """``(scheme, build report)`` of CHS-DRG 2.0."""
    return _build("20")


@pytest.fixture(scope="session")
def scheme11(built11):
    return built11[0]


@pytest.fixture(scope="session")
def scheme20(built20):
    return built20[0]


@pytest.fixture(scope="session")
def scheme_files(tmp_path_factory, scheme11, scheme20) -> dict[str, Path]:
    """The two published schemes written as scheme files (for the command line)."""
    d = tmp_path_factory.mktemp("schemes")
    return {"11": scheme11.save(d / "chs11.scheme"), "20": scheme20.save(d / "chs20.scheme")}


# ----------------------------------------------------------------------------------- the reference answers

def reference_case(row: dict):
    """A row of ``../shared/reference/chs_drg_*_cases.parquet`` as a :class:`grouper.reference.Case`."""
    from grouper.reference import Case

    return Case(sex=row["sex"], age=row["age"], dx=row["dx"] or [], px=row["px"] or [], age_days=row["age_days"],
                birth_weight=row["birth_weight"], vent_hours=row["vent_hours"], los=row["los"])


def agrees(expected: dict, drg: str, status: str) -> bool:
    """Whether our result agrees with the independent grouper's answer (docs/grouper-differences.md): the
    same DRG; a refused input (信息校验不通过) and any non-``ok`` status; 无法入组 and ``0000``; an ambiguous
    answer (歧义组) and our ambiguous group of the same code."""
    if expected["status"] == "信息校验不通过":
        return status != "ok"
    if expected["status"] == "无法入组":
        return drg == "0000"
    if expected["status"] == "歧义组":
        return drg == expected["drg"] and status == "ambiguous"
    return drg == expected["drg"]


def compare_with_reference(scheme, edition: str) -> list[tuple]:
    """Every reference case of an edition grouped by the reference grouper: ``(row, expected, result, tidy)``
    (tidy: every raw code equals its normalised form)."""
    import csv

    import pyarrow.parquet as pq

    from grouper.reference import group_case, normalize_code

    ref = SHARED / "reference"
    if not (ref / f"chs_drg_{edition}_cases.parquet").exists():
        pytest.skip("../shared/reference absent")
    rows = pq.read_table(ref / f"chs_drg_{edition}_cases.parquet").to_pylist()
    with open(ref / f"chs_drg_{edition}_expected.csv", encoding="utf-8") as fh:
        expected = {r["case_id"]: r for r in csv.DictReader(fh)}
    return [(r, expected[r["case_id"]], group_case(scheme, reference_case(r)),
             all(c == normalize_code(c) for c in (r["dx"] or []) + (r["px"] or []))) for r in rows]
