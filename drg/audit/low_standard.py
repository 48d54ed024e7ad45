"""Low-standard admissions (低标准入院): patients admitted for care that outpatients receive.

Rule. A grouped stay of at most ``audit.low_standard.max_los`` days whose cost ratio, measured against its
ADRG's cheapest inpatient care and relative to its hospital's cost level, is at most ``max_cost_ratio`` —
r′ = max(r, c ÷ m_A) ÷ L_h, with c the stay's total cost, m_A the lowest mean cost among the DRGs of its ADRG
(so a severity code that lifted the group but not the cost, the upcoding detector's concern, does not make a
stay look cheap) and L_h the median cost ratio of the hospital's grouped cases in the period over the city's
median (1 for a hospital of typical cost; a hospital whose every stay is cheap is not, by that alone,
admitting outpatients) —, not ended by death or a
transfer (离院方式 5, 2, 3), in an ADRG usually treated as outpatients: the policy's list ``adrgs``, or, when it is empty, the ADRGs whose history stays were that short
at least ``learn_min_share`` of the time (with at least ``learn_min_cases`` history cases). A stay readmitted, or
readmitted itself, in the same ADRG within ``audit.split.short_gap_days`` is not one: it is the mark of a
split admission, which that detector reports. Without a list and without history the rule has nothing to go
on and finds nothing (the summary says so).

Strength = 0.5 + 0.5 · (1 − r′ / max_cost_ratio): 0.5 at the ratio limit, 1 for a stay that cost nothing.

Hospital test (:func:`drg.audit.common.hospital_test`): the hits are the hospital's stays that meet the rule;
a finding at a flagged hospital scores its strength, elsewhere ``unflagged_factor`` × it.
"""

from __future__ import annotations

from drg.audit.common import Findings, empty_rows, evidence_json, hospital_signals, hospital_test

__all__ = ["detect_low_standard", "outpatient_adrgs"]

DETECTOR = "low_standard"


def outpatient_adrgs(ac, policy) -> tuple[list[str], str]:
    """The ADRGs usually treated as outpatients and where the list comes from (``policy`` or ``history``)."""
    import polars as pl

    ls = policy.audit.low_standard
    if ls.adrgs:
        return sorted(ls.adrgs), "policy"
    hist = ac.cases.filter(~pl.col("audited") & pl.col("grouped") & pl.col("adrg").is_not_null())
    if not hist.height:
        return [], "none"
    g = (hist.group_by("adrg").agg(pl.len().alias("n"), (pl.col("los") <= ls.max_los).sum().alias("short"))
         .filter((pl.col("n") >= ls.learn_min_cases) & (pl.col("short") >= pl.col("n") * float(ls.learn_min_share))))
    return sorted(g["adrg"].to_list()), "history"


def _short_pairs(ac, gap_days: int):
    """Case ids of the stays readmitted, or readmissions, within ``gap_days`` in the same ADRG (one patient)."""
    import polars as pl

    c = (ac.cases.filter(pl.col("grouped") & pl.col("patient_id").is_not_null() & pl.col("admit").is_not_null())
         .select("case_id", "patient_id", "adrg", "admit", "discharge")
         .sort(["patient_id", "adrg", "admit", "discharge", "case_id"]))
    same = (pl.col("patient_id") == pl.col("patient_id").shift(1)) & (pl.col("adrg") == pl.col("adrg").shift(1))
    gap = (pl.col("admit") - pl.col("discharge").shift(1)).dt.total_days()
    c = c.with_columns((same & gap.is_between(0, gap_days)).fill_null(False).alias("_after"))
    c = c.with_columns(pl.col("_after").shift(-1).fill_null(False).alias("_before"))
    return c.filter(pl.col("_after") | pl.col("_before"))["case_id"]


def detect_low_standard(ac, policy) -> Findings:
    """Low-standard admissions among the audited cases of ``ac``."""
    import polars as pl

    ls = policy.audit.low_standard
    adrgs, source = outpatient_adrgs(ac, policy)
    max_r = float(ls.max_cost_ratio)
    audited = ac.audited
    priced = audited.filter(pl.col("grouped") & (pl.col("cost_ratio") > 0))
    city_median = priced["cost_ratio"].median() if priced.height else None
    level = (priced.group_by("hospital_id").agg((pl.col("cost_ratio").median() / city_median).alias("_level"))
             if city_median else pl.DataFrame(schema={"hospital_id": pl.String, "_level": pl.Float64}))
    # the ADRG's cheapest inpatient care: the lowest mean cost among its DRGs (an MCC that lifts a case's group
    # but not its cost is the upcoding detector's concern, not an admission without indication)
    floor = (ac.cases.filter(pl.col("grouped") & (pl.col("mean_cost") > 0)).group_by("adrg")
             .agg(pl.col("mean_cost").min().alias("_adrg_mean")))
    base = (pl.when(pl.col("_adrg_mean") > 0).then(pl.col("total_fen") / 100 / pl.col("_adrg_mean"))
            .otherwise(pl.col("cost_ratio")))
    audited = (audited.join(level, on="hospital_id", how="left").join(floor, on="adrg", how="left")
               .with_columns(pl.max_horizontal(pl.col("cost_ratio"), base).alias("_r_adrg"))
               .with_columns((pl.col("_r_adrg") / pl.col("_level").fill_null(1.0)).alias("_r")))
    paired = _short_pairs(ac, int(policy.audit.split.short_gap_days))
    hit = (pl.col("grouped") & pl.col("adrg").is_in(adrgs) & (pl.col("los") <= ls.max_los)
           & (pl.col("_r") <= max_r) & ~pl.col("status").fill_null(1).is_in([2, 3, 5])
           & ~pl.col("case_id").is_in(paired.implode()))
    audited = audited.with_columns(hit.fill_null(False).alias("_hit"))
    summary = {"adrgs": adrgs, "adrgs_from": source, "candidates": int(audited["_hit"].sum())}
    if not adrgs:
        summary["note"] = "no ADRG list in the policy and no history to learn one from: the rule found nothing"
        return Findings(DETECTOR, empty_rows(), [], summary)
    h = hospital_test(audited, "_hit", policy, unit="mdc")
    flagged = set(h.filter("flagged")["hospital_id"].to_list())
    stats = {r["hospital_id"]: r for r in h.iter_rows(named=True)}
    summary["hospitals_flagged"] = sorted(flagged)
    unflagged = float(policy.audit.unflagged_factor)
    rows = []
    for r in audited.filter("_hit").iter_rows(named=True):
        strength = 0.5 + 0.5 * max(0.0, 1.0 - r["_r"] / max_r)
        hf = r["hospital_id"] in flagged
        hs = stats[r["hospital_id"]]
        ev = {"los": int(r["los"]), "cost_ratio": r["cost_ratio"], "adrg_cost_ratio": r["_r_adrg"],
              "hospital_level": r["_level"],
              "relative_cost_ratio": r["_r"], "total_cost_fen": int(r["total_fen"]),
              "adrg": r["adrg"], "adrgs_from": source,
              "hospital": {"hits": int(hs["hits"]), "cases": int(hs["cases"]), "expected": hs["expected"],
                           "p_adj": hs["p_adj"], "flagged": hf}}
        own = "—" if r["cost_ratio"] is None else f"{r['cost_ratio']:.2f}"
        text = (f"住院 {int(r['los'])} 天，费用倍率 {own}（对本 ADRG 费用最低病组 {r['_r_adrg']:.2f}；"
                f"本院费用水平 {r['_level'] or 1:.2f}，相对倍率 {r['_r']:.2f}；总费用 {r['total_fen'] / 100:,.2f} 元），"
                f"{r['adrg']} 为{'政策所列' if source == 'policy' else '历史上多为短期住院的'}门诊可治疗病组；"
                f"本院此类病例 {int(hs['hits'])} 例，按病种结构预期 {hs['expected']:.1f} 例"
                f"{'（显著）' if hf else ''}")
        rows.append({"case_id": r["case_id"], "detector": DETECTOR, "strength": strength, "hospital_flagged": hf,
                     "score": strength * (1.0 if hf else unflagged), "evidence": evidence_json(ev),
                     "evidence_text": text, "related_cases": []})
    return Findings(DETECTOR, pl.DataFrame(rows, schema=empty_rows().schema),
                    hospital_signals(DETECTOR, h, "short, cheap stays in outpatient ADRGs"), summary)
