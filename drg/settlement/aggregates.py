"""Priced cases reduced to exact sums (SPEC §0.1): money in int fen (the ``*_fen`` columns made when the
cases were read), points in integer units; the per-hospital views a run reads."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
import numpy as np
from drg.casefile.money import FEN_COLUMNS, with_fen_columns
from drg.errors import InputError
from drg.money import (points_to_units)
from drg.policy import Policy
from drg.settlement.pools import ALL_POOLS
from drg.settlement.records import CaseAggregates, HospitalInput
from grouper.results import has_drg, is_ambiguous

__all__ = ['PRICED_REQUIRED', 'PRICED_OPTIONAL', 'MONITOR_OPTIONAL', 'OUTLIER_CLASSES', 'FINE_KEYS', 'FINE_SUMS',
           'GROUP_STATES', 'read_priced', 'hospital_inputs', 'hospital_stats', 'cmi_of', 'prev_year_cmi', 'prev_year_spending']


#: Columns a priced-case file must have, and the optional ones (absent → 0 / unknown).
PRICED_REQUIRED = ("hospital_id", "insurance_type", "county", "discharge_date", "total_cost", "fund_paid",
                   "self_paid", "adjusted_points")


PRICED_OPTIONAL = ("other_paid", "deduction_points", "case_class", "drg", "base_points")


#: Optional columns read for the monitoring sums (SPEC §9); a file without them gives 0 / unknown.
MONITOR_OPTIONAL = ("points", "los", "discharge_status", "group_status", "cc_level", "adjust_reason", "mdc", "adrg")


OUTLIER_CLASSES = ("high", "low")


#: String columns read as Arrow dictionaries (few distinct values; their rules are evaluated once per value).
_DICTIONARY_COLUMNS = ("drg", "group_status", "adjust_reason")


#: The finest grain of the sums; ``grp`` is the case's group state (:data:`GROUP_STATES`).
FINE_KEYS = ["pool", "hospital_id", "year", "month", "county", "case_class", "drg", "grp"]


#: Exact sums per cell: money in fen, points in units, counts. ``pts_u`` points before §5, ``adj_u`` after
#: readmission and violations, ``ded_u`` deductions; ``w_u`` Σ w_i of the CMI over grouped cases (SPEC §9:
#: base points where the DRG has them, else the points before §5); ``grouped`` grouped cases; ``los`` days;
#: ``deaths`` discharge status 5; ``halved`` readmission-halved stays; ``cc``/``mcc`` cases with a CC or MCC
#: (``cc_level`` ≥ 1 / = 2).
FINE_SUMS = ["cases", "adj_u", "ded_u", "selfpay", "total_cost", "fund_paid", "outlier", "pts_u", "w_u", "grouped",
             "los", "deaths", "halved", "cc", "mcc"]

#: ``grp`` codes: grouped (status ok and a DRG), ungroupable (no DRG, or a status that is not ok), ambiguous
#: (an ``xQY`` group of CHS-DRG 2.0).
GROUP_STATES = ("grouped", "ungroupable", "ambiguous")


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
        as_dict = [c for c in _DICTIONARY_COLUMNS if c in pf.schema_arrow.names]
        if as_dict:
            pf = pq.ParquetFile(path, read_dictionary=as_dict)
        md = pf.schema_arrow.metadata or {}
        if scheme_id is None and md.get(b"drg.scheme_id"):
            scheme_id = md[b"drg.scheme_id"].decode() or None
        names = pf.schema_arrow.names
        for c in PRICED_REQUIRED:
            if c not in names:
                raise InputError(f"priced cases: missing column {c}", file=file, field=c)
        cols = list(PRICED_REQUIRED) + [c for c in (*PRICED_OPTIONAL, *MONITOR_OPTIONAL, *FEN_COLUMNS) if c in names]
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
            bpu = np.zeros(n, np.int64)
            has = np.zeros(n, bool)
            if "base_points" in t.column_names:
                bp = t.column("base_points").cast(pa.float64()).to_numpy(zero_copy_only=False)
                has = ~np.isnan(bp)
                if has.any():
                    bpu[has] = points_to_units(bp[has], scale, what="base_points", file=file)
            df = df.with_columns(_monitor_columns(t, df, bpu, has, scale, file))
            first += n
            pool = pl.col("insurance_type") if policy.pools_by_insurance_type else pl.lit(ALL_POOLS)
            df = df.with_columns(pool.alias("pool"), pl.col("discharge_date").dt.year().cast(pl.Int32).alias("year"),
                                 pl.col("discharge_date").dt.month().cast(pl.Int32).alias("month"),
                                 pl.col("case_class").is_in(OUTLIER_CLASSES).cast(pl.Int64).alias("outlier"))
            keep = df.filter(pl.col("year").is_in([year - 1, year]))
            rows_other += df.height - keep.height
            # one group-by per batch at the finest grain; the four views are derived from it at the end
            parts.append(keep.group_by(FINE_KEYS).agg(
                pl.len().cast(pl.Int64).alias("cases"), *[pl.col(c).sum() for c in FINE_SUMS[1:]],
                pl.col("mdc").first(), pl.col("adrg").first()))

    if not parts:
        raise InputError(f"no priced case discharged in {year}", file=", ".join(files))
    fine = pl.concat(parts).group_by(FINE_KEYS).agg([pl.col(c).sum() for c in FINE_SUMS] +
                                                    [pl.col("mdc").first(), pl.col("adrg").first()])
    cur = fine.filter(pl.col("year") == year)

    def view(df, keys, sums):
        return df.group_by(keys).agg([pl.col(c).sum() for c in sums]).sort(keys)

    by_month = view(fine, ["pool", "hospital_id", "year", "month"], FINE_SUMS).rename({"outlier": "outliers"})
    if by_month.filter(pl.col("year") == year).height == 0:
        raise InputError(f"no priced case discharged in {year}", file=", ".join(files))
    return CaseAggregates(
        year=year, scale=scale, by_month=by_month,
        by_county=view(cur, ["pool", "hospital_id", "county", "month"], ["cases", "adj_u", "selfpay"]),
        by_class=view(cur, ["pool", "hospital_id", "month", "case_class"], ["cases", "adj_u", "total_cost"]),
        by_drg=view(cur, ["pool", "hospital_id", "month", "drg"], ["cases", "adj_u", "total_cost"]),
        fine=fine.sort(FINE_KEYS), files=files, scheme_id=scheme_id, rows_read=rows_read, rows_other_years=rows_other)


def _flags(column, rule) -> np.ndarray:
    """``rule(value)`` for every value of a string column, evaluated once per distinct value (the column's
    dictionary: read as one from Parquet, or encoded here)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if not pa.types.is_dictionary(arr.type):
        arr = pc.dictionary_encode(arr)
    values = arr.dictionary.to_pylist()
    table = np.array([bool(rule(v.strip() if isinstance(v, str) else v)) for v in values] + [bool(rule(None))])
    idx = np.asarray(arr.indices.fill_null(len(values)), np.int64)
    return table[idx]


def _monitor_columns(t, df, bpu: np.ndarray, has_bp: np.ndarray, scale: int, file: str) -> list:
    """The per-case columns of the monitoring sums (SPEC §9) for one batch: the group state ``grp``, points
    before §5, the CMI weight of a grouped case, LOS, deaths, halved stays, CC/MCC, MDC and ADRG."""
    import polars as pl
    import pyarrow as pa

    n = t.num_rows
    names = t.column_names
    if "drg" in names:
        has = _flags(t.column("drg"), has_drg)
        ambiguous = _flags(t.column("drg"), is_ambiguous)
    else:
        has = ambiguous = np.zeros(n, bool)
    grouped = has & _flags(t.column("group_status"), lambda v: v == "ok") if "group_status" in names else has
    if "points" in names:
        pts = t.column("points").cast(pa.float64()).to_numpy(zero_copy_only=False)
        pts_u = points_to_units(np.nan_to_num(pts), scale, what="points", file=file)
    else:
        pts_u = df["adj_u"].to_numpy()
    w = np.where(has_bp, bpu, pts_u)

    def ints(name: str, fill: int = 0) -> np.ndarray:
        if name not in names:
            return np.full(n, fill, np.int64)
        return np.asarray(t.column(name).cast(pa.int64()).fill_null(fill), np.int64)

    cc = ints("cc_level")
    halved = (_flags(t.column("adjust_reason"), lambda v: v is not None and v.startswith("readmission"))
              if "adjust_reason" in names else np.zeros(n, bool))

    def text(name: str):
        return (pl.Series(name, t.column(name).cast(pa.string())).fill_null("") if name in names
                else pl.Series(name, [""] * n, pl.String))

    return [pl.Series("grp", np.where(grouped, 0, np.where(ambiguous, 2, 1)).astype(np.int8)),
            pl.Series("pts_u", pts_u, pl.Int64),
            pl.Series("w_u", np.where(grouped, w, 0).astype(np.int64)),
            pl.Series("grouped", grouped.astype(np.int64)),
            pl.Series("los", ints("los")), pl.Series("deaths", (ints("discharge_status", -1) == 5).astype(np.int64)),
            pl.Series("halved", halved.astype(np.int64)), pl.Series("cc", (cc >= 1).astype(np.int64)),
            pl.Series("mcc", (cc == 2).astype(np.int64)), text("mdc"), text("adrg")]


def hospital_inputs(agg: CaseAggregates, pool: str, months: Iterable[int], year: int) -> dict[str, HospitalInput]:
    import polars as pl

    bm = agg.by_month.filter((pl.col("pool") == pool) & (pl.col("year") == year) & pl.col("month").is_in(list(months)))
    g = bm.group_by("hospital_id").agg(pl.col("adj_u").sum(), pl.col("ded_u").sum(), pl.col("selfpay").sum(),
                                       pl.col("total_cost").sum(), pl.col("cases").sum())
    return {r["hospital_id"]: HospitalInput(r["hospital_id"], int(r["adj_u"]), int(r["ded_u"]), int(r["selfpay"]),
                                            int(r["total_cost"]), int(r["cases"]))
            for r in g.iter_rows(named=True)}


def hospital_stats(agg: CaseAggregates, pool: str, months: Iterable[int], year: int) -> dict[str, dict]:
    """CMI (SPEC §9: Σ w_i / grouped cases, :func:`cmi_of`) and outlier share per hospital."""
    import polars as pl

    bm = agg.by_month.filter((pl.col("pool") == pool) & (pl.col("year") == year) & pl.col("month").is_in(list(months)))
    g = bm.group_by("hospital_id").agg(pl.col("cases").sum(), pl.col("outliers").sum(), pl.col("w_u").sum(),
                                       pl.col("grouped").sum())
    out = {}
    for r in g.iter_rows(named=True):
        cmi = cmi_of(r["w_u"], r["grouped"], agg.scale)
        out[r["hospital_id"]] = {"cmi": cmi, "outlier_share": round(r["outliers"] / r["cases"], 4) if r["cases"]
                                 else None, "cases": r["cases"], "outliers": r["outliers"]}
    return out


def prev_year_cmi(agg: CaseAggregates, pool: str) -> dict[str, float]:
    import polars as pl

    prev = agg.by_month.filter((pl.col("pool") == pool) & (pl.col("year") == agg.year - 1))
    g = prev.group_by("hospital_id").agg(pl.col("w_u").sum(), pl.col("grouped").sum())
    return {r["hospital_id"]: cmi_of(r["w_u"], r["grouped"], agg.scale)
            for r in g.iter_rows(named=True) if r["grouped"]}


def cmi_of(w_units: int, grouped: int, scale: int) -> float | None:
    """CMI (SPEC §9) = Σ w_i / grouped cases, w_i in point units (``w = BP / 100``), rounded to 4 decimals;
    None without a grouped case."""
    return round(w_units / scale / 100 / grouped, 4) if grouped else None


def prev_year_spending(agg: CaseAggregates, pool: str) -> int | None:
    import polars as pl

    prev = agg.by_month.filter((pl.col("pool") == pool) & (pl.col("year") == agg.year - 1))
    return int(prev["fund_paid"].sum()) if prev.height else None
