"""What people read about a settlement run: statements per hospital and period, and the city summary.
"""

from drg._lazy import lazy_exports

_EXPORTS = {
    "hospital_statement_frames": "statements",
    "write_city_summary": "statements",
    "write_statements": "statements",
}
__all__, __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
