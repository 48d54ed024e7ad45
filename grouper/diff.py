"""Comparing two compiled schemes (``drg scheme diff A B``): what changes when a pooling area moves from one
edition to the next (CHS-DRG 1.1 → 2.0), before any case is regrouped.

It reads only the two :class:`grouper.scheme.Scheme` objects and reports, with counts:

* MDCs, ADRGs and DRGs added, removed and renamed (same code, another name), and ADRGs or DRGs re-coded
  (same name under another code, as 1.1 AA1 心脏移植 became 2.0 AA2);
* codes moved between lists: principal diagnoses and procedures whose ADRGs changed (``from → to`` pairs
  with their code counts), and principal diagnoses whose MDC changed;
* CC/MCC changes (codes that became a CC or an MCC, changed level, or are neither now) and exclusion
  changes (CC/MCC codes whose cancelling principal diagnoses differ: exclusion tables are numbered afresh in
  every edition, so they are compared by their members, not their numbers);
* how the editions group (entry of the pre-MDC groups, code checks, ambiguous groups).

Everything is plain data (``diff_schemes`` returns a JSON-ready dict); ``drg scheme diff`` prints it.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from grouper.rules.model import ANY_PX_IN, ENTRY_NAMES, PDX_IN, PPX_IN
from grouper.scheme import Scheme

__all__ = ["diff_schemes", "adrg_code_lists"]


def _named(codes: list[str], names: list[str]) -> dict[str, str]:
    return dict(zip(codes, names))


def _changes(a: dict[str, str], b: dict[str, str]) -> dict:
    """Codes added, removed, renamed (same code, another name) and re-coded (a name that left its code and
    stands under another one: 1.1 AA1 心脏移植 is 2.0 AA2)."""
    added = [c for c in b if c not in a]
    removed = [c for c in a if c not in b]
    renamed = [[c, a[c], b[c]] for c in a if c in b and a[c] != b[c]]
    by_name: dict[str, str] = {}
    for c in b:
        by_name.setdefault(b[c], c)
    # a name that left its code (removed, or the code now means something else) and stands under another code
    recoded = [[c, by_name[a[c]], a[c]] for c in a
               if b.get(c) != a[c] and a[c] in by_name and by_name[a[c]] != c]
    return {"added": [[c, b[c]] for c in added], "removed": [[c, a[c]] for c in removed], "renamed": renamed,
            "recoded": recoded}


def adrg_code_lists(scheme: Scheme) -> dict[str, dict[str, set[str]]]:
    """For each ADRG, the codes its rule names: ``pdx`` (principal diagnoses) and ``px`` (procedures, in the
    first or any position)."""
    a = scheme.arrays
    out: dict[str, dict[str, set[str]]] = {}
    for ai, code in enumerate(scheme.adrg_codes):
        lists = {"pdx": set(), "px": set()}
        for alt in range(int(a["adrg_alt_off"][ai]), int(a["adrg_alt_off"][ai + 1])):
            for c in range(int(a["alt_clause_off"][alt]), int(a["alt_clause_off"][alt + 1])):
                kind, lid = int(a["clause_kind"][c]), int(a["clause_list"][c])
                if lid < 0:
                    continue
                if kind == PDX_IN:
                    lists["pdx"].update(scheme.dx_codes[i] for i in scheme.list_codes(lid).tolist())
                elif kind in (PPX_IN, ANY_PX_IN):
                    lists["px"].update(scheme.px_codes[i] for i in scheme.list_codes(lid).tolist())
        out[code] = lists
    return out


def _homes(lists: dict[str, dict[str, set[str]]], side: str) -> dict[str, frozenset[str]]:
    """code → the ADRGs whose ``side`` list names it."""
    homes: dict[str, set[str]] = {}
    for adrg, sides in lists.items():
        for c in sides[side]:
            homes.setdefault(c, set()).add(adrg)
    return {c: frozenset(v) for c, v in homes.items()}


def _moves(ha: dict[str, frozenset], hb: dict[str, frozenset], examples: int) -> dict:
    """Codes whose homes changed between two editions, as counted ``from → to`` pairs."""
    pairs: Counter = Counter()
    moved = 0
    for c in ha.keys() & hb.keys():
        if ha[c] != hb[c]:
            moved += 1
            pairs[("+".join(sorted(ha[c])), "+".join(sorted(hb[c])))] += 1
    return {"codes_in_both": len(ha.keys() & hb.keys()), "moved": moved,
            "only_in_from": len(ha.keys() - hb.keys()), "only_in_to": len(hb.keys() - ha.keys()),
            "pairs": [[f, t, n] for (f, t), n in pairs.most_common(examples)], "distinct_pairs": len(pairs)}


def _mdc_homes(scheme: Scheme) -> dict[str, frozenset]:
    a = scheme.arrays
    homes: dict[str, set[str]] = {}
    for mi, m in enumerate(scheme.mdc_codes):
        lid = int(a["mdc_pdx_list"][mi])
        if lid >= 0:
            for i in scheme.list_codes(lid).tolist():
                homes.setdefault(scheme.dx_codes[i], set()).add(m)
    return {c: frozenset(v) for c, v in homes.items()}


def _severity(scheme: Scheme) -> tuple[dict[str, tuple[int, int]], dict[int, frozenset[str]]]:
    """code → (level, exclusion table index) for every CC/MCC; table index → its principal diagnoses."""
    a = scheme.arrays
    sev = {scheme.dx_codes[i]: (int(a["dx_sev"][i]), int(a["dx_cc_table"][i]))
           for i in np.flatnonzero(a["dx_sev"]).tolist()}
    members: dict[int, set[str]] = {}
    off, val = a["dx_excl_off"], a["dx_excl_val"]
    for d in np.flatnonzero(np.diff(off)).tolist():
        for t in val[off[d]:off[d + 1]].tolist():
            members.setdefault(int(t), set()).add(scheme.dx_codes[d])
    return sev, {t: frozenset(v) for t, v in members.items()}


def _cc_changes(a: Scheme, b: Scheme, examples: int) -> tuple[dict, dict]:
    sa, ma = _severity(a)
    sb, mb = _severity(b)
    kinds: dict[str, list[str]] = {k: [] for k in ("became_cc", "became_mcc", "cc_to_mcc", "mcc_to_cc",
                                                   "no_longer_cc_or_mcc")}
    for c in sorted(sa.keys() | sb.keys()):
        la, lb = sa.get(c, (0, -1))[0], sb.get(c, (0, -1))[0]
        if la == lb:
            continue
        key = ("became_cc" if lb == 1 else "became_mcc") if la == 0 else "no_longer_cc_or_mcc" if lb == 0 \
            else "cc_to_mcc" if lb == 2 else "mcc_to_cc"
        kinds[key].append(c)
    cc = {k: {"count": len(v), "examples": v[:examples]} for k, v in kinds.items()}
    cc["cc"] = [sum(1 for s, _ in sa.values() if s == 1), sum(1 for s, _ in sb.values() if s == 1)]
    cc["mcc"] = [sum(1 for s, _ in sa.values() if s == 2), sum(1 for s, _ in sb.values() if s == 2)]
    wider, narrower, other, same = [], [], [], 0
    for c in sorted(sa.keys() & sb.keys()):
        ea, eb = ma.get(sa[c][1], frozenset()), mb.get(sb[c][1], frozenset())
        if ea == eb:
            same += 1
        elif ea < eb:
            wider.append(c)
        elif eb < ea:
            narrower.append(c)
        else:
            other.append(c)
    excl = {"tables": [len(a.exclusion_tables), len(b.exclusion_tables)],
            "cc_mcc_codes_in_both": len(sa.keys() & sb.keys()), "same_exclusions": same,
            "more_exclusions": {"count": len(wider), "examples": wider[:examples]},
            "fewer_exclusions": {"count": len(narrower), "examples": narrower[:examples]},
            "other_exclusions": {"count": len(other), "examples": other[:examples]}}
    return cc, excl


def _behaviour(s: Scheme) -> dict:
    a = s.arrays
    out = {f"{k}": v for k, v in s.rules.items()}
    for mi, m in enumerate(s.mdc_codes):
        out[f"{m} entry"] = ENTRY_NAMES.get(int(a["mdc_entry"][mi]), "?")
    out["invalid or gray codes"] = int((a["dx_check"] != 0).sum() + (a["px_check"] != 0).sum())
    return out


def diff_schemes(a: Scheme, b: Scheme, *, examples: int = 10) -> dict:
    """Compare scheme ``a`` (from) with scheme ``b`` (to).

    Parameters
    ----------
    a, b : Scheme
        Two compiled schemes (:func:`grouper.scheme.load_scheme`).
    examples : int
        How many examples (codes, move pairs) to list under each count.

    Returns
    -------
    dict
        JSON-ready: ``from``, ``to``, ``mdcs``, ``adrgs``, ``drgs`` (added, removed, renamed, recoded),
        ``principal_dx_moves``, ``procedure_moves``, ``mdc_moves``, ``cc``, ``exclusions``, ``behaviour``
        (what differs, ``[from, to]``) and ``summary`` (the counts).
    """
    la, lb = adrg_code_lists(a), adrg_code_lists(b)
    ba, bb = _behaviour(a), _behaviour(b)
    out = {
        "from": {"scheme": a.name, "version": a.version, "edition": a.rules["edition"]},
        "to": {"scheme": b.name, "version": b.version, "edition": b.rules["edition"]},
        "mdcs": _changes(_named(a.mdc_codes, a.mdc_names), _named(b.mdc_codes, b.mdc_names)),
        "adrgs": _changes(_named(a.adrg_codes, a.adrg_names), _named(b.adrg_codes, b.adrg_names)),
        "drgs": _changes(_named(a.drg_codes, a.drg_names), _named(b.drg_codes, b.drg_names)),
        "principal_dx_moves": _moves(_homes(la, "pdx"), _homes(lb, "pdx"), examples),
        "procedure_moves": _moves(_homes(la, "px"), _homes(lb, "px"), examples),
        "mdc_moves": _moves(_mdc_homes(a), _mdc_homes(b), examples),
        "behaviour": {k: [ba.get(k), bb.get(k)] for k in dict.fromkeys([*ba, *bb]) if ba.get(k) != bb.get(k)},
    }
    out["cc"], out["exclusions"] = _cc_changes(a, b, examples)
    summary = {"mdcs": [len(a.mdc_codes), len(b.mdc_codes)], "adrgs": [len(a.adrg_codes), len(b.adrg_codes)],
               "drgs": [len(a.drg_codes), len(b.drg_codes)]}
    for level in ("mdcs", "adrgs", "drgs"):
        for k in ("added", "removed", "renamed", "recoded"):
            summary[f"{level} {k}"] = len(out[level][k])
    for k in ("principal_dx_moves", "procedure_moves", "mdc_moves"):
        summary[f"{k.replace('_moves', '')} codes moved"] = out[k]["moved"]
    for k in ("became_cc", "became_mcc", "cc_to_mcc", "mcc_to_cc", "no_longer_cc_or_mcc"):
        summary[k.replace("_", " ")] = out["cc"][k]["count"]
    for k in ("more_exclusions", "fewer_exclusions", "other_exclusions"):
        summary[f"CC/MCC codes with {k.replace('_', ' ')}"] = out["exclusions"][k]["count"]
    out["summary"] = summary
    return out
