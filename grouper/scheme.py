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

from grouper.rules.model import ANY_DX_IN, PDX_IN, CodeDictionary, RuleSet

FORMAT_VERSION = 1
BIG = 2**31 - 1

# severity split of a DRG (the DRG code's last digit, read against the ADRG's other DRGs)
SPLIT_ALWAYS, SPLIT_MCC, SPLIT_CC = 0, 1, 2

ARRAY_FIELDS = (
    "dx_in_dict", "px_in_dict", "dx_sev", "dx_cc_table", "dx_excl_off", "dx_excl_val", "px_or", "dx_region",
    "list_off", "list_val", "list_is_px",
    "mdc_pdx_list", "mdc_sex", "mdc_newborn", "mdc_trauma", "mdc_adrg_off", "mdc_adrg_val",
    "adrg_mdc", "adrg_surgical", "adrg_alt_off", "alt_clause_off", "clause_kind", "clause_list",
    "adrg_age_min", "adrg_age_max", "adrg_w_min", "adrg_w_max", "adrg_drg_off", "drg_split", "drg_adrg",
)


@dataclass(frozen=True)
class SchemeOptions:
    """Options of a compiled scheme.

    Attributes
    ----------
    vent_hours_rule : bool
        Count ``vent_hours`` ≥ ``vent_hours_min`` as entering the ventilation ADRG (AH1) even without its
        procedure code. Off for the published sets (the tables list procedure codes); an opt-in for local
        schemes.
    vent_hours_min : int
        The threshold in hours (96).
    vent_adrg : str
        The ADRG the rule leads to.
    """

    vent_hours_rule: bool = False
    vent_hours_min: int = 96
    vent_adrg: str = "AH1"


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
        (CSR ``off, val``): the MDCs whose principal-diagnosis list holds the code, and those entered by a
        procedure (no list: pre-MDC A). The kernel walks these few instead of testing every MDC's list.
        Derived on first use, not stored in the file."""
        cached = self.__dict__.get("_mdc_candidates")
        if cached is None:
            lists = np.asarray(self.arrays["mdc_pdx_list"])
            codes, mdcs = [], []
            for mi, lid in enumerate(lists.tolist()):
                c = (np.arange(len(self.dx_codes), dtype=np.int64) if lid < 0
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
        """Index of the ventilation ADRG (``options.vent_adrg``), for the data note when ``vent_hours`` is
        high but the case did not reach it (-1 when the scheme has no such ADRG or counts the hours)."""
        if self.vent_adrg >= 0 or self.options.vent_adrg not in self.adrg_codes:
            return -1
        return self.adrg_codes.index(self.options.vent_adrg)

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
                                               "exclusion_tables", "region_names")}
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


def compile_scheme(rs: RuleSet, codes: CodeDictionary, *, options: SchemeOptions | None = None,
                   version: str = "", extra_sources: dict[str, str] | None = None) -> tuple[Scheme, list[str]]:
    """Compile a rule set and a code dictionary into a :class:`Scheme`.

    Returns
    -------
    (Scheme, list of str)
        The scheme and the compile report (codes used by rules but missing from the dictionary, …).
    """
    options = options or SchemeOptions()
    report: list[str] = []
    dx_codes = list(codes.dx)
    px_codes = list(codes.px)
    dx_idx = {c: i for i, c in enumerate(dx_codes)}
    px_idx = {c: i for i, c in enumerate(px_codes)}
    n_dict_dx, n_dict_px = len(dx_codes), len(px_codes)
    missing_dx: dict[str, set] = {}
    missing_px: dict[str, set] = {}

    def interner(idx: dict, code_list: list, n_dict: int, missing: dict):
        """An id for every code a rule uses; codes beyond the dictionary are appended and recorded."""
        def code_id(c: str, where: str) -> int:
            if c not in idx:
                idx[c] = len(code_list)
                code_list.append(c)
            if idx[c] >= n_dict:
                missing.setdefault(c, set()).add(where)
            return idx[c]
        return code_id

    dx_id = interner(dx_idx, dx_codes, n_dict_dx, missing_dx)
    px_id = interner(px_idx, px_codes, n_dict_px, missing_px)

    lists: list[np.ndarray] = []
    list_is_px: list[int] = []
    list_labels: list[str] = []

    def add_list(ids: list[int], is_px: bool, label: str) -> int:
        lists.append(np.unique(np.asarray(ids, dtype=np.int32)))
        list_is_px.append(int(is_px))
        list_labels.append(label)
        return len(lists) - 1

    # MDCs in evaluation order
    mdc_codes = list(rs.mdc_order or rs.mdcs)
    mdc_pdx_list, mdc_sex, mdc_newborn, mdc_trauma = [], [], [], []
    for m in mdc_codes:
        pdx = rs.mdc_principal_dx.get(m)
        mdc_pdx_list.append(add_list([dx_id(c, f"{m} 主诊表") for c in pdx], False, f"{m} 主诊表") if pdx else -1)
        mdc_sex.append(rs.mdc_sex.get(m, 0))
        mdc_newborn.append(int(m == rs.newborn_mdc))
        mdc_trauma.append(int(m == rs.trauma_mdc))
    region_names = list(rs.trauma_regions)

    # ADRGs
    adrg_codes = list(rs.adrgs)
    a_index = {a: i for i, a in enumerate(adrg_codes)}
    adrg_mdc, adrg_surg, alt_off, clause_off, ckind, clist = [], [], [0], [0], [], []
    amin, amax, wmin, wmax = [], [], [], []
    for a in adrg_codes:
        r = rs.adrgs[a]
        adrg_mdc.append(mdc_codes.index(r.mdc) if r.mdc in mdc_codes else -1)
        adrg_surg.append(int(a[1] <= "Q"))
        for alt in r.conditions:
            for cl in alt:
                if cl.codes:
                    is_dx = cl.kind in (PDX_IN, ANY_DX_IN)
                    ids = [dx_id(c, a) if is_dx else px_id(c, a) for c in cl.codes]
                    lid = add_list(ids, not is_dx, f"{a} {cl.label}")
                else:
                    lid = -1
                ckind.append(cl.kind)
                clist.append(lid)
            clause_off.append(len(ckind))
        alt_off.append(len(clause_off) - 1)
        amin.append(r.age_days_min if r.age_days_min is not None else -1)
        amax.append(r.age_days_max if r.age_days_max is not None else BIG)
        wmin.append(r.weight_min if r.weight_min is not None else -1)
        wmax.append(r.weight_max if r.weight_max is not None else BIG)
    # ADRG order inside each MDC: procedural ADRGs (A–Q) before medical ones (R–Z), table order otherwise
    mdc_adrg_off, mdc_adrg_val = [0], []
    for mi, m in enumerate(mdc_codes):
        mine = [i for i, a in enumerate(adrg_codes) if adrg_mdc[i] == mi]
        mine = [i for i in mine if adrg_surg[i]] + [i for i in mine if not adrg_surg[i]]
        mdc_adrg_val.extend(mine)
        mdc_adrg_off.append(len(mdc_adrg_val))

    # DRGs, grouped per ADRG in table order
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

    # CC / MCC / exclusions
    tables = sorted(set(rs.exclusions) | {t for t in list(rs.mcc.values()) + list(rs.cc.values()) if t},
                    key=lambda t: [int(x) if x.isdigit() else x for x in t.replace("-", " ").split()])
    t_index = {t: i for i, t in enumerate(tables)}
    sev: dict[int, tuple[int, int]] = {}
    for c, t in rs.cc.items():
        sev[dx_id(c, "6_CC.txt")] = (1, t_index[t] if t else -1)
    for c, t in rs.mcc.items():
        sev[dx_id(c, "5_MCC.txt")] = (2, t_index[t] if t else -1)
    dx_tables: dict[int, list[int]] = {}
    for t, members in rs.exclusions.items():
        for c in members:
            dx_tables.setdefault(dx_id(c, f"表 {t}"), []).append(t_index[t])
    region_of: dict[int, int] = {}
    for ri, (region, members) in enumerate(rs.trauma_regions.items()):
        for c in members:
            region_of[dx_id(c, f"{rs.trauma_mdc} {region}")] = ri  # a code listed twice keeps its last region

    or_ids = [px_id(c, "SS_VALID.dat") for c in codes.or_px]
    n_dx, n_px = len(dx_codes), len(px_codes)
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
    px_or = np.zeros(n_px, np.uint8)
    px_or[or_ids] = 1
    dx_region = np.full(n_dx, -1, np.int8)
    for i, r in region_of.items():
        dx_region[i] = r
    dx_in_dict = np.zeros(n_dx, np.uint8)
    dx_in_dict[:n_dict_dx] = 1
    px_in_dict = np.zeros(n_px, np.uint8)
    px_in_dict[:n_dict_px] = 1
    missing_px = {c: w for c, w in missing_px.items() if w != {"SS_VALID.dat"}}
    or_not_in_dict = sum(1 for i in or_ids if i >= n_dict_px)
    if or_not_in_dict:
        report.append(f"{or_not_in_dict} operating-room procedures of SS_VALID are missing from SS_INFO")

    list_off = np.zeros(len(lists) + 1, np.int64)
    list_off[1:] = np.cumsum([len(x) for x in lists])
    list_val = np.concatenate(lists).astype(np.int32) if lists else np.zeros(0, np.int32)

    arrays = dict(
        dx_in_dict=dx_in_dict, px_in_dict=px_in_dict, dx_sev=dx_sev, dx_cc_table=dx_cc_table,
        dx_excl_off=dx_excl_off, dx_excl_val=dx_excl_val, px_or=px_or, dx_region=dx_region,
        list_off=list_off, list_val=list_val, list_is_px=np.asarray(list_is_px, np.uint8),
        mdc_pdx_list=np.asarray(mdc_pdx_list, np.int32), mdc_sex=np.asarray(mdc_sex, np.int8),
        mdc_newborn=np.asarray(mdc_newborn, np.uint8), mdc_trauma=np.asarray(mdc_trauma, np.uint8),
        mdc_adrg_off=np.asarray(mdc_adrg_off, np.int64), mdc_adrg_val=np.asarray(mdc_adrg_val, np.int32),
        adrg_mdc=np.asarray(adrg_mdc, np.int32), adrg_surgical=np.asarray(adrg_surg, np.uint8),
        adrg_alt_off=np.asarray(alt_off, np.int64), alt_clause_off=np.asarray(clause_off, np.int64),
        clause_kind=np.asarray(ckind, np.int8), clause_list=np.asarray(clist, np.int32),
        adrg_age_min=np.asarray(amin, np.int32), adrg_age_max=np.asarray(amax, np.int32),
        adrg_w_min=np.asarray(wmin, np.int32), adrg_w_max=np.asarray(wmax, np.int32),
        adrg_drg_off=np.asarray(adrg_drg_off, np.int64), drg_split=np.asarray(drg_split, np.int8),
        drg_adrg=np.asarray(drg_adrg, np.int32),
    )
    if missing_dx:
        report.append(f"{len(missing_dx)} diagnosis codes used by the rules are missing from the dictionary "
                      f"(ZD_INFO): " + ", ".join(sorted(missing_dx)[:12]) + (" …" if len(missing_dx) > 12 else ""))
    if missing_px:
        report.append(f"{len(missing_px)} procedure codes used by the rules are missing from the dictionary "
                      f"(SS_INFO): " + ", ".join(sorted(missing_px)[:12]) + (" …" if len(missing_px) > 12 else ""))

    sources = dict(rs.source_files)
    sources.update({f"codes/{k}": v for k, v in codes.source_files.items()})
    sources.update(extra_sources or {})
    digest = hashlib.sha256(json.dumps(sorted(sources.items())).encode()).hexdigest()[:12]
    manifest = {
        "format_version": FORMAT_VERSION,
        "scheme": rs.name,
        "version": version or rs.version or digest,
        "options": {"vent_hours_rule": options.vent_hours_rule, "vent_hours_min": options.vent_hours_min,
                    "vent_adrg": options.vent_adrg},
        "counts": {"mdcs": len(mdc_codes), "adrgs": len(adrg_codes), "drgs": len(drg_codes),
                   "dx_codes": n_dx, "px_codes": n_px, "dx_codes_in_dictionary": n_dict_dx,
                   "px_codes_in_dictionary": n_dict_px, "or_procedures": int(px_or.sum()),
                   "mcc": len(rs.mcc), "cc": len(rs.cc), "exclusion_tables": len(rs.exclusions),
                   "code_lists": len(lists)},
        "sources": dict(sorted(sources.items())),
        "reader_notes": list(rs.notes),
        "compile_report": report,
    }
    scheme = Scheme(
        name=rs.name, version=manifest["version"], options=options, dx_codes=dx_codes, px_codes=px_codes,
        mdc_codes=mdc_codes, mdc_names=[rs.mdcs.get(m, "") for m in mdc_codes], adrg_codes=adrg_codes,
        adrg_names=[rs.adrgs[a].name for a in adrg_codes], drg_codes=drg_codes,
        drg_names=[rs.drgs[d] for d in drg_codes], list_labels=list_labels, exclusion_tables=tables,
        region_names=region_names, arrays=arrays, manifest=manifest,
        pregnancy_mdc=mdc_codes.index(rs.pregnancy_mdc) if rs.pregnancy_mdc in mdc_codes else -1,
        vent_adrg=a_index.get(options.vent_adrg, -1) if options.vent_hours_rule else -1,
    )
    return scheme, report
