"""The synthetic city: deterministic by seed, plausible distributions, valid under the contract."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import polars as pl
import pytest

from drg.casefile import check_cases
from drg.synth import CitySettings, city_settings, synthesize
from drg.errors import InputError


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_same_seed_same_bytes_other_seed_other_cases(demo_rules, tmp_path):
    a = synthesize(*demo_rules, tmp_path / "a", cases=5_000, years=[2025], seed=3, chunk_rows=2_000)
    b = synthesize(*demo_rules, tmp_path / "b", cases=5_000, years=[2025], seed=3, chunk_rows=2_000)
    c = synthesize(*demo_rules, tmp_path / "c", cases=5_000, years=[2025], seed=4, chunk_rows=2_000)
    for name in ("cases-2025.parquet", "hospitals.parquet", "budget.parquet", "county_income.parquet"):
        assert digest(a.out_dir / name) == digest(b.out_dir / name), name
    assert digest(a.out_dir / "cases-2025.parquet") != digest(c.out_dir / "cases-2025.parquet")


def test_row_groups_and_counts(city):
    import pyarrow.parquet as pq

    meta = pq.ParquetFile(city.case_files[2025]).metadata
    assert meta.num_rows == city.cases_by_year[2025]
    assert meta.num_row_groups == -(-meta.num_rows // 8_000)
    assert sum(city.cases_by_year.values()) == 30_000
    assert city.cases_by_year[2025] > city.cases_by_year[2024]  # yearly growth


def test_only_planted_errors_are_rejected(city, demo_rules, tmp_path):
    planted = {"duplicate_case_id", "payment_mismatch", "discharge_before_admission", "sex_out_of_range"}
    for path in city.case_files.values():  # the demo city plants one bad row in a thousand
        summary = check_cases(path)
        assert set(summary.by_reason) <= planted
        assert 0 < summary.rejected < 0.003 * summary.read
    clean = synthesize(*demo_rules, tmp_path, cases=5_000, years=[2025], seed=2,
                       settings=CitySettings(bad_row_share=0.0))
    assert check_cases(clean.case_files[2025]).rejected == 0


def test_money_is_exact_in_fen_and_split_by_insurance_type(cases):
    fen = cases.select((pl.col(c) * 100).round(0).cast(pl.Int64).alias(c)
                       for c in ("total_cost", "fund_paid", "self_paid", "other_paid"))
    assert (fen["fund_paid"] + fen["self_paid"] + fen["other_paid"] == fen["total_cost"]).all()
    share = cases.group_by("insurance_type").agg((pl.col("fund_paid").sum() / pl.col("total_cost").sum()).alias("s"))
    s = dict(share.iter_rows())
    assert 0.68 < s["310"] < 0.88
    assert 0.50 < s["390"] < 0.68
    assert (cases["other_paid"] > 0).sum() > 0


def test_dates_years_and_stays(cases):
    assert (cases["discharge_date"] >= cases["admit_date"]).all()
    assert ((cases["discharge_date"] - cases["admit_date"]).dt.total_days() == cases["los"]).all()
    years = cases["case_id"].str.slice(1, 4).cast(pl.Int32)
    assert (cases["discharge_date"].dt.year() == years).all()
    assert (cases["los"] >= 60).mean() > 0.003  # long stays exist


def test_repeat_admissions_within_15_days_at_the_same_hospital(cases):
    stays = cases.sort("patient_id", "admit_date").with_columns(
        prev_discharge=pl.col("discharge_date").shift(1).over("patient_id"),
        prev_hospital=pl.col("hospital_id").shift(1).over("patient_id"),
        prev_drg=pl.col("drg").shift(1).over("patient_id"))
    gap = (stays["admit_date"] - stays["prev_discharge"]).dt.total_days()
    quick = stays.filter((gap >= 0) & (gap <= 15) & (pl.col("hospital_id") == pl.col("prev_hospital")))
    assert quick.height > 0.01 * cases.height
    assert (quick["drg"] == quick["prev_drg"]).mean() > 0.4
    assert cases["patient_id"].n_unique() < cases.height  # persons come back


def test_newborns_sex_specific_groups_deaths_transfers(cases):
    newborn = cases.filter(pl.col("mdc") == "MDCP")
    assert newborn.height > 0
    assert (newborn["age"] == 0).all() and newborn["age_days"].is_not_null().all()
    under29 = newborn.filter(pl.col("adrg") != "PV1")
    assert (under29["age_days"] < 29).all() and under29["birth_weight"].is_not_null().all()
    ps1 = newborn.filter(pl.col("adrg") == "PS1")
    ps4 = newborn.filter(pl.col("adrg") == "PS4")
    if ps1.height and ps4.height:
        assert ps1["birth_weight"].max() < 1500 and ps4["birth_weight"].min() > 2499
    assert (cases.filter(pl.col("mdc").is_in(["MDCN", "MDCO"]))["sex"] == 2).all()
    status = cases["discharge_status"].value_counts()
    assert set(status["discharge_status"]) >= {1, 2, 3, 5}


def test_cost_follows_drg_and_hospital_tier(cases, city):
    hospitals = pl.read_parquet(city.hospitals)
    assert set(hospitals["tier"]) == {"A", "B", "C", "D", "E"}
    assert hospitals["name"].str.contains("医院").all()
    joined = cases.join(hospitals.select("hospital_id", "tier"), on="hospital_id")
    # within one DRG, tier A hospitals cost more than tier E on average
    drg = joined["drg"].value_counts().sort("count", descending=True)["drg"][0]
    by_tier = dict(joined.filter(pl.col("drg") == drg).group_by("tier").agg(pl.col("total_cost").mean()).iter_rows())
    assert by_tier["A"] > by_tier["E"]
    # costs are skewed (lognormal): mean above median
    assert cases["total_cost"].mean() > cases["total_cost"].median()


def test_budget_and_county_income_tables(city, cases):
    budget = pl.read_parquet(city.budget)
    assert set(budget.columns) == {"year", "insurance_type", "fund_budget", "growth_rate"}
    assert budget.height == 4
    fund = cases.filter(pl.col("case_id").str.starts_with("C2025")).filter(pl.col("insurance_type") == "310")[
        "fund_paid"].sum()
    b = budget.filter((pl.col("year") == 2025) & (pl.col("insurance_type") == "310"))["fund_budget"][0]
    assert b == pytest.approx(fund * 1.05, rel=1e-6)
    income = pl.read_parquet(city.county_income)
    assert set(income.columns) == {"year", "insurance_type", "county", "income", "other_spending"}
    assert income["county"].n_unique() == len(city_settings("demo").counties)
    manifest = json.loads(city.manifest.read_text(encoding="utf-8"))
    assert manifest["seed"] == 11 and manifest["scheme"] == "demo"


def test_draws_from_every_demo_drg(cases, demo_rules):
    rules, _ = demo_rules
    assert set(cases["drg"].unique()) <= set(rules.drgs)
    assert cases["drg"].n_unique() >= 0.9 * len(rules.drgs)


def test_settings_errors_name_the_key(tmp_path):
    bad = tmp_path / "city.toml"
    bad.write_text("hospitalz = 3\n", encoding="utf-8")
    with pytest.raises(InputError, match="hospitalz"):
        CitySettings.load(bad)
    bad.write_text("readmission_share = 2.0\n", encoding="utf-8")
    with pytest.raises(InputError, match="readmission_share"):
        CitySettings.load(bad)


def test_chs_drg_11_scheme_when_shared_is_present(tmp_path):
    from tests.helpers.paths import SHARED as shared

    if not (shared / "schemes" / "CHS_DRG_11").is_dir():
        pytest.skip("../shared is absent")
    from grouper.rules import load_code_dictionary, load_rule_set

    rules = load_rule_set(shared / "schemes" / "CHS_DRG_11")
    codes = load_code_dictionary(shared / "codes" / "chs_drg_11")
    r = synthesize(rules, codes, tmp_path, cases=3_000, years=[2025], seed=1)
    df = pl.read_parquet(r.case_files[2025])
    assert df.height == 3_000
    assert set(df["drg"].unique()) <= set(rules.drgs)
    surgical = {a.code for a in rules.adrgs.values() if a.surgical}
    assert (df.filter(pl.col("adrg").is_in(list(surgical)))["px"].list.len() > 0).all()
    assert np.isfinite(df["total_cost"].to_numpy()).all()
