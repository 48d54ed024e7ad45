"""智能监控 (issue 20): detectors that find suspect cases in a period's priced cases, the review queue they fill
(Parquet and a Chinese workbook, one sheet per detector), and the reviewers' decisions turned into the
violations table ``drg points --violations`` deducts (SPEC §5.2), each deduction traceable to its queue row.
Measured against the behaviours ``drg synth --plant`` plants (docs/audit.md)."""

from drg._lazy import lazy_exports

_EXPORTS = {
    "BEHAVIOUR_OF": "measure",
    "PreparedCity": "measure",
    "measure": "measure",
    "prepare_city": "measure",
}
__all__, __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
