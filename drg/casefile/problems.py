"""What a stage after grouping checks of a row it is given (``drg points``: :func:`drg.pricing.priced_file.unpriceable`;
``drg settle``: ``drg.settlement.aggregates._settleable``), written once: each check is a ``(reason, field,
mask)`` problem, and a rejected row's reason is its first problem, its detail every problem as
``reason:field`` joined by ``;``."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

__all__ = ["Problem", "blank_mask", "reasons_of", "yuan_money_problems"]

#: (reject reason, field, mask of the rows that have it)
Problem = tuple[str, str, np.ndarray]


def blank_mask(column) -> np.ndarray:
    """The rows of ``column`` that are null or, for text, blank (only whitespace)."""
    if pa.types.is_dictionary(column.type):   # (read as a dictionary: each distinct value checked once)
        from drg.casefile.strings import per_dictionary_value

        return per_dictionary_value(column, blank_mask, True, bool)   # (a null row is blank)
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        # (on the strings' buffers: no trimmed copy of every value, the rule of the other formats)
        from drg.casefile.strings import null_or_blank

        return null_or_blank(column if isinstance(column, pa.ChunkedArray) else pa.chunked_array([column]))
    return np.asarray(column.is_null(), dtype=bool)


def yuan_money_problems(column, yuan: str) -> tuple[np.ndarray, np.ndarray, list[Problem]]:
    """A yuan money column in fen (:func:`drg.casefile.money.money_to_fen_bounded`), its null mask and its
    problems: missing (except ``other_paid``, where a blank is 0), not a finite number, beyond the bound."""
    from drg.casefile.money import money_to_fen_bounded

    values, nonfinite, too_large = money_to_fen_bounded(column)
    isnull = np.asarray(column.is_null(), dtype=bool)
    problems: list[Problem] = [] if yuan == "other_paid" else [("missing_field", yuan, isnull)]
    problems += [("non_finite_money", yuan, nonfinite & ~isnull), ("out_of_range", yuan, too_large & ~isnull)]
    return values, isnull, problems


def reasons_of(problems: list[Problem], rows: np.ndarray) -> tuple[list[str], list[str]]:
    """For each row of ``rows`` (positions, in order) its reason (the first problem it has, in the order of
    ``problems``) and its detail (every problem it has)."""
    reasons, details = [], []
    for i in rows.tolist():
        found = [f"{r}:{f}" for r, f, m in problems if m[i]]
        reasons.append(found[0].split(":", 1)[0])
        details.append(";".join(found))
    return reasons, details
