"""Benchmarks of ``drg estimate``: one case (in-process, cold and warm; and as a whole process) and a hospital's
month file, each against plain work measured in the same run.

* one case, cold: open the bundle, load scheme/policy/tables, group and price one case (what a fresh process
  does after its imports); warm: the same case again with the bundle open.
* one case as a process: ``python -m drg.cli estimate …`` against ``python -c "import polars, pyarrow,
  numba, duckdb"`` (the import cost the one-case path is built to avoid) and against ``python -c "import
  numpy"`` (the floor: the scheme's arrays need numpy).
* a month: ``estimate_file`` on a GBK CSV with Chinese headers and a column mapping, against polars just
  reading the same CSV (decoded from GBK). Quick set: 2,000 cases; ``--bench-size=full``: 20,000.
"""

from __future__ import annotations

import csv
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import REPO, record

MAPPING = REPO / "data" / "mappings" / "his-example.toml"
CASE = dict(dx=["I50.908", "J15.700"], sex=1, age=66, los=9, total_cost_fen=1_230_050, self_paid_fen=280_000,
            hospital_id="H0004", insurance_type="310")
FLAGS = ["--dx", "I50.908,J15.700", "--age", "66", "--sex", "1", "--los", "9", "--cost", "12300.50",
         "--self-paid", "2800", "--hospital", "H0004", "--insurance", "310"]
HEADERS = ["结算清单号", "医保个人编号", "定点医药机构编码", "性别", "年龄", "年龄(天)", "新生儿出生体重(克)", "住院天数",
           "离院方式", "诊断编码", "手术及操作编码", "有创呼吸机使用时间(小时)", "入院日期", "出院日期", "医疗费总额",
           "统筹基金支付", "个人负担", "其他支付", "险种类型", "参保地"]
FIELDS = ["case_id", "patient_id", "hospital_id", "sex", "age", "age_days", "birth_weight", "los",
          "discharge_status", "dx", "px", "vent_hours", "admit_date", "discharge_date", "total_cost", "fund_paid",
          "self_paid", "other_paid", "insurance_type", "county"]


@pytest.fixture(scope="module")
def estimate_world(bench_dir, request):
    """Demo scheme, a synthetic city, its weights and a published bundle, and a GBK month file."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from drg.estimate.bundle import publish
    from drg.pricing.coefficients import build_tables
    from drg.synth.samples import city_settings, schemes
    from drg.synth.city import synthesize
    from grouper.build import build_scheme
    from grouper.rules import load_code_dictionary, load_rule_set

    month_rows = 20_000 if request.config.getoption("--bench-size") == "full" else 2_000
    root = bench_dir / "estimate"
    sample = schemes()["demo"]
    build_scheme(sample.rules_dir, sample.codes_dir, out=root / "demo.scheme")
    res = synthesize(load_rule_set(sample.rules_dir), load_code_dictionary(sample.codes_dir), root / "city",
                     cases=max(30_000, 3 * month_rows), years=[2023, 2024, 2025], settings=city_settings("demo"))
    pq.write_table(pa.concat_tables([pq.read_table(res.case_files[y]) for y in (2023, 2024)]),
                   root / "hist-cases.parquet")
    from drg.grouping import group_file
    from grouper.scheme import load_scheme

    group_file(load_scheme(root / "demo.scheme"), root / "hist-cases.parquet", root / "hist.parquet")
    build_tables(root / "hist.parquet", res.hospitals, "demo", root / "tables", year=2025)
    publish(root / "demo.scheme", root / "tables", "demo", root / "bundle", point_values=["310=85.5", "390=80.2"])
    rows = [r for r in pq.read_table(res.case_files[2025]).to_pylist() if not (r["age"] == 0 and r["age_days"] is None)]
    rows = (rows * (month_rows // max(len(rows), 1) + 1))[:month_rows]
    sex = {1: "男", 2: "女"}
    ins = {"310": "职工基本医疗保险", "390": "城乡居民基本医疗保险"}
    month = root / "month-gbk.csv"
    with open(month, "w", encoding="gbk", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(HEADERS)
        for i, r in enumerate(rows):
            vals = []
            for k in FIELDS:
                v = r[k]
                if k == "case_id":
                    v = f"M{i:07d}"
                elif k == "sex":
                    v = sex.get(v, "未知")
                elif k == "insurance_type":
                    v = ins[v]
                elif k in ("dx", "px"):
                    v = "|".join(v or [])
                elif k in ("total_cost", "fund_paid", "self_paid", "other_paid"):
                    v = f"{v:.2f}"
                vals.append("" if v is None else v)
            w.writerow(vals)
    return {"bundle": root / "bundle", "month": month, "rows": month_rows}


def test_one_case_cold_in_process(benchmark, estimate_world):
    from drg.estimate.bundle import open_bundle
    from drg.estimate.one_case import CaseInput, estimate_case

    def cold():
        return estimate_case(open_bundle(estimate_world["bundle"]), CaseInput(**CASE))

    r = benchmark.pedantic(cold, rounds=10, iterations=1)
    assert r["group"]["drg"].startswith("FR2")
    record(benchmark, seconds=benchmark.stats.stats.mean)


def test_one_case_warm_in_process(benchmark, estimate_world):
    from drg.estimate.bundle import open_bundle
    from drg.estimate.one_case import CaseInput, estimate_case

    b = open_bundle(estimate_world["bundle"])
    estimate_case(b, CaseInput(**CASE))
    r = benchmark(lambda: estimate_case(b, CaseInput(**CASE)))
    assert r["money"]["entitlement_fen"] > 0
    record(benchmark, seconds=benchmark.stats.stats.mean)


def _wall(cmd: list[str], n: int) -> float:
    best = []
    for _ in range(n):
        t = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        best.append(time.perf_counter() - t)
    return sorted(best)[len(best) // 2]


def test_one_case_as_a_process(benchmark, estimate_world):
    """A whole ``drg estimate`` process against a process that only imports the heavy libraries."""
    cmd = [sys.executable, "-m", "drg.cli", "estimate", "--bundle", str(estimate_world["bundle"]), *FLAGS]
    heavy = [sys.executable, "-c", "import polars, pyarrow, numba, duckdb"]
    floor = [sys.executable, "-c", "import numpy"]
    t_heavy = _wall(heavy, 5)
    t_floor = _wall(floor, 5)
    benchmark.pedantic(lambda: subprocess.run(cmd, check=True, capture_output=True), rounds=7, iterations=1)
    t_cli = benchmark.stats.stats.median
    record(benchmark, cli_seconds=t_cli, cli_min_seconds=benchmark.stats.stats.min, numpy_import_seconds=t_floor,
           heavy_import_seconds=t_heavy, ratio_to_heavy_import=t_cli / t_heavy)


def test_month_file_vs_polars_read(benchmark, estimate_world):
    import io

    import polars as pl

    from drg.estimate.bundle import open_bundle
    from drg.estimate.month import estimate_file

    month = estimate_world["month"]

    def plain():
        return pl.read_csv(io.StringIO(Path(month).read_bytes().decode("gb18030")), infer_schema=False)

    t = time.perf_counter()
    for _ in range(3):
        df = plain()
    t_read = (time.perf_counter() - t) / 3
    assert df.height == estimate_world["rows"]
    b = open_bundle(estimate_world["bundle"])
    estimate_file(b, month, mapping=MAPPING)       # compile/cache the pricing kernel first
    res = benchmark.pedantic(lambda: estimate_file(b, month, mapping=MAPPING), rounds=3, iterations=1)
    assert res["summary"]["cases"] + res["summary"]["rejected"] == estimate_world["rows"]
    t_est = benchmark.stats.stats.mean
    record(benchmark, rows=estimate_world["rows"], seconds=t_est, polars_read_seconds=t_read,
           ratio_to_polars_read=t_est / t_read, cases_per_second=estimate_world["rows"] / t_est)
