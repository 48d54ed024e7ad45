"""The public API is pinned: the names that ``grouper``, ``drg`` and each subpackage's ``__init__`` offer.

Changing a list below is a decision, not an accident: change the package and this list in the same commit,
and say why in the message. A package's public names are its ``__all__`` (the subpackages of ``drg`` re-export
theirs lazily, :mod:`drg._lazy`); a package without ``__all__`` (``drg``, ``drg.cli``) offers the names its
``__init__`` binds that do not start with ``_``, and ``__version__``.

Every module of ``grouper`` and ``drg`` that defines ``__all__`` lists only names it has.
"""

from __future__ import annotations

import ast
import importlib

import pytest

from tests.helpers.paths import REPO

PUBLIC = {
    "grouper": [
        'Case', 'Result', 'Scheme', 'SchemeOptions', 'group_case', 'load_scheme', 'normalize_code',
    ],
    "grouper.rules": [
        'AdrgRule', 'Clause', 'CodeDictionary', 'RuleSet', 'load_code_dictionary', 'load_rule_set',
    ],
    "drg": [
        '__version__',
    ],
    "drg.casefile": [
        'CASE_SCHEMA', 'CaseBatch', 'CheckSummary', 'ColumnMapping', 'CsvRows', 'DATE_BOUNDS', 'DATE_COLUMNS',
        'DEFAULT_BATCH_ROWS', 'DuplicateFinder', 'ESTIMATE_REQUIRED', 'FAST_ROWS', 'FEN_COLUMNS', 'INT_COLUMNS',
        'INT_LIMITS', 'LIST_COLUMNS', 'LIST_SEPARATORS', 'MAX_PARTS', 'MONEY_COLUMNS', 'MONEY_MAX_YUAN',
        'Problem', 'REJECT_REASONS', 'RESERVED_COLUMNS', 'RejectReason', 'RejectWriter', 'SETTLEMENT_REQUIRED',
        'SPILL_ROWS', 'STRING_COLUMNS', 'StreamingDuplicateFinder', 'VALID_SEX', 'VALUE_BOUNDS',
        'WithEarlierIds', 'WriteBehind', 'available_cores', 'blank_mask', 'case_file_kind', 'check_cases',
        'coerce_columns', 'detect_encoding', 'discard_partial', 'excel_sheets', 'hospital_tiers',
        'ids_as_checked', 'money_to_fen', 'money_to_fen_bounded', 'partial_path', 'plain_code_lists',
        'prefetch', 'read_budget', 'read_cases', 'read_county_income', 'read_csv_text', 'read_excel_sheet',
        'read_hospitals', 'read_reviews', 'read_table', 'read_violations', 'reasons_of', 'trimmed_ids',
        'validate_table', 'with_fen_columns', 'write_rejects', 'yuan_money_problems', 'yuan_to_fen_array',
        'yuan_to_fen_array_twin',
    ],
    "drg.pricing": [
        'CLASS_NAMES', 'COEF_SCALE', 'CaseToPrice', 'CoefficientMatrix', 'DICTIONARY_INPUTS', 'DrgYearSums',
        'HIGH', 'HistoryRows', 'HistoryYears', 'LOW', 'NORMAL', 'NOTE_NAMES', 'PER_DIEM', 'PRICED_COLUMNS',
        'PRICING_INPUTS', 'PricedArrays', 'PricingRule', 'REVIEW', 'STATISTICS_COLUMNS', 'UNGROUPABLE',
        'UNSTABLE', 'VIOLATION_REF', 'WeightRow', 'Weights', 'apply_violations', 'build_tables',
        'checked_columns', 'compute_coefficients', 'compute_weights', 'drg_mask', 'drg_year_sums',
        'grouped_scheme_id', 'halved_stays', 'has_drg', 'held_for_review', 'held_mask', 'history_columns_read',
        'history_rows', 'history_years', 'hospital_point_sums', 'hospital_point_totals', 'hospital_total',
        'is_per_diem', 'may_be_halved', 'one_scheme', 'pair_twin', 'per_diem_mask', 'point_sums_of',
        'price_arrays', 'price_cases', 'price_file', 'price_one_exact', 'pricing_columns', 'read_coefficients',
        'read_grouped', 'read_weights', 'round_half_away', 'rows_by_case_id', 'same_texts_twin',
        'scale_units_twin', 'summary_of_sums', 'text_group_hash_twin', 'tier_chain', 'to_units',
        'totals_of_point_sums', 'trim_mask', 'trimmed_sums', 'violation_refs', 'weights_from_sums',
        'with_priced_columns', 'write_priced', 'write_tables', 'write_weights',
    ],
    "drg.settlement": [
        'ALL_POOLS', 'CONTRACT_FEN_COLUMNS', 'COUNTY_COLUMNS', 'CURRENT', 'CaseAggregates', 'CellSums',
        'CountyAccount', 'DEDUCTIONS_DDL', 'DEDUCTION_TABLES', 'FINE_KEYS', 'FINE_SUMS', 'FIRST_VALUES',
        'GROUP_STATES', 'HOSPITAL_COLUMNS', 'HospitalInput', 'InputFile', 'LEDGER_TABLES', 'LEDGER_VIEWS',
        'Ledger', 'MONITOR_OPTIONAL', 'OUTLIER_CLASSES', 'PAUSE_ENV', 'PERIOD_GRAMMAR', 'PERIOD_KINDS',
        'PRICED_OPTIONAL', 'PRICED_REQUIRED', 'Period', 'PoolResult', 'PricedSums', 'RUNS', 'SCHEMA_VERSION',
        'SettlementResult', 'SettlementWarning', 'StatementOptions', 'SummedPriced', 'TEXT_COLUMNS', 'VIEWS',
        'add_rows_twin', 'aggregates_of', 'annual_pool', 'as_strings', 'check_invariants', 'cmi_of',
        'concat_frames', 'county_accounts', 'county_frame', 'county_schema', 'current_run', 'discard',
        'empty_frame', 'fen_columns', 'hospital_frame', 'hospital_inputs', 'hospital_schema', 'hospital_stats',
        'month_period', 'monthly_pool', 'parse_month', 'parse_period', 'parse_period_range', 'pool_budget',
        'pool_of', 'pool_warnings', 'prev_year_cmi', 'prev_year_spending', 'priced_columns_read', 'priced_sums',
        'provisional_point_value', 'publish', 'read_priced', 'record_deductions', 'recover', 'settle_month',
        'settle_months', 'settle_year', 'stage', 'write_frame',
    ],
    "drg.monitoring": [
        'INDICATOR_COLUMNS', 'MonitorResult', 'MonitorWarning', 'UNIT_TYPES', 'classify_low_risk', 'indicators',
        'low_risk_table', 'monitor_period', 'write_report',
    ],
    "drg.reports": [
        'Block', 'CLASS_LABELS', 'COEF_SOURCE_LABELS', 'COLUMNS', 'Cell', 'ChartJob', 'Column', 'FORMATS',
        'HELPER_MIN_BOOKS', 'INSURANCE_LABELS', 'KIND_LABELS', 'REJECT_LABELS', 'RunDetail', 'RunList',
        'SEX_LABELS', 'SHEET_NAMES', 'Sheet', 'TOTAL_LABEL', 'WARNING_LABELS', 'class_label',
        'coef_source_label', 'console', 'describe', 'hospital_statement_frames', 'insurance_label', 'kind_of',
        'label', 'pool_label', 'reject_label', 'render', 'run_detail', 'run_list', 'sex_label', 'start_chart',
        'statement_sheets', 'warning_label', 'write_city_summary', 'write_statements', 'write_workbook',
        'write_workbooks', 'yuan', 'yuan_text',
    ],
    "drg.estimate": [
        'BUNDLE_FILES', 'Bundle', 'CLASS_ZH', 'CaseInput', 'EstimateTables', 'FORMAT_VERSION', 'PointValue',
        'SHEETS', 'case_columns', 'case_from_json', 'estimate_case', 'estimate_file', 'format_case',
        'normal_cost_range', 'open_bundle', 'parse_point_values', 'parse_yuan', 'policy_toml', 'price_one',
        'publish', 'split_codes', 'validate_case', 'write_bundle_workbook', 'write_estimate',
    ],
    "drg.synth": [
        'BEHAVIOURS', 'CitySettings', 'DEMO_YEARS', 'HISTORY_YEARS', 'PlantSettings', 'SETTLEMENT_YEAR',
        'SchemeSample', 'SynthResult', 'TIERS', 'TIER_COST_LEVEL', 'TRUTH_SCHEMA', 'cities', 'city_settings',
        'data_dir', 'group_year', 'plant_year', 'print_summary', 'resolve_rules', 'run_demo', 'schemes',
        'synthesize', 'write_truth',
    ],
    "drg.audit": [
        'AUDIT_DDL', 'ApplyResult', 'AuditCases', 'AuditResult', 'BEHAVIOUR_OF', 'CASE_COLUMNS', 'DECISIONS',
        'DETECTORS', 'FACT_NAMES', 'FINDING_COLUMNS', 'Findings', 'PreparedCity', 'QUEUE_COLUMNS',
        'REVIEW_COLUMNS', 'SHEETS', 'VIOLATION_COLUMNS', 'apply_decisions', 'audit_run', 'benjamini_hochberg',
        'binomial_upper', 'decisions_to_violations', 'detect_cost_shift', 'detect_duplicates',
        'detect_low_standard', 'detect_split', 'detect_upcoding', 'empty_rows', 'evidence_json',
        'facts_from_priced', 'hospital_signals', 'hospital_test', 'measure', 'normal_upper', 'outpatient_adrgs',
        'poisson_upper', 'prepare_city', 'read_audit_cases', 'read_queue', 'record_decisions', 'record_queue',
        'run_detectors', 'trail', 'write_queue', 'write_queue_workbook', 'year_facts',
    ],

    "drg.distributed": [
        'Dataset', 'DrgWorker', 'Partition', 'build_tables_dataset', 'cluster_client', 'group_dataset',
        'local_cluster', 'open_dataset', 'price_dataset', 'read_manifest', 'settle_month_dataset',
        'settle_months_dataset', 'settle_year_dataset', 'split_cases', 'sum_priced',
    ],
    "drg.cli": [
        'COMMAND_ORDER', 'app', 'ledger_app', 'main', 'policy_app', 'run', 'scheme_app', 'settle_app',
    ],
}


def public_names(package: str) -> list[str]:
    """The public names of ``package`` (see the module docstring), sorted."""
    mod = importlib.import_module(package)
    if hasattr(mod, "__all__"):
        return sorted(mod.__all__)
    tree = ast.parse(open(mod.__file__, encoding="utf-8").read())
    bound = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.Assign):
            bound |= {t.id for t in node.targets if isinstance(t, ast.Name)}
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            bound.add(node.target.id)
    return sorted(n for n in bound if not n.startswith("_") or n == "__version__")


def modules_with_all() -> list[str]:
    """The modules of ``grouper`` and ``drg`` whose source assigns ``__all__`` (found without importing)."""
    names = []
    for pkg in ("grouper", "drg"):
        for path in sorted((REPO / pkg).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            targets = [t for node in tree.body if isinstance(node, ast.Assign) for t in node.targets]
            targets += [e for t in targets if isinstance(t, ast.Tuple) for e in t.elts]
            if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets):
                parts = path.relative_to(REPO).with_suffix("").parts
                names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


@pytest.mark.parametrize("package", sorted(PUBLIC))
def test_public_names_are_pinned(package):
    assert public_names(package) == PUBLIC[package]


@pytest.mark.parametrize("package", sorted(PUBLIC))
def test_every_public_name_resolves(package):
    """Each pinned name is there (a lazy re-export imports its module on first use)."""
    mod = importlib.import_module(package)
    missing = [n for n in PUBLIC[package] if not hasattr(mod, n)]
    assert not missing, missing


@pytest.mark.parametrize("module", modules_with_all())
def test_all_lists_only_names_the_module_has(module):
    mod = importlib.import_module(module)
    names = mod.__all__
    assert len(names) == len(set(names)), f"{module}.__all__ lists a name twice"
    missing = [n for n in names if not hasattr(mod, n)]
    assert not missing, f"{module}.__all__ lists names it does not have: {missing}"


def test_grouper_loads_its_rule_modules_only_when_a_name_is_used():
    """``grouper``'s package names are imported on first use (``grouper.lazy``): every drg command imports the
    error classes (``grouper.errors``) without the rule tables' modules; a name still works."""
    import subprocess
    import sys

    code = ("import sys, drg.errors\n"
            "print(sorted(m for m in ('grouper.scheme', 'grouper.reference', 'grouper.rules') if m in sys.modules))\n"
            "import grouper\n"
            "print(grouper.load_scheme.__module__, 'grouper.scheme' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split("\n")
    assert out[0] == "[]" and out[1] == "grouper.scheme True"
