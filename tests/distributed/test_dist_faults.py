"""A worker killed mid-way (SIGKILL, as when a machine dies): Dask runs its task again and recomputes what it
held; the outputs are still the single machine's, and nothing is duplicated or left half-written."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest
from conftest import SETTLEMENT_YEAR, concat_dataset

pytestmark = pytest.mark.cluster


def _files(root):
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def _recover(client):
    client.wait_for_workers(2, timeout=60)


def test_worker_killed_while_writing_a_grouped_partition(client, world, tmp_path):
    from drg.casefile.schema import SETTLEMENT_REQUIRED
    from drg.distributed.grouping import group_dataset

    marker = tmp_path / "killed"
    out = tmp_path / "grouped"
    try:
        summary = group_dataset(client, world["scheme"], world["datasets"][SETTLEMENT_YEAR], out,
                                required=SETTLEMENT_REQUIRED, fault={"at": 5, "marker": str(marker)},
                                engine="numba")
    finally:
        _recover(client)
    assert marker.exists()                       # the worker did die in partition 5
    assert concat_dataset(out).equals(pq.read_table(world["grouped"][SETTLEMENT_YEAR]))
    assert summary["read"] == world["group_summary"][SETTLEMENT_YEAR].read
    files = _files(out)
    assert len([f for f in files if not f.startswith("_")]) == 12       # one per partition, no second copy
    assert not [f for f in files if ".drg-tmp-" in f or f.endswith(".partial")]


def test_worker_killed_while_pairing_readmissions(client, world, grouped, tmp_path):
    """The worker dies in a readmission bucket, losing the stay projections it held: they are recomputed from
    the partitions. (A death with a priced file half written is the grouped case above: both write in a
    temporary directory and rename.)"""
    from drg.distributed.pricing import price_dataset

    marker = tmp_path / "killed"
    out = tmp_path / "priced"
    try:
        price_dataset(client, grouped[SETTLEMENT_YEAR][0], world["tables"], "demo", out, year=SETTLEMENT_YEAR,
                      fault={"stage": "pair", "at": 0, "marker": str(marker)}, engine="numba")
    finally:
        _recover(client)
    assert marker.exists()
    assert concat_dataset(out).equals(pq.read_table(world["priced"]))
    files = _files(out)
    assert len([f for f in files if not f.startswith("_")]) == 12
    assert not [f for f in files if ".drg-tmp-" in f or f.endswith(".partial")]
