"""The commands with ``--cluster tcp://HOST:PORT`` (here the session's LocalCluster scheduler): the same files
and money as the single machine; ``--cluster`` with ``--workers`` is a usage error."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest
from conftest import SETTLEMENT_YEAR, concat_dataset
from typer.testing import CliRunner

pytestmark = pytest.mark.cluster


def _drg(*args):
    from drg.cli import app

    return CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)


def test_drg_group_on_a_cluster(client, world, tmp_path):
    address = client.scheduler.address
    r = _drg("group", "--scheme", world["scheme"], "--cases", world["datasets"][2023], "--out", tmp_path / "g",
             "--cluster", address, "--json")
    assert r.exit_code == 0, r.output
    summary = json.loads(r.output)
    assert summary["partitions"] == 5 and summary["read"] == summary["rows"] + summary["rejected"]
    single = pq.read_table(world["grouped"][2023]).select(["case_id", "mdc", "adrg", "drg", "group_status"])
    assert concat_dataset(tmp_path / "g").select(single.column_names).equals(single)


def test_drg_settle_year_on_a_cluster(client, world, priced, tmp_path):
    from drg.settlement.runs import settle_year

    city = world["city"]
    r = _drg("settle", "year", "--year", SETTLEMENT_YEAR, "--priced", priced[0], "--hospitals", city.hospitals,
             "--budget", city.budget, "--county-income", city.county_income, "--policy", "demo",
             "--prepaid", "recompute", "--cluster", client.scheduler.address, "--json")
    assert r.exit_code == 0, r.output
    single = settle_year(world["priced"], city.hospitals, city.budget, city.county_income, "demo", SETTLEMENT_YEAR,
                         prepaid="recompute")
    assert json.loads(r.output)["pools"] == json.loads(json.dumps(single.summary()["pools"], default=str))


def test_cluster_and_workers_together_is_a_usage_error(world, tmp_path):
    from drg.cli import app

    r = CliRunner().invoke(app, ["group", "--scheme", str(world["scheme"]), "--cases", str(world["datasets"][2023]),
                                 "--out", str(tmp_path / "g"), "--cluster", "tcp://127.0.0.1:1", "--workers", "2"])
    assert r.exit_code == 2
