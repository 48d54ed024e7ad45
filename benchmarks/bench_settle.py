"""Settlement benchmark: settling a year of priced cases (``settle_year``: read and reduce the priced file,
twelve monthly prepayments recomputed, annual point value, entitlements, county accounts, invariants,
outputs and a ledger record) against plain pyarrow reading the priced columns settlement needs.

The priced file is produced once (outside the timing) by ``drg weights`` + ``drg points`` on the benchmark's
synthetic city. Invariants are asserted on the result of the timed run.
"""

from __future__ import annotations


import pyarrow.parquet as pq
import pytest

from conftest import best_of, record




@pytest.fixture(scope="module")
def settle_setup(city_tables, bench_dir):
    from drg.pricing.priced_file import price_file

    res, year = city_tables["result"], city_tables["year"]
    priced = bench_dir / f"priced-{year}.parquet"
    price_file(city_tables["cases"], city_tables["tables"], city_tables["policy"], priced, year=year)
    return {"priced": priced, "hospitals": res.hospitals, "budget": res.budget, "income": res.county_income,
            "policy": city_tables["policy"], "year": year}


def test_settle_year_vs_pyarrow_read(benchmark, settle_setup, bench_dir):
    import polars as pl

    from drg.settlement.aggregates import PRICED_OPTIONAL, PRICED_REQUIRED
    from drg.settlement.invariants import check_invariants
    from drg.settlement.runs import settle_year

    s = settle_setup
    counter = iter(range(1000))

    def run():
        i = next(counter)
        return settle_year(s["priced"], s["hospitals"], s["budget"], s["income"], s["policy"], s["year"],
                           ledger=bench_dir / f"ledger-{i}.duckdb", out=bench_dir / f"settle-out-{i}")

    result = benchmark.pedantic(run, rounds=3, iterations=1)
    settle_s = benchmark.stats.stats.min
    cols = list(PRICED_REQUIRED) + [c for c in PRICED_OPTIONAL
                                    if c in pq.ParquetFile(s["priced"]).schema_arrow.names]
    read_s = best_of(lambda: pq.read_table(s["priced"], columns=cols))
    check_invariants(result)
    for pool, p in result.pools.items():
        h = result.hospitals.filter(pl.col("pool") == pool)
        assert int(h["entitlement"].sum()) == p.distributable
        assert int(h["fund_payment"].sum()) == p.budget - p.reserve
        assert int(result.counties.filter(pl.col("pool") == pool)["drg_spending"].sum()) == p.budget - p.reserve
    rows = pq.ParquetFile(s["priced"]).metadata.num_rows
    record(benchmark, rows=rows, settle_s=settle_s, pyarrow_read_s=read_s, ratio_settle_over_read=settle_s / read_s,
           rows_per_s=rows / settle_s, hospitals=result.hospitals.height)


def test_read_priced_vs_pyarrow_read(benchmark, settle_setup):
    """The reduction alone (exact fen and point units, per-hospital/month/county sums)."""
    from drg.settlement.aggregates import PRICED_OPTIONAL, PRICED_REQUIRED, read_priced

    s = settle_setup
    benchmark.pedantic(lambda: read_priced(s["priced"], s["year"], s["policy"]), rounds=3, iterations=1)
    reduce_s = benchmark.stats.stats.min
    cols = list(PRICED_REQUIRED) + [c for c in PRICED_OPTIONAL
                                    if c in pq.ParquetFile(s["priced"]).schema_arrow.names]
    read_s = best_of(lambda: pq.read_table(s["priced"], columns=cols))
    record(benchmark, reduce_s=reduce_s, pyarrow_read_s=read_s, ratio_reduce_over_read=reduce_s / read_s)
