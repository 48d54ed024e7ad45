"""A drawing catalogue: for every DRG of a scheme, the codes a synthetic case of that DRG can carry.

``drg synth`` builds synthetic cities from any scheme without knowing what an ICD code is: it asks this
module for a :class:`Catalogue` — integer-indexed pools of code strings per DRG — and draws indices.
The catalogue follows the rule tables' structure (principal diagnoses from the ADRG's list or, for a
surgical ADRG, from its MDC's principal-diagnosis table; principal procedures from the ADRG's list;
secondary diagnoses from the MCC / CC tables for severity-split DRGs) and the newborn bands written in
the MDCP ADRG names. It aims at plausible cases, not at exercising every rule: the grouper decides the
group, and the synthetic generator only records the group it *drew* a case from.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from grouper.rules.model import ANY_DX_IN, ANY_PX_IN, CodeDictionary, RuleSet

__all__ = ["Catalogue", "build_catalogue", "newborn_band", "SEX_OF_MDC"]

#: Sex required by a sex-specific MDC (1 male, 2 female); MDCO is female by nature, not by rule.
SEX_OF_MDC = {"MDCM": 1, "MDCN": 2, "MDCO": 2}


@dataclass
class Catalogue:
    """Per-DRG code pools: ``codes`` holds each distinct code once; ``pool`` holds code indices.

    ``pool[pdx_start[d]:pdx_stop[d]]`` are the indices (into ``codes``) of DRG ``d``'s principal diagnoses,
    likewise ``px`` and ``sdx`` (secondary diagnoses that give the DRG's severity); ``other_dx`` are code
    indices of secondaries that are neither CC nor MCC. ``kind[d]`` is 0 medical, 1 surgical; ``severity[d]`` is the DRG's last digit.
    ``newborn[d]`` is 0 (not a newborn group), 1 (under 29 days, weight band ``weight_lo..weight_hi``)
    or 2 (29 days to under one year).
    """

    scheme: str
    drgs: list[str]
    adrgs: list[str]
    mdcs: list[str]
    codes: np.ndarray  # object array of distinct code strings
    pool: np.ndarray  # int64 indices into codes, segmented by the *_start/*_stop arrays
    pdx_start: np.ndarray
    pdx_stop: np.ndarray
    px_start: np.ndarray
    px_stop: np.ndarray
    sdx_start: np.ndarray
    sdx_stop: np.ndarray
    other_dx: np.ndarray  # indices into codes
    kind: np.ndarray
    severity: np.ndarray
    sex: np.ndarray  # 0 any, 1 male, 2 female
    newborn: np.ndarray
    weight_lo: np.ndarray
    weight_hi: np.ndarray
    premdc: np.ndarray  # 1 for MDCA groups


_WEIGHT_BAND = re.compile(r"(\d{3,4})\s*[-–~至]\s*(\d{3,4})\s*(?:克|g)")
_WEIGHT_BELOW = re.compile(r"[<＜]\s*(\d{3,4})\s*(?:克|g)")
_WEIGHT_ABOVE = re.compile(r"[>＞≥]\s*(\d{3,4})\s*(?:克|g)")


def newborn_band(adrg_code: str, name: str) -> tuple[int, int, int]:
    """Return ``(newborn kind, weight_lo, weight_hi)`` for an MDCP ADRG from its published name.

    The MDCP names carry the bands (e.g. ``新生儿，出生体重 1500-1999 克``; PV1 is 29 days to one year).
    """
    if not adrg_code.startswith("P"):
        return 0, 0, 0
    if "29" in name and ("周岁" in name or "1 岁" in name or "1岁" in name) or adrg_code == "PV1":
        return 2, 2500, 4000
    m = _WEIGHT_BAND.search(name)
    if m:
        return 1, int(m.group(1)), int(m.group(2))
    m = _WEIGHT_BELOW.search(name)
    if m:
        return 1, 700, int(m.group(1)) - 1
    m = _WEIGHT_ABOVE.search(name)
    if m:
        return 1, int(m.group(1)) + 1, 4200
    return 1, 2500, 4200


def _listed(adrg, kinds: tuple[int, ...]) -> list[str]:
    """The codes of an ADRG's first alternative whose clauses are of ``kinds`` (2.0 rules that name no
    principal list: PS1–PS4 by any diagnosis, AH2 or BB1 by procedures in any position)."""
    first = adrg.conditions[0] if adrg.conditions else []
    return list(dict.fromkeys(c for cl in first if cl.kind in kinds for c in cl.codes))


def build_catalogue(rules: RuleSet, codes: CodeDictionary | None = None) -> Catalogue:
    """Build the drawing catalogue of a rule set.

    DRGs whose ADRG offers no principal diagnosis at all (neither its own list nor an MDC table) are
    left out; the count of such DRGs is visible as ``len(rules.drgs) - len(catalogue.drgs)``.
    """
    pool: list[str] = []
    index: dict[str, int] = {}

    def ids(seq) -> list[int]:
        out = []
        for c in seq:
            if c not in index:
                index[c] = len(pool)
                pool.append(c)
            out.append(index[c])
        return out

    mcc_ids = ids(sorted(rules.mcc))
    cc_ids = ids(sorted(rules.cc))
    severe = set(rules.mcc) | set(rules.cc)
    all_dx = set()
    for dxs in rules.mdc_principal_dx.values():
        all_dx.update(dxs)
    if codes is not None and codes.dx:
        all_dx.update(codes.dx)
    other = ids(sorted(c for c in all_dx if c not in severe))
    any_pdx = sorted(all_dx)
    # 2.0: the newborn MDC has no table (it is entered by age); its surgical ADRGs draw the principal
    # diagnoses of its medical ones
    newborn_pdx = {rules.newborn_mdc: sorted({c for a in rules.adrgs.values() if a.mdc == rules.newborn_mdc
                                              for c in a.principal_dx})} if rules.newborn_mdc else {}

    cols: dict[str, list] = {k: [] for k in (
        "drg", "adrg", "mdc", "pdx", "px", "sdx", "kind", "sev", "sex", "nb", "wlo", "whi", "pre")}
    flat: dict[str, list[int]] = {"pdx": [], "px": [], "sdx": []}
    bounds: dict[str, list[tuple[int, int]]] = {"pdx": [], "px": [], "sdx": []}
    for drg in rules.drgs:
        adrg = rules.adrgs.get(drg[:3])
        if adrg is None:
            continue
        pdx = (list(adrg.principal_dx) or list(rules.mdc_principal_dx.get(adrg.mdc, ()))
               or _listed(adrg, (ANY_DX_IN,)) or newborn_pdx.get(adrg.mdc, []))
        if not pdx and adrg.mdc == "MDCA":
            pdx = any_pdx
        if not pdx:
            continue
        px = list(adrg.principal_px) if adrg.surgical or adrg.mdc == "MDCA" else []
        if (adrg.surgical or adrg.mdc == "MDCA") and not px and rules.edition == "2.0":
            # 2.0 has no operating-room list (SS_VALID holds every valid procedure): the rule's own lists
            px = _listed(adrg, (ANY_PX_IN,))
        if (adrg.surgical or adrg.mdc == "MDCA") and not px:
            px = sorted(codes.or_px) if codes is not None and codes.or_px else []
        sev = int(drg[3]) if drg[3].isdigit() else 9
        sdx = mcc_ids if sev == 1 else cc_ids if sev == 3 else []
        for key, seq in (("pdx", ids(pdx)), ("px", ids(px)), ("sdx", sdx)):
            start = len(flat[key])
            flat[key].extend(seq)
            bounds[key].append((start, len(flat[key])))
        nb, lo, hi = newborn_band(adrg.code, adrg.name) if adrg.mdc == "MDCP" else (0, 0, 0)
        if nb and getattr(adrg, "weight_min", None) is not None:
            lo = adrg.weight_min
            hi = adrg.weight_max if adrg.weight_max is not None else 4200
        elif nb and getattr(adrg, "age_days_min", None) is not None and adrg.age_days_min >= 29:
            nb = 2
        cols["drg"].append(drg)
        cols["adrg"].append(adrg.code)
        cols["mdc"].append(adrg.mdc)
        cols["kind"].append(1 if adrg.surgical else 0)
        cols["sev"].append(sev)
        cols["sex"].append(SEX_OF_MDC.get(adrg.mdc, 0))
        cols["nb"].append(nb)
        cols["wlo"].append(lo)
        cols["whi"].append(hi)
        cols["pre"].append(1 if adrg.mdc == "MDCA" else 0)

    # The pools index one concatenated array: pdx, then px, then sdx segments.
    offset = 0
    arrays = {}
    values: list[int] = []
    for key in ("pdx", "px", "sdx"):
        starts = np.array([b[0] for b in bounds[key]], dtype=np.int64) + offset
        stops = np.array([b[1] for b in bounds[key]], dtype=np.int64) + offset
        arrays[key] = (starts, stops)
        values.extend(flat[key])
        offset += len(flat[key])
    return Catalogue(
        scheme=rules.name, drgs=cols["drg"], adrgs=cols["adrg"], mdcs=cols["mdc"],
        codes=np.array(pool, dtype=object), pool=np.array(values, dtype=np.int64),
        pdx_start=arrays["pdx"][0], pdx_stop=arrays["pdx"][1], px_start=arrays["px"][0],
        px_stop=arrays["px"][1], sdx_start=arrays["sdx"][0], sdx_stop=arrays["sdx"][1],
        other_dx=np.array(other, dtype=np.int64),
        kind=np.array(cols["kind"], np.int8), severity=np.array(cols["sev"], np.int8),
        sex=np.array(cols["sex"], np.int8), newborn=np.array(cols["nb"], np.int8),
        weight_lo=np.array(cols["wlo"], np.int32), weight_hi=np.array(cols["whi"], np.int32),
        premdc=np.array(cols["pre"], np.int8),
    )
