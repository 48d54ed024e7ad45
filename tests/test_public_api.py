"""The public API of ``grouper`` and ``drg`` is pinned: changing it is a decision, not an accident.

Every module that has public names lists them in ``__all__``; this test holds those lists. To change the
API on purpose, change the module and this list in the same commit, and say why in the message.
"""

from __future__ import annotations

import importlib
import pkgutil

import pytest

PUBLIC = {
    "drg.casefile.background": ['WriteBehind', 'prefetch'],
    "drg.estimate.bundle": [
        'BUNDLE_FILES', 'Bundle', 'EstimateTables', 'FORMAT_VERSION', 'PointValue', 'open_bundle',
        'parse_point_values', 'policy_toml', 'publish',
    ],
    "drg.casefile.reader": [
        'CASE_SCHEMA', 'CaseBatch', 'CheckSummary', 'ColumnMapping', 'DuplicateFinder',
        'ESTIMATE_REQUIRED', 'IdHashCollision', 'MONEY_COLUMNS', 'REJECT_REASONS', 'RejectWriter',
        'SETTLEMENT_REQUIRED', 'StreamingDuplicateFinder', 'check_cases', 'detect_encoding',
        'fen_to_yuan_str', 'money_to_fen', 'plain_code_lists', 'read_cases', 'with_duplicate_fallback',
        'write_rejects', 'yuan_to_fen',
    ],
    "drg.pricing.coefficients": [
        'build_tables', 'compute_coefficients', 'read_coefficients', 'read_hospitals', 'tier_chain',
    ],
    "drg.synth.demo": [
        'DEMO_YEARS', 'HISTORY_YEARS', 'SETTLEMENT_YEAR', 'group_year', 'print_summary', 'run_demo',
    ],
    "drg.errors": [
        'InputError', 'InvariantError', 'PolicyError', 'read_toml',
    ],
    "drg.estimate.one_case": [
        'CaseInput', 'case_from_json', 'check_codes', 'estimate_case', 'estimate_file', 'fen_text',
        'format_case', 'normal_cost_range', 'parse_yuan', 'price_one', 'round_half_away',
        'suggest_codes', 'to_units',
    ],
    "drg.pricing.exact": [
        'CLASS_NAMES', 'COEF_SCALE', 'HIGH', 'LOW', 'NORMAL', 'PER_DIEM', 'REVIEW', 'UNGROUPABLE', 'UNSTABLE',
        'pair_twin', 'price_one_exact', 'round_half_away', 'scale_units_twin', 'to_units',
    ],
    "drg.monitoring": ['INDICATOR_COLUMNS', 'MonitorResult', 'MonitorWarning', 'UNIT_TYPES', 'classify_low_risk', 'indicators', 'low_risk_table', 'monitor_period', 'write_report'],
    "drg.monitoring.store": ['FACT_SUMS', 'MONITOR_DDL', 'RESULT_TABLES', 'RUN_TABLES', 'latest_policy', 'pool_runs', 'read_county_income', 'read_facts', 'read_hospitals', 'read_low_risk', 'record_low_risk', 'record_monitoring', 'record_run'],
    "drg.monitoring.lowrisk": ['LOW_RISK_FILE', 'classify_low_risk', 'low_risk_table', 'write_low_risk'],
    "drg.monitoring.indicators": ['INDICATOR_COLUMNS', 'SHARE_CLASSES', 'UNIT_TYPES', 'cc_shares', 'convergence', 'hospital_drg', 'indicators', 'prepare'],
    "drg.monitoring.warnings": ['MonitorWarning', 'SEVERITIES', 'cc_share_rise', 'cmi_rise', 'fund_pace', 'pv_drop', 'pv_projection', 'rate_checks', 'severity'],
    "drg.monitoring.checks": ['Checked', 'period_warnings'],
    "drg.monitoring.monitor": ['MonitorResult', 'OUTPUT_FILES', 'monitor_period'],
    "drg.monitoring.report": ['REPORT_NAME', 'render_report', 'write_report'],
    "drg.settlement.ledger": [
        'LEDGER_TABLES', 'Ledger', 'PAUSE_ENV',
    ],
    "drg.money": [
        'amount_for_points', 'apply_ratio', 'fen_to_decimal', 'fraction_text', 'largest_remainder',
        'parse_fraction', 'points_to_units', 'pv_text', 'pv_yuan', 'round_half_away',
        'units_to_decimal', 'yuan_to_fen_exact',
    ],
    "drg.casefile.partial": ['discard_partial', 'partial_path'],
    "drg.pricing.points": [
        'PRICED_COLUMNS', 'hospital_point_totals', 'price_cases', 'price_file', 'read_reviews',
        'read_violations',
    ],
    "drg.policy": [
        'Blend', 'BudgetPolicy', 'CoefPolicy', 'CountyPolicy', 'HighStep', 'MonitoringPolicy', 'PARAMS',
        'PerDiemPolicy', 'Policy', 'PolicyInfo', 'PrepaymentPolicy', 'PricingPolicy',
        'ReadmissionPolicy', 'ReservePolicy', 'TrimPolicy', 'ViolationPolicy', 'WeightsPolicy',
        'list_policies', 'load_policy', 'policies_dir', 'policy_rows', 'policy_to_dict',
        'read_policy_values', 'resolve_policy_path',
    ],
    "drg.settlement.pools": [
        'ALL_POOLS', 'CountyAccount', 'county_accounts', 'pool_budget', 'pool_of', 'read_budget',
        'read_county_income', 'read_hospitals', 'read_table',
    ],
    "drg.cli.progress": [
        'row_progress',
    ],
    "drg.reports.statements": [
        'hospital_statement_frames', 'write_city_summary', 'write_statements',
    ],
    "drg.synth.samples": [
        'SchemeSample', 'cities', 'city_settings', 'data_dir', 'resolve_rules', 'schemes',
    ],
    "drg.settlement.runs": [
        'COUNTY_COLUMNS', 'CaseAggregates', 'HOSPITAL_COLUMNS', 'HospitalInput', 'InputFile',
        'PoolResult', 'SettlementResult', 'SettlementWarning', 'annual_pool', 'check_invariants',
        'hospital_total', 'monthly_pool', 'parse_period', 'provisional_point_value', 'read_priced',
        'settle_month', 'settle_months', 'settle_year',
    ],
    "drg.synth.city": [
        'CitySettings', 'SynthResult', 'TIERS', 'TIER_COST_LEVEL', 'synthesize',
    ],
    "drg.pricing.weights": [
        'UNGROUPABLE_DRG', 'Weights', 'case_years', 'compute_weights', 'encode_strings', 'money_to_fen',
        'per_diem_mask', 'read_grouped', 'read_weights', 'trim_mask', 'write_weights',
    ],
    "grouper": [
        'Case', 'Result', 'Scheme', 'SchemeOptions', 'group_case', 'load_scheme', 'normalize_code',
    ],
    "grouper.build": [
        'BIG', 'BuildReport', 'SPLIT_CC', 'build_scheme', 'check_scheme',
    ],
    "grouper.catalogue": [
        'Catalogue', 'SEX_OF_MDC', 'build_catalogue', 'newborn_band',
    ],
    "grouper.rules": [
        'AdrgRule', 'Clause', 'CodeDictionary', 'RuleSet', 'load_code_dictionary', 'load_rule_set',
    ],
}


def _modules_with_all() -> dict[str, list[str]]:
    found = {}
    for pkg in ("grouper", "drg"):
        p = importlib.import_module(pkg)
        if getattr(p, "__all__", None):
            found[pkg] = sorted(p.__all__)
        for m in pkgutil.walk_packages(p.__path__, pkg + "."):
            mod = importlib.import_module(m.name)
            if getattr(mod, "__all__", None):
                found[m.name] = sorted(mod.__all__)
    return found


def test_public_names_are_pinned():
    assert _modules_with_all() == PUBLIC


@pytest.mark.parametrize("module", sorted(PUBLIC))
def test_every_public_name_exists(module):
    mod = importlib.import_module(module)
    missing = [n for n in PUBLIC[module] if not hasattr(mod, n)]
    assert not missing, missing
