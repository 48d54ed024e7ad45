"""A hospital's month (:func:`drg.estimate.month.estimate_file`): from its GBK export with Chinese headers, or a
Parquet file, to the estimate's summary and cases, on each engine (the command, with its Excel and CSV
outputs, is in tests/cli/test_estimate_month_cli.py)."""

from __future__ import annotations

import pytest

from drg.estimate import estimate_file, open_bundle, parse_yuan
from tests.helpers.estimate_world import MAPPING, write_his_csv

def test_summary_adds_up(world, his_csv, engine):
    path, rows = his_csv
    res = estimate_file(open_bundle(world["bundle"]), path, mapping=MAPPING, engine=engine)
    s = res["summary"]
    t = res["cases"]
    assert s["rows_read"] == s["cases"] + s["rejected"]
    assert s["cases"] == t.num_rows == len(rows)
    assert sum(s["by_class"].values()) == s["cases"]
    assert s["outliers"] == s["by_class"].get("high", 0) + s["by_class"].get("low", 0)
    assert s["cost_fen"] == sum(parse_yuan(r["total_cost"]) for r in rows)
    assert sum(p["cases"] for p in s["pools"]) == s["cases"]
    assert s["income_fen"] == sum(p["income_fen"] for p in s["pools"])
    # the pool income is round(Σ points × PV); the sum of the per-case roundings is within half a fen a case
    per_case = sum(t.column("entitlement_fen").to_pylist())
    assert abs(per_case - s["income_fen"]) <= s["cases"] / 2
    bp = [x for x in t.column("base_points").to_pylist() if x is not None]
    assert s["cmi"] == pytest.approx(sum(bp) / len(bp) / 100, abs=1e-4)
    assert s["top_drgs"][0]["cases"] >= s["top_drgs"][-1]["cases"]
    # the code that set each case's CC level travels with it (CONTRACT: cc_dx, null at level 0)
    levels, cc_dx = t.column("cc_level").to_pylist(), t.column("cc_dx").to_pylist()
    assert all((lvl == 0) == (code is None) for lvl, code in zip(levels, cc_dx))


def test_parquet_input_without_hospital_column_uses_flags(world, tmp_path, engine):
    t = world["month"].slice(0, 60).drop_columns(["hospital_id", "insurance_type"])
    import pyarrow.parquet as pq

    p = tmp_path / "month.parquet"
    pq.write_table(t, p)
    res = estimate_file(open_bundle(world["bundle"]), p, hospital_id="H0002", insurance_type="390",
                        engine=engine)
    c = res["cases"]
    assert set(c.column("hospital_id").to_pylist()) == {"H0002"}
    assert set(c.column("point_value").to_pylist()) == {80.2}


def test_unknown_codes_in_a_file_are_noted_with_suggestions(world, tmp_path, engine):
    rows = [r for r in world["month"].to_pylist() if r["age"] > 0][:5]
    rows[0] = dict(rows[0], dx=["I21.000"] + rows[0]["dx"][1:])
    p = write_his_csv(rows, tmp_path / "m.csv")
    res = estimate_file(open_bundle(world["bundle"]), p, mapping=MAPPING, engine=engine)
    assert "dx I21.000" in res["summary"]["unknown_codes"]
    assert "I21.900" in res["summary"]["unknown_codes"]["dx I21.000"]
    note = res["cases"].column("group_note").to_pylist()[0]
    assert "I21.000" in note and "I21.900" in note
