"""Readmission pairing (分解住院, SPEC §5.1): which stays are halved.

Within (patient, hospital when the scope is hospital, DRG or ADRG, discharge year) stays are ordered by
admission date, then discharge date, then case id; a stay is halved once when the next stay is admitted 0 to
W days after its discharge. Stays are grouped by a 64-bit hash of the group key (checked exactly afterwards;
a collision takes the exact road), sorted once, and paired by the numba kernel
:func:`drg.pricing.kernels.pair_kernel`; the plain twin is :func:`drg.pricing.exact.pair_twin`."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from drg.pricing.exact import (PER_DIEM, REVIEW, UNGROUPABLE, pair_twin)
from drg.pricing.kernels import pair_kernel, same_texts, sort_runs_by_dates, text_group_hash
from drg.policy import Policy
from drg.pricing.columns import case_years, encode_strings, filled, take_rows, values_in

__all__ = ['halved_stays', 'may_be_halved']


def may_be_halved(cls: np.ndarray) -> np.ndarray:
    """Which stays the readmission rule may halve, by case class: never an ungroupable, special-review or
    per-diem stay (SPEC §5.1)."""
    return ~np.isin(cls, (PER_DIEM, UNGROUPABLE, REVIEW))


def halved_stays(cases: pa.Table, cls: np.ndarray, ungroupable: np.ndarray, policy: Policy, year: int | None,
                  engine: str, drg_codes: np.ndarray, h_codes: np.ndarray, *, case_ids=None) -> np.ndarray:
    """Mask of stays halved as readmissions (SPEC §5.1). ``case_ids``: where ``cases`` has no ``case_id``
    column, a function giving the ids of some rows (they only break ties of dates)."""
    if case_ids is None:
        def case_ids(rows: np.ndarray) -> pa.Array:
            return take_rows(cases.column("case_id"), rows).cast(pa.string())

    rp = policy.readmission
    n = cases.num_rows
    years = case_years(cases)
    admit = np.asarray(filled(cases.column("admit_date").cast(pa.int32()), -(2 ** 30)), dtype=np.int32)
    dis = np.asarray(filled(cases.column("discharge_date").cast(pa.int32()), -(2 ** 30)), dtype=np.int32)
    pat = cases.column("patient_id")
    m_codes = drg_codes if rp.match == "drg" else encode_strings(cases.column("adrg"))[0]
    eligible = ~ungroupable & ~np.asarray(pat.is_null(), dtype=bool) & (m_codes >= 0) & \
        (admit > -(2 ** 30)) & (dis > -(2 ** 30))
    if year is not None:
        eligible &= years == year
    if "adrg" in cases.column_names and rp.exempt_adrgs:
        eligible &= ~values_in(cases.column("adrg"), rp.exempt_adrgs)
    halvable = may_be_halved(cls)
    hosp = h_codes if rp.scope == "hospital" else np.zeros(n, np.int32)
    if engine == "python":
        ids = case_ids(np.arange(n)).to_pylist()
        pats = pat.cast(pa.string()).to_pylist()
        hs = cases.column("hospital_id").cast(pa.string()).to_pylist()
        ms = cases.column(rp.match).cast(pa.string()).to_pylist()
        stays = [{"key": (pats[i], hs[i] if rp.scope == "hospital" else "", ms[i], int(years[i])),
                  "admit": int(admit[i]), "discharge": int(dis[i]), "case_id": ids[i],
                  "halvable": bool(halvable[i])} for i in np.nonzero(eligible)[0]]
        halved_ids = pair_twin(stays, rp.window_days)
        return np.array([x in halved_ids for x in ids], bool)
    e = np.flatnonzero(eligible).astype(np.int32)   # (row numbers as int32: the sort's arrays are half as large)
    del eligible
    if len(e) < 2:
        return np.zeros(n, bool)
    sorted_ = _sort_stays_hashed(pat, e, hosp, m_codes, years, admit, dis)
    if sorted_ is None:   # a 64-bit hash collision between two patients: take the exact road
        sorted_ = _sort_stays_exact(pat, e, hosp, m_codes, years, admit, dis)
    s, same = sorted_
    a_s, d_s = admit[s], dis[s]
    del admit, dis, years, e
    # ties on (group, admit, discharge) are broken by case id, so the row order never matters
    tie = same[:-1] & (a_s[1:] == a_s[:-1]) & (d_s[1:] == d_s[:-1])
    if tie.any():   # the tied stays sorted by (tie block, case id): O(k log k) numeric sorts, whatever the blocks
        in_block = np.zeros(len(s), bool)
        in_block[:-1] |= tie
        in_block[1:] |= tie
        pos = np.flatnonzero(in_block)
        block = np.cumsum(np.r_[True, ~tie[pos[1:] - 1]])
        rows = s[pos]
        s[pos] = rows[_order_by_id(block, case_ids(rows))]
    mask_sorted = pair_kernel(same, a_s, d_s, halvable[s], rp.window_days)  # a tie reorder keeps a_s, d_s
    out = np.zeros(n, bool)
    out[s[mask_sorted]] = True
    return out


def _sort_stays_exact(pat, e, hosp, m_codes, years, admit, dis):
    """Eligible stays sorted by (group, admission, discharge) with dictionary codes of the patient ids.

    Returns ``(s, same)``: case rows in sorted order and whether each sorted stay's successor is in its
    group. Group order is arbitrary; only membership and the order inside a group matter.
    """
    p_codes, _ = encode_strings(pat)
    pe, he, me = p_codes[e].astype(np.int64), hosp[e].astype(np.int64), m_codes[e].astype(np.int64)
    ye = years[e].astype(np.int64) - int(years[e].min())
    nh, nm, ny = int(he.max()) + 1, int(me.max()) + 1, int(ye.max()) + 1
    if (int(pe.max()) + 1) * nh * nm * ny < 2 ** 62:
        gkey = ((pe * nh + he) * nm + me) * ny + ye
    else:  # pragma: no cover - astronomically many groups
        _, gkey = np.unique(np.stack([pe, he, me, ye], axis=1), axis=0, return_inverse=True)
    order = np.lexsort((dis[e], admit[e], gkey))
    g = gkey[order]
    return e[order], np.r_[g[1:] == g[:-1], False]


def _sort_stays_hashed(pat, e, hosp, m_codes, years, admit, dis):
    """As :func:`_sort_stays_exact`, grouping by a 64-bit hash of (patient, hospital, match code, year).

    One sort of the hash, then each run of equal hashes is ordered by dates. The result is then checked
    exactly: every two neighbours of a run must have the same patient id (compared byte by byte), hospital,
    match code and year. On a collision it returns None and the caller takes the exact road. The patient ids
    are hashed on their Arrow buffers, chunk by chunk, by :func:`drg.pricing.kernels.text_group_hash`: no copy
    of the ids (a polars copy to hash them took 1.8 s and 0.3 GB at 10 M stays); only the ids of neighbours
    with the same hash are taken for the exact check (204 K pairs among 10.3 M stays). Row numbers are int32.
    """
    g = _group_hashes(*_text_chunks(pat), e, hosp, m_codes, years)
    # (numpy's sort, not stable and needing none: the order inside a run of equal hashes is set below by the
    # dates, then by case id; polars' arg_sort took as long with 0.3 GB more at 10 M stays)
    order = np.argsort(g)
    s = e[order]
    del order
    # (the hashes sorted in place, not taken in that order: one 8-byte array fewer at the peak of pricing,
    # 80 MB at 10 M stays, for a second sort of 0.2 s; equal hashes are interchangeable)
    g.sort()
    sort_runs_by_dates(g, s, admit, dis)
    same = np.r_[g[1:] == g[:-1], False]
    del g
    if not _neighbours_match(same, s, hosp, m_codes, years, pat):
        return None
    return s, same


def _neighbours_match(same, s, hosp, m_codes, years, pat) -> bool:
    """Whether every sorted stay marked ``same`` has its successor's hospital, match code, year and patient
    id: the codes compared as arrays, the ids of the stays concerned taken once and compared on their
    buffers (:func:`_same_texts`)."""
    k = np.flatnonzero(same[:-1])      # (the last stay has no successor)
    if not len(k):
        return True
    a, b = s[k], s[k + 1]
    if not (np.array_equal(hosp[a], hosp[b]) and np.array_equal(m_codes[a], m_codes[b])
            and np.array_equal(years[a], years[b])):
        return False
    rows = np.unique(np.concatenate([a, b]))
    ids = take_rows(pat, rows)
    return _same_texts(ids, np.searchsorted(rows, a), np.searchsorted(rows, b))


def _same_texts(texts: pa.Array, a: np.ndarray, b: np.ndarray) -> bool:
    """Whether ``texts[a[k]] == texts[b[k]]`` for every k (no value null), compared on the Arrow buffers by
    :func:`drg.pricing.kernels.same_texts`."""
    from drg.casefile.strings import string_buffers

    if texts.type not in (pa.string(), pa.large_string()):
        texts = texts.cast(pa.large_string())
    off, data = string_buffers(texts)
    return bool(same_texts(off.astype(np.int64, copy=False), data, a.astype(np.int64, copy=False),
                           b.astype(np.int64, copy=False)))


def _text_chunks(texts):
    """The chunks of a string column as the hashing kernel reads them: the file row each chunk begins at
    (int64), and each chunk's offsets and UTF-8 bytes (views, not copies)."""
    from drg.casefile.strings import string_buffers

    chunks = texts.chunks if isinstance(texts, pa.ChunkedArray) else [texts]
    chunks = [c if c.type in (pa.string(), pa.large_string()) else c.cast(pa.large_string()) for c in chunks] or \
        [pa.array([], pa.string())]
    buffers = [string_buffers(c) for c in chunks]
    starts = np.cumsum([0] + [len(c) for c in chunks], dtype=np.int64)
    return starts, [off for off, _ in buffers], [data for _, data in buffers]


def _group_hashes(starts, offsets, data, e, hosp, m_codes, years) -> np.ndarray:
    """The group hash (patient id, hospital, match code, year) of the stays ``e`` (ascending file rows)."""
    g = np.empty(len(e), np.uint64)
    bounds = np.searchsorted(e, starts)
    for c in range(len(offsets)):
        lo, hi = int(bounds[c]), int(bounds[c + 1])
        if hi > lo:
            text_group_hash(offsets[c], data[c], int(starts[c]), e, lo, hi, hosp, m_codes, years, g)
    return g


def _order_by_id(block: np.ndarray, ids: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """The permutation that orders rows by (``block``, case id in byte order — which for UTF-8 is the order of
    the characters, as Python compares strings). The ids are cut into big-endian 8-byte words (zero-padded)
    and sorted word by word from the last with stable numeric sorts (a radix sort over words), the length
    breaking the ties of zero padding: a handful of integer sorts instead of string comparisons."""
    from drg.casefile.strings import string_buffers

    if isinstance(ids, pa.ChunkedArray):
        ids = ids.combine_chunks()
    off, data = string_buffers(ids)
    off = off.astype(np.int64)
    start, end = off[:-1], off[1:]
    length = end - start
    words = int((length.max() + 7) // 8) if len(length) else 0
    perm = np.argsort(length, kind="stable")
    padded = np.concatenate([data, np.zeros(8, np.uint8)]) if data.size else np.zeros(8, np.uint8)
    for w in range(words - 1, -1, -1):
        key = np.zeros(len(start), np.uint64)
        for b in range(8):
            at = start + 8 * w + b
            byte = np.where(at < end, padded[np.minimum(at, len(padded) - 1)], 0).astype(np.uint64)
            key = (key << np.uint64(8)) | byte
        perm = perm[np.argsort(key[perm], kind="stable")]
    return perm[np.argsort(block[perm], kind="stable")]
