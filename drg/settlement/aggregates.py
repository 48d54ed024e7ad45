"""Priced cases reduced to exact sums (SPEC §0.1): money in int fen (the ``*_fen`` columns made when the
cases were read), points in integer units; the per-hospital views a run reads."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from drg.casefile.money import FEN_COLUMNS, with_fen_columns
from drg.errors import InputError
from drg.money import (points_to_units)
from drg.policy import Policy
from drg.settlement.pools import ALL_POOLS
from drg.settlement.records import CaseAggregates, HospitalInput

__all__ = ['PRICED_REQUIRED', 'PRICED_OPTIONAL', 'OUTLIER_CLASSES', 'FINE_KEYS', 'FINE_SUMS', 'VIEWS', 'PricedSums', 'aggregates_of', 'priced_sums', 'read_priced', 'hospital_inputs', 'hospital_stats', 'prev_year_cmi', 'prev_year_spending']


#: Columns a priced-case file must have, and the optional ones (absent → 0 / unknown).
PRICED_REQUIRED = ("hospital_id", "insurance_type", "county", "discharge_date", "total_cost", "fund_paid",
                   "self_paid", "adjusted_points")


PRICED_OPTIONAL = ("other_paid", "deduction_points", "case_class", "drg", "base_points")


OUTLIER_CLASSES = ("high", "low")


FINE_KEYS = ["pool", "hospital_id", "year", "month", "county", "case_class", "drg"]


FINE_SUMS = ["cases", "adj_u", "ded_u", "selfpay", "total_cost", "fund_paid", "outlier", "bp_u", "bp_n"]


def read_priced(paths: str | Path | Sequence[str | Path], year: int, policy: Policy, *,
                batch_rows: int = 1 << 20) -> CaseAggregates:
    """Stream priced-case Parquet files and reduce them to exact per-hospital sums for ``year``.

    Cases are placed by discharge date (SPEC §0.1); cases of ``year − 1`` are kept in ``by_month`` only (for
    last year's CMI and fund spending); other years are counted and skipped. Money is the ``*_fen`` columns
    made when the cases were read (converted here by :func:`drg.casefile.money.with_fen_columns` only for a
    file without them); points are turned into integer units (an error if a value has more decimals than
    ``points_decimals``).

    The files are reduced by :func:`priced_sums` and the views built by :func:`aggregates_of`; a partitioned
    dataset takes the same steps, each partition's sums added up as a tree (:meth:`PricedSums.combine`,
    :mod:`drg.distributed.settlement`).
    """
    return aggregates_of(priced_sums(paths, year, policy, batch_rows=batch_rows), year, policy)


#: The views a settlement run reads: keys, sums, and whether they keep ``year − 1`` (only by_month does).
VIEWS = {"by_month": (["pool", "hospital_id", "year", "month"], FINE_SUMS, True),
         "by_county": (["pool", "hospital_id", "county", "month"], ["cases", "adj_u", "selfpay"], False),
         "by_class": (["pool", "hospital_id", "month", "case_class"], ["cases", "adj_u", "total_cost"], False),
         "by_drg": (["pool", "hospital_id", "month", "drg"], ["cases", "adj_u", "total_cost"], False)}


@dataclass
class PricedSums:
    """Priced cases reduced to the exact sums of each view of :data:`VIEWS` (polars frames, unsorted; None
    before any case), with the files they came from, their scheme id and row counts. Sums of different files
    add up view by view: :meth:`combine` (a dataset's partitions, as a tree)."""

    views: dict | None
    files: list[str]
    scheme_id: str | None
    rows_read: int
    rows_other_years: int

    @classmethod
    def combine(cls, parts: Sequence[PricedSums], *, disjoint: bool = False) -> PricedSums:
        """The sums of ``parts`` added up key by key (files in the order given); ``disjoint``: no key is in two
        parts (sums of different hospitals), so the views are only put together."""
        import polars as pl

        with_views = [p.views for p in parts if p.views is not None]
        views = None
        if len(with_views) == 1:
            views = with_views[0]
        elif with_views:
            views = {name: (pl.concat([v[name] for v in with_views]) if disjoint else
                            pl.concat([v[name] for v in with_views]).group_by(keys).agg([pl.col(c).sum()
                                                                                        for c in sums]))
                     for name, (keys, sums, _) in VIEWS.items()}
        return cls(views, [f for p in parts for f in p.files], next((p.scheme_id for p in parts if p.scheme_id), None),
                   sum(p.rows_read for p in parts), sum(p.rows_other_years for p in parts))


def priced_sums(paths: str | Path | Sequence[str | Path], year: int, policy: Policy, *,
                batch_rows: int = 1 << 20) -> PricedSums:
    """Priced-case files reduced to :class:`PricedSums` for ``year`` (and ``year − 1``), batch by batch."""
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
            parts.append(keep.group_by(FINE_KEYS).agg(
                pl.len().cast(pl.Int64).alias("cases"), *[pl.col(c).sum() for c in FINE_SUMS[1:]]))

    views = None
    if parts:
        fine = pl.concat(parts).group_by(FINE_KEYS).agg([pl.col(c).sum() for c in FINE_SUMS])
        cur = fine.filter(pl.col("year") == year)
        views = {name: (fine if both_years else cur).group_by(keys).agg([pl.col(c).sum() for c in sums])
                 for name, (keys, sums, both_years) in VIEWS.items()}
    return PricedSums(views, files, scheme_id, rows_read, rows_other)


def aggregates_of(sums: PricedSums, year: int, policy: Policy) -> CaseAggregates:
    """The views a settlement run reads (:class:`CaseAggregates`) from the sums of every priced file."""
    import polars as pl

    scale, files = policy.points_scale, sums.files
    if sums.views is None:
        raise InputError(f"no priced case discharged in {year}", file=", ".join(files))
    view = {name: sums.views[name].sort(keys) for name, (keys, _, _) in VIEWS.items()}
    by_month = view["by_month"].rename({"outlier": "outliers"})
    if by_month.filter(pl.col("year") == year).height == 0:
        raise InputError(f"no priced case discharged in {year}", file=", ".join(files))
    return CaseAggregates(
        year=year, scale=scale, by_month=by_month, by_county=view["by_county"], by_class=view["by_class"],
        by_drg=view["by_drg"], files=files, scheme_id=sums.scheme_id, rows_read=sums.rows_read,
        rows_other_years=sums.rows_other_years)


def hospital_inputs(agg: CaseAggregates, pool: str, months: Iterable[int], year: int) -> dict[str, HospitalInput]:
    import polars as pl

    bm = agg.by_month.filter((pl.col("pool") == pool) & (pl.col("year") == year) & pl.col("month").is_in(list(months)))
    g = bm.group_by("hospital_id").agg(pl.col("adj_u").sum(), pl.col("ded_u").sum(), pl.col("selfpay").sum(),
                                       pl.col("total_cost").sum(), pl.col("cases").sum())
    return {r["hospital_id"]: HospitalInput(r["hospital_id"], int(r["adj_u"]), int(r["ded_u"]), int(r["selfpay"]),
                                            int(r["total_cost"]), int(r["cases"]))
            for r in g.iter_rows(named=True)}


def hospital_stats(agg: CaseAggregates, pool: str, months: Iterable[int], year: int) -> dict[str, dict]:
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


def prev_year_cmi(agg: CaseAggregates, pool: str) -> dict[str, float]:
    import polars as pl

    prev = agg.by_month.filter((pl.col("pool") == pool) & (pl.col("year") == agg.year - 1))
    g = prev.group_by("hospital_id").agg(pl.col("bp_u").sum(), pl.col("bp_n").sum())
    return {r["hospital_id"]: round(r["bp_u"] / agg.scale / 100 / r["bp_n"], 4)
            for r in g.iter_rows(named=True) if r["bp_n"]}


def prev_year_spending(agg: CaseAggregates, pool: str) -> int | None:
    import polars as pl

    prev = agg.by_month.filter((pl.col("pool") == pool) & (pl.col("year") == agg.year - 1))
    return int(prev["fund_paid"].sum()) if prev.height else None
