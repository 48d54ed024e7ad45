"""Foundation benchmarks: validating a case file (``drg check``) and synthesizing a city (``drg synth``).

Each reports a ratio to plain pyarrow work on the same file in the same run: validation against reading
the file whole, synthesis against writing the same table back.
"""

from __future__ import annotations


import pyarrow.parquet as pq

from conftest import best_of, record




def test_check_vs_pyarrow_read(benchmark, synthetic_city, bench_dir):
    from drg.casefile.check import check_cases

    path = synthetic_city["result"].case_files[synthetic_city["settlement_year"]]
    rows = pq.ParquetFile(path).metadata.num_rows
    read_s = best_of(lambda: pq.read_table(path))
    summary = benchmark.pedantic(lambda: check_cases(path, rejects=bench_dir / "rejects.parquet"),
                                 rounds=3, iterations=1)
    assert summary.read == rows == summary.accepted + summary.rejected
    check_s = benchmark.stats.stats.min
    record(benchmark, rows=rows, check_s=check_s, pyarrow_read_s=read_s, ratio_to_read=check_s / read_s,
           rows_per_s=rows / check_s)


def test_synth_vs_pyarrow_write(benchmark, synthetic_city, bench_dir, bench_cases):
    from grouper.rules import load_code_dictionary, load_rule_set

    from drg.synth.samples import schemes
    from drg.synth.city import synthesize

    sample = schemes()["demo"]
    rules, codes = load_rule_set(sample.rules_dir), load_code_dictionary(sample.codes_dir)
    result = benchmark.pedantic(lambda: synthesize(rules, codes, bench_dir / "synth", cases=bench_cases,
                                                   years=[2025], seed=9), rounds=1, iterations=1)
    path = result.case_files[2025]
    table = pq.read_table(path)
    write_s = best_of(lambda: pq.write_table(table, bench_dir / "copy.parquet", compression="zstd",
                                              row_group_size=1 << 20), rounds=1)
    synth_s = benchmark.stats.stats.min
    record(benchmark, rows=table.num_rows, synth_s=synth_s, pyarrow_write_s=write_s,
           ratio_to_write=synth_s / write_s, rows_per_s=table.num_rows / synth_s)
