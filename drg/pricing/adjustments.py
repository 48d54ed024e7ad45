"""Adjustments after pricing (SPEC §5.2, §5.3): adjudicated violations and a hospital's total points after
deductions.

* :func:`apply_violations` — a case with an adjudicated violation gets 0 points; a serious one deducts
  ``m × BP_d`` (normal, high, low, unstable cases with a weight) or ``m × its own points`` (per-diem,
  ungroupable, review, no-weight cases) from its hospital's total in the case's pool.
* :func:`hospital_total` — the rule of §5.3 on integer point units: ``Σ adjusted − Σ deductions``, never
  below 0, and the part of the deductions that could not be taken. Monthly prepayment and the annual
  settlement call it on their sums; :func:`hospital_point_totals` applies it to a priced file's hospitals
  (``drg points`` writes that table beside the priced cases).
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import numpy as np
import pyarrow as pa

from drg.errors import InputError
from drg.money import round_half_away
from drg.policy import Policy

__all__ = ["VIOLATION_REF", "apply_violations", "hospital_point_sums", "hospital_point_totals", "hospital_total",
           "rows_by_case_id", "totals_of_point_sums", "violation_refs"]

#: The optional column of the violations table naming where a violation came from (``drg audit apply`` writes
#: the review queue's row there); the priced file carries it as ``violation_ref``.
VIOLATION_REF = "queue_ref"


def hospital_total(adjusted_units: int, deduction_units: int) -> tuple[int, int]:
    """``(total, undeducted)``: the hospital's points after deductions, never below 0, and the part of the
    deduction that could not be taken (SPEC §5.3)."""
    t = adjusted_units - deduction_units
    return (t, 0) if t >= 0 else (0, -t)


def hospital_point_totals(priced: pa.Table, policy: Policy) -> pa.Table:
    """Per hospital and pool (SPEC §5.3): ``hospital_id, insurance_type, cases, points, adjusted_points,
    deduction_points, total_points, undeducted_points, total_points_units, undeducted_points_units,
    points_scale``, sorted by pool and hospital.

    Sums are exact, in integer units of ``1 / points_scale`` (the ``*_units`` columns; use these for money);
    ``total_points`` and ``undeducted_points`` are :func:`hospital_total` of those sums; the float columns
    are the units shown with the policy's decimals. ``insurance_type`` is ``"all"`` when the policy does not
    pool by insurance type. ``priced`` holds the priced columns ``hospital_id``, optional ``insurance_type``,
    ``points``, ``adjusted_points`` and ``deduction_points`` (exact decimals stored as float64).
    """
    return totals_of_point_sums(hospital_point_sums(priced, policy), policy)


def hospital_point_sums(priced: pa.Table, policy: Policy):
    """The exact sums behind :func:`hospital_point_totals`, per hospital and pool (a polars frame:
    ``hospital_id, insurance_type, cases, p, a, d`` — points, adjusted points and deductions in units). The
    sums of several files' cases are combined by adding them up per hospital and pool."""
    import polars as pl

    scale = policy.points_scale
    df = pl.from_arrow(priced.select([c for c in ("hospital_id", "insurance_type", "points", "adjusted_points",
                                                  "deduction_points") if c in priced.column_names]))
    if "insurance_type" not in df.columns or not policy.pools_by_insurance_type:
        df = df.with_columns(pl.lit("all").alias("insurance_type"))
    u = lambda c: (pl.col(c) * scale).round(0).cast(pl.Int64)  # noqa: E731 - values are exact 4-dec floats
    return df.group_by(["hospital_id", "insurance_type"]).agg(
        pl.len().alias("cases"), u("points").sum().alias("p"), u("adjusted_points").sum().alias("a"),
        u("deduction_points").sum().alias("d"))


def totals_of_point_sums(sums, policy: Policy) -> pa.Table:
    """:func:`hospital_point_totals` from :func:`hospital_point_sums` (of one file, or added up over many)."""
    import polars as pl

    scale = policy.points_scale
    g = sums.group_by(["hospital_id", "insurance_type"]).agg(pl.col("cases").sum().cast(sums.schema["cases"]), pl.col("p").sum(),
                                                             pl.col("a").sum(), pl.col("d").sum())
    g = g.sort(["insurance_type", "hospital_id"])
    totals = [hospital_total(a, d) for a, d in zip(g["a"].to_list(), g["d"].to_list())]
    g = g.with_columns(pl.Series("t", [t for t, _ in totals], pl.Int64), pl.Series("x", [x for _, x in totals], pl.Int64))
    return g.select("hospital_id", "insurance_type", "cases",
                    *[(pl.col(k) / scale).round(policy.points_decimals).alias(name)
                      for k, name in (("p", "points"), ("a", "adjusted_points"), ("d", "deduction_points"),
                                      ("t", "total_points"), ("x", "undeducted_points"))],
                    pl.col("t").alias("total_points_units"), pl.col("x").alias("undeducted_points_units"),
                    pl.lit(scale, pl.Int64).alias("points_scale")).to_arrow()


def rows_by_case_id(case_ids: pa.ChunkedArray, table: pa.Table, file: str) -> np.ndarray:
    """Row of ``table`` for each case (-1 if none); a duplicated case id in ``table`` is an error."""
    import pyarrow.compute as pc

    ids = table.column("case_id").cast(pa.string())
    if pc.count_distinct(ids).as_py() != len(ids) or ids.null_count:
        vals = ids.to_pylist()
        seen = set()
        for i, v in enumerate(vals, start=1):
            if v is None or v in seen:
                raise InputError("case_id missing or duplicated", file=file, row=i, field="case_id")
            seen.add(v)
    idx = pc.index_in(case_ids.cast(pa.string()), value_set=ids.combine_chunks())
    return np.asarray(idx.fill_null(-1), dtype=np.int64)


def apply_violations(case_ids: pa.ChunkedArray, violations: pa.Table | None, adjusted: np.ndarray,
                     base_u: np.ndarray, policy: Policy) -> tuple[np.ndarray, np.ndarray, list | None]:
    """SPEC §5.2 after readmission: ``(adjusted points, deduction points, violation type per case)``.

    ``violations`` has ``case_id, violation, serious`` and optional ``multiplier`` (which overrides the
    policy's ``violations.multipliers``). ``base_u`` is each case's ``BP_d`` in units, or -1 where the
    deduction is taken on the case's own (adjusted) points. A violation type without a multiplier in the row
    or the policy is an error naming the row.
    """
    n = len(adjusted)
    deduction = np.zeros(n, np.int64)
    if violations is None or not violations.num_rows:
        return adjusted, deduction, None
    adjusted = adjusted.copy()
    row = rows_by_case_id(case_ids, violations, "violations")
    types = violations.column("violation").cast(pa.string()).to_pylist()
    serious = violations.column("serious").to_pylist()
    given = (violations.column("multiplier").to_pylist() if "multiplier" in violations.column_names
             else [None] * violations.num_rows)
    violation: list = [None] * n
    for i in np.nonzero(row >= 0)[0]:
        j = int(row[i])
        if types[j] is None or not types[j].strip():
            raise InputError("violation type is missing", file="violations", row=j + 1, field="violation")
        violation[i] = types[j]
        if _is_true(serious[j]):
            m = given[j] if given[j] is not None else policy.violations.multiplier(types[j])
            if m is None:
                raise InputError(f"violation type {types[j]!r} has no multiplier in the policy "
                                 "(violations.multipliers) and the row gives none", file="violations",
                                 row=j + 1, field="multiplier")
            m = Fraction(Decimal(repr(m)) if isinstance(m, float) else Decimal(m))
            base = int(base_u[i]) if base_u[i] >= 0 else int(adjusted[i])
            deduction[i] = round_half_away(m * base)
        adjusted[i] = 0
    return adjusted, deduction, (violation if (row >= 0).any() else None)


def violation_refs(case_ids: pa.ChunkedArray, violations: pa.Table | None) -> list | None:
    """The :data:`VIOLATION_REF` of each case's violation row (None where none), or None when the table has
    no such column or no row for these cases."""
    if violations is None or not violations.num_rows or VIOLATION_REF not in violations.column_names:
        return None
    row = rows_by_case_id(case_ids, violations, "violations")
    if not (row >= 0).any():
        return None
    refs = violations.column(VIOLATION_REF).cast(pa.string()).to_pylist()
    return [refs[j] if j >= 0 else None for j in row.tolist()]


def _is_true(value) -> bool:
    """A ``serious`` cell: a bool, or text such as ``1``, ``true``, ``yes``."""
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "y", "t")
    return bool(value)
