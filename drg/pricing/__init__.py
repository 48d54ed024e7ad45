"""DRG → points (SPEC §2–§5): weights from history, coefficients, case classes and points, readmission halving,
special reviews and violations, the hospital totals after deductions.

Each numba kernel sits beside its exact plain-Python twin (:mod:`drg.pricing.kernels`, :mod:`drg.pricing.exact`);
the tests run every case through both.
"""

from drg._lazy import lazy_exports

_EXPORTS = {
    "CLASS_NAMES": "exact",
    "COEF_SCALE": "exact",
    "CaseToPrice": "exact",
    "HIGH": "exact",
    "LOW": "exact",
    "NORMAL": "exact",
    "NOTE_NAMES": "points",
    "PER_DIEM": "exact",
    "PRICED_COLUMNS": "points",
    "PRICING_INPUTS": "priced_file",
    "PricedArrays": "points",
    "PricingRule": "exact",
    "REVIEW": "exact",
    "STATISTICS_COLUMNS": "priced_file",
    "UNGROUPABLE": "exact",
    "UNSTABLE": "exact",
    "WeightRow": "exact",
    "Weights": "weights",
    "apply_violations": "adjustments",
    "build_tables": "coefficients",
    "checked_columns": "points",
    "compute_coefficients": "coefficients",
    "compute_weights": "weights",
    "drg_mask": "classes",
    "halved_stays": "readmission",
    "has_drg": "classes",
    "hospital_point_totals": "adjustments",
    "hospital_total": "adjustments",
    "is_per_diem": "classes",
    "pair_twin": "exact",
    "per_diem_mask": "classes",
    "price_arrays": "points",
    "price_cases": "points",
    "price_file": "priced_file",
    "price_one_exact": "exact",
    "read_coefficients": "coefficients",
    "read_grouped": "weights",
    "read_weights": "weights",
    "round_half_away": "exact",
    "rows_by_case_id": "adjustments",
    "scale_units_twin": "exact",
    "tier_chain": "coefficients",
    "to_units": "exact",
    "trim_mask": "weights",
    "with_priced_columns": "points",
    "write_weights": "weights",
}
__all__, __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
