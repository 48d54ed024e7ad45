"""The case contract (CONTRACT.md): reading case files and the other input tables, validation and rejects.

Parquet is streamed by row group; CSV (UTF-8 with or without BOM, or GB18030/GBK) and Excel are read whole,
with a column mapping for a hospital system's own headers. Every row read ends in one place: accepted (with
its ``*_fen`` money columns, converted here once) or rejected with its row number and a
:class:`~drg.casefile.schema.RejectReason`. Repeated case ids are found as rows stream by. Files are written
whole or not at all (``*.partial``), and reading and writing overlap the work on background threads.
"""

from drg._lazy import lazy_exports

_EXPORTS = {
    "CASE_SCHEMA": "schema",
    "CaseBatch": "validate",
    "CheckSummary": "check",
    "ColumnMapping": "mapping",
    "DATE_COLUMNS": "schema",
    "DEFAULT_BATCH_ROWS": "schema",
    "DuplicateFinder": "duplicates",
    "ESTIMATE_REQUIRED": "schema",
    "FAST_ROWS": "money",
    "FEN_COLUMNS": "money",
    "INT_COLUMNS": "schema",
    "INT_LIMITS": "schema",
    "IdHashCollision": "duplicates",
    "LIST_COLUMNS": "schema",
    "LIST_SEPARATORS": "schema",
    "MONEY_COLUMNS": "money",
    "REJECT_REASONS": "schema",
    "RejectReason": "schema",
    "RejectWriter": "rejects",
    "SETTLEMENT_REQUIRED": "schema",
    "STRING_COLUMNS": "schema",
    "StreamingDuplicateFinder": "duplicates",
    "VALID_SEX": "schema",
    "VALUE_BOUNDS": "schema",
    "WriteBehind": "background",
    "available_cores": "background",
    "case_file_kind": "reader",
    "check_cases": "check",
    "coerce_columns": "validate",
    "detect_encoding": "reader",
    "discard_partial": "partial",
    "hospital_tiers": "tables",
    "ids_as_checked": "reader",
    "money_to_fen": "money",
    "partial_path": "partial",
    "plain_code_lists": "rejects",
    "prefetch": "background",
    "read_budget": "tables",
    "read_cases": "reader",
    "read_county_income": "tables",
    "read_hospitals": "tables",
    "read_reviews": "tables",
    "read_table": "tables",
    "read_violations": "tables",
    "validate_table": "validate",
    "with_duplicate_fallback": "duplicates",
    "with_fen_columns": "money",
    "write_rejects": "rejects",
    "yuan_to_fen_array": "money",
    "yuan_to_fen_array_twin": "money",
}
__all__, __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
