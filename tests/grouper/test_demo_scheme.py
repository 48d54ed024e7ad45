"""Structure of the demo grouping scheme (data/schemes/demo) and dictionary (data/codes/demo).

These checks need neither the grouper nor ../shared (the last two are skipped without it): files exist and
are clean UTF-8 text, the rule tables are consistent with one another and with the dictionary, and nothing
in data/ is a copy of a file of ../shared.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.paths import REPO as ROOT, SHARED

DATA = ROOT / "data"
SCHEME = DATA / "schemes" / "demo"
CODES = DATA / "codes" / "demo"

TOP_FILES = ["1_MDC.txt", "2_ADRG.txt", "3_DRG.txt", "4_ADRG_DETAIL.txt", "5_MCC.txt", "6_CC.txt", "7_CCE.txt"]
CODE_FILES = ["ZD_INFO.dat", "SS_INFO.dat", "SS_VALID.dat", "ZD_MAP.dat", "SS_MAP.dat"]
# One-line rules without codes: necessarily equal to the published file of the same rule.
RULE_ONLY_FILES = {"ADRG/SB1_全身性感染的手术.dat", "ADRG/ZZ1_多发性重要创伤无手术.dat"}

CODE = r"(?:[A-Z]\d{2}(?:\.[0-9x]+)?(?:x\d{3})?(?:\+[A-Z]\d{2}(?:\.[0-9x]+)?\*)?|\d{2}\.[0-9x]{2,4}(?:x\d{3})?)"
CODE_LINE = re.compile(rf"^({CODE}) (\S.*)$")
CC_LINE = re.compile(rf"^({CODE}) (\S.*) 表 (7-\d+)$")
ADRG_LINE = re.compile(r"^([A-Z]{2}\d) (\S.*)$")
MDC_LINE = re.compile(r"^(MDC[A-Z]) (\S.*)$")
SECTION_HEADERS = {
    "包含以下主要诊断：", "包含以下主要手术或操作：", "同时包含以下手术：", "和", "全部手术", "包含全部手术",
    "主要诊断或其他诊断中包含以下诊断：", "符合 MDCZ 主诊表，且无手术",
}
TRAUMA_REGIONS = {"头颈部创伤", "胸部创伤", "腹部创伤", "泌尿系统创伤", "生殖系统创伤", "躯干、脊柱创伤",
                  "上肢创伤", "下肢创伤", "骨盆创伤"}


def lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").split("\n")[:-1]


def code_names(path: Path) -> dict[str, str]:
    out = {}
    for line in lines(path):
        code, _, name = line.partition(" ")
        out[code] = name
    return out


def parse_detail() -> tuple[dict[str, list[str]], dict[str, list[str]], dict[str, str]]:
    """4_ADRG_DETAIL.txt -> (MDC -> 主诊表 lines, ADRG -> rule lines, ADRG -> MDC)."""
    mdc_tables: dict[str, list[str]] = {}
    adrg_rules: dict[str, list[str]] = {}
    adrg_mdc: dict[str, str] = {}
    target = None
    mdc = None
    for line in lines(SCHEME / "4_ADRG_DETAIL.txt"):
        m = MDC_LINE.match(line)
        if m and m.group(2) == "主诊表":
            target = mdc_tables.setdefault(m.group(1), [])
            continue
        if m:
            mdc, target = m.group(1), None
            continue
        m = ADRG_LINE.match(line)
        if m and not CODE_LINE.match(line):
            target = adrg_rules.setdefault(m.group(1), [])
            adrg_mdc[m.group(1)] = mdc
            continue
        assert target is not None, f"4_ADRG_DETAIL.txt: line outside any section: {line!r}"
        target.append(line)
    return mdc_tables, adrg_rules, adrg_mdc


def all_files() -> list[Path]:
    return sorted(p for p in [*SCHEME.rglob("*"), *CODES.rglob("*")] if p.is_file())


def test_files_exist_and_are_clean_text():
    for name in TOP_FILES:
        assert (SCHEME / name).is_file(), name
    for name in CODE_FILES:
        assert (CODES / name).is_file(), name
    for path in all_files():
        data = path.read_bytes()
        text = data.decode("utf-8")  # raises on bad UTF-8
        assert data.endswith(b"\n"), f"{path} does not end with a newline"
        assert not data.startswith(b"\xef\xbb\xbf"), f"{path} has a BOM"
        assert "\r" not in text and "~~" not in text and "\t" not in text, path
        for n, line in enumerate(text.split("\n")[:-1], 1):
            assert line == line.strip(), f"{path}:{n}: surrounding spaces"
            assert len(line) < 200, f"{path}:{n}: one item per line"


def test_mdc_and_adrg_files_match_the_detail_table():
    mdcs = code_names(SCHEME / "1_MDC.txt")
    adrgs = code_names(SCHEME / "2_ADRG.txt")
    mdc_tables, adrg_rules, adrg_mdc = parse_detail()
    assert list(adrg_rules) == list(adrgs), "ADRGs of 2_ADRG.txt and 4_ADRG_DETAIL.txt differ"
    assert set(adrg_mdc.values()) <= set(mdcs)
    for mdc, name in mdcs.items():
        path = SCHEME / "MDC" / f"{mdc}_{name}.dat"
        assert path.is_file(), path
        expected = mdc_tables.get(mdc, [""])  # the pre-MDC group has no principal-diagnosis table
        assert lines(path) == expected, path
    for adrg, name in adrgs.items():
        path = SCHEME / "ADRG" / f"{adrg}_{name.replace('/', '／')}.dat"
        assert path.is_file(), path
        assert lines(path) == adrg_rules[adrg], path
        assert adrg_rules[adrg], f"{adrg} has an empty rule"
        assert adrg_rules[adrg][0] in SECTION_HEADERS, f"{adrg} rule starts with {adrg_rules[adrg][0]!r}"
        for line in adrg_rules[adrg]:
            assert line in SECTION_HEADERS or CODE_LINE.match(line), f"{adrg}: unexpected line {line!r}"
    assert len(list((SCHEME / "MDC").iterdir())) == len(mdcs)
    assert len(list((SCHEME / "ADRG").iterdir())) == len(adrgs)


def test_every_drg_belongs_to_a_listed_adrg():
    adrgs = code_names(SCHEME / "2_ADRG.txt")
    drgs = code_names(SCHEME / "3_DRG.txt")
    for drg in drgs:
        assert re.fullmatch(r"[A-Z]{2}\d[1359]", drg), drg
        assert drg[:3] in adrgs, f"DRG {drg} has no ADRG in 2_ADRG.txt"
    assert {d[:3] for d in drgs} == set(adrgs), "an ADRG without DRG"
    for adrg in adrgs:
        suffixes = {d[3] for d in drgs if d[:3] == adrg}
        assert suffixes == {"9"} or "9" not in suffixes, f"{adrg} is both split and unsplit"


def test_rule_codes_are_in_the_demo_dictionary():
    zd = code_names(CODES / "ZD_INFO.dat")
    ss = code_names(CODES / "SS_INFO.dat")
    used: set[str] = set()
    for name in ["4_ADRG_DETAIL.txt", "7_CCE.txt"]:
        used.update(m.group(1) for line in lines(SCHEME / name) if (m := CODE_LINE.match(line)))
    for path in [*(SCHEME / "MDC").iterdir(), *(SCHEME / "ADRG").iterdir()]:
        used.update(m.group(1) for line in lines(path) if (m := CODE_LINE.match(line)))
    for name in ["5_MCC.txt", "6_CC.txt"]:
        used.update(m.group(1) for line in lines(SCHEME / name)[1:] if (m := CC_LINE.match(line)))
    missing = sorted(c for c in used if c not in (ss if c[0].isdigit() else zd))
    assert not missing, f"codes used in rules but not in the demo dictionary: {missing}"
    # SS_VALID holds operating-room procedures of SS_INFO; the maps point into the dictionary.
    assert set(code_names(CODES / "SS_VALID.dat")) <= set(ss)
    for name, target in (("ZD_MAP.dat", zd), ("SS_MAP.dat", ss)):
        for line in lines(CODES / name):
            src, dst = line.split(" ")
            assert dst in target, f"{name}: {line}"


def test_cc_mcc_and_exclusion_tables():
    tables: dict[str, set[str]] = {}
    current = None
    for line in lines(SCHEME / "7_CCE.txt"):
        if m := re.fullmatch(r"表 (7-\d+)", line):
            current = tables.setdefault(m.group(1), set())
        elif line != "包含以下主要诊断：":
            m = CODE_LINE.match(line)
            assert m and current is not None, f"7_CCE.txt: unexpected line {line!r}"
            current.add(m.group(1))
    levels = {}
    for name in ["5_MCC.txt", "6_CC.txt"]:
        rows = lines(SCHEME / name)
        assert rows[0] == "疾病编码 疾病名称 排除内容"
        for line in rows[1:]:
            m = CC_LINE.match(line)
            assert m, f"{name}: malformed line {line!r}"
            assert m.group(3) in tables, f"{name}: {m.group(1)} references missing table {m.group(3)}"
            levels.setdefault(m.group(1), []).append(name)
    assert all(len(v) == 1 for v in levels.values()), "a code is both CC and MCC"
    # The exclusion tables name only principal diagnoses of the demo, and at least one CC and one MCC
    # are cancelled by the principal diagnosis of a demo ADRG.
    mdc_tables, _, _ = parse_detail()
    pdx = {m.group(1) for rows in mdc_tables.values() for line in rows if (m := CODE_LINE.match(line))}
    for tid, codes in tables.items():
        assert codes <= pdx, f"table {tid} lists codes that are no principal diagnosis of the demo"
    for name in ["5_MCC.txt", "6_CC.txt"]:
        assert any(tables[CC_LINE.match(line).group(3)] for line in lines(SCHEME / name)[1:]), name


def _shared_files() -> dict[int, list[Path]]:
    by_size: dict[int, list[Path]] = {}
    for f in SHARED.rglob("*"):
        if f.is_file():
            by_size.setdefault(f.stat().st_size, []).append(f)
    return by_size


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared is absent")
def test_no_file_of_data_is_a_copy_of_shared():
    by_size = _shared_files()
    copies = []
    for path in sorted(p for p in DATA.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        if path.is_relative_to(SCHEME) and path.relative_to(SCHEME).as_posix() in RULE_ONLY_FILES:
            continue
        data = path.read_bytes()
        copies += [f"{path} == {g}" for g in by_size.get(len(data), []) if g.read_bytes() == data]
    assert not copies, copies


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared is absent")
def test_generator_reproduces_the_committed_files(tmp_path):
    run = subprocess.run([sys.executable, str(ROOT / "tools" / "make_demo_scheme.py"), "--shared", str(SHARED),
                          "--out", str(tmp_path)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    for sub in ("schemes/demo", "codes/demo"):
        made = {p.relative_to(tmp_path / sub): p.read_bytes() for p in (tmp_path / sub).rglob("*") if p.is_file()}
        have = {p.relative_to(DATA / sub): p.read_bytes() for p in (DATA / sub).rglob("*") if p.is_file()}
        assert made == have, f"data/{sub} differs from what tools/make_demo_scheme.py writes"
