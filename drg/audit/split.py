"""Split admissions (分解住院): one episode of care billed as two or more stays.

Rule. A grouped stay is a *readmission* of the earlier grouped stay of the same patient (among the three
admitted last before it, the one discharged last before its admission), at any hospital, in the same ADRG (or, failing that, in a related ADRG: ``audit.split.related_adrgs`` groups, or
the same MDC with ``related_same_mdc``) when it is admitted 0 to ``audit.split.window_days`` days after that
stay's discharge (0: the same day), the earlier stay did not end in death, and the ADRG is not exempt
(``readmission.exempt_adrgs``: radiotherapy and chemotherapy courses are planned readmissions). Other stays
of the patient in between do not break a pair. A chain of readmissions is one episode; each readmission is
a finding, with the other stays of its chain as related cases. Only readmissions in the audited period are
queued; the earlier stay may be a history case.

Strength (0–1) = g · m · e:

* g, the gap: 1 when the readmission comes within ``short_gap_days`` (the same or the next day — a discharge
  on paper); 0.6 the day after, falling linearly to 0.4 at ``window_days`` (a readmission after a real
  interval is a weaker sign: many are new illnesses or complications);
* m, the match: 1.0 the same DRG and principal diagnosis, 0.9 the same DRG, 0.8 the same ADRG, 0.6 related;
* e, the cost: with R = the two stays' cost ratios added, 1 when R ≤ ``episode_ratio`` (together they cost
  about one episode), falling linearly to 0.5 at R = 2 × ``episode_ratio`` and below.

A transfer (the earlier stay discharged with 离院方式 2 or 3 to another hospital that admits the same day) is
an episode cut in two between hospitals: it is judged like any other pair, and both hospitals count.

Hospital test (:func:`drg.audit.common.hospital_test`): the hits are the hospital's stays followed by a
readmission within ``short_gap_days``, counted at the hospital that discharged. A finding at a flagged
hospital (the discharging or the admitting one) scores its strength, elsewhere ``unflagged_factor`` × it.
"""

from __future__ import annotations

from drg.audit.common import Findings, empty_rows, evidence_json, hospital_signals, hospital_test

__all__ = ["detect_split"]

DETECTOR = "split_admission"
_LOOK_BACK = 3          # earlier stays of the patient (same key) considered for each stay
_RELATION_ZH = {"same_drg_pdx": "同一 DRG、同一主要诊断", "same_drg": "同一 DRG", "same_adrg": "同一 ADRG",
                "related": "相关 ADRG"}


def detect_split(ac, policy) -> Findings:
    """Split admissions among the audited cases of ``ac`` (:class:`drg.audit.cases.AuditCases`)."""
    import polars as pl

    sp = policy.audit.split
    window, short = int(sp.window_days), int(sp.short_gap_days)
    rho = float(sp.episode_ratio)
    group_of = {}
    for gi, text in enumerate(sp.related_adrgs):
        for code in text.replace(",", " ").split():
            group_of[code.strip()] = gi
    exempt = list(policy.readmission.exempt_adrgs)
    c = ac.cases.filter(pl.col("patient_id").is_not_null() & pl.col("admit").is_not_null() & pl.col("grouped"))
    c = c.with_columns(pl.col("adrg").replace_strict(group_of, default=None, return_dtype=pl.Int64).alias("_grp"))
    prev_cols = ["case_id", "hospital_id", "discharge", "adrg", "drg", "mdc", "pdx", "cost_ratio", "status"]
    # the latest earlier stay of the same patient in the same ADRG, and in a related one (other stays of the
    # patient in between do not break a pair: a person may have unrelated stays, even overlapping ones)
    keys = {"same": pl.col("adrg")}
    if group_of:
        keys["group"] = pl.col("_grp")
    if sp.related_same_mdc:
        keys["mdc"] = pl.col("mdc")
    cands = []
    for name, key in keys.items():
        base = c.with_columns(key.cast(pl.String).alias("_key")).filter(pl.col("_key").is_not_null())
        base = base.sort(["patient_id", "_key", "admit", "discharge", "case_id"])
        # the last _LOOK_BACK stays admitted before it are candidates: an overlapping stay in between (a
        # coincidence of ids, or a stay of another episode) must not hide the stay this one continues
        for back in range(1, _LOOK_BACK + 1):
            same_group = ((pl.col("patient_id") == pl.col("patient_id").shift(back))
                          & (pl.col("_key") == pl.col("_key").shift(back)))
            k = base.with_columns([pl.when(same_group).then(pl.col(x).shift(back)).otherwise(None).alias(f"p_{x}")
                                   for x in prev_cols])
            k = k.filter(pl.col("p_case_id").is_not_null())
            if name != "same":
                # a related pair is one of different ADRGs; the same ADRG pairs through the first key
                k = k.filter(pl.col("adrg") != pl.col("p_adrg"))
            cands.append(k.with_columns(pl.lit(0 if name == "same" else 1).alias("_pref")))
    c = pl.concat(cands, how="vertical_relaxed") if cands else c.clear()
    c = c.with_columns((pl.col("admit") - pl.col("p_discharge")).dt.total_days().alias("gap"))
    link = (pl.col("gap").is_between(0, window) & (pl.col("p_status").fill_null(1) != 5)
            & ~pl.col("adrg").is_in(exempt))
    c = (c.filter(link).sort(["case_id", "gap", "_pref", "p_case_id"])
         .unique("case_id", keep="first", maintain_order=True))
    # chains: follow each readmission back to the first stay of its episode
    prev_of = dict(zip(c["case_id"].to_list(), c["p_case_id"].to_list()))
    root = {}
    for cid in prev_of:
        seen, x = [cid], cid
        while x in prev_of and prev_of[x] not in seen and len(seen) < 1000:
            x = prev_of[x]
            seen.append(x)
        root[cid] = x
    chains: dict[str, list[str]] = {}
    for cid, r in root.items():
        chains.setdefault(r, [r]).append(cid)
    c = c.with_columns(pl.col("case_id").replace_strict(root, return_dtype=pl.String).alias("chain"))
    members = pl.DataFrame({"chain": list(chains), "chain_ids": [sorted(v) for v in chains.values()]},
                           schema={"chain": pl.String, "chain_ids": pl.List(pl.String)})
    c = c.join(members, on="chain", how="left").with_columns(pl.col("chain_ids").list.len().alias("chain_len"),
                                                              pl.lit(True).alias("link"))
    same_adrg = pl.col("adrg") == pl.col("p_adrg")
    relation = (pl.when((pl.col("drg") == pl.col("p_drg")) & (pl.col("pdx") == pl.col("p_pdx"))).then(pl.lit("same_drg_pdx"))
                .when(pl.col("drg") == pl.col("p_drg")).then(pl.lit("same_drg"))
                .when(same_adrg).then(pl.lit("same_adrg")).otherwise(pl.lit("related")))
    m = relation.replace_strict({"same_drg_pdx": 1.0, "same_drg": 0.9, "same_adrg": 0.8, "related": 0.6},
                                return_dtype=pl.Float64)
    g = (pl.when(pl.col("gap") <= short).then(1.0)
         .otherwise(0.6 - 0.2 * (pl.col("gap") - short - 1) / max(1, window - short - 1)))
    r_sum = pl.col("cost_ratio").fill_null(1.0) + pl.col("p_cost_ratio").fill_null(1.0)
    e = pl.max_horizontal(pl.lit(0.5), pl.min_horizontal(pl.lit(1.0), 1.0 - 0.5 * (r_sum - rho) / rho))
    transfer = pl.col("p_status").is_in([2, 3]) & (pl.col("p_hospital_id") != pl.col("hospital_id"))
    c = c.with_columns(relation.alias("relation"), (g * m * e).alias("strength"), r_sum.alias("r_sum"),
                       transfer.fill_null(False).alias("transfer"))

    # the hospital test: stays followed by a readmission within short_gap_days, at the discharging hospital
    short_links = c.filter(pl.col("link") & (pl.col("gap") <= short)).select(pl.col("p_case_id").alias("case_id"))
    audited = ac.audited.with_columns(pl.col("case_id").is_in(short_links["case_id"].implode()).alias("_hit"))
    h = hospital_test(audited, "_hit", policy)
    flagged = set(h.filter("flagged")["hospital_id"].to_list())
    stats = {r["hospital_id"]: r for r in h.iter_rows(named=True)}

    f = c.filter(pl.col("link") & pl.col("audited"))
    summary = {"candidates": f.height, "hospitals_flagged": sorted(flagged), "window_days": window,
               "short_gap_days": short}
    if not f.height:
        return Findings(DETECTOR, empty_rows(), hospital_signals(DETECTOR, h, "short-gap readmissions"), summary)
    unflagged = float(policy.audit.unflagged_factor)
    rows = []
    for r in f.iter_rows(named=True):
        hf = r["p_hospital_id"] in flagged or r["hospital_id"] in flagged
        score = r["strength"] * (1.0 if hf else unflagged)
        hs = stats.get(r["p_hospital_id"]) or {}
        related_ids = [x for x in r["chain_ids"] if x != r["case_id"]]
        ev = {"earlier_case": r["p_case_id"], "earlier_hospital": r["p_hospital_id"], "gap_days": int(r["gap"]),
              "relation": r["relation"], "transfer": bool(r["transfer"]),
              "cost_ratios": [r["p_cost_ratio"], r["cost_ratio"]], "cost_ratio_sum": r["r_sum"],
              "chain_stays": int(r["chain_len"]),
              "hospital": {"hospital_id": r["p_hospital_id"], "short_readmissions": hs.get("hits"),
                           "expected": hs.get("expected"), "p_adj": hs.get("p_adj"), "flagged": hf}}
        when = "同日" if r["gap"] == 0 else f"出院 {int(r['gap'])} 天后"
        text = (f"同一患者{when}再次入院（{_RELATION_ZH[r['relation']]}），"
                f"前次病例 {r['p_case_id']}（{r['p_hospital_id']}）；两次费用倍率合计 {r['r_sum']:.2f}")
        if r["transfer"]:
            text += "；前次以转院离院"
        if r["chain_len"] > 2:
            text += f"；连续 {int(r['chain_len'])} 次住院"
        if hs:
            text += (f"；{r['p_hospital_id']} 短期再入院 {int(hs['hits'])} 例，按病种结构预期 "
                     f"{hs['expected']:.1f} 例{'（显著）' if r['p_hospital_id'] in flagged else ''}")
        rows.append({"case_id": r["case_id"], "detector": DETECTOR, "strength": float(r["strength"]),
                     "hospital_flagged": hf, "score": float(score), "evidence": evidence_json(ev),
                     "evidence_text": text, "related_cases": related_ids})
    out = pl.DataFrame(rows, schema=empty_rows().schema)
    return Findings(DETECTOR, out, hospital_signals(DETECTOR, h, "short-gap readmissions"), summary)
