"""Money columns to integer fen, once, when a file is read (SPEC §0.1).

The rule is :func:`drg.money.yuan_to_fen`: the decimal value a person typed, times 100, rounded half away
from zero (四舍五入). This module applies it to whole columns:

* :func:`yuan_to_fen_array` — float64 yuan → int64 fen. From :data:`FAST_ROWS` values on, a numba kernel
  rounds in binary floating point and hands every value whose scaled fraction lies near one half to the rule
  (``12.345`` is stored as 12.34499…, and 四舍五入 must give 1235 fen); shorter arrays, and the tests, use
  the plain twin :func:`yuan_to_fen_array_twin`, the rule applied value by value.
* :func:`money_to_fen` — an Arrow money column (decimal, float or integer yuan) → fen and a mask of the
  values that are not finite numbers. Decimal columns are exact.
* :func:`with_fen_columns` — a table with ``total_cost_fen`` … ``other_paid_fen`` added where missing,
  for files that reach the payment engine without them (a grouped CSV, a file of an older version): the
  case reader adds them when it validates a file, and every later stage uses those.
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pyarrow as pa

from drg.errors import InputError
from drg.money import yuan_to_fen

__all__ = ["FAST_ROWS", "FEN_COLUMNS", "MONEY_COLUMNS", "MONEY_MAX_YUAN", "money_to_fen", "money_to_fen_bounded", "with_fen_columns", "yuan_to_fen_array",
           "yuan_to_fen_array_twin"]

#: The contract's money columns (yuan as read) and the int64 fen columns made from them.
MONEY_COLUMNS = ("total_cost", "fund_paid", "self_paid", "other_paid")
FEN_COLUMNS = tuple(f"{m}_fen" for m in MONEY_COLUMNS)
#: From this many values a float column is converted by the numba kernel (below it, the twin is quicker than
#: loading numba, and a hospital's month never waits for a compiler).
FAST_ROWS = 1 << 14


def yuan_to_fen_array_twin(values: np.ndarray) -> np.ndarray:
    """Plain twin of :func:`yuan_to_fen_array`: :func:`drg.money.yuan_to_fen` on every value (NaN and
    infinities become 0; the caller masks them)."""
    x = np.asarray(values, dtype=np.float64)
    return np.array([yuan_to_fen(float(v)) if np.isfinite(v) else 0 for v in x.tolist()], dtype=np.int64)


def yuan_to_fen_array(values: np.ndarray) -> np.ndarray:
    """float64 yuan → int64 fen by :func:`drg.money.yuan_to_fen`, the numba kernel for long arrays.

    NaN and infinities become 0: the caller masks them (:func:`money_to_fen` returns the mask).
    """
    x = np.ascontiguousarray(values, dtype=np.float64)
    if x.shape[0] < FAST_ROWS:
        return yuan_to_fen_array_twin(x)
    from drg.casefile.money_kernel import fen_kernel

    fen = np.empty(x.shape[0], np.int64)
    near_tie = np.empty(x.shape[0], np.bool_)
    fen_kernel(x, fen, near_tie)
    for i in np.flatnonzero(near_tie):
        fen[i] = yuan_to_fen(float(x[i]))
    return fen


def money_to_fen(column: pa.ChunkedArray | pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """``(fen, bad)`` of a money column in yuan: int64 fen (0 where null or not finite) and the mask of the
    values that are NaN or infinite, or too large to be money (:data:`MONEY_MAX_YUAN`; a decimal or integer
    column has no NaN)."""
    fen, nonfinite, too_large = money_to_fen_bounded(column)
    return fen, nonfinite | too_large


#: Money beyond this many yuan (in absolute value) is not a case's money: such a value is rejected as
#: ``out_of_range``. The bound keeps every fen sum of the engine inside int64: 10^11 fen a case times
#: 90 million cases.
MONEY_MAX_YUAN = 10 ** 9


def money_to_fen_bounded(column: pa.ChunkedArray | pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(fen, nonfinite, too_large)`` of a money column in yuan (decimal of any width, float or integer):
    int64 fen (0 where null, not finite or too large), the mask of NaN and infinite values, and the mask of
    values beyond :data:`MONEY_MAX_YUAN` yuan. Never overflows, whatever the values."""
    import pyarrow.compute as pc

    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    n = len(column)
    no = np.zeros(n, dtype=bool)
    if pa.types.is_integer(column.type):
        big = pc.fill_null(pc.greater(pc.abs_checked(column.cast(pa.float64())), float(MONEY_MAX_YUAN)), False)
        too_large = np.asarray(big, dtype=bool)
        values = np.array(column.cast(pa.float64()).fill_null(0), dtype=np.float64)
        values[too_large] = 0
        return values.astype(np.int64) * 100, no, too_large
    if pa.types.is_decimal(column.type):
        as_float = column.cast(pa.float64(), safe=False)   # only to find the values beyond the bound
        too_large = np.asarray(pc.fill_null(pc.greater(pc.abs(as_float), float(MONEY_MAX_YUAN) * 1.000001), False),
                               dtype=bool)
        if too_large.any():
            column = pc.if_else(pa.array(too_large), pa.nulls(n, column.type), column)
        if column.type.scale <= 2 and pa.types.is_decimal128(column.type):
            # exact: the unscaled integer times 10^(2 - scale), in int64 (|value| <= 10^9 yuan here)
            import polars as pl

            fen = (pl.from_arrow(column).cast(pl.Decimal(38, 2)) * 100).cast(pl.Int64).fill_null(0)
            return fen.to_numpy().astype(np.int64), no, too_large
        values = [0 if v is None else yuan_to_fen(Decimal(v)) for v in column.to_pylist()]
        fen = np.array(values, dtype=np.int64)
        # the bound with its float tolerance, exactly
        exact_big = np.abs(fen) > MONEY_MAX_YUAN * 100
        fen[exact_big] = 0
        return fen, no, too_large | exact_big
    x = column.cast(pa.float64()).to_numpy(zero_copy_only=False).astype(np.float64)
    nonfinite = ~np.isfinite(x)
    with np.errstate(invalid="ignore"):
        too_large = ~nonfinite & (np.abs(x) > MONEY_MAX_YUAN)
    if too_large.any():
        x = np.where(too_large, 0.0, x)
    return yuan_to_fen_array(x), nonfinite, too_large


def _strict_fen(column: pa.ChunkedArray | pa.Array, file: str, field: str, first_row: int) -> np.ndarray:
    """Fen of a column that must be complete: a missing or non-finite value is an :class:`InputError`
    naming the row (files that reach the payment engine were validated when they were grouped)."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if column.null_count:
        row = int(np.flatnonzero(np.asarray(column.is_null()))[0]) + first_row
        raise InputError("money value is missing", file=file, row=row, field=field)
    fen, bad, too_large = money_to_fen_bounded(column)
    if bad.any():
        raise InputError("money value is not a finite number", file=file, row=int(np.flatnonzero(bad)[0]) + first_row,
                         field=field)
    if too_large.any():
        raise InputError(f"money value beyond {MONEY_MAX_YUAN:,} yuan", file=file,
                         row=int(np.flatnonzero(too_large)[0]) + first_row, field=field)
    return fen


def with_fen_columns(table: pa.Table, *, file: str = "", first_row: int = 1) -> pa.Table:
    """``table`` with ``total_cost_fen`` … ``other_paid_fen`` (int64) for the yuan columns present, where the
    fen column is not already there (``other_paid_fen`` is 0 when ``other_paid`` is absent; a null
    ``other_paid`` counts as 0, as the contract says). ``first_row`` is the row number of the table's first
    row in its file, for the errors."""
    for yuan, fen in zip(MONEY_COLUMNS, FEN_COLUMNS):
        if fen in table.column_names:
            continue
        if yuan in table.column_names:
            column = table.column(yuan)
            if yuan == "other_paid":
                column = column.fill_null(0)
            table = table.append_column(fen, pa.array(_strict_fen(column, file, yuan, first_row), pa.int64()))
        elif yuan == "other_paid":
            table = table.append_column(fen, pa.array(np.zeros(table.num_rows, np.int64)))
    return table
