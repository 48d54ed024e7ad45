"""What every detector shares: the shape of its findings and the hospital-level test.

A detector returns a :class:`Findings`: one row per case it would queue (``case_id``, ``strength`` — how
strongly the case's own figures match the rule, 0–1 —, ``hospital_flagged``, ``score``, the evidence as JSON
and as a Chinese sentence, the other cases involved) and the unit-level signals behind them (a hospital, a
hospital × ADRG, a hospital × secondary code) with their figures and p-values.

The hospital-level test (:func:`hospital_test`) asks whether a hospital has more rule hits than its case mix
explains: its expected count is Σ over its ADRGs of its cases × the rate of hits among the *other* hospitals'
cases of that ADRG; the p-value is the Poisson upper tail P(X ≥ hits), adjusted over all tested hospitals by
Benjamini–Hochberg. A hospital is flagged when the adjusted p-value is at most ``audit.fdr``, its hits are
at least ``audit.hospital_min_ratio`` × expected and at least ``audit.hospital_min_hits``. A case hit at an unflagged hospital keeps
``audit.unflagged_factor`` of its strength as its score (docs/audit.md).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from drg.audit.stats import benjamini_hochberg, poisson_upper

__all__ = ["DETECTORS", "FINDING_COLUMNS", "Findings", "empty_rows", "evidence_json", "hospital_signals", "hospital_test"]

#: The detectors, in the order of the queue and of the workbook's sheets.
DETECTORS = ("split_admission", "low_standard", "upcoding", "duplicate_claim", "cost_shift")

#: Columns of a detector's findings.
FINDING_COLUMNS = ("case_id", "detector", "strength", "hospital_flagged", "score", "evidence", "evidence_text",
                   "related_cases")


@dataclass
class Findings:
    """A detector's case rows (polars frame of :data:`FINDING_COLUMNS`), its unit-level signals (a list of
    dicts) and a summary (counts, the parameters it used, notes such as a rule skipped for lack of data)."""

    detector: str
    rows: object
    signals: list[dict] = field(default_factory=list)
    summary: dict = field(default_factory=dict)


def evidence_json(values: dict) -> str:
    """Evidence as compact JSON (floats rounded to 4 decimals; keys in the order given)."""
    def clean(v):
        if isinstance(v, float):
            return round(v, 4)
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [clean(x) for x in v]
        return v

    return json.dumps(clean(values), ensure_ascii=False, separators=(",", ":"))


def empty_rows():
    import polars as pl

    return pl.DataFrame(schema={"case_id": pl.String, "detector": pl.String, "strength": pl.Float64,
                                "hospital_flagged": pl.Boolean, "score": pl.Float64, "evidence": pl.String,
                                "evidence_text": pl.String, "related_cases": pl.List(pl.String)})


def hospital_test(cases, hit: str, policy, *, unit: str = "adrg"):
    """Per hospital: ``hospital_id, cases, hits, expected, ratio, p, p_adj, flagged`` for the boolean column
    ``hit`` of ``cases`` (the audited cases), the expectation by the hospital's mix over ``unit``."""
    import polars as pl

    a = policy.audit
    c = cases.select("hospital_id", pl.col(unit).fill_null("").alias("_u"), pl.col(hit).cast(pl.Int64).alias("_h"))
    cell = c.group_by("hospital_id", "_u").agg(pl.len().alias("n"), pl.col("_h").sum().alias("k"))
    tot = cell.group_by("_u").agg(pl.col("n").sum().alias("N"), pl.col("k").sum().alias("K"))
    cell = cell.join(tot, on="_u").with_columns(
        pl.when(pl.col("N") > pl.col("n")).then((pl.col("K") - pl.col("k")) / (pl.col("N") - pl.col("n")))
        .otherwise(pl.col("K") / pl.col("N")).alias("rate"))
    h = (cell.group_by("hospital_id").agg(pl.col("n").sum().alias("cases"), pl.col("k").sum().alias("hits"),
                                          (pl.col("n") * pl.col("rate")).sum().alias("expected"))
         .sort("hospital_id"))
    p = poisson_upper(h["hits"].to_numpy(), h["expected"].to_numpy()) if h.height else []
    h = h.with_columns(pl.Series("p", p, pl.Float64))
    h = h.with_columns(pl.Series("p_adj", benjamini_hochberg(h["p"].to_numpy()), pl.Float64),
                       pl.when(pl.col("expected") > 0).then(pl.col("hits") / pl.col("expected"))
                       .otherwise(None).alias("ratio"))
    fdr, min_ratio = float(a.fdr), float(a.hospital_min_ratio)
    return h.with_columns(((pl.col("p_adj") <= fdr) & (pl.col("hits") >= int(a.hospital_min_hits))
                           & ((pl.col("ratio") >= min_ratio) | pl.col("ratio").is_null())).alias("flagged"))


def hospital_signals(detector: str, h, what: str) -> list[dict]:
    """The flagged hospitals of :func:`hospital_test` as signals."""
    out = []
    for r in h.filter("flagged").iter_rows(named=True):
        out.append({"detector": detector, "level": "hospital", "hospital_id": r["hospital_id"], "unit": "",
                    "observed": int(r["hits"]), "cases": int(r["cases"]), "expected": float(r["expected"]),
                    "ratio": None if r["ratio"] is None else float(r["ratio"]), "p": float(r["p"]),
                    "p_adj": float(r["p_adj"]), "what": what})
    return out
