"""The compiled, versioned grouping scheme: integer-coded arrays plus a manifest, in one zip file.

A :class:`Scheme` is what both groupers read (the plain-Python reference in ``grouper.reference`` and the
numba kernel in ``grouper.kernel``): every code is an integer id, every code list is a sorted slice of one
values array (CSR: ``list_off``/``list_val``), every rule is a row of small integer tables. The file is a
zip of ``manifest.json`` (scheme name, version, options, source files with sha256, counts), ``names.json``
(the code and group strings) and one ``.npy`` per array; loading it needs only the standard library and
numpy.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from grouper.rules.model import (ANY_DX_IN, CHECK_GRAY, CHECK_INVALID, ENTRY_PDX, ENTRY_PPX_OR, PDX_IN, SDX_IN,
                                 CodeDictionary, RuleSet)

FORMAT_VERSION = 2      # 2: MDC entry kinds, code checks, rule labels and the edition's behaviour
BIG = 2**31 - 1

# severity split of a DRG (the DRG code's last digit, read against the ADRG's other DRGs)
SPLIT_ALWAYS, SPLIT_MCC, SPLIT_CC = 0, 1, 2

ARRAY_FIELDS = (
    "dx_in_dict", "px_in_dict", "dx_sev", "dx_cc_table", "dx_excl_off", "dx_excl_val", "px_or", "dx_region",
    "list_off", "list_val", "list_is_px",
    "mdc_pdx_list", "mdc_sex", "mdc_newborn", "mdc_trauma", "mdc_adrg_off", "mdc_adrg_val",
    "adrg_mdc", "adrg_surgical", "adrg_alt_off", "alt_clause_off", "clause_kind", "clause_list",
    "adrg_age_min", "adrg_age_max", "adrg_w_min", "adrg_w_max", "adrg_drg_off", "drg_split", "drg_adrg",
    "mdc_entry", "dx_check", "px_check",
)


@dataclass(frozen=True)
class SchemeOptions:
    """Options of a compiled scheme.

    Attributes
    ----------
    vent_hours_rule : bool
        Count ``vent_hours`` ≥ ``vent_hours_min`` as entering the ventilation ADRG (1.x AH1, 2.0 AH2) even
        without its procedure code. Off for the published sets (the tables list procedure codes); an opt-in
        for local schemes.
    vent_hours_min : int
        The threshold in hours (96).
    vent_adrg : str
        The ADRG the rule leads to, when its name speaks of ventilation (else the ADRG whose name says
        ventilation for 96 hours: 2.0's AH1 is ECMO, its AH2 ventilation; :func:`ventilation_adrg`).
    """

    vent_hours_rule: bool = False
    vent_hours_min: int = 96
    vent_adrg: str = "AH1"


def ventilation_adrg(adrg_codes: list[str], adrg_names: list[str], preferred: str) -> int:
    """Index of the ventilation ADRG: ``preferred`` when its name speaks of ventilation (呼吸机; 1.x AH1),
    else the ADRG whose name says ventilation for 96 hours (2.0 AH2, where AH1 is ECMO), else
    ``preferred`` whatever its name; -1 when there is none."""
    if preferred in adrg_codes and "呼吸机" in adrg_names[adrg_codes.index(preferred)]:
        return adrg_codes.index(preferred)
    for i, name in enumerate(adrg_names):
        if "呼吸机" in name and "96" in name:
            return i
    return adrg_codes.index(preferred) if preferred in adrg_codes else -1


def _csr(keys: np.ndarray, values: np.ndarray, n: int, unique: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(key, value) pairs → CSR ``off`` (int64[n+1]), ``val`` (int32): each key's values, sorted (and without
    repeats when ``unique``: a list may hold a code twice)."""
    order = np.lexsort((values, keys))
    keys, values = keys[order], values[order]
    if unique and len(keys):
        keep = np.r_[True, (keys[1:] != keys[:-1]) | (values[1:] != values[:-1])]
        keys, values = keys[keep], values[keep]
    off = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(keys, minlength=n), out=off[1:])
    return off, values.astype(np.int32)


@dataclass
class Scheme:
    """A compiled scheme (see the module docstring). Arrays are numpy; names are Python lists."""

    name: str
    version: str
    options: SchemeOptions
    dx_codes: list[str]
    px_codes: list[str]
    mdc_codes: list[str]          # in evaluation order
    mdc_names: list[str]
    adrg_codes: list[str]
    adrg_names: list[str]
    drg_codes: list[str]
    drg_names: list[str]
    list_labels: list[str]
    exclusion_tables: list[str]   # table index -> '7-N'
    region_names: list[str]
    arrays: dict[str, np.ndarray]
    manifest: dict = field(default_factory=dict)
    alt_labels: list[str] = field(default_factory=list)      # per alternative: its terms as the table writes them
    clause_labels: list[str] = field(default_factory=list)   # per clause: the list's header
    pregnancy_mdc: int = -1
    vent_adrg: int = -1
    _dx_index: dict | None = None
    _px_index: dict | None = None

    def __getattr__(self, item):  # arrays as attributes: scheme.list_off
        arrays = self.__dict__.get("arrays")
        if arrays is not None and item in arrays:
            return arrays[item]
        raise AttributeError(item)

    @property
    def rules(self) -> dict:
        """The edition's grouping behaviour from the manifest: ``edition``, ``ambiguous_groups``,
        ``newborn_data_required``."""
        return self.manifest.get("rules") or {"edition": "1.x", "ambiguous_groups": False,
                                              "newborn_data_required": True}

    @property
    def qy_codes(self) -> list[str]:
        """The ambiguous group of each MDC (``GQY`` for MDCG), in MDC order: what a case gets when its ADRG is
        medical and a principal procedure remains (schemes with ``ambiguous_groups``)."""
        return [m[-1] + "QY" for m in self.mdc_codes]

    @property
    def adrg_results(self) -> list[str]:
        """What the kernel's ``adrg`` index points into: the ADRGs, then the MDCs' ambiguous groups."""
        return list(self.adrg_codes) + self.qy_codes

    @property
    def drg_results(self) -> list[str]:
        """What the kernel's ``drg`` index points into: the DRGs, then the MDCs' ambiguous groups."""
        return list(self.drg_codes) + self.qy_codes

    @property
    def dx_index(self) -> dict[str, int]:
        """Diagnosis code → id."""
        if self._dx_index is None:
            self._dx_index = {c: i for i, c in enumerate(self.dx_codes)}
        return self._dx_index

    @property
    def px_index(self) -> dict[str, int]:
        """Procedure code → id."""
        if self._px_index is None:
            self._px_index = {c: i for i, c in enumerate(self.px_codes)}
        return self._px_index

    def code_lists(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The inverse of the code lists, for the kernel: for every dx (and px) id, the sorted ids of the
        lists that hold it (CSR ``dx_lst_off, dx_lst_val, px_lst_off, px_lst_val``). A membership test is
        then a scan of a few contiguous values of the code itself, instead of a random access into a list.
        Derived on first use, not stored in the file."""
        cached = self.__dict__.get("_code_lists")
        if cached is None:
            n_lists = len(self.list_off) - 1
            rows = np.repeat(np.arange(n_lists, dtype=np.int32), np.diff(self.list_off))
            vals = self.list_val.astype(np.int64)
            is_px = self.list_is_px.astype(bool)[rows]
            out = []
            for mask, n in ((~is_px, len(self.dx_codes)), (is_px, len(self.px_codes))):
                out += _csr(vals[mask], rows[mask], n)
            cached = tuple(out)
            self.__dict__["_code_lists"] = cached
        return cached

    def mdc_candidates(self) -> tuple[np.ndarray, np.ndarray]:
        """For every dx id, the MDCs a case with that principal diagnosis can enter, in the scheme's MDC order
        (CSR ``off, val``): the MDCs whose principal-diagnosis list holds the code, and those entered otherwise
        (by a procedure: 1.x MDCA; 2.0 MDCA, MDCP, MDCY and MDCZ, by rule, age, any diagnosis, regions). The
        kernel walks these few instead of testing every MDC's list. Derived on first use, not stored in the
        file."""
        cached = self.__dict__.get("_mdc_candidates")
        if cached is None:
            lists = np.asarray(self.arrays["mdc_pdx_list"])
            entry = np.asarray(self.arrays["mdc_entry"])
            codes, mdcs = [], []
            for mi, lid in enumerate(lists.tolist()):
                c = (np.arange(len(self.dx_codes), dtype=np.int64) if lid < 0 or entry[mi] != ENTRY_PDX
                     else self.list_codes(lid).astype(np.int64))
                codes.append(c)
                mdcs.append(np.full(len(c), mi, np.int64))
            cached = _csr(np.concatenate(codes), np.concatenate(mdcs), len(self.dx_codes), unique=True)
            self.__dict__["_mdc_candidates"] = cached
        return cached

    def adrg_candidates(self) -> tuple[np.ndarray, ...]:
        """Which ADRGs of an MDC a case can match, by its principal diagnosis and principal procedure, for
        the kernel (CSR arrays ``open_off, open_val, dx_gate_off, dx_gate_val, px_gate_off, px_gate_val``).

        Values are positions in ``mdc_adrg_val`` (the evaluation order), sorted. An ADRG is *gated* when each
        of its alternatives requires the principal procedure (or else the principal diagnosis) to be in a
        list: it can match only if ``ppx``/``pdx`` is in one of those lists, so it is listed under each code
        of them (``px_gate``/``dx_gate``). The other ADRGs are *open* (listed per MDC: ``open``). The kernel
        walks, in order, the MDC's open ADRGs merged with those its case's two codes open, and evaluates each
        with its full rule: the gate only skips ADRGs whose rule cannot hold. Derived on first use."""
        cached = self.__dict__.get("_adrg_candidates")
        if cached is None:
            a = self.arrays
            kinds, lists = a["clause_kind"], a["clause_list"]
            from grouper.rules.model import PDX_IN, PPX_IN

            n_mdc = len(self.mdc_codes)
            open_pos: list[list[int]] = [[] for _ in range(n_mdc)]
            gated: dict[str, tuple[list, list]] = {"dx": ([], []), "px": ([], [])}
            for mi in range(n_mdc):
                for k in range(int(a["mdc_adrg_off"][mi]), int(a["mdc_adrg_off"][mi + 1])):
                    ai = int(a["mdc_adrg_val"][k])
                    gates = []
                    for alt in range(int(a["adrg_alt_off"][ai]), int(a["adrg_alt_off"][ai + 1])):
                        clauses = range(int(a["alt_clause_off"][alt]), int(a["alt_clause_off"][alt + 1]))
                        gate = (next((("px", int(lists[c])) for c in clauses if kinds[c] == PPX_IN), None)
                                or next((("dx", int(lists[c])) for c in clauses if kinds[c] == PDX_IN), None))
                        if gate is None:
                            break
                        gates.append(gate)
                    else:
                        if gates and ai != self.vent_adrg:   # the counted-hours ADRG matches without codes
                            for side, lid in gates:
                                codes = self.list_codes(lid)
                                gated[side][0].append(codes.astype(np.int64))
                                gated[side][1].append(np.full(len(codes), k, np.int64))
                            continue
                    open_pos[mi].append(k)
            open_off = np.zeros(n_mdc + 1, np.int64)
            open_off[1:] = np.cumsum([len(x) for x in open_pos])
            out = [open_off, np.asarray([k for x in open_pos for k in x], np.int32)]
            for side, n in (("dx", len(self.dx_codes)), ("px", len(self.px_codes))):
                codes, pos = gated[side]
                out += _csr(np.concatenate(codes) if codes else np.zeros(0, np.int64),
                            np.concatenate(pos) if pos else np.zeros(0, np.int64), n, unique=True)
            cached = tuple(out)
            self.__dict__["_adrg_candidates"] = cached
        return cached

    @property
    def vent_note_adrg(self) -> int:
        """Index of the ventilation ADRG, for the data note when ``vent_hours`` is high but the case did not
        reach it (-1 when the scheme has no such ADRG or counts the hours): the ADRG whose name says
        ventilation for 96 hours (1.x AH1, 2.0 AH2), else ``options.vent_adrg``."""
        if self.vent_adrg >= 0:
            return -1
        return ventilation_adrg(self.adrg_codes, self.adrg_names, self.options.vent_adrg)

    def list_codes(self, list_id: int) -> np.ndarray:
        """The sorted ids of one code list."""
        return self.list_val[self.list_off[list_id]:self.list_off[list_id + 1]]

    # ---------------------------------------------------------------- file format
    def save(self, path: str | Path) -> Path:
        """Write the scheme file (a zip: manifest.json, names.json, one .npy per array)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        names = {k: getattr(self, k) for k in ("dx_codes", "px_codes", "mdc_codes", "mdc_names", "adrg_codes",
                                               "adrg_names", "drg_codes", "drg_names", "list_labels",
                                               "exclusion_tables", "region_names", "alt_labels", "clause_labels")}
        names["pregnancy_mdc"] = self.pregnancy_mdc
        names["vent_adrg"] = self.vent_adrg
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("manifest.json", json.dumps(self.manifest, ensure_ascii=False, indent=1))
            zf.writestr("names.json", json.dumps(names, ensure_ascii=False, separators=(",", ":")))
            for k in ARRAY_FIELDS:
                buf = io.BytesIO()
                np.save(buf, self.arrays[k], allow_pickle=False)
                zf.writestr(f"arrays/{k}.npy", buf.getvalue())
        return path


def load_scheme(path: str | Path) -> Scheme:
    """Load a scheme file written by :meth:`Scheme.save` (standard library + numpy only).

    Raises
    ------
    drg.errors.InputError
        When the file is missing or not a scheme file.
    """
    from grouper.errors import InputError

    path = Path(path)
    if not path.is_file():
        raise InputError("scheme file not found", file=str(path))
    try:
        with zipfile.ZipFile(path) as zf:
            manifest = json.loads(zf.read("manifest.json"))
            names = json.loads(zf.read("names.json"))
            arrays = {k: np.load(io.BytesIO(zf.read(f"arrays/{k}.npy")), allow_pickle=False)
                      for k in ARRAY_FIELDS}
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise InputError(f"not a scheme file ({exc})", file=str(path)) from None
    if manifest.get("format_version") != FORMAT_VERSION:
        raise InputError(f"scheme format {manifest.get('format_version')} is not {FORMAT_VERSION}; rebuild it",
                         file=str(path))
    opts = SchemeOptions(**manifest.get("options", {}))
    pregnancy_mdc = names.pop("pregnancy_mdc")
    vent_adrg = names.pop("vent_adrg")
    return Scheme(name=manifest["scheme"], version=manifest.get("version", ""), options=opts, arrays=arrays,
                  manifest=manifest, pregnancy_mdc=pregnancy_mdc, vent_adrg=vent_adrg, **names)


# -------------------------------------------------------------------------------------------------------
# compilation

def _drg_splits(adrg: str, drgs: list[str]) -> list[int]:
    """Split type of each DRG of an ADRG, from the code's last digit (1 MCC, 3 CC, 5 none, 9 no split)."""
    out = []
    for d in drgs:
        s = d[3]
        if s == "1":
            out.append(SPLIT_MCC)  # 伴严重并发症或合并症: an MCC
        elif s == "3":
            out.append(SPLIT_CC)
        else:
            out.append(SPLIT_ALWAYS)
    return out


class _CodeIds:
    """An id for every code: the dictionary's codes first, in file order; codes a rule or list uses that the
    dictionary lacks are appended (in order of first use) and recorded with where they were used."""

    def __init__(self, codes: CodeDictionary) -> None:
        self.dx_codes, self.px_codes = list(codes.dx), list(codes.px)
        self.n_dict_dx, self.n_dict_px = len(self.dx_codes), len(self.px_codes)
        self._dx = {c: i for i, c in enumerate(self.dx_codes)}
        self._px = {c: i for i, c in enumerate(self.px_codes)}
        self.missing_dx: dict[str, set] = {}
        self.missing_px: dict[str, set] = {}

    def dx(self, code: str, where: str) -> int:
        return self._intern(code, where, self._dx, self.dx_codes, self.n_dict_dx, self.missing_dx)

    def px(self, code: str, where: str) -> int:
        return self._intern(code, where, self._px, self.px_codes, self.n_dict_px, self.missing_px)

    @staticmethod
    def _intern(code, where, index, code_list, n_dict, missing) -> int:
        if code not in index:
            index[code] = len(code_list)
            code_list.append(code)
        if index[code] >= n_dict:
            missing.setdefault(code, set()).add(where)
        return index[code]

    def report(self, quiet_px: set[str]) -> list[str]:
        """The compile-report lines on codes missing from the dictionary (``quiet_px``: sources whose own
        missing codes are reported elsewhere)."""
        out = []
        missing_px = {c: w for c, w in self.missing_px.items() if not w <= quiet_px}
        for side, missing, file in (("diagnosis", self.missing_dx, "ZD_INFO"), ("procedure", missing_px, "SS_INFO")):
            if missing:
                out.append(f"{len(missing)} {side} codes used by the rules are missing from the dictionary "
                           f"({file}): " + ", ".join(sorted(missing)[:12]) + (" …" if len(missing) > 12 else ""))
        return out


class _CodeLists:
    """The scheme's code lists (each a sorted, repeat-free array of ids), with a label and side per list."""

    def __init__(self) -> None:
        self.lists: list[np.ndarray] = []
        self.is_px: list[int] = []
        self.labels: list[str] = []

    def add(self, ids: list[int], is_px: bool, label: str) -> int:
        self.lists.append(np.unique(np.asarray(ids, dtype=np.int32)))
        self.is_px.append(int(is_px))
        self.labels.append(label)
        return len(self.lists) - 1

    def arrays(self) -> dict[str, np.ndarray]:
        off = np.zeros(len(self.lists) + 1, np.int64)
        off[1:] = np.cumsum([len(x) for x in self.lists])
        val = np.concatenate(self.lists).astype(np.int32) if self.lists else np.zeros(0, np.int32)
        return {"list_off": off, "list_val": val, "list_is_px": np.asarray(self.is_px, np.uint8)}


def compile_scheme(rs: RuleSet, codes: CodeDictionary, *, options: SchemeOptions | None = None,
                   version: str = "", extra_sources: dict[str, str] | None = None) -> tuple[Scheme, list[str]]:
    """Compile a rule set and a code dictionary into a :class:`Scheme`.

    The steps: MDCs in evaluation order (tables, sex, entry), ADRGs (alternatives → clauses → lists), DRGs
    per ADRG with their split, CC/MCC and exclusion tables, per-code arrays (operating-room procedures, body
    regions, the 2.0 code checks), the manifest.

    Returns
    -------
    (Scheme, list of str)
        The scheme and the compile report (codes used by rules but missing from the dictionary, …).
    """
    options = options or SchemeOptions()
    report: list[str] = []
    ids = _CodeIds(codes)
    lists = _CodeLists()
    mdc_codes, mdc_arrays = _compile_mdcs(rs, ids, lists)
    adrg_codes, adrg_arrays, alt_labels, clause_labels = _compile_adrgs(rs, ids, lists, mdc_codes)
    drg_codes, drg_arrays = _compile_drgs(rs, adrg_codes, report)
    severity, tables = _severity_entries(rs, ids)
    code_arrays = _compile_code_arrays(rs, codes, ids, report)     # the last step that interns codes
    severity_arrays = _severity_arrays(*severity, len(ids.dx_codes))
    arrays = {**severity_arrays, **code_arrays, **lists.arrays(), **mdc_arrays, **adrg_arrays, **drg_arrays}
    arrays = {k: arrays[k] for k in ARRAY_FIELDS}
    report += ids.report(quiet_px={"SS_VALID.dat"})
    manifest = _manifest(rs, codes, options, version, extra_sources, report, ids, lists, arrays,
                         len(mdc_codes), len(adrg_codes), len(drg_codes))
    scheme = Scheme(
        name=rs.name, version=manifest["version"], options=options, dx_codes=ids.dx_codes, px_codes=ids.px_codes,
        mdc_codes=mdc_codes, mdc_names=[rs.mdcs.get(m, "") for m in mdc_codes], adrg_codes=adrg_codes,
        adrg_names=[rs.adrgs[a].name for a in adrg_codes], drg_codes=drg_codes,
        drg_names=[rs.drgs[d] for d in drg_codes], list_labels=lists.labels, exclusion_tables=tables,
        region_names=list(rs.trauma_regions), arrays=arrays, manifest=manifest, alt_labels=alt_labels,
        clause_labels=clause_labels,
        pregnancy_mdc=mdc_codes.index(rs.pregnancy_mdc) if rs.pregnancy_mdc in mdc_codes else -1,
        vent_adrg=(ventilation_adrg(adrg_codes, [rs.adrgs[a].name for a in adrg_codes], options.vent_adrg)
                   if options.vent_hours_rule else -1),
    )
    return scheme, report


def _compile_mdcs(rs: RuleSet, ids: _CodeIds, lists: _CodeLists) -> tuple[list[str], dict[str, np.ndarray]]:
    """MDCs in evaluation order: principal-diagnosis table, sex, newborn and trauma marks, entry kind."""
    mdc_codes = list(rs.mdc_order or rs.mdcs)
    pdx_list, sex, newborn, trauma, entry = [], [], [], [], []
    for m in mdc_codes:
        pdx = rs.mdc_principal_dx.get(m)
        pdx_list.append(lists.add([ids.dx(c, f"{m} 主诊表") for c in pdx], False, f"{m} 主诊表") if pdx else -1)
        sex.append(rs.mdc_sex.get(m, 0))
        newborn.append(int(m == rs.newborn_mdc))
        trauma.append(int(m == rs.trauma_mdc))
        entry.append(rs.mdc_entry.get(m, ENTRY_PDX if pdx else ENTRY_PPX_OR))
    return mdc_codes, dict(mdc_pdx_list=np.asarray(pdx_list, np.int32), mdc_sex=np.asarray(sex, np.int8),
                           mdc_newborn=np.asarray(newborn, np.uint8), mdc_trauma=np.asarray(trauma, np.uint8),
                           mdc_entry=np.asarray(entry, np.int8))


def _compile_adrgs(rs: RuleSet, ids: _CodeIds, lists: _CodeLists, mdc_codes: list[str]):
    """ADRGs → alternatives → clauses → code lists, newborn bands, and each MDC's ADRGs in evaluation order
    (procedural ADRGs, second letter A–Q, before medical ones, table order otherwise)."""
    adrg_codes = list(rs.adrgs)
    adrg_mdc, adrg_surg, alt_off, clause_off, ckind, clist = [], [], [0], [0], [], []
    alt_labels: list[str] = []
    clause_labels: list[str] = []
    amin, amax, wmin, wmax = [], [], [], []
    for a in adrg_codes:
        r = rs.adrgs[a]
        adrg_mdc.append(mdc_codes.index(r.mdc) if r.mdc in mdc_codes else -1)
        adrg_surg.append(int(a[1] <= "Q"))
        for k, alt in enumerate(r.conditions):
            for cl in alt:
                if cl.codes:
                    is_dx = cl.kind in (PDX_IN, ANY_DX_IN, SDX_IN)
                    code_ids = [ids.dx(c, a) if is_dx else ids.px(c, a) for c in cl.codes]
                    lid = lists.add(code_ids, not is_dx, f"{a} {cl.label}")
                else:
                    lid = -1
                ckind.append(cl.kind)
                clist.append(lid)
                clause_labels.append(cl.label)
            clause_off.append(len(ckind))
            alt_labels.append(r.alt_labels[k] if k < len(r.alt_labels) else "")
        alt_off.append(len(clause_off) - 1)
        amin.append(r.age_days_min if r.age_days_min is not None else -1)
        amax.append(r.age_days_max if r.age_days_max is not None else BIG)
        wmin.append(r.weight_min if r.weight_min is not None else -1)
        wmax.append(r.weight_max if r.weight_max is not None else BIG)
    mdc_adrg_off, mdc_adrg_val = [0], []
    for mi in range(len(mdc_codes)):
        mine = [i for i in range(len(adrg_codes)) if adrg_mdc[i] == mi]
        mdc_adrg_val.extend([i for i in mine if adrg_surg[i]] + [i for i in mine if not adrg_surg[i]])
        mdc_adrg_off.append(len(mdc_adrg_val))
    arrays = dict(
        mdc_adrg_off=np.asarray(mdc_adrg_off, np.int64), mdc_adrg_val=np.asarray(mdc_adrg_val, np.int32),
        adrg_mdc=np.asarray(adrg_mdc, np.int32), adrg_surgical=np.asarray(adrg_surg, np.uint8),
        adrg_alt_off=np.asarray(alt_off, np.int64), alt_clause_off=np.asarray(clause_off, np.int64),
        clause_kind=np.asarray(ckind, np.int8), clause_list=np.asarray(clist, np.int32),
        adrg_age_min=np.asarray(amin, np.int32), adrg_age_max=np.asarray(amax, np.int32),
        adrg_w_min=np.asarray(wmin, np.int32), adrg_w_max=np.asarray(wmax, np.int32))
    return adrg_codes, arrays, alt_labels, clause_labels


def _compile_drgs(rs: RuleSet, adrg_codes: list[str], report: list[str]):
    """DRGs grouped per ADRG in code order, each with its severity split."""
    a_index = {a: i for i, a in enumerate(adrg_codes)}
    drg_codes: list[str] = []
    drg_split: list[int] = []
    drg_adrg: list[int] = []
    adrg_drg_off = [0]
    by_adrg: dict[str, list[str]] = {}
    for d in rs.drgs:
        by_adrg.setdefault(d[:3], []).append(d)
    for a in adrg_codes:
        ds = sorted(by_adrg.get(a, []))
        for d, s in zip(ds, _drg_splits(a, ds)):
            drg_codes.append(d)
            drg_split.append(s)
            drg_adrg.append(a_index[a])
        adrg_drg_off.append(len(drg_codes))
    orphan_drgs = [d for d in rs.drgs if d[:3] not in a_index]
    if orphan_drgs:
        report.append(f"{len(orphan_drgs)} DRGs of 3_DRG.txt have no ADRG: {', '.join(orphan_drgs[:10])}")
    return drg_codes, dict(adrg_drg_off=np.asarray(adrg_drg_off, np.int64), drg_split=np.asarray(drg_split, np.int8),
                           drg_adrg=np.asarray(drg_adrg, np.int32))


def _severity_entries(rs: RuleSet, ids: _CodeIds):
    """CC/MCC level and exclusion table per diagnosis id, and the exclusion tables each principal diagnosis is
    in. Returns ``((sev, dx_tables), tables)``, ``tables`` the exclusion table ids in index order."""
    tables = sorted(set(rs.exclusions) | {t for t in list(rs.mcc.values()) + list(rs.cc.values()) if t},
                    key=lambda t: [int(x) if x.isdigit() else x for x in t.replace("-", " ").split()])
    t_index = {t: i for i, t in enumerate(tables)}
    sev: dict[int, tuple[int, int]] = {}
    for c, t in rs.cc.items():
        sev[ids.dx(c, "6_CC.txt")] = (1, t_index[t] if t else -1)
    for c, t in rs.mcc.items():
        sev[ids.dx(c, "5_MCC.txt")] = (2, t_index[t] if t else -1)
    dx_tables: dict[int, list[int]] = {}
    for t, members in rs.exclusions.items():
        for c in members:
            dx_tables.setdefault(ids.dx(c, f"表 {t}"), []).append(t_index[t])
    return (sev, dx_tables), tables


def _severity_arrays(sev: dict, dx_tables: dict, n_dx: int) -> dict[str, np.ndarray]:
    """The severity entries as arrays over every diagnosis id (CSR for the principal's exclusion tables)."""
    dx_sev = np.zeros(n_dx, np.int8)
    dx_cc_table = np.full(n_dx, -1, np.int32)
    for i, (s, t) in sev.items():
        dx_sev[i], dx_cc_table[i] = s, t
    counts = np.zeros(n_dx + 1, np.int64)
    for i, ts in dx_tables.items():
        counts[i + 1] = len(ts)
    dx_excl_off = np.cumsum(counts)
    dx_excl_val = np.zeros(int(dx_excl_off[-1]), np.int32)
    for i, ts in dx_tables.items():
        dx_excl_val[dx_excl_off[i]:dx_excl_off[i + 1]] = sorted(ts)
    return dict(dx_sev=dx_sev, dx_cc_table=dx_cc_table, dx_excl_off=dx_excl_off, dx_excl_val=dx_excl_val)


def _compile_code_arrays(rs: RuleSet, codes: CodeDictionary, ids: _CodeIds, report: list[str]) -> dict:
    """Per-code arrays: in the dictionary, operating-room procedure, body region, the 2.0 code checks. The
    last step that gives codes ids (body regions, SS_VALID, the check lists): the arrays run over them all."""
    region_of: dict[int, int] = {}
    for ri, (region, members) in enumerate(rs.trauma_regions.items()):
        for c in members:
            region_of[ids.dx(c, f"{rs.trauma_mdc} {region}")] = ri   # a code listed twice keeps its last region
    or_ids = [ids.px(c, "SS_VALID.dat") for c in codes.or_px]
    dx_check_ids = [(ids.dx(c, "code checks"), k) for c, k in rs.dx_checks.items()]
    px_check_ids = [(ids.px(c, "code checks"), k) for c, k in rs.px_checks.items()]
    n_dx, n_px = len(ids.dx_codes), len(ids.px_codes)
    px_or = np.zeros(n_px, np.uint8)
    px_or[or_ids] = 1
    dx_region = np.full(n_dx, -1, np.int8)
    for i, r in region_of.items():
        dx_region[i] = r
    dx_in_dict = np.zeros(n_dx, np.uint8)
    dx_in_dict[:ids.n_dict_dx] = 1
    px_in_dict = np.zeros(n_px, np.uint8)
    px_in_dict[:ids.n_dict_px] = 1
    dx_check = np.zeros(n_dx, np.uint8)
    for i, k in dx_check_ids:
        dx_check[i] = k
    px_check = np.zeros(n_px, np.uint8)
    for i, k in px_check_ids:
        px_check[i] = k
    or_not_in_dict = sum(1 for i in or_ids if i >= ids.n_dict_px)
    if or_not_in_dict:
        report.append(f"{or_not_in_dict} operating-room procedures of SS_VALID are missing from SS_INFO")
    for side, pairs, n_dict in (("diagnosis", dx_check_ids, ids.n_dict_dx), ("procedure", px_check_ids, ids.n_dict_px)):
        beyond = sum(1 for i, _ in pairs if i >= n_dict)
        if beyond:
            report.append(f"{beyond} {side} codes of the invalid/gray lists are missing from the dictionary")
    return dict(px_or=px_or, dx_region=dx_region, dx_in_dict=dx_in_dict, px_in_dict=px_in_dict, dx_check=dx_check,
                px_check=px_check)


def _manifest(rs, codes, options, version, extra_sources, report, ids, lists, arrays, n_mdc, n_adrg, n_drg) -> dict:
    """The manifest: format, name, version (a digest of the sources unless given), options, the edition's
    behaviour, counts, sources with sha256, the reader's notes and the compile report."""
    sources = dict(rs.source_files)
    sources.update({f"codes/{k}": v for k, v in codes.source_files.items()})
    sources.update(extra_sources or {})
    digest = hashlib.sha256(json.dumps(sorted(sources.items())).encode()).hexdigest()[:12]
    counts = {"mdcs": n_mdc, "adrgs": n_adrg, "drgs": n_drg, "dx_codes": len(ids.dx_codes),
              "px_codes": len(ids.px_codes), "dx_codes_in_dictionary": ids.n_dict_dx,
              "px_codes_in_dictionary": ids.n_dict_px, "or_procedures": int(arrays["px_or"].sum()),
              "mcc": len(rs.mcc), "cc": len(rs.cc), "exclusion_tables": len(rs.exclusions),
              "code_lists": len(lists.lists)}
    if rs.dx_checks or rs.px_checks:
        counts |= {"invalid_dx": int((arrays["dx_check"] == CHECK_INVALID).sum()),
                   "gray_dx": int((arrays["dx_check"] == CHECK_GRAY).sum()),
                   "invalid_px": int((arrays["px_check"] == CHECK_INVALID).sum()),
                   "gray_px": int((arrays["px_check"] >= CHECK_GRAY).sum())}
    return {
        "format_version": FORMAT_VERSION,
        "scheme": rs.name,
        "version": version or rs.version or digest,
        "options": {"vent_hours_rule": options.vent_hours_rule, "vent_hours_min": options.vent_hours_min,
                    "vent_adrg": options.vent_adrg},
        "rules": {"edition": rs.edition or "1.x", "ambiguous_groups": rs.ambiguous_groups,
                  "newborn_data_required": rs.newborn_data_required},
        "counts": counts,
        "sources": dict(sorted(sources.items())),
        "reader_notes": list(rs.notes),
        "compile_report": report,
    }
