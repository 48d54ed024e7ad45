"""Fixtures shared by the whole suite.

* ``engine`` — every grouping and pricing test runs twice, on the numba kernels and on their plain twins
  (:mod:`tests.helpers.engines`); pass it to whatever takes an ``engine`` argument.
* ``built_scheme`` — schemes compiled once per session (the demo scheme, and the published sets of
  ``../shared`` when present); ``scheme11``, ``scheme20`` and ``scheme_files`` — the published 1.1 and 2.0
  schemes, and both as files; ``demo_scheme_file`` — the demo scheme as a file.
* ``demo_run`` — one ``drg demo`` run per session (read by tests/synth and tests/monitoring).
* ``world`` and ``his_csv`` — the published world of the estimate tests and a hospital's GBK month export
  (:mod:`tests.helpers.estimate_world`), built once per session.

Fixtures of one folder live in that folder's ``conftest.py``; data builders are plain functions in
:mod:`tests.helpers`.
"""

from __future__ import annotations

import pytest

from tests.helpers.engines import ENGINES, engine_routes
from tests.helpers.paths import SCHEME_SOURCES


@pytest.fixture(params=ENGINES)
def engine(request) -> str:
    """``"numba"`` or ``"python"``: the engine the test passes on, with the kernels no caller chooses (yuan →
    fen, streamed duplicate ids) sent the same way for the length of the test."""
    with engine_routes(request.param):
        yield request.param


@pytest.fixture(scope="session")
def built_scheme():
    """``built_scheme(name, options=None)``: the compiled scheme ``name`` (a key of
    :data:`tests.helpers.paths.SCHEME_SOURCES`), built once per session for each ``options``; skips the test
    when its rule tables are absent. Tests only read a scheme."""
    from grouper.build import build_scheme

    cache = {}

    def build(name: str, options=None, *, report: bool = False):
        rules, codes = SCHEME_SOURCES[name]
        if not rules.is_dir():
            pytest.skip(f"{rules} absent")
        key = (name, repr(options))
        if key not in cache:
            cache[key] = build_scheme(rules, codes, options=options)
        return cache[key] if report else cache[key][0]

    return build


@pytest.fixture(scope="session")
def scheme11(built_scheme):
    """The published CHS-DRG 1.1 scheme (skips without ../shared)."""
    return built_scheme("CHS_DRG_11")


@pytest.fixture(scope="session")
def scheme20(built_scheme):
    """The published CHS-DRG 2.0 scheme (skips without ../shared)."""
    return built_scheme("CHS_DRG_20")


@pytest.fixture(scope="session")
def scheme_files(tmp_path_factory, scheme11, scheme20) -> dict:
    """The two published schemes written as scheme files (for the command line): ``{"11": path, "20": path}``."""
    d = tmp_path_factory.mktemp("schemes")
    return {"11": scheme11.save(d / "chs11.scheme"), "20": scheme20.save(d / "chs20.scheme")}


@pytest.fixture(scope="session")
def demo_scheme_file(tmp_path_factory):
    """The demo scheme compiled to a file (by the library; tests/cli builds its own through the command)."""
    from grouper.build import build_scheme

    rules, codes = SCHEME_SOURCES["demo"]
    out = tmp_path_factory.mktemp("scheme") / "demo.drgscheme"
    build_scheme(rules, codes, out=out)
    return out


@pytest.fixture(scope="session")
def world(tmp_path_factory) -> dict:
    """The published world of the estimate tests (:func:`tests.helpers.estimate_world.build_world`)."""
    from tests.helpers.estimate_world import build_world

    return build_world(tmp_path_factory.mktemp("estimate_world"))


@pytest.fixture(scope="session")
def his_csv(world, tmp_path_factory):
    """``(path, rows)``: hospital H0004's month as its system's GBK export, with one unreadable row
    (:func:`tests.helpers.estimate_world.write_his_month`)."""
    from tests.helpers.estimate_world import write_his_month

    path = tmp_path_factory.mktemp("his") / "出院结算清单-2025.csv"
    return path, write_his_month(world, path)


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory):
    """``(out directory, JSON summary)`` of ``drg demo --cases 6000`` through the command line, run once per
    session: the demo's own tests (tests/synth) and the monitoring tests (tests/monitoring) both read it."""
    import json

    from typer.testing import CliRunner

    from drg.cli import app

    out = tmp_path_factory.mktemp("demo")
    result = CliRunner().invoke(app, ["demo", "--out", str(out), "--cases", "6000", "--json", "--quiet"])
    assert result.exit_code == 0, result.output
    return out, json.loads(result.output)
