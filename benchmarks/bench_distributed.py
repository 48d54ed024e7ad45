"""Distributed benchmark (issue 19): a settlement year cut into partitions, grouped, priced and settled on a
Dask LocalCluster of worker processes, against the single-machine commands on the same data, same cores.

Sizes: quick (default) 400,000 cases in 4 partitions; ``1m`` and ``5m`` 1 and 5 million in 4 and 10;
``--bench-size=full`` 20,000,000 cases in 40 partitions (500,000 a partition). History for the weights is a
second synthetic city of half the size (two years), cut the same way.

Figures, all measured in the same run (the machine is shared: only ratios within a run mean anything):

* **scaling** — the pipeline (group → points → settle year) on 1 worker × 1 thread against 2 workers × 1
  thread (target ≥ 1.8 ×). In these 1-thread runs numba, polars, OpenMP and Arrow are pinned to one thread
  each (:func:`drg.distributed.plugin.pinned_env`) and each worker process is pinned to its own core, so the
  pipelines' own reader and writer threads cannot borrow the other core either.
* **dask / single** — the same pipeline on 2 workers × 1 thread against the single-machine functions in this
  process, unpinned, on the same 2 cores (target ≤ 1.25 ×). Weights are timed the same way.
* **fixed cost per partition** — grouping the same cases cut in P and 8P partitions on 2 × 1: the extra
  worker-seconds per extra partition.
* **peak memory per worker** — the largest resident set of each worker process over the run, beside the
  partition size (it is bounded by the partition, not the dataset).

Cluster start-up (spawning the workers) and a warm-up run on 2,000 cases (each process loading its numba
kernels, the single machine's too) are reported apart and kept out of the stage times.
"""

from __future__ import annotations

import resource
import shutil
import time
from dataclasses import replace
from pathlib import Path

import pytest

from conftest import record

SIZES = {"quick": (400_000, 4), "1m": (1_000_000, 4), "5m": (5_000_000, 10), "full": (20_000_000, 40)}
YEAR = 2025


def _peak_rss() -> int:
    """This process's peak resident set (VmHWM: reset at exec, unlike getrusage's maxrss, which a spawned
    worker inherits from the process it was forked from)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def _reset_peak() -> None:
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _timed(t: dict, name: str, fn, cpu, reset_peak, peak) -> None:
    """Wall seconds of ``fn()`` into ``t[name]``, CPU seconds (``cpu()`` is the CPU so far) into
    ``t[name + "_cpu"]``, the peak resident set of the stage (``reset_peak()`` before, ``peak()`` after) into
    ``t[name + "_peak"]``."""
    reset_peak()
    c0 = cpu()
    t0 = time.perf_counter()
    fn()
    t[name] = time.perf_counter() - t0
    t[name + "_cpu"] = cpu() - c0
    t[name + "_peak"] = peak()


@pytest.fixture(scope="module")
def dist_data(request, bench_dir) -> dict:
    """The settlement-year dataset (and its single file), history datasets, and tables built once."""
    from grouper.build import build_scheme
    from grouper.rules import load_code_dictionary, load_rule_set

    from drg.casefile.schema import SETTLEMENT_REQUIRED
    from drg.distributed.dataset import split_cases
    from drg.grouping import group_file
    from drg.pricing.coefficients import build_tables
    from drg.synth.city import synthesize
    from drg.synth.samples import city_settings, schemes

    n, parts = SIZES[request.config.getoption("--bench-size")]
    root = bench_dir / "distributed"
    root.mkdir(exist_ok=True)
    sample = schemes()["demo"]
    rules, codes = load_rule_set(sample.rules_dir), load_code_dictionary(sample.codes_dir)
    settings = city_settings("demo" if n <= 1_000_000 else "province")
    city = synthesize(rules, codes, root / "city", cases=n, years=[YEAR], settings=settings, seed=7)
    hist = synthesize(rules, codes, root / "history-city", cases=n // 2, years=[YEAR - 2, YEAR - 1],
                      settings=replace(settings, yearly_case_growth=0.0), seed=8)
    scheme_path = root / "demo.scheme"
    scheme, _ = build_scheme(sample.rules_dir, sample.codes_dir, out=scheme_path)
    cases = split_cases(city.case_files[YEAR], root / "cases", partitions=parts).source
    history_grouped = []
    for y in (YEAR - 2, YEAR - 1):
        g = root / f"history-grouped-{y}.parquet"
        group_file(scheme, hist.case_files[y], g, required=SETTLEMENT_REQUIRED)
        history_grouped.append(g)
    tables = root / "tables"
    build_tables(history_grouped, hist.hospitals, "demo", tables, year=YEAR)
    history = [split_cases(g, root / f"history-{i}", partitions=max(1, parts // 2)).source
               for i, g in enumerate(history_grouped)]
    # a few cases to warm up with: the single machine's process and every worker load their numba kernels
    # (from numba's cache) on first use; that is start-up, kept out of the stage times on both sides
    import pyarrow.parquet as pq

    pq.write_table(pq.ParquetFile(city.case_files[YEAR]).read_row_group(0).slice(0, 2000), root / "warm.parquet")
    warm_cases = split_cases(root / "warm.parquet", root / "warm-cases", partitions=2).source
    return {"n": n, "parts": parts, "root": root, "city": city, "scheme": scheme_path, "cases": cases,
            "warm_cases": warm_cases, "warm_file": root / "warm.parquet",
            "case_file": city.case_files[YEAR], "history_files": history_grouped, "history": history,
            "history_hospitals": hist.hospitals, "tables": tables}


def _single(d: dict, work: Path) -> dict:
    from drg.casefile.schema import SETTLEMENT_REQUIRED
    from drg.grouping import group_file
    from drg.pricing.coefficients import build_tables
    from drg.pricing.priced_file import price_file
    from drg.settlement.runs import settle_year
    from grouper.scheme import load_scheme

    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    t = {}
    scheme = load_scheme(d["scheme"])
    c = d["city"]
    group_file(scheme, d["warm_file"], work / "warm.parquet", required=SETTLEMENT_REQUIRED)      # warm-up
    price_file(work / "warm.parquet", d["tables"], "demo", work / "warm-priced.parquet", year=YEAR)
    m = (_cpu, _reset_peak, _peak_rss)
    _timed(t, "group", lambda: group_file(scheme, d["case_file"], work / "grouped.parquet",
                                          rejects=work / "rejects.parquet", required=SETTLEMENT_REQUIRED), *m)
    _timed(t, "weights", lambda: build_tables(d["history_files"], d["history_hospitals"], "demo", work / "tables",
                                              year=YEAR), *m)
    _timed(t, "points", lambda: price_file(work / "grouped.parquet", d["tables"], "demo", work / "priced.parquet",
                                           year=YEAR), *m)
    _timed(t, "settle", lambda: settle_year(work / "priced.parquet", c.hospitals, c.budget, c.county_income,
                                            "demo", YEAR, prepaid="recompute"), *m)
    t["pipeline"] = t["group"] + t["points"] + t["settle"]
    t["pipeline_cpu"] = t["group_cpu"] + t["points_cpu"] + t["settle_cpu"]
    t["peak_rss"] = max(t[f"{s}_peak"] for s in ("group", "weights", "points", "settle"))
    shutil.rmtree(work, ignore_errors=True)
    return t


def _dask(d: dict, work: Path, workers: int) -> dict:
    from drg.casefile.schema import SETTLEMENT_REQUIRED
    from drg.distributed.grouping import group_dataset
    from drg.distributed.plugin import cluster_client
    from drg.distributed.pricing import price_dataset
    from drg.distributed.settlement import settle_year_dataset
    from drg.distributed.weights import build_tables_dataset

    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    t = {}
    t0 = time.perf_counter()
    with cluster_client(workers=workers, threads=1, pin_cpus=True) as client:
        client.wait_for_workers(workers)
        t["startup"] = time.perf_counter() - t0

        def cpu() -> float:       # CPU seconds of the workers and of this process (the scheduler's included)
            return sum(client.run(_cpu).values()) + _cpu()

        m = (cpu, lambda: client.run(_reset_peak), lambda: max(client.run(_peak_rss).values()))

        c = d["city"]
        t0 = time.perf_counter()   # warm-up: every worker loads the scheme and its kernels
        group_dataset(client, d["scheme"], d["warm_cases"], work / "warm", required=SETTLEMENT_REQUIRED)
        price_dataset(client, work / "warm", d["tables"], "demo", work / "warm-priced", year=YEAR)
        t["warmup"] = time.perf_counter() - t0
        _timed(t, "group", lambda: group_dataset(client, d["scheme"], d["cases"], work / "grouped",
                                                 required=SETTLEMENT_REQUIRED), *m)
        _timed(t, "weights", lambda: build_tables_dataset(client, d["history"], d["history_hospitals"], "demo",
                                                          work / "tables", year=YEAR), *m)
        _timed(t, "points", lambda: price_dataset(client, work / "grouped", d["tables"], "demo", work / "priced",
                                                  year=YEAR), *m)
        _timed(t, "settle", lambda: settle_year_dataset(client, work / "priced", c.hospitals, c.budget,
                                                        c.county_income, "demo", YEAR, prepaid="recompute"), *m)
        t["pipeline"] = t["group"] + t["points"] + t["settle"]
        t["pipeline_cpu"] = t["group_cpu"] + t["points_cpu"] + t["settle_cpu"]
        t["worker_peak_rss"] = max(t[f"{s}_peak"] for s in ("group", "weights", "points", "settle"))
    shutil.rmtree(work, ignore_errors=True)
    return t


@pytest.fixture(scope="module")
def runs(dist_data) -> dict:
    """Single machine, 2 × 1 and 1 × 1, one after the other, twice (the second round in the opposite order);
    the best of the two rounds for each time (the machine is shared), the larger for each peak."""
    root = dist_data["root"]
    order = [("single", lambda: _single(dist_data, root / "run-single")),
             ("dask2", lambda: _dask(dist_data, root / "run-dask2", 2)),
             ("dask1", lambda: _dask(dist_data, root / "run-dask1", 1))]
    rounds: dict[str, list[dict]] = {}
    for name, run in order + order[::-1]:
        rounds.setdefault(name, []).append(run())
        print(name, {k: (round(v, 2) if isinstance(v, float) else v) for k, v in rounds[name][-1].items()},
              flush=True)
    return {name: {k: (max if "peak" in k else min)(r[k] for r in rs) for k in rs[0]} for name, rs in rounds.items()}


def test_scaling_1x1_to_2x1(benchmark, runs, dist_data):
    one, two = runs["dask1"], runs["dask2"]
    benchmark.pedantic(lambda: None, rounds=1)
    record(benchmark, cases=dist_data["n"], partitions=dist_data["parts"],
           **{f"{s}_1x1_s": one[s] for s in ("group", "weights", "points", "settle", "pipeline")},
           **{f"{s}_2x1_s": two[s] for s in ("group", "weights", "points", "settle", "pipeline")},
           **{f"{s}_speedup": one[s] / two[s] for s in ("group", "weights", "points", "settle", "pipeline")},
           **{f"{s}_cpu_2x1_over_1x1": two[s + "_cpu"] / one[s + "_cpu"] for s in ("group", "points", "pipeline")},
           startup_1x1_s=one["startup"], startup_2x1_s=two["startup"], warmup_1x1_s=one["warmup"],
           warmup_2x1_s=two["warmup"])


def test_dask_against_single_machine(benchmark, runs, dist_data):
    single, two = runs["single"], runs["dask2"]
    benchmark.pedantic(lambda: None, rounds=1)
    record(benchmark, cases=dist_data["n"],
           **{f"{s}_single_s": single[s] for s in ("group", "weights", "points", "settle", "pipeline")},
           **{f"{s}_dask_over_single": two[s] / single[s] for s in ("group", "weights", "points", "settle",
                                                                     "pipeline")},
           **{f"{s}_cpu_dask_over_single": two[s + "_cpu"] / single[s + "_cpu"] for s in ("group", "points",
                                                                                     "pipeline")},
           single_peak_rss_gb=single["peak_rss"] / 2 ** 30)


def test_peak_memory_per_worker(benchmark, runs, dist_data):
    benchmark.pedantic(lambda: None, rounds=1)
    record(benchmark, cases=dist_data["n"], rows_per_partition=dist_data["n"] // dist_data["parts"],
           **{f"{s}_worker_peak_gb_2x1": runs["dask2"][f"{s}_peak"] / 2 ** 30
              for s in ("group", "weights", "points", "settle")},
           **{f"{s}_worker_peak_gb_1x1": runs["dask1"][f"{s}_peak"] / 2 ** 30
              for s in ("group", "weights", "points", "settle")},
           **{f"{s}_single_peak_gb": runs["single"][f"{s}_peak"] / 2 ** 30
              for s in ("group", "weights", "points", "settle")})


def test_fixed_cost_per_partition(benchmark, dist_data):
    """Group the same cases cut in P and 8P partitions on 2 × 1: extra worker-seconds per extra partition."""
    from drg.casefile.schema import SETTLEMENT_REQUIRED
    from drg.distributed.dataset import split_cases
    from drg.distributed.grouping import group_dataset
    from drg.distributed.plugin import cluster_client

    root = dist_data["root"]
    import pyarrow.parquet as pq

    first = pq.ParquetFile(dist_data["case_file"])
    rows = min(dist_data["n"], 1_000_000)
    sample = root / "fixed-sample.parquet"
    pq.write_table(first.read_row_groups([0]).slice(0, rows), sample)
    few, many = 8, 64
    sets = {k: split_cases(sample, root / f"fixed-{k}", partitions=k).source for k in (few, many)}
    times = {}
    with cluster_client(workers=2, threads=1, pin_cpus=True) as client:
        for k in (few, many, few, many):      # twice each, alternating; the best of each
            t0 = time.perf_counter()
            group_dataset(client, dist_data["scheme"], sets[k], root / f"fixed-out-{k}", required=SETTLEMENT_REQUIRED)
            times[k] = min(times.get(k, float("inf")), time.perf_counter() - t0)
    benchmark.pedantic(lambda: None, rounds=1)
    record(benchmark, rows=rows, few=few, many=many, few_s=times[few], many_s=times[many],
           fixed_worker_s_per_partition=(times[many] - times[few]) * 2 / (many - few))
