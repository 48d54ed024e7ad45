"""What a hospital's cases will earn, and why (``drg estimate``): one case in well under a second, or a month.

This is the one place where the grouper (codes → DRG) and the payment engine (DRG → points → money) meet for
a single case, as the bureau's published bundle (:mod:`drg.estimate.bundle`) sets them: the plain-Python reference
grouper groups the case, step by step; :func:`price_one` prices it with the exact arithmetic of the batch
pricing (:func:`drg.pricing.points.price_cases`, SPEC §4); the provisional point value of its pool turns points into
money (SPEC §6: ``round(points × PV)`` in fen).

The one-case path imports neither numba, polars, pyarrow nor duckdb (a test checks ``sys.modules``): the
bundle's ``estimate.json`` carries the weights and coefficients, and :func:`price_one` is a numba-free copy
of the plain twin ``drg.pricing.kernels.price_one_exact`` (that module imports numba at its top, so the twin itself
cannot be imported here); the tests require both, and ``price_cases``, to give the same numbers.

A month file (:func:`estimate_file`) is read with :func:`drg.casefile.reader.read_cases`, grouped case by case with the
reference grouper, and priced by ``price_cases`` itself (so readmissions inside the file are halved as the
bureau will halve them).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any
from drg.errors import InputError
from drg.money import round_half_away, units_to_decimal, yuan_text, yuan_to_fen
from drg.pricing.classes import held_for_review, is_per_diem
from drg.pricing.exact import (CLASS_NAMES, COEF_SCALE, PER_DIEM, UNGROUPABLE, CaseToPrice, PricingRule, WeightRow,
                               price_one_exact, to_units)
from grouper.results import UNGROUPABLE_DRG, has_drg
from grouper.lookup import check_codes

__all__ = ['CLASS_ZH', 'CaseInput', 'case_from_json', 'estimate_case', 'format_case', 'normal_cost_range', 'parse_yuan', 'price_one', 'split_codes', 'validate_case']


CLASS_ZH = {"normal": "正常病例", "high": "高倍率病例", "low": "低倍率病例", "unstable": "非稳定病组",
            "per_diem": "床日付费", "ungroupable": "未入组", "review": "特病单议"}


SPLIT_TEXT = {"1": "伴严重并发症或合并症 (needs an MCC)", "3": "伴并发症或合并症 (needs a CC)",
              "5": "不伴并发症或合并症 (no CC/MCC)", "9": "no severity split"}


# --------------------------------------------------------------------------------------------- arithmetic
def parse_yuan(text: str | int | float | Decimal | None, field_name: str = "money") -> int | None:
    """A yuan amount as typed (``"52300.50"``) → int fen, half away from zero on the exact decimal."""
    if text is None or text == "":
        return None
    try:
        d = Decimal(repr(text)) if isinstance(text, float) else Decimal(str(text).strip().replace(",", ""))
    except InvalidOperation:
        raise InputError(f"{text!r} is not an amount of yuan", field=field_name) from None
    if not d.is_finite():
        raise InputError(f"{text!r} is not an amount of yuan", field=field_name)
    if d < 0:
        raise InputError(f"{text!r}: an amount cannot be negative", field=field_name)
    return yuan_to_fen(d)


def _num(x: float | None, nd: int = 4) -> str:
    return "—" if x is None else f"{x:.{nd}f}"


# --------------------------------------------------------------------------------------------- input
@dataclass
class CaseInput:
    """One case as a person types it (contract names; money in int fen)."""

    dx: list[str]
    px: list[str] = field(default_factory=list)
    sex: int | None = None
    age: int | None = None
    age_days: int | None = None
    birth_weight: int | None = None
    los: int | None = None
    vent_hours: int | None = None
    discharge_status: int | None = None
    total_cost_fen: int | None = None
    self_paid_fen: int | None = None
    other_paid_fen: int | None = None
    hospital_id: str | None = None
    insurance_type: str | None = None
    case_id: str | None = None

    def to_json(self) -> dict:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__}
        for m in ("total_cost", "self_paid", "other_paid"):
            fen = d.pop(f"{m}_fen")
            d[m] = None if fen is None else yuan_text(fen).replace(",", "")
        return d


def split_codes(value: str | list | None) -> list[str]:
    """``"I21.000,I50.900x002"`` (``|``, ``,``, ``;`` or spaces between codes) → list of codes."""
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [str(c).strip() for c in value if c is not None and str(c).strip()]
    import re

    return [c for c in re.split(r"[|,;，；\s]+", str(value).strip()) if c]


_INT_FIELDS = ("sex", "age", "age_days", "birth_weight", "los", "vent_hours", "discharge_status")


def case_from_json(doc: dict, *, source: str = "JSON") -> CaseInput:
    """A case from a JSON object with the contract's names (money in yuan, ``dx``/``px`` lists or strings)."""
    if not isinstance(doc, dict):
        raise InputError("the JSON case must be an object with the contract's fields (dx, sex, age, …)",
                         file=source)
    known = set(CaseInput.__dataclass_fields__) | {"total_cost", "self_paid", "other_paid", "fund_paid",
                                                   "patient_id", "county", "admit_date", "discharge_date"}
    unknown = sorted(set(doc) - known)
    if unknown:
        hint = {u: difflib.get_close_matches(u, sorted(known), n=1) for u in unknown}
        raise InputError("unknown field(s) " + ", ".join(f"{u!r}" + (f" (did you mean {h[0]!r}?)" if h else "")
                                                         for u, h in hint.items()), file=source, field=unknown[0])
    kw: dict[str, Any] = {"dx": split_codes(doc.get("dx")), "px": split_codes(doc.get("px"))}
    for f in _INT_FIELDS:
        v = doc.get(f)
        if v is None or v == "":
            kw[f] = None
            continue
        try:
            if isinstance(v, float) and not v.is_integer():
                raise ValueError
            kw[f] = int(v)
        except (TypeError, ValueError):
            raise InputError(f"{f} must be a whole number, got {v!r}", file=source, field=f) from None
    for m in ("total_cost", "self_paid", "other_paid"):
        kw[f"{m}_fen"] = parse_yuan(doc.get(m), m)
    for s in ("hospital_id", "insurance_type", "case_id"):
        v = doc.get(s)
        kw[s] = None if v is None or v == "" else str(v)
    return CaseInput(**kw)


def validate_case(case: CaseInput) -> None:
    """The checks a person needs before an estimate means anything (the contract's reject reasons)."""
    if not case.dx:
        raise InputError("give at least the principal diagnosis (--dx CODE[,CODE…])", field="dx")
    if case.sex is None:
        raise InputError("give the sex (--sex 1 male, 2 female)", field="sex")
    if case.sex not in (0, 1, 2, 9):
        raise InputError(f"sex must be 1 (male), 2 (female), 0 or 9, got {case.sex}", field="sex")
    if case.age is None:
        raise InputError("give the age in years (--age)", field="age")
    if case.age < 0:
        raise InputError(f"age cannot be negative, got {case.age}", field="age")
    if case.age == 0 and case.age_days is None:
        raise InputError("age 0 needs the age in days (--age-days)", field="age_days")
    if case.los is None:
        raise InputError("give the length of stay in days (--los)", field="los")
    if case.los < 0:
        raise InputError(f"length of stay cannot be negative, got {case.los}", field="los")
    if case.total_cost_fen is None:
        raise InputError("give the total cost in yuan (--cost)", field="total_cost")


# --------------------------------------------------------------------------------------------- pricing
def cc_detail(res, principal: str | None) -> list[dict]:
    """Every secondary diagnosis that is a CC or MCC, with its exclusion table and whether it counts, from the
    grouper's own explanation (``grouper.reference.Result.cc_detail``: this module reads no code table)."""
    return [{"code": d.code, "kind": d.kind, "exclusion_table": d.table, "counts": d.counts,
             "reason": (f"cancelled: the principal diagnosis {principal} is in exclusion table {d.excluded_by}"
                        if d.excluded_by else "counts")}
            for d in res.cc_detail if d.level]


def _policy_high_ratio(policy, bp: float) -> Decimal:
    return policy.pricing.high_ratio(Decimal(repr(bp)))


def price_one(tables, policy, drg: str | None, adrg: str | None, los: int | None, cost_fen: int,
              hospital_id: str | None) -> dict:
    """Price one grouped case exactly as :func:`drg.pricing.points.price_cases` does (SPEC §4), no review row.

    Returns a dict: ``case_class, points_u, points, base_points, per_diem_points, bed_days, coef_u, coef,
    coef_source, mean_cost_fen, high_ratio, low_ratio, cost_ratio, price_note, widx``.
    """
    scale = policy.points_scale
    pr = policy.pricing
    drg = None if drg is None else str(drg)
    ungroupable = not has_drg(drg)
    w = tables.index.get(drg, -1) if drg is not None else -1
    los_v = int(los or 0)
    bed_days = max(los_v, 1)
    per_diem = is_per_diem(drg, adrg, los_v, policy)
    bp = tables.base_points[w] if w >= 0 else None
    bp_u = None if bp is None else to_units(bp, scale)
    pdp = tables.per_diem_points[w] if w >= 0 else None
    pdp_u = None if pdp is None else to_units(pdp, scale)
    mean = tables.mean_cost_fen[w] if w >= 0 else None
    pdm = tables.per_diem_mean_fen[w] if w >= 0 else None
    stable = bool(tables.stable[w]) if w >= 0 and tables.stable[w] is not None else False
    hasw = w >= 0 and bp_u is not None
    h = _policy_high_ratio(policy, bp) if hasw else Decimal(0)
    # coefficient: hospital × DRG, as price_cases builds its matrix
    hosp = tables.hospitals.get(hospital_id) if hospital_id is not None else None
    if w < 0:
        coef_u, src = COEF_SCALE, "no_weight"
    elif hosp is None:
        coef_u, src = COEF_SCALE, "hospital_not_in_table"
    else:
        v = hosp["coef"][w]
        if v is None:
            coef_u, src = COEF_SCALE, "1.0"
        else:
            coef_u, src = to_units(v, COEF_SCALE), {"h": "hospital", "t": "tier", "1": "1.0"}[hosp["coef_source"][w]]

    # the arithmetic is the batch engine's exact twin (drg.pricing.exact), so an estimate cannot drift from it
    row = None if w < 0 else WeightRow(bp_u if hasw else None, tables.mean_cost_exact[w] if hasw else None, stable,
                                       h, pdp_u, tables.per_diem_mean_exact[w] if pdp_u is not None else None)
    case = CaseToPrice(int(cost_fen), bed_days, ungroupable, False, 0, per_diem and w >= 0, coef_u)
    cls, pts, r, no_weight = price_one_exact(case, row, PricingRule.of(policy, tables.a_fen_exact))
    if cls == UNGROUPABLE and held_for_review(drg, policy):   # SPEC §4: an ambiguous group waits for review
        pts = 0
    ratio = None if r != r else r  # NaN: no cost ratio for this class
    note = ""
    if no_weight:
        note = "no weight: priced as unstable"
    if src == "hospital_not_in_table":
        note = "hospital not in hospitals table: coef 1.0"
    return {
        "case_class": CLASS_NAMES[cls], "points_u": int(pts), "points": pts / scale,
        "base_points": bp_u / scale if hasw else None,
        "per_diem_points": pdp_u / scale if cls == PER_DIEM else None,
        "bed_days": bed_days, "coef_u": coef_u, "coef": coef_u / COEF_SCALE if w >= 0 else None,
        "coef_source": src, "mean_cost_fen": (pdm if cls == PER_DIEM else mean) if w >= 0 else None,
        "high_ratio": float(h) if hasw else None, "low_ratio": float(pr.low_ratio), "cost_ratio": ratio,
        "price_note": note, "widx": w, "stable": stable, "per_diem": per_diem and cls == PER_DIEM,
        "per_diem_rule": per_diem,
        "no_weight": no_weight,
    }


def normal_cost_range(tables, policy, priced: dict) -> dict | None:
    """The total costs (fen) that keep this DRG's case in the normal class, or None when not applicable.

    A case is low when ``cost ≤ L × mean`` and high when ``cost ≥ H × mean`` (SPEC §4), so the normal
    costs are ``floor(L × mean) + 1`` … ``ceil(H × mean) − 1`` fen.
    """
    w = priced["widx"]
    if w < 0 or priced["base_points"] is None or not priced["stable"] or priced["case_class"] in (
            "per_diem", "ungroupable", "review"):
        return None
    mean = Fraction(tables.mean_cost_fen[w])
    lo = Fraction(policy.pricing.low_ratio) * mean
    hi = Fraction(_policy_high_ratio(policy, tables.base_points[w])) * mean
    lo_max = lo.numerator // lo.denominator            # floor: the dearest low-outlier cost
    hi_min = -((-hi.numerator) // hi.denominator)      # ceil: the cheapest high-outlier cost
    return {"mean_cost_fen": round_half_away(mean), "low_ratio": float(policy.pricing.low_ratio),
            "high_ratio": priced["high_ratio"], "low_threshold_fen": float(lo), "high_threshold_fen": float(hi),
            "normal_min_fen": lo_max + 1, "normal_max_fen": hi_min - 1,
            "low_outlier_max_fen": lo_max, "high_outlier_min_fen": hi_min}


def _rule_text(priced: dict, policy, tables, cost_fen: int) -> str:
    cls = priced["case_class"]
    bp, coef, r, h = priced["base_points"], priced["coef"], priced["cost_ratio"], priced["high_ratio"]
    p = str(units_to_decimal(priced["points_u"], policy.points_scale))
    a_yuan = tables.a_fen / 100
    cost = yuan_text(cost_fen).replace(",", "")
    if cls == "normal":
        return f"normal: BP × coef = {bp:.4f} × {coef:.4f} = {p}"
    if cls == "high":
        return f"high outlier (r ≥ H = {h}): BP × coef + (r − H) × BP = {bp:.4f} × {coef:.4f} + ({r:.4f} − {h}) × {bp:.4f} = {p}"
    if cls == "low":
        if policy.pricing.low_outlier_rule == "jinhua":
            return f"low outlier (r ≤ L = {priced['low_ratio']}, Jinhua rule): min(BP × r, BP) = min({bp:.4f} × {r:.4f}, {bp:.4f}) = {p}"
        return (f"low outlier (r ≤ L = {priced['low_ratio']}, province rule): min(BP × coef × r, BP) = "
                f"min({bp:.4f} × {coef:.4f} × {r:.4f}, {bp:.4f}) = {p}")
    if cls == "unstable":
        why = "the DRG has no weight in the table" if priced["no_weight"] else "the DRG is not stable"
        return f"unstable ({why}): cost / A × 100 = {cost} / {a_yuan:.2f} × 100 = {p}"
    if cls == "per_diem":
        return f"per-diem: BPd × bed-days = {priced['per_diem_points']:.4f} × {priced['bed_days']} = {p}"
    if cls == "ungroupable":
        if policy.pricing.ungroupable == "review":
            return "ungroupable: 0 points pending special review (pricing.ungroupable = review)"
        return (f"ungroupable: cost / A × 100 × factor = {cost} / {a_yuan:.2f} × 100 × "
                f"{policy.pricing.ungroupable_factor} = {p}")
    return p


def _coef_text(priced: dict, tables, hospital_id: str | None, drg: str | None, policy) -> str:
    src = priced["coef_source"]
    coef = priced["coef"]
    if src == "no_weight":
        return "none (the DRG has no weight; the case is priced on its cost)"
    if src == "hospital_not_in_table":
        return (f"1.0000: hospital {hospital_id!r} is not in the bureau's hospitals table" if hospital_id
                else "1.0000: no hospital given (--hospital)")
    w = priced["widx"]
    rec = tables.hospitals[hospital_id]
    hc, tc, n_h = rec["hospital_coef"][w], rec["tier_coef"][w], rec["n_hospital"][w]
    blend = tables.blend or {}
    parts = []
    if src == "hospital":
        parts.append(f"hospital {hospital_id}'s own coefficient {hc:.4f} ({n_h} history cases of {drg})")
    elif src == "tier":
        parts.append(f"no coefficient of its own ({n_h} history cases of {drg}, fewer than coef.n_min "
                     f"{policy.coef.n_min}); tier {rec['tier']} coefficient {tc:.4f}")
    else:
        parts.append("neither the hospital nor its tier has history in this DRG")
    if blend:
        hcu = hc if hc is not None else (tc if tc is not None else 1.0)
        tcu = tc if tc is not None else 1.0
        parts.append(f"blend {blend.get('hospital')} × {hcu:.4f} + {blend.get('tier')} × {tcu:.4f} + "
                     f"{blend.get('one')} × 1.0")
    lim = []
    if blend and (policy.coef.min is not None or policy.coef.max is not None):
        raw = (Decimal(str(blend.get("hospital", 0))) * Decimal(repr(hcu)) + Decimal(str(blend.get("tier", 0)))
               * Decimal(repr(tcu)) + Decimal(str(blend.get("one", 0))))
        lo, hi = policy.coef.min, policy.coef.max
        if (lo is not None and raw < lo) or (hi is not None and raw > hi):
            lim.append(f"= {raw:.4f}, clipped to the policy's limits [{lo}, {hi}]")
        else:
            lim.append(f"within the policy's limits [{lo}, {hi}]")
    return f"{coef:.4f}: " + "; ".join(parts + lim)


# --------------------------------------------------------------------------------------------- one case
def estimate_case(bundle, case: CaseInput, *, allow_unknown: bool = False, explain: bool = True) -> dict:
    """Group, price and value one case with a bundle.

    Parameters
    ----------
    bundle : drg.estimate.bundle.Bundle
        From :func:`drg.estimate.bundle.open_bundle`.
    case : CaseInput
    allow_unknown : bool
        Group a case with unknown codes anyway (as the bureau would: an unknown principal diagnosis leaves
        it ungroupable, an unknown secondary code is ignored). Otherwise an unknown code is an
        :class:`InputError` naming it and suggesting the nearest valid codes.

    Returns
    -------
    dict
        ``case, group, pricing, money, normal_range, bundle`` (JSON-ready; money as int fen and yuan text).
    """
    from grouper.reference import Case, group_case

    validate_case(case)
    scheme, policy, tables = bundle.scheme, bundle.policy, bundle.tables
    if not allow_unknown:
        check_codes(scheme, case.dx, case.px, lambda: bundle.codes)
    res = group_case(scheme, Case(sex=case.sex, age=case.age, dx=list(case.dx), px=list(case.px),
                                  age_days=case.age_days, birth_weight=case.birth_weight,
                                  vent_hours=case.vent_hours, los=case.los, discharge_status=case.discharge_status),
                     explain=explain)
    drg_name = adrg_name = mdc_name = None
    if res.drg in scheme.drg_codes:
        drg_name = scheme.drg_names[scheme.drg_codes.index(res.drg)]
    if res.adrg in scheme.adrg_codes:
        adrg_name = scheme.adrg_names[scheme.adrg_codes.index(res.adrg)]
    if res.mdc in scheme.mdc_codes:
        mdc_name = scheme.mdc_names[scheme.mdc_codes.index(res.mdc)]
    ccs = cc_detail(res, case.dx[0] if case.dx else None)
    split = res.drg[3] if res.drg and len(res.drg) == 4 and res.drg != UNGROUPABLE_DRG else None
    group = {"mdc": res.mdc, "mdc_name": mdc_name, "adrg": res.adrg, "adrg_name": adrg_name, "drg": res.drg,
             "drg_name": drg_name, "cc_level": res.cc_level, "group_status": res.status,
             "group_note": res.group_note, "severity_split": SPLIT_TEXT.get(split) if split else None,
             "cc": ccs, "steps": list(res.steps)}

    priced = price_one(tables, policy, res.drg, res.adrg, case.los, case.total_cost_fen, case.hospital_id)
    scale = policy.points_scale
    pricing = {k: priced[k] for k in ("case_class", "points", "base_points", "per_diem_points", "bed_days", "coef",
                                      "coef_source", "high_ratio", "low_ratio", "cost_ratio", "price_note")}
    pricing["case_class_zh"] = CLASS_ZH[priced["case_class"]]
    pricing["points_text"] = str(units_to_decimal(priced["points_u"], scale))
    pricing["mean_cost_yuan"] = None if priced["mean_cost_fen"] is None else round(priced["mean_cost_fen"] / 100, 2)
    pricing["all_drg_mean_yuan"] = round(tables.a_fen / 100, 2)
    pricing["rule"] = _rule_text(priced, policy, tables, case.total_cost_fen)
    if priced["per_diem_rule"] and priced["case_class"] not in ("per_diem", "ungroupable"):
        pricing["rule"] += ("; the case is per-diem by the policy (per_diem.drgs / min_los) but its DRG has no "
                            "per-diem points in the weights, so the case rules apply")
    pricing["coef_explained"] = _coef_text(priced, tables, case.hospital_id, res.drg, policy)

    pv = bundle.point_value(case.insurance_type)
    money: dict[str, Any] = {"pool": case.insurance_type if policy.pools_by_insurance_type else "all",
                             "total_cost_fen": case.total_cost_fen, "total_cost_yuan": yuan_text(case.total_cost_fen)}
    if pv is None:
        money["note"] = (f"no point value for pool {case.insurance_type!r} in the bundle (pools: "
                         f"{', '.join(sorted(bundle.point_values))}); give --insurance")
    else:
        ent = round_half_away(Fraction(priced["points_u"], scale) * pv.fen_per_point)
        money.update({"point_value_yuan": pv.yuan_text, "point_value_source": pv.source,
                      "entitlement_fen": ent, "entitlement_yuan": yuan_text(ent),
                      "margin_fen": ent - case.total_cost_fen, "margin_yuan": yuan_text(ent - case.total_cost_fen)})
        if case.self_paid_fen is not None:
            paid = case.self_paid_fen + (case.other_paid_fen or 0)
            money.update({"self_paid_fen": case.self_paid_fen, "other_paid_fen": case.other_paid_fen or 0,
                          "fund_payment_fen": ent - paid, "fund_payment_yuan": yuan_text(ent - paid)})
    rng = normal_cost_range(tables, policy, priced)
    normal = None
    if rng is not None:
        normal = dict(rng)
        for k in ("mean_cost_fen", "normal_min_fen", "normal_max_fen", "low_outlier_max_fen", "high_outlier_min_fen"):
            normal[k.replace("_fen", "_yuan")] = yuan_text(rng[k])
        for k in ("low_threshold_fen", "high_threshold_fen"):   # exact bounds, shown to 1/100 fen
            u = round_half_away(Fraction(rng[k]) * 100)
            normal[k.replace("_fen", "_yuan")] = f"{yuan_text(u // 100 if u >= 0 else -(-u // 100))}{u % 100:02d}"
    m = bundle.manifest
    return {"case": case.to_json(), "group": group, "pricing": pricing, "money": money, "normal_range": normal,
            "bundle": {"path": str(bundle.path), "policy_id": m.get("policy_id"),
                       "settlement_year": m.get("settlement_year"), "scheme": m.get("scheme"),
                       "created": m.get("created")}}


def _compact_steps(steps: list[str]) -> list[str]:
    """The grouping path without the ADRG rules that did not match (collapsed into one line each run)."""
    import re

    out, run = [], []
    failed = re.compile(r"^\s+(\S+) (rule \d+: .*: no \(|: skipped)")

    def flush():
        if run:
            names = list(dict.fromkeys(run))
            shown = ", ".join(names) if len(names) <= 6 else ", ".join(names[:3]) + ", …, " + ", ".join(names[-2:])
            out.append(f"  … {len(names)} ADRG(s) did not match: {shown}")
            run.clear()

    for line in steps:
        m = failed.match(line)
        if m:
            run.append(m.group(1).rstrip(":"))
            continue
        flush()
        out.append(line)
    flush()
    return out


def format_case(r: dict, all_steps: bool = False) -> str:
    """The person-readable text of :func:`estimate_case` (``all_steps``: every grouping step)."""
    g, p, mo, nr = r["group"], r["pricing"], r["money"], r["normal_range"]
    L = []
    if g["drg"] == UNGROUPABLE_DRG:
        L.append(f"DRG      0000  not grouped ({g['group_status']})")
    else:
        L.append(f"DRG      {g['drg']}  {g['drg_name'] or ''}")
        L.append(f"ADRG     {g['adrg']}  {g['adrg_name'] or ''}   MDC {g['mdc']} {g['mdc_name'] or ''}")
    if g["group_note"]:
        L.append(f"note     {g['group_note']}")
    L.append("grouping path:")
    L.extend(f"  {s}" for s in (g["steps"] if all_steps else _compact_steps(g["steps"])))
    if g["cc"]:
        L.append("CC/MCC:")
        for c in g["cc"]:
            L.append(f"  {c['code']}  {c['kind']}  (exclusion table {c['exclusion_table'] or '—'})  {c['reason']}")
    else:
        L.append("CC/MCC:  none among the other diagnoses")
    if g["severity_split"]:
        L.append(f"severity {g['severity_split']}; case CC level {g['cc_level']}")
    L.append("")
    L.append(f"base points      {_num(p['base_points'])}")
    L.append(f"coefficient      {p['coef_explained']}")
    mean = "—" if p["mean_cost_yuan"] is None else f"{p['mean_cost_yuan']:,.2f}"
    L.append(f"cost ratio       {_num(p['cost_ratio'])}  (cost {mo['total_cost_yuan']} / DRG mean {mean} yuan)")
    L.append(f"case class       {p['case_class']} ({p['case_class_zh']})")
    L.append(f"points           {p['points_text']}   [{p['rule']}]")
    if p["price_note"]:
        L.append(f"                 note: {p['price_note']}")
    if "entitlement_fen" in mo:
        L.append(f"point value      {mo['point_value_yuan']} yuan/point  (pool {mo['pool']}; {mo['point_value_source']})")
        L.append(f"entitlement      {mo['entitlement_yuan']} yuan  (round(points × point value), estimated)")
        L.append(f"against cost     {mo['margin_yuan']} yuan  (entitlement − total cost {mo['total_cost_yuan']})")
        if "fund_payment_fen" in mo:
            other = f" − other payers {yuan_text(mo['other_paid_fen'])}" if mo["other_paid_fen"] else ""
            L.append(f"fund payment     {mo['fund_payment_yuan']} yuan  (entitlement − self-paid "
                     f"{yuan_text(mo['self_paid_fen'])}{other}, estimated)")
    else:
        L.append(f"money            {mo.get('note')}")
    if nr is not None:
        L.append(f"normal range     {nr['normal_min_yuan']} … {nr['normal_max_yuan']} yuan of total cost keeps the "
                 f"case normal")
        L.append(f"                 low outlier at cost ≤ L × mean = {nr['low_ratio']} × {nr['mean_cost_yuan']} = "
                 f"{nr['low_threshold_yuan']}; high outlier at cost ≥ H × mean = {nr['high_ratio']} × "
                 f"{nr['mean_cost_yuan']} = {nr['high_threshold_yuan']} yuan")
    else:
        L.append("normal range     not applicable (" + {"per_diem": "per-diem case: no outlier rule",
                                                         "ungroupable": "no DRG",
                                                         "unstable": "unstable DRG: priced on its cost"}.get(
            p["case_class"], "no outlier rule") + ")")
    b = r["bundle"]
    L.append(f"bundle           {b['path']} (policy {b['policy_id']}, year {b['settlement_year']}, scheme "
             f"{(b.get('scheme') or {}).get('name')} {(b.get('scheme') or {}).get('version')})")
    return "\n".join(L)
