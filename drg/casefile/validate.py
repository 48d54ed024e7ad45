"""Row validation of a case batch: contract types, the reject checks, and the accepted table with its
fen columns and row numbers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import polars as pl
import pyarrow as pa

from drg.casefile.duplicates import DuplicateFinder, StreamingDuplicateFinder, trimmed_ids
from drg.casefile.money import money_to_fen_bounded
from drg.casefile.schema import (
    DATE_BOUNDS,
    INT_LIMITS,
    CASE_SCHEMA,
    DATE_COLUMNS,
    INT_COLUMNS,
    LIST_COLUMNS,
    LIST_SEPARATORS,
    MONEY_COLUMNS,
    REJECT_REASONS,
    RejectReason,
    STRING_COLUMNS,
    VALID_SEX,
    VALUE_BOUNDS,
)
from drg.casefile.strings import null_or_blank
from drg.errors import InputError

__all__ = ['CaseBatch', 'coerce_columns', 'validate_table']

_DATE_LO, _DATE_HI = (date.fromisoformat(d) for d in DATE_BOUNDS)


@dataclass
class CaseBatch:
    """One batch of a case file after validation.

    ``accepted`` holds the columns as read (contract types where the column is a contract column) plus
    ``total_cost_fen, fund_paid_fen, self_paid_fen, other_paid_fen`` (int64) and ``row_number`` (the row as a
    person sees it: CSV physical line with the header as line 1, Excel sheet row, Parquet 1-based row).
    ``rejected`` holds the rows as read plus ``row_number``, ``reject_reason`` and ``reject_detail``.
    """

    accepted: pa.RecordBatch
    rejected: pa.Table | None
    source: str
    first_row: int

    @property
    def n_read(self) -> int:
        return self.accepted.num_rows + (self.rejected.num_rows if self.rejected is not None else 0)


def _split_codes(col: pl.Expr) -> pl.Expr:
    """A text cell of codes separated by ``|``, ``,`` or ``;`` (also full-width) → a list of strings."""
    return col.cast(pl.String).str.replace_all(LIST_SEPARATORS, "|").str.split("|")


def coerce_columns(df: pl.DataFrame, raw_strings: bool) -> tuple[pl.DataFrame, dict[str, pl.Series]]:
    """Cast contract columns to their types; return the typed frame and wrong-type masks.

    A column already of its contract type (the usual Parquet case) is passed through untouched and gets no
    mask; only columns that need converting (CSV and Excel text, other widths) are examined.
    """
    typed: dict[str, pl.Series] = {}
    wrong: dict[str, pl.Series] = {}
    for name in df.columns:
        if name not in CASE_SCHEMA:
            continue
        try:
            t, converted = _coerce(name, df[name], raw_strings)
        except BaseException as exc:  # a type polars cannot convert (or a panic): read it as text instead
            if isinstance(exc, (KeyboardInterrupt, SystemExit, MemoryError)):
                raise
            s = df[name]
            try:
                text = pl.from_arrow(s.to_arrow().cast(pa.string()))
                t, converted = _coerce(name, text, True)
            except BaseException as exc2:
                if isinstance(exc2, (KeyboardInterrupt, SystemExit, MemoryError)):
                    raise
                raise InputError(f"column {name} has type {s.dtype}, which cannot be read as {CASE_SCHEMA[name]}",
                                 field=name) from None
        typed[name] = t.alias(name)
        s = df[name]
        if converted:
            present = s.is_not_null()
            if s.dtype == pl.String:
                present = present & (s.str.strip_chars() != "")
            wrong[name] = (present & t.is_null()).fill_null(False)
    return pl.DataFrame(list(typed.values())), wrong


def _coerce(name: str, s: pl.Series, raw_strings: bool) -> tuple[pl.Series, bool]:
    """One contract column in its contract type, and whether it was converted (its nulls then mark values
    that could not be read)."""
    if s.dtype == pl.Categorical or s.dtype == pl.Enum:
        s = s.cast(pl.String)
    converted = True
    if name in STRING_COLUMNS:
        if s.dtype == pl.String and not raw_strings:
            t, converted = s, False
        else:
            t = s.cast(pl.String).str.strip_chars()
            t = t.set((t == "").fill_null(False), None)
            converted = False  # a blank id is a missing field, never a wrong type
    elif name in INT_COLUMNS:
        lo, hi = INT_LIMITS[CASE_SCHEMA[name]]
        if s.dtype.is_integer() and (s.null_count() == len(s) or (s.min() >= lo and s.max() <= hi)):
            t, converted = s, False
        else:  # text, floats, or integers too large for the contract type
            f = (s.str.strip_chars() if s.dtype == pl.String else s).cast(pl.Float64, strict=False)
            ok = f.is_finite() & (f == f.floor()) & (f >= lo) & (f <= hi)
            t = f.set(~ok.fill_null(False), None).cast(pl.Int64, strict=False)
    elif name in MONEY_COLUMNS:
        if s.dtype.is_decimal() or s.dtype.is_float():
            t, converted = s, False
        else:
            t = (s.str.strip_chars().str.replace_all(",", "") if s.dtype == pl.String else s).cast(
                pl.Float64, strict=False)
    elif name in DATE_COLUMNS:
        if s.dtype == pl.Date:
            t, converted = s, False
        elif s.dtype == pl.Datetime:
            t, converted = s.dt.date(), False
        else:
            t = (s.cast(pl.String).str.strip_chars().str.replace_all("/", "-").str.slice(0, 10)
                 .str.to_date("%Y-%m-%d", strict=False))
    elif name in LIST_COLUMNS:
        if isinstance(s.dtype, pl.List):
            t, converted = (s if s.dtype == pl.List(pl.String) else s.cast(pl.List(pl.String))), False
        else:
            t = (pl.DataFrame({"v": s.cast(pl.String)})
                 .select(_split_codes(pl.col("v")).list.eval(
                     pl.element().str.strip_chars().filter(pl.element() != "")))
                 .to_series())
            t = t.set(s.is_null(), None) if s.null_count() else t
            converted = False  # text always splits; an empty cell is an empty list
    else:  # pragma: no cover - every contract column is in one family
        t, converted = s, False
    return t, converted


def _list_arrays(table: pa.Table) -> dict[str, pa.ChunkedArray]:
    """Contract list columns already typed as Arrow lists: validated in Arrow, never copied into polars."""
    out = {}
    for name in LIST_COLUMNS:
        if name in table.column_names:
            col = table.column(name)
            if pa.types.is_list(col.type) or pa.types.is_large_list(col.type):
                value = col.type.value_type
                if pa.types.is_null(value) or pa.types.is_large_string(value):
                    col = col.cast(pa.list_(pa.string()))
                out[name] = col
    return out


def _decode_binary(col: pa.ChunkedArray) -> tuple[pa.ChunkedArray, np.ndarray | None]:
    """A binary column as text: valid UTF-8 values as they are, the others null and marked (wrong_type)."""
    try:
        return col.cast(pa.string()), None
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        values, bad = [], []
        for v in col.to_pylist():
            try:
                values.append(None if v is None else bytes(v).decode("utf-8"))
                bad.append(False)
            except UnicodeDecodeError:
                values.append(None)
                bad.append(True)
        return pa.chunked_array([pa.array(values, pa.string())]), np.array(bad, dtype=bool)


def _series(name: str, col: pa.ChunkedArray, file: str) -> tuple[pl.Series, np.ndarray | None]:
    """A contract column as a polars series for the checks, whatever Arrow type it came in: dictionaries
    decoded, binary text decoded (invalid UTF-8 marked wrong_type), 256-bit decimals narrowed, and any type
    polars cannot take as it is read through its text. A column that cannot be read at all is an error of
    the whole file naming it."""
    wrong = None
    t = col.type
    if pa.types.is_dictionary(t):
        col, t = col.cast(t.value_type), t.value_type
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t):
        col, wrong = _decode_binary(col)
    elif pa.types.is_decimal256(t):
        try:
            col = col.cast(pa.decimal128(38, min(t.scale, 38)))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            col = col.cast(pa.float64(), safe=False)
    try:
        s = pl.from_arrow(col, rechunk=False)
    except BaseException as exc:  # polars raises its own errors and, on some types, a Rust panic
        if isinstance(exc, (KeyboardInterrupt, SystemExit, MemoryError)):
            raise
        try:
            s = pl.from_arrow(col.cast(pa.string()), rechunk=False)
        except BaseException as exc2:
            if isinstance(exc2, (KeyboardInterrupt, SystemExit, MemoryError)):
                raise
            raise InputError(f"column {name} has type {t}, which cannot be read as {CASE_SCHEMA[name]}",
                             file=file, field=name) from None
    return s.alias(name), wrong


def _nonblank_codes(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """Number of non-blank codes in each row of a list<string> column (null rows count 0)."""
    import pyarrow.compute as pc

    arr = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    n = len(arr)
    lengths = pc.fill_null(pc.list_value_length(arr), 0).to_numpy(zero_copy_only=False).astype(np.int64)
    flat = pc.list_flatten(arr)
    if len(flat) == 0:
        return lengths
    def is_blank(strings):  # empty, or whitespace only (utf8_is_space classifies without trimmed copies)
        return pc.fill_null(pc.or_(pc.equal(pc.binary_length(strings), 0), pc.utf8_is_space(strings)), True)

    if pa.types.is_dictionary(flat.type):  # classify each distinct code once
        flat = flat.combine_chunks() if isinstance(flat, pa.ChunkedArray) else flat
        blank_strings = is_blank(flat.dictionary)
        if flat.indices.null_count == 0 and not pc.any(blank_strings).as_py():
            return lengths                      # no blank string in the dictionary: nothing to look up
        blank = pc.fill_null(blank_strings.take(flat.indices), True)
    else:
        blank = is_blank(flat)
    if not pc.any(blank).as_py():
        return lengths
    # (the parent of each flattened value from the lengths: list_parent_indices also counts values that a
    # null or sliced list still holds in its buffer, which list_flatten leaves out)
    parents = np.repeat(np.arange(n, dtype=np.int64), lengths)
    keep = ~blank.to_numpy(zero_copy_only=False)
    return np.bincount(parents[keep], minlength=n).astype(np.int64)


def validate_table(table: pa.Table, first_row: int, required: tuple[str, ...],
              duplicates: DuplicateFinder | StreamingDuplicateFinder | None,
              file: str, *, raw_strings: bool, row_numbers: np.ndarray | None = None) -> CaseBatch:
    """Check one batch of a case file (its columns under their contract names) and split it into the accepted
    rows and the rejected ones. ``row_numbers`` are the rows as a person sees them (default ``first_row``,
    ``first_row + 1`` …)."""
    n = table.num_rows
    arrow_lists = _list_arrays(table)
    # text columns already typed as Arrow strings (Parquet) are checked on their buffers, never copied
    arrow_strings = {} if raw_strings else {
        name: table.column(name) for name in STRING_COLUMNS
        if name in table.column_names and table.column(name).type in (pa.string(), pa.large_string())}
    # only the contract's columns go to polars (a user's own columns travel in Arrow, whatever their type)
    series, unreadable = [], {}
    for name in table.column_names:
        if name in CASE_SCHEMA and name not in arrow_lists and name not in arrow_strings:
            s, bad = _series(name, table.column(name), file)
            series.append(s)
            if bad is not None:
                unreadable[name] = bad
    raw = pl.DataFrame(series) if series else pl.DataFrame()
    try:
        typed, wrong = coerce_columns(raw, raw_strings)
    except InputError as exc:
        raise InputError(exc.reason, file=file, field=exc.field) from None
    wrong = {name: np.asarray(m.to_numpy(), dtype=bool) for name, m in wrong.items()}
    for name, bad in unreadable.items():
        wrong[name] = wrong[name] | bad if name in wrong else bad
    present = set(typed.columns) | set(arrow_lists) | set(arrow_strings)
    checks: list[tuple[str, np.ndarray, str]] = []  # (reason, mask, field)

    def add(reason: str, mask, field_name: str) -> None:
        m = np.asarray(mask.to_numpy() if isinstance(mask, pl.Series) else mask, dtype=bool)
        if m.any():
            checks.append((reason, m, field_name))

    # Row checks on typed columns, in one parallel polars select.
    exprs: list[pl.Expr] = []
    for name in required:
        if name in arrow_strings:
            add(RejectReason.MISSING_FIELD, null_or_blank(arrow_strings[name]), name)
        elif name in typed.columns and name != "dx":  # an empty dx is empty_dx, whatever the format
            c = pl.col(name)
            e = c.is_null()
            if typed.schema[name] == pl.String:
                e = e | (c.str.strip_chars().str.len_bytes() == 0)
            exprs.append(e.fill_null(True).alias(f"{RejectReason.MISSING_FIELD}\x1f{name}"))
    if "sex" in typed.columns:
        exprs.append((~pl.col("sex").is_in(list(VALID_SEX))).fill_null(False).alias(f"{RejectReason.SEX_OUT_OF_RANGE}\x1fsex"))
    if "age" in typed.columns:
        no_days = pl.col("age_days").is_null() if "age_days" in typed.columns else pl.lit(True)
        exprs.append(((pl.col("age") == 0).fill_null(False) & no_days).alias(f"{RejectReason.MISSING_AGE_DAYS}\x1fage_days"))
    for name, (lo, hi) in VALUE_BOUNDS.items():
        if name in typed.columns:
            c = pl.col(name)
            e = (c < lo) | (c > hi)
            if name == "age_days" and "age" in typed.columns:  # age 0 means under one year
                e = e | ((pl.col("age") == 0) & (c >= 365))
            exprs.append(e.fill_null(False).alias(f"{RejectReason.OUT_OF_RANGE}\x1f{name}"))
    for name in DATE_COLUMNS:
        if name in typed.columns:
            c = pl.col(name)
            exprs.append(((c < _DATE_LO) | (c > _DATE_HI)).fill_null(False)
                         .alias(f"{RejectReason.OUT_OF_RANGE}\x1f{name}"))
    if "los" in typed.columns:
        exprs.append((pl.col("los") < 0).fill_null(False).alias(f"{RejectReason.NEGATIVE_LOS}\x1flos"))
    if "admit_date" in typed.columns and "discharge_date" in typed.columns:
        exprs.append((pl.col("discharge_date") < pl.col("admit_date")).fill_null(False)
                     .alias(f"{RejectReason.DISCHARGE_BEFORE_ADMISSION}\x1fdischarge_date"))
    masks = typed.select(exprs) if exprs else pl.DataFrame()
    hit = masks.select(pl.all().any()).row(0, named=True) if masks.width else {}
    for col in masks.columns:
        if not hit[col]:              # most checks fail no row: skip turning their masks into numpy
            continue
        reason, field_name = col.split("\x1f")
        m = masks[col].to_numpy()
        if reason == RejectReason.MISSING_FIELD and field_name in wrong:
            m = m & ~wrong[field_name]
        add(reason, m, field_name)
    for name in required:
        if name in arrow_lists and name != "dx":
            add(RejectReason.MISSING_FIELD, arrow_lists[name].is_null().to_numpy(zero_copy_only=False), name)
    for name, mask in wrong.items():
        add(RejectReason.WRONG_TYPE, mask, name)
    if duplicates is not None:   # the values ids_as_checked gives (the pre-pass reads them alone)
        ids = arrow_strings["case_id"] if "case_id" in arrow_strings else typed["case_id"]
        add(RejectReason.DUPLICATE_CASE_ID, duplicates.mark(trimmed_ids(ids)), "case_id")
    if "dx" in present:
        dx = arrow_lists["dx"] if "dx" in arrow_lists else typed["dx"].to_arrow()
        add(RejectReason.EMPTY_DX, _nonblank_codes(dx) == 0, "dx")

    fen: dict[str, np.ndarray] = {}
    money_ok = np.ones(n, dtype=bool)
    for name in MONEY_COLUMNS:
        if name in typed.columns:
            values, nonfinite, too_large = money_to_fen_bounded(typed[name].to_arrow())
            isnull = typed[name].is_null().to_numpy()
            add(RejectReason.NON_FINITE_MONEY, nonfinite & ~isnull, name)
            add(RejectReason.OUT_OF_RANGE, too_large & ~isnull, name)
            add(RejectReason.NEGATIVE_MONEY, (values < 0) & ~nonfinite & ~isnull, name)
            nonfinite = nonfinite | too_large
            # a blank optional other_paid counts as 0 ("0 when absent"); the others must be there
            nonfinite = nonfinite & ~isnull   # a null reads as NaN; it is a blank, not a non-finite value
            money_ok &= ~nonfinite & (~isnull if name != "other_paid" else True)
            fen[name] = np.where(isnull | nonfinite, 0, values)
        else:
            fen[name] = np.zeros(n, dtype=np.int64)
    if all(c in typed.columns for c in ("total_cost", "fund_paid", "self_paid")):
        gap = np.abs(fen["fund_paid"] + fen["self_paid"] + fen["other_paid"] - fen["total_cost"])
        add(RejectReason.PAYMENT_MISMATCH, (gap > 1) & money_ok, "total_cost")

    rejected_mask = np.zeros(n, dtype=bool)
    for _, m, _ in checks:
        rejected_mask |= m
    row_numbers = (np.arange(first_row, first_row + n, dtype=np.int64) if row_numbers is None
                   else np.asarray(row_numbers, dtype=np.int64))
    rejected = None
    if rejected_mask.any():
        order = {r: i for i, r in enumerate(REJECT_REASONS)}
        checks.sort(key=lambda c: order[c[0]])
        rows = np.flatnonzero(rejected_mask)
        reasons, details = [], []
        for i in rows:
            found = [f"{r}:{f}" for r, m, f in checks if m[i]]
            reasons.append(found[0].split(":", 1)[0])
            details.append(";".join(found))
        rejected = (table.take(pa.array(rows))
                    .append_column("row_number", pa.array(row_numbers[rows]))
                    .append_column("reject_reason", pa.array(reasons, pa.string()))
                    .append_column("reject_detail", pa.array(details, pa.string())))
    accepted = _accepted_table(table, typed, ~rejected_mask, fen, row_numbers, raw_strings)
    batch = accepted.combine_chunks().to_batches()
    accepted_batch = batch[0] if batch else pa.RecordBatch.from_pylist([], schema=accepted.schema)
    return CaseBatch(accepted=accepted_batch, rejected=rejected, source=file, first_row=first_row)


def _accepted_table(table: pa.Table, typed: pl.DataFrame, keep: np.ndarray, fen: dict[str, np.ndarray],
                    row_numbers: np.ndarray, raw_strings: bool) -> pa.Table:
    """The kept rows: contract columns in their contract types, other columns as read, plus fen + row."""
    every = bool(keep.all())
    idx = None if every else pa.array(np.flatnonzero(keep))
    arrays, names = [], []
    for name in table.column_names:
        col = table.column(name)
        if name in CASE_SCHEMA:
            want = CASE_SCHEMA[name]
            if name in MONEY_COLUMNS and not raw_strings and (
                    pa.types.is_decimal(col.type) or pa.types.is_floating(col.type)):
                pass  # money as read (decimal or float yuan)
            elif name in LIST_COLUMNS and pa.types.is_list(col.type) and pa.types.is_dictionary(col.type.value_type):
                pass  # dictionary-coded codes (dictionary_codes=True), kept for the encoder
            elif col.type != want:
                col = (typed[name].to_arrow() if name in typed.columns else col).cast(want)
        arrays.append(col if every else col.take(idx))
        names.append(name)
    for name in MONEY_COLUMNS:
        arrays.append(pa.array(fen[name] if every else fen[name][keep], pa.int64()))
        names.append(f"{name}_fen")
    arrays.append(pa.array(row_numbers if every else row_numbers[keep], pa.int64()))
    names.append("row_number")
    return pa.Table.from_arrays(arrays, names=names)
