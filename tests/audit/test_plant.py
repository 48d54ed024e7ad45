"""``drg synth --plant``: the behaviours are planted in the last year only, each at no more than 2 % of its cases,
at hospitals of their own, with money exact and the truth beside the cases; without planting the synthesizer
writes what it always wrote."""

from __future__ import annotations

import hashlib
import json

import polars as pl
import pyarrow.parquet as pq
import pytest

from drg.synth.plant import BEHAVIOURS, PlantSettings


def _digest(directory) -> str:
    """The content of a synthetic city's files (Parquet values and schemas, the manifest's bytes): independent
    of the Parquet writer's version, unlike the files' own bytes."""
    h = hashlib.sha256()
    for p in sorted(directory.iterdir()):
        h.update(p.name.encode())
        if p.suffix == ".parquet":
            t = pq.read_table(p)
            h.update(str(t.schema).encode())
            for c in t.column_names:
                h.update(json.dumps(t.column(c).to_pylist(), default=str, ensure_ascii=False).encode())
        else:
            h.update(p.read_bytes())
    return h.hexdigest()


def test_unplanted_city_is_what_main_wrote(tmp_path):
    """The digest was computed with the synthesizer of main before planting existed (commit 0f20120): the
    default output did not change by a byte of content."""
    from drg.synth import city_settings, schemes, synthesize
    from grouper.rules import load_code_dictionary, load_rule_set

    s = schemes()["demo"]
    synthesize(load_rule_set(s.rules_dir), load_code_dictionary(s.codes_dir), tmp_path, cases=3000,
               years=[2024, 2025], seed=7, settings=city_settings("demo"), chunk_rows=1000)
    assert _digest(tmp_path) == "cc5cf602b530646a7566d602b9b703a2c834b59be3c964c61564597399b55adc"


def test_only_the_last_year_is_planted(planted, clean):
    for year in (2023, 2024):
        assert pq.read_table(planted.out / "city" / f"cases-{year}.parquet").equals(
            pq.read_table(clean.out / "city" / f"cases-{year}.parquet"))
    assert not pq.read_table(planted.out / "city" / "cases-2025.parquet").equals(
        pq.read_table(clean.out / "city" / "cases-2025.parquet"))
    manifest = json.loads((planted.out / "city" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["files"]["truth"] == "truth.parquet" and manifest["plant"]["years"][0]["year"] == 2025
    assert "plant" not in json.loads((clean.out / "city" / "manifest.json").read_text(encoding="utf-8"))


def test_prevalence_hospitals_money_and_truth(planted):
    cases = pl.read_parquet(planted.out / "city" / "cases-2025.parquet")
    truth = pl.read_parquet(planted.truth)
    n = cases.height
    counts = dict(truth.group_by("behaviour").len().iter_rows())
    assert set(counts) == set(BEHAVIOURS)
    for b in BEHAVIOURS:
        assert 0 < counts[b] <= 0.02 * n, (b, counts[b], n)
    # each behaviour at hospitals of its own (the split's partner receives transfers)
    hosp = truth.group_by("behaviour").agg(pl.col("hospital_id").unique())
    seen: dict[str, str] = {}
    plant = json.loads((planted.out / "city" / "manifest.json").read_text(encoding="utf-8"))["plant"]["years"][0]
    for b, hs in plant["hospitals"].items():
        for h in hs:
            assert h not in seen, (h, b, seen.get(h))
            seen[h] = b
    assert hosp.height == len(BEHAVIOURS)
    # every truth case is in the file, once; the planted rows' money adds up to the fen (the demo city's few
    # rows with a planted input error — a duplicated id, a payment that does not add up — are the reject
    # path's, and are left as they are)
    planted_rows = cases.filter(pl.col("case_id").is_in(truth["case_id"].implode()))
    assert planted_rows["case_id"].n_unique() == truth["case_id"].n_unique() == planted_rows.height
    fen = planted_rows.select(*[(pl.col(c) * 100).round(0).cast(pl.Int64).alias(c)
                                for c in ("total_cost", "fund_paid", "self_paid", "other_paid")])
    assert (fen["fund_paid"] + fen["self_paid"] + fen["other_paid"] == fen["total_cost"]).all()
    assert (fen["self_paid"] >= 0).all() and (fen["fund_paid"] >= 0).all()
    assert (cases["discharge_date"].dt.year() == 2025).all()


def test_planted_behaviours_look_as_described(planted):
    """The grouper lifts the upcoded cases into the MCC group by the planted code; a split's parts are one
    patient's stays readmitted the same or the next day; duplicate claims share patient, hospital and dates;
    low-standard stays are 1–2 days."""
    truth = pl.read_parquet(planted.truth)
    priced = pl.read_parquet(planted.priced[2025])
    up = truth.filter(pl.col("behaviour") == "upcoding").join(priced, on="case_id")
    lifted = up.filter((pl.col("cc_level") == 2) & (pl.col("cc_dx") == pl.col("note").str.extract(r"MCC code (\S+)")))
    assert lifted.height >= 0.9 * up.height
    split = truth.filter(pl.col("behaviour") == "split")
    for r in split.head(20).iter_rows(named=True):
        parts = priced.filter(pl.col("case_id").is_in([r["case_id"], *r["related"]])).sort("admit_date")
        assert parts["patient_id"].n_unique() == 1
        gaps = (parts["admit_date"][1:] - parts["discharge_date"][:-1]).dt.total_days().to_list()
        assert all(g in (0, 1) for g in gaps)
    dup = truth.filter(pl.col("behaviour") == "duplicate").join(priced, on="case_id")
    assert dup.group_by("patient_id", "hospital_id", "admit_date", "discharge_date").len()["len"].min() == 2
    low = truth.filter(pl.col("behaviour") == "low_standard").join(priced, on="case_id")
    assert low["los"].is_between(1, 2).all() and (low["discharge_status"] == 1).all()


def test_plant_settings_file_and_errors(tmp_path):
    from drg.errors import InputError

    f = tmp_path / "plant.toml"
    f.write_text("split_share = 0.2\ncost_shift_fraction = [0.2, 0.4]\n", encoding="utf-8")
    s = PlantSettings.load(f)
    assert s.split_share == 0.2 and s.cost_shift_fraction == (0.2, 0.4)
    f.write_text("split_shares = 0.2\n", encoding="utf-8")
    with pytest.raises(InputError, match="split_shares"):
        PlantSettings.load(f)
    f.write_text("upcoding_share = 1.5\n", encoding="utf-8")
    with pytest.raises(InputError, match="between 0 and 1"):
        PlantSettings.load(f)
