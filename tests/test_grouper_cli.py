"""``drg scheme build``, ``drg group`` and ``drg explain`` end to end, and the scheme file's loading path."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from drg.cli import app

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO / ".." / "shared"
DEMO_RULES = REPO / "data" / "schemes" / "demo"
DEMO_CODES = REPO / "data" / "codes" / "demo"
runner = CliRunner()


@pytest.fixture(scope="module")
def demo_scheme(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("scheme") / "demo.drgscheme"
    r = runner.invoke(app, ["scheme", "build", str(DEMO_RULES), "--codes", str(DEMO_CODES), "--out", str(out)])
    assert r.exit_code == 0, r.output
    return out


def test_scheme_build_prints_manifest_and_checks(demo_scheme):
    r = runner.invoke(app, ["scheme", "show", str(demo_scheme), "--json"])
    m = json.loads(r.output)
    assert m["scheme"] == "demo" and m["counts"]["drgs"] > 0 and m["format_version"] == 1
    assert set(m["checks"]) == {"unreachable_adrgs", "unreachable_drgs", "adrgs_without_lists", "dead_splits"}


@pytest.mark.parametrize("name,codes", [("CHS_DRG_11", "chs_drg_11"), ("CHS_DRG_10", "chs_drg_10"),
                                        ("CHS_DRG_10P", "chs_drg_10")])
def test_published_sets_build(tmp_path, name, codes):
    if not (SHARED / "schemes" / name).is_dir():
        pytest.skip("../shared absent")
    out = tmp_path / f"{name}.drgscheme"
    r = runner.invoke(app, ["scheme", "build", str(SHARED / "schemes" / name), "--codes",
                            str(SHARED / "codes" / codes), "--out", str(out), "--json"])
    assert r.exit_code == 0, r.output
    m = json.loads(r.output)
    assert m["counts"]["adrgs"] == 376 and m["counts"]["mdcs"] == 26
    assert m["checks"]["unreachable_drgs"] == []
    if name == "CHS_DRG_10":   # 1.0 rules against the 1.0 dictionary: reported, with counts
        assert any("missing from the dictionary" in x for x in m["compile_report"])


def test_scheme_loads_without_heavy_libraries(demo_scheme):
    code = (f"import sys, time; t = time.perf_counter(); from grouper.scheme import load_scheme; "
            f"from grouper.reference import Case, group_case; s = load_scheme({str(demo_scheme)!r}); "
            f"r = group_case(s, Case(sex=1, age=60, dx=[s.dx_codes[0]])); "
            f"bad = [m for m in ('numba', 'polars', 'pyarrow', 'duckdb') if m in sys.modules]; "
            f"print(bad, time.perf_counter() - t)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out[0] == "[]", out
    assert float(out[1]) < 1.0


def _cases(path: Path, rows: list[dict]) -> Path:
    types = {"case_id": pa.string(), "sex": pa.int8(), "age": pa.int16(), "age_days": pa.int32(),
             "birth_weight": pa.int32(), "los": pa.int32(), "dx": pa.list_(pa.string()),
             "px": pa.list_(pa.string()), "vent_hours": pa.int32(), "hospital_id": pa.string()}
    pq.write_table(pa.table({k: pa.array([r.get(k) for r in rows], t) for k, t in types.items()}), path)
    return path


def test_group_keeps_columns_and_rejects(tmp_path, demo_scheme):
    from grouper.scheme import load_scheme

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
                                                                 "group_status", "group_note"]


@pytest.mark.parametrize("slim", [False, True])
def test_group_writes_code_lists_as_the_file_had_them(tmp_path, demo_scheme, slim):
    """Codes are read dictionary-encoded; the grouped file (every column kept) and the rejects (Parquet)
    still hold them as the plain lists of strings of the input, with the input's field names."""
    from grouper.scheme import load_scheme

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
    from grouper.scheme import load_scheme

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


def _one_case_then_a_broken_stream(scheme_path: Path):
    """The scheme, a one-case batch, and a batch stream that yields it and then fails like a bad file."""
    from drg.errors import InputError
    from grouper.scheme import load_scheme

    s = load_scheme(scheme_path)
    good = pa.table({"case_id": ["a"], "sex": pa.array([1], pa.int8()), "age": pa.array([40], pa.int16()),
                     "dx": pa.array([[s.dx_codes[0]]], pa.list_(pa.string()))})

    def batches():
        yield good
        raise InputError("broken row group", file="x.parquet")

    return s, good, batches


def test_reader_errors_reach_the_caller_through_the_prefetch_thread(tmp_path, demo_scheme):
    from drg.errors import InputError
    from drg.grouping import group_batches

    s, good, batches = _one_case_then_a_broken_stream(demo_scheme)
    with pytest.raises(InputError, match="broken row group"):
        group_batches(s, batches(), tmp_path / "o.parquet")
    summary = group_batches(s, iter([good, good]), tmp_path / "o2.parquet")
    assert summary.rows == 2 and pq.read_table(tmp_path / "o2.parquet").num_rows == 2


def test_a_failed_run_leaves_no_half_grouped_file(tmp_path, demo_scheme):
    from drg.errors import InputError
    from drg.grouping import group_batches

    s, good, batches = _one_case_then_a_broken_stream(demo_scheme)
    out = tmp_path / "o.parquet"
    group_batches(s, iter([good]), out, slim=True)
    before = out.read_bytes()
    for slim in (False, True):
        with pytest.raises(InputError):
            group_batches(s, batches(), out, slim=slim)
        assert out.read_bytes() == before and not list(tmp_path.glob("*.partial"))
    with pytest.raises(InputError):
        group_batches(s, batches(), tmp_path / "new.parquet")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.parquet"]


def test_slim_file_reads_as_plain_strings_with_its_scheme_id(tmp_path, demo_scheme):
    """--slim writes the result columns as dictionary indices without an Arrow schema: every reader sees the
    contract's plain strings, the values equal the decoded kernel output, and the scheme id is kept."""
    import polars as pl

    from grouper.batch import RESULT_COLUMNS, BatchGrouper
    from drg.grouping import group_batches, scheme_id
    from grouper.scheme import load_scheme

    s = load_scheme(demo_scheme)
    dx = pa.array([[s.dx_codes[0], "ZZZ99"], [], [s.dx_codes[5]], None], pa.list_(pa.string()))
    batch = pa.table({"case_id": ["a", "b", "c", "d"], "sex": pa.array([1, 2, 0, 1], pa.int8()),
                      "age": pa.array([40, 50, 60, 70], pa.int16()), "dx": dx})
    slim, full = tmp_path / "slim.parquet", tmp_path / "full.parquet"
    group_batches(s, iter([batch, batch.slice(1)]), slim, slim=True)
    group_batches(s, iter([batch, batch.slice(1)]), full)
    got = pq.read_table(slim)
    assert got.schema.field("drg").type == pa.string() and got.schema.field("cc_level").type == pa.int8()
    assert got.column_names == ["case_id", *RESULT_COLUMNS]
    assert pl.read_parquet(slim).schema["group_note"] == pl.String
    assert pq.read_schema(slim).metadata[b"drg.scheme_id"].decode() == scheme_id(s)
    want = BatchGrouper(s).group(batch)
    for c in RESULT_COLUMNS:
        assert got.column(c).to_pylist() == want[c].to_pylist() + want[c].to_pylist()[1:]
        assert pq.read_table(full).column(c).to_pylist() == got.column(c).to_pylist()
    full_schema = pq.read_schema(full)
    assert full_schema.field("drg").type == pa.string() and full_schema.field("age").type == pa.int16()
    assert full_schema.field("group_note").type == pa.string()
    assert "ZZZ99" in got.column("group_note")[0].as_py()
    assert got.column("drg").to_pylist()[1] == "0000"
    meta = pq.ParquetFile(slim).metadata.row_group(0)
    assert [meta.column(k).is_stats_set for k in range(meta.num_columns)] == [True] + [False] * 6


def test_cc_tables_from_another_rule_set(tmp_path):
    if not (SHARED / "schemes" / "CHS_DRG_10").is_dir():
        pytest.skip("../shared absent")
    out = tmp_path / "s.drgscheme"
    r = runner.invoke(app, ["scheme", "build", str(SHARED / "schemes" / "CHS_DRG_10"), "--codes",
                            str(SHARED / "codes" / "chs_drg_10"), "--cc-tables",
                            str(SHARED / "schemes" / "CHS_DRG_10P"), "--out", str(out)])
    assert r.exit_code == 0, r.output
    from grouper.scheme import load_scheme

    m = load_scheme(out).manifest
    assert "cc-tables/5_MCC.txt" in m["sources"] and "5_MCC.txt" not in m["sources"]
    assert m["counts"]["exclusion_tables"] == 198      # CHS_DRG_10P's tables, not CHS_DRG_10's 201
