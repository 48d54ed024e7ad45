"""Cost shifting to patients (转嫁费用 / 诱导自费): a patient paying a far larger share of the bill than the
patients of other hospitals in the same DRG, pool and tier.

Rule. A case's self-pay share s = self_paid ÷ total cost (the patient's own part; ``other_paid`` — major-
illness insurance and assistance — is not the patient's). Its peers are the cases of the *other* hospitals
in the same pool (insurance type: the benefit rules differ), DRG (``0000``: the ungroupable cases) and
hospital tier (all tiers when the tier has fewer than ``audit.cost_shift.min_peers`` peer cases, or when no
hospitals table is given). With
m the peers' median share and σ = 1.4826 × their median absolute deviation (a robust standard deviation),
the case is a hit when its excess e = s − m is at least ``min_excess`` and at least ``spread_k`` × σ.

Strength = 0.5 + 0.5 · (e − min_excess) ÷ min_excess, at most 1 (1 when the excess is twice the minimum).

Hospital test (:func:`drg.audit.common.hospital_test`, the mix over DRGs): a finding at a flagged hospital
scores its strength, elsewhere ``unflagged_factor`` × it.
"""

from __future__ import annotations

import numpy as np

from drg.audit.common import Findings, empty_rows, evidence_json, hospital_signals, hospital_test

__all__ = ["detect_cost_shift"]

DETECTOR = "cost_shift"


def _median_mad(x: np.ndarray) -> tuple[float, float]:
    m = float(np.median(x))
    return m, 1.4826 * float(np.median(np.abs(x - m)))


def detect_cost_shift(ac, policy) -> Findings:
    """Cost shifting among the audited cases of ``ac``."""
    import polars as pl

    cs = policy.audit.cost_shift
    min_excess, k, min_peers = float(cs.min_excess), float(cs.spread_k), int(cs.min_peers)
    tiers = ac.tiers
    c = (ac.audited.filter(pl.col("drg").is_not_null() & (pl.col("total_fen") > 0))
         .with_columns((pl.col("self_fen") / pl.col("total_fen")).alias("share"),
                       pl.col("hospital_id").replace_strict(tiers, default="", return_dtype=pl.String).alias("tier")))
    # first pass: the hospitals with cases well above their group's median (their own cases included)
    c = c.with_columns(pl.col("share").median().over("pool", "drg", "tier").alias("_m0"))
    maybe = (c.filter(pl.col("share") - pl.col("_m0") >= 0.5 * min_excess)
             .select("pool", "drg", "tier", "hospital_id").unique())
    share = c["share"].to_numpy()
    keys = {}
    for i, (p, d, t, h) in enumerate(c.select("pool", "drg", "tier", "hospital_id").iter_rows()):
        keys.setdefault((p, d, t), []).append(i)
    by_drg = {}
    for (p, d, t), idx in keys.items():
        by_drg.setdefault((p, d), []).extend(idx)
    hosp = np.array(c["hospital_id"].to_list(), dtype=object)
    ref = {}
    for p, d, t, h in maybe.iter_rows():
        idx = np.array(keys[(p, d, t)])
        peers = idx[hosp[idx] != h]
        scope = "tier"
        if len(peers) < min_peers:
            idx = np.array(by_drg[(p, d)])
            peers, scope = idx[hosp[idx] != h], "all tiers"
        if len(peers) < min_peers:
            continue
        m, sigma = _median_mad(share[peers])
        ref[(p, d, t, h)] = (m, sigma, len(peers), scope)
    ref_df = pl.DataFrame([(*key, *v) for key, v in ref.items()],
                          schema={"pool": pl.String, "drg": pl.String, "tier": pl.String, "hospital_id": pl.String,
                                  "peer_median": pl.Float64, "peer_sigma": pl.Float64, "peers": pl.Int64,
                                  "peer_scope": pl.String}, orient="row")
    c = c.join(ref_df, on=["pool", "drg", "tier", "hospital_id"], how="left")
    excess = pl.col("share") - pl.col("peer_median")
    c = c.with_columns(excess.alias("excess"),
                       (pl.col("peer_median").is_not_null() & (excess >= min_excess)
                        & (excess >= k * pl.col("peer_sigma"))).fill_null(False).alias("_hit"))
    summary = {"candidates": int(c["_hit"].sum()), "tiers_known": bool(tiers)}
    h = hospital_test(c, "_hit", policy, unit="drg")
    flagged = set(h.filter("flagged")["hospital_id"].to_list())
    stats = {r["hospital_id"]: r for r in h.iter_rows(named=True)}
    summary["hospitals_flagged"] = sorted(flagged)
    unflagged = float(policy.audit.unflagged_factor)
    rows = []
    for r in c.filter("_hit").iter_rows(named=True):
        e = r["excess"]
        strength = min(1.0, 0.5 + 0.5 * (e - min_excess) / min_excess) if min_excess > 0 else 1.0
        hf = r["hospital_id"] in flagged
        hs = stats[r["hospital_id"]]
        ev = {"self_pay_share": r["share"], "peer_median": r["peer_median"], "peer_sigma": r["peer_sigma"],
              "excess": e, "peers": int(r["peers"]), "peer_scope": r["peer_scope"], "tier": r["tier"],
              "self_paid_fen": int(r["self_fen"]), "total_cost_fen": int(r["total_fen"]),
              "hospital": {"hits": int(hs["hits"]), "cases": int(hs["cases"]), "expected": hs["expected"],
                           "p_adj": hs["p_adj"], "flagged": hf}}
        scope = "同级别医院" if r["peer_scope"] == "tier" else "全部医院"
        text = (f"个人自付比例 {r['share']:.1%}，{scope}同病组同统筹区中位数 {r['peer_median']:.1%}"
                f"（{int(r['peers'])} 例），高出 {e:.1%}；本院此类病例 {int(hs['hits'])} 例，"
                f"按病组结构预期 {hs['expected']:.1f} 例{'（显著）' if hf else ''}")
        rows.append({"case_id": r["case_id"], "detector": DETECTOR, "strength": strength, "hospital_flagged": hf,
                     "score": strength * (1.0 if hf else unflagged), "evidence": evidence_json(ev),
                     "evidence_text": text, "related_cases": []})
    return Findings(DETECTOR, pl.DataFrame(rows, schema=empty_rows().schema),
                    hospital_signals(DETECTOR, h, "self-pay share far above peers"), summary)
