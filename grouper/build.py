"""Building a scheme file from published tables, with the build-time checks.

``build_scheme`` reads a rule-table directory and a code dictionary, compiles them (``grouper.scheme``) and
runs the checks that ``drg scheme build`` prints and the tests assert:

* every DRG of ``3_DRG.txt`` can be reached by some input;
* every ADRG has its code lists;
* codes used by the rules but missing from the dictionary;
* severity splits (and ADRGs) that can never trigger because of rule order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from grouper.rules import load_code_dictionary, load_rule_set
from grouper.rules.model import ENTRY_PDX, PDX_IN, PPX_IN
from grouper.scheme import BIG, SPLIT_ALWAYS, SPLIT_CC, SPLIT_MCC, Scheme, SchemeOptions, compile_scheme


@dataclass
class BuildReport:
    """What the build found: reader notes, compile report and the checks (each a list of findings)."""

    reader_notes: list[str] = field(default_factory=list)
    compile_report: list[str] = field(default_factory=list)
    unreachable_adrgs: list[str] = field(default_factory=list)
    unreachable_drgs: list[str] = field(default_factory=list)
    adrgs_without_lists: list[str] = field(default_factory=list)
    dead_splits: list[str] = field(default_factory=list)
    missing_codes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = []
        for title, items in (("reader", self.reader_notes), ("compile", self.compile_report),
                             ("ADRGs without code lists", self.adrgs_without_lists),
                             ("unreachable ADRGs", self.unreachable_adrgs),
                             ("unreachable DRGs", self.unreachable_drgs),
                             ("severity splits that never trigger", self.dead_splits)):
            out.append(f"{title}: {len(items)}")
            out.extend(f"  - {x}" for x in items)
        return out


def check_scheme(scheme: Scheme) -> BuildReport:
    """Run the reachability and rule-order checks on a compiled scheme."""
    a = scheme.arrays
    rep = BuildReport()
    lists = [set(int(x) for x in scheme.list_codes(i)) for i in range(len(scheme.list_labels))]
    adrg_ok = np.ones(len(scheme.adrg_codes), bool)
    for mi, m in enumerate(scheme.mdc_codes):
        lid = int(a["mdc_pdx_list"][mi])
        # a principal diagnosis can meet an ADRG's list only inside the table of an MDC entered by it
        table = lists[lid] if lid >= 0 and int(a["mdc_entry"][mi]) == ENTRY_PDX else None
        # single-list alternatives of earlier ADRGs (kind -> [(codes, bands)]); None codes = takes every case
        taken: dict[int, list[tuple[set | None, tuple[int, int, int, int]]]] = {PDX_IN: [], PPX_IN: []}
        for k in range(int(a["mdc_adrg_off"][mi]), int(a["mdc_adrg_off"][mi + 1])):
            ai = int(a["mdc_adrg_val"][k])
            code = scheme.adrg_codes[ai]
            alts = range(int(a["adrg_alt_off"][ai]), int(a["adrg_alt_off"][ai + 1]))
            if len(alts) == 0:
                rep.adrgs_without_lists.append(f"{code}: no rule")
                adrg_ok[ai] = False
                continue
            bands = (int(a["adrg_age_min"][ai]), int(a["adrg_age_max"][ai]), int(a["adrg_w_min"][ai]),
                     int(a["adrg_w_max"][ai]))
            alive = False
            for alt in alts:
                clauses = range(int(a["alt_clause_off"][alt]), int(a["alt_clause_off"][alt + 1]))
                dead = False
                single: tuple[int, set] | None = None
                for c in clauses:
                    cl = int(a["clause_list"][c])
                    kind = int(a["clause_kind"][c])
                    if cl >= 0 and not lists[cl]:
                        rep.adrgs_without_lists.append(f"{code}: empty list {scheme.list_labels[cl]}")
                        dead = True
                    usable = lists[cl] if cl >= 0 else set()
                    if kind == PDX_IN and table is not None:
                        usable = usable & table
                        if not usable:
                            dead = True
                    if len(clauses) == 1 and kind in taken:
                        single = (kind, usable)
                if not dead and single is not None:
                    kind, codes = single
                    rest = set(codes)
                    for earlier, eb in taken[kind]:
                        if eb[0] <= bands[0] and eb[1] >= bands[1] and eb[2] <= bands[2] and eb[3] >= bands[3]:
                            if earlier is None:
                                rest = set()
                            else:
                                rest -= earlier
                    if not rest:
                        dead = True
                    taken[kind].append((codes, bands))
                if not clauses:
                    for kind in taken:
                        taken[kind].append((None, bands))
                alive = alive or not dead
            if not alive:
                adrg_ok[ai] = False
                rep.unreachable_adrgs.append(f"{code} ({m}): its lists are empty, outside the MDC's table, or "
                                             f"fully taken by earlier ADRGs")
    # DRGs: an ADRG's DRGs in order; anything after an always-DRG never triggers
    for ai, code in enumerate(scheme.adrg_codes):
        j0, j1 = int(a["adrg_drg_off"][ai]), int(a["adrg_drg_off"][ai + 1])
        if j0 == j1:
            rep.unreachable_adrgs.append(f"{code}: no DRG in 3_DRG.txt")
            continue
        seen_always = False
        seen_cc = False
        for j in range(j0, j1):
            d = scheme.drg_codes[j]
            sp = int(a["drg_split"][j])
            if not adrg_ok[ai]:
                rep.unreachable_drgs.append(f"{d}: its ADRG {code} cannot be reached")
            elif seen_always or (sp == SPLIT_MCC and seen_cc):
                rep.dead_splits.append(f"{d}: comes after a DRG of {code} that already takes every such case")
                rep.unreachable_drgs.append(f"{d}: severity split never triggers")
            seen_always = seen_always or sp == SPLIT_ALWAYS
            seen_cc = seen_cc or sp == SPLIT_CC
        if not seen_always:
            rep.dead_splits.append(f"{code}: no DRG without a severity condition (a case with CC level 0 gets "
                                   f"no DRG)")
    return rep


def build_scheme(rules_dir: str | Path, codes_dir: str | Path, *, cc_tables_dir: str | Path | None = None,
                 options: SchemeOptions | None = None, out: str | Path | None = None
                 ) -> tuple[Scheme, BuildReport]:
    """Read, compile, check and (with ``out``) write a scheme file.

    Parameters
    ----------
    rules_dir : directory of rule tables (layout of ``../shared/schemes/CHS_DRG_11``).
    codes_dir : code dictionary directory (layout of ``../shared/codes/chs_drg_11``).
    cc_tables_dir : take the CC/MCC/exclusion tables from another rule set.
    options : :class:`grouper.scheme.SchemeOptions` (e.g. the opt-in ``vent_hours_rule``).
    out : path of the scheme file to write.
    """
    rs = load_rule_set(rules_dir, cc_tables_dir=cc_tables_dir)
    codes = load_code_dictionary(codes_dir)
    scheme, compile_report = compile_scheme(rs, codes, options=options)
    rep = check_scheme(scheme)
    rep.reader_notes = list(rs.notes)
    rep.compile_report = list(compile_report)
    scheme.manifest["checks"] = {
        "unreachable_adrgs": rep.unreachable_adrgs, "unreachable_drgs": rep.unreachable_drgs,
        "adrgs_without_lists": rep.adrgs_without_lists, "dead_splits": rep.dead_splits,
    }
    if out is not None:
        scheme.save(out)
    return scheme, rep


__all__ = ["build_scheme", "check_scheme", "BuildReport", "BIG", "SPLIT_CC"]
