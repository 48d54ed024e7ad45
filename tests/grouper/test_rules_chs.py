"""The CHS-DRG rule-table reader on the published tables in ../shared (skipped when absent)."""

import pytest

from grouper.rules import load_code_dictionary, load_rule_set
from grouper.rules.model import ANY_DX_IN, ANY_PX_IN, NO_OR_PX, PDX_IN, PPX_IN, PPX_OR
from tests.helpers.paths import SHARED

CHS11 = SHARED / "schemes" / "CHS_DRG_11"
pytestmark = pytest.mark.skipif(not CHS11.is_dir(), reason="../shared rule tables absent")


@pytest.fixture(scope="module")
def rs11():
    return load_rule_set(CHS11)


def test_counts(rs11):
    assert len(rs11.mdcs) == 26
    assert len(rs11.adrgs) == 376
    assert len(rs11.drgs) == 628
    assert len(rs11.exclusions) == 223
    # about half of the MCC entries sit on whole-page lines: the token reader must find them all
    assert len(rs11.mcc) > 4600 and len(rs11.cc) > 16000
    assert not any("pending" in n for n in rs11.notes)


def test_page_lines_are_read(rs11):
    assert rs11.cc.get("I72.400x010") == "7-97"  # on a whole-page line of 6_CC.txt
    for t in ("7-103", "7-105", "7-111"):
        assert t in rs11.exclusions and rs11.exclusions[t]


def test_structured_rules(rs11):
    a = rs11.adrgs
    assert [c.kind for c in a["AC1"].conditions[0]] == [ANY_PX_IN, ANY_PX_IN]
    assert [c.kind for c in a["LA1"].conditions[0]] == [PDX_IN, PPX_IN]
    assert len(a["JA1"].conditions) == 2 and len(a["JA1"].conditions[1]) == 4
    assert [c.kind for c in a["ZZ1"].conditions[0]] == [NO_OR_PX]
    assert [c.kind for c in a["SB1"].conditions[0]] == [PPX_OR]
    assert [c.kind for c in a["YC1"].conditions[0]] == [ANY_DX_IN, PPX_OR]
    assert (a["PS2"].weight_min, a["PS2"].weight_max, a["PS2"].age_days_max) == (1500, 1999, 28)
    assert (a["PV1"].age_days_min, a["PV1"].age_days_max) == (29, 364)
    assert a["PS4"].weight_min == 2500 and a["PS1"].weight_max == 1499
    assert rs11.mdc_order[:6] == ["MDCA", "MDCP", "MDCY", "MDCZ", "MDCM", "MDCN"]
    assert rs11.mdc_sex == {"MDCM": 1, "MDCN": 2}
    assert len(rs11.trauma_regions) == 9


def test_detail_vs_adrg_files_reported(rs11):
    text = "\n".join(rs11.notes)
    for code in ("WJ1", "FU2", "YC1"):
        assert f"ADRG {code}" in text


@pytest.mark.parametrize("name", ["CHS_DRG_10", "CHS_DRG_10P"])
def test_chs10_sets_read(name):
    rs = load_rule_set(SHARED / "schemes" / name)
    assert len(rs.adrgs) == 376 and len(rs.drgs) > 600
    assert len(rs.mcc) > 2000 and len(rs.cc) > 7000
    assert not any("pending" in n for n in rs.notes)


def test_code_dictionary():
    d = load_code_dictionary(SHARED / "codes" / "chs_drg_11")
    assert len(d.dx) > 30000 and len(d.px) > 13000 and "39.6500" in d.or_px
    assert set(d.source_files) == {"ZD_INFO.dat", "SS_INFO.dat", "SS_VALID.dat"}


CHS20 = SHARED / "schemes" / "CHS_DRG_20"


@pytest.fixture(scope="module")
def rs20():
    if not CHS20.is_dir():
        pytest.skip("../shared/schemes/CHS_DRG_20 absent")
    return load_rule_set(CHS20)


def test_chs20_counts_and_behaviour(rs20):
    from grouper.rules.model import CHECK_GRAY_ALLOWED, ENTRY_ALWAYS, ENTRY_ANY_DX, ENTRY_NEWBORN_AGE, ENTRY_REGIONS

    assert (len(rs20.mdcs), len(rs20.adrgs), len(rs20.drgs)) == (26, 409, 634)
    assert (len(rs20.mcc), len(rs20.cc), len(rs20.exclusions)) == (4477, 8009, 211)
    assert rs20.edition == "2.0" and rs20.ambiguous_groups and not rs20.newborn_data_required
    assert {m: rs20.mdc_entry[m] for m in ("MDCA", "MDCP", "MDCY", "MDCZ")} == {
        "MDCA": ENTRY_ALWAYS, "MDCP": ENTRY_NEWBORN_AGE, "MDCY": ENTRY_ANY_DX, "MDCZ": ENTRY_REGIONS}
    assert sum(1 for k in rs20.dx_checks.values()) == 1849 + 2828
    assert [c for c, k in rs20.px_checks.items() if k == CHECK_GRAY_ALLOWED] == ["99.1000"]
    # the reader understood every header: its only note is the allowed gray procedure
    assert len(rs20.notes) == 1


def test_chs20_rule_constructs(rs20):
    from grouper.rules.model import ANY_PX, SDX_IN

    a = rs20.adrgs
    assert a["AH2"].alt_labels == ["其他诊断 + 手术或操作 2", "手术或操作 1 + 手术或操作 2"]
    assert [[c.kind for c in alt] for alt in a["AH2"].conditions] == [[SDX_IN, ANY_PX_IN], [ANY_PX_IN, ANY_PX_IN]]
    assert len(a["IB1"].conditions) == 3 and len(a["JA1"].conditions) == 3
    assert [c.label for c in a["CB2"].conditions[0]] == ["CB4 的手术或操作", "CB5 的手术或操作"]
    assert set(a["WJ1"].conditions[0][0].codes) == set(a["WB1"].principal_px) | set(a["WB2"].principal_px) | set(
        a["WB3"].principal_px)
    assert [c.kind for c in a["SB1"].conditions[0]] == [ANY_PX]
    assert a["ZZ1"].conditions == [[]]
    assert [[c.kind for c in alt] for alt in a["WR2"].conditions] == [[PDX_IN], [SDX_IN]]
    assert a["PV1"].conditions[0][0].kind == PDX_IN          # 2.0: PV1 keeps its list
    assert (a["PV1"].age_days_min, a["PV1"].age_days_max, a["PK1"].age_days_max) == (29, 364, 28)


def test_entry_conditions_to_alternatives():
    from grouper.rules.chs20 import condition_terms

    names = ["主要诊断", "主要手术或操作1", "主要手术或操作2", "手术或操作3", "手术或操作4"]
    assert condition_terms("主要诊断+主要手术或操作 1  或 主要手术或操作 2  或 手术或操作 3+手术或操作 4", names) == [
        ["主要诊断", "主要手术或操作1"], ["主要手术或操作2"], ["手术或操作3", "手术或操作4"]]
    assert condition_terms("（主要诊断或其他诊断）+主要手术或操作", ["主要诊断", "其他诊断", "主要手术或操作"]) == [
        ["主要诊断", "主要手术或操作"], ["其他诊断", "主要手术或操作"]]
    assert condition_terms("主要诊断+未知", ["主要诊断"]) == [["主要诊断", "?未知"]]
