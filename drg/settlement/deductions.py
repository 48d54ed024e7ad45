"""Every adjudicated violation a settlement run settled, case by case, in the ledger (SPEC §5.2).

A run's hospital totals already net the deductions; this table says which cases they came from and, for a
violation decided in the audit's review queue (``drg audit apply``), which queue row (``violation_ref``, the
priced file's column), so a deduction traces from the hospital's points back to the reviewer's decision::

    deductions   run_id, year, month, pool, hospital_id, case_id, discharge_date, drg, violation,
                 violation_ref, points, adjusted_points, deduction_points

Written by :meth:`drg.settlement.ledger.Ledger.record` in the run's own transaction from the run's priced
files (only the rows with a violation are kept, of the run's year and, for a monthly run, its month, and not
the rows the run could not settle, which are its rejects);
deleted with the run when it is replaced. Points are DECIMAL(18,4) as priced.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["DEDUCTIONS_DDL", "DEDUCTION_TABLES", "record_deductions"]

DEDUCTIONS_DDL = """
CREATE TABLE IF NOT EXISTS deductions (
    run_id VARCHAR NOT NULL, year INTEGER, month INTEGER, pool VARCHAR, hospital_id VARCHAR, case_id VARCHAR,
    discharge_date DATE, drg VARCHAR, violation VARCHAR, violation_ref VARCHAR, points DECIMAL(18,4),
    adjusted_points DECIMAL(18,4), deduction_points DECIMAL(18,4));
"""

#: Tables keyed by run id (deleted with a replaced run).
DEDUCTION_TABLES = ("deductions",)

_COLUMNS = ("case_id", "hospital_id", "insurance_type", "discharge_date", "drg", "violation", "violation_ref",
            "points", "adjusted_points", "deduction_points")


def _violation_rows(path: str, year: int, month: int | None, pooled: bool, skip: frozenset[int] = frozenset()):
    """The rows of a priced file with a violation, discharged in ``year`` (``month``), as a polars frame;
    ``skip`` holds the row numbers (1-based) the run could not settle (its rejects)."""
    import numpy as np
    import polars as pl
    import pyarrow as pa
    import pyarrow.parquet as pq
    from drg.casefile.parquet import parquet_file

    names = pq.read_schema(path).names
    if "violation" not in names:
        return None
    cols = [c for c in _COLUMNS if c in names]
    # the violation column alone first (few values, read as a dictionary); then only the row groups holding a
    # kept row, one at a time, and only those rows: memory is one row group, not the file's ten columns
    f = parquet_file(path, read_dictionary=["violation"])
    keep = np.asarray(f.read(columns=["violation"]).column("violation").is_valid(), dtype=bool)
    if skip:
        rows = np.array(sorted(r for r in skip if 1 <= r <= len(keep)), dtype=np.int64)
        keep[rows - 1] = False
    if not keep.any():
        return None
    parts, first = [], 0
    for rg in range(f.num_row_groups):
        n = f.metadata.row_group(rg).num_rows
        rows = np.flatnonzero(keep[first:first + n])
        if len(rows):
            parts.append(f.read_row_group(rg, columns=cols).take(pa.array(rows)))
        first += n
    table = pa.concat_tables(parts)
    df = pl.from_arrow(table)
    for c in _COLUMNS:
        if c not in df.columns:
            df = df.with_columns(pl.lit(None).alias(c))
    df = df.with_columns(pl.col("discharge_date").cast(pl.Date))
    df = df.filter(pl.col("discharge_date").dt.year() == year)
    if month is not None:
        df = df.filter(pl.col("discharge_date").dt.month() == month)
    pool = pl.col("insurance_type").cast(pl.String) if pooled else pl.lit("all")
    return df.select(pl.lit(year).alias("year"), pl.col("discharge_date").dt.month().cast(pl.Int32).alias("month"),
                     pool.alias("pool"), pl.col("hospital_id").cast(pl.String), pl.col("case_id").cast(pl.String),
                     "discharge_date", pl.col("drg").cast(pl.String), pl.col("violation").cast(pl.String),
                     pl.col("violation_ref").cast(pl.String), pl.col("points").cast(pl.Float64),
                     pl.col("adjusted_points").cast(pl.Float64), pl.col("deduction_points").cast(pl.Float64))


def record_deductions(con: Any, run_id: str, result: Any) -> int:
    """Insert the run's violations (inside the caller's transaction); return how many."""
    import polars as pl

    from drg.settlement.pools import ALL_POOLS

    pooled = list(result.pools) != [ALL_POOLS]
    # the rows the run could not settle (drg.settlement.aggregates: its rejects) are not settled deductions
    skip: dict[str, set[int]] = {}
    rejects = getattr(getattr(result, "aggregates", None), "rejects", None)
    if rejects is not None and rejects.height:
        for file, row in rejects.select("file", "row_number").iter_rows():
            skip.setdefault(str(Path(file).resolve()), set()).add(int(row))
    parts = []
    for f in result.inputs:
        if f.role != "priced":
            continue
        rows = _violation_rows(f.path, result.year, result.month, pooled,
                               frozenset(skip.get(str(Path(f.path).resolve()), ())))
        if rows is not None and rows.height:
            parts.append(rows)
    if not parts:
        return 0
    df = pl.concat(parts, how="vertical_relaxed")
    con.register("d_new", df.to_arrow())
    con.execute("""INSERT INTO deductions SELECT ? AS run_id, year, month, pool, hospital_id, case_id, discharge_date,
                   drg, violation, violation_ref, CAST(points AS DECIMAL(18,4)), CAST(adjusted_points AS DECIMAL(18,4)),
                   CAST(deduction_points AS DECIMAL(18,4)) FROM d_new""", [run_id])
    con.unregister("d_new")
    return df.height
