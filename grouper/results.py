"""What the grouper's output codes mean to whoever reads a grouped case table (CONTRACT.md, Outputs).

A case without a group has ``drg = "0000"`` (:data:`UNGROUPABLE_DRG`); an ambiguous case of CHS-DRG 2.0 has
its ``xQY`` code (``GQY``: a medical ADRG met a procedure of another chapter) in ``adrg`` and ``drg``. Neither
is a DRG with weights: the payment engine asks :func:`has_drg` rather than comparing codes itself.
"""

from __future__ import annotations

__all__ = ["AMBIGUOUS_SUFFIX", "UNGROUPABLE_DRG", "has_drg", "is_ambiguous"]

#: The DRG code of a case that got no group.
UNGROUPABLE_DRG = "0000"
#: The last two letters of an ambiguous group's code (``GQY``, ``FQY`` …; CHS-DRG 2.0).
AMBIGUOUS_SUFFIX = "QY"


def is_ambiguous(code: str | None) -> bool:
    """Whether ``code`` is an ambiguous group (``xQY``) of CHS-DRG 2.0."""
    return code is not None and len(code.strip()) == 3 and code.strip().upper().endswith(AMBIGUOUS_SUFFIX)


def has_drg(code: str | None) -> bool:
    """Whether ``code`` is a DRG: not missing or blank, not :data:`UNGROUPABLE_DRG`, not an ambiguous group."""
    if code is None:
        return False
    c = code.strip()
    return c not in ("", UNGROUPABLE_DRG) and not is_ambiguous(c)
