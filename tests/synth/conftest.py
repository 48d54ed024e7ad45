"""Fixtures of the synth tests, each built once per session: the demo rule tables, a synthetic city of 30,000
cases (2024–2025) with its accepted cases, and a whole ``drg demo`` run."""

from __future__ import annotations


import pytest


@pytest.fixture(scope="session")
def demo_rules():
    """``(rule set, code dictionary)`` of the demo scheme."""
    from drg.synth import schemes
    from grouper.rules import load_code_dictionary, load_rule_set

    sample = schemes()["demo"]
    return load_rule_set(sample.rules_dir), load_code_dictionary(sample.codes_dir)


@pytest.fixture(scope="session")
def city(demo_rules, tmp_path_factory):
    """A synthetic city of 30,000 cases over 2024–2025 (seed 11, files of 8,000-row row groups)."""
    from drg.synth import city_settings, synthesize

    out = tmp_path_factory.mktemp("city")
    return synthesize(*demo_rules, out, cases=30_000, years=[2024, 2025], seed=11,
                      settings=city_settings("demo"), chunk_rows=8_000)


@pytest.fixture(scope="session")
def cases(city):
    """The accepted cases of the city (the planted bad rows are the reject path's business)."""
    import polars as pl
    import pyarrow as pa

    from drg.casefile import read_cases

    parts = [pa.Table.from_batches([b.accepted]) for p in city.case_files.values() for b in read_cases(p)]
    return pl.from_arrow(pa.concat_tables(parts)).drop(
        "total_cost_fen", "fund_paid_fen", "self_paid_fen", "other_paid_fen", "row_number")


@pytest.fixture(scope="session")
def demo(demo_run):
    """``(out directory, JSON summary)`` of ``drg demo --cases 6000`` (the session's run, tests/conftest.py)."""
    return demo_run
