"""``drg points``: a grouped case file in, a priced case file out (Parquet, zstd), with the hospital
totals beside it; the file is streamed row group by row group while the next is read."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
from drg.errors import InputError
from drg.casefile.tables import read_reviews, read_violations
from drg.policy import Policy, load_policy
from drg.pricing.adjustments import totals_of_point_sums
from drg.pricing.weights import Weights, grouped_scheme_id, read_grouped, read_weights
from drg.pricing.columns import filled
from drg.pricing.points import PricedArrays, checked_columns, price_arrays, with_priced_columns

__all__ = ['DICTIONARY_INPUTS', 'PRICING_INPUTS', 'STATISTICS_COLUMNS', 'point_sums_of', 'price_file', 'pricing_columns',
           'write_priced']


# Columns whose Parquet statistics (min/max) a priced file keeps: the ones a reader filters on. Statistics of
# the other 40-odd columns (lists of codes, texts, floats) cost about a sixth of the write and serve no one.
STATISTICS_COLUMNS = ("case_id", "patient_id", "hospital_id", "insurance_type", "county", "admit_date",
                      "discharge_date", "mdc", "adrg", "drg", "case_class")


PRICING_INPUTS = ("case_id", "patient_id", "hospital_id", "insurance_type", "drg", "adrg", "los", "admit_date",
                  "discharge_date", "total_cost", "fund_paid", "self_paid", "other_paid", "total_cost_fen",
                  "fund_paid_fen", "self_paid_fen", "other_paid_fen")


def price_file(cases: str | Path, tables: str | Path, policy: str | Path | Policy, out: str | Path, *,
               reviews: str | Path | None = None, violations: str | Path | None = None, year: int | None = None,
               engine: str = "numba", rejects: str | Path | None = None) -> dict:
    """``drg points``: read grouped cases and the tables of ``drg weights``, price, write Parquet (zstd).

    ``year`` defaults to the policy's ``policy.year``. Also writes ``OUT.hospital_totals.parquet`` beside ``out`` (:func:`hospital_point_totals`). Returns a
    summary dict (cases per class, total points, halved stays, deductions).

    A Parquet input is read twice: first the columns pricing needs (every case at once, since readmission
    pairs stays across the file), then row group by row group with every column, each written out with its
    priced columns while the next is read (:mod:`drg.casefile.background`). The file equals
    ``price_cases(read_grouped(cases), …)`` written as one table.

    A row that cannot be priced (no case id, hospital, length of stay or discharge date; money missing, not a
    number, negative or out of range; a date outside 1900–2099; a case id an earlier row had) is a reject
    of this stage: left out of the priced file, written to ``rejects`` (the row as read, its row number and
    reason) and counted, so that ``read = cases + rejected``.
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
        totals.append(totals_of_point_sums(point_sums_of(keys, priced, pol), pol))

    keys, priced, n_read = write_priced(cases, w, c, pol, out, reviews=rv, violations=vv, year=year, engine=engine,
                                        rejects=rejects, tables=tables, before_close=hospital_totals)
    n_rejected = n_read - keys.num_rows
    totals_path = out.with_name(out.stem + ".hospital_totals.parquet")
    from drg.outputs import atomic_path

    with atomic_path(totals_path) as tmp:
        pq.write_table(totals[0], tmp)
    return priced.summary() | {"read": n_read, "rejected": n_rejected, "hospital_totals": str(totals_path)} | (
        {"rejects_file": str(rejects)} if rejects is not None else {})


def write_priced(cases: str | Path, weights: Weights, coefficients, policy: Policy, out: str | Path, *,
                 reviews: pa.Table | None = None, violations: pa.Table | None = None, year: int | None = None,
                 engine: str = "numba", readmitted: np.ndarray | None = None, rejects: str | Path | None = None,
                 tables: str | Path | None = None, before_close=None) -> tuple[pa.Table, PricedArrays, int]:
    """Price one grouped-case file with tables already read and write the priced file and its rejects (the
    body of :func:`price_file`; a partitioned dataset's partitions go through it one by one, with
    ``readmitted`` — one flag per row of the file — paired across the dataset: :func:`drg.pricing.points.
    price_arrays`). ``tables``: the directory the weights came from, to check the cases, the weights and the
    policy name one scheme (no check without it). ``before_close(keys, priced)`` runs while the last row
    groups are written. ``coefficients``: the table, or its :class:`drg.pricing.points.CoefficientMatrix`.
    Returns the pricing columns of the rows priced, the priced arrays and the number of rows read."""
    from drg.casefile.rejects import RejectWriter

    pol = policy
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    source = _parquet_source(cases)
    if tables is not None:
        _check_schemes(weights, pol, str(cases), str(tables))
    # CSV / Excel, or an empty Parquet file: one table; else the pricing columns now, every column streamed later
    reject_writer = RejectWriter(rejects)
    keep = None
    if source is None and Path(cases).suffix.lower() not in (".parquet", ".pq"):
        keys, n_read = _read_text_grouped(cases, pol, reject_writer)
    elif source is None:   # an empty Parquet file
        keys = read_grouped(cases)
        n_read = keys.num_rows
    else:
        columns = pricing_columns(source.schema_arrow.names)
        raw = read_grouped_raw(cases, columns)
        checked_columns(raw.slice(0, 0), pol, str(cases))    # (the columns pricing needs are there)
        n_read = raw.num_rows
        keep, reasons, details = unpriceable(raw)
        # money other than the total cost is only checked here: the file's own fen columns are read again with
        # every column when written (0.24 GB at 10 M cases not held while pricing)
        raw = raw.drop_columns([c for c in ("fund_paid_fen", "self_paid_fen", "other_paid_fen")
                                if c in raw.column_names and c in source.schema_arrow.names])
        keys = raw if keep is None else raw.filter(pa.array(keep))
    if readmitted is not None:
        if len(readmitted) != n_read:
            raise InputError(f"the file changed while it was read ({len(readmitted)} rows paired, then {n_read})",
                             file=str(cases))
        readmitted = readmitted if keep is None else readmitted[keep]
    keys = checked_columns(keys, pol, str(cases))
    case_ids = None
    if source is not None and reviews is None and violations is None and pol.readmission.enabled:
        # no review or violation to match: the ids (0.17 GB at 10 M cases) are let go, and read again from the
        # file only for the stays whose dates tie
        keys = keys.drop_columns(["case_id"])
        del raw
        case_ids = _ids_reader(source, keep, str(cases))
    if "total_cost_fen" in keys.column_names and keys.column("total_cost_fen").num_chunks > 1:
        # one chunk: pricing's numpy view of the costs is then this column, not a copy of it beside the file's
        # chunks (80 MB fewer at the peak of pricing, 10 M cases)
        at = keys.column_names.index("total_cost_fen")
        keys = keys.set_column(at, "total_cost_fen", keys.column(at).combine_chunks())
    priced = price_arrays(keys, weights, coefficients, pol, reviews=reviews, violations=violations, year=year,
                          engine=engine, readmitted=readmitted, case_ids=case_ids)
    with reject_writer:
        if source is None:
            rows = [with_priced_columns(keys, priced.columns())]
            schema = rows[0].schema
        else:
            # the first pass is let go before writing: each row group is read again with every column (its
            # pricing columns are ~1.5 GB at 10 M cases; reading them again costs ~0.15 s a million), and only
            # what the writing and the hospital totals still need is kept of them
            later = [c for c in ("hospital_id", "insurance_type") if c in keys.column_names] + [
                c for c in keys.column_names if c.endswith("_fen") and c not in source.schema_arrow.names]
            keys = keys.select(later)
            raw = None
            rows, schema = _priced_row_groups(source, keys, priced, keep,
                                              None if keep is None else (reasons, details, reject_writer),
                                              path=str(cases))
        meta = {**(schema.metadata or {}), b"drg.policy_id": pol.id.encode()}
        if weights.scheme_id:
            meta[b"drg.scheme_id"] = weights.scheme_id.encode()
        with _PricedWriter(out, schema.with_metadata(meta)) as writer:
            for table in rows:
                writer.write(table)
            if before_close is not None:
                before_close(keys, priced)
    n_rejected = n_read - keys.num_rows
    if reject_writer.count != n_rejected:  # pragma: no cover - guarded by construction
        raise AssertionError(f"rows lost pricing {cases}: read {n_read}, priced {keys.num_rows}, rejected "
                             f"{reject_writer.count}")
    return keys, priced, n_read


def _ids_reader(source, keep: np.ndarray | None, path: str):
    """A function giving the case ids (strings) of rows of the priced cases (``keep``: the file's rows that
    are priced, None for all), read from the file's row groups that hold them."""
    sizes = [source.metadata.row_group(i).num_rows for i in range(source.num_row_groups)]
    starts = np.cumsum([0] + sizes)
    file_rows = np.flatnonzero(keep) if keep is not None else None

    def case_ids(rows: np.ndarray) -> pa.ChunkedArray:
        at = np.asarray(rows, np.int64) if file_rows is None else file_rows[rows]
        order = np.argsort(at, kind="stable")
        at = at[order]
        group = np.searchsorted(starts, at, side="right") - 1
        parts = [_row_group(source, int(g), path, ["case_id"]).take(pa.array(at[group == g] - starts[g]))
                 for g in np.unique(group)]
        if not parts:
            return pa.chunked_array([], pa.string())
        back = np.empty(len(order), np.int64)
        back[order] = np.arange(len(order))
        return pa.concat_tables(parts).column("case_id").cast(pa.string()).take(pa.array(back))

    return case_ids


def pricing_columns(names: list[str]) -> list[str]:
    """The columns of :data:`PRICING_INPUTS` that a grouped file with columns ``names`` has and pricing reads
    in its first pass: a yuan money column is left out where the file has its ``*_fen`` column (money
    crosses the pipe once; the yuan values are written back as they are, read row group by row group)."""
    from drg.casefile.money import FEN_COLUMNS, MONEY_COLUMNS

    has_fen = {yuan for yuan, fen in zip(MONEY_COLUMNS, FEN_COLUMNS) if fen in names}
    return [n for n in PRICING_INPUTS if n in names and n not in has_fen]


#: Pricing inputs read as Arrow dictionaries: few distinct values (Parquet stores them dictionary-encoded), so
#: no string is built per case; pricing encodes them as integer codes anyway (10 M cases: 0.3 GB less).
DICTIONARY_INPUTS = ("hospital_id", "insurance_type", "drg", "adrg")


def read_grouped_raw(path: str | Path, columns: list[str] | None) -> pa.Table:
    """The pricing columns of a grouped Parquet file as they are (no money converted yet; the columns of
    :data:`DICTIONARY_INPUTS` as Arrow dictionaries)."""
    from drg.casefile.parquet import read_parquet

    as_dict = [c for c in DICTIONARY_INPUTS if columns is None or c in columns]
    try:
        return read_parquet(path, columns=columns, read_dictionary=as_dict)
    except (pa.ArrowException, OSError) as exc:
        raise InputError(f"cannot read Parquet ({type(exc).__name__})", file=str(path)) from None


_DATE_LO, _DATE_HI = -25567, 47481       # 1900-01-01 and 2099-12-31 as days since 1970-01-01


def _flags(condition) -> np.ndarray:
    """An Arrow boolean column as a numpy mask, null as False."""
    return np.asarray(filled(condition, False), dtype=bool)


def unpriceable(t: pa.Table) -> tuple[np.ndarray | None, list[str], list[str]]:
    """The rows of a grouped table that can be priced (None: every row), and for the others their reason and
    every problem found (``reason:field`` joined by ``;``), in row order."""
    import pyarrow.compute as pc

    from drg.casefile.money import FEN_COLUMNS, MONEY_COLUMNS
    from drg.casefile.problems import Problem, blank_mask, reasons_of, yuan_money_problems

    n = t.num_rows
    problems: list[Problem] = []

    def present(c: str) -> bool:
        return c in t.column_names

    for c in ("case_id", "hospital_id", "los", "discharge_date"):
        if present(c):
            problems.append(("missing_field", c, blank_mask(t.column(c))))
    for yuan, fen in zip(MONEY_COLUMNS, FEN_COLUMNS):
        if present(fen):
            col = t.column(fen)
            if yuan != "other_paid":
                problems.append(("missing_field", yuan, np.asarray(col.is_null(), dtype=bool)))
            # (compared in Arrow, chunk by chunk: no 10 M-value copy of each money column)
            problems.append(("out_of_range", yuan, _flags(pc.or_(pc.greater(col, 10 ** 11),
                                                                  pc.less(col, -10 ** 11)))))
            problems.append(("negative_money", yuan, _flags(pc.less(col, 0))))
        elif present(yuan):
            values, isnull, found = yuan_money_problems(t.column(yuan), yuan)
            problems += [*found, ("negative_money", yuan, (values < 0) & ~isnull)]
    for c in ("admit_date", "discharge_date"):
        if present(c) and pa.types.is_date32(t.column(c).type):
            days = t.column(c).cast(pa.int32())
            problems.append(("out_of_range", c, _flags(pc.or_(pc.less(days, _DATE_LO), pc.greater(days, _DATE_HI)))))
    if present("los") and pa.types.is_integer(t.column("los").type):
        problems.append(("negative_los", "los", _flags(pc.less(t.column("los"), 0))))
    if present("case_id"):   # (the exact check of the case reader: ids hashed, only repeated hashes compared)
        from drg.casefile.duplicates import DuplicateFinder, trimmed_ids

        ids = trimmed_ids(t.column("case_id").cast(pa.string()))
        repeat = DuplicateFinder.for_whole(ids).mark(ids) & ~np.asarray(ids.is_null(), dtype=bool)
        problems.append(("duplicate_case_id", "case_id", repeat))
    bad = np.zeros(n, dtype=bool)
    for _, _, m in problems:
        bad |= m
    if not bad.any():
        return None, [], []
    order = ["missing_field", "wrong_type", "duplicate_case_id", "out_of_range", "negative_los",
             "non_finite_money", "negative_money"]
    problems.sort(key=lambda x: order.index(x[0]))
    reasons, details = reasons_of(problems, np.flatnonzero(bad))
    return ~bad, reasons, details


def _read_text_grouped(cases: str | Path, policy: Policy, reject_writer) -> tuple[pa.Table, int]:
    """A grouped CSV or Excel file through the case reader: the rows it rejects are this stage's rejects."""
    from drg.casefile.reader import read_cases

    parts, n_read = [], 0
    required = ("case_id", "hospital_id", "los", "discharge_date", "total_cost")
    for batch in read_cases(cases, required=required):
        n_read += batch.n_read
        reject_writer.write(batch.rejected)
        parts.append(pa.Table.from_batches([batch.accepted]))
    t = pa.concat_tables(parts, promote_options="permissive") if parts else pa.table({})
    if "row_number" in t.column_names:
        t = t.drop_columns(["row_number"])
    for c in ("mdc", "adrg", "drg", "group_status", "group_note"):
        if c in t.column_names and not pa.types.is_string(t.column(c).type):
            t = t.set_column(t.column_names.index(c), c, t.column(c).cast(pa.string()))
    return t, n_read


def _check_schemes(weights: Weights, policy: Policy, cases: str, tables: str) -> None:
    """The grouped cases, the weights and the policy name one grouping scheme (a mismatch is an error: points
    of one edition's DRGs priced with another edition's weights mean nothing)."""
    case_scheme = grouped_scheme_id(cases, command="points")
    if case_scheme and weights.scheme_id and case_scheme != weights.scheme_id:
        raise InputError(f"the cases were grouped with scheme {case_scheme} but the weights in {tables} were built "
                         f"from cases grouped with scheme {weights.scheme_id}: group the cases with the tables' "
                         "scheme, or build the tables again from history grouped with this one", file=cases,
                         field="drg")
    policy.check_scheme(case_scheme, what="the cases", file=cases)
    policy.check_scheme(weights.scheme_id, what="the weights' history cases", file=tables)


def _parquet_source(cases: str | Path):
    """A :class:`pyarrow.parquet.ParquetFile` for a non-empty Parquet input, else None."""
    from drg.casefile.parquet import parquet_file

    path = Path(cases)
    if path.suffix.lower() not in (".parquet", ".pq") or not path.exists():
        return None
    try:
        pf = parquet_file(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(f"cannot read Parquet: {exc}", file=str(path)) from None
    return pf if pf.metadata.num_rows and pf.num_row_groups else None


def _priced_row_groups(source, keys: pa.Table, priced: PricedArrays, keep: np.ndarray | None = None,
                       rejected: tuple | None = None, path: str | None = None, first_pass: pa.Table | None = None):
    """Each row group of ``source`` with every column, the ``*_fen`` columns it lacks and its priced columns
    (read one ahead on a background thread); and the schema of those tables. With ``keep`` (the rows that
    can be priced), the other rows go to the reject writer of ``rejected`` = (reasons, details, writer).
    ``first_pass``: the columns already read from ``source`` (every row, as in the file); they are sliced
    from it, not read again, and only the other columns are read row group by row group."""
    from drg.casefile.background import prefetch

    names = source.schema_arrow.names
    have = [c for c in (first_pass.column_names if first_pass is not None else ()) if c in names]
    rest = [c for c in names if c not in have]
    fen_added = [c for c in keys.column_names if c.endswith("_fen") and c not in names]
    schema = with_priced_columns(_fen_slice(source.schema_arrow.empty_table(), keys, fen_added, 0),
                                  priced.columns(0, 0)).schema

    rg_index = [0]

    def tables():
        lo = a_lo = r_lo = 0
        for rg in prefetch(_row_group(source, i, path, rest if have else None)
                           for i in range(source.num_row_groups)):
            if have:
                rg = _with_first_pass(rg, first_pass, have, names, lo, source.metadata.row_group(rg_index[0]).num_rows)
                rg_index[0] += 1
            hi = lo + rg.num_rows
            if keep is not None:
                sel = keep[lo:hi]
                if not sel.all():
                    reasons, details, writer = rejected
                    out = np.flatnonzero(~sel)
                    r_hi = r_lo + len(out)
                    writer.write(rg.take(pa.array(out))
                                 .append_column("row_number", pa.array(out + lo + 1, pa.int64()))
                                 .append_column("reject_reason", pa.array(reasons[r_lo:r_hi], pa.string()))
                                 .append_column("reject_detail", pa.array(details[r_lo:r_hi], pa.string())))
                    r_lo = r_hi
                    rg = rg.filter(pa.array(sel))
            a_hi = a_lo + rg.num_rows
            yield with_priced_columns(_fen_slice(rg, keys, fen_added, a_lo), priced.columns(a_lo, a_hi))
            lo, a_lo = hi, a_hi
        if a_lo != keys.num_rows:
            raise InputError(f"the file changed while it was read ({keys.num_rows} rows, then {a_lo})")

    return tables(), schema


def _with_first_pass(rg: pa.Table, first_pass: pa.Table, have: list[str], names: list[str], lo: int,
                     n: int) -> pa.Table:
    """Row group ``rg`` (rows ``lo…lo+n`` of the file, without the columns ``have``) with those columns sliced
    from the first pass, every column in the file's order."""
    if first_pass.num_rows < lo + n:
        raise InputError(f"the file changed while it was read ({first_pass.num_rows} rows, then more)")
    cols = {c: first_pass.column(c).slice(lo, n) for c in have}
    return pa.table({c: cols[c] if c in cols else rg.column(c) for c in names},
                    schema=pa.schema([first_pass.schema.field(c) if c in cols else rg.schema.field(c)
                                      for c in names], metadata=rg.schema.metadata))


def _row_group(source, i: int, path: str | None, columns: list[str] | None = None) -> pa.Table:
    try:
        return source.read_row_group(i, columns=columns)
    except (pa.ArrowException, OSError) as exc:
        raise InputError(f"row group {i + 1} cannot be read ({type(exc).__name__})", file=path) from None


def _fen_slice(rg: pa.Table, keys: pa.Table, fen_added: list[str], lo: int) -> pa.Table:
    """``rg`` (rows ``lo…`` of the file) with the ``*_fen`` columns computed in the first pass."""
    for c in fen_added:
        rg = rg.append_column(c, keys.column(c).slice(lo, rg.num_rows))
    return rg


class _PricedWriter:
    """Writes priced tables (zstd; statistics for :data:`STATISTICS_COLUMNS`; dictionaries for the text columns of
    few values, :func:`drg.casefile.parquet.dictionary_columns`) on a background thread, at most
    two tables behind; leaving the ``with`` block waits for the last one. The file is written beside ``out``
    as ``OUT.partial`` and takes its name only when complete: an error leaves no half-priced file (and an
    earlier ``out`` untouched)."""

    def __init__(self, out: Path, schema: pa.Schema) -> None:
        import pyarrow.parquet as pq

        from drg.casefile.background import WriteBehind
        from drg.casefile.parquet import dictionary_columns

        from drg.outputs import writing

        self._out = out
        self._partial = out.with_name(out.name + ".partial")
        stats = [c for c in STATISTICS_COLUMNS if c in schema.names]
        with writing(out):
            try:
                self._file = pq.ParquetWriter(self._partial, schema, compression="zstd", write_statistics=stats,
                                              use_dictionary=dictionary_columns(schema, "zstd"))
            except BaseException:
                self._partial.unlink(missing_ok=True)
                raise

        def write(table: pa.Table) -> None:
            with writing(out):
                self._file.write_table(table)

        self._behind = WriteBehind(write)

    def write(self, table: pa.Table) -> None:
        self._behind.write(table)

    def __enter__(self) -> _PricedWriter:
        return self

    def __exit__(self, exc_type, *exc) -> None:
        from drg.outputs import writing

        try:
            with writing(self._out):
                try:
                    self._behind.close()
                finally:
                    self._file.close()
        except BaseException:
            self._partial.unlink(missing_ok=True)
            if exc_type is None:
                raise
            return
        if exc_type is not None:
            self._partial.unlink(missing_ok=True)
        else:
            with writing(self._out):
                self._partial.replace(self._out)


def point_sums_of(keys: pa.Table, priced: PricedArrays, policy: Policy):
    """:func:`drg.pricing.adjustments.hospital_point_sums` of priced cases from their integer points and the
    codes of their hospital and insurance type: the same frame (``hospital_id, insurance_type, cases, p, a,
    d``), without a string or a float per case (the float columns and the decoded ids of 10 M cases were the
    peak of ``drg points``)."""
    import polars as pl

    from drg.pricing.columns import encode_strings

    n = keys.num_rows
    h, h_names = encode_strings(keys.column("hospital_id"))
    if "insurance_type" in keys.column_names and policy.pools_by_insurance_type:
        i, i_names = encode_strings(keys.column("insurance_type"))
    else:
        i, i_names = np.zeros(n, np.int32), ["all"]
    g = pl.DataFrame({"h": h, "i": i, "p": priced.pts, "a": priced.adjusted, "d": priced.deduction}).group_by(
        ["h", "i"]).agg(pl.len().alias("cases"), pl.col("p").sum(), pl.col("a").sum(), pl.col("d").sum())

    def decode(codes: pl.Series, names: list) -> pl.Series:   # (code -1: null)
        c = codes.to_numpy()
        return pl.Series(names + [None], dtype=pl.String).gather(np.where(c < 0, len(names), c))

    return g.select(decode(g["h"], h_names).alias("hospital_id"), decode(g["i"], i_names).alias("insurance_type"),
                    "cases", "p", "a", "d")
