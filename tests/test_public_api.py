"""The public API of ``grouper`` and ``drg`` is pinned: changing it is a decision, not an accident.

Every module that has public names lists them in ``__all__``; this test holds those lists. To change the
API on purpose, change the module and this list in the same commit, and say why in the message.
"""

from __future__ import annotations

import importlib
import pkgutil

import pytest

PUBLIC = {
    # issue 19: Dask distributed (new modules)
    "drg.cli.cluster": ['on_cluster'],
    "drg.distributed": [
        'Dataset', 'DrgWorker', 'Partition', 'build_tables_dataset', 'cluster_client', 'group_dataset',
        'local_cluster', 'open_dataset', 'price_dataset', 'read_manifest', 'settle_month_dataset',
        'settle_months_dataset', 'settle_year_dataset', 'split_cases', 'sum_priced',
    ],
    "drg.distributed.dataset": ['Dataset', 'Partition', 'open_dataset', 'split_cases'],
    "drg.distributed.grouping": ['group_dataset'],
    "drg.distributed.manifest": ['MANIFEST_NAME', 'file_sha256', 'read_manifest', 'write_manifest'],
    "drg.distributed.plugin": [
        'DrgWorker', 'cached', 'cached_scheme', 'cached_tables', 'cluster_client', 'kill_once', 'local_cluster',
        'pinned_env', 'task_threads',
    ],
    "drg.distributed.pricing": ['TOTALS_NAME', 'price_dataset'],
    "drg.distributed.settlement": ['settle_month_dataset', 'settle_months_dataset', 'settle_year_dataset', 'sum_priced'],
    "drg.distributed.shuffle": ['bucket_count', 'buckets_of', 'shuffle', 'split_by_bucket', 'tree_reduce', 'wait'],
    "drg.distributed.weights": ['build_tables_dataset'],
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
