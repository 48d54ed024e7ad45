"""Case points: exact rounding (ties), classes, reviews, violations, notes, files; kernel = twin (``price_both``
compares the two on each case; the other tests run once on each engine)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from drg.errors import InputError
from drg.money import round_half_away
from drg.pricing import PRICED_COLUMNS, hospital_point_totals, price_cases, price_file, scale_units_twin, to_units
from drg.pricing.kernels import scale_units
from drg.policy import load_policy
from tests.helpers.grouped_cases import case_rows, hand_tables, make_cases, make_hospitals, price_both


@pytest.fixture(scope="module")
def pol():
    return load_policy("zhejiang-province")


# ------------------------------------------------------------------ rounding half away on the exact decimal
def test_round_half_away_basics():
    assert round_half_away(Fraction(5, 2)) == 3
    assert round_half_away(Fraction(-5, 2)) == -3
    assert round_half_away(Fraction(3, 2)) == 2
    assert round_half_away(Decimal("0.49999")) == 0
    assert to_units(0.00005, 10_000) == 1          # float 0.00005 is below 5e-5 in binary; the decimal is not
    assert to_units(1.00005, 10_000) == 10001
    assert to_units(Decimal("82.50005"), 10_000) == 825001


@pytest.mark.parametrize("points_u,expect", [(1_650_000, 825_000), (1, 1), (3, 2), (5, 3), (7, 4),
                                             (1_234_567, 617_284), (0, 0)])
def test_readmission_half_ties_kernel_and_twin(points_u, expect):
    # 165 × 0.5 = 82.5; 0.0001 × 0.5 = 0.00005 → 0.0001; 0.0003 × 0.5 = 0.00015 → 0.0002 (round-half-even: 0.0002
    # by luck, but 0.0005 × 0.5 = 0.00025 → 0.0003 where half-even gives 0.0002)
    assert scale_units(np.array([points_u]), Decimal("0.5"))[0] == expect
    assert scale_units_twin([points_u], Decimal("0.5"))[0] == expect


def test_half_even_would_differ():
    # the reason for §0.1: numpy's round is half-to-even on binary floats
    assert np.round(0.00025, 4) != 0.0003 or np.round(2.5) == 2.0
    assert scale_units(np.array([5]), Decimal("0.5"))[0] == 3


def test_decimal_money_columns(pol):
    w, c = hand_tables([{"drg": "FR23", "base_points": 150.0, "mean_cost": 15000.0}])
    t = case_rows([{"cost": 15000.0}], money_type=pa.decimal128(14, 2))
    assert price_both(t, w, c, pol).column("points").to_pylist() == [150.0]


def test_unstable_tie_rounds_away_from_zero(pol):
    # A = 80,000 yuan = 8,000,000 fen: points = cost_fen × 100 / A; 0.20 yuan → 2.5 units → 3 (0.0003)
    w, c = hand_tables([{"drg": "XJ19", "base_points": 10.0, "mean_cost": 8000.0, "stable": False}], a_yuan=80000.0)
    rows = [{"drg": "XJ19", "cost": v, "case_id": f"u{i}"} for i, v in enumerate([0.20, 0.04, 0.12, 0.28, 1.00])]
    got = price_both(case_rows(rows), w, c, pol).column("points").to_pylist()
    assert got == [0.0003, 0.0001, 0.0002, 0.0004, 0.0013]


def test_ungroupable_tie_and_factor(pol):
    w, c = hand_tables([{"drg": "FR23", "base_points": 150.0, "mean_cost": 15000.0}], a_yuan=80000.0)
    out = price_both(case_rows([{"drg": "0000", "cost": 0.20}]), w, c, pol).to_pylist()[0]
    assert out["case_class"] == "ungroupable" and out["points"] == 0.0003
    rev = replace(pol, pricing=replace(pol.pricing, ungroupable="review"))
    out = price_both(case_rows([{"drg": "0000", "cost": 5000.0}]), w, c, rev).to_pylist()[0]
    assert out["case_class"] == "ungroupable" and out["points"] == 0.0
    half = replace(pol, pricing=replace(pol.pricing, ungroupable_factor=Decimal("0.5")))
    out = price_both(case_rows([{"drg": "0000", "cost": 0.20}]), w, c, half).to_pylist()[0]
    assert out["points"] == 0.0001       # 1.25 units → 1


def test_ambiguous_groups_priced_as_ungroupable_or_held_for_review(pol):
    """SPEC §4: an ambiguous xQY group (CHS-DRG 2.0) is priced as ungroupable by default; with
    ``pricing.ambiguous = "review"`` it waits for special review with 0 points, even under the factor rule; a
    0000 case keeps the factor rule, and a reviewed ambiguous case takes its review points."""
    w, c = hand_tables([{"drg": "FR23", "base_points": 150.0, "mean_cost": 15000.0}], a_yuan=80000.0)
    rows = case_rows([{"drg": "GQY", "adrg": "GQY", "cost": 8000.0}, {"drg": "0000", "cost": 8000.0}])
    out = price_both(rows, w, c, pol).to_pylist()
    assert [(r["case_class"], r["points"]) for r in out] == [("ungroupable", 10.0), ("ungroupable", 10.0)]
    held = replace(pol, pricing=replace(pol.pricing, ambiguous="review"))
    out = price_both(rows, w, c, held).to_pylist()
    assert [(r["case_class"], r["points"]) for r in out] == [("ungroupable", 0.0), ("ungroupable", 10.0)]


def test_policy_key_ambiguous_is_read_and_checked(tmp_path):
    from drg.errors import PolicyError

    p = tmp_path / "p.toml"
    p.write_text('[policy]\nid = "t"\n[pricing]\nambiguous = "review"\n', encoding="utf-8")
    assert load_policy(p).pricing.ambiguous == "review"
    p.write_text('[policy]\nid = "t"\n[pricing]\nambiguous = "maybe"\n', encoding="utf-8")
    with pytest.raises(PolicyError, match="ambiguous"):
        load_policy(p)


@pytest.mark.parametrize("cost_fen", [5, 15, 25, 35, 105, 555_555, 599_995, 45, 55])
def test_low_outlier_ties_exact(pol, cost_fen):
    # province low rule: 150 × 1.1 × c / 1,500,000 fen = c × 1.1 units (ties at c ≡ 5 mod 10)
    w, c = hand_tables([{"drg": "FR23", "base_points": 150.0, "mean_cost": 15000.0}], coef={("H01", "FR23"): 1.1})
    out = price_both(case_rows([{"cost": cost_fen / 100}]), w, c, pol).to_pylist()[0]
    want = round_half_away(Fraction(cost_fen) * Fraction(11, 10))
    assert out["case_class"] == "low"
    assert round(out["points"] * 10_000) == want


def test_high_outlier_ties_exact(pol):
    # BP 300 (H = 1.5), coef 1.0, mean 10,000: points = 300 + (r − 1.5) × 300; r = c/1,000,000 fen
    w, c = hand_tables([{"drg": "GB11", "base_points": 300.0, "mean_cost": 10000.0}])
    costs_fen = [1_500_000, 1_500_001, 1_500_003, 2_000_005, 3_333_335]
    out = price_both(case_rows([{"drg": "GB11", "cost": v / 100, "case_id": f"h{i}"}
                                for i, v in enumerate(costs_fen)]), w, c, pol).to_pylist()
    for r, v in zip(out, costs_fen):
        want = round_half_away((300 + (Fraction(v, 1_000_000) - Fraction(3, 2)) * 300) * 10_000)
        assert r["case_class"] == "high"
        assert round(r["points"] * 10_000) == want


def test_boundaries_r_equal_h_is_high_and_r_equal_l_is_low(pol):
    w, c = hand_tables([{"drg": "FR23", "base_points": 150.0, "mean_cost": 15000.0}])
    out = price_both(case_rows([{"cost": 30000.0, "case_id": "h"}, {"cost": 6000.0, "case_id": "l"},
                                {"cost": 6000.01, "case_id": "n"}]), w, c, pol).to_pylist()
    assert [r["case_class"] for r in out] == ["high", "low", "normal"]
    assert out[0]["points"] == 150.0


def test_no_weight_priced_unstable_and_noted(pol):
    w, c = hand_tables([{"drg": "FR23", "base_points": 150.0, "mean_cost": 15000.0}])
    out = price_both(case_rows([{"drg": "ZZ99", "cost": 12345.67}]), w, c, pol).to_pylist()[0]
    assert out["case_class"] == "unstable" and out["points"] == 123.4567
    assert out["price_note"] == "no weight: priced as unstable"
    assert out["base_points"] is None and out["cost_ratio"] is None


def test_hospital_not_in_table_gets_coef_one(pol):
    w, c = hand_tables([{"drg": "FR23", "base_points": 150.0, "mean_cost": 15000.0}], coef={("H01", "FR23"): 1.2})
    out = price_both(case_rows([{"hospital_id": "H99"}, {"hospital_id": "H01", "case_id": "x"}]), w, c,
                     pol).to_pylist()
    assert out[0]["coef"] == 1.0 and out[0]["coef_source"] == "hospital_not_in_table"
    assert "hospital not in hospitals table" in out[0]["price_note"]
    assert out[0]["points"] == 150.0 and out[1]["points"] == 180.0


def test_review_overrides_everything(pol):
    w, c = hand_tables([{"drg": "FR23", "base_points": 150.0, "mean_cost": 15000.0}])
    cases = case_rows([{"case_id": "a", "cost": 90000.0}, {"case_id": "b", "drg": "0000"}])
    reviews = pa.table({"case_id": ["a", "b"], "points": [200.12345, 10.0], "note": ["", ""]})
    out = price_both(cases, w, c, pol, reviews=reviews).to_pylist()
    assert [r["case_class"] for r in out] == ["review", "review"]
    assert out[0]["points"] == 200.1235 and out[1]["points"] == 10.0


def test_violation_deductions(pol, engine):
    from dataclasses import replace as rp

    pd_pol = rp(pol, per_diem=rp(pol.per_diem, drgs=("TR11",)))
    w, c = hand_tables([{"drg": "FR23", "base_points": 150.0, "mean_cost": 15000.0},
                        {"drg": "TR11", "per_diem_points": 6.0, "per_diem_mean": 600.0}])
    cases = case_rows([{"case_id": "n", "cost": 15000.0}, {"case_id": "p", "drg": "TR11", "los": 10, "cost": 6000.0},
                       {"case_id": "f", "cost": 15000.0}, {"case_id": "m", "cost": 15000.0},
                       {"case_id": "ok", "cost": 15000.0}])
    viol = pa.table({"case_id": ["n", "p", "f", "m"], "violation": ["bed_holding", "upcoding", "fraud", "upcoding"],
                     "serious": [True, True, True, True], "multiplier": [None, None, None, 3.5]})
    out = {r["case_id"]: r for r in price_both(cases, w, c, pd_pol, violations=viol).to_pylist()}
    assert out["n"]["deduction_points"] == 150.0
    assert out["p"]["deduction_points"] == 120.0          # 2 × own points (6 × 10)
    assert out["f"]["deduction_points"] == 750.0
    assert out["m"]["deduction_points"] == 525.0          # multiplier column overrides
    assert all(out[k]["adjusted_points"] == 0 for k in "npfm")
    assert out["ok"]["adjusted_points"] == 150.0
    tot = hospital_point_totals(price_cases(cases, w, c, pd_pol, violations=viol, engine=engine),
                                pd_pol).to_pylist()[0]
    assert tot["adjusted_points"] == 150.0 and tot["deduction_points"] == 1545.0
    assert tot["total_points"] == 0.0 and tot["undeducted_points"] == 1395.0
    assert tot["undeducted_points_units"] == 13_950_000


def test_unknown_violation_without_multiplier_is_an_error(pol, engine):
    w, c = hand_tables([{"drg": "FR23", "base_points": 150.0, "mean_cost": 15000.0}])
    viol = pa.table({"case_id": ["K0000"], "violation": ["mystery"], "serious": [True]})
    with pytest.raises(InputError, match="mystery"):
        price_cases(case_rows([{}]), w, c, pol, violations=viol, engine=engine)


def test_missing_column_names_file_and_field(pol, engine):
    w, c = hand_tables([{"drg": "FR23", "base_points": 150.0, "mean_cost": 15000.0}])
    with pytest.raises(InputError, match="drg"):
        price_cases(case_rows([{}]).drop_columns(["drg"]), w, c, pol, file="x.parquet", engine=engine)


def test_random_cases_kernel_equals_twin(pol, tmp_path):
    from drg.pricing import build_tables

    hist = make_cases(3000, years=(2022, 2023), seed=11)
    pq.write_table(hist, tmp_path / "h.parquet")
    pq.write_table(make_hospitals(), tmp_path / "hosp.parquet")
    demo = load_policy("demo")
    build_tables(tmp_path / "h.parquet", tmp_path / "hosp.parquet", demo, tmp_path / "t", year=2024)
    from drg.pricing import read_coefficients, read_weights

    w = read_weights(tmp_path / "t" / "weights.parquet")
    c = read_coefficients(tmp_path / "t" / "coefficients.parquet")
    cases = make_cases(1500, years=(2024,), seed=12, n_patients=200)
    for p in (demo, load_policy("jinhua")):
        out = price_both(cases, w, c, p)
        assert set(PRICED_COLUMNS) <= set(out.column_names)
        assert out.num_rows == cases.num_rows


def test_price_file_writes_outputs_and_row_groups_do_not_matter(pol, tmp_path, engine):
    from drg.pricing import build_tables

    pq.write_table(make_cases(2000, seed=5), tmp_path / "h.parquet")
    pq.write_table(make_hospitals(), tmp_path / "hosp.parquet")
    build_tables(tmp_path / "h.parquet", tmp_path / "hosp.parquet", pol, tmp_path / "t", year=2024)
    cases = make_cases(800, years=(2024,), seed=6, n_patients=100)
    pq.write_table(cases, tmp_path / "c1.parquet")
    pq.write_table(cases, tmp_path / "c2.parquet", row_group_size=37)
    s1 = price_file(tmp_path / "c1.parquet", tmp_path / "t", pol, tmp_path / "p1.parquet", engine=engine)
    s2 = price_file(tmp_path / "c2.parquet", tmp_path / "t", pol, tmp_path / "p2.parquet", engine=engine)
    assert s1 == {**s2, "hospital_totals": s1["hospital_totals"]}
    assert pq.read_table(tmp_path / "p1.parquet").equals(pq.read_table(tmp_path / "p2.parquet"))
    assert (tmp_path / "p1.hospital_totals.parquet").exists()


def test_price_file_streams_the_same_table_as_price_cases(pol, tmp_path, engine):
    """The two-pass streaming writer gives exactly ``price_cases`` over the whole file: same columns, order,
    values and summary; also when the input already carries priced and ``*_fen`` columns (re-pricing) and
    for a CSV input (priced in one table)."""
    import pyarrow.compute as pc

    from drg.pricing import build_tables, read_coefficients, read_grouped, read_weights

    pq.write_table(make_cases(2000, seed=5), tmp_path / "h.parquet")
    pq.write_table(make_hospitals(), tmp_path / "hosp.parquet")
    build_tables(tmp_path / "h.parquet", tmp_path / "hosp.parquet", pol, tmp_path / "t", year=2024)
    w, c = read_weights(tmp_path / "t" / "weights.parquet"), read_coefficients(tmp_path / "t" / "coefficients.parquet")
    pq.write_table(make_cases(900, years=(2024,), seed=8, n_patients=90), tmp_path / "c.parquet", row_group_size=100)
    whole = price_cases(read_grouped(tmp_path / "c.parquet"), w, c, pol, year=2024, engine=engine)
    summary = price_file(tmp_path / "c.parquet", tmp_path / "t", pol, tmp_path / "p.parquet", year=2024,
                         engine=engine)
    streamed = pq.read_table(tmp_path / "p.parquet")
    assert pq.ParquetFile(tmp_path / "p.parquet").num_row_groups == pq.ParquetFile(tmp_path / "c.parquet").num_row_groups > 1
    assert streamed.replace_schema_metadata(None).equals(whole.replace_schema_metadata(None))
    assert streamed.schema.metadata[b"drg.policy_id"] == pol.id.encode()
    # dictionary pages for the text columns of few values only (drg.casefile.parquet.dictionary_columns)
    from tests.helpers.paths import dictionary_encoded

    encoded = dictionary_encoded(tmp_path / "p.parquet")
    assert {"drg", "hospital_id", "case_class"} <= encoded
    assert not encoded & {"case_id", "patient_id", "dx", "points", "cost_ratio", "total_cost_fen"}
    assert summary["cases"] == whole.num_rows and summary["readmissions_halved"] == pc.sum(
        pc.equal(whole.column("adjust_reason"), "readmission")).as_py()
    assert summary["adjusted_points"] == round(pc.sum(whole.column("adjusted_points")).as_py(), 4)
    assert sum(v for k, v in summary.items() if k.startswith("class ")) == whole.num_rows
    # re-pricing a priced file replaces its priced columns in place of appending twice
    again = price_file(tmp_path / "p.parquet", tmp_path / "t", pol, tmp_path / "p2.parquet", year=2024,
                       engine=engine)
    assert pq.read_table(tmp_path / "p2.parquet").replace_schema_metadata(None).equals(
        streamed.replace_schema_metadata(None))
    assert again == {**summary, "hospital_totals": again["hospital_totals"]}
    totals = pq.read_table(tmp_path / "p.hospital_totals.parquet")
    assert totals.equals(hospital_point_totals(whole, pol))


def test_price_file_error_mid_stream_leaves_no_half_priced_file(pol, tmp_path, monkeypatch, engine):
    import drg.pricing.points
    from drg.pricing import build_tables

    pq.write_table(make_cases(1500, seed=5), tmp_path / "h.parquet")
    pq.write_table(make_hospitals(), tmp_path / "hosp.parquet")
    build_tables(tmp_path / "h.parquet", tmp_path / "hosp.parquet", pol, tmp_path / "t", year=2024)
    pq.write_table(make_cases(600, years=(2024,), seed=8), tmp_path / "c.parquet", row_group_size=100)
    (tmp_path / "p.parquet").write_bytes(b"an earlier run")
    columns = drg.pricing.points.PricedArrays.columns

    def failing(self, lo=0, hi=None):
        if lo >= 300:
            raise OSError("disk full")
        return columns(self, lo, hi)

    monkeypatch.setattr(drg.pricing.points.PricedArrays, "columns", failing)
    with pytest.raises(OSError, match="disk full"):
        price_file(tmp_path / "c.parquet", tmp_path / "t", pol, tmp_path / "p.parquet", year=2024, engine=engine)
    assert (tmp_path / "p.parquet").read_bytes() == b"an earlier run"
    assert not (tmp_path / "p.parquet.partial").exists()


def test_priced_columns_are_pinned():
    """The priced file's columns (after the grouped file's): changing them is a decision, not an accident."""
    assert PRICED_COLUMNS == ("case_class", "base_points", "per_diem_points", "bed_days", "coef", "coef_source",
                              "mean_cost", "high_ratio", "cost_ratio", "points", "adjusted_points", "adjust_reason",
                              "deduction_points", "violation", "violation_ref", "price_note")


def test_csv_grouped_cases_read_through_case_reader(pol, tmp_path):
    import polars as pl

    w, c = hand_tables([{"drg": "FR23", "base_points": 150.0, "mean_cost": 15000.0}], coef={("H01", "FR23"): 1.1})
    t = case_rows([{"case_id": "a", "cost": 15000.0}, {"case_id": "b", "drg": "0000", "cost": 12345.675}])
    df = pl.from_arrow(t).with_columns(pl.lit("K29.100").alias("dx"), pl.lit(1).alias("sex"),
                                       pl.lit(40).alias("age"), pl.lit("330701").alias("county"),
                                       pl.col("total_cost").alias("fund_paid"))
    df.write_csv(tmp_path / "g.csv")
    from drg.pricing import read_grouped

    g = read_grouped(tmp_path / "g.csv")
    assert g.column("drg").to_pylist() == ["FR23", "0000"]
    assert g.column("total_cost_fen").to_pylist() == [1_500_000, 1_234_568]
    out = price_both(g, w, c, pol).column("points").to_pylist()
    assert out[0] == 165.0


@pytest.mark.parametrize("pooled", [True, False])
def test_hospital_point_sums_from_codes_equal_those_of_the_priced_columns(pol, pooled, engine):
    """`drg points` sums each hospital's points from integer points and the codes of its hospital and
    insurance type (drg.pricing.priced_file.point_sums_of); they equal the sums of the priced float columns
    (hospital_point_sums), whether the ids are plain or dictionary strings, with a null insurance type, pooled
    by insurance type or not."""
    from drg.pricing import checked_columns, hospital_point_sums, point_sums_of, price_arrays, with_priced_columns

    policy = replace(pol, pools_by_insurance_type=pooled)
    w, c = hand_tables([{"drg": "FR23", "base_points": 150.0, "mean_cost": 15000.0},
                        {"drg": "RE13", "base_points": 60.0, "mean_cost": 6000.0}],
                       hospitals=(("H01", "A"), ("H02", "A")))
    rows = [{"case_id": f"K{i}", "hospital_id": "H01" if i % 3 else "H02", "drg": "FR23" if i % 2 else "RE13",
             "cost": 9000.0 + 1000 * i} for i in range(9)]
    cases = checked_columns(case_rows(rows), policy, "cases")
    ins = pa.array(["310", "390", None] * 3, pa.string())
    cases = cases.append_column("insurance_type", ins) if "insurance_type" not in cases.column_names else \
        cases.set_column(cases.column_names.index("insurance_type"), "insurance_type", ins)
    priced = price_arrays(cases, w, c, policy, reviews=None, violations=None, year=None, engine=engine)
    want = hospital_point_sums(with_priced_columns(cases, priced.columns()), policy)
    key = ["hospital_id", "insurance_type"]
    for keys in (cases, cases.set_column(cases.column_names.index("hospital_id"), "hospital_id",
                                         cases.column("hospital_id").dictionary_encode())):
        got = point_sums_of(keys, priced, policy)
        assert got.sort(key, nulls_last=True).equals(want.sort(key, nulls_last=True))
        assert got.schema == want.schema and got["insurance_type"].null_count() == (1 if pooled else 0)


def test_drg_whose_history_cost_nothing_is_priced_unstable_without_a_ratio(pol):
    """Mean cost 0 (a history that cost nothing): the cost ratio is undefined, the case is priced as unstable
    (c / A × 100) on both engines, a review and a per-diem case of such a DRG keep their points; no case
    divides by zero."""
    w, c = hand_tables([{"drg": "FR23", "base_points": 0.0, "mean_cost": 0.0, "stable": False},
                        {"drg": "GZ11", "base_points": 0.0, "mean_cost": 0.0, "stable": True},
                        {"drg": "BR21", "base_points": 0.0, "mean_cost": 0.0, "per_diem_points": 0.0,
                         "per_diem_mean": 0.0}])
    cases = case_rows([{"case_id": "a", "drg": "FR23", "cost": 12345.67},
                       {"case_id": "b", "drg": "GZ11", "cost": 100.0},
                       {"case_id": "c", "drg": "FR23", "cost": 500.0},
                       {"case_id": "d", "drg": "BR21", "cost": 800.0, "los": 4}])
    reviews = pa.table({"case_id": ["c"], "points": [7.5], "note": [""]})
    pd_pol = replace(pol, per_diem=replace(pol.per_diem, drgs=("BR21",)))
    out = {r["case_id"]: r for r in price_both(cases, w, c, pd_pol, reviews=reviews).to_pylist()}
    assert out["a"]["case_class"] == "unstable" and out["a"]["points"] == 123.4567
    assert out["b"]["case_class"] == "unstable" and out["b"]["points"] == 1.0
    assert out["c"]["case_class"] == "review" and out["c"]["points"] == 7.5
    assert out["d"]["case_class"] == "per_diem" and out["d"]["points"] == 0.0
    assert all(out[k]["cost_ratio"] is None for k in "abcd")
