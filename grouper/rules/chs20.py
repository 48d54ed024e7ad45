"""The rule grammar CHS-DRG 2.0 adds to the CHS layout (``schemes/CHS_DRG_20``), read into the plain data of
``grouper.rules.model``.

What 2.0 writes, and what it becomes here (``docs/grouping.md`` §12 gives the readings):

* **Positional sections.** ``包含以下主要诊断：`` (position 1), ``其他诊断：`` / ``其他诊断 N：`` (a secondary
  diagnosis), ``包含以下主要诊断或其他诊断：`` (any position), ``主要诊断 N：``; ``包含以下主要手术或操作：`` and
  ``主要手术或操作 N：`` (position 1), ``手术或操作 N：`` (any position). Each section is one clause kind over
  its code list.
* **Entry conditions** ``入组条件：…``: section names joined by ``+`` (and) and ``或`` (or), with brackets;
  ``+`` binds tighter. They are brought to an OR of ANDs (one alternative per AND term, its text kept as the
  alternative's label). ``或`` also occurs inside section names (``手术或操作 1``): names are matched first,
  longest first.
* **Several sections without an entry condition**: sections of one kind (diagnosis or procedure) are ORed,
  the two kinds ANDed (WR2 = principal in its list or a secondary in its list).
* ``同时包含以下手术或操作：`` … ``和`` …: one procedure (any position) from each list.
* ``同时包含 CB4 和 CB5 的手术或操作``: a procedure from each named ADRG's procedure sections;
  ``包含 WB1、WB2、WB3 的所有手术或操作``: a procedure from any of them.
* ``包含全部手术或操作``: any procedure code in any position; ``无手术或操作`` (ZZ1): no condition of its own —
  a principal procedure sends the case to the ambiguous group ``ZQY`` (the reference grouper's reading).
* The four code-check lists ``ZD_INVALID.txt``, ``ZD_GRAY.txt``, ``SS_INVALID.txt``, ``SS_GRAY.txt`` (灰码).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from grouper.rules.model import (ANY_DX_IN, ANY_PX, ANY_PX_IN, CHECK_GRAY, CHECK_GRAY_ALLOWED, CHECK_INVALID,
                                 PDX_IN, PPX_IN, SDX_IN, Clause)


#: The lists whose presence marks the 2.0 layout, and the check each gives (diagnosis or procedure side).
CHECK_FILES = {"ZD_INVALID.txt": ("dx", CHECK_INVALID), "ZD_GRAY.txt": ("dx", CHECK_GRAY),
               "SS_INVALID.txt": ("px", CHECK_INVALID), "SS_GRAY.txt": ("px", CHECK_GRAY)}

_ADRG_REF = re.compile(r"[A-Z]{2}\d")
_HEADER_PREFIX = "包含以下"


def is_chs20_layout(rules_dir: Path) -> bool:
    """True when the directory holds any of the 2.0 code-check lists."""
    return any((Path(rules_dir) / f).is_file() for f in CHECK_FILES)


@dataclass
class Section:
    """One code list of an ADRG rule: ``name`` as an entry condition names it (spaces removed), ``label`` as
    the table writes it, ``kind`` the clause kind its position gives, ``codes`` in table order."""

    name: str
    label: str
    kind: int
    codes: list[str] = field(default_factory=list)


@dataclass
class Body:
    """The rule body of one 2.0 ADRG as read: its sections and special lines."""

    sections: dict[str, Section] = field(default_factory=dict)
    logic: str = ""                                  # the 入组条件 expression, "" when none
    groups: list[list[str]] = field(default_factory=list)   # 同时包含以下手术或操作 … 和 …
    all_of_adrgs: list[str] = field(default_factory=list)   # 同时包含 CB4 和 CB5 的手术或操作
    any_of_adrgs: list[str] = field(default_factory=list)   # 包含 WB1、WB2、WB3 的所有手术或操作
    any_px: bool = False                             # 包含全部手术或操作
    no_px: bool = False                              # 无手术或操作
    unknown_headers: list[str] = field(default_factory=list)
    lost_codes: int = 0                              # code lines under no header

    def codes_by_list(self) -> dict[str, tuple[str, ...]]:
        """Every list's codes (sorted, for comparing two sources of the same rule)."""
        out = {name: tuple(sorted(set(s.codes))) for name, s in self.sections.items()}
        out.update({f"同时包含 {i + 1}": tuple(sorted(set(g))) for i, g in enumerate(self.groups)})
        return out

    def shape(self) -> tuple:
        """Everything but the code lists: the logic and special lines."""
        return (re.sub(r"\s+", "", self.logic), tuple(self.all_of_adrgs), tuple(self.any_of_adrgs), self.any_px,
                self.no_px)


def section_kind(name: str) -> int | None:
    """The clause kind of a section name (spaces removed): 诊断 / 手术或操作, by position word."""
    principal, other = "主要" in name, "其他" in name
    if "诊断" in name:
        if principal and not other:
            return PDX_IN
        if other and not principal:
            return SDX_IN
        return ANY_DX_IN
    if "手术" in name or "操作" in name:
        if other:
            return None          # 其他手术或操作 (a secondary procedure): not used by 2.0
        return PPX_IN if principal else ANY_PX_IN
    return None


def _section_name(header: str) -> str:
    """The name an entry condition uses for a header: ``包含以下主要诊断：`` → ``主要诊断``."""
    t = re.sub(r"\s+", "", header).rstrip("：:")
    return t[len(_HEADER_PREFIX):] if t.startswith(_HEADER_PREFIX) else t


def parse_body(lines: list[str], is_code) -> Body:
    """Read the body lines of one ADRG (``is_code(token)`` says whether a line starts with a code)."""
    body = Body()
    current: list[str] | None = None
    group_open = False
    for raw in lines:
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        first = line.split()[0]
        if is_code(first):
            if current is None:
                body.lost_codes += 1
            else:
                current.append(first)
            continue
        current = None
        t = re.sub(r"\s+", "", line)
        if t.startswith("入组条件"):
            body.logic = line.split("：", 1)[1].strip() if "：" in line else line.split(":", 1)[-1].strip()
        elif t.rstrip("：:") == "同时包含以下手术或操作":
            body.groups.append([])
            current, group_open = body.groups[-1], True
        elif t == "和" and group_open:
            body.groups.append([])
            current = body.groups[-1]
        elif t.startswith("同时包含") and t.endswith("的手术或操作"):
            body.all_of_adrgs = _ADRG_REF.findall(t)
        elif t.startswith("包含") and t.endswith("的所有手术或操作"):
            body.any_of_adrgs = _ADRG_REF.findall(t)
        elif t == "包含全部手术或操作":
            body.any_px = True
        elif t == "无手术或操作":
            body.no_px = True
        else:
            name = _section_name(line)
            kind = section_kind(name)
            if kind is None or not t.endswith(("：", ":")):
                body.unknown_headers.append(line)
                continue
            label = line.rstrip("：:").strip()
            label = label[len(_HEADER_PREFIX):] if label.startswith(_HEADER_PREFIX) else label
            sec = body.sections.setdefault(name, Section(name, label, kind))
            current = sec.codes
    return body


# ------------------------------------------------------------------------------------------------ 入组条件

def _tokens(expr: str, names: list[str]) -> list[str]:
    """Split an entry condition into section names, ``+``, ``或``, ``(`` and ``)``; names matched longest
    first (``或`` occurs inside names such as ``手术或操作1``). An unmatched stretch becomes ``?text``."""
    s = re.sub(r"\s+", "", expr).replace("（", "(").replace("）", ")")
    by_length = sorted(names, key=len, reverse=True)
    out: list[str] = []
    i = 0
    unknown = ""
    while i < len(s):
        hit = next((n for n in by_length if s.startswith(n, i)), None)
        if hit is None and s[i] in "+或()":
            hit = s[i]
        if hit is None:
            unknown += s[i]
            i += 1
            continue
        if unknown:
            out.append("?" + unknown)
            unknown = ""
        out.append(hit)
        i += len(hit)
    if unknown:
        out.append("?" + unknown)
    return out


def condition_terms(expr: str, names: list[str]) -> list[list[str]]:
    """An entry condition as an OR of AND terms (each term the section names that must all hold).

    ``+`` binds tighter than ``或``; brackets group. A name the ADRG has no section for stays in its term
    (prefixed ``?``): the term can never hold.

    >>> condition_terms("（其他诊断或手术或操作 1）+手术或操作 2", ["其他诊断", "手术或操作1", "手术或操作2"])
    [['其他诊断', '手术或操作2'], ['手术或操作1', '手术或操作2']]
    """
    toks = _tokens(expr, [re.sub(r"\s+", "", n) for n in names])
    pos = 0

    def peek() -> str | None:
        return toks[pos] if pos < len(toks) else None

    def either() -> list[list[str]]:
        nonlocal pos
        terms = both()
        while peek() == "或":
            pos += 1
            terms = terms + both()
        return terms

    def both() -> list[list[str]]:
        nonlocal pos
        terms = one()
        while peek() == "+":
            pos += 1
            right = one()
            terms = [list(dict.fromkeys(a + b)) for a in terms for b in right]
        return terms

    def one() -> list[list[str]]:
        nonlocal pos
        t = peek()
        pos += 1
        if t == "(":
            inner = either()
            if peek() == ")":
                pos += 1
            return inner
        if t is None or t in ("+", "或", ")"):
            return [["?"]]
        return [[t]]

    terms = either()
    while pos < len(toks):       # text after a stray closing bracket: read on as further alternatives
        pos += 1
        terms += either()
    return terms


# ------------------------------------------------------------------------------------------------ rules

def _section_clause(sec: Section) -> Clause:
    return Clause(sec.kind, tuple(dict.fromkeys(sec.codes)), sec.label)


def procedure_codes(body: Body) -> tuple[str, ...]:
    """The codes of every procedure section of an ADRG (what another ADRG means by "its procedures")."""
    return tuple(dict.fromkeys(c for s in body.sections.values() if s.kind in (PPX_IN, ANY_PX_IN)
                               for c in s.codes))


def alternatives(code: str, body: Body, bodies: dict[str, Body]) -> tuple[list[list[Clause]], list[str], list[str]]:
    """The rule of one 2.0 ADRG as alternatives of clauses, with a label per alternative and notes.

    ``bodies`` holds every ADRG's body, for the rules that name other ADRGs (CB2, CB3, WJ1).
    """
    notes: list[str] = []
    special = [bool(body.all_of_adrgs), bool(body.any_of_adrgs), body.any_px, body.no_px, bool(body.groups)]
    if sum(special) > 1 or (any(special) and (body.sections or body.logic)):
        notes.append(f"ADRG {code}: several kinds of rule in one body; the first of: named ADRGs, all "
                     f"procedures, no procedure, 同时包含, sections is used")
    if body.all_of_adrgs or body.any_of_adrgs:
        refs = body.all_of_adrgs or body.any_of_adrgs
        missing = [r for r in refs if r not in bodies or not procedure_codes(bodies[r])]
        if missing:
            notes.append(f"ADRG {code}: names ADRGs without procedure lists: {', '.join(missing)}")
        if body.all_of_adrgs:
            clauses = [Clause(ANY_PX_IN, procedure_codes(bodies[r]) if r in bodies else (), f"{r} 的手术或操作")
                       for r in refs]
            return [clauses], ["同时包含 " + " 和 ".join(refs) + " 的手术或操作"], notes
        union = tuple(dict.fromkeys(c for r in refs if r in bodies for c in procedure_codes(bodies[r])))
        label = "、".join(refs) + " 的所有手术或操作"
        return [[Clause(ANY_PX_IN, union, label)]], ["包含 " + label], notes
    if body.any_px:
        return [[Clause(ANY_PX, (), "包含全部手术或操作")]], ["包含全部手术或操作"], notes
    if body.no_px:
        return [[]], ["无手术或操作 (a principal procedure makes the case ambiguous)"], notes
    if body.groups:
        labels = [f"同时包含 {i + 1}" if i == 0 else "和" for i in range(len(body.groups))]
        clauses = [Clause(ANY_PX_IN, tuple(dict.fromkeys(g)), label) for g, label in zip(body.groups, labels)]
        return [clauses], ["同时包含以下手术或操作 … 和 …"], notes
    if body.logic:
        return _logic_alternatives(code, body, notes)
    return _section_alternatives(body), [], notes


def _logic_alternatives(code: str, body: Body, notes: list[str]):
    terms = condition_terms(body.logic, list(body.sections))
    unused = [n for n in body.sections if not any(n in t for t in terms)]
    if unused:
        notes.append(f"ADRG {code}: sections not named by its 入组条件 (ignored): {', '.join(unused)}")
    alts, labels = [], []
    for term in terms:
        alt = []
        for name in term:
            if name in body.sections:
                alt.append(_section_clause(body.sections[name]))
            else:
                notes.append(f"ADRG {code}: 入组条件 names {name.lstrip('?') or 'nothing'!r}, which is no "
                             f"section of the ADRG (that alternative never holds)")
                alt.append(Clause(PDX_IN, (), f"missing section {name.lstrip('?')}"))
        alts.append(alt)
        labels.append(" + ".join(body.sections[n].label if n in body.sections else n for n in term))
    return alts, labels, notes


def _section_alternatives(body: Body) -> list[list[Clause]]:
    """Sections without an entry condition: ORed within diagnoses and within procedures, the two ANDed."""
    dx = [s for s in body.sections.values() if s.kind in (PDX_IN, SDX_IN, ANY_DX_IN)]
    px = [s for s in body.sections.values() if s.kind in (PPX_IN, ANY_PX_IN)]
    if dx and px:
        return [[_section_clause(d), _section_clause(p)] for d in dx for p in px]
    return [[_section_clause(s)] for s in dx or px]


# ------------------------------------------------------------------------------------------------ code checks

def read_code_checks(rules_dir: Path, read_codes) -> tuple[dict[str, int], dict[str, int], list[str], list[Path]]:
    """Read ZD_INVALID, ZD_GRAY, SS_INVALID and SS_GRAY: code → check, for diagnoses and procedures.

    ``read_codes(path)`` returns the codes of a ``code name`` file. Returns the two maps, notes (counts, and
    codes in two lists) and the files read.
    """
    from grouper.errors import InputError

    maps: dict[str, dict[str, int]] = {"dx": {}, "px": {}}
    notes, files = [], []
    for name, (side, check) in CHECK_FILES.items():
        path = Path(rules_dir) / name
        if not path.is_file():
            raise InputError(f"code-check list {name} is missing (the CHS-DRG 2.0 layout has all four)",
                             file=str(rules_dir))
        files.append(path)
        codes = read_codes(path)
        both = [c for c in codes if c in maps[side]]
        if both:
            notes.append(f"{name}: {len(both)} codes are also in another list of the same side (kept there)")
        for c in codes:
            maps[side].setdefault(c, check)
    return maps["dx"], maps["px"], notes, files


def allow_listed_gray_procedures(px_checks: dict[str, int], listed: set[str]) -> list[str]:
    """A gray procedure that a rule's procedure list names may stand first (CHS-DRG 2.0: ``99.1000``, the only
    such code): mark those ``CHECK_GRAY_ALLOWED``. Returns them."""
    allowed = sorted(c for c, k in px_checks.items() if k == CHECK_GRAY and c in listed)
    for c in allowed:
        px_checks[c] = CHECK_GRAY_ALLOWED
    return allowed
