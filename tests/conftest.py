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
