"""Fixtures of the audit tests (issue 20), each built once per session:

* ``planted`` — the demo city (100,000 cases over 2023–2025, seed 3003) with the behaviours of ``drg synth
  --plant`` in 2025, grouped, weighted from 2023–2024 and priced (2024 and 2025): the files of
  :class:`drg.audit.measure.PreparedCity`;
* ``planted_audit`` — ``drg audit run`` over its 2025 (history 2024, the hospitals' tiers), workbook included;
* ``clean`` and ``clean_audit`` — the same city and seed without planting, and its audit (the false
  positives of an honest city).

Seed 3003 is one of the measurement seeds, not one the rules were developed on (docs/audit.md gives the
figures of every seed); the city is the size of the measured ones (about 35,000 audited cases) and takes a
few seconds to build.
"""

from __future__ import annotations

import pytest

CASES = 100_000
SEED = 3003


@pytest.fixture(scope="session")
def planted(tmp_path_factory):
    from drg.audit.measure import prepare_city
    from drg.synth.plant import PlantSettings

    return prepare_city(tmp_path_factory.mktemp("audit_planted"), cases=CASES, seed=SEED, plant=PlantSettings(),
                        engine="numba")


@pytest.fixture(scope="session")
def planted_audit(planted):
    from drg.audit.run import audit_run

    return audit_run(planted.priced[planted.year], planted.history, policy=planted.policy,
                     out=planted.out / "audit" / "queue.parquet", hospitals=planted.hospitals)


@pytest.fixture(scope="session")
def clean(tmp_path_factory):
    from drg.audit.measure import prepare_city

    return prepare_city(tmp_path_factory.mktemp("audit_clean"), cases=CASES, seed=SEED, plant=None, engine="numba")


@pytest.fixture(scope="session")
def clean_audit(clean):
    from drg.audit.run import audit_run

    return audit_run(clean.priced[clean.year], clean.history, policy=clean.policy,
                     out=clean.out / "audit" / "queue.parquet", hospitals=clean.hospitals, workbook=False)
