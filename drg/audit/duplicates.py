"""Duplicate claims (重复结算): the same stay settled more than once.

Rule. Claims with the same patient, hospital, admission date and discharge date are one stay; when there
are two or more, every claim of the set in the audited period is a finding, with the other claims as
related cases (the reviewer keeps one). A history claim counts as a member of the set but is not queued.

Strength: 1.0 when the claims also agree on the DRG and their total costs differ by at most 5 %, 0.9
otherwise (a resubmission with a corrected amount is still one stay). No hospital test: a stay paid twice is
a finding wherever it happens.
"""

from __future__ import annotations

from drg.audit.common import Findings, empty_rows, evidence_json

__all__ = ["detect_duplicates"]

DETECTOR = "duplicate_claim"


def detect_duplicates(ac, policy) -> Findings:
    """Duplicate claims among the audited cases of ``ac``."""
    import polars as pl

    key = ["patient_id", "hospital_id", "admit", "discharge"]
    c = ac.cases.filter(pl.all_horizontal([pl.col(k).is_not_null() for k in key]))
    sets = (c.group_by(key).agg(pl.col("case_id").sort().alias("ids"), pl.col("drg").n_unique().alias("drgs"),
                                pl.col("total_fen").min().alias("lo"), pl.col("total_fen").max().alias("hi"),
                                pl.len().alias("claims"))
            .filter(pl.col("claims") > 1))
    f = c.filter(pl.col("audited")).join(sets, on=key, how="inner")
    summary = {"sets": sets.height, "candidates": f.height}
    if not f.height:
        return Findings(DETECTOR, empty_rows(), [], summary)
    rows = []
    for r in f.iter_rows(named=True):
        alike = r["drgs"] == 1 and r["hi"] <= r["lo"] * 1.05
        strength = 1.0 if alike else 0.9
        others = [x for x in r["ids"] if x != r["case_id"]]
        ev = {"claims": int(r["claims"]), "other_claims": others, "same_drg": r["drgs"] == 1,
              "total_cost_fen": {"min": int(r["lo"]), "max": int(r["hi"])}}
        text = (f"同一患者、同一医院、同一入出院日期结算 {int(r['claims'])} 次，其他结算 {'、'.join(others)}；"
                f"{'DRG 相同' if r['drgs'] == 1 else 'DRG 不同'}，总费用 {r['lo'] / 100:,.2f}–{r['hi'] / 100:,.2f} 元")
        rows.append({"case_id": r["case_id"], "detector": DETECTOR, "strength": strength, "hospital_flagged": False,
                     "score": strength, "evidence": evidence_json(ev), "evidence_text": text, "related_cases": others})
    return Findings(DETECTOR, pl.DataFrame(rows, schema=empty_rows().schema), [], summary)
