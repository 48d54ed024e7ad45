"""Upcoding signals (高套分组): a hospital coding its patients as sicker than they are, so that they fall into
the better-paid MCC or CC group of their ADRG. Three statistical signals, over the monitoring facts
(:mod:`drg.audit.facts`) and the grouper's ``cc_level`` / ``cc_dx`` (the secondary code that set the level,
so no ICD knowledge is needed here):

1. **Share** — per hospital h and ADRG a with at least ``audit.upcoding.min_cases`` grouped cases: k of its n
   cases at MCC level (and, as a second test, at CC or MCC level); p = the same share among the other
   hospitals' cases of a. One-sided exact binomial p-value P(X ≥ k | n, p). Flagged when the
   Benjamini–Hochberg adjusted p-value (over every share test) is at most ``audit.fdr`` and k/n − p is at
   least ``min_share_excess``.
2. **Code** — per hospital h and secondary code c that set MCC level in at least ``cc_dx_min_cases`` of h's
   cases: expected = Σ_a n_{h,a} · (the share of the other hospitals' grouped cases of ADRG a lifted to MCC by
   c); Poisson p-value P(X ≥ k | expected). Flagged when adjusted over every (hospital, code) pair of the city
   (the pairs below ``cc_dx_min_cases`` count with p = 1) at most ``fdr`` and k ≥ ``cc_dx_min_ratio`` ×
   expected.
3. **CMI** — per hospital: its CMI this period against what last year's coding within each of its ADRGs
   would give for this period's ADRG mix, both valued at this year's weights w_d = BP_d / 100:
   expected = Σ_a n_a · μ_a with μ_a last year's mean w of the hospital's m_a cases in a (the city's, over
   the city's m_a cases, when the hospital had fewer than 5), observed = Σ_i w_i;
   z = (observed − expected) ÷ √(Σ_a n_a · v_a · (1 + n_a / m_a)) with v_a last year's variance of w in a
   (this period's sampling and last year's). Flagged when the normal p-value, adjusted over hospitals, is
   at most ``fdr`` and (observed − expected) ÷ expected is at least ``cmi_rise_min``. Needs last year (the
   ledger's facts, or the priced history files); without it the signal is skipped. The monitoring CMI of
   both years is reported. The signal names hospitals, not cases: it is on the signals sheet and in the
   evidence of the hospital's findings from signals 1 and 2.

Findings (one per case, strength the largest of the signals that reach it). A flagged unit holds k lifted
cases where the other hospitals' rate explains e of them (e = n·p for a share, the expected count for a
code): the share of its cases above that, (k − e) ÷ k, estimates the chance that a given one is an excess
case, and is the strength — multiplied by 0.75 when the case costs more than ``cost_ratio_max`` of its DRG's
mean (an upcoded case keeps the cost of its true, lower group):

* signal 2: the hospital's cases lifted to MCC by the flagged code;
* signal 1: the hospital's MCC-level (CC-or-MCC-level for the CC test) cases in the flagged ADRG; those lifted
  by a flagged code of signal 2 are that signal's findings, and the others share what is left of the excess:
  strength 1 − e ÷ (k − the coded cases).

Every signal is a test over a unit already (no second hospital test): the score is the strength.
"""

from __future__ import annotations

import math

import numpy as np

from drg.audit.common import Findings, empty_rows, evidence_json
from drg.audit.stats import benjamini_hochberg, binomial_upper, normal_upper, poisson_upper

__all__ = ["detect_upcoding"]

DETECTOR = "upcoding"


def _share_tests(cur, policy):
    """Signal 1 over the facts of this period: one row per (hospital, ADRG, test)."""
    import polars as pl

    up = policy.audit.upcoding
    g = cur.filter((pl.col("group_state") == "grouped") & (pl.col("adrg") != ""))
    cell = g.group_by("hospital_id", "adrg").agg(pl.col("cases").sum().alias("n"), pl.col("mcc_cases").sum().alias("mcc"),
                                                 pl.col("cc_cases").sum().alias("cc"))
    tot = cell.group_by("adrg").agg(pl.col("n").sum().alias("N"), pl.col("mcc").sum().alias("MCC"),
                                    pl.col("cc").sum().alias("CC"))
    cell = cell.join(tot, on="adrg").filter(pl.col("n") >= up.min_cases)
    rows = []
    for test, k, K in (("mcc_share", "mcc", "MCC"), ("cc_share", "cc", "CC")):
        t = cell.with_columns(pl.lit(test).alias("test"), pl.col(k).alias("k"),
                              pl.when(pl.col("N") > pl.col("n")).then((pl.col(K) - pl.col(k)) / (pl.col("N") - pl.col("n")))
                              .otherwise(None).alias("p_city"))
        rows.append(t.filter(pl.col("p_city").is_not_null()).select("hospital_id", "adrg", "test", "n", "k", "p_city"))
    t = pl.concat(rows)
    if not t.height:
        return t.with_columns(pl.lit(None, pl.Float64).alias("p"), pl.lit(None, pl.Float64).alias("p_adj"),
                              pl.lit(False).alias("flagged"), pl.lit(None, pl.Float64).alias("share"))
    p = binomial_upper(t["k"].to_numpy(), t["n"].to_numpy(), t["p_city"].to_numpy())
    t = t.with_columns(pl.Series("p", p), pl.Series("p_adj", benjamini_hochberg(p)), (pl.col("k") / pl.col("n")).alias("share"))
    return t.with_columns(((pl.col("p_adj") <= float(policy.audit.fdr))
                           & (pl.col("share") - pl.col("p_city") >= float(up.min_share_excess))).alias("flagged"))


def _code_tests(cases, policy):
    """Signal 2 over the audited cases: one row per (hospital, code) with enough lifted cases."""
    import polars as pl

    up = policy.audit.upcoding
    g = cases.filter(pl.col("grouped") & pl.col("adrg").is_not_null())
    lifted = g.filter((pl.col("cc_level") == 2) & pl.col("cc_dx").is_not_null())
    n_ha = g.group_by("hospital_id", "adrg").agg(pl.len().alias("n"))
    n_a = n_ha.group_by("adrg").agg(pl.col("n").sum().alias("N"))
    k_hac = lifted.group_by("hospital_id", "adrg", "cc_dx").agg(pl.len().alias("k"))
    k_ac = k_hac.group_by("adrg", "cc_dx").agg(pl.col("k").sum().alias("K"))
    k_hc = k_hac.group_by("hospital_id", "cc_dx").agg(pl.col("k").sum())
    tested = k_hc.filter(pl.col("k") >= up.cc_dx_min_cases)
    if not tested.height:
        return tested.with_columns(*(pl.lit(None, pl.Float64).alias(c) for c in ("expected", "p", "p_adj", "ratio")),
                                   pl.lit(False).alias("flagged"))
    # expected: each ADRG of the hospital × the other hospitals' rate of this code in it
    e = (tested.select("hospital_id", "cc_dx").join(n_ha, on="hospital_id").join(n_a, on="adrg")
         .join(k_ac, on=["adrg", "cc_dx"], how="left")
         .join(k_hac.rename({"k": "k_own"}), on=["hospital_id", "adrg", "cc_dx"], how="left")
         .with_columns(pl.col("K").fill_null(0), pl.col("k_own").fill_null(0))
         .with_columns(pl.when(pl.col("N") > pl.col("n"))
                       .then(pl.col("n") * (pl.col("K") - pl.col("k_own")) / (pl.col("N") - pl.col("n")))
                       .otherwise(0.0).alias("e"))
         .group_by("hospital_id", "cc_dx").agg(pl.col("e").sum().alias("expected"), pl.col("n").sum().alias("cases")))
    t = tested.join(e, on=["hospital_id", "cc_dx"], how="left").sort("hospital_id", "cc_dx")
    p = poisson_upper(t["k"].to_numpy(), t["expected"].to_numpy())
    # the family is every (hospital, code) pair, not only those with enough cases to be tested: choosing the
    # tests by their counts would leave the correction blind to the pairs that were not chosen
    family = n_ha["hospital_id"].n_unique() * k_ac["cc_dx"].n_unique()
    t = t.with_columns(pl.Series("p", p), pl.Series("p_adj", benjamini_hochberg(p, m=family)),
                       pl.when(pl.col("expected") > 0).then(pl.col("k") / pl.col("expected")).otherwise(math.inf)
                       .alias("ratio"))
    return t.with_columns(((pl.col("p_adj") <= float(policy.audit.fdr))
                           & (pl.col("ratio") >= float(up.cc_dx_min_ratio))).alias("flagged"))


def _weights(cur) -> dict[str, float]:
    """w_d = BP_d / 100 of every DRG with base points this period (Σ w_units ÷ grouped cases of the DRG)."""
    import polars as pl

    g = (cur.filter((pl.col("group_state") == "grouped") & (pl.col("grouped") > 0))
         .group_by("drg").agg(pl.col("w_units").sum(), pl.col("grouped").sum(), pl.col("scale").max()))
    return {d: w / s / 100 / n for d, w, n, s in g.select("drg", "w_units", "grouped", "scale").iter_rows()}


def _cmi_tests(cur, last, policy, hospitals: dict):
    """Signal 3: one row per hospital, and per (hospital, ADRG) last year's mean weight (for the findings)."""
    import polars as pl

    from drg.monitoring.indicators import indicators, prepare

    up = policy.audit.upcoding
    w = _weights(cur)
    if last is None or not last.height or not w:
        return None, None
    wmap = pl.DataFrame({"drg": list(w), "w": list(w.values())})

    def cells(f):
        return (f.filter((pl.col("group_state") == "grouped") & (pl.col("adrg") != ""))
                .group_by("hospital_id", "adrg", "drg").agg(pl.col("cases").sum().alias("n"))
                .join(wmap, on="drg", how="inner"))

    now, before = cells(cur), cells(last)
    # last year's mean and variance of w per (hospital, ADRG) and per ADRG (the city's)
    def moments(df, keys):
        return (df.group_by(keys).agg(pl.col("n").sum().alias("m_n"), (pl.col("n") * pl.col("w")).sum().alias("s1"),
                                      (pl.col("n") * pl.col("w") ** 2).sum().alias("s2"))
                .with_columns((pl.col("s1") / pl.col("m_n")).alias("mu"))
                .with_columns(pl.max_horizontal(pl.lit(0.0), pl.col("s2") / pl.col("m_n") - pl.col("mu") ** 2).alias("v")))
    mh = moments(before, ["hospital_id", "adrg"]).rename({"mu": "mu_h", "v": "v_h", "m_n": "n_last"})
    ma = moments(before, ["adrg"]).rename({"mu": "mu_a", "v": "v_a"}).select("adrg", "mu_a", "v_a")
    ma = ma.join(moments(before, ["adrg"]).select("adrg", pl.col("m_n").alias("n_city")), on="adrg")
    own = pl.col("n_last") >= 5
    per = (now.group_by("hospital_id", "adrg").agg(pl.col("n").sum(), (pl.col("n") * pl.col("w")).sum().alias("obs"))
           .join(ma, on="adrg", how="inner").join(mh.select("hospital_id", "adrg", "n_last", "mu_h", "v_h"),
                                                  on=["hospital_id", "adrg"], how="left")
           .with_columns(pl.when(own).then(pl.col("mu_h")).otherwise(pl.col("mu_a")).alias("mu"),
                         pl.when(own).then(pl.col("v_h")).otherwise(pl.col("v_a")).alias("v"),
                         pl.when(own).then(pl.col("n_last")).otherwise(pl.col("n_city")).alias("m")))
    # the variance of observed − expected: this period's cases, and last year's mean estimated from m cases
    h = (per.group_by("hospital_id").agg(pl.col("n").sum().alias("cases"), pl.col("obs").sum(),
                                         (pl.col("n") * pl.col("mu")).sum().alias("expected"),
                                         (pl.col("n") * pl.col("v") * (1 + pl.col("n") / pl.col("m"))).sum()
                                         .alias("var"))
         .filter(pl.col("expected") > 0).sort("hospital_id"))
    if not h.height:
        return None, None
    z = np.where(h["var"].to_numpy() > 0, (h["obs"].to_numpy() - h["expected"].to_numpy())
                 / np.sqrt(np.maximum(h["var"].to_numpy(), 1e-300)), 0.0)
    p = normal_upper(z)
    h = h.with_columns(pl.Series("z", z), pl.Series("p", p), pl.Series("p_adj", benjamini_hochberg(p)),
                       ((pl.col("obs") - pl.col("expected")) / pl.col("expected")).alias("rise"),
                       (pl.col("obs") / pl.col("cases")).alias("cmi_now"),
                       (pl.col("expected") / pl.col("cases")).alias("cmi_mix"))
    h = h.with_columns(((pl.col("p_adj") <= float(policy.audit.fdr)) & (pl.col("rise") >= float(up.cmi_rise_min)))
                       .alias("flagged"))
    # the monitoring CMI of both years (SPEC §9), for the evidence
    hs = {k: {"tier": t} for k, t in hospitals.items()}
    cmi = {}
    for label, f in (("this", cur), ("last", last)):
        scale = int(f["scale"].max())
        ind = indicators(prepare(f, hs, None), scale=scale, pv_by_pool={}, hospitals=hs, low_risk_known=False,
                         unit_types=("hospital",))
        cmi[label] = dict(zip(ind["unit"].to_list(), ind["cmi"].to_list()))
    h = h.with_columns(pl.col("hospital_id").replace_strict(cmi["this"], default=None, return_dtype=pl.Float64)
                       .alias("monitor_cmi"),
                       pl.col("hospital_id").replace_strict(cmi["last"], default=None, return_dtype=pl.Float64)
                       .alias("monitor_cmi_last_year"))
    return h, per.select("hospital_id", "adrg", "mu")


def detect_upcoding(ac, policy, *, facts_now, facts_last=None, last_source: str | None = None) -> Findings:
    """Upcoding signals over this period's monitoring facts (``facts_now``; ``facts_last`` last year's) and
    the audited cases of ``ac``."""
    import polars as pl

    up = policy.audit.upcoding
    crm = float(up.cost_ratio_max)
    cases = ac.audited
    shares = _share_tests(facts_now, policy)
    codes = _code_tests(cases, policy) if cases["cc_dx"].null_count() < cases.height else None
    cmi, mu = _cmi_tests(facts_now, facts_last, policy, ac.tiers)
    summary = {"share_tests": shares.height, "share_flagged": int(shares["flagged"].sum()) if shares.height else 0,
               "code_tests": 0 if codes is None else codes.height,
               "code_flagged": 0 if codes is None else int(codes["flagged"].sum()),
               "cmi_tests": 0 if cmi is None else cmi.height,
               "cmi_flagged": 0 if cmi is None else int(cmi["flagged"].sum()), "last_year_from": last_source}
    if codes is None:
        summary["note_code"] = "no cc_dx column: the code signal is skipped (group the cases again)"
    if cmi is None:
        summary["note_cmi"] = "no last year to compare: the CMI signal is skipped"
    signals = []
    hits: dict[str, list] = {}
    cheap = pl.col("cost_ratio").fill_null(1.0) <= crm

    def add(df, purity, signal):
        for r in df.with_columns(cheap.alias("_cheap")).iter_rows(named=True):
            hits.setdefault(r["case_id"], []).append((purity * (1.0 if r["_cheap"] else 0.75), signal))

    if codes is not None:
        for r in codes.filter("flagged").iter_rows(named=True):
            sig = {"detector": DETECTOR, "level": "hospital_code", "hospital_id": r["hospital_id"], "unit": r["cc_dx"],
                   "observed": int(r["k"]), "cases": int(r["cases"]), "expected": float(r["expected"]),
                   "ratio": None if math.isinf(r["ratio"]) else float(r["ratio"]), "p": float(r["p"]),
                   "p_adj": float(r["p_adj"]), "what": "secondary code lifting cases to MCC"}
            signals.append(sig)
            sel = cases.filter((pl.col("hospital_id") == r["hospital_id"]) & (pl.col("cc_level") == 2)
                               & (pl.col("cc_dx") == r["cc_dx"]) & pl.col("grouped"))
            add(sel, max(0.0, 1.0 - float(r["expected"]) / int(r["k"])), sig)
    flagged_codes: dict[str, set] = {}
    if codes is not None:
        for h, c in codes.filter("flagged").select("hospital_id", "cc_dx").iter_rows():
            flagged_codes.setdefault(h, set()).add(c)
    for r in shares.filter("flagged").iter_rows(named=True):
        mcc = r["test"] == "mcc_share"
        sig = {"detector": DETECTOR, "level": "hospital_adrg", "hospital_id": r["hospital_id"], "unit": r["adrg"],
               "observed": int(r["k"]), "cases": int(r["n"]), "expected": float(r["p_city"] * r["n"]),
               "ratio": float(r["share"] / r["p_city"]) if r["p_city"] else None, "p": float(r["p"]),
               "p_adj": float(r["p_adj"]), "what": "MCC share" if mcc else "CC/MCC share",
               "share": float(r["share"]), "city_share": float(r["p_city"])}
        signals.append(sig)
        sel = cases.filter((pl.col("hospital_id") == r["hospital_id"]) & (pl.col("adrg") == r["adrg"])
                           & (pl.col("cc_level") >= (2 if mcc else 1)) & pl.col("grouped"))
        # the unit's cases lifted by a flagged code are that signal's; the rest share what is left of the excess
        coded = pl.col("cc_dx").is_in(sorted(flagged_codes.get(r["hospital_id"], ()))).fill_null(False)
        rest = sel.filter(~coded)
        if rest.height:
            add(rest, max(0.0, 1.0 - float(r["p_city"]) * int(r["n"]) / rest.height), sig)
        if rest.height < sel.height:
            hits_coded = sel.filter(coded)
            for cid in hits_coded["case_id"].to_list():
                hits.setdefault(cid, []).append((0.0, sig))
    cmi_flag = {}
    if cmi is not None:
        for r in cmi.filter("flagged").iter_rows(named=True):
            sig = {"detector": DETECTOR, "level": "hospital", "hospital_id": r["hospital_id"], "unit": "CMI",
                   "observed": float(r["cmi_now"]), "cases": int(r["cases"]), "expected": float(r["cmi_mix"]),
                   "ratio": float(1 + r["rise"]), "p": float(r["p"]), "p_adj": float(r["p_adj"]),
                   "what": "CMI rise not explained by the ADRG mix", "z": float(r["z"]),
                   "monitor_cmi": r["monitor_cmi"], "monitor_cmi_last_year": r["monitor_cmi_last_year"]}
            signals.append(sig)
            cmi_flag[r["hospital_id"]] = sig
    summary["candidates"] = len(hits)
    summary["hospitals_flagged"] = sorted({sig["hospital_id"] for sig in signals})
    if not hits:
        return Findings(DETECTOR, empty_rows(), signals, summary)
    # the CMI signal adds evidence to the hospital's findings (and is on the signals sheet)
    info = cases.filter(pl.col("case_id").is_in(list(hits))).select("case_id", "hospital_id", "adrg", "drg", "cc_level",
                                                                     "cc_dx", "cost_ratio")
    rows = []
    for r in info.iter_rows(named=True):
        found = sorted(hits[r["case_id"]], key=lambda x: -x[0])
        if r["hospital_id"] in cmi_flag:
            found.append((0.0, cmi_flag[r["hospital_id"]]))
        strength = found[0][0]
        if strength <= 0:
            continue
        ev = {"cc_level": int(r["cc_level"]), "cc_dx": r["cc_dx"], "drg": r["drg"], "cost_ratio": r["cost_ratio"],
              "signals": [{k: s[k] for k in ("level", "unit", "what", "observed", "expected", "p_adj")} for _, s in found]}
        parts = []
        for _, s in found:
            if s["level"] == "hospital_code":
                parts.append(f"次要诊断 {s['unit']} 使本院 {s['observed']} 例进入 MCC 组，按病种结构预期 {s['expected']:.1f} 例")
            elif s["level"] == "hospital_adrg":
                parts.append(f"本院 {s['unit']} 的{'MCC' if s['what'] == 'MCC share' else 'CC/MCC'}比例 "
                             f"{s['share']:.1%}，其他医院 {s['city_share']:.1%}（{s['cases']} 例）")
            else:
                parts.append(f"本院 CMI {s['observed']:.3f}，按去年各 ADRG 内编码水平应为 {s['expected']:.3f}")
        cr = r["cost_ratio"]
        text = (f"{'MCC' if r['cc_level'] == 2 else 'CC'} 由 {r['cc_dx'] or '—'} 确定，费用倍率 "
                f"{'—' if cr is None else f'{cr:.2f}'}；" + "；".join(parts))
        rows.append({"case_id": r["case_id"], "detector": DETECTOR, "strength": float(strength), "hospital_flagged": True,
                     "score": float(strength), "evidence": evidence_json(ev), "evidence_text": text, "related_cases": []})
    return Findings(DETECTOR, pl.DataFrame(rows, schema=empty_rows().schema), signals, summary)
