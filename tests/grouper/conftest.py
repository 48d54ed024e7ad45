"""Fixtures of the grouper tests: ``group_case``, the reference grouper's call through the engine under test."""

from __future__ import annotations

import pytest

from tests.helpers.grouping import group_case_with


@pytest.fixture
def group_case(engine):
    """:func:`grouper.reference.group_case` on the engine under test: the reference itself (``python``) or the
    kernel on a one-case batch (``numba``, which neither explains nor matches codes exactly). A test that
    takes this fixture calls ``group_case(scheme, Case(...))`` as it would the reference, and runs on both."""
    return group_case_with(engine)
