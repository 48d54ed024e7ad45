"""智能监控 (issue 20): detectors that find suspect cases in a period's priced cases, the review queue they fill
(Parquet and a Chinese workbook, one sheet per detector), and the reviewers' decisions turned into the
violations table ``drg points --violations`` deducts (SPEC §5.2), each deduction traceable to its queue row in
the priced file and the ledger. Measured against the behaviours ``drg synth --plant`` plants (docs/audit.md).

Modules: :mod:`.cases` (what the detectors read), :mod:`.facts` (the monitoring facts), :mod:`.common` (the
findings and the hospital-level test), the detectors :mod:`.split`, :mod:`.low_standard`, :mod:`.upcoding`,
:mod:`.duplicates`, :mod:`.cost_shift`, :mod:`.stats` (their tests), :mod:`.run` (``drg audit run``),
:mod:`.queue` (the queue's files), :mod:`.apply` (``drg audit apply``), :mod:`.ledger` (the audit in the
ledger), :mod:`.measure` (precision and recall against planted truth).
"""

from drg._lazy import lazy_exports

_EXPORTS = {
    "AUDIT_DDL": "ledger",
    "ApplyResult": "apply",
    "AuditCases": "cases",
    "AuditResult": "run",
    "BEHAVIOUR_OF": "measure",
    "CASE_COLUMNS": "cases",
    "DECISIONS": "queue",
    "DETECTORS": "common",
    "FACT_NAMES": "facts",
    "FINDING_COLUMNS": "common",
    "Findings": "common",
    "PreparedCity": "measure",
    "QUEUE_COLUMNS": "queue",
    "REVIEW_COLUMNS": "queue",
    "SHEETS": "queue",
    "VIOLATION_COLUMNS": "apply",
    "apply_decisions": "apply",
    "audit_run": "run",
    "benjamini_hochberg": "stats",
    "binomial_upper": "stats",
    "decisions_to_violations": "apply",
    "detect_cost_shift": "cost_shift",
    "detect_duplicates": "duplicates",
    "detect_low_standard": "low_standard",
    "detect_split": "split",
    "detect_upcoding": "upcoding",
    "empty_rows": "common",
    "evidence_json": "common",
    "facts_from_priced": "facts",
    "hospital_signals": "common",
    "hospital_test": "common",
    "measure": "measure",
    "normal_upper": "stats",
    "outpatient_adrgs": "low_standard",
    "poisson_upper": "stats",
    "prepare_city": "measure",
    "read_audit_cases": "cases",
    "read_queue": "queue",
    "record_decisions": "ledger",
    "record_queue": "ledger",
    "run_detectors": "run",
    "trail": "ledger",
    "write_queue": "queue",
    "write_queue_workbook": "queue",
    "year_facts": "facts",
}
__all__, __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
