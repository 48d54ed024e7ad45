"""CHS-DRG 2.0: the reference grouper against the independent CHS-DRG 2.0 grouper (../shared/reference), and
every 2.0 construct on hand-made cases (positional sections, 入组条件, rules naming other ADRGs, newborns by
age, MDCY and MDCZ entry, invalid and gray codes, ambiguous groups, cc_dx)."""

from __future__ import annotations

import re

import pytest

from grouper.reference import Case, group_case
from tests.helpers.paths import REPO
from tests.helpers.reference_cases import agrees as _agrees
from tests.helpers.reference_cases import reference_case, reference_comparisons


@pytest.fixture(scope="module")
def comparisons(scheme20):
    return reference_comparisons(scheme20, "20")


@pytest.fixture
def comparison(comparisons, engine):
    return comparisons(engine)


def test_agreement_on_tidy_cases(comparison):
    tidy = [(e, res) for r, e, res, t in comparison if t]
    agree = sum(_agrees(e, res.drg, res.status) for e, res in tidy)
    assert len(tidy) > 2900
    assert agree / len(tidy) >= 0.995, f"{agree}/{len(tidy)}"
    # every answer kind of the reference occurs: grouped, ambiguous, ungroupable
    assert {e["status"] for e, _ in tidy} >= {"分组成功", "歧义组", "无法入组"}


def test_untidy_differences_are_normalisation(scheme20, comparison):
    """Matching codes exactly, as the independent grouper does, removes every untidy-case difference."""
    for r, e, res, tidy in comparison:
        if tidy or _agrees(e, res.drg, res.status):
            continue
        exact = group_case(scheme20, reference_case(r), exact=True)
        assert _agrees(e, exact.drg, exact.status), r["case_id"]


def test_differences_document_lists_every_disagreement(comparison):
    text = (REPO / "docs" / "grouper-differences.md").read_text(encoding="utf-8")
    listed = set(re.findall(r"^\| (P20-11-\d{6}) \|", text, flags=re.M))
    actual = {r["case_id"] for r, e, res, t in comparison if not _agrees(e, res.drg, res.status)}
    assert listed == actual
    m = re.search(r"2\.0 agreement on tidy cases: (\d+) of (\d+)", text)
    tidy = [(e, res) for r, e, res, t in comparison if t]
    assert m and int(m.group(1)) == sum(_agrees(e, res.drg, res.status) for e, res in tidy)
    assert int(m.group(2)) == len(tidy)
    m = re.search(r"untidy cases: (\d+), of which (\d+) differ", text.split("## CHS-DRG 2.0")[1])
    assert m and int(m.group(1)) == len(comparison) - len(tidy) and int(m.group(2)) == len(actual)


# ---------------------------------------------------------------------------------------------- semantics

def g(s, dx, px=(), sex=1, age=50, explain=False, **kw):
    return group_case(s, Case(sex=sex, age=age, dx=list(dx), px=list(px), **kw), explain=explain)


def test_build_is_clean(built_scheme):
    s, rep = built_scheme("CHS_DRG_20", report=True)
    assert (len(s.mdc_codes), len(s.adrg_codes), len(s.drg_codes)) == (26, 409, 634)
    assert not rep.unreachable_drgs and not rep.unreachable_adrgs and not rep.adrgs_without_lists
    assert not rep.dead_splits and not rep.compile_report
    assert s.rules == {"edition": "2.0", "ambiguous_groups": True, "newborn_data_required": False}


def test_ventilation_needs_an_airway_code_or_tracheostomy_state(scheme20):
    """AH2: （其他诊断或手术或操作 1）+手术或操作 2 — 96.7201 anywhere, with Z93.000 as a secondary diagnosis
    or an airway procedure in any position; 96.7201 alone is not AH2."""
    r = g(scheme20, ["J18.900", "Z93.000"], ["96.7201"], explain=True)
    assert r.adrg == "AH2" and any("[其他诊断 + 手术或操作 2]" in x and "holds" in x for x in r.steps)
    r = g(scheme20, ["J18.900"], ["36.0700", "96.0400", "96.7201"], explain=True)
    assert r.adrg == "AH2" and any("[手术或操作 1 + 手术或操作 2]" in x and "holds" in x for x in r.steps)
    assert g(scheme20, ["J18.900"], ["96.7201"]).adrg != "AH2"
    assert g(scheme20, ["Z93.000", "J18.900"], ["96.7201"]).adrg != "AH2"   # Z93.000 must be secondary


def test_entry_condition_precedence(scheme20):
    """IB1 = (主要诊断 ∧ 主要手术或操作 1) ∨ 主要手术或操作 2 ∨ (手术或操作 3 ∧ 手术或操作 4)."""
    assert g(scheme20, ["M17.900"], ["03.0900x007"]).drg.startswith("IB1")
    assert g(scheme20, ["M17.900"], ["03.0900x025"]).adrg != "IB1"     # 主要手术或操作 1 needs its diagnosis


def test_secondary_and_any_position_sections(scheme20):
    r = g(scheme20, ["O80.000", "Z37.000x001"], sex=2, age=28)     # OR1: only 其他诊断 (the delivery outcome)
    assert r.adrg == "OR1"
    assert g(scheme20, ["T20.000"]).adrg == "WR2"                   # WR2: principal in its list (or a secondary)
    r = g(scheme20, ["J18.900", "B20.000x001"])                     # MDCY by a secondary HIV code; YR1 any position
    assert (r.mdc, r.adrg) == ("MDCY", "YR1")


def test_rules_that_name_other_adrgs(scheme20):
    # CB2: a procedure of CB4's list and one of CB5's, in any position
    r = g(scheme20, ["H33.000"], ["12.8801", "13.1100"])
    assert r.adrg == "CB2"
    assert g(scheme20, ["H33.000"], ["12.8801"]).adrg == "CB4"


def test_any_procedure_adrgs_count_later_positions(scheme20):
    """SB1 takes any procedure code in any position, an invalid one after the first too; without one the
    case is medical."""
    assert g(scheme20, ["A41.900"], ["00.0101", "88.7100x002"]).adrg == "SB1"   # both on the invalid list
    assert g(scheme20, ["A41.900"]).adrg == "SR1"


def test_newborns_by_age(scheme20):
    r = g(scheme20, ["P22.000"], age=0, age_days=5, birth_weight=3000)
    assert r.adrg == "PR1"
    r = g(scheme20, ["P22.000", "P07.300x001"], age=0, age_days=5)           # no weight: PS1–PS4 skipped,
    assert r.status == "ok" and r.adrg == "PR1"                               # no missing-data refusal
    r = g(scheme20, ["P07.300x001"], age=0, age_days=5, birth_weight=1700)
    assert r.adrg == "PS2"
    r = g(scheme20, ["A04.000x001"], age=0, age_days=60)
    assert r.adrg == "PV1"
    r = g(scheme20, ["J18.900"], ["93.9000"], age=0, age_days=3, birth_weight=3000)
    assert r.adrg == "PK1"
    r = g(scheme20, ["J18.900"], age=0, age_days=60, explain=True)           # no MDCP ADRG: falls through
    assert r.mdc == "MDCE" and any("MDCP: none of its ADRGs matched" in x for x in r.steps)


def test_trauma_by_regions_over_all_diagnoses(scheme20):
    r = g(scheme20, ["J18.900", "S01.801", "S31.800x003"])                   # principal not an injury
    assert (r.mdc, r.adrg) == ("MDCZ", "ZZ1")
    r = g(scheme20, ["J18.900", "S01.801", "S31.800x003"], ["36.0700"])       # ZZ1 with a principal procedure
    assert (r.adrg, r.drg, r.status) == ("ZQY", "ZQY", "ambiguous")


def test_invalid_and_gray_codes(scheme20):
    assert g(scheme20, ["A00.000"]).status == "gray_principal_dx"
    assert g(scheme20, ["B95.000"]).status == "invalid_principal_dx"
    r = g(scheme20, ["K35.200"], ["00.0100"])
    assert (r.status, r.drg) == ("gray_principal_px", "0000")
    r = g(scheme20, ["I74.301"], ["99.1000"])                                 # a gray code a rule lists
    assert r.status != "gray_principal_px"
    r = g(scheme20, ["K35.200"], ["00.0101"])                                 # invalid first: slot emptied
    assert (r.status, r.adrg) == ("ok", "GS1") or r.adrg[1] > "Q"
    assert "invalid list" in r.group_note
    r = g(scheme20, ["K35.200", "A00.000"], ["47.0100"])                      # later positions: not checked
    assert r.adrg == "GE1" and r.status == "ok"


def test_ambiguous_groups(scheme20):
    r = g(scheme20, ["K74.600"], ["36.0700"])           # a medical ADRG of MDCH, a procedure of another MDC
    assert (r.mdc, r.adrg, r.drg, r.status) == ("MDCH", "HQY", "HQY", "ambiguous")
    r = g(scheme20, ["K74.600"], ["99.99zz"])           # an unknown first procedure still stands first
    assert r.drg == "HQY" and "unknown procedure" in r.group_note
    r = g(scheme20, ["K74.600"], ["00.0101", "36.0700"])   # an invalid first one is emptied: no QY
    assert r.status == "ok" and r.drg.startswith("HS")


def test_cc_dx_and_detail(scheme20):
    r = g(scheme20, ["K35.200", "E87.600", "J96.000", "Z99.999"], ["47.0100"])
    assert r.cc_level == 2 and r.cc_dx == "J96.000"
    by_code = {d.code: d for d in r.cc_detail}
    assert by_code["E87.600"].kind == "CC" and by_code["J96.000"].kind == "MCC" and by_code["J96.000"].counts
    assert by_code["Z99.999"].level == 0 and [d.position for d in r.cc_detail] == [2, 3, 4]
    r = g(scheme20, ["K35.200"], ["47.0100"])
    assert r.cc_level == 0 and r.cc_dx is None and r.cc_detail == []


def test_excluded_cc_is_named_with_its_table(scheme20):
    """K38.200 is a CC of 表 7-107, which holds the principal K35.200: excluded, the next CC sets the level."""
    r = g(scheme20, ["K35.200", "K38.200", "E87.600"], ["47.0100"])
    first, second = r.cc_detail
    assert (first.code, first.level, first.excluded_by, first.counts) == ("K38.200", 1, "7-107", False)
    assert second.counts and r.cc_level == 1 and r.cc_dx == "E87.600"
