"""``drg points``: a grouped case file in, a priced case file out (Parquet, zstd), with the hospital
totals beside it; the file is streamed row group by row group while the next is read."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
from drg.errors import InputError
from drg.casefile.tables import read_reviews, read_violations
from drg.policy import Policy, load_policy
from drg.pricing.adjustments import hospital_point_totals
from drg.pricing.weights import Weights, read_grouped, read_weights
from drg.pricing.points import PricedArrays, checked_columns, price_arrays, with_priced_columns

__all__ = ['PRICING_INPUTS', 'STATISTICS_COLUMNS', 'price_file', 'write_priced']


# Columns whose Parquet statistics (min/max) a priced file keeps: the ones a reader filters on. Statistics of
# the other 40-odd columns (lists of codes, texts, floats) cost about a sixth of the write and serve no one.
STATISTICS_COLUMNS = ("case_id", "patient_id", "hospital_id", "insurance_type", "county", "admit_date",
                      "discharge_date", "mdc", "adrg", "drg", "case_class")


PRICING_INPUTS = ("case_id", "patient_id", "hospital_id", "insurance_type", "drg", "adrg", "los", "admit_date",
                  "discharge_date", "total_cost", "fund_paid", "self_paid", "other_paid", "total_cost_fen",
                  "fund_paid_fen", "self_paid_fen", "other_paid_fen")


def price_file(cases: str | Path, tables: str | Path, policy: str | Path | Policy, out: str | Path, *,
               reviews: str | Path | None = None, violations: str | Path | None = None, year: int | None = None,
               engine: str = "numba") -> dict:
    """``drg points``: read grouped cases and the tables of ``drg weights``, price, write Parquet (zstd).

    ``year`` defaults to the policy's ``policy.year``. Also writes ``OUT.hospital_totals.parquet`` beside ``out`` (:func:`hospital_point_totals`). Returns a
    summary dict (cases per class, total points, halved stays, deductions).

    A Parquet input is read twice: first the columns pricing needs (every case at once, since readmission
    pairs stays across the file), then row group by row group with every column, each written out with its
    priced columns while the next is read (:mod:`drg.casefile.background`). The file equals
    ``price_cases(read_grouped(cases), …)`` written as one table.
    """
    import pyarrow.parquet as pq

    from drg.pricing.coefficients import read_coefficients

    totals: list[pa.Table] = []
    pol = policy if isinstance(policy, Policy) else load_policy(policy)
    year = year if year is not None else pol.year
    tables = Path(tables)
    w = read_weights(tables / "weights.parquet")
    c = read_coefficients(tables / "coefficients.parquet")
    rv = read_reviews(reviews) if reviews else None
    vv = read_violations(violations) if violations else None
    out = Path(out)

    def hospital_totals(keys, priced) -> None:    # while the last row groups are written
        totals.append(hospital_point_totals(_totals_input(keys, priced), pol))

    keys, priced = write_priced(cases, w, c, pol, out, reviews=rv, violations=vv, year=year, engine=engine,
                                before_close=hospital_totals)
    totals_path = out.with_name(out.stem + ".hospital_totals.parquet")
    pq.write_table(totals[0], totals_path)
    return priced.summary() | {"hospital_totals": str(totals_path)}


def write_priced(cases: str | Path, weights: Weights, coefficients, policy: Policy, out: str | Path, *,
                 reviews: pa.Table | None = None, violations: pa.Table | None = None, year: int | None = None,
                 engine: str = "numba", readmitted: np.ndarray | None = None,
                 before_close=None) -> tuple[pa.Table, PricedArrays]:
    """Price one grouped-case file with tables already read and write the priced file (the body of
    :func:`price_file`; a partitioned dataset's partitions go through it one by one, with ``readmitted``
    paired across the dataset: :func:`drg.pricing.points.price_arrays`). ``before_close(keys, priced)`` runs
    while the last row groups are written. ``coefficients``: the table, or its
    :class:`drg.pricing.points.CoefficientMatrix`. Returns the pricing columns read and the priced arrays."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    pol = policy
    source = _parquet_source(cases)
    # CSV / Excel, or an empty Parquet file: one table; else the pricing columns now, every column streamed later
    columns = None if source is None else [n for n in PRICING_INPUTS if n in source.schema_arrow.names]
    keys = checked_columns(read_grouped(cases, columns=columns), pol, str(cases))
    priced = price_arrays(keys, weights, coefficients, pol, reviews=reviews, violations=violations, year=year,
                          engine=engine, readmitted=readmitted)
    if source is None:
        rows = [with_priced_columns(keys, priced.columns())]
        schema = rows[0].schema
    else:
        rows, schema = _priced_row_groups(source, keys, priced)
    meta = {**(schema.metadata or {}), b"drg.policy_id": pol.id.encode()}
    if weights.scheme_id:
        meta[b"drg.scheme_id"] = weights.scheme_id.encode()
    with _PricedWriter(out, schema.with_metadata(meta)) as writer:
        for table in rows:
            writer.write(table)
        if before_close is not None:
            before_close(keys, priced)
    return keys, priced


def _parquet_source(cases: str | Path):
    """A :class:`pyarrow.parquet.ParquetFile` for a non-empty Parquet input, else None."""
    import pyarrow.parquet as pq

    path = Path(cases)
    if path.suffix.lower() not in (".parquet", ".pq") or not path.exists():
        return None
    try:
        pf = pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(f"cannot read Parquet: {exc}", file=str(path)) from None
    return pf if pf.metadata.num_rows and pf.num_row_groups else None


def _priced_row_groups(source, keys: pa.Table, priced: PricedArrays):
    """Each row group of ``source`` with every column, the ``*_fen`` columns it lacks and its priced columns
    (read one ahead on a background thread); and the schema of those tables."""
    from drg.casefile.background import prefetch

    names = source.schema_arrow.names
    fen_added = [c for c in keys.column_names if c.endswith("_fen") and c not in names]
    schema = with_priced_columns(_fen_slice(source.schema_arrow.empty_table(), keys, fen_added, 0),
                                  priced.columns(0, 0)).schema

    def tables():
        lo = 0
        for rg in prefetch(source.read_row_group(i) for i in range(source.num_row_groups)):
            hi = lo + rg.num_rows
            yield with_priced_columns(_fen_slice(rg, keys, fen_added, lo), priced.columns(lo, hi))
            lo = hi
        if lo != keys.num_rows:
            raise InputError(f"the file changed while it was read ({keys.num_rows} rows, then {lo})")

    return tables(), schema


def _fen_slice(rg: pa.Table, keys: pa.Table, fen_added: list[str], lo: int) -> pa.Table:
    """``rg`` (rows ``lo…`` of the file) with the ``*_fen`` columns computed in the first pass."""
    for c in fen_added:
        rg = rg.append_column(c, keys.column(c).slice(lo, rg.num_rows))
    return rg


class _PricedWriter:
    """Writes priced tables (zstd; statistics for :data:`STATISTICS_COLUMNS`) on a background thread, at most
    two tables behind; leaving the ``with`` block waits for the last one. The file is written beside ``out``
    as ``OUT.partial`` and takes its name only when complete: an error leaves no half-priced file (and an
    earlier ``out`` untouched)."""

    def __init__(self, out: Path, schema: pa.Schema) -> None:
        import pyarrow.parquet as pq

        from drg.casefile.background import WriteBehind

        self._out = out
        self._partial = out.with_name(out.name + ".partial")
        stats = [c for c in STATISTICS_COLUMNS if c in schema.names]
        self._file = pq.ParquetWriter(self._partial, schema, compression="zstd", write_statistics=stats)
        self._behind = WriteBehind(self._file.write_table)

    def write(self, table: pa.Table) -> None:
        self._behind.write(table)

    def __enter__(self) -> _PricedWriter:
        return self

    def __exit__(self, exc_type, *exc) -> None:
        try:
            try:
                self._behind.close()
            finally:
                self._file.close()
        except BaseException:
            self._partial.unlink(missing_ok=True)
            raise
        if exc_type is not None:
            self._partial.unlink(missing_ok=True)
        else:
            self._partial.replace(self._out)


def _totals_input(keys: pa.Table, priced: PricedArrays) -> pa.Table:
    scale = priced.scale
    cols = {c: keys.column(c) for c in ("hospital_id", "insurance_type") if c in keys.column_names}
    cols |= {"points": pa.array(priced.pts / scale), "adjusted_points": pa.array(priced.adjusted / scale),
             "deduction_points": pa.array(priced.deduction / scale)}
    return pa.table(cols)
