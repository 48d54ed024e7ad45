"""Benchmark configuration: sizes, shared data, and the ``benchmark`` marker.

``pytest benchmarks`` runs the quick set (small sizes, so benchmarks never rot; they print results and fail
only if they error). ``pytest benchmarks --bench-size=full`` runs the published sizes (10 million cases).
Every benchmark reports a ratio to plain pyarrow/polars work measured in the same run, because these
machines are shared and noisy.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

SIZES = {"quick": 200_000, "1m": 1_000_000, "5m": 5_000_000, "full": 10_000_000}
REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


def pytest_addoption(parser):
    parser.addoption("--bench-size", action="store", default="quick", choices=sorted(SIZES),
                     help="quick (CI, small), 1m or 5m (one or five million cases) or full (10 million cases)")


def pytest_collection_modifyitems(config, items):
    for item in items:
        item.add_marker(pytest.mark.benchmark)


@pytest.fixture(scope="session")
def bench_cases(request) -> int:
    """Number of cases for this run's benchmarks."""
    return SIZES[request.config.getoption("--bench-size")]


@pytest.fixture(scope="session")
def bench_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("bench")


@pytest.fixture(scope="session")
def synthetic_city(bench_dir, bench_cases) -> dict:
    """A synthetic city of ``bench_cases`` cases in one settlement year plus two history years (demo scheme).

    Returns the :class:`drg.synth.city.SynthResult` fields as a dict; shared by all benchmarks of the session.
    """
    from grouper.rules import load_code_dictionary, load_rule_set

    from drg.synth.samples import city_settings, schemes
    from drg.synth.city import synthesize

    sample = schemes()["demo"]
    per_year = bench_cases
    result = synthesize(load_rule_set(sample.rules_dir), load_code_dictionary(sample.codes_dir),
                        bench_dir / "city", cases=per_year * 3, years=[2023, 2024, 2025],
                        settings=city_settings("demo" if per_year <= 1_000_000 else "province"))
    return {"result": result, "settlement_year": 2025, "history_years": [2023, 2024]}


@pytest.fixture(scope="session")
def grouped_city(synthetic_city, bench_dir) -> dict:
    """The synthetic city's case files grouped with the demo scheme (pricing and weights read grouped files
    only): ``{year: path}``."""
    from drg.grouping import group_file
    from drg.synth.samples import schemes
    from grouper.build import build_scheme
    from grouper.scheme import load_scheme

    sample = schemes()["demo"]
    build_scheme(sample.rules_dir, sample.codes_dir, out=bench_dir / "demo.scheme")
    scheme = load_scheme(bench_dir / "demo.scheme")
    res = synthetic_city["result"]
    out = {}
    for year, path in res.case_files.items():
        out[year] = bench_dir / f"grouped-{year}.parquet"
        group_file(scheme, path, out[year])
    return out


@pytest.fixture(scope="session")
def city_tables(synthetic_city, grouped_city, bench_dir) -> dict:
    """Weights and coefficients of the synthetic city's grouped history years under the demo policy, built
    once for every benchmark of the session: ``{"cases" (the grouped settlement year), "tables", "policy",
    "year", "result"}``."""
    from drg.pricing.coefficients import build_tables
    from drg.policy import load_policy

    res = synthetic_city["result"]
    year = synthetic_city["settlement_year"]
    policy = load_policy("demo")
    tables = bench_dir / "tables"
    build_tables([grouped_city[y] for y in synthetic_city["history_years"]], res.hospitals, policy, tables,
                 year=year)
    return {"cases": grouped_city[year], "tables": tables, "policy": policy, "year": year, "result": res}


def record(benchmark, **figures) -> None:
    """Attach figures (ratios, rates) to a benchmark's JSON and print them."""
    for k, v in figures.items():
        benchmark.extra_info[k] = v
    print("  ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in figures.items()))


def best_of(fn, rounds: int = 3) -> float:
    """The fastest of ``rounds`` timed calls of ``fn`` (seconds): the baseline side of every ratio."""
    best = float("inf")
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best
