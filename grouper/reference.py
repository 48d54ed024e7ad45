"""The plain-Python reference grouper: the grouping logic step by step, recording every step.

It reads a compiled :class:`grouper.scheme.Scheme` (no numba, polars, pyarrow or duckdb) and is used by
``drg explain`` and as the numba kernel's twin in the tests (``grouper.kernel`` must return the same
result for every case). The order of the steps is written out in ``docs/grouping.md``:

1. input checks (no principal diagnosis, missing newborn data, unknown principal diagnosis);
2. the MDCs in the scheme's order — pre-MDC groups (MDCA, MDCP, MDCY, MDCZ), the sex-specific MDCs (M, N),
   then the others; an MDC whose entry holds but whose ADRGs all fail is left for the next one;
3. inside an MDC, the procedural ADRGs before the medical ones, each ADRG's alternatives in table order;
4. the severity split from CC/MCC, a CC or MCC being cancelled when the principal diagnosis is in its
   exclusion table.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from grouper.rules.model import ANY_DX_IN, ANY_PX_IN, CLAUSE_NAMES, NO_OR_PX, PDX_IN, PPX_IN, PPX_OR
from grouper.scheme import SPLIT_CC, SPLIT_MCC, Scheme

# group_status values (index = the kernel's integer status)
STATUS_NAMES = ("ok", "ungroupable", "no_principal_dx", "unknown_principal_dx", "invalid_sex",
                "missing_newborn_data", "no_drg_for_severity")
OK, UNGROUPABLE, NO_PDX, UNKNOWN_PDX, INVALID_SEX, MISSING_NEWBORN, NO_DRG = range(7)

# group_note flags (a bit mask; the text is built from them and the case's codes)
NOTE_UNKNOWN_DX = 1        # a secondary diagnosis is not in the scheme's dictionary
NOTE_UNKNOWN_PX = 2        # a procedure is not in the scheme's dictionary
NOTE_MALE_PREGNANCY = 4    # grouped to the pregnancy MDC with sex = 1
NOTE_SEX_SKIPPED = 8       # a sex-specific MDC's table held the principal diagnosis but the sex did not fit
NOTE_VENT_NO_CODE = 16     # vent_hours >= 96 but not in the ventilation ADRG (the code counts, not the hours)
NOTE_MDC_FELL_THROUGH = 32  # an MDC's entry held, none of its ADRGs did; grouping went on
NOTE_SEX_UNKNOWN = 64      # sex 0/9 (only matters for sex-specific groups)

NEWBORN_DAYS = 29          # under 29 days of age: a newborn, who needs a birth weight


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


@dataclass
class Result:
    """A grouping result; ``steps`` is the explanation (one line per step)."""

    mdc: str | None
    adrg: str | None
    drg: str
    cc_level: int
    status: str
    note_flags: int = 0
    notes: list[str] = field(default_factory=list)
    steps: list[str] = field(default_factory=list)

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


def severity(scheme: Scheme, dx_ids: list[int], steps: list[str] | None = None) -> int:
    """CC level of a case: 2 if an MCC counts, 1 if a CC counts, else 0 (exclusions applied)."""
    if not dx_ids or dx_ids[0] < 0:
        return 0
    pdx = dx_ids[0]
    a = scheme.arrays
    ptables = set(int(t) for t in a["dx_excl_val"][a["dx_excl_off"][pdx]:a["dx_excl_off"][pdx + 1]])
    if steps is not None and ptables:
        steps.append("principal diagnosis %s is in exclusion table(s) %s" % (
            scheme.dx_codes[pdx], ", ".join("表 " + scheme.exclusion_tables[t] for t in sorted(ptables))))
    level = 0
    for d in dx_ids[1:]:
        if d < 0:
            continue
        s = int(a["dx_sev"][d])
        if s == 0:
            continue
        t = int(a["dx_cc_table"][d])
        kind = "an MCC" if s == 2 else "a CC"
        if t >= 0 and t in ptables:
            if steps is not None:
                steps.append(f"{scheme.dx_codes[d]} is {kind} (表 {scheme.exclusion_tables[t]}): cancelled, "
                             f"the principal diagnosis is in that exclusion table")
            continue
        if steps is not None:
            where = f"表 {scheme.exclusion_tables[t]}" if t >= 0 else "no exclusion table"
            steps.append(f"{scheme.dx_codes[d]} is {kind} ({where}): counts")
        if s > level:
            level = s
    return level


def _band(lo: int, hi: int) -> str:
    if hi >= 2**31 - 1:
        return f">= {lo}"
    return f"<= {hi}" if lo < 0 else f"{lo}–{hi}"


def _adrg_matches(scheme: Scheme, lists: _Lists, ai: int, dx: list[int], px: list[int], case: Case,
                  vent_ok: bool, steps: list[str] | None) -> bool:
    a = scheme.arrays
    code = scheme.adrg_codes[ai]
    if vent_ok and ai == scheme.vent_adrg:
        if steps is not None:
            steps.append(f"  {code}: vent_hours {case.vent_hours} >= {scheme.options.vent_hours_min} (scheme option)")
        return True
    amin, amax = int(a["adrg_age_min"][ai]), int(a["adrg_age_max"][ai])
    if amin >= 0 or amax < 2**31 - 1:
        if case.age_days is None or not (amin <= case.age_days <= amax):
            if steps is not None:
                steps.append(f"  {code}: skipped, age in days {case.age_days} is outside {_band(amin, amax)}")
            return False
    wmin, wmax = int(a["adrg_w_min"][ai]), int(a["adrg_w_max"][ai])
    if wmin >= 0 or wmax < 2**31 - 1:
        if case.birth_weight is None or not (wmin <= case.birth_weight <= wmax):
            if steps is not None:
                steps.append(f"  {code}: skipped, birth weight {case.birth_weight} is outside "
                             f"{_band(wmin, wmax)} g")
            return False
    pdx = dx[0]
    ppx = px[0] if px else -1
    for alt in range(int(a["adrg_alt_off"][ai]), int(a["adrg_alt_off"][ai + 1])):
        ok = True
        why = []
        for c in range(int(a["alt_clause_off"][alt]), int(a["alt_clause_off"][alt + 1])):
            kind = int(a["clause_kind"][c])
            lid = int(a["clause_list"][c])
            label = scheme.list_labels[lid] if lid >= 0 else ""
            if kind == PDX_IN:
                hit = pdx in lists.get(lid)
                what = scheme.dx_codes[pdx]
            elif kind == PPX_IN:
                hit = ppx >= 0 and ppx in lists.get(lid)
                what = scheme.px_codes[ppx] if ppx >= 0 else "none"
            elif kind == ANY_DX_IN:
                s = lists.get(lid)
                found = [d for d in dx if d >= 0 and d in s]
                hit = bool(found)
                what = ",".join(scheme.dx_codes[d] for d in found) or "none"
            elif kind == ANY_PX_IN:
                s = lists.get(lid)
                found = [p for p in px if p >= 0 and p in s]
                hit = bool(found)
                what = ",".join(scheme.px_codes[p] for p in found) or "none"
            elif kind == PPX_OR:
                hit = ppx >= 0 and bool(a["px_or"][ppx])
                what = scheme.px_codes[ppx] if ppx >= 0 else "none"
            elif kind == NO_OR_PX:
                found = [p for p in px if p >= 0 and a["px_or"][p]]
                hit = not found
                what = ",".join(scheme.px_codes[p] for p in found) or "none"
            else:
                hit, what = False, "?"
            why.append(f"{CLAUSE_NAMES[kind]}{' [' + label + ']' if label else ''}: "
                       f"{'yes' if hit else 'no'} ({what})")
            if not hit:
                ok = False
                break
        if steps is not None:
            steps.append(f"  {code} rule {alt - int(a['adrg_alt_off'][ai]) + 1}: " + "; ".join(why))
        if ok:
            return True
    return False


def group_encoded(scheme: Scheme, case: Case, dx: list[int], px: list[int],
                  explain: bool = False) -> Result:
    """Group one case whose codes are already scheme ids (``-1`` unknown). The kernel's twin."""
    steps: list[str] | None = [] if explain else None
    a = scheme.arrays
    lists = _lists(scheme)
    flags = 0
    if any(d == -1 for d in dx[1:]):
        flags |= NOTE_UNKNOWN_DX
    if any(p == -1 for p in px):
        flags |= NOTE_UNKNOWN_PX
    sex = case.sex if case.sex is not None else 0
    if sex not in (1, 2):
        flags |= NOTE_SEX_UNKNOWN
    vent = case.vent_hours if case.vent_hours is not None else -1
    vent_ok = scheme.vent_adrg >= 0 and vent >= scheme.options.vent_hours_min

    def done(mdc, adrg, drg, level, status, flags):
        return Result(mdc, adrg, drg, level, STATUS_NAMES[status], flags, [], steps or [])

    vent_note = scheme.vent_note_adrg

    def vent_flag(adrg_index: int) -> int:
        if vent_note >= 0 and vent >= scheme.options.vent_hours_min and adrg_index != vent_note:
            return NOTE_VENT_NO_CODE
        return 0

    if not dx or dx[0] == -2:
        if steps is not None:
            steps.append("no diagnosis: no principal diagnosis")
        return done(None, None, "0000", 0, NO_PDX, flags)
    age = case.age if case.age is not None else -1
    if (age == 0 and case.age_days is None) or (
            case.age_days is not None and case.age_days < NEWBORN_DAYS and case.birth_weight is None):
        if steps is not None:
            steps.append(f"newborn data missing: age {case.age}, age in days {case.age_days}, birth weight "
                         f"{case.birth_weight} (a case under {NEWBORN_DAYS} days needs a birth weight; "
                         f"age 0 needs age in days)")
        return done(None, None, "0000", 0, MISSING_NEWBORN, flags)
    if dx[0] < 0:
        if steps is not None:
            steps.append("the principal diagnosis is not in the scheme's dictionary")
        return done(None, None, "0000", 0, UNKNOWN_PDX, flags)

    pdx = dx[0]
    ppx = px[0] if px else -1
    sex_blocked = False
    for mi in range(len(scheme.mdc_codes)):
        mcode = scheme.mdc_codes[mi]
        lid = int(a["mdc_pdx_list"][mi])
        if lid < 0:
            entry = ppx >= 0 and bool(a["px_or"][ppx])
            if vent_ok and scheme.vent_adrg >= 0 and int(a["adrg_mdc"][scheme.vent_adrg]) == mi:
                entry = True
            if not entry:
                continue
            if steps is not None:
                steps.append(f"{mcode}: entered, the principal procedure "
                             f"{scheme.px_codes[ppx] if ppx >= 0 else ''} is an operating-room procedure")
        else:
            if pdx not in lists.get(lid):
                continue
            if a["mdc_newborn"][mi] and age != 0:
                if steps is not None:
                    steps.append(f"{mcode}: principal diagnosis in its table, skipped: age {age} is not 0")
                continue
            if a["mdc_trauma"][mi]:
                regions = sorted({int(a["dx_region"][d]) for d in dx if d >= 0 and a["dx_region"][d] >= 0})
                if steps is not None:
                    steps.append(f"{mcode}: principal diagnosis in its table; body regions: "
                                 + (", ".join(scheme.region_names[r] for r in regions) or "none"))
                if len(regions) < 2:
                    if steps is not None:
                        steps.append(f"{mcode}: skipped, fewer than two body regions")
                    continue
            msex = int(a["mdc_sex"][mi])
            if msex and sex != msex:
                sex_blocked = True
                flags |= NOTE_SEX_SKIPPED
                if steps is not None:
                    steps.append(f"{mcode}: principal diagnosis in its table, but the MDC is for sex {msex} "
                                 f"and the case has sex {sex}: skipped")
                continue
            if steps is not None:
                steps.append(f"{mcode}: entered, principal diagnosis {scheme.dx_codes[pdx]} is in its table")
        for k in range(int(a["mdc_adrg_off"][mi]), int(a["mdc_adrg_off"][mi + 1])):
            ai = int(a["mdc_adrg_val"][k])
            if not _adrg_matches(scheme, lists, ai, dx, px, case, vent_ok, steps):
                continue
            adrg = scheme.adrg_codes[ai]
            if steps is not None:
                steps.append(f"ADRG {adrg} {scheme.adrg_names[ai]}")
            level = severity(scheme, dx, steps)
            has_mcc = level == 2
            has_cc = level >= 1
            for j in range(int(a["adrg_drg_off"][ai]), int(a["adrg_drg_off"][ai + 1])):
                split = int(a["drg_split"][j])
                if split == SPLIT_MCC and not has_mcc:
                    continue
                if split == SPLIT_CC and not has_cc:
                    continue
                drg = scheme.drg_codes[j]
                if steps is not None:
                    steps.append(f"DRG {drg} {scheme.drg_names[j]} (CC level {level})")
                if mi == scheme.pregnancy_mdc and sex == 1:
                    flags |= NOTE_MALE_PREGNANCY
                return done(mcode, adrg, drg, level, OK, flags | vent_flag(ai))
            if steps is not None:
                steps.append(f"no DRG of {adrg} fits CC level {level}")
            return done(mcode, adrg, "0000", level, NO_DRG, flags | vent_flag(ai))
        flags |= NOTE_MDC_FELL_THROUGH
        if steps is not None:
            steps.append(f"{mcode}: none of its ADRGs matched; trying the next MDC")
    if steps is not None:
        steps.append("no MDC took the case: " + (
            "the principal diagnosis belongs to a sex-specific MDC of the other sex" if sex_blocked else
            f"ungroupable (the principal diagnosis {scheme.dx_codes[pdx]} is in no MDC's principal-diagnosis "
            f"table, or no ADRG of its MDC matched)"))
    return done(None, None, "0000", 0, INVALID_SEX if sex_blocked else UNGROUPABLE, flags | vent_flag(-1))


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
    res = group_encoded(scheme, case, dx_ids, px_ids, explain=explain)
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
    adrg_of = {c: i for i, c in enumerate(scheme.adrg_codes)}
    drg_of = {c: i for i, c in enumerate(scheme.drg_codes)}
    status_of = {s: i for i, s in enumerate(STATUS_NAMES)}
    n = len(sex)
    out = {"mdc": np.empty(n, np.int16), "adrg": np.empty(n, np.int16), "drg": np.empty(n, np.int16),
           "cc_level": np.empty(n, np.int8), "status": np.empty(n, np.int8), "flags": np.empty(n, np.int16)}
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
        out["status"][i] = status_of[r.status]
        out["flags"][i] = r.note_flags
    return out
