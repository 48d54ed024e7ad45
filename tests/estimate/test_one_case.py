"""The estimate of one case: agreement with the batch pricing path (on each engine), the normal range,
unknown-code suggestions, missing bundle files (the command's flags, JSON input, output and import budget are
in tests/cli/test_estimate_cli.py)."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pyarrow as pa
import pytest

from drg.estimate import CaseInput, case_from_json, estimate_case, normal_cost_range, open_bundle, parse_yuan, price_one
from drg.errors import InputError
from tests.helpers.commands import run
from tests.helpers.estimate_world import FLAGS, PV


# ----------------------------------------------------------------------------------------------- one case
def _group_month(world, n=400):
    """The first ``n`` cases of the month, grouped with the reference grouper (as the estimate does)."""
    from grouper import Case, group_case

    b = open_bundle(world["bundle"])
    t = world["month"].slice(0, n)
    rows = t.to_pylist()
    drg, adrg = [], []
    for r in rows:
        g = group_case(b.scheme, Case(sex=r["sex"], age=r["age"], dx=r["dx"], px=r["px"] or [],
                                      age_days=r["age_days"], birth_weight=r["birth_weight"],
                                      vent_hours=r["vent_hours"], los=r["los"]))
        drg.append(g.drg)
        adrg.append(g.adrg)
    t = t.drop_columns([c for c in ("drg", "adrg", "mdc") if c in t.column_names])
    t = t.append_column("drg", pa.array(drg, pa.string())).append_column("adrg", pa.array(adrg, pa.string()))
    # a hospital the bureau does not know and a case without hospital: coefficient 1.0
    hosp = t.column("hospital_id").to_pylist()
    hosp[0], hosp[1] = "H9999", None
    t = t.set_column(t.column_names.index("hospital_id"), "hospital_id", pa.array(hosp, pa.string()))
    return b, t, rows


def test_one_case_path_agrees_with_price_cases(world, engine):
    from drg.pricing import price_cases, read_coefficients, read_weights

    b, t, rows = _group_month(world)
    pol = b.policy
    import dataclasses

    pol_nr = dataclasses.replace(pol, readmission=dataclasses.replace(pol.readmission, enabled=False))
    priced = price_cases(t, read_weights(b.file("weights")), read_coefficients(b.file("coefficients")), pol_nr,
                         engine=engine)
    classes = set()
    hosp = t.column("hospital_id").to_pylist()
    for i, (r, p) in enumerate(zip(rows, priced.to_pylist())):
        case = CaseInput(dx=r["dx"], px=r["px"] or [], sex=r["sex"], age=r["age"], age_days=r["age_days"],
                         birth_weight=r["birth_weight"], los=r["los"], vent_hours=r["vent_hours"],
                         total_cost_fen=parse_yuan(r["total_cost"]), self_paid_fen=parse_yuan(r["self_paid"]),
                         other_paid_fen=parse_yuan(r["other_paid"]), hospital_id=hosp[i],
                         insurance_type=r["insurance_type"])
        if case.age == 0 and case.age_days is None:
            continue
        est = estimate_case(b, case, allow_unknown=True)
        e = est["pricing"]
        assert est["group"]["drg"] == p["drg"]
        assert e["case_class"] == p["case_class"], (i, r, e, p)
        assert e["points"] == p["points"], (i, e, p)
        assert e["coef_source"] == p["coef_source"]
        assert e["coef"] == p["coef"]
        assert e["base_points"] == p["base_points"]
        if p["cost_ratio"] is None:
            assert e["cost_ratio"] is None
        else:
            assert e["cost_ratio"] == p["cost_ratio"]
        pv = Fraction(Decimal(PV[r["insurance_type"]])) * 100
        pts = Fraction(Decimal(repr(p["points"])))
        ent = est["money"]["entitlement_fen"]
        exact = pts * pv
        assert abs(ent - exact) <= Fraction(1, 2) and (ent - exact != Fraction(-1, 2))
        classes.add(e["case_class"])
    assert {"normal", "high", "low"} <= classes
    assert len(classes) >= 4, classes   # per_diem / unstable / ungroupable occur in the demo world


def test_price_one_matches_the_exact_twin(world):
    """The one-case path gives what the exact twin gives on the bundle's exact means, on every DRG and many
    costs (the float means of the bundle would move a high outlier by one unit: the exact ones decide)."""
    from drg.pricing import price_one_exact

    b = open_bundle(world["bundle"])
    tb, pol = b.tables, b.policy
    scale = pol.points_scale
    hosp = sorted(tb.hospitals)[:3] + ["H9999"]
    from drg.pricing import COEF_SCALE, CaseToPrice, PricingRule, WeightRow, to_units

    for w, d in enumerate(tb.drgs):
        mean = tb.mean_cost_fen[w] or 1_000_000
        for h in hosp:
            for f in (0.2, 0.4, 0.41, 1.0, 1.999, 2.0, 3.0, 4.5):
                cost = int(mean * f)
                for los in (3, 40):
                    got = price_one(tb, pol, d, d[:3], los, cost, h)
                    bp = tb.base_points[w]
                    pdp = tb.per_diem_points[w]
                    rec = tb.hospitals.get(h)
                    coef_u = (COEF_SCALE if rec is None or rec["coef"][w] is None
                              else to_units(rec["coef"][w], COEF_SCALE))
                    per_diem = d in pol.per_diem.drgs or d[:3] in pol.per_diem.drgs or los >= (pol.per_diem.min_los or 10**9)
                    row = WeightRow(None if bp is None else to_units(bp, scale),
                                    tb.mean_cost_exact[w] if bp is not None else None, bool(tb.stable[w]),
                                    pol.pricing.high_ratio(Decimal(repr(bp))) if bp is not None else Decimal(0),
                                    None if pdp is None else to_units(pdp, scale),
                                    tb.per_diem_mean_exact[w] if pdp is not None else None)
                    cls, pts, ratio, nw = price_one_exact(CaseToPrice(cost, max(los, 1), False, False, 0, per_diem,
                                                                      coef_u), row, PricingRule.of(pol, tb.a_fen_exact))
                    assert got["points_u"] == pts, (d, h, f, los)
                    assert got["no_weight"] == nw


def test_normal_range_bounds_are_exact(world):
    b = open_bundle(world["bundle"])
    tb, pol = b.tables, b.policy
    h = sorted(tb.hospitals)[0]
    checked = 0
    for w, d in enumerate(tb.drgs):
        if not tb.stable[w] or tb.base_points[w] is None:
            continue
        p = price_one(tb, pol, d, d[:3], 5, int(tb.mean_cost_fen[w]), h)
        if p["case_class"] != "normal":
            continue
        rng = normal_cost_range(tb, pol, p)
        assert price_one(tb, pol, d, d[:3], 5, rng["normal_min_fen"], h)["case_class"] == "normal"
        assert price_one(tb, pol, d, d[:3], 5, rng["normal_min_fen"] - 1, h)["case_class"] == "low"
        assert price_one(tb, pol, d, d[:3], 5, rng["normal_max_fen"], h)["case_class"] == "normal"
        assert price_one(tb, pol, d, d[:3], 5, rng["normal_max_fen"] + 1, h)["case_class"] == "high"
        checked += 1
    assert checked > 10


def test_per_diem_and_ungroupable_cases_explain_themselves(world):
    b = open_bundle(world["bundle"])
    long_stay = CaseInput(dx=["I50.908"], sex=1, age=70, los=40, total_cost_fen=5_000_000, hospital_id="H0001",
                          insurance_type="390")
    r = estimate_case(b, long_stay)
    assert r["pricing"]["case_class"] in ("per_diem", "unstable")
    if r["pricing"]["case_class"] == "per_diem":
        assert "BPd × bed-days" in r["pricing"]["rule"] and r["normal_range"] is None
    # no MDC takes a principal diagnosis outside every table: ungroupable, priced on its cost
    from drg.estimate import format_case

    r = estimate_case(b, CaseInput(dx=["I21.900"], px=["36.0601"], sex=1, age=60, los=5, total_cost_fen=3_000_000,
                                   insurance_type="310"), allow_unknown=True)
    if r["group"]["drg"] == "0000":
        assert r["pricing"]["case_class"] == "ungroupable" and "cost / A × 100" in r["pricing"]["rule"]
    assert "normal range" in format_case(r)


def test_money_is_exact_fen():
    assert parse_yuan("52300.50") == 5230050
    assert parse_yuan("0.005") == 1          # half away from zero on the decimal typed
    assert parse_yuan(12.345) == 1235
    with pytest.raises(InputError):
        parse_yuan("12,3x")
    with pytest.raises(InputError):
        parse_yuan("-1")


def test_json_case_errors_name_the_field():
    with pytest.raises(InputError, match="age"):
        case_from_json({"dx": ["I50.908"], "age": "sixty"})
    with pytest.raises(InputError, match="did you mean 'total_cost'"):
        case_from_json({"dx": ["I50.908"], "total_costs": 1})


def test_missing_required_values_are_named(world):
    b = open_bundle(world["bundle"])
    with pytest.raises(InputError, match="--cost"):
        estimate_case(b, CaseInput(dx=["I50.908"], sex=1, age=60, los=3))
    with pytest.raises(InputError, match="age in days"):
        estimate_case(b, CaseInput(dx=["P07.300x011"], sex=1, age=0, los=3, total_cost_fen=100))


# ----------------------------------------------------------------------------------------------- errors
def test_unknown_codes_suggest_the_nearest_valid_codes(world):
    b = open_bundle(world["bundle"])
    case = CaseInput(dx=["I21.000", "I50.900x002"], px=["36.0700"], sex=1, age=66, los=9,
                     total_cost_fen=5_230_050)
    with pytest.raises(InputError) as exc:
        estimate_case(b, case)
    msg = str(exc.value)
    assert "'I21.000'" in msg and "'I50.900x002'" in msg and "'36.0700'" in msg
    assert "I21.900" in msg          # same category I21
    assert "I50.900" in msg          # same category I50
    assert "36.0701" in msg          # same category 36
    assert "急性心肌梗死" in msg      # the name from the bundle's codes.json
    r = estimate_case(b, case, allow_unknown=True)   # as the bureau would: unknown principal → not grouped
    assert r["group"]["drg"] == "0000"
    cli = run(["estimate", "--bundle", str(world["bundle"]), "--dx", "I21.000", "--age", "66", "--sex", "1",
               "--los", "9", "--cost", "100"])
    assert cli.returncode == 1
    assert "I21.000" in cli.stderr and "I21.900" in cli.stderr


def test_lower_case_chapter_letter_is_not_unknown(world):
    b = open_bundle(world["bundle"])
    r = estimate_case(b, CaseInput(dx=["i50.908"], sex=1, age=66, los=9, total_cost_fen=1_000_000))
    assert r["group"]["drg"].startswith("FR2")


def test_missing_bundle_file_is_named(world, tmp_path):
    import shutil

    broken = tmp_path / "bundle"
    shutil.copytree(world["bundle"], broken)
    (broken / "estimate.json").unlink()
    with pytest.raises(InputError, match="estimate.json"):
        open_bundle(broken)
    r = run(["estimate", "--bundle", str(broken), *FLAGS])
    assert r.returncode == 1 and "estimate.json" in r.stderr
    with pytest.raises(InputError, match="bundle directory not found"):
        open_bundle(tmp_path / "nowhere")
    shutil.rmtree(broken)
    shutil.copytree(world["bundle"], broken)
    (broken / "manifest.json").unlink()
    with pytest.raises(InputError, match="manifest.json"):
        open_bundle(broken)


def test_changed_bundle_file_is_refused(world, tmp_path):
    import shutil

    broken = tmp_path / "bundle"
    shutil.copytree(world["bundle"], broken)
    pv = broken / "point_values.json"
    pv.write_text(pv.read_text(encoding="utf-8").replace("8550", "9550"), encoding="utf-8")
    with pytest.raises(InputError, match="point_values.json was changed"):
        open_bundle(broken)
