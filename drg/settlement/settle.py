"""Settlement: budget, point value, monthly prepayment and the annual settlement to the fen (SPEC §6, §7, §9).

This module owns the monthly batch job of the bureau (月度预付) and the annual run (年度清算):

- reading priced cases (output of ``drg points``) into exact aggregates: money in int fen, points in
  integer units of ``1 / points_scale`` (:func:`read_priced`);
- per pool (:mod:`drg.settlement.pools`): budget ``B``, reserve ``R = round(B × ρ)``, self-pay ``S``, distributable
  ``D = B − R + S``, total points ``P`` after deductions (a hospital's total never below 0) and the
  annual point value ``PV = D / P`` fen per point, held as an exact fraction;
- monthly runs: provisional point value (``last_year`` × factor, or ``budget_pace``), provisional fund
  amounts and prepayments (a negative month is carried to the year end);
- annual runs: entitlements by the largest-remainder method, fund payments, year-end balances, reserve
  loss sharing (reported as ``reserve_share``, never inside ``fund_payment``), county accounts (§8);
- the money invariants, checked inside every run (:func:`check_invariants`, raising
  :class:`drg.errors.InvariantError`);
- the monitoring warnings of §9.

The library entry points are :func:`settle_year` and :func:`settle_month`; they return a
:class:`SettlementResult`, optionally record it in the ledger (:mod:`drg.settlement.ledger`) and write
``hospitals.parquet`` / ``counties.parquet``.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from drg.casefile.money import FEN_COLUMNS, with_fen_columns
from drg.errors import InputError, InvariantError
from drg.money import (amount_for_points, apply_ratio, fraction_text, largest_remainder, points_to_units,
                       pv_text, pv_yuan, round_half_away, units_to_decimal)
from drg.policy import Policy, load_policy
from drg.pricing.adjustments import hospital_total
from drg.casefile.tables import read_budget, read_county_income, read_hospitals
from drg.settlement.pools import ALL_POOLS, county_accounts, pool_budget

__all__ = [
    "settle_year", "settle_month", "settle_months", "read_priced", "check_invariants", "annual_pool", "monthly_pool",
    "hospital_total", "provisional_point_value", "SettlementResult", "PoolResult", "SettlementWarning",
    "InputFile", "CaseAggregates", "HospitalInput", "HOSPITAL_COLUMNS", "COUNTY_COLUMNS", "parse_period",
]

#: Columns a priced-case file must have, and the optional ones (absent → 0 / unknown).
PRICED_REQUIRED = ("hospital_id", "insurance_type", "county", "discharge_date", "total_cost", "fund_paid",
                   "self_paid", "adjusted_points")
PRICED_OPTIONAL = ("other_paid", "deduction_points", "case_class", "drg", "base_points")
OUTLIER_CLASSES = ("high", "low")
_FINE_KEYS = ["pool", "hospital_id", "year", "month", "county", "case_class", "drg"]
_FINE_SUMS = ["cases", "adj_u", "ded_u", "selfpay", "total_cost", "fund_paid", "outlier", "bp_u", "bp_n"]

#: Columns of ``hospitals.parquet`` (money int64 fen; points decimal(18,4); point value yuan decimal(18,4)).
HOSPITAL_COLUMNS = ("kind", "period", "pool", "hospital_id", "name", "cases", "points", "undeducted_points",
                    "entitlement", "self_paid", "fund_payment", "prepaid", "balance", "reserve_share",
                    "total_cost", "loss", "cmi", "outlier_share", "point_value", "point_value_exact")
#: Columns of ``counties.parquet``.
COUNTY_COLUMNS = ("kind", "period", "pool", "county", "q_points", "share", "self_paid", "income",
                  "drg_spending", "other_spending", "balance", "gap_claim", "city_share", "county_share")


# ----------------------------------------------------------------------------------------------- records
@dataclass(frozen=True)
class InputFile:
    """An input of a run: its role, path, size and sha256 (recorded in the ledger)."""

    role: str
    path: str
    sha256: str
    size: int

    @classmethod
    def of(cls, role: str, path: str | Path) -> InputFile:
        p = Path(path)
        h = hashlib.sha256()
        with open(p, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 22), b""):
                h.update(block)
        return cls(role, str(p.resolve()), h.hexdigest(), p.stat().st_size)


@dataclass(frozen=True)
class SettlementWarning:
    """A monitoring warning (SPEC §9) or a note a settlement officer must see."""

    kind: str          # spending_pace, pv_drop, cmi_rise, outlier_share, undeducted, recovery, …
    pool: str
    subject: str       # "pool", a hospital id or a county
    message: str
    value: float | None = None
    threshold: float | None = None


@dataclass(frozen=True)
class PoolResult:
    """The pool-level figures of a run (fen, point units, exact point value)."""

    pool: str
    budget: int
    budget_source: str
    reserve: int
    self_pay: int              # S_k (0 in D when the point value excludes self-pay; still reported)
    distributable: int         # D_k (annual) or the month's provisional pot (month)
    total_points_units: int    # P_k (annual) or P_{k,1..m} (month)
    point_value: Fraction      # fen per point, exact
    provisional_method: str    # "" for the annual run
    cases: int
    fund_payments: int         # Σ F_h
    prepaid: int               # Σ prepayments
    reserve_to_hospitals: int
    reserve_to_counties: int
    reserve_left: int
    undeducted_units: int
    scale: int

    @property
    def point_value_yuan(self) -> Decimal:
        """Yuan per point rounded to 4 decimals, for display only."""
        return pv_yuan(self.point_value)


@dataclass
class CaseAggregates:
    """Priced cases of a settlement year reduced to exact sums (polars frames, int64 fen / point units).

    ``by_month``: pool, hospital_id, year, month, cases, adj_u, ded_u, selfpay, total_cost, fund_paid,
    outliers, bp_u, bp_n (year is the settlement year or the one before, for CMI and budget growth).
    ``by_county``: pool, hospital_id, county, month, cases, adj_u, selfpay.
    ``by_class``: pool, hospital_id, month, case_class, cases, adj_u, total_cost.
    ``by_drg``: pool, hospital_id, month, drg, cases, adj_u, total_cost.
    """

    year: int
    scale: int
    by_month: Any
    by_county: Any
    by_class: Any
    by_drg: Any
    files: list[str]
    scheme_id: str | None
    rows_read: int
    rows_other_years: int


@dataclass
class SettlementResult:
    """One run: a month (``kind = "month"``, ``period = "2025-03"``) or a year (``"year"``, ``"2025"``).

    ``hospitals`` and ``counties`` are polars frames with :data:`HOSPITAL_COLUMNS` / :data:`COUNTY_COLUMNS`;
    ``pools`` maps pool → :class:`PoolResult`.
    """

    kind: str
    period: str
    year: int
    month: int | None
    policy_id: str
    scheme_id: str | None
    pools: dict[str, PoolResult]
    hospitals: Any
    counties: Any
    warnings: list[SettlementWarning]
    inputs: list[InputFile]
    aggregates: CaseAggregates | None = None
    prepaid_source: str = ""
    includes_self_pay: bool = True
    run_id: str | None = None
    out_files: dict[str, str] = field(default_factory=dict)

    def summary(self) -> dict:
        """A JSON-able summary (money in fen, point values in yuan as text)."""
        return {
            "kind": self.kind, "period": self.period, "policy_id": self.policy_id, "scheme_id": self.scheme_id,
            "run_id": self.run_id, "prepaid_source": self.prepaid_source,
            "pools": {k: {"budget": p.budget, "budget_source": p.budget_source, "reserve": p.reserve,
                          "self_pay": p.self_pay, "distributable": p.distributable,
                          "total_points": str(units_to_decimal(p.total_points_units, p.scale)),
                          "point_value_yuan": str(p.point_value_yuan),
                          "point_value_exact_fen": fraction_text(p.point_value),
                          "provisional_method": p.provisional_method, "cases": p.cases,
                          "fund_payments": p.fund_payments, "prepaid": p.prepaid,
                          "reserve_to_hospitals": p.reserve_to_hospitals,
                          "reserve_to_counties": p.reserve_to_counties, "reserve_left": p.reserve_left}
                      for k, p in self.pools.items()},
            "hospitals": self.hospitals.height, "counties": self.counties.height,
            "warnings": [w.message for w in self.warnings], "out_files": self.out_files,
        }


# ----------------------------------------------------------------------------------------------- reading
def parse_period(period: str) -> tuple[int, int]:
    """``"2025-03"`` → ``(2025, 3)``."""
    try:
        y, m = period.split("-")
        year, month = int(y), int(m)
    except Exception:  # noqa: BLE001
        raise InputError(f"period must be YYYY-MM, got {period!r}", field="period") from None
    if not 1 <= month <= 12 or not 1990 <= year <= 2100:
        raise InputError(f"period must be YYYY-MM, got {period!r}", field="period")
    return year, month


def read_priced(paths: str | Path | Sequence[str | Path], year: int, policy: Policy, *,
                batch_rows: int = 1 << 20) -> CaseAggregates:
    """Stream priced-case Parquet files and reduce them to exact per-hospital sums for ``year``.

    Cases are placed by discharge date (SPEC §0.1); cases of ``year − 1`` are kept in ``by_month`` only (for
    last year's CMI and fund spending); other years are counted and skipped. Money is the ``*_fen`` columns
    made when the cases were read (converted here by :func:`drg.casefile.money.with_fen_columns` only for a
    file without them); points are turned into integer units (an error if a value has more decimals than
    ``points_decimals``).
    """
    import polars as pl
    import pyarrow as pa
    import pyarrow.parquet as pq

    if isinstance(paths, (str, Path)):
        paths = [paths]
    scale = policy.points_scale
    parts = []
    rows_read = rows_other = 0
    scheme_id = None
    files = []
    for path in paths:
        path = Path(path)
        file = str(path)
        files.append(file)
        if not path.exists():
            raise InputError("priced-case file not found", file=file)
        if path.suffix.lower() != ".parquet":
            raise InputError("priced cases must be Parquet (the output of `drg points`)", file=file)
        pf = pq.ParquetFile(path)
        md = pf.schema_arrow.metadata or {}
        if scheme_id is None and md.get(b"drg.scheme_id"):
            scheme_id = md[b"drg.scheme_id"].decode() or None
        names = pf.schema_arrow.names
        for c in PRICED_REQUIRED:
            if c not in names:
                raise InputError(f"priced cases: missing column {c}", file=file, field=c)
        cols = list(PRICED_REQUIRED) + [c for c in (*PRICED_OPTIONAL, *FEN_COLUMNS) if c in names]
        first = 1
        for batch in pf.iter_batches(batch_size=batch_rows, columns=cols):
            n = batch.num_rows
            rows_read += n
            # money crosses the pipe once: the fen columns made when the cases were read
            t = with_fen_columns(pa.Table.from_batches([batch]), file=file, first_row=first)
            dd = t.column("discharge_date")
            if not pa.types.is_date(dd.type) and not pa.types.is_timestamp(dd.type):
                dd = dd.cast(pa.string()).cast(pa.date32())
            if dd.null_count:
                bad = int(np.flatnonzero(np.asarray(dd.is_null()))[0])
                raise InputError("empty discharge date", file=file, row=first + bad, field="discharge_date")
            for c in ("hospital_id", "insurance_type", "county"):
                if t.column(c).null_count:
                    bad = int(np.flatnonzero(np.asarray(t.column(c).is_null()))[0])
                    raise InputError("empty value", file=file, row=first + bad, field=c)
            adj = t.column("adjusted_points").to_numpy()
            if np.isnan(adj).any() if adj.dtype.kind == "f" else False:
                bad = int(np.flatnonzero(np.isnan(adj))[0])
                raise InputError("empty points", file=file, row=first + bad, field="adjusted_points")
            df = pl.DataFrame({
                "hospital_id": pl.from_arrow(t.column("hospital_id").cast(pa.string())),
                "insurance_type": pl.from_arrow(t.column("insurance_type").cast(pa.string())),
                "county": pl.from_arrow(t.column("county").cast(pa.string())),
                "discharge_date": pl.from_arrow(dd),
                "total_cost": np.asarray(t.column("total_cost_fen")),
                "fund_paid": np.asarray(t.column("fund_paid_fen")),
                "selfpay": np.asarray(t.column("self_paid_fen")) + np.asarray(t.column("other_paid_fen")),
                "adj_u": points_to_units(adj, scale, what="adjusted_points", file=file),
                "ded_u": points_to_units(np.nan_to_num(t.column("deduction_points").to_numpy(zero_copy_only=False)
                                                       .astype(np.float64)), scale,
                                         what="deduction_points", file=file)
                if "deduction_points" in t.column_names else np.zeros(n, np.int64),
                "case_class": (pl.from_arrow(t.column("case_class").cast(pa.string())).fill_null("")
                               if "case_class" in t.column_names else pl.Series([""] * n)),
                "drg": (pl.from_arrow(t.column("drg").cast(pa.string())).fill_null("")
                        if "drg" in t.column_names else pl.Series([""] * n)),
            })
            if "base_points" in t.column_names:
                bp = t.column("base_points").cast(pa.float64()).to_numpy(zero_copy_only=False)
                has = ~np.isnan(bp)
                bpu = np.zeros(n, np.int64)
                if has.any():
                    bpu[has] = points_to_units(bp[has], scale, what="base_points", file=file)
                df = df.with_columns(pl.Series("bp_u", bpu), pl.Series("bp_n", has.astype(np.int64)))
            else:
                df = df.with_columns(pl.lit(0, pl.Int64).alias("bp_u"), pl.lit(0, pl.Int64).alias("bp_n"))
            first += n
            pool = pl.col("insurance_type") if policy.pools_by_insurance_type else pl.lit(ALL_POOLS)
            df = df.with_columns(pool.alias("pool"), pl.col("discharge_date").dt.year().cast(pl.Int32).alias("year"),
                                 pl.col("discharge_date").dt.month().cast(pl.Int32).alias("month"),
                                 pl.col("case_class").is_in(OUTLIER_CLASSES).cast(pl.Int64).alias("outlier"))
            keep = df.filter(pl.col("year").is_in([year - 1, year]))
            rows_other += df.height - keep.height
            # one group-by per batch at the finest grain; the four views are derived from it at the end
            parts.append(keep.group_by(_FINE_KEYS).agg(
                pl.len().cast(pl.Int64).alias("cases"), *[pl.col(c).sum() for c in _FINE_SUMS[1:]]))

    if not parts:
        raise InputError(f"no priced case discharged in {year}", file=", ".join(files))
    fine = pl.concat(parts).group_by(_FINE_KEYS).agg([pl.col(c).sum() for c in _FINE_SUMS])
    cur = fine.filter(pl.col("year") == year)

    def view(df, keys, sums):
        return df.group_by(keys).agg([pl.col(c).sum() for c in sums]).sort(keys)

    by_month = view(fine, ["pool", "hospital_id", "year", "month"], _FINE_SUMS).rename({"outlier": "outliers"})
    if by_month.filter(pl.col("year") == year).height == 0:
        raise InputError(f"no priced case discharged in {year}", file=", ".join(files))
    return CaseAggregates(
        year=year, scale=scale, by_month=by_month,
        by_county=view(cur, ["pool", "hospital_id", "county", "month"], ["cases", "adj_u", "selfpay"]),
        by_class=view(cur, ["pool", "hospital_id", "month", "case_class"], ["cases", "adj_u", "total_cost"]),
        by_drg=view(cur, ["pool", "hospital_id", "month", "drg"], ["cases", "adj_u", "total_cost"]),
        files=files, scheme_id=scheme_id, rows_read=rows_read, rows_other_years=rows_other)


# ----------------------------------------------------------------------------------------------- core
@dataclass(frozen=True)
class HospitalInput:
    """One hospital's sums in one pool for a period: points in units, money in fen."""

    hospital_id: str
    adjusted_units: int
    deduction_units: int = 0
    self_paid: int = 0
    total_cost: int = 0
    cases: int = 0
    prepaid: int = 0


def annual_pool(pool: str, budget_fen: int, hospitals: Sequence[HospitalInput], policy: Policy, *,
                budget_source: str = "", cases: int | None = None) -> tuple[PoolResult, list[dict]]:
    """The annual settlement of one pool (SPEC §6, §7): exact to the fen.

    Returns the pool figures and one dict per hospital (sorted by hospital id) with ``points_units``,
    ``undeducted_units``, ``entitlement``, ``self_paid``, ``fund_payment``, ``prepaid``, ``balance``,
    ``reserve_share``, ``total_cost``, ``loss`` (total cost above the hospital's DRG income ``F_h + S_h``,
    which is ``E_h`` when the point value includes self-pay). County accounts are added by the caller (they
    need the county breakdown); ``reserve_left`` here is what §7 left.
    """
    scale = policy.points_scale
    hs = sorted(hospitals, key=lambda h: h.hospital_id)
    ids = [h.hospital_id for h in hs]
    if len(set(ids)) != len(ids):
        raise InputError(f"pool {pool}: a hospital appears twice")
    reserve = apply_ratio(budget_fen, policy.budget.reserve_ratio)
    includes = policy.budget.point_value_includes_self_pay
    s_total = sum(h.self_paid for h in hs)
    d = budget_fen - reserve + (s_total if includes else 0)
    totals = [hospital_total(h.adjusted_units, h.deduction_units) for h in hs]
    p_units = sum(t for t, _ in totals)
    if p_units <= 0:
        raise InputError(f"pool {pool}: total points after deductions are 0; no point value can be set")
    pv = Fraction(d * scale, p_units)
    ent = largest_remainder(d, [t for t, _ in totals], ids)
    rows = []
    for h, (t, und), e in zip(hs, totals, ent):
        s = h.self_paid if includes else 0
        f = e - s
        # the hospital's DRG income is F_h + S_h (= E_h when the point value includes self-pay)
        loss = max(0, h.total_cost - (f + h.self_paid))
        rows.append({"hospital_id": h.hospital_id, "cases": h.cases, "points_units": t, "undeducted_units": und,
                     "entitlement": e, "self_paid": h.self_paid, "fund_payment": f, "prepaid": h.prepaid,
                     "balance": f - h.prepaid, "reserve_share": 0, "total_cost": h.total_cost, "loss": loss})
    # §7 reserve use: share a hospital's loss (actual total cost above E_h), capped; never above R.
    rp = policy.reserve
    used = 0
    if rp.use == "share_loss" and reserve > 0:
        claims = []
        for r in rows:
            c = apply_ratio(r["loss"], rp.share)
            if rp.cap_fen is not None:
                c = min(c, rp.cap_fen)
            claims.append(max(0, c))
        if sum(claims) > reserve:
            claims = largest_remainder(reserve, claims, ids)
        for r, c in zip(rows, claims):
            r["reserve_share"] = c
        used = sum(claims)
    res = PoolResult(pool=pool, budget=budget_fen, budget_source=budget_source, reserve=reserve, self_pay=s_total,
                     distributable=d, total_points_units=p_units, point_value=pv, provisional_method="",
                     cases=sum(h.cases for h in hs) if cases is None else cases,
                     fund_payments=sum(r["fund_payment"] for r in rows), prepaid=sum(r["prepaid"] for r in rows),
                     reserve_to_hospitals=used, reserve_to_counties=0, reserve_left=reserve - used,
                     undeducted_units=sum(u for _, u in totals), scale=scale)
    return res, rows


def provisional_point_value(method: str, *, month: int, budget_fen: int, reserve_fen: int, ytd_self_pay: int,
                            ytd_points_units: int, scale: int, includes_self_pay: bool,
                            last_year_pv: Fraction | None, factor: Decimal) -> Fraction:
    """Provisional point value of month ``m`` in fen per point (SPEC §6).

    ``last_year``: last year's final PV × ``factor``. ``budget_pace``: year to date,
    ``((B − R) × m/12 + S_{1..m}) / P_{1..m}``.
    """
    if method == "last_year":
        if last_year_pv is None:
            raise InputError("prepayment.provisional_pv = last_year needs last year's point value: run the "
                             "annual settlement of last year into the ledger, or give --last-year-pv",
                             field="prepayment.provisional_pv")
        return Fraction(last_year_pv) * Fraction(factor)
    if method != "budget_pace":
        raise InputError(f"unknown provisional_pv {method!r}", field="prepayment.provisional_pv")
    if ytd_points_units <= 0:
        raise InputError("budget_pace: no points in the year to date")
    pot = Fraction((budget_fen - reserve_fen) * month, 12) + (ytd_self_pay if includes_self_pay else 0)
    return pot * scale / ytd_points_units


def monthly_pool(pool: str, month: int, hospitals: Sequence[HospitalInput], pv_fen: Fraction, policy: Policy,
                 ) -> list[dict]:
    """Provisional fund amounts and prepayments of one month in one pool (SPEC §6).

    ``F_{h,m} = round(P_{h,m} × PV_m) − S_{h,m}``; prepayment ``max(0, round(F × prepay_ratio))``; the rest
    (``balance = F − prepayment``, negative for a negative month) is carried to the year end.
    """
    scale = policy.points_scale
    includes = policy.budget.point_value_includes_self_pay
    rows = []
    for h in sorted(hospitals, key=lambda h: h.hospital_id):
        t, und = hospital_total(h.adjusted_units, h.deduction_units)
        e = amount_for_points(t, pv_fen, scale)
        s = h.self_paid if includes else 0
        f = e - s
        pre = max(0, apply_ratio(f, policy.prepayment.prepay_ratio))
        rows.append({"hospital_id": h.hospital_id, "cases": h.cases, "points_units": t, "undeducted_units": und,
                     "entitlement": e, "self_paid": h.self_paid, "fund_payment": f, "prepaid": pre,
                     "balance": f - pre, "reserve_share": 0, "total_cost": h.total_cost,
                     "loss": max(0, h.total_cost - (f + h.self_paid))})
    return rows


# ----------------------------------------------------------------------------------------------- invariants
def check_invariants(result: SettlementResult) -> None:
    """Raise :class:`InvariantError` if a money invariant of SPEC §6–§8 fails.

    Annual: Σ entitlements = D; Σ fund payments = B − R; Σ county DRG spending = Σ fund payments; reserve
    paid out (hospitals + counties) ≤ R, every share ≥ 0. Every run: prepaid + balance = fund payment and
    fund payment = entitlement − self-pay (self-pay 0 when the PV excludes it) for every hospital;
    prepayments ≥ 0.
    """
    import polars as pl

    h = result.hospitals
    for pool, p in result.pools.items():
        hp = h.filter(pl.col("pool") == pool)
        fsum = int(hp["fund_payment"].sum()) if hp.height else 0
        if fsum != p.fund_payments:
            raise InvariantError(f"pool {pool}: Σ fund payments {fsum} ≠ recorded {p.fund_payments}")
        if result.kind == "year":
            esum = int(hp["entitlement"].sum())
            if esum != p.distributable:
                raise InvariantError(f"pool {pool}: Σ entitlements {esum} ≠ distributable {p.distributable}")
            if fsum != p.budget - p.reserve:
                raise InvariantError(f"pool {pool}: Σ fund payments {fsum} ≠ budget − reserve "
                                     f"{p.budget - p.reserve}")
            cp = result.counties.filter(pl.col("pool") == pool)
            if cp.height:
                xsum = int(cp["drg_spending"].sum())
                if xsum != fsum:
                    raise InvariantError(f"pool {pool}: Σ county DRG spending {xsum} ≠ Σ fund payments {fsum}")
                if int(cp["share"].sum()) != p.distributable:
                    raise InvariantError(f"pool {pool}: Σ county shares ≠ distributable")
                if (cp["city_share"] < 0).any() or (cp["county_share"] < 0).any():
                    raise InvariantError(f"pool {pool}: a negative gap share")
                city = int(cp["city_share"].sum())
                if city != p.reserve_to_counties:
                    raise InvariantError(f"pool {pool}: Σ city gap shares {city} ≠ {p.reserve_to_counties}")
            rsum = int(hp["reserve_share"].sum())
            if rsum != p.reserve_to_hospitals or (hp["reserve_share"] < 0).any():
                raise InvariantError(f"pool {pool}: reserve shares do not add up")
            if p.reserve_to_hospitals + p.reserve_to_counties + p.reserve_left != p.reserve or p.reserve_left < 0:
                raise InvariantError(f"pool {pool}: reserve used {p.reserve_to_hospitals} + "
                                     f"{p.reserve_to_counties} exceeds or misstates the reserve {p.reserve}")
    if h.height:
        bad = h.filter(pl.col("prepaid") + pl.col("balance") != pl.col("fund_payment"))
        if bad.height:
            r = bad.row(0, named=True)
            raise InvariantError(f"hospital {r['hospital_id']} pool {r['pool']}: prepaid + balance ≠ fund payment")
        s = pl.col("self_paid") if result.includes_self_pay else pl.lit(0)
        bad = h.filter(pl.col("entitlement") - s != pl.col("fund_payment"))
        if bad.height:
            r = bad.row(0, named=True)
            raise InvariantError(f"hospital {r['hospital_id']} pool {r['pool']}: fund payment ≠ entitlement − "
                                 f"self-pay")
        if (h["prepaid"] < 0).any() and result.kind == "month":
            raise InvariantError("a negative monthly prepayment")


# ----------------------------------------------------------------------------------------------- frames
def _hospital_frame(kind: str, period: str, pool: str, rows: list[dict], pv: Fraction, scale: int,
                    names: Mapping[str, dict], stats: Mapping[str, dict]):
    import polars as pl

    out = []
    pvd, pvx = pv_yuan(pv), fraction_text(pv)
    for r in rows:
        st = stats.get(r["hospital_id"], {})
        out.append({"kind": kind, "period": period, "pool": pool, "hospital_id": r["hospital_id"],
                    "name": names.get(r["hospital_id"], {}).get("name", ""), "cases": r["cases"],
                    "points": units_to_decimal(r["points_units"], scale),
                    "undeducted_points": units_to_decimal(r["undeducted_units"], scale),
                    "entitlement": r["entitlement"], "self_paid": r["self_paid"], "fund_payment": r["fund_payment"],
                    "prepaid": r["prepaid"], "balance": r["balance"], "reserve_share": r["reserve_share"],
                    "total_cost": r["total_cost"], "loss": r["loss"], "cmi": st.get("cmi"),
                    "outlier_share": st.get("outlier_share"), "point_value": pvd, "point_value_exact": pvx})
    return pl.DataFrame(out, schema=_HOSPITAL_SCHEMA(), orient="row") if out else _empty(_HOSPITAL_SCHEMA())


def _HOSPITAL_SCHEMA():  # noqa: N802 - a schema constant built lazily (polars imported inside)
    import polars as pl

    s = {"kind": pl.String, "period": pl.String, "pool": pl.String, "hospital_id": pl.String, "name": pl.String,
         "cases": pl.Int64, "points": pl.Decimal(18, 4), "undeducted_points": pl.Decimal(18, 4)}
    s.update({c: pl.Int64 for c in ("entitlement", "self_paid", "fund_payment", "prepaid", "balance",
                                     "reserve_share", "total_cost", "loss")})
    s.update({"cmi": pl.Float64, "outlier_share": pl.Float64, "point_value": pl.Decimal(18, 4),
              "point_value_exact": pl.String})
    return s


def _COUNTY_SCHEMA():  # noqa: N802
    import polars as pl

    s = {"kind": pl.String, "period": pl.String, "pool": pl.String, "county": pl.String,
         "q_points": pl.Decimal(18, 4)}
    s.update({c: pl.Int64 for c in COUNTY_COLUMNS[5:]})
    return s


def _empty(schema):
    import polars as pl

    return pl.DataFrame(schema=schema)


def _concat(frames, schema):
    import polars as pl

    frames = [f for f in frames if f.height]
    return pl.concat(frames) if frames else _empty(schema)


# ----------------------------------------------------------------------------------------------- helpers
def _as_policy(policy: Policy | str | Path) -> Policy:
    return policy if isinstance(policy, Policy) else load_policy(policy)


def _paths(priced) -> list[Path]:
    if isinstance(priced, (str, Path)):
        return [Path(priced)]
    return [Path(p) for p in priced]


def _last_year_pv(arg, pools: Iterable[str]) -> dict[str, Fraction]:
    """``last_year_pv`` given by the caller: one value for all pools, or pool → value; yuan per point
    (Decimal/str/float/int) or an exact :class:`Fraction` of **fen** per point."""
    if arg is None:
        return {}

    def conv(v):
        if isinstance(v, Fraction):
            return v
        if isinstance(v, float):
            v = repr(v)
        return Fraction(Decimal(str(v))) * 100

    if isinstance(arg, Mapping):
        return {str(k): conv(v) for k, v in arg.items()}
    return {p: conv(arg) for p in pools}


def _hospital_inputs(agg: CaseAggregates, pool: str, months: Iterable[int], year: int) -> dict[str, HospitalInput]:
    import polars as pl

    bm = agg.by_month.filter((pl.col("pool") == pool) & (pl.col("year") == year) & pl.col("month").is_in(list(months)))
    g = bm.group_by("hospital_id").agg(pl.col("adj_u").sum(), pl.col("ded_u").sum(), pl.col("selfpay").sum(),
                                       pl.col("total_cost").sum(), pl.col("cases").sum())
    return {r["hospital_id"]: HospitalInput(r["hospital_id"], int(r["adj_u"]), int(r["ded_u"]), int(r["selfpay"]),
                                            int(r["total_cost"]), int(r["cases"]))
            for r in g.iter_rows(named=True)}


def _hospital_stats(agg: CaseAggregates, pool: str, months: Iterable[int], year: int) -> dict[str, dict]:
    """CMI (mean RW = base points / 100 of cases with a weight) and outlier share per hospital."""
    import polars as pl

    bm = agg.by_month.filter((pl.col("pool") == pool) & (pl.col("year") == year) & pl.col("month").is_in(list(months)))
    g = bm.group_by("hospital_id").agg(pl.col("cases").sum(), pl.col("outliers").sum(), pl.col("bp_u").sum(),
                                       pl.col("bp_n").sum())
    out = {}
    for r in g.iter_rows(named=True):
        cmi = round(r["bp_u"] / agg.scale / 100 / r["bp_n"], 4) if r["bp_n"] else None
        out[r["hospital_id"]] = {"cmi": cmi, "outlier_share": round(r["outliers"] / r["cases"], 4) if r["cases"]
                                 else None, "cases": r["cases"], "outliers": r["outliers"]}
    return out


def _monitoring(kind: str, pool: str, month: int, pool_res: PoolResult, agg: CaseAggregates, policy: Policy,
                last_pv: Fraction | None, last_cmi: Mapping[str, float], stats: Mapping[str, dict],
                budget_fen: int) -> list[SettlementWarning]:
    """The warnings of SPEC §9 for one pool, year to date through ``month``."""
    import polars as pl

    mon = policy.monitoring
    out: list[SettlementWarning] = []
    ytd = agg.by_month.filter((pl.col("pool") == pool) & (pl.col("year") == agg.year) & (pl.col("month") <= month))
    spent = int(ytd["fund_paid"].sum())
    limit = Fraction(budget_fen * month, 12) * (1 + Fraction(mon.spending_tolerance))
    if spent > limit:
        out.append(SettlementWarning(
            "spending_pace", pool, "pool",
            f"pool {pool}: fund spending through month {month} is {spent / 100:,.2f} yuan, above {month}/12 of the "
            f"budget × (1 + {mon.spending_tolerance}) = {float(limit) / 100:,.2f} yuan",
            round(spent / (budget_fen * month / 12) - 1, 4) if budget_fen else None, float(mon.spending_tolerance)))
    if last_pv:
        drop = 1 - pool_res.point_value / last_pv
        if drop > Fraction(mon.pv_drop_max):
            out.append(SettlementWarning(
                "pv_drop", pool, "pool",
                f"pool {pool}: point value {pv_text(pool_res.point_value)} yuan is {float(drop):.1%} below last "
                f"year's {pv_text(last_pv)} (limit {float(mon.pv_drop_max):.1%})",
                round(float(drop), 4), float(mon.pv_drop_max)))
    for hid, st in sorted(stats.items()):
        prev = last_cmi.get(hid)
        if st["cmi"] is not None and prev:
            rise = st["cmi"] / prev - 1
            if rise > float(mon.cmi_rise_max):
                out.append(SettlementWarning(
                    "cmi_rise", pool, hid, f"hospital {hid} pool {pool}: CMI {st['cmi']:.4f} is {rise:.1%} above "
                    f"last year's {prev:.4f} (limit {float(mon.cmi_rise_max):.1%})", round(rise, 4),
                    float(mon.cmi_rise_max)))
    cases = int(ytd["cases"].sum())
    outl = int(ytd["outliers"].sum())
    if cases and Fraction(outl, cases) > Fraction(mon.outlier_share_max):
        out.append(SettlementWarning(
            "outlier_share", pool, "pool", f"pool {pool}: {outl / cases:.1%} of cases are high or low outliers "
            f"(limit {float(mon.outlier_share_max):.1%})", round(outl / cases, 4), float(mon.outlier_share_max)))
    for hid, st in sorted(stats.items()):
        if st["cases"] and Fraction(st["outliers"], st["cases"]) > Fraction(mon.outlier_share_max):
            out.append(SettlementWarning(
                "outlier_share", pool, hid, f"hospital {hid} pool {pool}: {st['outliers'] / st['cases']:.1%} of "
                f"cases are outliers (limit {float(mon.outlier_share_max):.1%})",
                round(st["outliers"] / st["cases"], 4), float(mon.outlier_share_max)))
    return out


def _prev_year_cmi(agg: CaseAggregates, pool: str) -> dict[str, float]:
    import polars as pl

    prev = agg.by_month.filter((pl.col("pool") == pool) & (pl.col("year") == agg.year - 1))
    g = prev.group_by("hospital_id").agg(pl.col("bp_u").sum(), pl.col("bp_n").sum())
    return {r["hospital_id"]: round(r["bp_u"] / agg.scale / 100 / r["bp_n"], 4)
            for r in g.iter_rows(named=True) if r["bp_n"]}


def _prev_year_spending(agg: CaseAggregates, pool: str) -> int | None:
    import polars as pl

    prev = agg.by_month.filter((pl.col("pool") == pool) & (pl.col("year") == agg.year - 1))
    return int(prev["fund_paid"].sum()) if prev.height else None


@dataclass
class _Context:
    policy: Policy
    agg: CaseAggregates
    budget: dict | None
    income: dict | None
    hospitals: dict
    inputs: list[InputFile]
    ledger: Any
    insurance_types: tuple[str, ...]
    last_pv: dict[str, Fraction]
    month_cache: dict = field(default_factory=dict)


def _prepare(priced, hospitals, budget, county_income, policy, year, ledger, last_year_pv,
             kind: str, period: str, replace: bool) -> _Context:
    pol = _as_policy(policy)
    paths = _paths(priced)
    led = None
    if ledger is not None:
        from drg.settlement.ledger import Ledger

        led = ledger if isinstance(ledger, Ledger) else Ledger(ledger)
        if not replace and led.has_run(kind, period):
            raise InputError(f"{kind} {period} is already in the ledger; use --replace to run it again",
                             file=str(led.path))
    inputs = [InputFile.of("priced", p) for p in paths if Path(p).exists()]
    for role, p in (("hospitals", hospitals), ("budget", budget), ("county_income", county_income)):
        if p is not None:
            if not Path(p).exists():
                raise InputError(f"{role} file not found", file=str(p))
            inputs.append(InputFile.of(role, p))
    if pol.path and Path(pol.path).exists():
        inputs.append(InputFile.of("policy", pol.path))
    agg = read_priced(paths, year, pol)
    import polars as pl

    bud = read_budget(budget) if budget is not None else None
    # pool "all" sums the budget rows of every insurance type the table has for the year
    types = tuple(sorted({t for (y, t) in (bud or {}) if y == year}))
    pools = sorted(agg.by_month.filter(pl.col("year") == year)["pool"].unique().to_list())
    last = _last_year_pv(last_year_pv, pools)
    if led is not None:
        for p, v in led.point_values(year - 1, kind="year").items():
            last.setdefault(p, v)
    return _Context(pol, agg, bud, read_county_income(county_income) if county_income is not None else None,
                    read_hospitals(hospitals) if hospitals is not None else {}, inputs, led, types, last)


def _budget_of(ctx: _Context, pool: str, year: int, budget_file) -> tuple[int, str]:
    spending = None
    if ctx.ledger is not None:
        spending = ctx.ledger.fund_spending(year - 1).get(pool)
    if spending is None:
        spending = _prev_year_spending(ctx.agg, pool)
    return pool_budget(ctx.budget, year, pool, insurance_types=ctx.insurance_types,
                       growth_rate=ctx.policy.budget.growth_rate, last_year_spending_fen=spending,
                       file=None if budget_file is None else str(budget_file))


def _unknown_hospital_warnings(ctx: _Context, pool: str, ids: Iterable[str]) -> list[SettlementWarning]:
    if not ctx.hospitals:
        return []
    return [SettlementWarning("unknown_hospital", pool, h, f"hospital {h} is not in the hospitals table")
            for h in sorted(ids) if h not in ctx.hospitals]


def _last_cmi(ctx: _Context, pool: str, year: int) -> dict[str, float]:
    cmi = _prev_year_cmi(ctx.agg, pool)
    if ctx.ledger is not None:
        for h, v in ctx.ledger.hospital_cmi(year - 1, pool).items():
            cmi.setdefault(h, v)
    return cmi


def _finish(result: SettlementResult, ctx: _Context, out, replace: bool) -> SettlementResult:
    check_invariants(result)
    staged = _stage_outputs(result, out) if out is not None else {}
    try:
        if ctx.ledger is not None:
            result.run_id = ctx.ledger.record(result, replace=replace)
        for tmp, final in staged.items():
            os.replace(tmp, final)
            result.out_files[Path(final).stem] = str(final)
    finally:
        for tmp in staged:
            if Path(tmp).exists():
                Path(tmp).unlink()
    return result


def _stage_outputs(result: SettlementResult, out) -> dict[str, str]:
    """Write the output files under temporary names; they are renamed once the ledger has committed."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    staged = {}
    for name, frame in (("hospitals", result.hospitals), ("counties", result.counties)):
        final = out / f"{name}.parquet"
        tmp = out / f".{name}.parquet.partial-{os.getpid()}"
        frame.write_parquet(tmp)
        staged[str(tmp)] = str(final)
    return staged


# ----------------------------------------------------------------------------------------------- runs
def settle_year(priced: str | Path | Sequence[str | Path], hospitals: str | Path | None,
                budget: str | Path | None, county_income: str | Path | None, policy: Policy | str | Path,
                year: int, *, ledger: Any = None, out: str | Path | None = None, replace: bool = False,
                last_year_pv: Any = None, scheme_id: str | None = None,
                prepaid: str | Mapping[tuple[str, str], int] = "auto") -> SettlementResult:
    """The annual settlement (年度清算) of ``year`` for every pool (SPEC §6, §7, §8).

    Parameters
    ----------
    priced : path or list of paths
        Priced-case Parquet files (``drg points``); cases are placed by discharge date. Cases of
        ``year − 1`` in them serve last year's CMI and, without a budget row, last year's fund spending.
    hospitals, budget, county_income : path or None
        The input tables of CONTRACT.md. ``budget`` may lack the year (then last year's fund DRG spending ×
        (1 + ``budget.growth_rate``)); ``county_income`` None skips the county accounts.
    policy : Policy, profile name or path
    year : int
    ledger : path or :class:`drg.settlement.ledger.Ledger`, optional
        Record the run; a year already there is refused unless ``replace``.
    out : directory, optional
        Write ``hospitals.parquet`` and ``counties.parquet`` there (after the ledger commits).
    last_year_pv : optional
        Last year's point value (yuan per point, one value or pool → value) for the §9 warning and the
        recomputed prepayments under ``provisional_pv = last_year``; defaults to the ledger's.
    prepaid : "auto", "ledger", "recompute", "none" or mapping (pool, hospital) → fen
        Where the year's prepayments come from. ``auto``: the ledger's monthly runs of the year when there
        are any, else recomputed from the priced cases as twelve monthly runs would have paid them.

    Returns
    -------
    SettlementResult

    Raises
    ------
    InputError
        Bad or missing input (file, row, field named), a period already in the ledger.
    InvariantError
        A money invariant failed; nothing is written.
    """
    import polars as pl

    period = str(year)
    ctx = _prepare(priced, hospitals, budget, county_income, policy, year, ledger, last_year_pv, "year", period,
                   replace)
    pol, agg = ctx.policy, ctx.agg
    pools = sorted(agg.by_month.filter(pl.col("year") == year)["pool"].unique().to_list())
    warnings: list[SettlementWarning] = []
    pool_results: dict[str, PoolResult] = {}
    hframes, cframes = [], []
    prepaid_map, source = _prepaid(ctx, pools, year, prepaid, budget, warnings)
    for pool in pools:
        b, bsrc = _budget_of(ctx, pool, year, budget)
        hin = _hospital_inputs(agg, pool, range(1, 13), year)
        for (pp, hid), fen in prepaid_map.items():
            if pp == pool and hid not in hin:
                hin[hid] = HospitalInput(hid, 0)
        hin = {h: HospitalInput(v.hospital_id, v.adjusted_units, v.deduction_units, v.self_paid, v.total_cost,
                                v.cases, prepaid_map.get((pool, h), 0)) for h, v in hin.items()}
        pres, rows = annual_pool(pool, b, list(hin.values()), pol, budget_source=bsrc)
        # §8 county accounts
        if ctx.income is not None:
            bc = agg.by_county.filter(pl.col("pool") == pool)
            cpts = {(r["hospital_id"], r["county"]): int(r["adj_u"]) for r in
                    bc.group_by(["hospital_id", "county"]).agg(pl.col("adj_u").sum()).iter_rows(named=True)}
            csp = {r["county"]: int(r["selfpay"]) for r in
                   bc.group_by("county").agg(pl.col("selfpay").sum()).iter_rows(named=True)}
            inc = _pool_income(ctx, year, pool)
            accounts, used = county_accounts(
                pres.distributable, {r["hospital_id"]: r["points_units"] for r in rows}, cpts, csp, inc,
                alpha=pol.county.gap_city_share, reserve_left_fen=pres.reserve_left,
                includes_self_pay=pol.budget.point_value_includes_self_pay)
            pres = _replace(pres, reserve_to_counties=used, reserve_left=pres.reserve_left - used)
            cframes.append(_county_frame("year", period, pool, accounts, pol.points_scale))
            short = [a for a in accounts if a.claim > a.city_share]
            if short:
                warnings.append(SettlementWarning(
                    "reserve_short", pool, "pool", f"pool {pool}: the reserve left ({pres.reserve_left + used} fen) "
                    f"does not cover the city's share of county gaps ({sum(a.claim for a in accounts)} fen); "
                    f"split by largest remainder"))
        pool_results[pool] = pres
        stats = _hospital_stats(agg, pool, range(1, 13), year)
        hframes.append(_hospital_frame("year", period, pool, rows, pres.point_value, pol.points_scale,
                                       ctx.hospitals, stats))
        warnings += _unknown_hospital_warnings(ctx, pool, hin)
        for r in rows:
            if r["undeducted_units"]:
                warnings.append(SettlementWarning(
                    "undeducted", pool, r["hospital_id"], f"hospital {r['hospital_id']} pool {pool}: "
                    f"{units_to_decimal(r['undeducted_units'], pol.points_scale)} points of deductions could not "
                    f"be taken (total floored at 0)"))
            if r["fund_payment"] < 0:
                warnings.append(SettlementWarning(
                    "recovery", pool, r["hospital_id"], f"hospital {r['hospital_id']} pool {pool}: fund payment "
                    f"{r['fund_payment']} fen is negative (self-pay above entitlement): recovery"))
        warnings += _monitoring("year", pool, 12, pres, agg, pol, ctx.last_pv.get(pool), _last_cmi(ctx, pool, year),
                                stats, b)
    result = SettlementResult(
        kind="year", period=period, year=year, month=None, policy_id=pol.id,
        scheme_id=scheme_id or agg.scheme_id or pol.scheme, pools=pool_results,
        hospitals=_concat(hframes, _HOSPITAL_SCHEMA()), counties=_concat(cframes, _COUNTY_SCHEMA()),
        warnings=warnings, inputs=ctx.inputs, aggregates=agg, prepaid_source=source,
        includes_self_pay=pol.budget.point_value_includes_self_pay)
    return _finish(result, ctx, out, replace)


def _replace(p: PoolResult, **kw) -> PoolResult:
    from dataclasses import replace

    return replace(p, **kw)


def _pool_income(ctx: _Context, year: int, pool: str) -> dict[str, tuple[int, int]]:
    out: dict[str, tuple[int, int]] = {}
    for (y, t, c), (i, o) in (ctx.income or {}).items():
        if y == year and (pool == ALL_POOLS or t == pool):
            a, b = out.get(c, (0, 0))
            out[c] = (a + i, b + o)
    return out


def _county_frame(kind, period, pool, accounts, scale):
    import polars as pl

    rows = [{"kind": kind, "period": period, "pool": pool, "county": a.county,
             "q_points": units_to_decimal(round_half_away(a.q_units), scale),
             "share": a.share, "self_paid": a.self_paid, "income": a.income, "drg_spending": a.drg_spending,
             "other_spending": a.other_spending, "balance": a.balance, "gap_claim": a.claim,
             "city_share": a.city_share, "county_share": a.county_share} for a in accounts]
    return pl.DataFrame(rows, schema=_COUNTY_SCHEMA(), orient="row") if rows else _empty(_COUNTY_SCHEMA())


def _prepaid(ctx: _Context, pools, year, prepaid, budget_file, warnings) -> tuple[dict, str]:
    if isinstance(prepaid, Mapping):
        return {(str(p), str(h)): int(v) for (p, h), v in prepaid.items()}, "given"
    if prepaid == "none":
        return {}, "none"
    if prepaid in ("auto", "ledger") and ctx.ledger is not None:
        got, months = ctx.ledger.prepayments(year)
        if months or prepaid == "ledger":
            missing = [m for m in range(1, 13) if m not in months]
            if missing:
                warnings.append(SettlementWarning(
                    "months_missing", "all", "pool", f"the ledger has no monthly run of {year} for month(s) "
                    f"{', '.join(map(str, missing))}: nothing was prepaid for them"))
            return got, "ledger"
    if prepaid == "ledger":
        raise InputError("prepaid = ledger needs a ledger")
    if prepaid not in ("auto", "recompute"):
        raise InputError(f"prepaid must be auto, ledger, recompute or none, got {prepaid!r}")
    out: dict[tuple[str, str], int] = {}
    for pool in pools:
        b, _ = _budget_of(ctx, pool, year, budget_file)
        for m in range(1, 13):
            rows, _pres = _month_rows(ctx, pool, year, m, b)
            for r in rows:
                key = (pool, r["hospital_id"])
                out[key] = out.get(key, 0) + r["prepaid"]
    return out, "recomputed"


def _month_inputs(ctx: _Context, pool: str, year: int) -> dict[int, dict[str, HospitalInput]]:
    """month → hospital → its sums in ``pool`` (built once per pool and cached on the context)."""
    import polars as pl

    key = (pool, year)
    if key not in ctx.month_cache:
        bm = ctx.agg.by_month.filter((pl.col("pool") == pool) & (pl.col("year") == year))
        out: dict[int, dict[str, HospitalInput]] = {m: {} for m in range(1, 13)}
        for r in bm.iter_rows(named=True):
            out[r["month"]][r["hospital_id"]] = HospitalInput(
                r["hospital_id"], int(r["adj_u"]), int(r["ded_u"]), int(r["selfpay"]), int(r["total_cost"]),
                int(r["cases"]))
        ctx.month_cache[key] = out
    return ctx.month_cache[key]


def _month_rows(ctx: _Context, pool: str, year: int, month: int, budget_fen: int,
                warnings: list[SettlementWarning] | None = None) -> tuple[list[dict], PoolResult]:
    pol = ctx.policy
    scale = pol.points_scale
    reserve = apply_ratio(budget_fen, pol.budget.reserve_ratio)
    by_month = _month_inputs(ctx, pool, year)
    month_in = by_month[month]
    ytd_units = ytd_s = 0
    for m in range(1, month + 1):
        ytd_units += sum(hospital_total(h.adjusted_units, h.deduction_units)[0] for h in by_month[m].values())
        ytd_s += sum(h.self_paid for h in by_month[m].values())
    pp = pol.prepayment
    if pp.provisional_pv == "budget_pace" and ytd_units == 0:
        # no points yet this year: every amount from points is 0 whatever the value; 0 is recorded
        pv = Fraction(0)
        if warnings is not None:
            warnings.append(SettlementWarning(
                "no_points", pool, "pool", f"pool {pool}: no points in {year} through month {month}; the "
                f"provisional point value is recorded as 0 and nothing is prepaid"))
    else:
        pv = provisional_point_value(pp.provisional_pv, month=month, budget_fen=budget_fen, reserve_fen=reserve,
                                     ytd_self_pay=ytd_s, ytd_points_units=ytd_units, scale=scale,
                                     includes_self_pay=pol.budget.point_value_includes_self_pay,
                                     last_year_pv=ctx.last_pv.get(pool), factor=pp.factor)
    rows = monthly_pool(pool, month, list(month_in.values()), pv, pol)
    pres = PoolResult(pool=pool, budget=budget_fen, budget_source="", reserve=reserve, self_pay=ytd_s,
                      distributable=sum(r["entitlement"] for r in rows), total_points_units=ytd_units, point_value=pv,
                      provisional_method=pp.provisional_pv, cases=sum(r["cases"] for r in rows),
                      fund_payments=sum(r["fund_payment"] for r in rows), prepaid=sum(r["prepaid"] for r in rows),
                      reserve_to_hospitals=0, reserve_to_counties=0, reserve_left=reserve,
                      undeducted_units=sum(r["undeducted_units"] for r in rows), scale=scale)
    return rows, pres


def settle_month(priced: str | Path | Sequence[str | Path], hospitals: str | Path | None,
                 budget: str | Path | None, county_income: str | Path | None, policy: Policy | str | Path,
                 period: str, *, ledger: Any = None, out: str | Path | None = None, replace: bool = False,
                 last_year_pv: Any = None, scheme_id: str | None = None) -> SettlementResult:
    """A monthly run (月度预付) for ``period`` = ``"YYYY-MM"`` (SPEC §6, §9).

    The priced files hold the year's cases to date (later months are ignored). Per pool: the provisional
    point value (``prepayment.provisional_pv``), each hospital's month points after deductions, provisional
    fund amount ``F_{h,m}``, prepayment and the part carried to the year end (``balance``), and the
    monitoring warnings of §9. ``county_income`` is read and hashed into the ledger when given, but county
    accounts are annual: a monthly run's ``counties`` frame is empty.
    Same parameters and errors as :func:`settle_year`.
    """
    year, month = parse_period(period)
    period = f"{year:04d}-{month:02d}"
    ctx = _prepare(priced, hospitals, budget, county_income, policy, year, ledger, last_year_pv, "month", period,
                   replace)
    return _month_run(ctx, year, month, budget, out=out, replace=replace, scheme_id=scheme_id)


def settle_months(priced: str | Path | Sequence[str | Path], hospitals: str | Path | None,
                  budget: str | Path | None, county_income: str | Path | None, policy: Policy | str | Path,
                  year: int, *, months: Iterable[int] = range(1, 13), ledger: Any = None,
                  out: str | Path | None = None, replace: bool = False, last_year_pv: Any = None,
                  scheme_id: str | None = None) -> list[SettlementResult]:
    """Several monthly runs of ``year`` from one read of the priced files (the same results, run by run, as
    :func:`settle_month` for each period). Each month is its own run in the ledger (its own transaction);
    ``out`` gets one sub-directory per period (``out/2025-03/``). Periods already in the ledger are refused
    before anything is computed unless ``replace``.
    """
    months = sorted(set(int(m) for m in months))
    periods = [f"{year:04d}-{m:02d}" for m in months]
    for p in periods:
        parse_period(p)
    if ledger is not None and not replace:
        from drg.settlement.ledger import Ledger

        led = ledger if isinstance(ledger, Ledger) else Ledger(ledger)
        done = [p for p in periods if led.has_run("month", p)]
        if done:
            raise InputError(f"month {done[0]} is already in the ledger; use --replace to run it again",
                             file=str(led.path))
        ledger = led
    ctx = _prepare(priced, hospitals, budget, county_income, policy, year, ledger, last_year_pv, "month",
                   periods[0], True)
    return [_month_run(ctx, year, m, budget, out=None if out is None else Path(out) / p, replace=replace,
                       scheme_id=scheme_id) for m, p in zip(months, periods)]


def _month_run(ctx: _Context, year: int, month: int, budget, *, out, replace: bool,
               scheme_id: str | None) -> SettlementResult:
    import polars as pl

    period = f"{year:04d}-{month:02d}"
    pol, agg = ctx.policy, ctx.agg
    pools = sorted(agg.by_month.filter((pl.col("year") == year) & (pl.col("month") <= month))["pool"]
                   .unique().to_list())
    if not pools:
        raise InputError(f"no priced case discharged in {year} up to month {month}", file=", ".join(agg.files))
    warnings: list[SettlementWarning] = []
    if ctx.ledger is not None and ctx.ledger.has_run("year", str(year)):
        warnings.append(SettlementWarning(
            "annual_exists", "all", "pool", f"the annual settlement of {year} is already in the ledger; it used "
            f"the prepayments recorded then — run it again with --replace if this month's prepayments changed"))
    pool_results: dict[str, PoolResult] = {}
    hframes = []
    for pool in pools:
        b, bsrc = _budget_of(ctx, pool, year, budget)
        rows, pres = _month_rows(ctx, pool, year, month, b, warnings)
        pres = _replace(pres, budget_source=bsrc)
        pool_results[pool] = pres
        stats = _hospital_stats(agg, pool, [month], year)
        ytd_stats = _hospital_stats(agg, pool, range(1, month + 1), year)
        hframes.append(_hospital_frame("month", period, pool, rows, pres.point_value, pol.points_scale,
                                       ctx.hospitals, stats))
        warnings += _unknown_hospital_warnings(ctx, pool, [r["hospital_id"] for r in rows])
        for r in rows:
            if r["fund_payment"] < 0:
                warnings.append(SettlementWarning(
                    "negative_month", pool, r["hospital_id"], f"hospital {r['hospital_id']} pool {pool}: provisional "
                    f"fund amount {r['fund_payment']} fen is negative: carried to the year end"))
        warnings += _monitoring("month", pool, month, pres, agg, pol, ctx.last_pv.get(pool),
                                _last_cmi(ctx, pool, year), ytd_stats, b)
    result = SettlementResult(
        kind="month", period=period, year=year, month=month, policy_id=pol.id,
        scheme_id=scheme_id or agg.scheme_id or pol.scheme, pools=pool_results,
        hospitals=_concat(hframes, _HOSPITAL_SCHEMA()), counties=_empty(_COUNTY_SCHEMA()),
        warnings=warnings, inputs=ctx.inputs, aggregates=agg,
        includes_self_pay=pol.budget.point_value_includes_self_pay)
    return _finish(result, ctx, out, replace)
