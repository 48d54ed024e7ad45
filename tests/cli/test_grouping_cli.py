"""``drg scheme build``, ``drg scheme show``, ``drg group`` and ``drg explain`` end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from drg.cli import app
from tests.helpers.paths import SHARED

runner = CliRunner()


def test_scheme_build_prints_manifest_and_checks(demo_scheme):
    r = runner.invoke(app, ["scheme", "show", str(demo_scheme), "--json"])
    m = json.loads(r.output)
    assert m["scheme"] == "demo" and m["counts"]["drgs"] > 0 and m["format_version"] == 2
    assert set(m["checks"]) == {"unreachable_adrgs", "unreachable_drgs", "adrgs_without_lists", "dead_splits"}


@pytest.mark.parametrize("name,codes", [("CHS_DRG_11", "chs_drg_11"), ("CHS_DRG_10", "chs_drg_10"),
                                        ("CHS_DRG_10P", "chs_drg_10"), ("CHS_DRG_20", "chs_drg_20")])
def test_published_sets_build(tmp_path, name, codes):
    if not (SHARED / "schemes" / name).is_dir():
        pytest.skip("../shared absent")
    out = tmp_path / f"{name}.drgscheme"
    r = runner.invoke(app, ["scheme", "build", str(SHARED / "schemes" / name), "--codes",
                            str(SHARED / "codes" / codes), "--out", str(out), "--json"])
    assert r.exit_code == 0, r.output
    m = json.loads(r.output)
    assert m["counts"]["adrgs"] == (409 if name == "CHS_DRG_20" else 376) and m["counts"]["mdcs"] == 26
    assert m["checks"]["unreachable_drgs"] == []
    if name == "CHS_DRG_10":   # 1.0 rules against the 1.0 dictionary: reported, with counts
        assert any("missing from the dictionary" in x for x in m["compile_report"])


def _cases(path: Path, rows: list[dict]) -> Path:
    types = {"case_id": pa.string(), "sex": pa.int8(), "age": pa.int16(), "age_days": pa.int32(),
             "birth_weight": pa.int32(), "los": pa.int32(), "dx": pa.list_(pa.string()),
             "px": pa.list_(pa.string()), "vent_hours": pa.int32(), "hospital_id": pa.string()}
    pq.write_table(pa.table({k: pa.array([r.get(k) for r in rows], t) for k, t in types.items()}), path)
    return path


def test_group_keeps_columns_and_rejects(tmp_path, demo_scheme):
    from grouper import load_scheme

    s = load_scheme(demo_scheme)
    dx = s.dx_codes[0]
    cases = _cases(tmp_path / "c.parquet", [
        {"case_id": "a", "sex": 1, "age": 50, "los": 3, "dx": [dx], "px": [], "hospital_id": "H1"},
        {"case_id": "b", "sex": 1, "age": 50, "los": 3, "dx": ["NOPE.1"], "px": [], "hospital_id": "H1"},
        {"case_id": "c", "sex": 1, "age": 50, "los": 3, "dx": [], "px": [], "hospital_id": "H1"},
    ])
    out, rej = tmp_path / "g.parquet", tmp_path / "rej.csv"
    r = runner.invoke(app, ["group", "--scheme", str(demo_scheme), "--cases", str(cases), "--out", str(out),
                            "--rejects", str(rej), "--json"])
    assert r.exit_code == 0, r.output
    summary = json.loads(r.output)
    g = pq.read_table(out)
    assert summary["read"] == summary["rows"] + summary["rejected"] == 3
    for c in ("case_id", "hospital_id", "dx", "mdc", "adrg", "drg", "cc_level", "group_status", "group_note"):
        assert c in g.column_names
    got = dict(zip(g.column("case_id").to_pylist(), g.column("group_status").to_pylist()))
    assert got["b"] == "unknown_principal_dx"
    r = runner.invoke(app, ["group", "--scheme", str(demo_scheme), "--cases", str(cases), "--out",
                            str(tmp_path / "s.parquet"), "--slim", "--quiet"])
    assert r.exit_code == 0, r.output
    assert pq.read_table(tmp_path / "s.parquet").column_names == ["case_id", "mdc", "adrg", "drg", "cc_level",
                                                                 "cc_dx", "group_status", "group_note"]


@pytest.mark.parametrize("slim", [False, True])
def test_group_writes_code_lists_as_the_file_had_them(tmp_path, demo_scheme, slim):
    """Codes are read dictionary-encoded; the grouped file (every column kept) and the rejects (Parquet)
    still hold them as the plain lists of strings of the input, with the input's field names."""
    from grouper import load_scheme

    s = load_scheme(demo_scheme)
    dx = s.dx_codes[0]
    cases = tmp_path / "c.parquet"
    codes = pa.list_(pa.field("element", pa.string()))
    pq.write_table(pa.table({"case_id": ["a", "a", "b"], "sex": pa.array([1, 1, 1], pa.int8()),
                             "age": pa.array([50, 50, 50], pa.int16()),
                             "dx": pa.array([[dx, "X1"], [dx], [dx]], codes),
                             "px": pa.array([[], ["Y"], None], codes)}), cases)
    out, rej = tmp_path / "g.parquet", tmp_path / "rej.parquet"
    r = runner.invoke(app, ["group", "--scheme", str(demo_scheme), "--cases", str(cases), "--out", str(out),
                            "--rejects", str(rej), "--quiet"] + (["--slim"] if slim else []))
    assert r.exit_code == 0, r.output
    rejects = pq.read_table(rej)
    assert rejects.schema.field("dx").type == codes and rejects.column("dx").to_pylist() == [[dx]]
    assert rejects.column("px").to_pylist() == [["Y"]]
    if not slim:
        g = pq.read_table(out)
        assert g.schema.field("dx").type == codes and g.schema.field("px").type == codes
        assert g.column("dx").to_pylist() == [[dx, "X1"], [dx]] and g.column("px").to_pylist() == [[], None]


def test_explain_from_flags_and_file(tmp_path, demo_scheme):
    from grouper import load_scheme

    s = load_scheme(demo_scheme)
    dx = s.dx_codes[0]
    r = runner.invoke(app, ["explain", "--scheme", str(demo_scheme), "--dx", dx, "--age", "60", "--sex", "1",
                            "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["steps"] and out["drg"]
    cases = _cases(tmp_path / "c.parquet", [{"case_id": "x1", "sex": 1, "age": 60, "los": 2, "dx": [dx]}])
    r = runner.invoke(app, ["explain", "--scheme", str(demo_scheme), "--cases", str(cases), "--case-id", "x1"])
    assert r.exit_code == 0 and "=> drg" in r.output
    r = runner.invoke(app, ["explain", "--scheme", str(demo_scheme), "--cases", str(cases), "--case-id", "zz"])
    assert r.exit_code != 0


def test_cc_tables_from_another_rule_set(tmp_path):
    if not (SHARED / "schemes" / "CHS_DRG_10").is_dir():
        pytest.skip("../shared absent")
    out = tmp_path / "s.drgscheme"
    r = runner.invoke(app, ["scheme", "build", str(SHARED / "schemes" / "CHS_DRG_10"), "--codes",
                            str(SHARED / "codes" / "chs_drg_10"), "--cc-tables",
                            str(SHARED / "schemes" / "CHS_DRG_10P"), "--out", str(out)])
    assert r.exit_code == 0, r.output
    from grouper import load_scheme

    m = load_scheme(out).manifest
    assert "cc-tables/5_MCC.txt" in m["sources"] and "5_MCC.txt" not in m["sources"]
    assert m["counts"]["exclusion_tables"] == 198      # CHS_DRG_10P's tables, not CHS_DRG_10's 201


def test_explain_shows_the_20_steps(scheme_files):
    """drg explain on CHS-DRG 2.0: the code checks, the pre-MDC entries, which term of an 入组条件 held, the
    ambiguous group, cc_dx."""
    s = str(scheme_files["20"])
    r = runner.invoke(app, ["explain", "--scheme", s, "--dx", "J18.900,Z93.000,E87.600", "--px", "00.0101,96.7201",
                            "--age", "60", "--sex", "1"])
    assert r.exit_code == 0, r.output
    assert "invalid list (SS_INVALID): its slot is emptied" in r.output
    assert "AH2 rule 1 [其他诊断 + 手术或操作 2]" in r.output and "holds" in r.output
    assert "cc_level 1 (E87.600)" in r.output
    r = runner.invoke(app, ["explain", "--scheme", s, "--dx", "K74.600", "--px", "36.0700", "--age", "60", "--sex",
                            "1", "--json"])
    out = json.loads(r.output)
    assert (out["drg"], out["group_status"]) == ("HQY", "ambiguous") and out["cc_detail"] == []
    assert any(x.startswith("MDCP: not entered") for x in out["steps"])
    assert any("ambiguous group HQY" in x for x in out["steps"])


def test_slim_20_file_holds_ambiguous_groups_and_cc_dx(tmp_path, scheme_files, scheme20):
    """A slim grouped file of the 2.0 reference cases equals the reference grouper's answers, xQY groups and
    cc_dx included."""
    from grouper.reference import group_case

    from tests.helpers.reference_cases import reference_case

    cases = SHARED / "reference" / "chs_drg_20_cases.parquet"
    if not cases.exists():
        pytest.skip("../shared/reference absent")
    out = tmp_path / "slim.parquet"
    r = runner.invoke(app, ["group", "--scheme", str(scheme_files["20"]), "--cases", str(cases), "--out", str(out),
                            "--slim", "--quiet"])
    assert r.exit_code == 0, r.output
    got = pq.read_table(out).to_pylist()
    rows = pq.read_table(cases).to_pylist()
    assert len(got) == len(rows) == 3000
    for g, row in zip(got[::7], rows[::7]):
        ref = group_case(scheme20, reference_case(row))
        assert (g["drg"], g["cc_dx"], g["group_status"]) == (ref.drg, ref.cc_dx, ref.status), row["case_id"]
    assert any(g["group_status"] == "ambiguous" and g["drg"].endswith("QY") for g in got)
