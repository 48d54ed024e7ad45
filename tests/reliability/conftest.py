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
    """The whole corpus runs only when asked for (``-m corpus``); otherwise its inputs are deselected."""
    if "corpus" in (config.getoption("-m") or ""):
        return
    keep, drop = [], []
    for item in items:
        (drop if "corpus" in item.keywords else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture(scope="session")
def rworld(tmp_path_factory) -> dict:
    import pyarrow as pa
    import pyarrow.compute  # noqa: F401
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
    pq.write_table(hist, root / "history_cases.parquet")
    scheme = load_scheme(scheme_path)
    group_file(scheme, root / "history_cases.parquet", root / "history.parquet", engine="numba")
    build_tables(root / "history.parquet", res.hospitals, "demo", root / "tables", year=2025)
    publish(scheme_path, root / "tables", "demo", root / "bundle", point_values=["310=85.5", "390=80.2"])
    group_file(scheme, res.case_files[2025], root / "grouped.parquet", engine="numba")   # (data, not a test of the engines)
    price_file(root / "grouped.parquet", root / "tables", "demo", root / "priced.parquet", year=2025,
               engine="numba")
    # the priced cases of three hospitals with outliers (statements are written per hospital: quicker runs)
    import polars as pl

    priced = pl.read_parquet(root / "priced.parquet")
    three = (priced.filter(pl.col("case_class").is_in(["high", "low"])).group_by("hospital_id").len()
             .sort(["len", "hospital_id"], descending=[True, False]).head(3)["hospital_id"].to_list())
    pq.write_table(pq.read_table(root / "priced.parquet").filter(
        pa.compute.is_in(pq.read_table(root / "priced.parquet").column("hospital_id"), pa.array(three))),
        root / "priced_small.parquet")
    cases = pq.read_table(res.case_files[2025])
    pq.write_table(cases.set_column(cases.column_names.index("sex"), "sex", pa.array([7] * cases.num_rows, pa.int8())),
                   root / "rejected.parquet")       # every row rejected (sex 7)
    return {"root": root, "scheme": scheme_path, "rejected": root / "rejected.parquet", "tables": root / "tables", "bundle": root / "bundle",
            "cases": res.case_files[2025], "hospitals": res.hospitals, "budget": res.budget,
            "county_income": res.county_income, "grouped": root / "grouped.parquet",
            "priced": root / "priced.parquet", "priced_small": root / "priced_small.parquet",
            "dx": list(scheme.dx_codes[:40])}


@pytest.fixture
def small_disk():
    with mounted("small", "96k") as where:
        yield where


@pytest.fixture
def read_only_dir():
    with mounted("ro") as where:
        yield where
