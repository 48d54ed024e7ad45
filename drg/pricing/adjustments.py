"""Adjustments after pricing (SPEC §5.3): a hospital's total points in a pool after deductions.

The rule is :func:`hospital_total`, on integer point units: ``Σ adjusted − Σ deductions``, never below 0, and
the part of the deductions that could not be taken. Monthly prepayment and the annual settlement call it on
their sums; :func:`hospital_point_totals` applies it to a priced file's hospitals (``drg points`` writes that
table beside the priced cases).
"""

from __future__ import annotations

import pyarrow as pa

from drg.policy import Policy

__all__ = ["hospital_point_totals", "hospital_total"]


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
    import polars as pl

    scale = policy.points_scale
    df = pl.from_arrow(priced.select([c for c in ("hospital_id", "insurance_type", "points", "adjusted_points",
                                                  "deduction_points") if c in priced.column_names]))
    if "insurance_type" not in df.columns or not policy.pools_by_insurance_type:
        df = df.with_columns(pl.lit("all").alias("insurance_type"))
    u = lambda c: (pl.col(c) * scale).round(0).cast(pl.Int64)  # noqa: E731 - values are exact 4-dec floats
    g = df.group_by(["hospital_id", "insurance_type"]).agg(
        pl.len().alias("cases"), u("points").sum().alias("p"), u("adjusted_points").sum().alias("a"),
        u("deduction_points").sum().alias("d")).sort(["insurance_type", "hospital_id"])
    totals = [hospital_total(a, d) for a, d in zip(g["a"].to_list(), g["d"].to_list())]
    g = g.with_columns(pl.Series("t", [t for t, _ in totals], pl.Int64), pl.Series("x", [x for _, x in totals], pl.Int64))
    return g.select("hospital_id", "insurance_type", "cases",
                    *[(pl.col(k) / scale).round(policy.points_decimals).alias(name)
                      for k, name in (("p", "points"), ("a", "adjusted_points"), ("d", "deduction_points"),
                                      ("t", "total_points"), ("x", "undeducted_points"))],
                    pl.col("t").alias("total_points_units"), pl.col("x").alias("undeducted_points_units"),
                    pl.lit(scale, pl.Int64).alias("points_scale")).to_arrow()
