"""Coefficients (SPEC §3): hospital coefficient with n_min, tier coefficients and the chained 90 %/110 %
fallback, blend by policy year, fallbacks, clipping, one row per hospital × DRG, sources."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from decimal import Decimal
from fractions import Fraction

import pyarrow.parquet as pq
import pytest

from drg.pricing import build_tables, compute_coefficients, compute_weights, tier_chain
from drg.policy import Blend, load_policy
from tests.helpers.grouped_cases import case_rows, make_cases, make_hospitals


@pytest.fixture(scope="module")
def pol():
    p = load_policy("zhejiang-province")
    return replace(p, weights=replace(p.weights, trim=replace(p.weights.trim, method="none")))


def _blend(pol, h, t, o, **kw):
    return replace(pol, coef=replace(pol.coef, blend=Blend(Decimal(h), Decimal(t), Decimal(o)), **kw))


def history(per_hospital):
    """per_hospital: {hospital: (n cases, cost)} for DRG FR23 in 2023."""
    rows = []
    for h, (n, cost) in per_hospital.items():
        rows += [{"case_id": f"{h}-{i}", "hospital_id": h, "drg": "FR23", "cost": cost,
                  "admit": dt.date(2023, 5, 1)} for i in range(n)]
    return case_rows(rows)


def coefs(pol, per_hospital):
    w, trimmed = compute_weights(history(per_hospital), pol, settlement_year=2024)
    return {r["hospital_id"]: r for r in compute_coefficients(w, trimmed, make_hospitals(), pol,
                                                              settlement_year=2024).to_pylist()}


def test_tier_chain_down_and_up():
    ch = tier_chain({"C": Fraction(1)}, ("A", "B", "C", "D", "E"), Decimal("0.9"), Decimal("1.1"))
    assert ch["D"] == (Fraction(9, 10), "from_higher") and ch["E"][0] == Fraction(81, 100)
    assert ch["B"] == (Fraction(11, 10), "from_lower") and ch["A"][0] == Fraction(121, 100)
    ch = tier_chain({"A": Fraction(6, 5), "C": Fraction(1)}, ("A", "B", "C", "D"), Decimal("0.9"), Decimal("1.1"))
    assert ch["B"][0] == Fraction(108, 100) and ch["C"] == (Fraction(1), "observed")
    assert tier_chain({}, ("A", "B"), Decimal("0.9"), Decimal("1.1")) == {}


def test_hospital_coefficient_needs_n_min(pol):
    # H01 (A) 5 cases at 18,000; H02 (A) 4 cases at 12,000: H02 has no HC and takes the tier's
    got = coefs(pol, {"H01": (5, 18000.0), "H02": (4, 12000.0)})
    mean = (5 * 18000 + 4 * 12000) / 9
    assert got["H01"]["coef_source"] == "hospital" and got["H01"]["coef"] == round(18000 / mean, 4)
    assert got["H02"]["coef_source"] == "tier" and got["H02"]["hospital_coef"] is None
    assert got["H02"]["coef"] == round(mean / mean, 4) == 1.0
    # hospitals without cases and without a tier value: 90 % chain from tier A
    assert got["H03"]["coef"] == 0.9 and got["H04"]["coef"] == 0.81 and got["H05"]["coef"] == 0.729


def test_blend_and_clip(pol):
    p = _blend(pol, "0.5", "0.3", "0.2")
    got = coefs(p, {"H01": (5, 18000.0), "H04": (5, 12000.0)})
    # mean 15,000: HC_H01 = 1.2, TC_A = 1.2 → 0.5×1.2 + 0.3×1.2 + 0.2 = 1.16
    assert got["H01"]["coef"] == 1.16
    # H03 (B): no HC, TC_B = 0.9 × 1.2 = 1.08 → 0.8 × 1.08 + 0.2 = 1.064
    assert got["H03"]["coef"] == 1.064
    clipped = _blend(pol, "1", "0", "0", min=Decimal("0.9"), max=Decimal("1.1"))
    got = coefs(clipped, {"H01": (5, 18000.0), "H04": (5, 12000.0)})
    assert got["H01"]["coef"] == 1.1 and got["H04"]["coef"] == 0.9


def test_blend_by_policy_year(pol):
    p = replace(pol, coef=replace(pol.coef, blend_by_year={2024: Blend(Decimal(0), Decimal(0), Decimal(1))}))
    got = coefs(p, {"H01": (5, 18000.0), "H04": (5, 12000.0)})
    assert all(r["coef"] == 1.0 for r in got.values())          # 同病同价: every hospital 1.0


def test_one_row_per_hospital_and_weighted_drg(pol, tmp_path):
    pq.write_table(make_cases(2000, seed=3), tmp_path / "h.parquet")
    pq.write_table(make_hospitals(), tmp_path / "hosp.parquet")
    s = build_tables(tmp_path / "h.parquet", tmp_path / "hosp.parquet", pol, tmp_path / "t", year=2024)
    c = pq.read_table(tmp_path / "t" / "coefficients.parquet")
    w = pq.read_table(tmp_path / "t" / "weights.parquet")
    n_w = sum(1 for v in w.column("base_points").to_pylist() if v is not None)
    assert c.num_rows == len(make_hospitals()) * n_w == s["coefficient_rows"]
    assert set(c.column("coef_source").to_pylist()) <= {"hospital", "tier", "1.0"}


def test_history_hospital_missing_from_table_is_noted(pol, tmp_path):
    t = history({"H01": (5, 15000.0), "H77": (5, 15000.0)})
    pq.write_table(t, tmp_path / "h.parquet")
    pq.write_table(make_hospitals(), tmp_path / "hosp.parquet")
    s = build_tables(tmp_path / "h.parquet", tmp_path / "hosp.parquet", pol, tmp_path / "t", year=2024)
    assert s["history_hospitals_not_in_table"] == 1
    md = pq.read_schema(tmp_path / "t" / "coefficients.parquet").metadata
    assert b"H77" in md[b"drg.history_hospitals_not_in_table"]




@pytest.mark.parametrize("seed", [1, 2, 3])
def test_hospital_coefficients_equal_the_fraction_formula(pol, seed, engine):
    """The hospital coefficients, computed in integer pairs, equal the formula in Fractions: hc = mean_h /
    mean_d (hospital_coef its correctly rounded float), v = wh·hc + wt·tc + w1 clipped, rounded half away
    to 4 decimals; with the tier weight 0, tc drops out. Costs chosen so rounding halves and clips occur."""
    import random

    rnd = random.Random(seed)
    p = _blend(pol, "0.35", "0", "0.65", min=Decimal("0.95"), max=Decimal("1.05"))
    per = {h: (rnd.randint(5, 9), rnd.choice([9999.99, 10000.0, 10000.01, 12345.67, 7777.77, 15000.0]))
           for h in ("H01", "H02", "H03", "H04", "H05")}
    got = coefs(p, per)
    total = sum(n * Fraction(str(c)) for n, c in per.values())
    mean_d = total / sum(n for n, _ in per.values())
    for h, (n, cost) in per.items():
        hc = Fraction(str(cost)) / mean_d
        v = min(max(Fraction("0.35") * hc + Fraction("0.65"), Fraction("0.95")), Fraction("1.05"))
        q, r = divmod(v.numerator * 10_000, v.denominator)
        assert got[h]["coef_source"] == "hospital"
        assert got[h]["hospital_coef"] == float(hc)
        assert got[h]["coef"] == (q + (2 * r >= v.denominator)) / 10_000


def test_coefficients_of_two_years_and_chained_tiers_equal_the_fraction_formula(engine):
    """Every row of a two-year history with year weights and a cost index — hospitals with and without their
    own coefficient, observed and chained tiers, the blend and the clip — equals the formula in Fractions."""
    import random

    from drg.pricing import compute_coefficients, compute_weights

    rnd = random.Random(5)
    p = load_policy("zhejiang-province")
    p = replace(p, weights=replace(p.weights, trim=replace(p.weights.trim, method="none"),
                                   cost_index={2023: Decimal("1.031"), 2024: Decimal(1)}),
                coef=replace(p.coef, blend=Blend(Decimal("0.45"), Decimal("0.35"), Decimal("0.2")),
                             min=Decimal("0.8"), max=Decimal("1.3")))
    rows, i = [], 0
    for h, n in (("H01", 16), ("H02", 4), ("H03", 13), ("H04", 11)):
        for _ in range(n):
            year = rnd.choice([2023, 2024])
            rows.append({"case_id": f"c{i}", "hospital_id": h, "drg": rnd.choice(["FR23", "GB19"]),
                         "cost": round(rnd.uniform(3000, 30000), 2), "admit": dt.date(year, 5, 1)})
            i += 1
    w, trimmed = compute_weights(case_rows(rows), p, settlement_year=2025)
    hosp = make_hospitals()
    got = compute_coefficients(w, trimmed, hosp, p, settlement_year=2025).to_pylist()
    tier_of = dict(zip(hosp.column("hospital_id").to_pylist(), hosp.column("tier").to_pylist()))
    wy = {y: Fraction(p.weights.year_weight(y, 2024)) for y in (2023, 2024)}
    ix = {y: Fraction(p.weights.cost_index.get(y, Decimal(1))) for y in (2023, 2024)}

    def mean(cases):
        by_year = {}
        for r in cases:
            by_year.setdefault(r["admit"].year, []).append(Fraction(str(r["cost"])))
        return (sum(wy[y] * ix[y] * sum(c) / len(c) for y, c in by_year.items())
                / sum(wy[y] for y in by_year))

    blend = p.coef.blend
    for r in got:
        cases = [c for c in rows if c["drg"] == r["drg"]]
        md = mean(cases)
        own = [c for c in cases if c["hospital_id"] == r["hospital_id"]]
        assert r["n_hospital"] == len(own)
        tiers = {t: [c for c in cases if tier_of[c["hospital_id"]] == t] for t in p.coef.tiers}
        observed = {t: mean(c) / md for t, c in tiers.items() if len(c) >= p.coef.tier_n_min}
        tc = tier_chain(observed, p.coef.tiers, p.coef.down_factor, p.coef.up_factor).get(r["tier"], (None,))[0]
        tc_used = tc if tc is not None else Fraction(1)
        hc = mean(own) / md if len(own) >= p.coef.n_min else None
        v = Fraction(blend.hospital) * (hc if hc is not None else tc_used) + Fraction(blend.tier) * tc_used \
            + Fraction(blend.one)
        v = min(max(v, Fraction(p.coef.min)), Fraction(p.coef.max))
        q, rem = divmod(v.numerator * 10_000, v.denominator)
        assert r["coef"] == (q + (2 * rem >= v.denominator)) / 10_000, r
        assert r["hospital_coef"] == (None if hc is None else float(hc))
        assert r["tier_coef"] == (None if tc is None else float(tc))
        assert r["coef_source"] == ("hospital" if hc is not None else "tier" if tc is not None else "1.0")


def test_drg_whose_history_cost_nothing_gets_coefficient_one(pol):
    """A DRG whose kept history cases all cost 0 (bad data the weights keep: mean 0, base points 0) has no
    ratio to its mean: no hospital or tier coefficient, so 1.0 (SPEC §3.4's fallback), not a division by zero."""
    rows = [{"case_id": f"{h}-{d}-{i}", "hospital_id": h, "drg": d, "cost": 0.0 if d == "FR23" else 9000.0,
             "admit": dt.date(2023, 5, 1)} for h, n in (("H01", 6), ("H02", 5)) for d in ("FR23", "GZ11")
            for i in range(n)]
    w, trimmed = compute_weights(case_rows(rows), pol, settlement_year=2024)
    assert w.table.to_pylist()[0]["drg"] == "FR23" and w.table.to_pylist()[0]["base_points"] == 0.0
    got = {r["hospital_id"]: r for r in compute_coefficients(w, trimmed, make_hospitals(), pol,
                                                             settlement_year=2024).to_pylist() if r["drg"] == "FR23"}
    for h in ("H01", "H02"):
        assert got[h]["coef"] == 1.0 and got[h]["coef_source"] == "1.0"
        assert got[h]["hospital_coef"] is None and got[h]["tier_coef"] is None
    assert got["H01"]["n_hospital"] == 6


def test_history_that_cost_nothing_is_an_error_naming_the_field(pol):
    """Every kept history case at 0 fen: A is 0 and base points cannot be formed; an error naming the
    history and the cost field, not a division by zero."""
    from drg.errors import InputError

    with pytest.raises(InputError, match="A is 0") as err:
        compute_weights(history({"H01": (6, 0.0)}), pol, settlement_year=2024)
    assert err.value.field == "total_cost"


def test_history_row_groups_gathered_give_the_tables_of_one_group_at_a_time(pol, tmp_path, monkeypatch):
    """`drg weights` gathers a history file's row groups into tables of HISTORY_BATCH_ROWS rows before it
    projects them: the weights, coefficients and low-risk tables are those of the row groups one at a time,
    and a missing cost in a later row group is still named by its row in the file."""
    import pyarrow as pa

    import drg.pricing.coefficients as co

    rows = []
    for k, (h, drg, cost) in enumerate([("H01", "FR23", 15000.0), ("H02", "FR23", 9000.0), ("H01", "GB11", 30000.0),
                                        ("H03", "GB11", 41000.0), ("H02", "FR23", 12000.0)] * 12):
        rows.append({"case_id": f"C{k}", "hospital_id": h, "drg": drg, "cost": cost + k,
                     "admit": dt.date(2023, 1 + k % 12, 3)})
    t = case_rows(rows)
    pq.write_table(t, tmp_path / "h.parquet", row_group_size=7)     # 9 row groups
    pq.write_table(make_hospitals(), tmp_path / "hosp.parquet")
    out = {}
    for rows_at_a_time in (7, 14, 1 << 20):
        monkeypatch.setattr(co, "HISTORY_BATCH_ROWS", rows_at_a_time)
        d = tmp_path / f"t{rows_at_a_time}"
        build_tables(tmp_path / "h.parquet", tmp_path / "hosp.parquet", pol, d, year=2024)
        out[rows_at_a_time] = {f: pq.read_table(d / f) for f in ("weights.parquet", "coefficients.parquet",
                                                                 "low_risk_drgs.parquet")}
    for f, table in out[7].items():
        assert table.equals(out[14][f]) and table.equals(out[1 << 20][f]), f
    cost = "total_cost_fen" if "total_cost_fen" in t.column_names else "total_cost"
    broken = t.set_column(t.column_names.index(cost), cost,
                          pa.array([None if i == 40 else v for i, v in enumerate(t.column(cost).to_pylist())],
                                   t.schema.field(cost).type))
    pq.write_table(broken, tmp_path / "broken.parquet", row_group_size=7)
    monkeypatch.setattr(co, "HISTORY_BATCH_ROWS", 14)     # (row 41 is in the third table of two row groups)
    with pytest.raises(co.InputError) as err:
        build_tables(tmp_path / "broken.parquet", tmp_path / "hosp.parquet", pol, tmp_path / "tb", year=2024)
    assert err.value.row == 41 and "broken.parquet" in str(err.value)
