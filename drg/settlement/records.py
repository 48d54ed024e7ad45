"""What a settlement run produces: its records (pool figures, warnings, inputs, the run itself) and the
per-hospital and per-county frames with their schemas (``hospitals.parquet``, ``counties.parquet``)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any
from drg.money import (fraction_text, pv_yuan, round_half_away, units_to_decimal)

__all__ = ['HOSPITAL_COLUMNS', 'COUNTY_COLUMNS', 'CONTRACT_FEN_COLUMNS', 'fen_columns', 'write_frame', 'InputFile', 'SettlementWarning', 'PoolResult', 'CaseAggregates', 'SettlementResult', 'SummedPriced', 'HospitalInput', 'hospital_frame', 'hospital_schema', 'county_schema', 'empty_frame', 'concat_frames', 'county_frame']


#: Columns of ``hospitals.parquet`` and the ledger's ``hospital_results``: money int64 fen — the contract's
#: settlement columns under their contract names, every other fen column ending in ``_fen`` — points
#: decimal(18,4), the point value in yuan per point decimal(18,4) and exact (``num/den`` fen per point).
HOSPITAL_COLUMNS = ("kind", "period", "pool", "hospital_id", "name", "cases", "points", "undeducted_points",
                    "entitlement", "self_paid", "fund_payment", "prepaid", "balance", "reserve_share",
                    "total_cost_fen", "loss_fen", "cmi", "outlier_share", "point_value", "point_value_exact")


#: Columns of ``counties.parquet`` and the ledger's ``county_results`` (money int64 fen, as above).
COUNTY_COLUMNS = ("kind", "period", "pool", "county", "q_points", "share_fen", "self_paid_fen", "income",
                  "drg_spending", "other_spending", "balance", "gap_claim_fen", "city_share", "county_share")

#: The contract's settlement columns (CONTRACT.md, "Settlement"): integer fen under these names.
CONTRACT_FEN_COLUMNS = frozenset({"entitlement", "self_paid", "fund_payment", "prepaid", "balance",
                                  "reserve_share", "income", "drg_spending", "other_spending", "city_share",
                                  "county_share"})


def fen_columns(columns) -> list[str]:
    """The columns among ``columns`` that hold integer fen (contract names and ``*_fen``)."""
    return [c for c in columns if c in CONTRACT_FEN_COLUMNS or c.endswith("_fen")]


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

    ``by_month``: pool, hospital_id, year, month and the sums of
    :data:`drg.settlement.aggregates.FINE_SUMS` (``outlier`` named ``outliers``; year is the settlement year or
    the one before, for CMI and budget growth).
    ``by_county``: pool, hospital_id, county, month, cases, adj_u, selfpay.
    ``by_class``: pool, hospital_id, month, case_class, cases, adj_u, total_cost.
    ``by_drg``: pool, hospital_id, month, drg, cases, adj_u, total_cost (the text keys as polars enums in the
    strings' order, as in ``fine``: a row per hospital, month and DRG).
    ``fine``: every sum at the finest grain (:data:`drg.settlement.aggregates.FINE_KEYS`, with the ``mdc`` and
    ``adrg`` of each DRG), both years, sorted by its keys: what the ledger keeps for monitoring (SPEC §9). Its
    text columns are polars enums whose categories are in the strings' order (no string per cell;
    :func:`drg.settlement.aggregates.as_strings` makes them strings).
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
    fine: Any = None
    #: the priced rows this stage cannot settle (file, row_number, reject_reason, reject_detail,
    #: total_cost_fen, fund_paid_fen); left out of the run, recorded with it in the ledger
    rejects: Any = None


@dataclass(frozen=True)
class SummedPriced:
    """Priced cases already reduced to :class:`CaseAggregates` elsewhere — a partitioned dataset summed on
    a cluster (:mod:`drg.distributed.settlement`) — with the ledger records (role, path, sha256, size) of the
    files they came from. The settlement runs take it in place of the priced files."""

    aggregates: CaseAggregates
    inputs: tuple[InputFile, ...]

    def __iter__(self):
        """The priced files' paths (what the reports that read cases, such as statements, take)."""
        return iter([Path(i.path) for i in self.inputs])

    def aggregates_for(self, year: int) -> CaseAggregates:
        if self.aggregates.year != year:
            raise ValueError(f"the priced cases were summed for {self.aggregates.year}, not {year}")
        return self.aggregates


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
    #: What the ledger keeps for monitoring beside the sums: ``hospitals`` (id → name, tier, county, from the
    #: hospitals table) and ``county_income`` ((year, insurance type, county) → (income, other spending) fen).
    monitoring: dict = field(default_factory=dict)
    #: the statements written with the run (``statements``: paths; ``city_summary``, ``chart`` …)
    statement_files: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict:
        """A JSON-able summary: money in integer fen (keys ending ``_fen``), points and point values as
        exact decimal text (yuan per point), the exact point value as ``num/den`` fen per point."""
        return {
            "kind": self.kind, "period": self.period, "policy_id": self.policy_id, "scheme_id": self.scheme_id,
            "run_id": self.run_id, "prepaid_source": self.prepaid_source,
            "pools": {k: {"budget_fen": p.budget, "budget_source": p.budget_source, "reserve_fen": p.reserve,
                          "self_pay_fen": p.self_pay, "distributable_fen": p.distributable,
                          "total_points": str(units_to_decimal(p.total_points_units, p.scale)),
                          "point_value_yuan": str(p.point_value_yuan),
                          "point_value_exact_fen": fraction_text(p.point_value),
                          "provisional_method": p.provisional_method, "cases": p.cases,
                          "fund_payments_fen": p.fund_payments, "prepaid_fen": p.prepaid,
                          "reserve_to_hospitals_fen": p.reserve_to_hospitals,
                          "reserve_to_counties_fen": p.reserve_to_counties, "reserve_left_fen": p.reserve_left}
                      for k, p in self.pools.items()},
            "hospitals": self.hospitals.height, "counties": self.counties.height,
            "warnings": [w.message for w in self.warnings], "out_files": self.out_files,
        }


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


# ----------------------------------------------------------------------------------------------- frames
def hospital_frame(kind: str, period: str, pool: str, rows: list[dict], pv: Fraction, scale: int,
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
                    "total_cost_fen": r["total_cost"], "loss_fen": r["loss"], "cmi": st.get("cmi"),
                    "outlier_share": st.get("outlier_share"), "point_value": pvd, "point_value_exact": pvx})
    return pl.DataFrame(out, schema=hospital_schema(), orient="row") if out else empty_frame(hospital_schema())


def hospital_schema():  # noqa: N802 - a schema constant built lazily (polars imported inside)
    import polars as pl

    s = {"kind": pl.String, "period": pl.String, "pool": pl.String, "hospital_id": pl.String, "name": pl.String,
         "cases": pl.Int64, "points": pl.Decimal(18, 4), "undeducted_points": pl.Decimal(18, 4)}
    s.update({c: pl.Int64 for c in ("entitlement", "self_paid", "fund_payment", "prepaid", "balance",
                                     "reserve_share", "total_cost_fen", "loss_fen")})
    s.update({"cmi": pl.Float64, "outlier_share": pl.Float64, "point_value": pl.Decimal(18, 4),
              "point_value_exact": pl.String})
    return s


def county_schema():  # noqa: N802
    import polars as pl

    s = {"kind": pl.String, "period": pl.String, "pool": pl.String, "county": pl.String,
         "q_points": pl.Decimal(18, 4)}
    s.update({c: pl.Int64 for c in COUNTY_COLUMNS[5:]})
    return s


def empty_frame(schema):
    import polars as pl

    return pl.DataFrame(schema=schema)


def concat_frames(frames, schema):
    import polars as pl

    frames = [f for f in frames if f.height]
    return pl.concat(frames) if frames else empty_frame(schema)


def county_frame(kind, period, pool, accounts, scale):
    import polars as pl

    rows = [{"kind": kind, "period": period, "pool": pool, "county": a.county,
             "q_points": units_to_decimal(round_half_away(a.q_units), scale),
             "share_fen": a.share, "self_paid_fen": a.self_paid, "income": a.income,
             "drg_spending": a.drg_spending, "other_spending": a.other_spending, "balance": a.balance,
             "gap_claim_fen": a.claim,
             "city_share": a.city_share, "county_share": a.county_share} for a in accounts]
    return pl.DataFrame(rows, schema=county_schema(), orient="row") if rows else empty_frame(county_schema())


_UNITS = {"points": "point", "undeducted_points": "point", "q_points": "point", "point_value": "yuan/point",
          "point_value_exact": "fen/point (exact num/den)"}


def write_frame(frame, path: str | Path) -> None:
    """Write a settlement frame to Parquet with each column's unit in its field metadata: ``unit: fen`` on
    every money column (contract names and ``*_fen``), ``point`` on points, ``yuan/point`` on the point
    value."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = frame.to_arrow()
    money = set(fen_columns(table.column_names))
    fields = []
    for f in table.schema:
        unit = "fen" if f.name in money else _UNITS.get(f.name)
        fields.append(f.with_metadata({"unit": unit}) if unit else f)
    pq.write_table(table.cast(pa.schema(fields, metadata=table.schema.metadata)), path)
