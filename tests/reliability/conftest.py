"""Fixtures of the reliability tests (issue 16): a small published world and a way to run ``drg`` as a person
does, in this process (fast) or as a child process (for kills, full disks and read-only mounts).

``rworld`` (session): the demo scheme compiled, a synthetic city (history 2023–2024, cases of 2025), weights
and coefficients under the ``demo`` policy, a bundle with point values, and the 2025 cases grouped and priced.

``small_disk`` and ``read_only_dir``: a size-limited and a read-only tmpfs (skipped where mounting is not
permitted). The helpers to run ``drg`` are in ``relhelpers.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from relhelpers import mounted  # noqa: E402


def pytest_configure(config):
    config.addinivalue_line("markers", "corpus: the whole generated bad-input corpus (pytest -m corpus)")


def pytest_collection_modifyitems(config, items):
    """The whole corpus runs only when asked for (``-m corpus``)."""
    if "corpus" in (config.getoption("-m") or ""):
        return
    skip = pytest.mark.skip(reason="the whole corpus runs with -m corpus")
    for item in items:
        if "corpus" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def rworld(tmp_path_factory) -> dict:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from drg.estimate.bundle import publish
    from drg.grouping import group_file
    from drg.pricing.coefficients import build_tables
    from drg.pricing.priced_file import price_file
    from drg.synth.city import synthesize
    from drg.synth.samples import city_settings, schemes
    from grouper.build import build_scheme
    from grouper.rules import load_code_dictionary, load_rule_set
    from grouper.scheme import load_scheme

    root = tmp_path_factory.mktemp("rworld")
    sample = schemes()["demo"]
    scheme_path = root / "demo.scheme"
    build_scheme(sample.rules_dir, sample.codes_dir, out=scheme_path)
    res = synthesize(load_rule_set(sample.rules_dir), load_code_dictionary(sample.codes_dir), root / "city",
                     cases=2400, years=[2023, 2024, 2025], settings=city_settings("demo"), seed=11)
    hist = pa.concat_tables([pq.read_table(res.case_files[2023]), pq.read_table(res.case_files[2024])])
    pq.write_table(hist, root / "history.parquet")
    build_tables(root / "history.parquet", res.hospitals, "demo", root / "tables", year=2025)
    publish(scheme_path, root / "tables", "demo", root / "bundle", point_values=["310=85.5", "390=80.2"])
    scheme = load_scheme(scheme_path)
    group_file(scheme, res.case_files[2025], root / "grouped.parquet")
    price_file(root / "grouped.parquet", root / "tables", "demo", root / "priced.parquet", year=2025)
    return {"root": root, "scheme": scheme_path, "tables": root / "tables", "bundle": root / "bundle",
            "cases": res.case_files[2025], "hospitals": res.hospitals, "budget": res.budget,
            "county_income": res.county_income, "grouped": root / "grouped.parquet",
            "priced": root / "priced.parquet", "dx": list(scheme.dx_codes[:40])}


@pytest.fixture
def small_disk():
    with mounted("small", "96k") as where:
        yield where


@pytest.fixture
def read_only_dir():
    with mounted("ro") as where:
        yield where
