"""What the bureau publishes for hospitals (the bundle) and the estimate a hospital makes with it: one case in
well under a second, or a month's file to a workbook.
"""

from drg._lazy import lazy_exports

_EXPORTS = {
    "BUNDLE_FILES": "bundle",
    "Bundle": "bundle",
    "CLASS_ZH": "one_case",
    "CaseInput": "one_case",
    "EstimateTables": "bundle",
    "FORMAT_VERSION": "bundle",
    "PointValue": "bundle",
    "SHEETS": "workbook",
    "case_columns": "workbook",
    "case_from_json": "one_case",
    "estimate_case": "one_case",
    "estimate_file": "month",
    "format_case": "one_case",
    "normal_cost_range": "one_case",
    "open_bundle": "bundle",
    "parse_point_values": "bundle",
    "parse_yuan": "one_case",
    "policy_toml": "bundle",
    "price_one": "one_case",
    "publish": "bundle",
    "split_codes": "one_case",
    "validate_case": "one_case",
    "write_bundle_workbook": "bundle_workbook",
    "write_estimate": "workbook",
}
__all__, __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
