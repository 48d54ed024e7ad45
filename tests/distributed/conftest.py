"""Fixtures of the distributed tests: a LocalCluster of two worker processes over loopback (one thread each),
a small synthetic city cut into partitions so that readmission pairs, DRGs and a repeated case id straddle
them, and the single-machine run over the same files concatenated in documented order — the answer every
distributed run must give, row for row and to the fen.

The cluster is shared by the session; tests that use it are marked ``cluster`` (``pytest -m cluster``).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

YEARS = (2023, 2024, 2025)
SETTLEMENT_YEAR = 2025


@pytest.fixture(scope="session")
def client():
    """A client of a LocalCluster: 2 worker processes × 1 thread, their thread pools pinned."""
    from drg.distributed.plugin import cluster_client

    with cluster_client(workers=2) as c:
        yield c


def concat_dataset(source) -> pa.Table:
    """The files of a dataset concatenated in documented order."""
    from drg.distributed.dataset import open_dataset

    return pa.concat_tables([pq.read_table(p.path) for p in open_dataset(source)])


def _plant_repeated_id(ds_dir: Path) -> str:
    """Copy the first row of the first partition to the end of the fourth: the same case id in two files."""
    from drg.distributed.dataset import open_dataset

    parts = open_dataset(ds_dir).partitions
    first = pq.read_table(parts[0].path)
    target = pq.read_table(parts[3].path)
    meta = target.schema.metadata
    pq.write_table(pa.concat_tables([target, first.slice(0, 1)]).replace_schema_metadata(meta), parts[3].path,
                   row_group_size=1000)
    return first.column("case_id")[0].as_py()


@pytest.fixture(scope="session")
def world(tmp_path_factory) -> dict:
    """The city, its datasets and the single-machine answers.

    - 2023: five row ranges; 2024 and 2025: hive partitions by discharge month (a patient's stays in
      two months straddle two files); 2025 also carries a case id repeated in two partitions.
    - ``single``: every stage run by the single-machine functions on the datasets concatenated.
    """
    from grouper.build import build_scheme
    from grouper.rules import load_code_dictionary, load_rule_set

    from drg.casefile.schema import SETTLEMENT_REQUIRED
    from drg.distributed.dataset import open_dataset, split_cases
    from drg.grouping import group_file
    from drg.pricing.coefficients import build_tables
    from drg.pricing.priced_file import price_file
    from drg.synth.city import synthesize
    from drg.synth.samples import city_settings, schemes

    root = tmp_path_factory.mktemp("distributed")
    sample = schemes()["demo"]
    settings = replace(city_settings("demo"), bad_row_share=0.004, hospitals=24)
    city = synthesize(load_rule_set(sample.rules_dir), load_code_dictionary(sample.codes_dir), root / "city",
                      cases=15_000, years=list(YEARS), settings=settings, chunk_rows=2_000)
    scheme, _ = build_scheme(sample.rules_dir, sample.codes_dir, out=root / "demo.scheme")
    datasets = {2023: split_cases(city.case_files[2023], root / "cases-2023", partitions=5).source}
    for y in (2024, 2025):
        datasets[y] = split_cases(city.case_files[y], root / f"cases-{y}", by="month", row_group_rows=500).source
    repeated = _plant_repeated_id(Path(datasets[2025]))

    single = root / "single"
    single.mkdir()
    out = {"root": root, "city": city, "scheme": root / "demo.scheme", "datasets": datasets,
           "repeated_id": repeated, "single": single, "grouped": {}, "rejects": {}, "group_summary": {}}
    for y in YEARS:
        whole = single / f"cases-{y}.parquet"
        pq.write_table(concat_dataset(datasets[y]), whole, row_group_size=700)
        out["grouped"][y] = single / f"grouped-{y}.parquet"
        out["rejects"][y] = single / f"rejects-{y}.parquet"
        out["group_summary"][y] = group_file(scheme, whole, out["grouped"][y], rejects=out["rejects"][y],
                                             required=SETTLEMENT_REQUIRED, engine="numba")
        out[f"rows_per_partition_{y}"] = [pq.ParquetFile(p.path).metadata.num_rows
                                          for p in open_dataset(datasets[y])]
    out["tables"] = single / "tables"
    out["weights_summary"] = build_tables([out["grouped"][2023], out["grouped"][2024]], city.hospitals, "demo",
                                          out["tables"], year=SETTLEMENT_YEAR)
    out["priced"] = single / "priced-2025.parquet"
    out["points_summary"] = price_file(out["grouped"][2025], out["tables"], "demo", out["priced"],
                                       year=SETTLEMENT_YEAR, engine="numba")
    return out


@pytest.fixture(scope="session")
def grouped(client, world) -> dict:
    """Every year's dataset grouped on the cluster: year → (output directory, summary)."""
    from drg.casefile.schema import SETTLEMENT_REQUIRED
    from drg.distributed.grouping import group_dataset

    out = {}
    for y in YEARS:
        target = world["root"] / "dist" / f"grouped-{y}"
        out[y] = (target, group_dataset(client, world["scheme"], world["datasets"][y], target,
                                        required=SETTLEMENT_REQUIRED, engine="numba"))
    return out


@pytest.fixture(scope="session")
def priced(client, world, grouped) -> tuple[Path, dict]:
    """The grouped 2025 dataset priced on the cluster with the single machine's tables."""
    from drg.distributed.pricing import price_dataset

    target = world["root"] / "dist" / "priced-2025"
    return target, price_dataset(client, grouped[2025][0], world["tables"], "demo", target, year=SETTLEMENT_YEAR,
                                 engine="numba")
