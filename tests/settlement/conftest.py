"""Fixtures of the settlement tests: ``city``, a year of priced cases with its budget, county income, policy
and a ledger path, written afresh for each test (the runs write into its ledger)."""

from __future__ import annotations

import pytest

from tests.helpers.priced_cases import write_priced_city


@pytest.fixture()
def city(tmp_path) -> dict:
    """:func:`tests.helpers.priced_cases.write_priced_city` in the test's own directory."""
    return write_priced_city(tmp_path)
