"""Fixtures of the command-line tests: inputs made through the commands themselves where the command is part
of what is tested (``demo_scheme`` by ``drg scheme build``, ``city`` by ``drg synth``), once per session; and
the priced city of the settlement commands (a fresh copy each test: the commands write its ledger)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from drg.cli import app
from tests.helpers.paths import SCHEME_SOURCES


@pytest.fixture(scope="session")
def demo_scheme(tmp_path_factory) -> Path:
    """The demo scheme file, built with ``drg scheme build``."""
    rules, codes = SCHEME_SOURCES["demo"]
    out = tmp_path_factory.mktemp("scheme") / "demo.drgscheme"
    r = CliRunner().invoke(app, ["scheme", "build", str(rules), "--codes", str(codes), "--out", str(out)])
    assert r.exit_code == 0, r.output
    return out


@pytest.fixture(scope="session")
def city(tmp_path_factory) -> Path:
    """A synthetic city of 4,000 cases in 2025, written by ``drg synth``."""
    out = tmp_path_factory.mktemp("synth")
    result = CliRunner().invoke(app, ["synth", "--out", str(out), "--cases", "4000", "--years", "2025",
                                      "--seed", "5", "--quiet"])
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture()
def priced_city(tmp_path) -> dict:
    """A year of priced cases with budget, county income, policy and a ledger path
    (:func:`tests.helpers.priced_cases.write_priced_city`)."""
    from tests.helpers.priced_cases import write_priced_city

    return write_priced_city(tmp_path)
