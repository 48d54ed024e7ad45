"""Reader of the CHS-DRG rule-table layout (``schemes/CHS_DRG_11``, ``CHS_DRG_10``, ``CHS_DRG_10P``, ``CHS_DRG_20``,
the demo).

Files: ``1_MDC.txt``, ``2_ADRG.txt``, ``3_DRG.txt`` (code + name), ``4_ADRG_DETAIL.txt`` (every ADRG's rule,
the primary source), ``5_MCC.txt`` / ``6_CC.txt`` (dx code → exclusion table ``表 7-N``), ``7_CCE.txt``
(exclusion table → principal diagnoses), ``MDC/`` and ``ADRG/`` (the same rules split per file, compared
with the detail file and reported where they differ).

The CC/MCC/exclusion files were extracted from PDFs (whole pages on one line, codes broken over two lines,
column-scrambled blocks), so they are read as a token stream: a diagnosis-code token opens an entry and the
next unclaimed ``表 7-N`` closes the oldest open entry. Everything the reader had to skip or could not
place is counted in ``RuleSet.notes``.

CHS-DRG 2.0 keeps this layout and adds four code-check lists and its own rule grammar inside the ADRG
bodies; those are read by ``grouper.rules.chs20``. :func:`load_rule_set` is written as its steps, in order.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from pathlib import Path

from grouper.rules import chs20
from grouper.rules.codes import sha256_file
from grouper.rules.model import (ANY_DX_IN, ANY_PX_IN, ENTRY_ALWAYS, ENTRY_ANY_DX, ENTRY_NEWBORN_AGE, ENTRY_PDX,
                                 ENTRY_PPX_OR, ENTRY_REGIONS, NO_OR_PX, PDX_IN, PPX_IN, PPX_OR, AdrgRule, Clause,
                                 RuleSet)

DX_RE = re.compile(r"^[A-Z]\d{2}(?:\.[0-9A-Za-z]+)?(?:\+[A-Z]\d{2}(?:\.[0-9A-Za-z]+)?\*?)?\*?$")
PX_RE = re.compile(r"^\d{2}\.[0-9A-Za-z]{1,}$")
PARTIAL_DX_RE = re.compile(r"^[A-Z]\d{2}(?:\.[0-9A-Za-z]+)?\+(?:[A-Z]\d{0,2}(?:\.\d*)?)?$")
TABLE_RE = re.compile(r"表\s*7\s*-\s*(\d+)")
MDC_LINE = re.compile(r"^(MDC[A-Z])\s*(.*)$")
ADRG_LINE = re.compile(r"^([A-Z]{2}\d)\s+(.*)$")
DRG_LINE = re.compile(r"^([A-Z]{2}\d{2})\s+(.*)$")

SURGICAL_LETTERS = set("ABCDEFGHIJ")       # 外科手术部分
PROCEDURAL_LETTERS = set("KLMNOPQ")        # 非手术室操作部分; both are tried before the medical ADRGs


def is_code(token: str) -> bool:
    """True when ``token`` looks like a diagnosis or procedure code of the insurance editions."""
    return bool(DX_RE.match(token) or PX_RE.match(token))


def _clean_name(name: str) -> str:
    return name.replace("~~", "").strip()


def _read_code_name_file(path: Path, pattern: re.Pattern) -> "OrderedDict[str, str]":
    out: OrderedDict[str, str] = OrderedDict()
    for line in path.read_text(encoding="utf-8-sig").splitlines():
        m = pattern.match(line.strip())
        if m:
            out.setdefault(m.group(1), _clean_name(m.group(2)))
    return out


# --------------------------------------------------------------------------------------------------------
# the rule sections of one ADRG (or one MDC principal-diagnosis table)

class _Sections:
    """Code lists of one ADRG as read, keyed by what their header says."""

    def __init__(self) -> None:
        self.lists: dict[str, list[str]] = {}
        self.combos: list[list[str]] = []     # e.g. [['pdx', 'T1', 'T2'], ['pdx', 'T2', 'T3']]
        self.all_or = False
        self.no_or = False
        self.current: str | None = None
        self.regions: "OrderedDict[str, list[str]]" = OrderedDict()
        self.unknown_headers: list[str] = []
        self.parts: list[_Sections] = []     # 入组条件一 / 入组条件二: alternative rule sets
        self.lost_codes = 0

    def header(self, text: str) -> None:
        t = re.sub(r"\s+", "", text).rstrip("：:")
        if "+" in t and ("手术表" in t or "手术" in t):
            parts = t.lstrip("或").replace("包含以下", "").split("+")
            combo = []
            for p in parts:
                if "主要诊断" in p:
                    combo.append("pdx")
                else:
                    m = re.search(r"(\d+)", p)
                    combo.append(f"T{m.group(1)}" if m else p)
            self.combos.append(combo)
            self.current = None
            return
        m = re.match(r"^手术表?(\d+)$", t)
        if m:
            self.current = f"T{m.group(1)}"
        elif t in ("包含以下主要诊断", "主要诊断"):
            self.current = "pdx"
        elif t == "包含以下主要手术或操作":
            self.current = "ppx"
        elif t == "手术包含":
            self.current = "anypx"
        elif t in ("同时包含以下手术", "手术同时包含"):
            self.current = "pair1"
        elif t == "和":
            self.current = "pair2"
        elif t == "主要诊断或其他诊断中包含以下诊断":
            self.current = "anydx"
        elif t in ("包含以下诊断",):
            self.current = "anydx"
        elif t in ("全部手术", "包含全部手术"):
            self.all_or = True
            self.current = None
        elif "且无手术" in t:
            self.no_or = True
            self.current = None
        elif t.endswith("创伤"):
            self.regions[t] = []
            self.current = f"region:{t}"
        else:
            self.unknown_headers.append(text)
            self.current = None

    def code(self, code: str) -> bool:
        if self.current is None:
            return False
        if self.current.startswith("region:"):
            self.regions[self.current[7:]].append(code)
            return True
        self.lists.setdefault(self.current, []).append(code)
        return True


def _parse_rule_lines(lines: list[str]) -> tuple[_Sections, int]:
    """Parse the body lines of one ADRG (or MDC table); returns the sections and the count of code lines
    that came before any header (not placed; also kept as ``lost_codes``)."""
    top = s = _Sections()
    lost = 0
    for raw in lines:
        line = raw.strip()
        if not line:
            continue
        if re.match(r"^入组条件[一二三四五六七八九十\d]+[：:]?$", line):
            s = _Sections()
            top.parts.append(s)
            continue
        first = line.split()[0]
        if is_code(first):
            if not s.code(first):
                lost += 1
            continue
        if line.startswith("#"):
            continue  # a commented-out line (MDC/MDCZ has one)
        if s.current and s.current.startswith("region:") and line.startswith("包含以下"):
            continue  # "包含以下主要诊断：" under a body-region header keeps the region
        s.header(line)
    for part in top.parts:
        top.unknown_headers.extend(part.unknown_headers)
    top.lost_codes = lost
    return top, lost


def _alternatives(adrg: str, s: _Sections, name: str = "") -> list[list[Clause]]:
    if s.parts:  # 入组条件一 / 二 …: each part is an alternative rule
        return [alt for part in s.parts for alt in _alternatives(adrg, part, name)]
    if not s.lists and not s.combos and not s.all_or and re.sub(r"\s+", "", name).endswith("无手术"):
        s.no_or = True  # an empty rule whose name says "without operation" (ZZ1 in CHS-DRG 1.0)
    lists = {k: tuple(dict.fromkeys(v)) for k, v in s.lists.items()}
    if s.combos:
        alts = []
        for combo in s.combos:
            alt = []
            for part in combo:
                if part == "pdx":
                    alt.append(Clause(PDX_IN, lists.get("pdx", ()), "主要诊断"))
                else:
                    alt.append(Clause(ANY_PX_IN, lists.get(part, ()), f"手术表 {part[1:]}"))
            alts.append(alt)
        return alts
    alt = []
    if "pdx" in lists:
        alt.append(Clause(PDX_IN, lists["pdx"], "包含以下主要诊断"))
    if "anydx" in lists:
        alt.append(Clause(ANY_DX_IN, lists["anydx"], "主要诊断或其他诊断中包含以下诊断"))
    if "ppx" in lists:
        alt.append(Clause(PPX_IN, lists["ppx"], "包含以下主要手术或操作"))
    if "anypx" in lists:
        alt.append(Clause(ANY_PX_IN, lists["anypx"], "手术包含"))
    if "pair1" in lists:
        alt.append(Clause(ANY_PX_IN, lists["pair1"], "同时包含以下手术"))
    if "pair2" in lists:
        alt.append(Clause(ANY_PX_IN, lists["pair2"], "和"))
    if s.all_or:
        alt.append(Clause(PPX_OR, (), "全部手术"))
    if s.no_or:
        alt.append(Clause(NO_OR_PX, (), "且无手术"))
    if adrg[1] in SURGICAL_LETTERS and not any(c.kind in (PPX_IN, ANY_PX_IN, PPX_OR) for c in alt):
        # a surgical ADRG whose table names no procedure list: "any operating-room procedure"
        alt.append(Clause(PPX_OR, (), "手术室手术 (surgical ADRG without a procedure list)"))
    return [alt] if alt else []


def _split_detail(text: str) -> tuple["OrderedDict[str, list[str]]", "OrderedDict[str, list[str]]", dict]:
    """Split 4_ADRG_DETAIL.txt into ADRG bodies and MDC principal-diagnosis-table bodies."""
    adrg_bodies: OrderedDict[str, list[str]] = OrderedDict()
    mdc_bodies: OrderedDict[str, list[str]] = OrderedDict()
    titles: dict[str, str] = {}
    current: list[str] | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        m = MDC_LINE.match(line)
        if m and not is_code(line.split()[0]):
            if "主诊表" in m.group(2):
                current = mdc_bodies.setdefault(m.group(1), [])
            else:
                titles[m.group(1)] = _clean_name(m.group(2))
                current = None
            continue
        m = ADRG_LINE.match(line)
        if m:
            titles[m.group(1)] = _clean_name(m.group(2))
            current = adrg_bodies.setdefault(m.group(1), [])
            continue
        if current is not None:
            current.append(line)
    return adrg_bodies, mdc_bodies, titles


# --------------------------------------------------------------------------------------------------------
# CC / MCC / exclusion tables: token streams

def _tokens(text: str) -> list[str]:
    text = TABLE_RE.sub(lambda m: f" 表7-{m.group(1)} ", text)
    toks = text.split()
    out: list[str] = []
    i = 0
    while i < len(toks):
        t = toks[i]
        # a code broken over two lines: "A17.900x001+G9" "9.8*"
        if PARTIAL_DX_RE.match(t) and i + 1 < len(toks) and re.match(r"^[A-Z0-9.]*\d[0-9.]*\*$|^[A-Z]\d{2}(\.\d+)?\*$",
                                                                     toks[i + 1]):
            joined = t + toks[i + 1]
            if DX_RE.match(joined):
                out.append(joined)
                i += 2
                continue
        out.append(t)
        i += 1
    return out


def parse_cc_table(text: str) -> tuple["OrderedDict[str, str]", dict[str, int]]:
    """Read a CC or MCC table (code, name, ``表 7-N``) from PDF-extracted text, by token pattern.

    Returns the code → table id map and counters of what was skipped (``pending_codes`` left without a
    table, ``orphan_tables`` without a code, ``duplicates`` codes seen twice with different tables).
    """
    result: OrderedDict[str, str] = OrderedDict()
    pending: list[str] = []
    stats = {"orphan_tables": 0, "duplicates": 0, "pending_codes": 0}
    toks = _tokens(text)
    for i, t in enumerate(toks):
        nxt = toks[i + 1] if i + 1 < len(toks) else ""
        if t == "无" and (not nxt or DX_RE.match(nxt) or nxt.isdigit() or nxt in ("疾病编码", "无")
                         or nxt.startswith("表7-")):
            t = "表7-"  # 排除内容 无: a CC/MCC without an exclusion table
        if t.startswith("表7-"):
            if pending:
                code = pending.pop(0)
                table = t[3:] and t[1:]
                if code in result and result[code] != table:
                    stats["duplicates"] += 1
                result.setdefault(code, table)
            else:
                stats["orphan_tables"] += 1
        elif DX_RE.match(t) and "." in t:
            pending.append(t)
    stats["pending_codes"] = len(pending)
    return result, stats


def parse_exclusions(text: str) -> tuple[dict[str, frozenset[str]], dict[str, int]]:
    """Read the exclusion tables (``表 7-N`` followed by its principal diagnoses) by token pattern."""
    tables: dict[str, list[str]] = {}
    current: str | None = None
    stats = {"codes_before_first_table": 0}
    for t in _tokens(text):
        if t.startswith("表7-"):
            current = t[1:]
            tables.setdefault(current, [])
        elif DX_RE.match(t) and "." in t:
            if current is None:
                stats["codes_before_first_table"] += 1
            else:
                tables[current].append(t)
    return {k: frozenset(v) for k, v in tables.items()}, stats


# --------------------------------------------------------------------------------------------------------
# newborn bands from MDCP ADRG names

def newborn_bands(name: str) -> tuple[int | None, int | None, int | None, int | None]:
    """Age-in-days and birth-weight bands (inclusive) written in an MDCP ADRG name."""
    n = re.sub(r"\s+", "", name).replace("＜", "<").replace("＞", ">").replace("≤", "<=")
    amin = amax = wmin = wmax = None
    m = re.search(r"(\d+)天<=出生年龄<(\d+)周岁", n)
    if m:
        amin, amax = int(m.group(1)), 365 * int(m.group(2)) - 1
    else:
        m = re.search(r"出生年龄<(\d+)天", n)
        if m:
            amax = int(m.group(1)) - 1
    m = re.search(r"出生体重<(\d+)g", n)
    if m:
        wmax = int(m.group(1)) - 1
    m = re.search(r"出生体重(\d+)-(\d+)g", n)
    if m:
        wmin, wmax = int(m.group(1)), int(m.group(2))
    m = re.search(r"出生体重>(\d+)g", n)
    if m:
        wmin = int(m.group(1)) + 1
    return amin, amax, wmin, wmax


# --------------------------------------------------------------------------------------------------------

def _codes_of(s: _Sections) -> dict[str, tuple[str, ...]]:
    return {k: tuple(sorted(set(v))) for k, v in s.lists.items()}


def _differences_1x(d: _Sections, f: _Sections) -> list[str]:
    """How the rule of one ADRG differs between ``4_ADRG_DETAIL.txt`` (``d``) and its ``ADRG/`` file (``f``)."""
    d_codes, f_codes = _codes_of(d), _codes_of(f)
    diff = _list_differences(d_codes, f_codes)
    if d.all_or != f.all_or:
        diff.append(f"全部手术: detail {d.all_or}, ADRG/ {f.all_or}")
    if d.combos != f.combos:
        diff.append(f"table combinations: detail {d.combos}, ADRG/ {f.combos}")
    if d.no_or != f.no_or and not diff:
        diff.append(f"且无手术: detail {d.no_or}, ADRG/ {f.no_or}")
    return diff


def _differences_20(d: chs20.Body, f: chs20.Body) -> list[str]:
    """:func:`_differences_1x` for the 2.0 rule grammar."""
    diff = _list_differences(d.codes_by_list(), f.codes_by_list())
    if d.shape() != f.shape():
        diff.append(f"entry condition or special lines: detail {d.shape()}, ADRG/ {f.shape()}")
    return diff


def _list_differences(d_codes: dict, f_codes: dict) -> list[str]:
    diff = []
    for k in sorted(set(d_codes) | set(f_codes)):
        a, b = set(d_codes.get(k, ())), set(f_codes.get(k, ()))
        if a != b:
            diff.append(f"list {k}: {len(a)} codes in 4_ADRG_DETAIL, {len(b)} in ADRG/ "
                        f"({len(a - b)} only in detail, {len(b - a)} only in ADRG/)")
    return diff


# --------------------------------------------------------------------------------------------------------
# load_rule_set, step by step

def load_rule_set(rules_dir: str | Path, *, cc_tables_dir: str | Path | None = None) -> RuleSet:
    """Read a rule-table directory in the CHS-DRG layout (1.0, 1.0 revised, 1.1, 2.0, the demo).

    A directory holding the 2.0 code-check lists (``ZD_INVALID.txt`` …) is read with the 2.0 rule grammar
    (``grouper.rules.chs20``) and the 2.0 grouping behaviour (MDC entry, code checks, ambiguous groups).

    Parameters
    ----------
    rules_dir : path
        Directory with ``1_MDC.txt`` … ``7_CCE.txt`` (and optionally ``MDC/``, ``ADRG/``).
    cc_tables_dir : path, optional
        Take ``5_MCC.txt``, ``6_CC.txt`` and ``7_CCE.txt`` from this directory instead.

    Returns
    -------
    RuleSet
        The tables as plain data; ``notes`` lists every problem found, with counts.
    """
    rules_dir = Path(rules_dir)
    cc_dir = Path(cc_tables_dir) if cc_tables_dir else rules_dir
    rs = RuleSet(name=rules_dir.name)
    _hash_sources(rs, rules_dir, cc_dir)
    rs.mdcs = dict(_read_code_name_file(rules_dir / "1_MDC.txt", MDC_LINE))
    adrg_names = _read_code_name_file(rules_dir / "2_ADRG.txt", ADRG_LINE)
    rs.drgs = dict(_read_code_name_file(rules_dir / "3_DRG.txt", DRG_LINE))
    detail = (rules_dir / "4_ADRG_DETAIL.txt").read_text(encoding="utf-8-sig")
    adrg_bodies, mdc_bodies, titles = _split_detail(detail)
    adrg_files = _read_split_files(rs, rules_dir, "ADRG")
    mdc_files = _read_split_files(rs, rules_dir, "MDC")
    if chs20.is_chs20_layout(rules_dir):
        rs.edition = "2.0"
        _read_code_checks(rs, rules_dir)
    read_adrgs = _read_adrg_rules_20 if rs.edition == "2.0" else _read_adrg_rules_1x
    read_adrgs(rs, adrg_names, adrg_bodies, adrg_files, _adrg_mdcs(detail))
    for code in adrg_bodies:
        if code not in adrg_names:
            rs.notes.append(f"ADRG {code}: in 4_ADRG_DETAIL.txt but not in 2_ADRG.txt (ignored)")
    _read_mdc_tables(rs, mdc_bodies, mdc_files)
    _mdc_attributes(rs)
    _newborn_bands(rs, titles)
    _read_cc_tables(rs, cc_dir)
    if rs.edition == "2.0":
        _edition_20_behaviour(rs)
    return rs


def _hash_sources(rs: RuleSet, rules_dir: Path, cc_dir: Path) -> None:
    """Require the seven tables; record each one's sha256 (``cc-tables/…`` when taken from ``cc_dir``)."""
    from grouper.errors import InputError

    need = [rules_dir / f for f in ("1_MDC.txt", "2_ADRG.txt", "3_DRG.txt", "4_ADRG_DETAIL.txt")]
    need += [cc_dir / f for f in ("5_MCC.txt", "6_CC.txt", "7_CCE.txt")]
    for p in need:
        if not p.is_file():
            raise InputError(f"rule table {p.name} is missing", file=str(p.parent))
    for p in need:
        key = p.name if p.parent == rules_dir else f"cc-tables/{p.name}"
        rs.source_files[key] = sha256_file(p)


def _read_split_files(rs: RuleSet, rules_dir: Path, sub: str) -> dict[str, list[str]]:
    """The per-ADRG (``ADRG/``) or per-MDC (``MDC/``) files: code (before ``_``) → lines."""
    out: dict[str, list[str]] = {}
    if (rules_dir / sub).is_dir():
        for f in sorted((rules_dir / sub).iterdir()):
            out[f.name.split("_")[0]] = f.read_text(encoding="utf-8-sig").splitlines()
            rs.source_files[f"{sub}/{f.name}"] = sha256_file(f)
    return out


def _adrg_mdcs(detail: str) -> dict[str, str]:
    """The ADRG → MDC relation: the detail file lists ADRGs under their MDC title, in order."""
    adrg_mdc: dict[str, str] = {}
    current_mdc = ""
    for raw in detail.splitlines():
        line = raw.strip()
        m = MDC_LINE.match(line)
        if m and "主诊表" not in line:
            current_mdc = m.group(1)
            continue
        m = ADRG_LINE.match(line)
        if m:
            adrg_mdc[m.group(1)] = current_mdc
    return adrg_mdc


def _body_of(rs: RuleSet, code: str, detail_lines: list[str], file_lines: list[str] | None, parse, differences):
    """One ADRG's parsed rule from the detail file, compared with its ``ADRG/`` file (taken from there when the
    detail file leaves it empty)."""
    body = parse(detail_lines)
    if file_lines is not None:
        from_file = parse(file_lines)
        diff = differences(body, from_file)
        if diff:
            rs.notes.append(f"ADRG {code}: 4_ADRG_DETAIL.txt and ADRG/ differ: " + "; ".join(diff))
        if not detail_lines and file_lines:
            body = from_file
            rs.notes.append(f"ADRG {code}: empty in 4_ADRG_DETAIL.txt, rule taken from ADRG/")
    return body


def _new_rule(rs: RuleSet, code: str, name: str, adrg_mdc: dict[str, str]) -> AdrgRule:
    mdc = adrg_mdc.get(code) or next((m for m in rs.mdcs if m[3] == code[0]), "")
    return AdrgRule(code=code, name=name, mdc=mdc, surgical=code[1] in SURGICAL_LETTERS)


def _finish_rule(rs: RuleSet, rule: AdrgRule) -> None:
    """Principal-diagnosis and principal-procedure lists from the conditions; note an ADRG without rule."""
    rule.principal_dx = tuple(dict.fromkeys(c for alt in rule.conditions for cl in alt if cl.kind == PDX_IN
                                            for c in cl.codes))
    rule.principal_px = tuple(dict.fromkeys(c for alt in rule.conditions for cl in alt if cl.kind == PPX_IN
                                            for c in cl.codes))
    if not rule.conditions:
        rs.notes.append(f"ADRG {rule.code}: no rule found in the tables (the ADRG can never be reached)")
    rs.adrgs[rule.code] = rule


def _note_unread(rs: RuleSet, unknown_headers: dict[str, int], lost_codes: int) -> None:
    for h, n in sorted(unknown_headers.items()):
        rs.notes.append(f"header not understood, list ignored: {h!r} ({n} ADRGs)")
    if lost_codes:
        rs.notes.append(f"{lost_codes} code lines of 4_ADRG_DETAIL.txt stood under no header (ignored)")


def _read_adrg_rules_1x(rs: RuleSet, adrg_names, adrg_bodies, adrg_files, adrg_mdc) -> None:
    """Every ADRG's rule in the 1.x grammar (``_Sections``)."""
    unknown_headers: dict[str, int] = {}
    lost_codes = 0
    for code, name in adrg_names.items():
        s = _body_of(rs, code, adrg_bodies.get(code, []), adrg_files.get(code), lambda ls: _parse_rule_lines(ls)[0],
                     _differences_1x)
        lost_codes += s.lost_codes
        for h in s.unknown_headers:
            unknown_headers[h] = unknown_headers.get(h, 0) + 1
        rule = _new_rule(rs, code, name, adrg_mdc)
        rule.conditions = _alternatives(code, s, name)
        _finish_rule(rs, rule)
    _note_unread(rs, unknown_headers, lost_codes)


def _read_adrg_rules_20(rs: RuleSet, adrg_names, adrg_bodies, adrg_files, adrg_mdc) -> None:
    """Every ADRG's rule in the 2.0 grammar (``grouper.rules.chs20``); all bodies are read first, since some
    rules name other ADRGs' procedure lists."""
    def parse(lines):
        return chs20.parse_body(lines, is_code)

    bodies = {code: _body_of(rs, code, adrg_bodies.get(code, []), adrg_files.get(code), parse, _differences_20)
              for code in adrg_names}
    unknown_headers: dict[str, int] = {}
    for code, name in adrg_names.items():
        body = bodies[code]
        for h in body.unknown_headers:
            unknown_headers[h] = unknown_headers.get(h, 0) + 1
        rule = _new_rule(rs, code, name, adrg_mdc)
        rule.conditions, rule.alt_labels, notes = chs20.alternatives(code, body, bodies)
        rs.notes.extend(notes)
        _finish_rule(rs, rule)
    _note_unread(rs, unknown_headers, sum(b.lost_codes for b in bodies.values()))


def _read_mdc_tables(rs: RuleSet, mdc_bodies, mdc_files) -> None:
    """Each MDC's principal-diagnosis table (and the body regions of the multiple-trauma MDC)."""
    for mdc in rs.mdcs:
        s, _ = _parse_rule_lines(mdc_bodies.get(mdc) or [])
        codes = tuple(dict.fromkeys(s.lists.get("pdx", [])))
        if s.regions:
            rs.trauma_mdc = mdc
            rs.trauma_regions = {k: tuple(dict.fromkeys(v)) for k, v in s.regions.items()}
            codes = tuple(dict.fromkeys(c for v in s.regions.values() for c in v))
        if mdc in mdc_files:
            fs, _ = _parse_rule_lines(mdc_files[mdc])
            fcodes = set(fs.lists.get("pdx", [])) | {c for v in fs.regions.values() for c in v}
            if fcodes != set(codes):
                rs.notes.append(f"{mdc}: principal-diagnosis table differs between 4_ADRG_DETAIL.txt "
                                f"({len(set(codes))} codes) and MDC/ ({len(fcodes)} codes)")
            if not codes and fcodes:
                codes = tuple(dict.fromkeys(fs.lists.get("pdx", [])))
        if codes:
            rs.mdc_principal_dx[mdc] = codes


def _mdc_attributes(rs: RuleSet) -> None:
    """Sex, pregnancy, newborn, the evaluation order and how a case enters each MDC, read from the MDC names
    and tables (2.0: MDCA by its ADRG rules, MDCP by age, MDCY by any diagnosis, MDCZ by body regions)."""
    for mdc, name in rs.mdcs.items():
        if "男性" in name:
            rs.mdc_sex[mdc] = 1
        elif "女性" in name:
            rs.mdc_sex[mdc] = 2
        if "妊娠" in name and not rs.pregnancy_mdc:
            rs.pregnancy_mdc = mdc
        if "新生儿" in name and not rs.newborn_mdc:
            rs.newborn_mdc = mdc
    premdc = [m for m in rs.mdcs if "先期" in rs.mdcs[m]]
    hiv = [m for m in rs.mdcs if "HIV" in rs.mdcs[m]]
    pre = premdc + [m for m in (rs.newborn_mdc,) if m] + hiv + [m for m in (rs.trauma_mdc,) if m]
    sexed = [m for m in rs.mdcs if m in rs.mdc_sex]
    rs.mdc_order = list(dict.fromkeys(pre + sexed + list(rs.mdcs)))
    for m in rs.mdcs:
        if rs.edition == "2.0":
            entry = (ENTRY_ALWAYS if m in premdc else ENTRY_NEWBORN_AGE if m == rs.newborn_mdc
                     else ENTRY_ANY_DX if m in hiv else ENTRY_REGIONS if m == rs.trauma_mdc else ENTRY_PDX)
        else:
            entry = ENTRY_PDX if m in rs.mdc_principal_dx else ENTRY_PPX_OR
        rs.mdc_entry[m] = entry
        if entry in (ENTRY_PDX, ENTRY_ANY_DX) and m not in rs.mdc_principal_dx:
            rs.notes.append(f"{m}: entered by its table, which is empty or missing (no case can enter it)")


def _newborn_bands(rs: RuleSet, titles: dict[str, str]) -> None:
    """Age-in-days and birth-weight bands of the newborn ADRGs, from their names."""
    for rule in rs.adrgs.values():
        if not rule.mdc or rule.mdc != rs.newborn_mdc:
            continue
        amin, amax, wmin, wmax = newborn_bands(rule.name + titles.get(rule.code, ""))
        if amin is None and amax is None:
            amax = 28  # 新生儿: under 29 days
        rule.age_days_min, rule.age_days_max, rule.weight_min, rule.weight_max = amin, amax, wmin, wmax
        if (amin is not None and amin >= 29 and rule.conditions
                and rs.mdc_entry.get(rule.mdc, ENTRY_PDX) == ENTRY_PDX):
            # 1.x: the infant ADRG (PV1, 29 days to under one year) takes every infant the MDC's table let in:
            # its principal-diagnosis list is not required (reading documented in docs/grouping.md). In 2.0
            # the newborn MDC has no table (entered by age) and PV1 keeps its list.
            rule.conditions = [[]]
            rule.alt_labels = []
            rs.notes.append(f"ADRG {rule.code}: reading: every case of the MDC in the age band "
                            f"{amin}–{amax} days, its principal-diagnosis list is not required")


def _read_cc_tables(rs: RuleSet, cc_dir: Path) -> None:
    """CC, MCC and exclusion tables (token streams), with the counts of what could not be placed."""
    rs.mcc, st_m = parse_cc_table((cc_dir / "5_MCC.txt").read_text(encoding="utf-8-sig"))
    rs.cc, st_c = parse_cc_table((cc_dir / "6_CC.txt").read_text(encoding="utf-8-sig"))
    rs.exclusions, st_e = parse_exclusions((cc_dir / "7_CCE.txt").read_text(encoding="utf-8-sig"))
    for fname, st in (("5_MCC.txt", st_m), ("6_CC.txt", st_c), ("7_CCE.txt", st_e)):
        for k, v in st.items():
            if v:
                rs.notes.append(f"{fname}: {v} {k.replace('_', ' ')}")
    named = [t for t in list(rs.mcc.values()) + list(rs.cc.values()) if t]
    missing_tables = sorted({t for t in named if t not in rs.exclusions}, key=lambda t: int(t.split("-")[1]))
    if missing_tables:
        n = sum(1 for t in named if t not in rs.exclusions)
        rs.notes.append(f"{len(missing_tables)} exclusion tables named by CC/MCC entries are absent from "
                        f"7_CCE.txt ({n} entries): {', '.join(missing_tables[:10])}"
                        + (" …" if len(missing_tables) > 10 else ""))
    both = set(rs.mcc) & set(rs.cc)
    if both:
        rs.notes.append(f"{len(both)} codes are both MCC and CC (counted as MCC)")


def _read_code_checks(rs: RuleSet, rules_dir: Path) -> None:
    """The 2.0 invalid and gray code lists (ZD_INVALID, ZD_GRAY, SS_INVALID, SS_GRAY)."""
    def codes_of(path: Path) -> list[str]:
        return [c for c in _read_code_name_file(path, re.compile(r"^(\S+)\s*(.*)$")) if is_code(c)]

    rs.dx_checks, rs.px_checks, notes, files = chs20.read_code_checks(rules_dir, codes_of)
    rs.notes.extend(notes)
    for f in files:
        rs.source_files[f.name] = sha256_file(f)


def _edition_20_behaviour(rs: RuleSet) -> None:
    """The 2.0 grouping behaviour: ambiguous ``xQY`` groups, no newborn-data refusal, and the gray procedures
    a rule lists allowed in the first position."""
    rs.ambiguous_groups = True
    rs.newborn_data_required = False
    listed = {c for r in rs.adrgs.values() for alt in r.conditions for cl in alt
              if cl.kind in (PPX_IN, ANY_PX_IN) for c in cl.codes}
    allowed = chs20.allow_listed_gray_procedures(rs.px_checks, listed)
    if allowed:
        rs.notes.append(f"gray procedures a rule lists, allowed as principal procedure: {', '.join(allowed)}")
