"""The numba grouping kernel: the logic of ``grouper.reference`` over integer-coded cases.

Cases come as flat arrays (one value per case) and CSR code lists (``dx_off``/``dx_val``, ``px_off``/
``px_val``; ids from the scheme's dictionary, ``-1`` for an unknown code); the scheme as its arrays. No
Python object is touched inside the loop. ``tests/grouper/test_twins.py`` runs every reference case through
both and requires identical results.

Code ids: ``-1`` unknown code, ``-2`` empty string (an empty principal diagnosis is no principal
diagnosis; an empty code elsewhere is ignored). Nullable inputs use ``-1`` for null (``age``, ``age_days``, ``birth_weight``, ``vent_hours``).

Speed notes: list membership scans the code's own few list ids (``Scheme.code_lists``: CSR from code to
the lists holding it) instead of searching a list; a case tries only the MDCs its principal diagnosis can
enter (``Scheme.mdc_candidates``) and, in each, only the ADRGs its principal diagnosis or procedure can open
(``Scheme.adrg_candidates``), in the order of the full walk; and the rule evaluation is written inline in one
function, because a numba call that passes arrays increments and decrements their reference counts on
every call (measured here: 2.7 µs per case with helper functions, 0.5 µs inline).
"""

from __future__ import annotations

import os

# Worker threads of the OpenMP layer spin for a while after each parallel loop by default; in a pipeline
# where a reader and a writer thread share the two cores with the kernel, that spinning takes their CPU
# (drg group --slim: 0.87 -> 0.75 s per 2 million cases). A value the user set is kept.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numba as nb
import numpy as np

from grouper.reference import (AMBIGUOUS, GRAY_PDX, GRAY_PPX, INFANT_DAYS, INVALID_PDX, INVALID_SEX, MISSING_NEWBORN,
                               NEWBORN_DAYS, NO_DRG, NO_PDX, NOTE_INVALID_PPX, NOTE_MALE_PREGNANCY,
                               NOTE_MDC_FELL_THROUGH, NOTE_SEX_SKIPPED, NOTE_SEX_UNKNOWN, NOTE_UNKNOWN_DX,
                               NOTE_UNKNOWN_PX, NOTE_VENT_NO_CODE, OK, UNGROUPABLE, UNKNOWN_PDX)
from grouper.rules.model import (ANY_DX_IN, ANY_PX, ANY_PX_IN, CHECK_GRAY, CHECK_INVALID, ENTRY_ANY_DX,
                                 ENTRY_NEWBORN_AGE, ENTRY_PDX, ENTRY_PPX_OR, ENTRY_REGIONS, NO_OR_PX, PDX_IN, PPX_IN,
                                 PPX_OR, SDX_IN)
from grouper.prefetch import prefetch as _prefetch
from grouper.scheme import BIG, SPLIT_CC, SPLIT_MCC, Scheme


#: How many cases ahead the walk prefetches a case's code lists (and twice that, its list bounds).
PREFETCH_AHEAD = 8


@nb.njit(cache=True, nogil=True, inline="always")
def _regions(dx_val, d0, d1, dx_region):
    """How many body regions the diagnoses ``dx_val[d0:d1]`` cover (inlined into the kernel)."""
    mask = 0
    for k in range(d0, d1):
        d = dx_val[k]
        if d >= 0 and dx_region[d] >= 0:
            mask |= 1 << dx_region[d]
    cnt = 0
    while mask:
        cnt += mask & 1
        mask >>= 1
    return cnt


@nb.njit(cache=True, nogil=True, inline="always")
def _in_list(lo, lv, code, lid):
    """Whether code ``code`` is in list ``lid``: its list ids ``lv[lo[code]:lo[code + 1]]`` are sorted."""
    for r in range(lo[code], lo[code + 1]):
        if lv[r] >= lid:
            return lv[r] == lid
    return False


@nb.njit(cache=True, nogil=True, inline="always")
def _any_in_list(vals, q0, q1, lo, lv, lid):
    """Whether any code of ``vals[q0:q1]`` (-1: a code the scheme does not know) is in list ``lid``."""
    for q in range(q0, q1):
        c = vals[q]
        if c >= 0 and _in_list(lo, lv, c, lid):
            return True
    return False


@nb.njit(cache=True, nogil=True, parallel=True)
def group_kernel(sex, age, age_days, weight, vent, dx_off, dx_val, px_off, px_val,
                 px_or, dx_sev, dx_cc_table, dx_excl_off, dx_excl_val, dx_region,
                 dx_lo, dx_lv, px_lo, px_lv, mdc_cand_off, mdc_cand_val,
                 open_off, open_val, dx_gate_off, dx_gate_val, px_gate_off, px_gate_val, mdc_pdx_list, mdc_sex,
                 mdc_newborn, mdc_trauma, mdc_entry, mdc_adrg_off, mdc_adrg_val,
                 adrg_mdc, adrg_surgical, adrg_alt_off, alt_clause_off, clause_kind, clause_list,
                 adrg_age_min, adrg_age_max, adrg_w_min, adrg_w_max, adrg_drg_off, drg_split, dx_check, px_check,
                 pregnancy_mdc, vent_adrg, vent_min, vent_note, ambiguous, newborn_required, code_checks, n_adrg, n_drg,
                 out_mdc, out_adrg, out_drg, out_cc_dx, out_status, out_flags, order):
    """Group every case; results into the ``out_*`` arrays (index into the scheme's code lists, -1 none;
    an ambiguous group is ``n_adrg + mdc`` / ``n_drg + mdc``, ``out_cc_dx`` a diagnosis id).

    Cases are walked in ``order`` (a permutation of the rows), each read and written at its own row."""
    n = dx_off.shape[0] - 1
    for jj in nb.prange(n):  # cases are independent: each writes only its own out_*[i]
        # the walk reads each case at a random row: fetch the bounds of a later case's code lists, and the
        # lists (and row) of a nearer one whose bounds were fetched before, while this case is grouped (a
        # prefetch never faults, also at the end of an empty list)
        if jj + 2 * PREFETCH_AHEAD < n:
            i2 = order[jj + 2 * PREFETCH_AHEAD]
            _prefetch(dx_off, i2)
            _prefetch(px_off, i2)
        if jj + PREFETCH_AHEAD < n:
            i1 = order[jj + PREFETCH_AHEAD]
            _prefetch(dx_val, dx_off[i1])
            _prefetch(px_val, px_off[i1])
            _prefetch(sex, i1)
            _prefetch(age, i1)
            _prefetch(age_days, i1)
            _prefetch(weight, i1)
            _prefetch(vent, i1)
        i = order[jj]
        d0 = dx_off[i]
        d1 = dx_off[i + 1]
        p0 = px_off[i]
        p1 = px_off[i + 1]
        flags = 0
        for k in range(d0 + 1, d1):
            if dx_val[k] == -1:
                flags |= NOTE_UNKNOWN_DX
                break
        for k in range(p0, p1):
            if px_val[k] == -1:
                flags |= NOTE_UNKNOWN_PX
                break
        s = sex[i]
        if s != 1 and s != 2:
            flags |= NOTE_SEX_UNKNOWN
        out_mdc[i] = -1
        out_adrg[i] = -1
        out_drg[i] = -1
        out_cc_dx[i] = -1
        v = vent[i]
        vent_ok = vent_adrg >= 0 and v >= vent_min
        a = age[i]
        ad = age_days[i]
        w = weight[i]
        if d1 == d0 or dx_val[d0] == -2:
            out_status[i] = NO_PDX
            out_flags[i] = flags
            continue
        if newborn_required and ((a == 0 and ad < 0) or (ad >= 0 and ad < NEWBORN_DAYS and w < 0)):
            out_status[i] = MISSING_NEWBORN
            out_flags[i] = flags
            continue
        pdx = dx_val[d0]
        if pdx < 0:
            out_status[i] = UNKNOWN_PDX
            out_flags[i] = flags
            continue
        if code_checks:                                # 2.0: invalid and gray principal codes
            ck = dx_check[pdx]
            if ck == CHECK_GRAY or ck == CHECK_INVALID:
                out_status[i] = GRAY_PDX if ck == CHECK_GRAY else INVALID_PDX
                out_flags[i] = flags
                continue
        ppx = px_val[p0] if p1 > p0 else -1
        ppx_present = p1 > p0 and px_val[p0] != -2    # a code stands first, known or not
        q0 = p0                                        # where "any position" starts
        if code_checks and ppx >= 0:
            ck = px_check[ppx]
            if ck == CHECK_GRAY:
                out_status[i] = GRAY_PPX
                out_flags[i] = flags
                continue
            if ck == CHECK_INVALID:                    # the slot is emptied; the others keep their places
                flags |= NOTE_INVALID_PPX
                ppx = -1
                ppx_present = False
                q0 = p0 + 1
        sex_blocked = False
        status = UNGROUPABLE
        found = False
        for mk in range(mdc_cand_off[pdx], mdc_cand_off[pdx + 1]):   # MDCs holding pdx, and pre-MDC A
            mi = mdc_cand_val[mk]
            lid = mdc_pdx_list[mi]
            entry = mdc_entry[mi]
            if entry == ENTRY_PDX:                     # (the candidates hold the principal in the table)
                if mdc_newborn[mi] != 0 and a != 0:
                    continue
                if mdc_trauma[mi] != 0 and _regions(dx_val, d0, d1, dx_region) < 2:
                    continue
            elif entry == ENTRY_PPX_OR:
                enter = ppx >= 0 and px_or[ppx] != 0
                if vent_ok and adrg_mdc[vent_adrg] == mi:
                    enter = True
                if not enter:
                    continue
            elif entry == ENTRY_NEWBORN_AGE:
                if ad < 0 or ad >= INFANT_DAYS or a > 0:
                    continue
            elif entry == ENTRY_ANY_DX:
                if not _any_in_list(dx_val, d0, d1, dx_lo, dx_lv, lid):
                    continue
            elif entry == ENTRY_REGIONS:
                if _regions(dx_val, d0, d1, dx_region) < 2:
                    continue
            # (ENTRY_ALWAYS: every case)
            msex = mdc_sex[mi]
            if msex != 0 and s != msex:
                sex_blocked = True
                flags |= NOTE_SEX_SKIPPED
                continue
            # the MDC's ADRGs in order, only those the case can match: the open ones merged with those
            # gated by its principal diagnosis or principal procedure (Scheme.adrg_candidates)
            hi = mdc_adrg_off[mi + 1]
            ia = open_off[mi]
            ea = open_off[mi + 1]
            ib = dx_gate_off[pdx]
            eb = dx_gate_off[pdx + 1]
            while ib < eb and dx_gate_val[ib] < mdc_adrg_off[mi]:
                ib += 1
            ic = 0
            ec = 0
            if ppx >= 0:
                ic = px_gate_off[ppx]
                ec = px_gate_off[ppx + 1]
                while ic < ec and px_gate_val[ic] < mdc_adrg_off[mi]:
                    ic += 1
            while True:
                k = hi
                if ia < ea:
                    k = open_val[ia]
                if ib < eb and dx_gate_val[ib] < k:
                    k = dx_gate_val[ib]
                if ic < ec and px_gate_val[ic] < k:
                    k = px_gate_val[ic]
                if k >= hi:
                    break
                if ia < ea and open_val[ia] == k:
                    ia += 1
                if ib < eb and dx_gate_val[ib] == k:
                    ib += 1
                if ic < ec and px_gate_val[ic] == k:
                    ic += 1
                ai = mdc_adrg_val[k]
                # --- the ADRG's rule (inline: a function call would refcount ~20 arrays per ADRG) ---
                matched = False
                if vent_ok and ai == vent_adrg:
                    matched = True
                else:
                    amin = adrg_age_min[ai]
                    amax = adrg_age_max[ai]
                    wmin = adrg_w_min[ai]
                    wmax = adrg_w_max[ai]
                    band_ok = True
                    if amin >= 0 or amax < BIG:
                        if ad < 0 or ad < amin or ad > amax:
                            band_ok = False
                    if band_ok and (wmin >= 0 or wmax < BIG):
                        if w < 0 or w < wmin or w > wmax:
                            band_ok = False
                    if band_ok:
                        for alt in range(adrg_alt_off[ai], adrg_alt_off[ai + 1]):
                            ok = True
                            for c in range(alt_clause_off[alt], alt_clause_off[alt + 1]):
                                kind = clause_kind[c]
                                lid = clause_list[c]
                                hit = False
                                if kind == PDX_IN:
                                    hit = _in_list(dx_lo, dx_lv, pdx, lid)
                                elif kind == PPX_IN:
                                    hit = ppx >= 0 and _in_list(px_lo, px_lv, ppx, lid)
                                elif kind == ANY_DX_IN:
                                    hit = _any_in_list(dx_val, d0, d1, dx_lo, dx_lv, lid)
                                elif kind == SDX_IN:
                                    hit = _any_in_list(dx_val, d0 + 1, d1, dx_lo, dx_lv, lid)
                                elif kind == ANY_PX_IN:
                                    hit = _any_in_list(px_val, q0, p1, px_lo, px_lv, lid)
                                elif kind == PPX_OR:
                                    hit = ppx >= 0 and px_or[ppx] != 0
                                elif kind == NO_OR_PX:
                                    hit = True
                                    for q in range(q0, p1):
                                        p = px_val[q]
                                        if p >= 0 and px_or[p] != 0:
                                            hit = False
                                            break
                                elif kind == ANY_PX:
                                    for q in range(q0, p1):
                                        if px_val[q] != -2:
                                            hit = True
                                            break
                                if not hit:
                                    ok = False
                                    break
                            if ok:
                                matched = True
                                break
                if not matched:
                    continue
                # --- severity: CC/MCC of the secondary diagnoses, exclusions applied ---
                e0 = dx_excl_off[pdx]
                e1 = dx_excl_off[pdx + 1]
                level = 0
                ccd = -1
                for q in range(d0 + 1, d1):
                    d = dx_val[q]
                    if d < 0:
                        continue
                    sv = dx_sev[d]
                    if sv == 0 or sv <= level:
                        continue
                    t = dx_cc_table[d]
                    cancelled = False
                    if t >= 0:
                        for e in range(e0, e1):
                            if dx_excl_val[e] == t:
                                cancelled = True
                                break
                    if not cancelled:
                        level = sv
                        ccd = d
                out_mdc[i] = mi
                out_cc_dx[i] = ccd
                found = True
                if ambiguous and adrg_surgical[ai] == 0 and ppx_present:   # 2.0: a medical ADRG, a procedure
                    out_adrg[i] = n_adrg + mi
                    out_drg[i] = n_drg + mi
                    status = AMBIGUOUS
                    break
                out_adrg[i] = ai
                status = NO_DRG
                for j in range(adrg_drg_off[ai], adrg_drg_off[ai + 1]):
                    sp = drg_split[j]
                    if sp == SPLIT_MCC and level < 2:
                        continue
                    if sp == SPLIT_CC and level < 1:
                        continue
                    out_drg[i] = j
                    status = OK
                    if mi == pregnancy_mdc and s == 1:
                        flags |= NOTE_MALE_PREGNANCY
                    break
                break
            if found:
                break
            flags |= NOTE_MDC_FELL_THROUGH
        if not found:
            status = INVALID_SEX if sex_blocked else UNGROUPABLE
        if vent_note >= 0 and v >= vent_min and out_adrg[i] != vent_note:   # (an ambiguous group is not it)
            flags |= NOTE_VENT_NO_CODE
        out_status[i] = status
        out_flags[i] = flags


@nb.njit(cache=True, nogil=True)
def cc_levels(cc_dx, dx_sev):
    """``cc_level`` from ``cc_dx``: the CC/MCC level of the code that set it, 0 where there is none."""
    out = np.zeros(cc_dx.shape[0], np.int8)
    for k in range(cc_dx.shape[0]):
        if cc_dx[k] >= 0:
            out[k] = dx_sev[cc_dx[k]]
    return out


@nb.njit(cache=True, nogil=True)
def take_ids(ids, raw):
    """``ids[raw]``: each code's scheme id from its index into the batch's distinct strings (numpy's fancy
    indexing spends about four times as long on this)."""
    out = np.empty(raw.shape[0], np.int32)
    for k in range(raw.shape[0]):
        out[k] = ids[raw[k]]
    return out


@nb.njit(cache=True, nogil=True)
def dictionary_indices(idx, none_as):
    """The kernel's indices (-1 none) as Arrow dictionary indices: int32 values and a validity bitmap (LSB
    first), with the null count. ``none_as`` >= 0 puts that index where the kernel has none; -1 leaves a
    null. One pass instead of numpy's cast, comparison and pyarrow's mask conversion."""
    n = idx.shape[0]
    out = np.empty(n, np.int32)
    bits = np.zeros((n + 7) // 8, np.uint8)
    nulls = 0
    for i in range(n):
        v = np.int32(idx[i])
        if v < 0:
            if none_as < 0:
                out[i] = 0
                nulls += 1
                continue
            v = none_as
        out[i] = v
        bits[i >> 3] |= np.uint8(1 << (i & 7))
    return out, bits, nulls


@nb.njit(cache=True, nogil=True)
def compact_ids(ids, n_codes):
    """Ids (-1 none) renumbered over only the ids that occur: ``(indices int32, used int64)``, ``used`` in
    ascending order, so that a dictionary column holds the few codes a batch uses, not the whole code table
    (the ``cc_dx`` column). Twin: ``grouper.batch._compact_ids_twin``."""
    seen = np.zeros(n_codes, np.int32)
    for k in range(ids.shape[0]):
        if ids[k] >= 0:
            seen[ids[k]] = 1
    m = 0
    for c in range(n_codes):
        if seen[c]:
            seen[c] = m
            m += 1
        else:
            seen[c] = -1
    used = np.empty(m, np.int64)
    for c in range(n_codes):
        if seen[c] >= 0:
            used[seen[c]] = c
    out = np.empty(ids.shape[0], np.int32)
    for k in range(ids.shape[0]):
        out[k] = seen[ids[k]] if ids[k] >= 0 else -1
    return out, used


#: Batches at least this large are grouped in principal-diagnosis order (see :func:`group_encoded_batch`).
SORT_MIN_CASES = 4096


@nb.njit(cache=True, nogil=True)
def case_order(dx_off, dx_val, n_codes):
    """The cases in order of principal-diagnosis id (a stable counting sort; no principal diagnosis and an
    unknown one first)."""
    n = dx_off.shape[0] - 1
    start = np.zeros(n_codes + 3, np.int64)
    key = np.empty(n, np.int32)
    for i in range(n):
        k = 0
        if dx_off[i + 1] > dx_off[i]:
            k = max(dx_val[dx_off[i]] + 2, 0)     # -2 empty and -1 unknown -> 0 and 1
        key[i] = k
        start[k + 1] += 1
    for k in range(1, n_codes + 3):
        start[k] += start[k - 1]
    order = np.empty(n, np.int64)
    for i in range(n):
        order[start[key[i]]] = i
        start[key[i]] += 1
    return order


def walk_order(scheme: Scheme, dx_off, dx_val) -> np.ndarray:
    """The order in which :func:`group_encoded_batch` walks a batch's cases (what it takes as ``order``):
    by principal diagnosis (:func:`case_order`). A pipeline computes it on its encoding thread."""
    return case_order(np.ascontiguousarray(dx_off, np.int64), np.ascontiguousarray(dx_val, np.int32),
                      len(scheme.dx_codes))


def group_encoded_batch(scheme: Scheme, sex, age, age_days, weight, vent, dx_off, dx_val, px_off, px_val,
                        *, in_pdx_order: bool | None = None, order: np.ndarray | None = None):
    """Run the kernel over one encoded batch.

    A case reads a dozen scheme arrays at its principal diagnosis's id; in file order each of those reads
    is a cache miss. With ``in_pdx_order`` (the default for batches of at least :data:`SORT_MIN_CASES`)
    the cases are walked in order of principal diagnosis (:func:`case_order`, a counting sort), every
    input read and every result written through that order. The results are the same (a case's group
    depends on that case alone); the walk is about three times faster on the reference cases (150 -> 50 ns
    a case on one core). ``order``, when given, is that order computed beforehand (:func:`walk_order`).

    Returns
    -------
    dict of numpy arrays
        ``mdc``, ``adrg``, ``drg`` (indexes into ``scheme.mdc_codes`` / ``adrg_results`` / ``drg_results``:
        the codes, then each MDC's ambiguous group; -1 none), ``cc_level``, ``cc_dx`` (a diagnosis id, -1
        none), ``status`` (index into ``grouper.reference.STATUS_NAMES``), ``flags``.
    """
    n = len(sex)
    cases = (np.ascontiguousarray(sex, np.int8), np.ascontiguousarray(age, np.int32),
             np.ascontiguousarray(age_days, np.int32), np.ascontiguousarray(weight, np.int32),
             np.ascontiguousarray(vent, np.int32))
    dx = (np.ascontiguousarray(dx_off, np.int64), np.ascontiguousarray(dx_val, np.int32))
    px = (np.ascontiguousarray(px_off, np.int64), np.ascontiguousarray(px_val, np.int32))
    if order is None:
        if in_pdx_order is None:
            in_pdx_order = n >= SORT_MIN_CASES
        order = (case_order(*dx, len(scheme.dx_codes)) if in_pdx_order and n > 1
                 else np.arange(n, dtype=np.int64))
    out = {"mdc": np.empty(n, np.int16), "adrg": np.empty(n, np.int16), "drg": np.empty(n, np.int16),
           "cc_dx": np.empty(n, np.int32), "status": np.empty(n, np.int8), "flags": np.empty(n, np.int16)}
    group_kernel(*cases, *dx, *px, *_scheme_arguments(scheme), out["mdc"], out["adrg"], out["drg"], out["cc_dx"],
                 out["status"], out["flags"], order)
    # the level is the one of the code that set it: one sequential pass here instead of a fifth random write
    # per case in the walk
    out["cc_level"] = cc_levels(out["cc_dx"], scheme.arrays["dx_sev"])
    return out


def _scheme_arguments(scheme: Scheme) -> tuple:
    """The scheme's arrays and constants as :func:`group_kernel` takes them, made once per scheme: offsets
    narrowed to int32 (they are positions in arrays of at most a few hundred thousand values), so that the
    arrays a case reads at its codes' ids take half the cache."""
    cached = scheme.__dict__.get("_kernel_arguments")
    if cached is None:
        a = scheme.arrays
        arrays = (a["px_or"], a["dx_sev"], a["dx_cc_table"], a["dx_excl_off"], a["dx_excl_val"], a["dx_region"],
                  *scheme.code_lists(), *scheme.mdc_candidates(), *scheme.adrg_candidates(), a["mdc_pdx_list"],
                  a["mdc_sex"], a["mdc_newborn"], a["mdc_trauma"], a["mdc_entry"],
                  a["mdc_adrg_off"], a["mdc_adrg_val"], a["adrg_mdc"], a["adrg_surgical"], a["adrg_alt_off"],
                  a["alt_clause_off"], a["clause_kind"], a["clause_list"], a["adrg_age_min"], a["adrg_age_max"],
                  a["adrg_w_min"], a["adrg_w_max"], a["adrg_drg_off"], a["drg_split"], a["dx_check"], a["px_check"])
        for x in arrays:
            if x.dtype == np.int64 and len(x) and x.max() >= 2**31:  # pragma: no cover - no such scheme
                raise ValueError("scheme array too large for the kernel's int32 offsets")
        rules = scheme.rules
        cached = (*(np.ascontiguousarray(x, np.int32) if x.dtype == np.int64 else x for x in arrays),
                  scheme.pregnancy_mdc, scheme.vent_adrg, scheme.options.vent_hours_min, scheme.vent_note_adrg,
                  bool(rules["ambiguous_groups"]), bool(rules["newborn_data_required"]),
                  bool(a["dx_check"].any() or a["px_check"].any()), len(scheme.adrg_codes), len(scheme.drg_codes))
        scheme.__dict__["_kernel_arguments"] = cached
    return cached
