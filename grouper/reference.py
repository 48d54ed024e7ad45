"""The plain-Python reference grouper: the grouping logic step by step, recording every step.

It reads a compiled :class:`grouper.scheme.Scheme` (no numba, polars, pyarrow or duckdb) and is used by
``drg explain`` and as the numba kernel's twin in the tests (``grouper.kernel`` must return the same
result for every case). The order of the steps is written out in ``docs/grouping.md``:

1. input checks (no principal diagnosis; 1.x: missing newborn data; unknown principal diagnosis; 2.0: a gray
   or invalid principal diagnosis, a gray principal procedure, an invalid principal procedure emptied);
2. the MDCs in the scheme's order — pre-MDC groups (MDCA, MDCP, MDCY, MDCZ), the sex-specific MDCs (M, N),
   then the others, each entered as its entry kind says; an MDC whose entry holds but whose ADRGs all fail
   is left for the next one;
3. inside an MDC, the procedural ADRGs before the medical ones, each ADRG's alternatives in table order;
4. 2.0: a medical ADRG with a principal procedure left gives the MDC's ambiguous group (``xQY``);
5. the severity split from CC/MCC, a CC or MCC being cancelled when the principal diagnosis is in its
   exclusion table.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from grouper.rules.model import (ANY_DX_IN, ANY_PX, ANY_PX_IN, CHECK_GRAY, CHECK_INVALID, CLAUSE_NAMES, ENTRY_ALWAYS,
                                 ENTRY_ANY_DX, ENTRY_NEWBORN_AGE, ENTRY_PPX_OR, ENTRY_REGIONS, NO_OR_PX, PDX_IN, PPX_IN,
                                 PPX_OR, SDX_IN)
from grouper.scheme import SPLIT_CC, SPLIT_MCC, Scheme
from grouper.results import UNGROUPABLE_DRG

# group_status values (index = the kernel's integer status)
STATUS_NAMES = ("ok", "ungroupable", "no_principal_dx", "unknown_principal_dx", "invalid_sex",
                "missing_newborn_data", "no_drg_for_severity", "ambiguous", "gray_principal_dx",
                "invalid_principal_dx", "gray_principal_px")
(OK, UNGROUPABLE, NO_PDX, UNKNOWN_PDX, INVALID_SEX, MISSING_NEWBORN, NO_DRG, AMBIGUOUS, GRAY_PDX, INVALID_PDX,
 GRAY_PPX) = range(11)

# group_note flags (a bit mask; the text is built from them and the case's codes)
NOTE_UNKNOWN_DX = 1        # a secondary diagnosis is not in the scheme's dictionary
NOTE_UNKNOWN_PX = 2        # a procedure is not in the scheme's dictionary
NOTE_MALE_PREGNANCY = 4    # grouped to the pregnancy MDC with sex = 1
NOTE_SEX_SKIPPED = 8       # a sex-specific MDC's table held the principal diagnosis but the sex did not fit
NOTE_VENT_NO_CODE = 16     # vent_hours >= 96 but not in the ventilation ADRG (the code counts, not the hours)
NOTE_MDC_FELL_THROUGH = 32  # an MDC's entry held, none of its ADRGs did; grouping went on
NOTE_SEX_UNKNOWN = 64      # sex 0/9 (only matters for sex-specific groups)
NOTE_INVALID_PPX = 128     # 2.0: the principal procedure is on the invalid list; its slot was emptied

NEWBORN_DAYS = 29          # under 29 days of age: a newborn, who needs a birth weight (1.x)
INFANT_DAYS = 365          # under one year: the 2.0 newborn MDC is entered by age


def normalize_code(code: str | None) -> str:
    """Normalise a code as CONTRACT.md says: trim surrounding spaces, upper-case the leading chapter letter.

    Nothing else changes (the lower-case ``x`` inside ``A86.x00`` or ``K22.301x001`` is part of the code).
    """
    if code is None:
        return ""
    c = code.strip()
    if c and c[0].isalpha() and c[0].islower():
        c = c[0].upper() + c[1:]
    return c


@dataclass
class Case:
    """One case's grouping fields (the contract's names). ``None`` for a missing nullable value."""

    sex: int | None
    age: int | None
    dx: list[str]
    px: list[str] = field(default_factory=list)
    age_days: int | None = None
    birth_weight: int | None = None
    vent_hours: int | None = None
    los: int | None = None
    discharge_status: int | None = None


@dataclass(frozen=True)
class CcDetail:
    """One secondary diagnosis's part in the CC level (``Result.cc_detail``).

    Attributes
    ----------
    position : int
        Its place in the case's diagnoses (2 = the first secondary diagnosis).
    code : str
        The code as the scheme knows it (normalised), or as written when the scheme does not know it.
    level : int
        2 an MCC, 1 a CC, 0 neither (or a code the scheme does not know).
    table : str or None
        The CC/MCC's exclusion table (``7-12``), None when it has none.
    excluded_by : str or None
        The exclusion table that cancelled it (the principal diagnosis is in that table), else None.
    """

    position: int
    code: str
    level: int
    table: str | None = None
    excluded_by: str | None = None

    @property
    def kind(self) -> str | None:
        """``"MCC"``, ``"CC"`` or None."""
        return {2: "MCC", 1: "CC"}.get(self.level)

    @property
    def counts(self) -> bool:
        """A CC or MCC that was not excluded."""
        return self.level > 0 and self.excluded_by is None


@dataclass
class Result:
    """A grouping result; ``steps`` is the explanation (one line per step).

    ``cc_dx`` is the secondary code that set ``cc_level`` (the first secondary diagnosis, in the case's
    order, at that level and not excluded; None at level 0). ``cc_detail`` lists every secondary diagnosis
    with its CC/MCC level and exclusion (:class:`CcDetail`) whenever the principal diagnosis is known, also
    for a case that reaches no ADRG (whose ``cc_level`` stays 0).
    """

    mdc: str | None
    adrg: str | None
    drg: str
    cc_level: int
    status: str
    note_flags: int = 0
    notes: list[str] = field(default_factory=list)
    steps: list[str] = field(default_factory=list)
    cc_dx: str | None = None
    cc_detail: list[CcDetail] = field(default_factory=list)

    @property
    def group_note(self) -> str:
        """The ``group_note`` column: the notes joined with ``; ``."""
        return "; ".join(self.notes)


def encode_codes(scheme: Scheme, dx: list[str], px: list[str], exact: bool = False) -> tuple[list[int], list[int]]:
    """Codes → scheme ids: -1 for a code the scheme does not know, -2 for an empty string.

    ``exact=True`` skips normalisation (how the independent reference grouper matches; used in tests to
    show that normalisation explains every difference on untidy codes).
    """
    di, pi = scheme.dx_index, scheme.px_index
    norm = (lambda c: c if c is not None else "") if exact else normalize_code

    def enc(index, c):
        c = norm(c)
        return index.get(c, -1) if c.strip() else -2

    return [enc(di, c) for c in dx], [enc(pi, c) for c in px]


class _Lists:
    """Membership in the scheme's code lists, as Python sets built on first use."""

    def __init__(self, scheme: Scheme) -> None:
        self.scheme = scheme
        self.cache: dict[int, frozenset] = {}

    def get(self, list_id: int) -> frozenset:
        s = self.cache.get(list_id)
        if s is None:
            s = frozenset(int(x) for x in self.scheme.list_codes(list_id))
            self.cache[list_id] = s
        return s


_LISTS: dict[int, _Lists] = {}


def _lists(scheme: Scheme) -> _Lists:
    lst = _LISTS.get(id(scheme))
    if lst is None or lst.scheme is not scheme:
        lst = _Lists(scheme)
        _LISTS[id(scheme)] = lst
    return lst


def severity(scheme: Scheme, dx_ids: list[int], steps: list[str] | None = None,
             written: list[str] | None = None) -> tuple[int, int, list[CcDetail]]:
    """CC level of a case: 2 if an MCC counts, 1 if a CC counts, else 0 (exclusions applied).

    Returns ``(level, position, detail)``: ``position`` is the index in ``dx_ids`` of the secondary code
    that set the level (-1 at level 0); ``detail`` one :class:`CcDetail` per secondary diagnosis
    (``written`` gives the codes as written, for codes the scheme does not know)."""
    if not dx_ids or dx_ids[0] < 0:
        return 0, -1, []
    pdx = dx_ids[0]
    a = scheme.arrays
    ptables = set(int(t) for t in a["dx_excl_val"][a["dx_excl_off"][pdx]:a["dx_excl_off"][pdx + 1]])
    if steps is not None and ptables:
        steps.append("principal diagnosis %s is in exclusion table(s) %s" % (
            scheme.dx_codes[pdx], ", ".join("表 " + scheme.exclusion_tables[t] for t in sorted(ptables))))
    level, at, detail = 0, -1, []
    for k in range(1, len(dx_ids)):
        d = dx_ids[k]
        if d < 0:
            detail.append(CcDetail(k + 1, (written[k] if written else "") if d == -1 else "", 0))
            continue
        s = int(a["dx_sev"][d])
        t = int(a["dx_cc_table"][d])
        table = scheme.exclusion_tables[t] if t >= 0 and s else None
        if s == 0:
            detail.append(CcDetail(k + 1, scheme.dx_codes[d], 0))
            continue
        kind = "an MCC" if s == 2 else "a CC"
        if t >= 0 and t in ptables:
            detail.append(CcDetail(k + 1, scheme.dx_codes[d], s, table, table))
            if steps is not None:
                steps.append(f"{scheme.dx_codes[d]} is {kind} (表 {table}): cancelled, "
                             f"the principal diagnosis is in that exclusion table")
            continue
        detail.append(CcDetail(k + 1, scheme.dx_codes[d], s, table))
        if steps is not None:
            where = f"表 {table}" if t >= 0 else "no exclusion table"
            steps.append(f"{scheme.dx_codes[d]} is {kind} ({where}): counts")
        if s > level:
            level, at = s, k
    return level, at, detail


def _band(lo: int, hi: int) -> str:
    if hi >= 2**31 - 1:
        return f">= {lo}"
    return f"<= {hi}" if lo < 0 else f"{lo}–{hi}"


class _Grouping:
    """One case through the steps of the module docstring (the kernel's twin): state and explanation."""

    def __init__(self, scheme: Scheme, case: Case, dx: list[int], px: list[int], explain: bool,
                 dx_written: list[str] | None = None) -> None:
        self.s, self.case, self.dx, self.px = scheme, case, dx, px
        self.a = scheme.arrays
        self.lists = _lists(scheme)
        self.steps: list[str] | None = [] if explain else None
        self.dx_written = dx_written
        self.flags = 0
        if any(d == -1 for d in dx[1:]):
            self.flags |= NOTE_UNKNOWN_DX
        if any(p == -1 for p in px):
            self.flags |= NOTE_UNKNOWN_PX
        self.sex = case.sex if case.sex is not None else 0
        if self.sex not in (1, 2):
            self.flags |= NOTE_SEX_UNKNOWN
        self.age = case.age if case.age is not None else -1
        self.vent = case.vent_hours if case.vent_hours is not None else -1
        self.vent_ok = scheme.vent_adrg >= 0 and self.vent >= scheme.options.vent_hours_min
        self.pdx = dx[0] if dx else -2
        self.ppx = px[0] if px else -1            # the principal procedure's id (-1 none or unknown)
        self.ppx_present = bool(px) and px[0] != -2   # a code stands first (known or not)
        self.px_from = 0                           # where "any position" starts (1 when the first was emptied)
        self.sex_blocked = False
        self.detail: list[CcDetail] = []

    def say(self, text: str) -> None:
        if self.steps is not None:
            self.steps.append(text)

    def done(self, mdc, adrg, drg, level, status, cc_at: int = -1) -> Result:
        cc_dx = self.s.dx_codes[self.dx[cc_at]] if cc_at > 0 else None
        return Result(mdc, adrg, drg, level, STATUS_NAMES[status], self.flags, [], self.steps or [], cc_dx,
                      self.detail)

    def vent_flag(self, adrg_index: int) -> int:
        vent_note = self.s.vent_note_adrg
        if vent_note >= 0 and self.vent >= self.s.options.vent_hours_min and adrg_index != vent_note:
            return NOTE_VENT_NO_CODE
        return 0

    # ------------------------------------------------------------------ step 1: input checks
    def check_input(self) -> Result | None:
        """The checks that stop grouping before any MDC (statuses of ``docs/grouping.md`` §2)."""
        s, case, a = self.s, self.case, self.a
        if not self.dx or self.pdx == -2:
            self.say("no diagnosis: no principal diagnosis")
            return self.done(None, None, UNGROUPABLE_DRG, 0, NO_PDX)
        if s.rules["newborn_data_required"] and ((self.age == 0 and case.age_days is None) or (
                case.age_days is not None and case.age_days < NEWBORN_DAYS and case.birth_weight is None)):
            self.say(f"newborn data missing: age {case.age}, age in days {case.age_days}, birth weight "
                     f"{case.birth_weight} (a case under {NEWBORN_DAYS} days needs a birth weight; "
                     f"age 0 needs age in days)")
            return self.done(None, None, UNGROUPABLE_DRG, 0, MISSING_NEWBORN)
        if self.pdx < 0:
            self.say("the principal diagnosis is not in the scheme's dictionary")
            return self.done(None, None, UNGROUPABLE_DRG, 0, UNKNOWN_PDX)
        _, _, self.detail = severity(s, self.dx, None, self.dx_written)
        check = int(a["dx_check"][self.pdx])
        if check == CHECK_GRAY:
            self.say(f"the principal diagnosis {s.dx_codes[self.pdx]} is a gray code (ZD_GRAY, 灰码): ungroupable")
            return self.done(None, None, UNGROUPABLE_DRG, 0, GRAY_PDX)
        if check == CHECK_INVALID:
            self.say(f"the principal diagnosis {s.dx_codes[self.pdx]} is on the invalid list (ZD_INVALID): "
                     f"ungroupable")
            return self.done(None, None, UNGROUPABLE_DRG, 0, INVALID_PDX)
        if self.ppx >= 0:
            check = int(a["px_check"][self.ppx])
            if check == CHECK_GRAY:
                self.say(f"the principal procedure {s.px_codes[self.ppx]} is a gray code (SS_GRAY, 灰码): "
                         f"ungroupable")
                return self.done(None, None, UNGROUPABLE_DRG, 0, GRAY_PPX)
            if check == CHECK_INVALID:
                self.say(f"the principal procedure {s.px_codes[self.ppx]} is on the invalid list (SS_INVALID): "
                         f"its slot is emptied (no principal procedure; the others keep their positions)")
                self.flags |= NOTE_INVALID_PPX
                self.ppx, self.ppx_present, self.px_from = -1, False, 1
            elif check != 0:
                self.say(f"the principal procedure {s.px_codes[self.ppx]} is a gray code that a rule lists: "
                         f"allowed first")
        return None

    # ------------------------------------------------------------------ step 2: MDC entry
    def regions(self) -> list[int]:
        a = self.a
        return sorted({int(a["dx_region"][d]) for d in self.dx if d >= 0 and a["dx_region"][d] >= 0})

    def enters(self, mi: int) -> bool:
        """Whether the case enters MDC ``mi`` (its entry kind, newborn and trauma marks, sex)."""
        s, a = self.s, self.a
        mcode = s.mdc_codes[mi]
        entry = int(a["mdc_entry"][mi])
        lid = int(a["mdc_pdx_list"][mi])
        if entry == ENTRY_PPX_OR:
            if not ((self.ppx >= 0 and bool(a["px_or"][self.ppx]))
                    or (self.vent_ok and int(a["adrg_mdc"][s.vent_adrg]) == mi)):
                return False
            self.say(f"{mcode}: entered, the principal procedure "
                     f"{s.px_codes[self.ppx] if self.ppx >= 0 else ''} is an operating-room procedure")
            return True
        if entry == ENTRY_ALWAYS:
            self.say(f"{mcode}: tried (every case; its ADRG rules decide)")
            return True
        if entry == ENTRY_NEWBORN_AGE:
            ad = self.case.age_days
            if ad is None or ad >= INFANT_DAYS or self.age > 0:
                self.say(f"{mcode}: not entered (age {self.case.age}, age in days {ad}: it takes age 0 under "
                         f"{INFANT_DAYS} days)")
                return False
            self.say(f"{mcode}: entered, age {self.case.age}, age in days {ad} (under {INFANT_DAYS})")
            return True
        if entry == ENTRY_ANY_DX:
            hits = [d for d in self.dx if d >= 0 and lid >= 0 and d in self.lists.get(lid)]
            if not hits:
                self.say(f"{mcode}: not entered (no diagnosis is in its table)")
                return False
            self.say(f"{mcode}: entered, diagnosis {', '.join(s.dx_codes[d] for d in hits)} is in its table")
        elif entry == ENTRY_REGIONS:
            regions = self.regions()
            if len(regions) < 2:
                self.say(f"{mcode}: not entered (body regions among the diagnoses: "
                         + (", ".join(s.region_names[r] for r in regions) or "none") + "; it takes two or more)")
                return False
            self.say(f"{mcode}: entered, the diagnoses cover the body regions "
                     + ", ".join(s.region_names[r] for r in regions))
        else:
            if lid < 0 or self.pdx not in self.lists.get(lid):
                return False
            if a["mdc_newborn"][mi] and self.age != 0:
                self.say(f"{mcode}: principal diagnosis in its table, skipped: age {self.age} is not 0")
                return False
            if a["mdc_trauma"][mi]:
                regions = self.regions()
                self.say(f"{mcode}: principal diagnosis in its table; body regions: "
                         + (", ".join(s.region_names[r] for r in regions) or "none"))
                if len(regions) < 2:
                    self.say(f"{mcode}: skipped, fewer than two body regions")
                    return False
        msex = int(a["mdc_sex"][mi])
        if msex and self.sex != msex:
            self.sex_blocked = True
            self.flags |= NOTE_SEX_SKIPPED
            self.say(f"{mcode}: principal diagnosis in its table, but the MDC is for sex {msex} "
                     f"and the case has sex {self.sex}: skipped")
            return False
        if entry not in (ENTRY_ANY_DX, ENTRY_REGIONS):
            self.say(f"{mcode}: entered, principal diagnosis {s.dx_codes[self.pdx]} is in its table")
        return True

    # ------------------------------------------------------------------ step 3: ADRGs
    def bands_hold(self, ai: int) -> bool:
        a, case, code = self.a, self.case, self.s.adrg_codes[ai]
        amin, amax = int(a["adrg_age_min"][ai]), int(a["adrg_age_max"][ai])
        if amin >= 0 or amax < 2**31 - 1:
            if case.age_days is None or not (amin <= case.age_days <= amax):
                self.say(f"  {code}: skipped, age in days {case.age_days} is outside {_band(amin, amax)}")
                return False
        wmin, wmax = int(a["adrg_w_min"][ai]), int(a["adrg_w_max"][ai])
        if wmin >= 0 or wmax < 2**31 - 1:
            if case.birth_weight is None or not (wmin <= case.birth_weight <= wmax):
                self.say(f"  {code}: skipped, birth weight {case.birth_weight} is outside {_band(wmin, wmax)} g")
                return False
        return True

    def clause(self, kind: int, lid: int) -> tuple[bool, str]:
        """Whether one clause holds, and what it looked at."""
        s, a, dx, px = self.s, self.a, self.dx, self.px
        if kind == PDX_IN:
            return self.pdx in self.lists.get(lid), s.dx_codes[self.pdx]
        if kind == PPX_IN:
            hit = self.ppx >= 0 and self.ppx in self.lists.get(lid)
            return hit, s.px_codes[self.ppx] if self.ppx >= 0 else "none"
        if kind in (ANY_DX_IN, SDX_IN):
            members = self.lists.get(lid) if lid >= 0 else frozenset()
            found = [d for d in dx[1 if kind == SDX_IN else 0:] if d >= 0 and d in members]
            return bool(found), ",".join(s.dx_codes[d] for d in found) or "none"
        if kind == ANY_PX_IN:
            members = self.lists.get(lid) if lid >= 0 else frozenset()
            found = [p for p in px[self.px_from:] if p >= 0 and p in members]
            return bool(found), ",".join(s.px_codes[p] for p in found) or "none"
        if kind == ANY_PX:
            found = [p for p in px[self.px_from:] if p != -2]
            return bool(found), ",".join(s.px_codes[p] if p >= 0 else "(unknown code)" for p in found) or "none"
        if kind == PPX_OR:
            return self.ppx >= 0 and bool(a["px_or"][self.ppx]), s.px_codes[self.ppx] if self.ppx >= 0 else "none"
        if kind == NO_OR_PX:
            found = [p for p in px[self.px_from:] if p >= 0 and a["px_or"][p]]
            return not found, ",".join(s.px_codes[p] for p in found) or "none"
        return False, "?"

    def adrg_matches(self, ai: int) -> bool:
        s, a = self.s, self.a
        code = s.adrg_codes[ai]
        if self.vent_ok and ai == s.vent_adrg:
            self.say(f"  {code}: vent_hours {self.case.vent_hours} >= {s.options.vent_hours_min} (scheme option)")
            return True
        if not self.bands_hold(ai):
            return False
        first = int(a["adrg_alt_off"][ai])
        for alt in range(first, int(a["adrg_alt_off"][ai + 1])):
            ok, why = True, []
            for c in range(int(a["alt_clause_off"][alt]), int(a["alt_clause_off"][alt + 1])):
                kind, lid = int(a["clause_kind"][c]), int(a["clause_list"][c])
                hit, what = self.clause(kind, lid)
                label = s.list_labels[lid] if lid >= 0 else (s.clause_labels[c] if c < len(s.clause_labels) else "")
                why.append(f"{CLAUSE_NAMES[kind]}{' [' + label + ']' if label else ''}: "
                           f"{'yes' if hit else 'no'} ({what})")
                if not hit:
                    ok = False
                    break
            if self.steps is not None:
                term = s.alt_labels[alt] if alt < len(s.alt_labels) else ""
                self.say(f"  {code} rule {alt - first + 1}{' [' + term + ']' if term else ''}: "
                         + ("; ".join(why) or "no condition") + (" — holds" if ok else ""))
            if ok:
                return True
        return False

    # ------------------------------------------------------------------ steps 4 and 5: ambiguous group, DRG
    def finish(self, mi: int, ai: int) -> Result:
        s, a = self.s, self.a
        mcode, adrg = s.mdc_codes[mi], s.adrg_codes[ai]
        self.say(f"ADRG {adrg} {s.adrg_names[ai]}")
        level, at, self.detail = severity(s, self.dx, self.steps, self.dx_written)
        if s.rules["ambiguous_groups"] and not a["adrg_surgical"][ai] and self.ppx_present:
            qy = s.qy_codes[mi]
            self.say(f"{adrg} is a medical ADRG and the case has a principal procedure "
                     f"{s.px_codes[self.ppx] if self.ppx >= 0 else '(a code the scheme does not know)'}: "
                     f"ambiguous group {qy} (与主要诊断无关的手术)")
            self.flags |= self.vent_flag(ai)
            return self.done(mcode, qy, qy, level, AMBIGUOUS, at)
        for j in range(int(a["adrg_drg_off"][ai]), int(a["adrg_drg_off"][ai + 1])):
            split = int(a["drg_split"][j])
            if (split == SPLIT_MCC and level < 2) or (split == SPLIT_CC and level < 1):
                continue
            drg = s.drg_codes[j]
            self.say(f"DRG {drg} {s.drg_names[j]} (CC level {level})")
            if mi == s.pregnancy_mdc and self.sex == 1:
                self.flags |= NOTE_MALE_PREGNANCY
            self.flags |= self.vent_flag(ai)
            return self.done(mcode, adrg, drg, level, OK, at)
        self.say(f"no DRG of {adrg} fits CC level {level}")
        self.flags |= self.vent_flag(ai)
        return self.done(mcode, adrg, UNGROUPABLE_DRG, level, NO_DRG, at)

    def run(self) -> Result:
        stopped = self.check_input()
        if stopped is not None:
            return stopped
        s, a = self.s, self.a
        for mi in range(len(s.mdc_codes)):
            if not self.enters(mi):
                continue
            for k in range(int(a["mdc_adrg_off"][mi]), int(a["mdc_adrg_off"][mi + 1])):
                ai = int(a["mdc_adrg_val"][k])
                if self.adrg_matches(ai):
                    return self.finish(mi, ai)
            self.flags |= NOTE_MDC_FELL_THROUGH
            self.say(f"{s.mdc_codes[mi]}: none of its ADRGs matched; trying the next MDC")
        self.say("no MDC took the case: " + (
            "the principal diagnosis belongs to a sex-specific MDC of the other sex" if self.sex_blocked else
            f"ungroupable (the principal diagnosis {s.dx_codes[self.pdx]} is in no MDC's principal-diagnosis "
            f"table, or no ADRG of its MDC matched)"))
        self.flags |= self.vent_flag(-1)
        return self.done(None, None, UNGROUPABLE_DRG, 0, INVALID_SEX if self.sex_blocked else UNGROUPABLE)


def group_encoded(scheme: Scheme, case: Case, dx: list[int], px: list[int], explain: bool = False,
                  dx_written: list[str] | None = None) -> Result:
    """Group one case whose codes are already scheme ids (``-1`` unknown, ``-2`` empty). The kernel's twin.

    ``dx_written`` (the diagnoses as written) names unknown codes in ``Result.cc_detail``."""
    return _Grouping(scheme, case, dx, px, explain, dx_written).run()


def note_text(scheme: Scheme, flags: int, dx_raw: list[str], dx_ids: list[int], px_raw: list[str],
              px_ids: list[int], vent_hours: int | None = None) -> list[str]:
    """The ``group_note`` parts for a case's flags (shared by the reference and the batch path)."""
    unknown_dx = tuple(c for c, i in zip(dx_raw[1:], dx_ids[1:]) if i == -1)
    unknown_px = tuple(c for c, i in zip(px_raw, px_ids) if i == -1)
    return note_parts(flags, unknown_dx, unknown_px, vent_hours)


def note_parts(flags: int, unknown_dx: tuple[str, ...], unknown_px: tuple[str, ...],
               vent_hours: int | None = None) -> list[str]:
    """The ``group_note`` parts from the flags and the unknown codes as written (secondary diagnoses, any
    procedure). The batch path gathers the unknown codes in Arrow and calls this for the flagged rows."""
    notes = []
    if flags & NOTE_UNKNOWN_DX:
        notes.append("unknown secondary diagnosis " + ",".join(repr(c) if c != c.strip() else c for c in unknown_dx))
    if flags & NOTE_UNKNOWN_PX:
        notes.append("unknown procedure " + ",".join(repr(c) if c != c.strip() else c for c in unknown_px))
    if flags & NOTE_MALE_PREGNANCY:
        notes.append("pregnancy diagnosis with sex 1 (data problem; grouped as the tables say)")
    if flags & NOTE_SEX_SKIPPED:
        notes.append("principal diagnosis of a sex-specific MDC that does not fit the case's sex")
    if flags & NOTE_SEX_UNKNOWN:
        notes.append("sex unknown (0/9)")
    if flags & NOTE_VENT_NO_CODE:
        hours = f"vent_hours {vent_hours}" if vent_hours is not None else "vent_hours"
        notes.append(f"{hours} recorded, but the case is not in the ventilation group: this scheme counts a "
                     f"ventilation/ECMO code as principal procedure, not the hours")
    if flags & NOTE_INVALID_PPX:
        notes.append("the principal procedure is on the invalid list (SS_INVALID): not counted as principal "
                     "procedure")
    return notes


def group_case(scheme: Scheme, case: Case, explain: bool = False, exact: bool = False) -> Result:
    """Group one case given with code strings (normalised here). Never raises on bad codes.

    Parameters
    ----------
    scheme : Scheme
        A compiled scheme (:func:`grouper.scheme.load_scheme`).
    case : Case
        The case; ``dx`` principal first, ``px`` principal first.
    explain : bool
        Record every step in ``Result.steps``.
    exact : bool
        Match codes exactly, without normalisation (for comparisons with the independent reference).
    """
    # a negative count is no value: the kernel reads nulls as -1, so both twins treat any negative as missing
    negative = {k: None for k in ("age_days", "birth_weight", "vent_hours")
                if getattr(case, k) is not None and getattr(case, k) < 0}
    if negative:
        case = replace(case, **negative)
    dx_raw = [c if c is not None else "" for c in (case.dx or [])]
    px_raw = [c if c is not None else "" for c in (case.px or [])]
    dx_ids, px_ids = encode_codes(scheme, dx_raw, px_raw, exact=exact)
    res = group_encoded(scheme, case, dx_ids, px_ids, explain=explain, dx_written=dx_raw)
    res.notes = note_text(scheme, res.note_flags, dx_raw, dx_ids, px_raw, px_ids, case.vent_hours)
    if explain:
        head = ["diagnoses: " + ", ".join(f"{c}{'' if i >= 0 else ' (unknown)'}" for c, i in zip(dx_raw, dx_ids)),
                "procedures: " + (", ".join(f"{c}{'' if i >= 0 else ' (unknown)'}" for c, i in zip(px_raw, px_ids))
                                   or "none")]
        res.steps = head + res.steps
    return res


def group_encoded_batch_twin(scheme: Scheme, sex, age, age_days, weight, vent, dx_off, dx_val, px_off, px_val,
                             *, in_pdx_order: bool | None = None, order=None) -> dict:
    """Plain-Python twin of :func:`grouper.kernel.group_encoded_batch`: :func:`group_encoded` on each case
    of an encoded batch, the same output arrays (``in_pdx_order`` and ``order`` only change the kernel's
    walk, never a result, so they are accepted and ignored). What ``BatchGrouper(scheme, engine="python")``
    runs instead of the kernel."""
    import numpy as np

    mdc_of = {c: i for i, c in enumerate(scheme.mdc_codes)}
    adrg_of = {c: i for i, c in enumerate(scheme.adrg_results)}     # ADRGs, then the ambiguous groups
    drg_of = {c: i for i, c in enumerate(scheme.drg_results)}
    status_of = {s: i for i, s in enumerate(STATUS_NAMES)}
    n = len(sex)
    out = {"mdc": np.empty(n, np.int16), "adrg": np.empty(n, np.int16), "drg": np.empty(n, np.int16),
           "cc_level": np.empty(n, np.int8), "cc_dx": np.empty(n, np.int32), "status": np.empty(n, np.int8),
           "flags": np.empty(n, np.int16)}
    dx_ids, px_ids = np.asarray(dx_val).tolist(), np.asarray(px_val).tolist()
    dx_off, px_off = np.asarray(dx_off).tolist(), np.asarray(px_off).tolist()

    def value(v) -> int | None:   # the kernel's -1 (any negative) is no value
        return None if v < 0 else int(v)

    for i in range(n):
        case = Case(sex=int(sex[i]), age=int(age[i]), dx=[], age_days=value(age_days[i]),
                    birth_weight=value(weight[i]), vent_hours=value(vent[i]))
        r = group_encoded(scheme, case, dx_ids[dx_off[i]:dx_off[i + 1]], px_ids[px_off[i]:px_off[i + 1]])
        out["mdc"][i] = mdc_of[r.mdc] if r.mdc is not None else -1
        out["adrg"][i] = adrg_of[r.adrg] if r.adrg is not None else -1
        out["drg"][i] = drg_of.get(r.drg, -1)
        out["cc_level"][i] = r.cc_level
        out["cc_dx"][i] = scheme.dx_index.get(r.cc_dx, -1) if r.cc_dx is not None else -1
        out["status"][i] = status_of[r.status]
        out["flags"][i] = r.note_flags
    return out
