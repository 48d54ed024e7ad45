"""Build-time checks on a tiny hand-written rule set in the CHS layout: unreachable ADRGs and DRGs, empty
lists, codes missing from the dictionary, severity splits that never trigger; and the reader on page-long
lines and scrambled CC blocks. The tiny scheme's cases are grouped on both engines."""

from __future__ import annotations

from pathlib import Path

from grouper.build import build_scheme
from grouper import Case
from grouper.rules.chs import parse_cc_table, parse_exclusions


def _write(d: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        p = d / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
    return d


def tiny(tmp_path: Path) -> tuple[Path, Path]:
    rules = _write(tmp_path / "rules", {
        "1_MDC.txt": "MDCA 先期分组疾病及相关操作\nMDCB 神经系统疾病及功能障碍\n",
        "2_ADRG.txt": "AA1 心脏移植\nBB1 脑手术\nBB2 脑手术二\nBR1 脑血管病\nBR2 其他脑病\nBS1 空组\n",
        "3_DRG.txt": ("AA19 心脏移植\nBB11 脑手术，伴严重并发症或合并症\nBB15 脑手术，不伴并发症或合并症\nBB19 脑手术，全部\nBB29 脑手术二\n"
                      "BR19 脑血管病\nBR2 x\nBR25 其他脑病\nBR29 其他脑病 again\nBS19 空组\n"),
        "4_ADRG_DETAIL.txt": """MDCA 先期分组疾病及相关操作
AA1 心脏移植
包含以下主要手术或操作：
37.5100 心脏移植术
MDCB 神经系统疾病及功能障碍
MDCB 主诊表
包含以下主要诊断：
I61.000 脑出血
I63.900 脑梗死
G40.900 癫痫
BB1 脑手术
包含以下主要手术或操作：
01.2401 开颅术
BB2 脑手术二
包含以下主要手术或操作：
01.2401 开颅术
BR1 脑血管病
包含以下主要诊断：
I61.000 脑出血
I63.900 脑梗死
BR2 其他脑病
包含以下主要诊断：
I63.900 脑梗死
BS1 空组
包含以下主要诊断：
Q99.999 不在主诊表
""",
        "5_MCC.txt": "疾病编码 疾病名称 排除内容\nJ96.000 急性呼吸衰竭 表 7-1 1 疾病编码 疾病名称 排除内容 N17.900 急性肾衰竭 无\n",
        "6_CC.txt": "疾病编码 疾病名称 排除内容\nE87.100 低钠血症 表 7-2\n",
        "7_CCE.txt": "表 7-1\n包含以下主要诊断：\nJ96.000 急性呼吸衰竭\n表 7-2 包含以下主要诊断： I61.000 脑出血\n",
    })
    codes = _write(tmp_path / "codes", {
        "ZD_INFO.dat": "I61.000 脑出血\nI63.900 脑梗死\nG40.900 癫痫\nJ96.000 急性呼吸衰竭\nE87.100 低钠血症\nN17.900 急性肾衰竭\n",
        "SS_INFO.dat": "37.5100 心脏移植术\n01.2401 开颅术\n",
        "SS_VALID.dat": "37.5100 心脏移植术\n01.2401 开颅术\n",
    })
    return rules, codes


def test_checks_find_each_problem(tmp_path):
    rules, codes = tiny(tmp_path)
    scheme, rep = build_scheme(rules, codes, out=tmp_path / "t.drgscheme")
    text = "\n".join(rep.lines())
    assert any(x.startswith("BR2") for x in rep.unreachable_adrgs)       # fully taken by BR1
    assert any(x.startswith("BS1") for x in rep.unreachable_adrgs)       # list outside the MDC table
    assert any(x.startswith("BB2") for x in rep.unreachable_adrgs)       # procedures all taken by BB1
    assert any(x.startswith("BB19") for x in rep.dead_splits)            # after BB15, which takes all
    assert any(x.startswith("BR29") for x in rep.unreachable_drgs)
    assert any("Q99.999" in x for x in rep.compile_report)               # missing from the dictionary
    assert "G40.900" not in text
    assert scheme.manifest["checks"]["unreachable_adrgs"] == rep.unreachable_adrgs


def test_tiny_scheme_groups(tmp_path, group_case):
    rules, codes = tiny(tmp_path)
    s, _ = build_scheme(rules, codes)
    r = group_case(s, Case(sex=1, age=70, dx=["I61.000", "J96.000"], px=["01.2401"]))
    assert (r.adrg, r.drg, r.cc_level) == ("BB1", "BB11", 2)
    # the CC E87.100 is cancelled: I61.000 is in its exclusion table 7-2
    r = group_case(s, Case(sex=1, age=70, dx=["I61.000", "E87.100"], px=["01.2401"]))
    assert r.cc_level == 0 and r.drg == "BB15"
    # N17.900 is an MCC with no exclusion table (排除内容 无), read from a page-long line
    r = group_case(s, Case(sex=1, age=70, dx=["J96.000", "N17.900"], px=[]))
    assert r.status == "ungroupable"
    r = group_case(s, Case(sex=1, age=70, dx=["I61.000", "N17.900"], px=["01.2401"]))
    assert r.cc_level == 2
    r = group_case(s, Case(sex=1, age=70, dx=["G40.900"]))
    assert r.status == "ungroupable" and r.mdc is None


def test_scrambled_cc_blocks_pair_by_order():
    text = ("疾病编码 疾病名称 排除内容\nA01.000\nA02.000\nA17.900x001+G9\n9.8*\n甲\n乙\n丙\n"
            "表 7-1\n表\n7\n-2\n无\n1136\n疾病编码 疾病名称 排除内容\nB01.000 丁 表 7-3\n")
    got, stats = parse_cc_table(text)
    assert got == {"A01.000": "7-1", "A02.000": "7-2", "A17.900x001+G99.8*": "", "B01.000": "7-3"}
    assert stats["pending_codes"] == 0 and stats["orphan_tables"] == 0
    ex, _ = parse_exclusions("表 7-1 包含以下主要诊断： A01.000 甲 A02.000 乙 2 表 7-2\nB01.000 丁\n")
    assert ex == {"7-1": frozenset({"A01.000", "A02.000"}), "7-2": frozenset({"B01.000"})}
