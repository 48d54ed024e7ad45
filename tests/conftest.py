"""Fixtures shared across test directories.

``demo_run``: ``drg demo`` on 6,000 cases a year through the command line, run once per session; the demo's
own tests (tests/test_demo.py) and the monitoring tests (tests/monitoring) both read it.
"""

from __future__ import annotations

import json

import pytest


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory):
    from typer.testing import CliRunner

    from drg.cli import app

    out = tmp_path_factory.mktemp("demo")
    result = CliRunner().invoke(app, ["demo", "--out", str(out), "--cases", "6000", "--json", "--quiet"])
    assert result.exit_code == 0, result.output
    return out, json.loads(result.output)
