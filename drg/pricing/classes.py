"""Which rule prices a case (SPEC §2.7, §4): the per-diem predicate and the cases without a DRG.

Each rule is written once, as a function of one case, with a vectorised form beside it for whole tables
(the tests hold the two to the same answers):

* per-diem (床日付费, SPEC §2.7): a case is per-diem when its DRG or ADRG is in ``per_diem.drgs`` or its
  length of stay is at least ``per_diem.min_los`` — :func:`is_per_diem`, :func:`per_diem_mask`;
* no DRG (SPEC §4, "ungroupable"): the grouper gave ``0000`` or an ambiguous ``xQY`` group —
  :func:`grouper.results.has_drg`, and :func:`drg_mask` for a column;
* an ambiguous group held for review (SPEC §4, ``pricing.ambiguous = "review"``): priced as ungroupable, but with
  0 points pending special review whatever ``pricing.ungroupable`` says — :func:`held_for_review`,
  :func:`held_mask`.
"""

from __future__ import annotations

import numpy as np

from drg.policy import Policy
from grouper.results import has_drg, is_ambiguous

__all__ = ["drg_mask", "has_drg", "held_for_review", "held_mask", "is_per_diem", "per_diem_mask"]


def is_per_diem(drg: str | None, adrg: str | None, los: int | None, policy: Policy) -> bool:
    """SPEC §2.7: the case's DRG or ADRG is listed in ``per_diem.drgs``, or its los ≥ ``per_diem.min_los``."""
    codes = policy.per_diem.drgs
    if codes and ((drg is not None and drg in codes) or (adrg is not None and adrg in codes)):
        return True
    return policy.per_diem.min_los is not None and int(los or 0) >= policy.per_diem.min_los


def per_diem_mask(drg, adrg, los: np.ndarray, policy: Policy) -> np.ndarray:
    """:func:`is_per_diem` over Arrow columns ``drg`` and ``adrg`` (``adrg`` may be None) and an int array of
    lengths of stay."""
    from drg.pricing.columns import values_in

    mask = np.zeros(len(los), bool)
    if policy.per_diem.drgs:
        for column in (drg, adrg):
            if column is not None:
                mask |= values_in(column, policy.per_diem.drgs)
    if policy.per_diem.min_los is not None:
        mask |= np.asarray(los) >= policy.per_diem.min_los
    return mask


def drg_mask(dictionary: list) -> np.ndarray:
    """:func:`grouper.results.has_drg` over the values of a dictionary-encoded ``drg`` column, plus one
    ``False`` at the end for the code -1 of a null (index the result with the column's codes)."""
    return np.array([has_drg(d) for d in dictionary] + [False], bool)


def held_for_review(drg: str | None, policy: Policy) -> bool:
    """SPEC §4: an ambiguous ``xQY`` case (CHS-DRG 2.0) waits for special review with 0 points when
    ``pricing.ambiguous = "review"``; with the default ``ungroupable`` it is priced as any ungroupable case."""
    return policy.pricing.ambiguous == "review" and is_ambiguous(drg)


def held_mask(dictionary: list, policy: Policy) -> np.ndarray:
    """:func:`held_for_review` over the values of a dictionary-encoded ``drg`` column, plus one ``False`` for
    the code -1 of a null (index the result with the column's codes)."""
    return np.array([held_for_review(d, policy) for d in dictionary] + [False], bool)
