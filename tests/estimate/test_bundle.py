"""Publishing a bundle (:func:`drg.estimate.bundle.publish`): the bundle's files, manifest hashes, the resolved
policy, the compact estimate tables, point values from flags and from a settlement ledger (``drg publish``
is in tests/cli/test_estimate_cli.py)."""

from __future__ import annotations

import dataclasses
import json
from fractions import Fraction

import pytest

from drg.estimate import BUNDLE_FILES, open_bundle, parse_point_values, publish
from drg.estimate.bundle import sha256_file
from drg.errors import InputError
from drg.policy import load_policy


def test_bundle_has_every_file_with_its_hash(world):
    b = world["bundle"]
    m = json.loads((b / "manifest.json").read_text(encoding="utf-8"))
    assert m["kind"] == "drg-bundle" and m["policy_id"] == "estimate-test" and m["settlement_year"] == 2025
    for key, name in BUNDLE_FILES.items():
        assert m["files"][key]["path"] == name
        assert m["files"][key]["sha256"] == sha256_file(b / name)
    assert "codes" in m["files"]
    assert m["point_values"]["310"]["yuan_per_point"] == "85.5000"
    assert m["scheme"]["name"] == "demo"


def test_policy_is_resolved_and_equal(world):
    original = load_policy(world["policy"])
    copy = load_policy(world["bundle"] / "policy.toml")
    assert dataclasses.replace(copy, path=None) == dataclasses.replace(original, path=None)
    text = (world["bundle"] / "policy.toml").read_text(encoding="utf-8")
    assert "extends" not in text.split("\n", 1)[1]
    # a cited source survives the resolution
    assert copy.origins["readmission.window_days"][1].startswith("source:")


def test_estimate_tables_match_the_parquet_tables(world):
    from drg.pricing import read_coefficients, read_weights

    b = open_bundle(world["bundle"])
    w = read_weights(b.file("weights"))
    c = read_coefficients(b.file("coefficients"))
    tb = b.tables
    assert tb.a_fen == float(w.a_fen) and tb.a_fen_exact == w.a_fen
    assert tb.drgs == w.table.column("drg").to_pylist()
    for col in ("base_points", "mean_cost_fen", "stable", "per_diem_points", "per_diem_mean_fen", "n_cases"):
        assert getattr(tb, col) == w.table.column(col).to_pylist(), col
    src = {"hospital": "h", "tier": "t", "1.0": "1"}
    for row in c.to_pylist():
        rec = tb.hospitals[row["hospital_id"]]
        i = tb.index[row["drg"]]
        assert rec["tier"] == row["tier"]
        assert rec["coef"][i] == row["coef"]
        assert rec["coef_source"][i] == src[row["coef_source"]]
        assert rec["n_hospital"][i] == row["n_hospital"]
    assert tb.blend == {"hospital": "0.5", "tier": "0.3", "one": "0.2"}


def test_point_values_parse_exactly():
    pv = parse_point_values(["310=85.5", "390=80.2"])
    assert pv["310"].fen_per_point == 8550 and pv["390"].fen_per_point == 8020
    assert parse_point_values(["85.12345"])["all"].fen_per_point == Fraction("8512.345")
    assert parse_point_values(["85.12345"])["all"].yuan_text == "85.1235"
    for bad in (["310=abc"], ["310=-1"], ["310=1", "310=2"], []):
        with pytest.raises(InputError):
            parse_point_values(bad)


def test_publish_needs_point_values_or_a_ledger(world, tmp_path):
    with pytest.raises(InputError, match="either --point-value"):
        publish(world["scheme"], world["tables"], world["policy"], tmp_path / "b")
    with pytest.raises(InputError, match="weights.parquet"):
        publish(world["scheme"], tmp_path, world["policy"], tmp_path / "b", point_values=["85"])
    with pytest.raises(InputError, match="scheme file not found"):
        publish(tmp_path / "none.scheme", world["tables"], world["policy"], tmp_path / "b", point_values=["85"])


def _ledger_with_runs(path):
    """A ledger in the settlement ledger's own schema (drg.settlement.ledger), with an annual and a monthly run."""
    from drg.settlement import Ledger

    with Ledger(path).connect() as con:
        con.execute("INSERT INTO runs (run_id, kind, period, year, month, policy_id) VALUES "
                    "('r1', 'year', '2025', 2025, NULL, 'demo'), ('r2', 'month', '2025-06', 2025, 6, 'demo')")
        con.execute("INSERT INTO pool_results (run_id, pool, point_value, point_value_exact) VALUES "
                    "('r1', '310', 85.4321, '2563/30'), ('r1', '390', 80.0, '8000'), "
                    "('r2', '310', 84.0, '8400'), ('r2', '390', 79.0, '7900')")


def test_point_values_from_a_settlement_ledger(world, tmp_path):
    ledger = tmp_path / "ledger.duckdb"
    _ledger_with_runs(ledger)
    m = publish(world["scheme"], world["tables"], world["policy"], tmp_path / "b", ledger=ledger, period="2025")
    assert m["point_value_source"] == "ledger"
    b = open_bundle(tmp_path / "b")
    assert b.point_values["310"].fen_per_point == Fraction(2563, 30)   # exact, never the rounded display
    assert b.point_values["390"].fen_per_point == 8000
    assert "ledger" in b.point_values["310"].source
    publish(world["scheme"], world["tables"], world["policy"], tmp_path / "m", ledger=ledger, period="2025-06")
    assert open_bundle(tmp_path / "m").point_values["310"].fen_per_point == 8400
    with pytest.raises(InputError, match="2025-06"):      # names the periods that exist
        publish(world["scheme"], world["tables"], world["policy"], tmp_path / "x", ledger=ledger, period="2024")


def test_one_pool_missing_is_a_warning_and_no_money(world, tmp_path):
    m = publish(world["scheme"], world["tables"], world["policy"], tmp_path / "b", point_values=["310=85.5"])
    assert any("390" in w for w in m["warnings"])
    from drg.estimate import CaseInput, estimate_case

    r = estimate_case(open_bundle(tmp_path / "b"), CaseInput(dx=["I50.908"], sex=1, age=60, los=5,
                                                            total_cost_fen=500000, insurance_type="390"))
    assert "entitlement_fen" not in r["money"] and "no point value" in r["money"]["note"]


def test_tables_without_exact_means_fall_back_to_the_floats():
    """A bundle published from weights written before the exact means existed still prices (found in use)."""
    from fractions import Fraction

    from drg.estimate.bundle import _exact_list

    assert _exact_list([None, "100000/3", None], [2.5, 33333.333333333336, None]) == [
        Fraction(5, 2), Fraction(100000, 3), None]
    assert _exact_list(None, [1.5]) == [Fraction(3, 2)]
