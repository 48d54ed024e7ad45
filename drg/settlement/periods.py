"""Settlement periods as people write them."""

from __future__ import annotations

from drg.errors import InputError

__all__ = ['parse_period']


# ----------------------------------------------------------------------------------------------- reading
def parse_period(period: str) -> tuple[int, int]:
    """``"2025-03"`` → ``(2025, 3)``."""
    try:
        y, m = period.split("-")
        year, month = int(y), int(m)
    except Exception:  # noqa: BLE001
        raise InputError(f"period must be YYYY-MM, got {period!r}", field="period") from None
    if not 1 <= month <= 12 or not 1990 <= year <= 2100:
        raise InputError(f"period must be YYYY-MM, got {period!r}", field="period")
    return year, month
