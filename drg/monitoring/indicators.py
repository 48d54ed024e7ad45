"""The standard DRG indicators of SPEC §9 for one span of months, from the ledger's exact sums
(:mod:`drg.monitoring.store`), for every unit: the city, each pool, county (of the insured person),
hospital, tier, MDC, ADRG and DRG.

"Grouped" is ``group_status`` ok and a DRG that is neither ``0000`` nor an ambiguous ``xQY`` group. An MDC,
ADRG or DRG unit counts the cases that reached a group in it (grouped or ambiguous); a case without a
group (``0000``) is in none of them, and ``0000`` is not a DRG unit.

=======================  ===========================================================================
column                   formula (n = cases of the unit in the span)
=======================  ===========================================================================
cases, grouped           n; grouped cases
group_rate (入组率)       grouped / n
drgs_used                distinct DRGs among the grouped cases
points                   Σ points after §5 (adjusted points − deductions), exact, DECIMAL(18,4)
points_before            Σ points before §5
cmi                      Σ w_i / grouped; w_i = BP_d / 100, or the points before §5 / 100 without BP_d
total_cost_fen           Σ total cost (fen); avg_cost_fen = round(Σ cost / n) (次均费用)
avg_los                  Σ los / n
cost_index (费用消耗指数) Σ_d n_{u,d} · (c̄_{u,d} / c̄_d) / Σ_d n_{u,d} over grouped cases; c̄_d the city's
time_index (时间消耗指数) the same with LOS
low_risk_mortality       deaths / cases in the low-risk DRGs (null without such cases or without the
                         low-risk table of ``drg weights``)
*_share                  high, low, outlier (high + low), unstable, per_diem, halved (readmission),
                         review, ungroupable (no group), ambiguous: cases / n; cc_share: CC or MCC cases / n
self_pay_share           Σ (self + other paid) / Σ total cost
balance_fen (结余/超支)   Σ over pools of round(points × PV_pool) − Σ total cost (fen; an indicator, not
                         the entitlement of §7). PV: the year's annual point value once settled, else the
                         provisional value of the span's last monthly run
=======================  ===========================================================================

:func:`convergence` gives the 同病同价 convergence of each DRG per pool (the sample coefficient of
variation, across hospitals with at least ``convergence_min_cases`` cases, of the hospital's mean points
before §5 × PV), and :func:`hospital_drg` the balance per hospital and DRG.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from drg.money import amounts_for_points, round_half_away

__all__ = ["UNIT_TYPES", "INDICATOR_COLUMNS", "SHARE_CLASSES", "indicators", "hospital_drg", "convergence",
           "prepare", "cc_shares", "FrameSums"]

#: The units, in the order they are reported.
UNIT_TYPES = ("city", "pool", "county", "hospital", "tier", "mdc", "adrg", "drg")
#: Case classes whose shares are reported (with ``outlier`` = high + low).
SHARE_CLASSES = ("high", "low", "unstable", "per_diem", "review")

INDICATOR_COLUMNS = (
    "unit_type", "unit", "name", "cases", "grouped", "group_rate", "drgs_used", "points", "points_before",
    "deduction_points", "cmi", "total_cost_fen", "avg_cost_fen", "avg_los", "cost_index", "time_index",
    "low_risk_cases", "low_risk_deaths", "low_risk_mortality", "high_share", "low_share", "outlier_share",
    "unstable_share", "per_diem_share", "halved_share", "review_share", "ungroupable_share", "ambiguous_share",
    "cc_share", "self_pay_fen", "self_pay_share", "fund_paid_fen", "balance_fen")

_SUMS = ("cases", "grouped", "total_cost_fen", "fund_paid_fen", "self_pay_fen", "points_before_units",
         "points_units", "deduction_units", "w_units", "los_days", "deaths", "halved", "cc_cases",
         "ci_num", "ci_den", "ti_num", "ti_den", "lr_cases", "lr_deaths", "ungroupable_cases", "ambiguous_cases",
         *(f"{c}_cases" for c in SHARE_CLASSES))


def prepare(facts, hospitals: dict[str, dict], low_risk: set[str] | None):
    """The facts of one span with the per-row terms every unit sums: the hospital's tier, grouped flags,
    the cost and time index terms against the city's DRG means of the span, the low-risk cases and deaths,
    the cases of each class and group state."""
    import polars as pl

    f = facts
    tiers = pl.DataFrame({"hospital_id": list(hospitals), "tier": [str(v.get("tier") or "") for v in hospitals.values()]},
                         schema={"hospital_id": pl.String, "tier": pl.String})
    f = f.join(tiers, on="hospital_id", how="left", maintain_order="left").with_columns(pl.col("tier").fill_null(""))
    g = pl.col("group_state") == "grouped"
    city = (f.filter(g).group_by("drg").agg(pl.col("cases").sum().alias("n_d"),
                                            pl.col("total_cost_fen").sum().alias("cost_d"),
                                            pl.col("los_days").sum().alias("los_d")))
    f = f.join(city, on="drg", how="left", maintain_order="left")
    ci = g & (pl.col("cost_d") > 0)
    ti = g & (pl.col("los_d") > 0)
    low = pl.col("drg").is_in(sorted(low_risk or ())) & g
    f = f.with_columns(
        pl.when(ci).then(pl.col("total_cost_fen").cast(pl.Float64) * pl.col("n_d") / pl.col("cost_d"))
        .otherwise(0.0).alias("ci_num"),
        pl.when(ci).then(pl.col("cases")).otherwise(0).alias("ci_den"),
        pl.when(ti).then(pl.col("los_days").cast(pl.Float64) * pl.col("n_d") / pl.col("los_d"))
        .otherwise(0.0).alias("ti_num"),
        pl.when(ti).then(pl.col("cases")).otherwise(0).alias("ti_den"),
        pl.when(low).then(pl.col("cases")).otherwise(0).alias("lr_cases"),
        pl.when(low).then(pl.col("deaths")).otherwise(0).alias("lr_deaths"),
        pl.when(pl.col("group_state") == "ungroupable").then(pl.col("cases")).otherwise(0).alias("ungroupable_cases"),
        pl.when(pl.col("group_state") == "ambiguous").then(pl.col("cases")).otherwise(0).alias("ambiguous_cases"),
        *[pl.when(pl.col("case_class") == c).then(pl.col("cases")).otherwise(0).alias(f"{c}_cases")
          for c in SHARE_CLASSES])
    return f


#: The float terms of the cost and time indices (every other sum is an exact integer).
_FLOAT_SUMS = ("ci_num", "ti_num")


def _sums_in_order(frame, keys: list[str], cols: list[str]):
    """``Σ cols`` per ``keys``, each group's values added one after another in the frame's row order (numpy).

    Polars adds a group's floats in partial sums whose split depends on its threads and the data's size, so the
    last digit of a float sum could change from one run to the next; integers are exact either way. The frame's
    own order must be deterministic (the facts are read in one order)."""
    import numpy as np
    import polars as pl

    if frame.height == 0:
        return frame.select(*keys, *cols)
    r = frame.select(*keys, *cols).with_row_index("_row").sort([*keys, "_row"])
    first = r.select(pl.any_horizontal([pl.col(k).ne_missing(pl.col(k).shift(1)) for k in keys])
                     .fill_null(True)).to_series().to_numpy()
    first[0] = True
    starts = np.flatnonzero(first)
    out = r.select(keys)[starts]
    return out.with_columns([pl.Series(c, np.add.reduceat(r[c].to_numpy().astype(np.float64), starts))
                             for c in cols])


def _unit_rows(f, unit_type: str):
    """The facts a unit type sums, each row with its ``unit``: only the columns the sums read (a filter of
    every fact column for the MDC/ADRG/DRG units copied gigabytes at a province's size)."""
    import polars as pl

    keep = ["pool", "group_state", "drg", *_SUMS]
    if unit_type == "city":
        return f.select(keep).with_columns(pl.lit("city").alias("unit"))
    col = {"hospital": "hospital_id"}.get(unit_type, unit_type)
    f = f.select(pl.col(col).alias("unit"), *keep)
    if unit_type in ("mdc", "adrg", "drg"):
        f = f.filter((pl.col("unit") != "") & (pl.col("drg") != "0000") & (pl.col("drg") != ""))
    return f


def _sums_of(f):
    """``f`` itself when it is already sums, else the sums of the prepared frame ``f``."""
    return f if hasattr(f, "unit_sums") else FrameSums(f)


class FrameSums:
    """The sums the indicators, the balance per hospital and DRG, the convergence and the CC/MCC shares are
    computed from, taken from a prepared facts frame (:func:`prepare`) in polars: the straightforward way,
    which :class:`drg.monitoring.sums.LedgerSums` (the same sums grouped in DuckDB) is tested against.

    Every method returns a small polars frame; the exact sums are Int64, the float terms of the cost and time
    indices are summed row after row in the facts' order (:func:`_sums_in_order`)."""

    def __init__(self, f):
        self.f = f

    @property
    def empty(self) -> bool:
        return self.f.height == 0

    def unit_sums(self, unit_type: str):
        """``(by_pool, drgs)`` of a unit type: per (unit, pool) every sum of :data:`_SUMS`, sorted by unit and
        pool; per unit the distinct DRGs of its grouped cases (UInt32). None without rows."""
        import polars as pl

        rows = _unit_rows(self.f, unit_type)
        if rows.height == 0:
            return None
        exact = [c for c in _SUMS if c not in _FLOAT_SUMS]
        by_pool = (rows.group_by(["unit", "pool"]).agg([pl.col(c).sum() for c in exact])
                   .join(_sums_in_order(rows, ["unit", "pool"], list(_FLOAT_SUMS)), on=["unit", "pool"])
                   .sort(["unit", "pool"]))
        drgs = (rows.filter(pl.col("group_state") == "grouped").group_by("unit")
                .agg(pl.col("drg").n_unique().alias("drgs_used")))
        return by_pool, drgs

    def hospital_drg_cells(self):
        """Per (hospital, DRG, pool) of the cases with a DRG other than ``0000``: cases, points units,
        deduction units, points-before units, total cost."""
        import polars as pl

        return (self.f.filter((pl.col("drg") != "") & (pl.col("drg") != "0000"))
                .group_by(["hospital_id", "drg", "pool"]).agg(
                    pl.col("cases").sum(), pl.col("points_units").sum(), pl.col("deduction_units").sum(),
                    pl.col("points_before_units").sum(), pl.col("total_cost_fen").sum()))

    def hospital_mean_cells(self):
        """Per (pool, DRG, hospital) of the grouped cases: cases and points-before units."""
        import polars as pl

        return (self.f.filter(pl.col("group_state") == "grouped")
                .group_by(["pool", "drg", "hospital_id"])
                .agg(pl.col("cases").sum(), pl.col("points_before_units").sum()))

    def cc_cells(self):
        """Per (hospital, ADRG) of the grouped cases with an ADRG: cases and CC/MCC cases."""
        import polars as pl

        return (self.f.filter((pl.col("group_state") == "grouped") & (pl.col("adrg") != ""))
                .group_by(["hospital_id", "adrg"]).agg(pl.col("cases").sum(), pl.col("cc_cases").sum()))

    def month_cells(self):
        """Per (month, pool, hospital, county): points units, deduction units, self-pay (the warnings' sums)."""
        import polars as pl

        return self.f.group_by(["month", "pool", "hospital_id", "county"]).agg(
            pl.col("points_units").sum(), pl.col("deduction_units").sum(), pl.col("self_pay_fen").sum())


def indicators(f, *, scale: int, pv_by_pool: dict[str, Fraction | None], hospitals: dict[str, dict],
               low_risk_known: bool, unit_types: tuple[str, ...] = UNIT_TYPES):
    """The indicators of every unit (:data:`INDICATOR_COLUMNS`) from prepared facts (:func:`prepare`), or from
    their sums (a :class:`FrameSums`, or :class:`drg.monitoring.sums.LedgerSums` read from the ledger)."""
    import polars as pl

    sums = _sums_of(f)
    out = []
    for ut in unit_types:
        got = sums.unit_sums(ut)
        if got is None:
            continue
        by_pool, drgs = got
        exact = [c for c in _SUMS if c not in _FLOAT_SUMS]
        amounts = {}
        for unit, pool, pu, du in by_pool.select("unit", "pool", "points_units", "deduction_units").iter_rows():
            pv = pv_by_pool.get(pool)
            prev = amounts.get(unit, 0)
            if pv is None or prev is None:
                amounts[unit] = None
            else:
                amounts[unit] = prev + round_half_away(Fraction(int(pu) - int(du)) * pv / scale)
        agg = (by_pool.group_by("unit").agg([pl.col(c).sum() for c in exact])
               .join(_sums_in_order(by_pool, ["unit"], list(_FLOAT_SUMS)), on="unit"))
        agg = agg.join(drgs, on="unit", how="left").with_columns(pl.col("drgs_used").fill_null(0))
        agg = agg.with_columns(pl.Series("amount_fen", [amounts[u] for u in agg["unit"].to_list()], pl.Int64),
                               pl.lit(ut).alias("unit_type"))
        out.append(agg)
    if not out:
        return _empty()
    a = pl.concat(out, how="diagonal_relaxed")
    n = pl.col("cases")

    def share(num: str):
        return pl.when(n > 0).then(pl.col(num) / n).otherwise(None)

    names = {h: str(v.get("name") or "") for h, v in hospitals.items()}
    a = a.with_columns(
        _points(a["points_units"] - a["deduction_units"], scale, "points"),
        _points(a["points_before_units"], scale, "points_before"),
        _points(a["deduction_units"], scale, "deduction_points"))
    a = a.with_columns(
        pl.when(pl.col("unit_type") == "hospital").then(pl.col("unit").replace_strict(names, default=""))
        .otherwise(pl.lit("")).alias("name"),
        share("grouped").alias("group_rate"),
        pl.when(pl.col("grouped") > 0).then(pl.col("w_units") / scale / 100 / pl.col("grouped"))
        .otherwise(None).alias("cmi"),
        pl.when(n > 0).then((2 * pl.col("total_cost_fen") + n) // (2 * n)).otherwise(None).alias("avg_cost_fen"),
        share("los_days").alias("avg_los"),
        pl.when(pl.col("ci_den") > 0).then(pl.col("ci_num") / pl.col("ci_den")).otherwise(None).alias("cost_index"),
        pl.when(pl.col("ti_den") > 0).then(pl.col("ti_num") / pl.col("ti_den")).otherwise(None).alias("time_index"),
        pl.when((pl.col("lr_cases") > 0) & pl.lit(low_risk_known)).then(pl.col("lr_deaths") / pl.col("lr_cases"))
        .otherwise(None).alias("low_risk_mortality"),
        *[share(f"{c}_cases").alias(f"{c}_share") for c in SHARE_CLASSES],
        pl.when(n > 0).then((pl.col("high_cases") + pl.col("low_cases")) / n).otherwise(None).alias("outlier_share"),
        share("halved").alias("halved_share"), share("ungroupable_cases").alias("ungroupable_share"),
        share("ambiguous_cases").alias("ambiguous_share"), share("cc_cases").alias("cc_share"),
        pl.when(pl.col("total_cost_fen") > 0).then(pl.col("self_pay_fen") / pl.col("total_cost_fen"))
        .otherwise(None).alias("self_pay_share"),
        (pl.col("amount_fen") - pl.col("total_cost_fen")).alias("balance_fen"),
        pl.col("lr_cases").alias("low_risk_cases"), pl.col("lr_deaths").alias("low_risk_deaths"),
    )
    order = {u: i for i, u in enumerate(UNIT_TYPES)}
    a = a.with_columns(pl.col("unit_type").replace_strict(order, return_dtype=pl.Int32).alias("_o"))
    return a.sort(["_o", "unit"]).select(INDICATOR_COLUMNS)


def _points(units, scale: int, name: str):
    """Integer point units → exact points, DECIMAL(18, d) with d the points decimals."""
    import polars as pl

    from drg.money import units_to_decimal

    d = len(str(scale)) - 1
    return pl.Series(name, [None if u is None else units_to_decimal(int(u), scale) for u in units.to_list()],
                     pl.Decimal(18, d))


def _empty():
    import polars as pl

    return pl.DataFrame(schema={c: pl.String for c in ("unit_type", "unit", "name")})


def hospital_drg(f, *, scale: int, pv_by_pool: dict[str, Fraction | None], hospitals: dict[str, dict]):
    """结余/超支 per hospital and DRG: cases, points (after §5) and points before, total cost, the amount
    Σ_pool round(points × PV) and the balance = amount − cost (fen). ``f``: prepared facts or their sums."""
    import polars as pl

    g = _sums_of(f).hospital_drg_cells()
    # round(points × PV) per cell, pool by pool (a pool without a point value: no amount)
    pools = g["pool"].to_list()
    units = [int(pu) - int(du) for pu, du in zip(g["points_units"].to_list(), g["deduction_units"].to_list())]
    amount: list[int | None] = [None] * len(units)
    for pool in set(pools):
        pv = pv_by_pool.get(pool)
        if pv is not None:
            at = [i for i, p in enumerate(pools) if p == pool]
            for i, a in zip(at, amounts_for_points([units[i] for i in at], pv, scale)):
                amount[i] = a
    g = g.with_columns(pl.Series("amount_fen", amount, pl.Int64))
    h = g.group_by(["hospital_id", "drg"]).agg(
        pl.col("cases").sum(), pl.col("points_units").sum(), pl.col("deduction_units").sum(),
        pl.col("points_before_units").sum(), pl.col("total_cost_fen").sum(),
        pl.when(pl.col("amount_fen").is_null().any()).then(None).otherwise(pl.col("amount_fen").sum())
        .alias("amount_fen"))
    names = {k: str(v.get("name") or "") for k, v in hospitals.items()}
    h = h.with_columns(_points(h["points_units"] - h["deduction_units"], scale, "points"),
                       _points(h["points_before_units"], scale, "points_before"))
    return h.with_columns(
        pl.col("hospital_id").replace_strict(names, default="").alias("name"),
        (pl.col("amount_fen") - pl.col("total_cost_fen")).alias("balance_fen"),
    ).select("hospital_id", "name", "drg", "cases", "points", "points_before", "total_cost_fen", "amount_fen",
             "balance_fen").sort(["hospital_id", "drg"])


def _cv_table(f, *, scale: int, min_cases: int):
    """Per (pool, drg): hospitals with ≥ ``min_cases`` grouped cases, their cases, the mean over them of the
    hospital mean points before §5, and the sample CV of those means (null under 2 hospitals)."""
    import polars as pl

    per_h = (_sums_of(f).hospital_mean_cells()
             .filter(pl.col("cases") >= min_cases)
             .with_columns((pl.col("points_before_units") / scale / pl.col("cases")).alias("m"))
             .sort(["pool", "drg", "hospital_id"]))       # the float mean and SD in one order every time
    # the mean and the sample SD of the hospital means, each sum taken in one order (see _sums_in_order)
    keys = ["pool", "drg"]
    counts = per_h.group_by(keys).agg(pl.len().alias("hospitals"), pl.col("cases").sum().alias("cases"))
    mean = (_sums_in_order(per_h, keys, ["m"]).join(counts, on=keys)
            .with_columns((pl.col("m") / pl.col("hospitals")).alias("mean_points")))
    dev = (per_h.join(mean.select(*keys, "mean_points"), on=keys, how="left", maintain_order="left")
           .with_columns(((pl.col("m") - pl.col("mean_points")) ** 2).alias("sq")))
    return (mean.join(_sums_in_order(dev, keys, ["sq"]), on=keys)
            .with_columns(pl.when(pl.col("hospitals") >= 2)
                          .then((pl.col("sq") / (pl.col("hospitals") - 1)).sqrt() / pl.col("mean_points"))
                          .otherwise(None).alias("cv"))
            .select(*keys, "hospitals", "cases", "mean_points", "cv").sort(keys))


def convergence(f, f_last, *, scale: int, scale_last: int | None, min_cases: int,
                pv_by_pool: dict[str, Fraction | None]):
    """同病同价 convergence per pool and DRG: hospitals and cases counted, mean payment per case
    (the mean of hospital mean points before §5 × PV, fen), CV this span and the same span last year, and the
    change."""
    import polars as pl

    cur = _cv_table(f, scale=scale, min_cases=min_cases)
    if f_last is not None and not _sums_of(f_last).empty:
        last = _cv_table(f_last, scale=scale_last or scale, min_cases=min_cases).select(
            "pool", "drg", pl.col("hospitals").alias("hospitals_last_year"), pl.col("cv").alias("cv_last_year"))
        cur = cur.join(last, on=["pool", "drg"], how="left")
    else:
        cur = cur.with_columns(pl.lit(None, pl.Int64).alias("hospitals_last_year"),
                               pl.lit(None, pl.Float64).alias("cv_last_year"))
    pay = [None if pv_by_pool.get(p) is None or m is None else float(Fraction(m) * pv_by_pool[p])
           for p, m in cur.select("pool", "mean_points").iter_rows()]
    return cur.with_columns(pl.Series("mean_payment_fen", pay, pl.Float64),
                            (pl.col("cv") - pl.col("cv_last_year")).alias("cv_change")).select(
        "pool", "drg", "hospitals", "cases", "mean_points", "mean_payment_fen", "cv", "hospitals_last_year",
        "cv_last_year", "cv_change").sort(["pool", "drg"])


def cc_shares(f):
    """Per (hospital, ADRG): cases and the share with a CC or MCC (``cc_level`` ≥ 1), grouped cases only."""
    import polars as pl

    return (_sums_of(f).cc_cells()
            .with_columns((pl.col("cc_cases") / pl.col("cases")).alias("cc_share")))


def span_scale(f: Any) -> int | None:
    """The points scale of a facts frame (None when empty)."""
    return int(f["scale"].max()) if f.height else None
