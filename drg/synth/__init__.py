"""Sample data: synthetic cities drawn from any scheme (with the audit's behaviours planted, ``--plant``), the
registry of samples shipped in ``data/``, and the whole job on the demo data (``drg demo``).
"""

from drg._lazy import lazy_exports

_EXPORTS = {
    "BEHAVIOURS": "plant",
    "CitySettings": "city",
    "DEMO_YEARS": "demo",
    "HISTORY_YEARS": "demo",
    "PlantSettings": "plant",
    "SETTLEMENT_YEAR": "demo",
    "SchemeSample": "samples",
    "SynthResult": "city",
    "TIERS": "city",
    "TIER_COST_LEVEL": "city",
    "TRUTH_SCHEMA": "plant",
    "cities": "samples",
    "city_settings": "samples",
    "data_dir": "samples",
    "group_year": "demo",
    "plant_year": "plant",
    "print_summary": "demo",
    "resolve_rules": "samples",
    "run_demo": "demo",
    "schemes": "samples",
    "synthesize": "city",
    "write_truth": "plant",
}
__all__, __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
