"""A dataset run on a LocalCluster gives the single machine's answer: grouped and priced partitions,
concatenated in documented order, equal the single-machine files row for row; the rejects are the same rows;
weights, coefficients, hospital totals and the settlement ledger are equal to the fen — with readmission
pairs, DRGs and a repeated case id straddling partitions."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from conftest import SETTLEMENT_YEAR, YEARS, concat_dataset

pytestmark = pytest.mark.cluster


def _equal(a: pa.Table, b: pa.Table) -> None:
    assert a.column_names == b.column_names
    assert a.num_rows == b.num_rows
    for name in a.column_names:
        assert a.column(name).combine_chunks().equals(b.column(name).combine_chunks()), name


@pytest.mark.parametrize("year", YEARS)
def test_grouped_partitions_are_the_single_machine_file(world, grouped, year):
    out, summary = grouped[year]
    _equal(concat_dataset(out), pq.read_table(world["grouped"][year]))
    single = world["group_summary"][year]
    assert (summary["read"], summary["rows"], summary["rejected"]) == (single.read, single.rows, single.rejected)
    assert summary["by_status"] == dict(single.by_status.most_common())


@pytest.mark.parametrize("year", YEARS)
def test_rejects_are_the_same_rows_numbered_in_their_own_file(world, grouped, year):
    """Each partition's rejects number rows in the partition's own file: shifted by the rows of the earlier
    partitions, they are the single machine's rejects."""
    from drg.distributed.dataset import open_dataset

    out, _ = grouped[year]
    offsets = np.cumsum([0] + world[f"rows_per_partition_{year}"][:-1])
    parts = []
    for p, offset in zip(open_dataset(world["datasets"][year]), offsets):
        r = pq.read_table(out / "_rejects" / p.name)
        if r.num_rows:
            r = r.set_column(r.column_names.index("row_number"), "row_number",
                             pc.add(r.column("row_number"), int(offset)))
            parts.append(r)
    single = pq.read_table(world["rejects"][year])
    _equal(pa.concat_tables(parts, promote_options="permissive").select(single.column_names), single)


def test_a_case_id_repeated_across_partitions_is_rejected_once(world, grouped):
    out, summary = grouped[SETTLEMENT_YEAR]
    assert summary["repeated_ids_across_partitions"] >= 1
    from drg.distributed.dataset import open_dataset

    rejects = pa.concat_tables([t for t in (pq.read_table(p.path) for p in open_dataset(out / "_rejects"))
                                if t.num_rows])
    hit = rejects.filter(pc.equal(rejects.column("case_id"), world["repeated_id"]))
    assert hit.num_rows == 1 and "duplicate_case_id" in hit.column("reject_detail")[0].as_py()
    kept = concat_dataset(out)
    assert pc.sum(pc.equal(kept.column("case_id"), world["repeated_id"])).as_py() == 1


def test_manifest_lists_every_output_with_rows_and_sha256(world, grouped):
    from drg.distributed.manifest import file_sha256, read_manifest

    out, summary = grouped[2024]
    m = read_manifest(out)
    assert m["stage"] == "group" and len(m["files"]) == summary["partitions"] == 12
    assert [f["partition"] for f in m["files"]] == list(range(12))
    for f in m["files"]:
        assert file_sha256(out / f["output"]) == f["sha256"]
        assert pq.ParquetFile(out / f["output"]).metadata.num_rows == f["rows"]
        assert f["read"] == f["rows"] + f["rejected"]
    assert not list(out.rglob(".drg-tmp-*")) and not list(out.rglob("*.partial"))


def test_weights_and_coefficients_equal_to_the_last_digit(client, world, grouped):
    """History as two datasets (row ranges, then months): trimming per DRG-year over the whole dataset."""
    from drg.distributed.weights import build_tables_dataset

    out = world["root"] / "dist" / "tables"
    summary = build_tables_dataset(client, [grouped[2023][0], grouped[2024][0]], world["city"].hospitals, "demo",
                                   out, year=SETTLEMENT_YEAR)
    for name in ("weights.parquet", "coefficients.parquet", "low_risk_drgs.parquet"):
        a, b = pq.read_table(out / name), pq.read_table(world["tables"] / name)
        _equal(a, b)
        assert a.schema.metadata == b.schema.metadata
    assert {k: v for k, v in summary.items() if k != "partitions"} == world["weights_summary"]
    assert world["weights_summary"]["low_risk_classified"] > 0


def test_weights_do_not_depend_on_the_shuffle(client, world, grouped):
    """Any number of DRG buckets (as many workers would use) gives the same tables."""
    from drg.distributed.weights import build_tables_dataset

    for buckets in (1, 7):
        out = world["root"] / "dist" / f"tables-{buckets}"
        build_tables_dataset(client, [grouped[2023][0], grouped[2024][0]], world["city"].hospitals, "demo", out,
                             year=SETTLEMENT_YEAR, buckets=buckets)
        for name in ("weights.parquet", "coefficients.parquet"):
            _equal(pq.read_table(out / name), pq.read_table(world["tables"] / name))


def test_priced_partitions_are_the_single_machine_file(world, priced):
    out, summary = priced
    _equal(concat_dataset(out), pq.read_table(world["priced"]))
    single = world["points_summary"]
    assert {k: v for k, v in summary.items() if k not in ("partitions", "manifest", "hospital_totals")} == \
        {k: v for k, v in single.items() if k != "hospital_totals"}
    _equal(pq.read_table(out / "_hospital_totals.parquet"), pq.read_table(single["hospital_totals"]))


def test_readmissions_pair_across_partitions(world, priced):
    """Some halved stays are followed by their readmission in another month's partition."""
    out, summary = priced
    assert summary["readmissions_halved"] > 0
    t = concat_dataset(out).select(["case_id", "patient_id", "hospital_id", "drg", "admit_date",
                                    "discharge_date", "adjust_reason"])
    halved = t.filter(pc.equal(t.column("adjust_reason"), "readmission")).to_pylist()
    by_key: dict = {}
    for r in t.to_pylist():
        by_key.setdefault((r["patient_id"], r["hospital_id"], r["drg"]), []).append(r)
    straddling = 0
    for h in halved:
        later = [r for r in by_key[(h["patient_id"], h["hospital_id"], h["drg"])]
                 if r["admit_date"] >= h["discharge_date"] and r["case_id"] != h["case_id"]]
        nxt = min(later, key=lambda r: (r["admit_date"], r["discharge_date"], r["case_id"]))
        straddling += (nxt["discharge_date"].month != h["discharge_date"].month)
    assert straddling > 0


def test_pricing_does_not_depend_on_the_shuffle_or_the_engine(client, world, grouped, engine):
    """One patient bucket, on the kernels or their plain twins (on the workers too): the single machine's
    file (priced on the kernels)."""
    from drg.distributed.pricing import price_dataset

    out = world["root"] / "dist" / f"priced-1bucket-{engine}"
    price_dataset(client, grouped[SETTLEMENT_YEAR][0], world["tables"], "demo", out, year=SETTLEMENT_YEAR,
                  buckets=1, engine=engine)
    _equal(concat_dataset(out), pq.read_table(world["priced"]))


def test_grouping_on_either_engine(client, world, engine, tmp_path):
    """The 2023 dataset grouped on the workers by the kernels or their plain twins: the single machine's file
    (grouped on the kernels)."""
    from drg.casefile.schema import SETTLEMENT_REQUIRED
    from drg.distributed.grouping import group_dataset

    group_dataset(client, world["scheme"], world["datasets"][2023], tmp_path / "g", required=SETTLEMENT_REQUIRED,
                  engine=engine)
    _equal(concat_dataset(tmp_path / "g"), pq.read_table(world["grouped"][2023]))


def _money(result) -> dict:
    return {"pools": {k: (p.budget, p.reserve, p.self_pay, p.distributable, p.total_points_units, p.point_value,
                          p.fund_payments, p.prepaid, p.reserve_to_hospitals, p.reserve_to_counties, p.reserve_left)
                      for k, p in result.pools.items()},
            "hospitals": result.hospitals.to_dicts(), "counties": result.counties.to_dicts(),
            "warnings": [w.message for w in result.warnings]}


def test_settlement_is_equal_to_the_fen(client, world, priced, tmp_path):
    """Monthly runs and the annual run into a ledger (its prepayments from the ledger): every amount the same
    as the single machine's; the ledger records each partition with the sha256 of the pricing manifest. (Three
    months: each run's ledger transaction takes about half a second.)"""
    from drg.distributed.settlement import settle_months_dataset, settle_year_dataset
    from drg.settlement.ledger import Ledger
    from drg.settlement.runs import settle_months, settle_year

    city = world["city"]
    args = (city.hospitals, city.budget, city.county_income, "demo")
    single_ledger, dist_ledger = Ledger(tmp_path / "single.duckdb"), Ledger(tmp_path / "dist.duckdb")
    months = (1, 7, 12)
    m1 = settle_months(world["priced"], *args, SETTLEMENT_YEAR, months=months, ledger=single_ledger)
    m2 = settle_months_dataset(client, priced[0], *args, SETTLEMENT_YEAR, months=months, ledger=dist_ledger)
    assert [_money(r) for r in m1] == [_money(r) for r in m2]
    y1 = settle_year(world["priced"], *args, SETTLEMENT_YEAR, ledger=single_ledger, out=tmp_path / "s")
    y2 = settle_year_dataset(client, priced[0], *args, SETTLEMENT_YEAR, ledger=dist_ledger, out=tmp_path / "d")
    assert _money(y1) == _money(y2)
    assert y1.prepaid_source == y2.prepaid_source == "ledger"
    for name in ("hospitals.parquet", "counties.parquet"):
        _equal(pq.read_table(tmp_path / "d" / name), pq.read_table(tmp_path / "s" / name))
    manifest = json.loads((priced[0] / "_manifest.json").read_text())
    recorded = sorted(i.sha256 for i in y2.inputs if i.role == "priced")
    assert recorded == sorted(f["sha256"] for f in manifest["files"])
    # the monitoring facts drg monitor reads: the same rows, run by run
    for table in ("monitor_facts", "monitor_hospitals", "monitor_county_income"):
        a, b = _ledger_rows(single_ledger, table), _ledger_rows(dist_ledger, table)
        assert a == b and len(a) > 0, table


def _ledger_rows(ledger, table: str) -> list[tuple]:
    """A ledger table's rows with the run id replaced by the run's kind and period, sorted."""
    with ledger.connect() as con:
        cols = [r[0] for r in con.execute(f"DESCRIBE {table}").fetchall() if r[0] != "run_id"]
        rows = con.execute(f"SELECT r.kind, r.period, {', '.join('t.' + c for c in cols)} FROM {table} t "
                           "JOIN runs r USING (run_id)").fetchall()
    return sorted(rows, key=repr)


def test_reviews_and_violations_on_the_cluster(client, world, grouped, tmp_path):
    """Special reviews and violations (loaded once per worker, by sha256) price as on one machine, whatever
    partition their cases sit in."""
    from drg.distributed.pricing import price_dataset
    from drg.pricing.priced_file import price_file

    ids = pq.read_table(world["grouped"][SETTLEMENT_YEAR], columns=["case_id"]).column("case_id").to_pylist()
    picked = ids[5::len(ids) // 9]
    pq.write_table(pa.table({"case_id": picked[:4], "points": [12.5, 300.0, 0.0, 77.7777],
                             "note": ["专家评审"] * 4}), tmp_path / "reviews.parquet")
    pq.write_table(pa.table({"case_id": picked[4:8], "violation": ["upcoding", "split_admission", "fraud",
                                                                   "upcoding"],
                             "serious": [True, False, True, True], "multiplier": [2.0, None, 5.0, None]}),
                   tmp_path / "violations.parquet")
    single = tmp_path / "single.parquet"
    kw = dict(reviews=tmp_path / "reviews.parquet", violations=tmp_path / "violations.parquet",
              year=SETTLEMENT_YEAR)
    price_file(world["grouped"][SETTLEMENT_YEAR], world["tables"], "demo", single, **kw)
    out = tmp_path / "dist"
    summary = price_dataset(client, grouped[SETTLEMENT_YEAR][0], world["tables"], "demo", out, **kw)
    _equal(concat_dataset(out), pq.read_table(single))
    assert summary["class review"] == 4 and summary["deduction_points"] > 0


def _damage(table: pa.Table, rows: list[int], column: str, value) -> pa.Table:
    """``table`` with ``column`` set to ``value`` in ``rows``."""
    col = table.column(column).combine_chunks().to_pylist()
    for r in rows:
        col[r] = value
    return table.set_column(table.column_names.index(column), column, pa.array(col, table.column(column).type))


def _copy_dataset(src, dst, damage: dict) -> list[int]:
    """Copy a dataset's partitions (``damage``: partition index → function of its table); the row offset of
    each partition in the files concatenated."""
    from drg.distributed.dataset import open_dataset

    offsets, lo = [], 0
    for p in open_dataset(src):
        t = pq.read_table(p.path)
        t = damage.get(p.index, lambda x: x)(t)
        target = dst / p.name
        target.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(t, target, row_group_size=300)
        offsets.append(lo)
        lo += t.num_rows
    return offsets


def _shifted_rejects(root, offsets: list[int], name: str = "_rejects") -> pa.Table:
    from drg.distributed.dataset import open_dataset

    parts = []
    for p, offset in zip(open_dataset(root), offsets):
        r = pq.read_table(root / name / p.name)
        if r.num_rows:
            parts.append(r.set_column(r.column_names.index("row_number"), "row_number",
                                      pc.add(r.column("row_number"), offset)))
    return pa.concat_tables(parts)


def test_rows_pricing_rejects_leave_the_pairing_as_on_one_machine(client, world, grouped, priced, tmp_path):
    """A readmission stay in another partition that pricing rejects (negative cost) no longer halves the
    stay before it — on the cluster as on one machine; the rejects are the same rows."""
    from drg.distributed.dataset import open_dataset
    from drg.distributed.pricing import price_dataset
    from drg.pricing.priced_file import price_file

    src = grouped[SETTLEMENT_YEAR][0]
    parts = open_dataset(src).partitions
    priced = [pq.read_table(priced[0] / p.name) for p in parts]
    # a halved stay whose next stay sits in a later partition: reject that next stay
    target = None
    for k, t in enumerate(priced[:-1]):
        for h in t.filter(pc.equal(t.column("adjust_reason"), "readmission")).to_pylist():
            for j in range(k + 1, len(priced)):
                u = priced[j]
                hit = pc.and_(pc.and_(pc.equal(u.column("patient_id"), h["patient_id"]),
                                      pc.equal(u.column("drg"), h["drg"])),
                              pc.equal(u.column("hospital_id"), h["hospital_id"]))
                rows = np.flatnonzero(np.asarray(hit.fill_null(False)))
                if len(rows):
                    target = (h["case_id"], j, pq.read_table(parts[j].path).column("case_id").to_pylist()
                              .index(u.column("case_id")[int(rows[0])].as_py()))
                    break
            if target:
                break
        if target:
            break
    assert target is not None
    halved_id, part, row = target
    damaged = tmp_path / "grouped"
    offsets = _copy_dataset(src, damaged, {part: lambda t: _damage(t, [row, 0], "total_cost_fen", -500)})
    whole = tmp_path / "grouped.parquet"
    pq.write_table(concat_dataset(damaged), whole)
    single = tmp_path / "single.parquet"
    s1 = price_file(whole, world["tables"], "demo", single, year=SETTLEMENT_YEAR, rejects=tmp_path / "rej.parquet",
                    engine="numba")
    out = tmp_path / "dist"
    s2 = price_dataset(client, damaged, world["tables"], "demo", out, year=SETTLEMENT_YEAR, engine="numba")
    _equal(concat_dataset(out), pq.read_table(single))
    assert s1["rejected"] == s2["rejected"] >= 1
    rej = pq.read_table(tmp_path / "rej.parquet")
    _equal(_shifted_rejects(out, offsets).select(rej.column_names), rej)
    t = pq.read_table(single)
    was_halved = t.filter(pc.equal(t.column("case_id"), halved_id)).column("adjust_reason")[0].as_py()
    assert was_halved != "readmission"


def test_settlement_sums_with_unsettleable_rows_equal_one_read(client, world, priced, tmp_path):
    """Priced rows the settlement cannot take (no county, no discharge date) in two partitions: the sums
    summed on the cluster — every view, the finest grain the ledger's monitoring facts come from, and the
    rejects — are those of one read of the files concatenated."""
    import polars as pl

    from drg.distributed.dataset import open_dataset
    from drg.distributed.settlement import sum_priced
    from drg.policy import load_policy
    from drg.settlement.aggregates import read_priced

    damaged = tmp_path / "priced"
    offsets = _copy_dataset(priced[0], damaged, {1: lambda t: _damage(t, [3, 40], "county", None),
                                                 6: lambda t: _damage(t, [0], "discharge_date", None)})
    whole = tmp_path / "priced.parquet"
    pq.write_table(concat_dataset(damaged), whole)
    pol = load_policy("demo")
    one = read_priced(whole, SETTLEMENT_YEAR, pol)
    dist = sum_priced(client, damaged, SETTLEMENT_YEAR, pol, buckets=3).aggregates
    for view in ("by_month", "by_county", "by_class", "by_drg", "fine"):
        assert getattr(one, view).equals(getattr(dist, view)), view
    assert (one.rows_read, one.rows_other_years, one.scheme_id) == (dist.rows_read, dist.rows_other_years,
                                                                    dist.scheme_id)
    assert one.rejects.height == 3
    paths = [p.path for p in open_dataset(damaged)]
    shifted = dist.rejects.with_columns(pl.col("row_number") + pl.col("file").replace_strict(paths, offsets,
                                                                                             return_dtype=pl.Int64))
    assert shifted.drop("file").equals(one.rejects.drop("file"))
