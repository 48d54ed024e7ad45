"""Build the small demo grouping scheme and code dictionary from a hand-written selection.

The demo scheme (``data/schemes/demo``) and dictionary (``data/codes/demo``) are what ``drg demo`` and
the unit tests use when ``../shared`` is absent.  They are written in the text layout of the published
CHS-DRG 1.1 rule tables (``shared/schemes/CHS_DRG_11``) so that the same parser reads both, but they hold
only a few hundred codes chosen by hand below (``MDCS``, ``ADRGS``, ``MDCZ_REGIONS``,
``MCC_CODES``, ``CC_CODES``, ``EXTRA_SECONDARY``, ``EXTRA_PROCEDURES``).

This script reads the published tables and dictionaries only to *check* the selection (every code must
occur in the published list it is taken from) and to look up code names and exclusion-table ids.  It
never copies a file or a whole table.  Run it from the repository root::

    python tools/make_demo_scheme.py [--shared ../shared] [--out data]

It is deterministic: running it twice writes byte-identical files.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

# ---------------------------------------------------------------------------------------------
# The hand-written selection.
# ---------------------------------------------------------------------------------------------

#: MDCs of the demo, in published order.
MDCS = ["MDCA", "MDCB", "MDCE", "MDCF", "MDCG", "MDCI", "MDCN", "MDCO", "MDCP", "MDCS", "MDCZ"]

#: ADRG -> codes picked for each section of its published rule, in the published section order.
#: ``None`` for a section that carries no codes (``全部手术``, ``符合 MDCZ 主诊表，且无手术``).
ADRGS: dict[str, list[list[str] | None]] = {
    # MDCA: pre-MDC groups by principal procedure; AC1 is a procedure pair (同时包含以下手术 … 和 …).
    "AC1": [["52.8000", "52.8200"], ["55.6100", "55.6901"]],
    "AE1": [["55.6901"]],
    "AH1": [["37.5200x001", "39.6500", "96.7201"]],
    # MDCB
    "BE2": [["00.6300", "00.6500x008", "39.7203", "39.7400x002", "39.7401"]],
    "BR2": [["G45.900", "I63.203", "I63.801", "I63.900", "I63.901", "I63.904", "I63.905", "I65.200x001"]],
    # MDCE
    "EB1": [["32.2001", "32.3901", "32.4100", "32.4902", "32.5900x001"]],
    "ES3": [["J12.900", "J13.x00", "J15.700", "J15.900", "J18.000", "J18.100", "J18.900", "J85.100"]],
    "ET2": [["J42.x00", "J44.000", "J44.100", "J44.900", "J47.x00", "J47.x03"]],
    # MDCF
    "FM1": [["36.0601", "36.0602", "36.0701"]],
    "FR2": [["I11.002", "I50.000", "I50.100x006", "I50.900", "I50.907", "I50.908", "R57.000"]],
    "FR3": [["I20.000", "I20.005", "I20.101", "I20.801", "I20.803", "I20.900"]],
    # MDCG: GD1 = principal diagnosis list + principal procedure list; GD2 procedures only.
    "GD1": [["K35.200", "K35.201", "K35.300", "K35.301"], ["47.0100", "47.0901", "47.2x00", "47.2x01"]],
    "GD2": [["47.0100", "47.0901", "47.0903", "47.1100", "47.2x00"]],
    "GW1": [["A08.401", "A09.001", "A09.900x003", "A09.901", "K21.001", "K29.100x001", "K29.500"]],
    "GZ1": [["K35.800x001", "K36.x02", "K37.x00", "K38.100"]],
    # MDCI
    "IC2": [["81.5100", "81.5201", "81.5400", "81.5401", "81.8000"]],
    "IF3": [["78.5501", "79.1500x006", "79.1500x008", "79.3500x016", "79.3501"]],
    "IR2": [["S72.000", "S72.010", "S72.101", "S72.200x001", "S72.300", "S72.400x001", "S72.900"]],
    "IU1": [["M16.900", "M16.101", "M17.000", "M17.101", "M17.900"]],
    # MDCN (female only)
    "NC1": [["68.3102", "68.3901", "68.4100", "68.4901", "68.5901"]],
    "NZ1": [["D25.000", "D25.100x001", "D25.900", "D26.100x002", "D27.x00", "N80.001", "N83.201"]],
    # MDCO
    "OB1": [["74.0x00", "74.1x01", "74.1x02", "74.9900"]],
    "OR1": [["Z37.000", "Z37.000x001", "Z37.200", "Z37.900"]],
    "OZ1": [["O14.900", "O21.900", "O24.400", "O26.800", "O34.201", "O42.900"]],
    # MDCP: age/weight bands live in the ADRG names.
    "PJ1": [["31.3x03", "45.9301", "49.9100", "58.5x00"]],
    "PS1": [["P07.200", "P07.200x011", "P07.200x021", "P07.300x011", "P07.300x021"]],
    "PS2": [["P07.200", "P07.200x011", "P07.200x021", "P07.300x011", "P07.300x021"]],
    "PS3": [["P07.200", "P07.200x011", "P07.200x021", "P07.300x011", "P07.300x021"]],
    "PS4": [["P07.200", "P07.200x011", "P07.200x021", "P07.300x011", "P07.300x021"]],
    "PU1": [["P21.900", "P23.900", "P36.900", "P59.000", "P59.901", "P92.900", "P08.100x002"]],
    "PV1": [["P21.900", "P23.900", "P59.901", "P59.301", "P92.900"]],
    # MDCS: SB1 is 全部手术 (any operating-room procedure).
    "SB1": [None],
    "SR1": [["A40.900", "A41.000", "A41.200", "A41.501", "A41.503", "A41.900"]],
    # MDCZ: ZZ1 is "符合 MDCZ 主诊表，且无手术".
    "ZC1": [["79.6500", "79.7500", "79.8500x001", "80.0500x001"]],
    "ZZ1": [None],
}

#: MDCZ principal-diagnosis table: body-region header -> codes.
MDCZ_REGIONS: dict[str, list[str]] = {
    "头颈部创伤": ["S06.000", "S06.202", "S06.204"],
    "胸部创伤": ["S22.300", "S22.400", "S27.000"],
    "腹部创伤": ["S36.000", "S36.002", "S36.100x001"],
    "躯干、脊柱创伤": ["S22.000x003", "S32.000x002"],
    "下肢创伤": ["S72.000", "S72.101", "S72.300"],
    "骨盆创伤": ["S32.701", "S32.802"],
}

#: Secondary diagnoses that are MCC in CHS-DRG 1.1 (their exclusion table is looked up).
MCC_CODES = [
    "A40.900", "A41.501", "A41.900", "D65.x00", "E11.000", "E44.000", "E87.400", "F05.000", "G93.500",
    "I21.900", "I26.900", "I50.000", "I61.900", "J44.100", "J80.x00", "J85.100", "J96.000",
    "J96.100", "J96.900", "K72.000", "L89.100", "N17.900", "N18.500", "O15.900", "O72.100", "P21.900",
    "P22.000", "P22.900", "P36.900", "P59.000", "R40.200", "R57.000", "R57.100", "R57.200", "R65.101",
    "S06.204", "S27.100", "S36.002", "T81.101",
]

#: Secondary diagnoses that are CC in CHS-DRG 1.1.
CC_CODES = [
    "A09.001", "C34.900", "C78.000", "D62.x00", "D69.600", "E11.200", "E44.100", "E87.100", "E87.102",
    "E87.200", "E87.600", "G45.100", "I11.002", "I11.900", "I20.900", "I25.200", "I46.900", "I48.000",
    "I48.100x002", "I67.100", "I69.300", "I70.200", "I80.200", "J15.200", "J18.000", "J18.900",
    "J47.x00", "J90.x00", "J98.400", "K25.300x001", "K56.700", "K65.900", "K80.000", "K83.000",
    "K92.200", "L89.000", "M16.900", "N18.300", "O26.800", "P05.100", "P23.900", "P92.900",
    "R40.100x003", "S22.300", "S27.000", "S72.000", "T81.000", "T83.500",
]

#: Extra secondary diagnoses (common comorbidities) for the synthetic-case generator; they are neither
#: CC nor MCC unless listed above.
EXTRA_SECONDARY = [
    "I10.x00", "I10.x05", "E11.900", "E78.500", "E03.900", "E66.900", "E55.900", "K21.900",
    "K29.500", "K76.000", "K80.200", "N40.x00", "M81.900", "M54.500", "J30.400", "J45.900",
    "I25.100", "I25.103", "I48.000", "I65.200x001", "I67.200", "H25.900", "H40.900", "F32.900",
    "F41.900", "G47.000", "R51.x00", "R05.x00", "Z95.500", "Z96.600", "Z88.000", "D50.900",
    "E87.100", "B18.100", "K74.600", "Z37.000", "O80.000", "R50.900",
]

#: Procedures that are not part of any demo rule (non-OR work-up and treatment, so cases have more
#: than rule procedures), plus a few OR procedures outside every demo ADRG (so 全部手术 / SB1 and
#: "OR procedure not matching any surgical ADRG" can be exercised).
EXTRA_PROCEDURES = [
    "87.0300", "87.4400", "88.0101", "88.7201", "89.5200", "93.9600", "96.0400", "96.7101",
    "99.0400", "99.1500", "99.2100", "45.1300", "45.2300", "86.2200", "86.0401", "54.1100",
    "51.2300", "38.9300",
]

#: Real clinical-edition -> insurance-edition rows of ZD_MAP.dat kept besides the identity rows.
ZD_MAP_EXTRA = 6

# ---------------------------------------------------------------------------------------------
# Reading the published material (for checks and names only).
# ---------------------------------------------------------------------------------------------

CODE_LINE = re.compile(
    r"^([A-Z]\d{2}(?:\.[0-9x]+)?(?:x\d{3})?(?:\+[A-Z]\d{2}(?:\.[0-9x]+)?\*)?"
    r"|\d{2}\.[0-9x]{2,4}(?:x\d{3})?) (.*)$"
)
ADRG_LINE = re.compile(r"^([A-Z]{2}\d) (.*)$")
MDC_LINE = re.compile(r"^(MDC[A-Z]) (.*)$")
CC_TOKEN = re.compile(
    r"([A-Z]\d{2}(?:\.[0-9x]+)?(?:x\d{3})?(?:\+[A-Z]\d{2}(?:\.[0-9x]+)?\*)?) (.+?) 表 ?7-(\d+)"
)
DX_TOKEN = re.compile(r"(?:^| )([A-Z]\d{2}(?:\.[0-9x]+)?(?:x\d{3})?(?:\+[A-Z]\d{2}(?:\.[0-9x]+)?\*)?)(?= )")


def read_detail(path: Path) -> tuple[dict, dict]:
    """Parse 4_ADRG_DETAIL.txt into MDC tables and ADRG sections (header, [(code, name)])."""
    mdcs: dict = {}
    adrgs: dict = {}
    target = None
    current_mdc = None
    for line in path.read_text(encoding="utf-8").split("\n"):
        if not line:
            continue
        m = MDC_LINE.match(line)
        if m:
            if m.group(2) == "主诊表":
                mdcs[m.group(1)]["table"] = target = []
            else:
                current_mdc = m.group(1)
                mdcs[current_mdc] = {"table": None, "adrgs": []}
                target = None
            continue
        m = ADRG_LINE.match(line)
        if m and not CODE_LINE.match(line):
            adrgs[m.group(1)] = {"mdc": current_mdc, "secs": []}
            mdcs[current_mdc]["adrgs"].append(m.group(1))
            target = adrgs[m.group(1)]["secs"]
            continue
        m = CODE_LINE.match(line)
        if m:
            target[-1][1].append(m.group(1))
        else:
            target.append((line, []))
    return mdcs, adrgs


def read_names(path: Path) -> dict[str, str]:
    """Read ``code name`` lines (the layout of 1_MDC.txt, 2_ADRG.txt, 3_DRG.txt and *_INFO.dat)."""
    out: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").split("\n"):
        if line.strip():
            code, _, name = line.partition(" ")
            out.setdefault(code, name)
    return out


def read_cc(path: Path) -> dict[str, str]:
    """Code -> exclusion table id (``7-N``) from 5_MCC.txt / 6_CC.txt, parsed by token pattern."""
    out: dict[str, str] = {}
    for m in CC_TOKEN.finditer(path.read_text(encoding="utf-8").replace("\n", " ")):
        out.setdefault(m.group(1), "7-" + m.group(3))
    return out


def read_cce(path: Path) -> dict[str, set[str]]:
    """Exclusion table id -> principal diagnoses, from 7_CCE.txt parsed by token pattern."""
    parts = re.split(r"表 ?(7-\d+) ", path.read_text(encoding="utf-8").replace("\n", " ") + " ")
    out: dict[str, set[str]] = {}
    for i in range(1, len(parts), 2):
        out.setdefault(parts[i], set()).update(DX_TOKEN.findall(" " + parts[i + 1]))
    return out


# ---------------------------------------------------------------------------------------------
# Building.
# ---------------------------------------------------------------------------------------------

DIAG_HEADERS = ("包含以下主要诊断：", "主要诊断或其他诊断中包含以下诊断：")


def is_procedure(code: str) -> bool:
    return code[:1].isdigit()


def table_key(tid: str) -> int:
    return int(tid.split("-")[1])


def write(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "\n".join(lines) + "\n" if lines else ""
    path.write_bytes(text.encode("utf-8"))


def build(shared: Path, out: Path) -> list[str]:
    """Check the selection against the published tables and write the demo files; return problems."""
    src = shared / "schemes" / "CHS_DRG_11"
    codes_src = shared / "codes" / "chs_drg_11"
    problems: list[str] = []
    pub_mdcs, pub_adrgs = read_detail(src / "4_ADRG_DETAIL.txt")
    mdc_names = read_names(src / "1_MDC.txt")
    adrg_names = read_names(src / "2_ADRG.txt")
    drg_names = read_names(src / "3_DRG.txt")
    zd = read_names(codes_src / "ZD_INFO.dat")
    ss = read_names(codes_src / "SS_INFO.dat")
    ss_valid = read_names(codes_src / "SS_VALID.dat")
    mcc = read_cc(src / "5_MCC.txt")
    cc = read_cc(src / "6_CC.txt")
    cce = read_cce(src / "7_CCE.txt")

    def name(code: str) -> str:
        table = ss if is_procedure(code) else zd
        if code not in table:
            problems.append(f"{code}: not in the published dictionary")
            return ""
        return table[code]

    # --- ADRG sections, checked against the published rule.
    sections: dict[str, list[tuple[str, list[str]]]] = {}
    for adrg, picks in ADRGS.items():
        pub = pub_adrgs[adrg]["secs"]
        coded = [(h, c) for h, c in pub if c or h in ("全部手术", "包含全部手术") or "符合" in h]
        if len(coded) != len(picks):
            problems.append(f"{adrg}: {len(picks)} sections picked, published has {len(coded)}")
            continue
        built = []
        for (header, pub_codes), pick in zip(coded, picks):
            if pick is None:
                built.append((header, []))
                continue
            for code in pick:
                if code not in pub_codes:
                    problems.append(f"{adrg} {header}: {code} not in the published list")
            built.append((header, sorted(set(pick), key=pick.index)))
        sections[adrg] = built

    # --- MDC principal-diagnosis tables: the union of the demo ADRGs' diagnosis lists (every typical
    #     diagnosis of a surgical ADRG was chosen so that a medical ADRG of the demo lists it).
    mdc_tables: dict[str, list[tuple[str | None, list[str]]]] = {}
    for mdc in MDCS:
        if mdc == "MDCA":
            continue
        if mdc == "MDCZ":
            pub = dict(pub_mdcs[mdc]["table"][i][0:1] + (pub_mdcs[mdc]["table"][i + 1][1],)
                       for i in range(0, len(pub_mdcs[mdc]["table"]), 2))
            for region, picks in MDCZ_REGIONS.items():
                for code in picks:
                    if code not in pub.get(region, []):
                        problems.append(f"MDCZ {region}: {code} not in the published region list")
            mdc_tables[mdc] = [(region, list(picks)) for region, picks in MDCZ_REGIONS.items()]
            continue
        pub = set(pub_mdcs[mdc]["table"][0][1])
        codes: list[str] = []
        for adrg in ADRGS:
            if pub_adrgs[adrg]["mdc"] != mdc:
                continue
            for header, sec in sections.get(adrg, []):
                if header in DIAG_HEADERS:
                    codes.extend(c for c in sec if c not in codes)
        for code in codes:
            if code not in pub:
                problems.append(f"{mdc} 主诊表: {code} not in the published table")
        mdc_tables[mdc] = [(None, sorted(codes))]

    # --- CC / MCC and their exclusion tables restricted to the demo principal diagnoses.
    all_pdx: set[str] = set()
    for mdc, table in mdc_tables.items():
        for _, codes in table:
            all_pdx.update(codes)
    cc_rows: dict[str, list[tuple[str, str]]] = {"5_MCC.txt": [], "6_CC.txt": []}
    used_tables: set[str] = set()
    for fname, wanted, pub in (("5_MCC.txt", MCC_CODES, mcc), ("6_CC.txt", CC_CODES, cc)):
        for code in sorted(set(wanted)):
            if code not in pub:
                problems.append(f"{fname}: {code} not in the published list")
                continue
            cc_rows[fname].append((code, pub[code]))
            used_tables.add(pub[code])
    excl = {tid: sorted(cce.get(tid, set()) & all_pdx) for tid in used_tables}
    for tid in used_tables:
        if tid not in cce:
            problems.append(f"7_CCE.txt: table {tid} not published")

    # --- dictionary.
    diag_codes: set[str] = set(all_pdx)
    proc_codes: set[str] = set()
    for adrg, secs in sections.items():
        for _, codes in secs:
            for code in codes:
                (proc_codes if is_procedure(code) else diag_codes).add(code)
    for rows in cc_rows.values():
        diag_codes.update(code for code, _ in rows)
    for codes in excl.values():
        diag_codes.update(codes)
    diag_codes.update(EXTRA_SECONDARY)
    proc_codes.update(EXTRA_PROCEDURES)

    if problems:
        return problems

    # --- write the scheme.
    scheme = out / "schemes" / "demo"
    codes_out = out / "codes" / "demo"
    write(scheme / "1_MDC.txt", [f"{m} {mdc_names[m]}" for m in MDCS])
    adrg_order = [a for m in MDCS for a in pub_mdcs[m]["adrgs"] if a in ADRGS]
    write(scheme / "2_ADRG.txt", [f"{a} {adrg_names[a]}" for a in adrg_order])
    drg_lines = [f"{d} {n}" for d, n in drg_names.items() if d[:3] in ADRGS]
    write(scheme / "3_DRG.txt", drg_lines)

    def section_lines(secs: list[tuple[str | None, list[str]]]) -> list[str]:
        lines: list[str] = []
        for header, codes in secs:
            if header is not None:
                lines.append(header)
            lines.extend(f"{c} {name(c)}" for c in codes)
        return lines

    def mdc_table_lines(mdc: str) -> list[str]:
        lines: list[str] = []
        for region, codes in mdc_tables[mdc]:
            if region is not None:
                lines.append(region)
            lines.append("包含以下主要诊断：")
            lines.extend(f"{c} {name(c)}" for c in codes)
        return lines

    detail: list[str] = []
    for mdc in MDCS:
        detail.append(f"{mdc} {mdc_names[mdc]}")
        if mdc in mdc_tables:
            detail.append(f"{mdc} 主诊表")
            detail.extend(mdc_table_lines(mdc))
            write(scheme / "MDC" / f"{mdc}_{mdc_names[mdc]}.dat", mdc_table_lines(mdc))
        else:
            # Published MDCA file is empty; ours holds one empty line (a newline-terminated text file,
            # and not byte-identical to the published one).
            write(scheme / "MDC" / f"{mdc}_{mdc_names[mdc]}.dat", [""])
        for adrg in adrg_order:
            if pub_adrgs[adrg]["mdc"] != mdc:
                continue
            detail.append(f"{adrg} {adrg_names[adrg]}")
            detail.extend(section_lines(sections[adrg]))
            write(scheme / "ADRG" / f"{adrg}_{adrg_names[adrg]}.dat", section_lines(sections[adrg]))
    write(scheme / "4_ADRG_DETAIL.txt", detail)

    for fname, rows in cc_rows.items():
        write(scheme / fname, ["疾病编码 疾病名称 排除内容"] + [f"{c} {name(c)} 表 {t}" for c, t in rows])
    cce_lines: list[str] = []
    for tid in sorted(excl, key=table_key):
        cce_lines.append(f"表 {tid}")
        cce_lines.append("包含以下主要诊断：")
        cce_lines.extend(f"{c} {name(c)}" for c in excl[tid])
    write(scheme / "7_CCE.txt", cce_lines)

    # --- write the dictionary.
    write(codes_out / "ZD_INFO.dat", [f"{c} {name(c)}" for c in sorted(diag_codes)])
    write(codes_out / "SS_INFO.dat", [f"{c} {name(c)}" for c in sorted(proc_codes)])
    write(codes_out / "SS_VALID.dat",
          [f"{c} {ss_valid[c]}" for c in sorted(proc_codes) if c in ss_valid])
    zd_map = [f"{c} {c}" for c in sorted(diag_codes)]
    extra = []
    for line in (codes_src / "ZD_MAP.dat").read_text(encoding="utf-8").split("\n"):
        parts = line.split(" ")
        if len(parts) == 2 and parts[0] != parts[1] and parts[1] in diag_codes and parts[0] not in diag_codes:
            extra.append(line)
            if len(extra) >= ZD_MAP_EXTRA:
                break
    write(codes_out / "ZD_MAP.dat", sorted(zd_map + extra))
    write(codes_out / "SS_MAP.dat", [f"{c} {c}" for c in sorted(proc_codes)])
    problems.extend(identical_files(out, shared))
    return problems


#: Files whose whole content is one rule line without codes (``全部手术``, ``符合 MDCZ 主诊表，且无手术``):
#: they cannot differ from the published file of the same rule, and copy nothing.
RULE_ONLY_FILES = ("ADRG/SB1_全身性感染的手术.dat", "ADRG/ZZ1_多发性重要创伤无手术.dat")


def identical_files(out: Path, shared: Path) -> list[str]:
    """Name every written file byte-identical to a file of ``shared`` (none may be but RULE_ONLY_FILES)."""
    by_size: dict[int, list[Path]] = {}
    for f in shared.rglob("*"):
        if f.is_file():
            by_size.setdefault(f.stat().st_size, []).append(f)
    found = []
    for sub in ("schemes/demo", "codes/demo"):
        for f in sorted((out / sub).rglob("*")):
            if not f.is_file() or f.relative_to(out / sub).as_posix() in RULE_ONLY_FILES:
                continue
            data = f.read_bytes()
            for g in by_size.get(len(data), []):
                if g.read_bytes() == data:
                    found.append(f"{f}: byte-identical to {g}")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    root = Path(__file__).resolve().parents[1]
    parser.add_argument("--shared", type=Path, default=root / ".." / "shared")
    parser.add_argument("--out", type=Path, default=root / "data")
    args = parser.parse_args(argv)
    problems = build(args.shared.resolve(), args.out)
    for p in problems:
        print(p, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
