"""Guards against silent wrong runs: ungrouped input and a scheme mismatch are errors (exit 1) naming what is
wrong; many unknown principal diagnoses and a year mismatch warn, and refuse under ``--strict``; a workbook's
sheet can be chosen; optional mapped columns; the compiling-kernels line."""

from __future__ import annotations

import subprocess
import sys

import pyarrow as pa
import pyarrow.parquet as pq
from typer.testing import CliRunner

from drg.cli import app

from .conftest import MAPPING, write_his_csv

runner = CliRunner()
PY = sys.executable


class _Run:
    """A command's outcome as a person sees it: exit code and standard error (in-process, for speed)."""

    def __init__(self, result) -> None:
        self.returncode = result.exit_code
        self.stderr = result.output + ("" if result.exception is None or isinstance(result.exception, SystemExit)
                                       else f"error: {result.exception}")


def _drg(*args):
    return _Run(runner.invoke(app, [str(a) for a in args]))


def test_input_error_exit_code_1_as_a_process(bundle_world, tmp_path):
    r = subprocess.run([PY, "-m", "drg.cli", "points", "--cases", str(bundle_world["cases"][2025]), "--tables",
                        str(bundle_world["tables"]), "--policy", "demo", "--out", str(tmp_path / "p.parquet")],
                       capture_output=True, text=True)
    assert r.returncode == 1 and "group_status" in r.stderr and "Traceback" not in r.stderr


def test_ungrouped_input_is_an_error(bundle_world, tmp_path):
    w = bundle_world
    r = _drg("weights", "--history", w["cases"][2023], "--hospitals", w["hospitals"], "--policy", "demo", "--out",
             tmp_path / "t")
    assert r.returncode == 1 and "group_status" in r.stderr and "drg group" in r.stderr
    r = _drg("points", "--cases", w["cases"][2025], "--tables", w["tables"], "--policy", "demo", "--out",
             tmp_path / "p.parquet")
    assert r.returncode == 1 and "not grouped" in r.stderr and "no drg column" not in r.stderr


def test_another_scheme_than_the_tables_is_an_error(bundle_world, tmp_path):
    w = bundle_world
    t = pq.read_table(w["grouped"][2025])
    other = tmp_path / "other.parquet"
    pq.write_table(t.replace_schema_metadata({**(t.schema.metadata or {}), b"drg.scheme_id": b"CHS-DRG@2.0"}), other)
    r = _drg("points", "--cases", other, "--tables", w["tables"], "--policy", "demo", "--out", tmp_path / "p.parquet")
    assert r.returncode == 1
    assert "CHS-DRG@2.0" in r.stderr and "demo@" in r.stderr
    r = _drg("weights", "--history", w["grouped"][2023], "--history", other, "--hospitals", w["hospitals"],
             "--policy", "demo", "--out", tmp_path / "t")
    assert r.returncode == 1 and "different schemes" in r.stderr


def test_year_mismatch_warns_and_strict_refuses(bundle_world, tmp_path):
    w = bundle_world
    args = ["points", "--cases", w["grouped"][2023], "--tables", w["tables"], "--policy", "demo", "--out",
            tmp_path / "p.parquet"]
    r = _drg(*args)
    assert r.returncode == 0, r.stderr
    assert "warning:" in r.stderr and "2025" in r.stderr
    r = _drg(*args, "--strict")
    assert r.returncode == 1 and "--strict" in r.stderr


def test_unknown_principal_diagnoses_warn_and_strict_refuses(bundle_world, tmp_path):
    w = bundle_world
    t = pq.read_table(w["cases"][2025]).slice(0, 400)
    dx = t.column("dx").to_pylist()
    dx = [["Z99.999"] + (d or [])[1:] if i % 4 == 0 else d for i, d in enumerate(dx)]   # a quarter unknown
    t = t.set_column(t.column_names.index("dx"), "dx", pa.array(dx, pa.list_(pa.string())))
    cases = tmp_path / "c.parquet"
    pq.write_table(t, cases)
    r = _drg("group", "--scheme", w["scheme"], "--cases", cases, "--out", tmp_path / "g.parquet", "--quiet")
    assert r.returncode == 0, r.stderr
    assert "principal diagnosis" in r.stderr and "another code edition" in r.stderr
    r = _drg("group", "--scheme", w["scheme"], "--cases", cases, "--out", tmp_path / "s.parquet", "--strict")
    assert r.returncode == 1 and "--strict" in r.stderr
    assert not (tmp_path / "s.parquet").exists()


def test_sheet_option_for_a_workbook_with_a_cover_sheet(bundle_world, tmp_path):
    import polars as pl

    his = write_his_csv(bundle_world["month"][:15], tmp_path / "m.csv", extra=False)
    df = pl.read_csv(his, encoding="gbk", infer_schema=False)
    book = tmp_path / "export.xlsx"
    import xlsxwriter

    with xlsxwriter.Workbook(str(book)) as wb:
        wb.add_worksheet("封面").write(0, 0, "某某医院 2025年3月 出院结算清单")
        df.write_excel(wb, worksheet="明细")
    r = runner.invoke(app, ["check", str(book), "--columns", str(MAPPING)])
    assert r.exit_code == 1
    assert "--sheet" in str(r.exception) and "明细" in str(r.exception)
    r = runner.invoke(app, ["check", str(book), "--columns", str(MAPPING), "--sheet", "明细", "--json"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["estimate", "--bundle", str(bundle_world["bundle"]), "--cases", str(book), "--columns",
                            str(MAPPING), "--sheet", "2", "--json"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["group", "--scheme", str(bundle_world["scheme"]), "--cases", str(book), "--columns",
                            str(MAPPING), "--sheet", "明细", "--out", str(tmp_path / "g.parquet"), "--json"])
    assert r.exit_code == 0, r.output
    assert pq.read_table(tmp_path / "g.parquet").num_rows == 15


def test_optional_columns_in_a_mapping(bundle_world, tmp_path):
    his = write_his_csv(bundle_world["month"][:15], tmp_path / "m.csv", extra=False)
    text = his.read_text(encoding="gbk").replace("有创呼吸机使用时间(小时)", "备注")
    his.write_text(text, encoding="gbk")
    r = runner.invoke(app, ["check", str(his), "--columns", str(MAPPING), "--json"])
    assert r.exit_code == 0, r.output          # vent_hours is optional in the example mapping
    strict = tmp_path / "map.toml"
    import re

    strict.write_text(re.sub(r"(?m)^optional = .*$", "", MAPPING.read_text(encoding="utf-8")), encoding="utf-8")
    r = runner.invoke(app, ["check", str(his), "--columns", str(strict)])
    assert r.exit_code == 1 and "有创呼吸机使用时间(小时)" in str(r.exception)


def test_compiling_kernels_line(tmp_path):
    from drg.cli.progress import kernels_cached, row_progress

    assert kernels_cached("drg.cli.options", "nothing_compiled") is False
    seen = []
    with row_progress("grouping", 10, enabled=True, first="compiling kernels (first run only)") as update:
        from rich.progress import Progress  # noqa: F401 - the bar exists

        update(0)
        seen.append("ok")
        update(5)
    assert seen == ["ok"]


def test_rejects_csv_has_a_bom(bundle_world, tmp_path):
    rej = tmp_path / "rejects.csv"
    r = runner.invoke(app, ["check", str(bundle_world["his"]), "--columns", str(MAPPING), "--rejects", str(rej),
                            "--json"])
    assert r.exit_code == 0, r.output
    assert rej.read_bytes()[:3] == b"\xef\xbb\xbf"
