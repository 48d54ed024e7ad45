"""Low-risk DRGs (低风险组, SPEC §9), fixed once per settlement year from the weights' history years.

Only DRGs with at least ``monitoring.low_risk_min_cases`` grouped history cases are classified. With
``m_d`` = deaths / cases (``discharge_status`` = 5 is a death; null counts as alive), μ and s the unweighted
mean and sample SD of ``ln m_d`` over the classified DRGs with ``m_d > 0``, a DRG is low-risk when
``m_d = 0`` or ``ln m_d < μ − k·s``; with fewer than 3 DRGs of ``m_d > 0`` only the ``m_d = 0`` DRGs are.
Source: the national DRG performance evaluation method (低风险组死亡率).

``drg weights`` writes the table beside the weights (``low_risk_drgs.parquet``) and, given a ledger, into
its ``low_risk_drgs`` table; ``drg monitor`` reads it from the ledger.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from drg.policy import Policy

__all__ = ["LOW_RISK_FILE", "low_risk_table", "DeathCounts", "death_counts", "low_risk_of_counts", "classify_low_risk",
           "write_low_risk"]

LOW_RISK_FILE = "low_risk_drgs.parquet"

_SCHEMA = pa.schema([("drg", pa.string()), ("history_cases", pa.int64()), ("history_deaths", pa.int64()),
                     ("mortality", pa.float64()), ("classified", pa.bool_()), ("low_risk", pa.bool_())])


def classify_low_risk(counts: dict[str, tuple[int, int]], min_cases: int, k: float) -> dict[str, tuple[bool, bool]]:
    """``{drg: (cases, deaths)}`` → ``{drg: (classified, low_risk)}`` by the rule of SPEC §9."""
    classified = {d: n >= min_cases for d, (n, _x) in counts.items()}
    rates = {d: x / n for d, (n, x) in counts.items() if classified[d]}
    logs = [math.log(m) for m in rates.values() if m > 0]
    cut = None
    if len(logs) >= 3:
        mu = sum(logs) / len(logs)
        s = math.sqrt(sum((v - mu) ** 2 for v in logs) / (len(logs) - 1))
        cut = mu - k * s
    out = {}
    for d in counts:
        if not classified[d]:
            out[d] = (False, False)
            continue
        m = rates[d]
        out[d] = (True, m == 0 or (cut is not None and math.log(m) < cut))
    return out


def low_risk_table(history: pa.Table, years: tuple[int, ...] | list[int], policy: Policy) -> pa.Table:
    """Per DRG: the grouped cases and deaths of ``history`` discharged in ``years``, mortality, whether it is
    classified and whether it is low-risk. A case counts when its ``group_status`` is ok (when the column is
    there) and it has a DRG (:func:`grouper.results.has_drg`)."""
    return low_risk_of_counts(death_counts(history), years, policy)


@dataclass
class DeathCounts:
    """``counts``: ``{(drg, discharge year): (cases, deaths)}`` of the cases that count; ``order``: every DRG
    code of the file in the order it first appears (the order the rule's mean and SD add up the DRGs in).
    Counts of the files of a dataset add up in file order (:meth:`combine`, :mod:`drg.distributed.weights`)
    to those of the files concatenated."""

    order: list
    counts: dict

    @classmethod
    def combine(cls, parts) -> DeathCounts:
        order: dict = {}
        counts: dict[tuple[str, int], tuple[int, int]] = {}
        for part in parts:
            order.update(dict.fromkeys(part.order))
            for k, (n, x) in part.counts.items():
                a, b = counts.get(k, (0, 0))
                counts[k] = (a + n, b + x)
        return cls(list(order), counts)


def death_counts(history: pa.Table) -> DeathCounts:
    """The cases and deaths per (DRG, discharge year) of the cases of ``history`` that count (group status ok
    when the column is there, and a DRG): what :func:`low_risk_table` classifies, as exact counts."""
    import pyarrow.compute as pc

    from drg.pricing.classes import drg_mask
    from drg.pricing.columns import case_years, encode_strings, values_in

    if history.num_rows == 0:
        return DeathCounts([], {})
    codes, names = encode_strings(history.column("drg"))
    ok = drg_mask(names)[codes]
    if "group_status" in history.column_names:
        ok &= values_in(history.column("group_status"), ["ok"])
    dead = np.zeros(history.num_rows, bool)
    if "discharge_status" in history.column_names:
        dead = np.asarray(pc.equal(history.column("discharge_status").cast(pa.int64()), 5).fill_null(False))
    sel = np.flatnonzero(ok)
    if not len(sel):
        return DeathCounts(names, {})
    # (DRG code, year) folded into one int64, in the same order as the pairs: a sort of integers, not of rows
    years = case_years(history)[sel].astype(np.int64)
    y0 = int(years.min())
    span = int(years.max()) - y0 + 1
    folded = codes[sel].astype(np.int64) * span + (years - y0)
    # counted per key: the keys are few (DRGs × years), so a bincount over them, not a sort of the cases
    n_all = np.bincount(folded, minlength=len(names) * span)
    x_all = np.bincount(folded[dead[sel]], minlength=len(names) * span)
    keys = np.flatnonzero(n_all)
    return DeathCounts(names, {(names[int(k // span)], int(k % span) + y0): (int(n_all[k]), int(x_all[k]))
                               for k in keys.tolist()})


def low_risk_of_counts(counts: DeathCounts, years: tuple[int, ...] | list[int], policy: Policy) -> pa.Table:
    """The table of :func:`low_risk_table` from :func:`death_counts` (of one file, or of several combined)."""
    wanted = set(int(y) for y in years)
    per_drg: dict[str, list[int]] = {}
    for (d, y), (n, x) in counts.counts.items():
        if y in wanted:
            tot = per_drg.setdefault(d, [0, 0])
            tot[0] += n
            tot[1] += x
    # the DRGs in the order they first appear in the history (a different order could move the mean by an ulp)
    ordered = {d: tuple(per_drg[d]) for d in counts.order if d in per_drg and per_drg[d][0]}
    if not ordered:
        return _SCHEMA.empty_table()
    mon = policy.monitoring
    cls = classify_low_risk(ordered, mon.low_risk_min_cases, float(mon.low_risk_k))
    rows = [{"drg": d, "history_cases": c, "history_deaths": dd, "mortality": dd / c,
             "classified": cls[d][0], "low_risk": cls[d][1]} for d, (c, dd) in sorted(ordered.items())]
    return pa.Table.from_pylist(rows, schema=_SCHEMA)


def write_low_risk(table: pa.Table, path: str | Path, *, years, policy: Policy, scheme_id: str | None) -> None:
    """Write the table with its history years, policy and thresholds in the file metadata."""
    import json

    import pyarrow.parquet as pq

    meta = {b"drg.history_years": json.dumps(list(years)).encode(), b"drg.policy_id": policy.id.encode(),
            b"drg.scheme_id": (scheme_id or "").encode(),
            b"drg.low_risk_min_cases": str(policy.monitoring.low_risk_min_cases).encode(),
            b"drg.low_risk_k": str(policy.monitoring.low_risk_k).encode()}
    pq.write_table(table.replace_schema_metadata(meta), path)
