"""The case contract (CONTRACT.md): column names and Arrow types, the column families, the columns each use
requires, plausible value bounds, and the reject reasons.

Every row read ends in exactly one place: accepted, or rejected with its row number as a person sees it (a
CSV file's physical line, the header being line 1; an Excel sheet's row; a Parquet file's 1-based row) and a
reason code. A row with no value in any cell (a blank line) is not a case and is not counted. Reject reasons, in the order they are tested (a row gets the first that applies;
``reject_detail`` lists all of them with the fields involved):


==============================  =====================================================================
``missing_field``               a required field is empty
``wrong_type``                  a value cannot be read as the contract's type (``sex = "M"``, an age
                                too large for int16)
``duplicate_case_id``           an earlier row of the same input has this ``case_id``
``empty_dx``                    no diagnosis at all
``sex_out_of_range``            ``sex`` not in {0, 1, 2, 9}
``missing_age_days``            ``age`` is 0 and ``age_days`` is empty
``out_of_range``                ``age`` outside 0–150, ``age_days`` negative (or 365+ when ``age`` is 0),
                                ``birth_weight`` not positive, ``vent_hours`` negative, a date outside
                                1900-01-01–2099-12-31, money beyond 10^9 yuan
``negative_los``                ``los`` < 0
``discharge_before_admission``  ``discharge_date`` < ``admit_date``
``non_finite_money``            a money value is NaN or infinite
``negative_money``              a money value is below zero
``payment_mismatch``            ``fund_paid + self_paid + other_paid`` differs from ``total_cost`` by more than 1 fen
==============================  =====================================================================
"""

from __future__ import annotations

from enum import StrEnum

import pyarrow as pa

__all__ = ['DATE_BOUNDS', 'RESERVED_COLUMNS', 'CASE_SCHEMA', 'MONEY_COLUMNS', 'INT_COLUMNS', 'DATE_COLUMNS', 'LIST_COLUMNS', 'STRING_COLUMNS', 'SETTLEMENT_REQUIRED', 'ESTIMATE_REQUIRED', 'REJECT_REASONS', 'RejectReason', 'VALUE_BOUNDS', 'INT_LIMITS', 'VALID_SEX', 'LIST_SEPARATORS', 'DEFAULT_BATCH_ROWS']


#: The contract's columns and their Arrow types (money columns accept decimal or float64 yuan).
CASE_SCHEMA: dict[str, pa.DataType] = {
    "case_id": pa.string(),
    "patient_id": pa.string(),
    "hospital_id": pa.string(),
    "sex": pa.int8(),
    "age": pa.int16(),
    "age_days": pa.int32(),
    "birth_weight": pa.int32(),
    "los": pa.int32(),
    "discharge_status": pa.int8(),
    "dx": pa.list_(pa.string()),
    "px": pa.list_(pa.string()),
    "vent_hours": pa.int32(),
    "admit_date": pa.date32(),
    "discharge_date": pa.date32(),
    "total_cost": pa.float64(),
    "fund_paid": pa.float64(),
    "self_paid": pa.float64(),
    "other_paid": pa.float64(),
    "insurance_type": pa.string(),
    "county": pa.string(),
}


MONEY_COLUMNS = ("total_cost", "fund_paid", "self_paid", "other_paid")


INT_COLUMNS = ("sex", "age", "age_days", "birth_weight", "los", "discharge_status", "vent_hours")


DATE_COLUMNS = ("admit_date", "discharge_date")


LIST_COLUMNS = ("dx", "px")


STRING_COLUMNS = ("case_id", "patient_id", "hospital_id", "insurance_type", "county")


#: Columns a settlement batch must carry, and must fill on every row.
SETTLEMENT_REQUIRED = (
    "case_id", "patient_id", "hospital_id", "sex", "age", "los", "dx", "admit_date", "discharge_date",
    "total_cost", "fund_paid", "self_paid", "insurance_type", "county",
)


#: A hospital checking its own month needs less (``drg estimate``).
ESTIMATE_REQUIRED = ("case_id", "sex", "age", "los", "dx", "total_cost")


class RejectReason(StrEnum):
    """Why a row was rejected; the members are in the order the checks are tested (a row gets the first
    that applies). Each is its own string value, as written in the rejects file."""

    MISSING_FIELD = "missing_field"
    WRONG_TYPE = "wrong_type"
    DUPLICATE_CASE_ID = "duplicate_case_id"
    EMPTY_DX = "empty_dx"
    SEX_OUT_OF_RANGE = "sex_out_of_range"
    MISSING_AGE_DAYS = "missing_age_days"
    OUT_OF_RANGE = "out_of_range"
    NEGATIVE_LOS = "negative_los"
    DISCHARGE_BEFORE_ADMISSION = "discharge_before_admission"
    NON_FINITE_MONEY = "non_finite_money"
    NEGATIVE_MONEY = "negative_money"
    PAYMENT_MISMATCH = "payment_mismatch"


#: The reject reasons as plain strings, in the order they are tested.
REJECT_REASONS = tuple(r.value for r in RejectReason)


#: Plausible bounds (inclusive) of the integer fields; outside them a row is ``out_of_range``.
VALUE_BOUNDS = {"age": (0, 150), "age_days": (0, 54_999), "birth_weight": (1, 9_999), "vent_hours": (0, 99_999)}


#: Value range of each integer contract type: a larger value cannot be held and is ``wrong_type``.
INT_LIMITS = {pa.int8(): (-(2 ** 7), 2 ** 7 - 1), pa.int16(): (-(2 ** 15), 2 ** 15 - 1),
               pa.int32(): (-(2 ** 31), 2 ** 31 - 1)}


VALID_SEX = (0, 1, 2, 9)


LIST_SEPARATORS = r"[|,;，；]"


DEFAULT_BATCH_ROWS = 1 << 20


#: Dates a case may carry (inclusive); outside them a row is ``out_of_range``.
DATE_BOUNDS = ("1900-01-01", "2099-12-31")


#: Names the project adds to a case's columns (the reader's fen columns and row number, the rejects' reason
#: columns). A column of the user's own with one of these names is renamed when read (``input_`` before
#: it, as often as needed to make it unique), so the two never collide.
RESERVED_COLUMNS = ("total_cost_fen", "fund_paid_fen", "self_paid_fen", "other_paid_fen", "row_number",
                    "reject_reason", "reject_detail")


def reserved_renames(names: list[str]) -> dict[str, str]:
    """``{user column: new name}`` for the columns of ``names`` that carry a name the project adds."""
    taken = set(names)
    out = {}
    for name in names:
        if name in RESERVED_COLUMNS:
            new = "input_" + name
            while new in taken or new in RESERVED_COLUMNS:
                new = "input_" + new
            taken.add(new)
            out[name] = new
    return out


def repeated_names(names: list[str]) -> list[str]:
    """The column names that appear more than once, in order of first appearance."""
    seen, out = set(), []
    for name in names:
        if name in seen and name not in out:
            out.append(name)
        seen.add(name)
    return out
