"""Issue 16, item by item: each test failed on the code before the issue and holds now."""

from __future__ import annotations

import decimal
import gzip
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from relhelpers import drg_run

HEADER = ("case_id,patient_id,hospital_id,sex,age,los,dx,admit_date,discharge_date,total_cost,fund_paid,self_paid,"
          "insurance_type,county")
SECRET = "PATIENT-SECRET-77"


def _row(i: int, dx: str = "I10.x00", cid: str | None = None, pid: str | None = None) -> str:
    return (f"{cid or f'C{i}'},{pid or f'P{i}'},H0001,1,60,4,{dx},2025-03-01,2025-03-05,1000.00,600.00,400.00,"
            "310,A1")


def _base(rworld, n: int = 12) -> pa.Table:
    return pq.read_table(rworld["cases"]).slice(0, n)


def _set(t: pa.Table, name: str, arr) -> pa.Table:
    return t.set_column(t.column_names.index(name), name, arr)


def _clean(code: int, err: str, path: Path | None = None) -> None:
    """A clean end: exit 0 or 1, no traceback, no internal error; an error names the file."""
    assert code in (0, 1), err
    assert "Traceback" not in err and "internal error" not in err and "panicked" not in err, err
    if code == 1 and path is not None:
        assert str(path) in err, err


def _four(rworld, path: Path, tmp: Path) -> dict:
    """check, group, points (on the grouped file) and estimate --cases on one input."""
    res = {}
    res["check"] = drg_run(["check", path, "--quiet", "--json", "--rejects", tmp / "check.rej.csv"])
    res["group"] = drg_run(["group", "--scheme", rworld["scheme"], "--cases", path, "--out", tmp / "g.parquet",
                            "--rejects", tmp / "g.rej.parquet", "--quiet", "--json"])
    if res["group"][0] == 0:
        res["points"] = drg_run(["points", "--cases", tmp / "g.parquet", "--tables", rworld["tables"], "--policy",
                                 "demo", "--out", tmp / "p.parquet", "--year", "2025", "--json",
                                 "--rejects", tmp / "p.rej.parquet"])
    res["estimate"] = drg_run(["estimate", "--bundle", rworld["bundle"], "--cases", path, "--json",
                               "--out", tmp / "e.xlsx", "--rejects", tmp / "e.rej.csv"])
    for stage, (code, _out, err) in res.items():
        _clean(code, err, tmp / "g.parquet" if stage == "points" else path)
    return res


def _summary(res, stage) -> dict:
    return json.loads(res[stage][1])


# 1 ---------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["empty", "truncated", "footer", "directory"])
def test_01_unreadable_parquet_is_a_clean_error_in_group(rworld, tmp_path, kind):
    path = tmp_path / "bad.parquet"
    good = tmp_path / "good.parquet"
    pq.write_table(_base(rworld), good)
    data = good.read_bytes()
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif kind == "footer":
        path.write_bytes(data[:-12] + b"\0" * 8 + b"PAR1")
    else:
        path.mkdir()
    for args in (["group", "--scheme", rworld["scheme"], "--cases", path, "--out", tmp_path / "g.parquet"],
                 ["check", path]):
        code, _, err = drg_run(args)
        assert code == 1
        _clean(code, err, path)
    assert not (tmp_path / "g.parquet").exists()


# 2 ---------------------------------------------------------------------------------------------------------
def test_02_blank_code_cells_in_text_files(rworld, tmp_path):
    path = tmp_path / "dx.csv"
    path.write_text("\n".join([HEADER, _row(1, dx='" | ; "'), _row(2, dx=""), _row(3, dx='",J18.900"')]) + "\n")
    res = _four(rworld, path, tmp_path)
    s = _summary(res, "check")
    assert s["read"] == 3 and s["accepted"] == 1 and s["by_reason"] == {"empty_dx": 2}
    g = _summary(res, "group")
    assert g["read"] == g["rows"] + g["rejected"] == 3


# 3 ---------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["list_int", "list_list", "list_struct", "fixed_size", "map"])
def test_03_wrong_dx_types_are_a_whole_file_error(rworld, tmp_path, kind):
    t = _base(rworld)
    n = t.num_rows
    arr = {"list_int": pa.array([[1, 2]] * n, pa.list_(pa.int64())),
           "list_list": pa.array([[["I10"]]] * n, pa.list_(pa.list_(pa.string()))),
           "list_struct": pa.array([[{"a": "I10"}]] * n, pa.list_(pa.struct([("a", pa.string())]))),
           "fixed_size": pa.array([["I10", "J18"]] * n, pa.list_(pa.string(), 2)),
           "map": pa.array([[("a", "b")]] * n, pa.map_(pa.string(), pa.string()))}[kind]
    path = tmp_path / "dx.parquet"
    pq.write_table(_set(t, "dx", arr), path)
    for stage, (code, _out, err) in _four(rworld, path, tmp_path).items():
        assert code == 1 and "column dx has type" in err and "list of strings" in err, (stage, err)


# 4 ---------------------------------------------------------------------------------------------------------
def test_04_decimal_money_of_any_width_and_size(rworld, tmp_path):
    t = _base(rworld, 4)
    cost = [decimal.Decimal("100000000000000000000.00"), decimal.Decimal("1000.00"), decimal.Decimal("12.34"),
            decimal.Decimal("5.00")]
    big = _set(t, "total_cost", pa.array(cost, pa.decimal128(38, 2)))
    path = tmp_path / "dec128.parquet"
    pq.write_table(big, path)
    res = _four(rworld, path, tmp_path)
    rej = pl.read_csv(tmp_path / "check.rej.csv", infer_schema=False)
    assert rej.filter(pl.col("row_number") == "1")["reject_detail"][0].startswith("out_of_range:total_cost")
    assert _summary(res, "check")["read"] == 4
    wide = _set(t, "total_cost", pa.array(cost[1:] + [decimal.Decimal("7.125")], pa.decimal256(40, 3)))
    path = tmp_path / "dec256.parquet"
    pq.write_table(wide, path)
    _four(rworld, path, tmp_path)
    from drg.casefile.money import money_to_fen_bounded
    from drg.casefile.reader import read_cases

    assert next(read_cases(path, required=("case_id",))).n_read == 4
    fen, _nonfinite, too_large = money_to_fen_bounded(wide.column("total_cost"))
    assert fen.tolist() == [100000, 1234, 500, 713] and not too_large.any()   # 7.125 → 713 fen (half away)


# 5 ---------------------------------------------------------------------------------------------------------
def _days(y: int, m: int = 3, d: int = 1) -> int:
    return int((np.datetime64(f"{y:+07d}-{m:02d}-{d:02d}" if y > 9999 or y < 1 else f"{y:04d}-{m:02d}-{d:02d}")
                - np.datetime64("1970-01-01")).astype(int))


@pytest.mark.parametrize("year", [-1, 0, 25, 1899, 9999, 31451, 148108])
def test_05_dates_outside_1900_2099_are_out_of_range(rworld, tmp_path, year):
    t = _base(rworld, 3)
    admit = [_days(year) if year != -1 else -(2 ** 31), _days(2025), _days(1900, 1, 1)]
    dis = [_days(year, 3, 5) if year != -1 else -(2 ** 31) + 1, _days(2025, 3, 5), _days(2099, 12, 31)]
    t = _set(t, "admit_date", pa.array(admit, pa.int32()).cast(pa.date32()))
    t = _set(t, "discharge_date", pa.array(dis, pa.int32()).cast(pa.date32()))
    path = tmp_path / "dates.parquet"
    pq.write_table(t, path)
    res = _four(rworld, path, tmp_path)
    s = _summary(res, "check")
    assert s["read"] == 3 and s["accepted"] == 2 and s["by_reason"] == {"out_of_range": 1}
    assert res["estimate"][0] == 0
    rej = pl.read_csv(tmp_path / "check.rej.csv", infer_schema=False)
    assert rej["row_number"].to_list() == ["1"] and "out_of_range:admit_date" in rej["reject_detail"][0]


# 6 ---------------------------------------------------------------------------------------------------------
def test_06_binary_case_id_with_invalid_utf8(rworld, tmp_path):
    t = _base(rworld, 4)
    ids = [b"\xff\xfeA", b"OK-2", b"\xc3", b"OK-4"]
    path = tmp_path / "bin.parquet"
    pq.write_table(_set(t, "case_id", pa.array(ids, pa.binary())), path)
    res = _four(rworld, path, tmp_path)
    s = _summary(res, "check")
    assert s["read"] == 4 and s["accepted"] == 2 and s["by_reason"] == {"wrong_type": 2}
    assert pq.read_table(tmp_path / "g.rej.parquet").column("case_id").type == pa.binary()   # as read


# 7 ---------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["case_id", "age", "note"])
def test_07_a_column_twice_is_a_whole_file_error(rworld, tmp_path, name):
    t = _base(rworld).append_column("note", pa.array(["x"] * 12))
    t = pa.Table.from_arrays(t.columns + [t.column(name)], names=t.column_names + [name])
    path = tmp_path / "twice.parquet"
    pq.write_table(t, path)
    for stage, (code, _out, err) in _four(rworld, path, tmp_path).items():
        assert code == 1 and f"column '{name}' appears more than once" in err, (stage, err)
    csv = tmp_path / "twice.csv"
    csv.write_text(HEADER + ",age\n" + _row(1) + ",60\n")
    code, _, err = drg_run(["check", csv])
    assert code == 1 and "column 'age' appears more than once" in err and str(csv) in err


# 8 ---------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["row_number", "total_cost_fen", "reject_reason"])
def test_08_project_names_never_collide_with_the_users(rworld, tmp_path, name):
    t = _base(rworld, 6).append_column(name, pa.array(["mine"] * 6))
    t = _set(t, "sex", pa.array([1, 1, 7, 1, 1, 1], pa.int8()))     # one reject
    path = tmp_path / "names.parquet"
    pq.write_table(t, path)
    res = _four(rworld, path, tmp_path)
    assert all(code == 0 for code, _, _ in res.values()), res
    rej = pq.read_table(tmp_path / "g.rej.parquet")
    assert rej.column(f"input_{name}").to_pylist() == ["mine"]
    assert "row_number" in rej.column_names and "reject_reason" in rej.column_names
    g = pq.read_table(tmp_path / "g.parquet")
    assert g.column(f"input_{name}").to_pylist() == ["mine"] * 5


# 9 ---------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("ids", [["X1", " X1 ", "X2", "X3"], ["B", "A", "A\u3000", "C"]])
def test_09_parquet_duplicates_are_found_after_trimming(rworld, tmp_path, ids):
    t = _set(_base(rworld, 4), "case_id", pa.array(ids))
    path = tmp_path / "trim.parquet"
    pq.write_table(t, path)
    res = _four(rworld, path, tmp_path)
    assert _summary(res, "check")["by_reason"] == {"duplicate_case_id": 1}
    assert _summary(res, "group")["rejected"] == 1          # the streaming finder of drg group too
    assert pq.read_table(tmp_path / "g.rej.parquet").column("row_number").to_pylist() == [3 if ids[0] == "B" else 2]


# 10 --------------------------------------------------------------------------------------------------------
EVIL = '=HYPERLINK("http://evil.example/","open")'


def _sheet_has_formula(path: Path) -> bool:
    with zipfile.ZipFile(path) as z:
        return any(b"<f>" in z.read(n) for n in z.namelist() if n.startswith("xl/worksheets/"))


def test_10_user_text_is_never_a_formula(rworld, tmp_path):
    t = _base(rworld, 5)
    t = _set(t, "case_id", pa.array([EVIL, "+1+2", "-5", "@SUM(A1)", "C5"]))
    t = _set(t, "sex", pa.array([1, 1, 1, 1, 7], pa.int8()))        # the last row rejected
    path = tmp_path / "evil.parquet"
    pq.write_table(t, path)
    _four(rworld, path, tmp_path)
    assert not _sheet_has_formula(tmp_path / "e.xlsx")
    code, _, err = drg_run(["estimate", "--bundle", rworld["bundle"], "--cases", path, "--out", tmp_path / "e.csv"])
    assert code == 0, err
    text = (tmp_path / "e.csv").read_text(encoding="utf-8-sig")
    assert "'=HYPERLINK" in text and "'+1+2" in text and "'@SUM(A1)" in text
    assert "\n'-5" not in text and ",-5," in text or "-5" in text     # a plain number stays a number
    code, _, err = drg_run(["group", "--scheme", rworld["scheme"], "--cases", path, "--out", tmp_path / "g.csv",
                            "--rejects", tmp_path / "r.csv", "--quiet"])
    assert code == 0, err
    assert (tmp_path / "g.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    assert "'=HYPERLINK" in (tmp_path / "g.csv").read_text(encoding="utf-8-sig")
    assert pq.read_table(tmp_path / "g.rej.parquet").column("case_id").to_pylist() == ["C5"]   # as read
    # the statements' outliers sheet and CSV: a priced file whose outlier case has such an id
    priced = pq.read_table(rworld["priced_small"])
    cls = priced.column("case_class").to_pylist()
    i = next(k for k, c in enumerate(cls) if c in ("high", "low"))
    ids = priced.column("case_id").to_pylist()
    ids[i] = EVIL
    priced = _set(priced, "case_id", pa.array(ids))
    pq.write_table(priced, tmp_path / "priced.parquet")
    hid = priced.column("hospital_id")[i].as_py()
    hospitals = pl.read_parquet(rworld["hospitals"])          # and a hospital whose name is a formula
    hospitals = hospitals.with_columns(pl.when(pl.col("hospital_id") == hid).then(pl.lit(EVIL))
                                       .otherwise(pl.col("name")).alias("name"))
    hospitals.write_parquet(tmp_path / "hospitals.parquet")
    code, out, err = drg_run(["settle", "year", "--year", "2025", "--priced", tmp_path / "priced.parquet",
                              "--hospitals", tmp_path / "hospitals.parquet", "--budget", rworld["budget"],
                              "--policy", "demo", "--statements", tmp_path / "st", "--json"])
    assert code == 0, err
    sdir = tmp_path / "st" / "statements" / "2025"
    assert not _sheet_has_formula(next(sdir.glob(f"{hid}.xlsx")))
    assert "'=HYPERLINK" in (sdir / "hospitals.csv").read_text(encoding="utf-8-sig")


# 11 --------------------------------------------------------------------------------------------------------
def test_11_unbalanced_quote_names_line_and_field_never_the_row(rworld, tmp_path):
    path = tmp_path / "quote.csv"
    path.write_text("\n".join([HEADER, _row(1), _row(2, cid='"OPEN', pid=SECRET), _row(3, pid=SECRET)]) + "\n")
    for stage, (code, out, err) in _four(rworld, path, tmp_path).items():
        assert code == 1, (stage, err)
        assert "row 3" in err and "'case_id'" in err and "quote" in err, err
        assert SECRET not in err and SECRET not in out and "OPEN" not in err


# 12 --------------------------------------------------------------------------------------------------------
def _settle(rworld, tmp_path, *extra):
    return drg_run(["settle", "year", "--year", "2025", "--priced", rworld["priced_small"], "--hospitals",
                    rworld["hospitals"], "--budget", rworld["budget"], "--policy", "demo", "--ledger",
                    tmp_path / "ledger.duckdb", "--out", tmp_path / "out", "--statements", tmp_path / "st",
                    "--json", *extra])


def test_12_settlement_files_are_a_committed_runs_and_recovered_at_start(rworld, tmp_path):
    from drg.settlement import rundirs
    from drg.settlement.ledger import Ledger

    code, out, err = _settle(rworld, tmp_path)
    assert code == 0, err
    first = json.loads(out)["run_id"]
    for base in (tmp_path / "out", tmp_path / "st"):
        assert rundirs.current_run(base) == first
    assert (tmp_path / "out" / "hospitals.parquet").resolve().parent.name == first
    assert (tmp_path / "st" / "statements" / "2025").is_dir()
    # a run killed before its commit left a directory of its own: deleted at the next start
    stray = rundirs.stage(tmp_path / "st", "year-2025-killedbefore")
    (stray / "half.xlsx").write_bytes(b"")
    # a run committed but killed before the swap: the next start swaps it in first
    code, out, err = _settle(rworld, tmp_path, "--replace")
    second = json.loads(out)["run_id"]
    assert not stray.exists() and rundirs.current_run(tmp_path / "st") == second
    led = Ledger(tmp_path / "ledger.duckdb")
    assert set(led.table("run_outputs")["run_id"].to_list()) == {second}     # the replaced run's rows went too
    rundirs.publish(tmp_path / "out", first) if (tmp_path / "out" / "runs" / first).exists() else None
    rundirs.recover(tmp_path / "out", led)
    assert rundirs.current_run(tmp_path / "out") == second


def test_12_a_failed_statement_write_leaves_the_old_run_current(rworld, tmp_path, monkeypatch):
    from drg.settlement import rundirs

    code, out, err = _settle(rworld, tmp_path)
    first = json.loads(out)["run_id"]
    import drg.reports.statements as statements

    def boom(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(statements._CitySummary, "finish", boom)   # the last file of the run's statements
    code, out, err = _settle(rworld, tmp_path, "--replace")
    assert code == 1 and "No space left on device" in err
    assert rundirs.current_run(tmp_path / "st") == first and rundirs.current_run(tmp_path / "out") == first
    assert [d.name for d in (tmp_path / "st" / "runs").iterdir()] == [first]
    from drg.settlement.ledger import Ledger

    assert Ledger(tmp_path / "ledger.duckdb").runs()["run_id"].to_list() == [first]


# 15 --------------------------------------------------------------------------------------------------------
def test_15_rows_are_numbered_as_a_person_sees_them(rworld, tmp_path):
    bad = _row(9).replace(",1,60,", ",7,60,")        # sex 7: rejected
    cr = tmp_path / "cr.csv"
    cr.write_bytes(("\r".join([HEADER, _row(1), _row(2), bad]) + "\r").encode())
    res = _four(rworld, cr, tmp_path)
    assert _summary(res, "group")["read"] == 3 and _summary(res, "check")["read"] == 3
    assert pl.read_csv(tmp_path / "check.rej.csv")["row_number"].to_list() == [4]
    blank = tmp_path / "blank.csv"
    blank.write_bytes(("\r\r\n".join([HEADER, _row(1), _row(2), bad]) + "\r\r\n\n  \n,,,\n").encode())
    res = _four(rworld, blank, tmp_path)
    assert _summary(res, "check")["read"] == 3
    assert pl.read_csv(tmp_path / "check.rej.csv")["row_number"].to_list() == [7]    # \r\r\n: two line ends
    quoted = tmp_path / "quoted.csv"
    quoted.write_text("\n".join([HEADER, _row(1).replace("H0001", '"H00\n01"'), "", bad]) + "\n")
    drg_run(["check", quoted, "--rejects", tmp_path / "q.csv"])
    assert pl.read_csv(tmp_path / "q.csv")["row_number"].to_list() == [5]
    import xlsxwriter

    x = tmp_path / "blank.xlsx"
    with xlsxwriter.Workbook(str(x)) as wb:
        ws = wb.add_worksheet()
        ws.write_row(1, 0, HEADER.split(","))                        # header on sheet row 2
        ws.write_row(2, 0, _row(1).split(","))
        ws.write_row(5, 0, bad.split(","))                           # sheet row 6, after two blank rows
    code, out, err = drg_run(["check", x, "--json", "--rejects", tmp_path / "x.csv"])
    assert code == 0, err and json.loads(out)["read"] == 2
    assert pl.read_csv(tmp_path / "x.csv")["row_number"].to_list() == [6]


# 16 --------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["utf-16", "utf-32", "gzip", "zip"])
def test_16_files_that_are_not_text_name_the_file(rworld, tmp_path, kind):
    text = "\n".join([HEADER, _row(1)]) + "\n"
    path = tmp_path / f"{kind}.csv"
    if kind == "gzip":
        path.write_bytes(gzip.compress(text.encode()))
    elif kind == "zip":
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("a.csv", text)
    else:
        path.write_bytes(text.encode(kind))
    for stage, (code, _out, err) in _four(rworld, path, tmp_path).items():
        assert code == 1 and str(path) in err, (stage, err)


# 17 --------------------------------------------------------------------------------------------------------
def test_17_a_closed_pipe_ends_quietly(rworld, tmp_path):
    pq.write_table(_base(rworld, 40), tmp_path / "month.parquet")
    cmd = (f"{sys.executable} -m drg.cli estimate --bundle {rworld['bundle']} --cases {tmp_path / 'month.parquet'} "
           "--json | head -c 200")
    r = subprocess.run(["bash", "-o", "pipefail", "-c", cmd], capture_output=True, text=True, timeout=120)
    assert "Traceback" not in r.stderr and "BrokenPipe" not in r.stderr, r.stderr
    assert len(r.stdout) == 200


# 18 --------------------------------------------------------------------------------------------------------
def test_18_points_and_settle_reject_what_they_cannot_price_or_settle(rworld, tmp_path):
    g = pq.read_table(rworld["grouped"])
    dd = g.column("discharge_date").to_pylist()
    hid = g.column("hospital_id").to_pylist()
    dd[3] = None
    hid[5] = None
    g = _set(_set(g, "discharge_date", pa.array(dd, pa.date32())), "hospital_id", pa.array(hid, pa.string()))
    pq.write_table(g, tmp_path / "g.parquet", row_group_size=100)
    code, out, err = drg_run(["points", "--cases", tmp_path / "g.parquet", "--tables", rworld["tables"], "--policy",
                              "demo", "--out", tmp_path / "p.parquet", "--year", "2025", "--json", "--rejects",
                              tmp_path / "p.rej.parquet"])
    assert code == 0, err
    s = json.loads(out)
    assert s["read"] == g.num_rows and s["rejected"] == 2 and s["cases"] == g.num_rows - 2
    rej = pq.read_table(tmp_path / "p.rej.parquet")
    assert rej.column("row_number").to_pylist() == [4, 6]
    assert rej.column("reject_reason").to_pylist() == ["missing_field", "missing_field"]
    assert pq.read_table(tmp_path / "p.parquet").num_rows == g.num_rows - 2
    # a priced file with rows settlement cannot use: left out, recorded, warned; refused under --strict
    p = pq.read_table(rworld["priced"])
    dd = p.column("discharge_date").to_pylist()
    dd[0] = None
    cost = p.column("total_cost_fen").to_pylist()
    p = _set(p, "discharge_date", pa.array(dd, pa.date32()))
    pq.write_table(p, tmp_path / "priced.parquet")
    args = ["settle", "year", "--year", "2025", "--priced", tmp_path / "priced.parquet", "--hospitals",
            rworld["hospitals"], "--budget", rworld["budget"], "--policy", "demo", "--ledger", tmp_path / "l.duckdb",
            "--json"]
    code, out, err = drg_run(args + ["--strict"])
    assert code == 1 and "refused under --strict" in err and "row 1" in err
    code, out, err = drg_run(args)
    assert code == 0, err
    from drg.settlement.ledger import Ledger

    led = Ledger(tmp_path / "l.duckdb")
    rr = led.table("run_rejects")
    assert rr["row_number"].to_list() == [1] and rr["total_cost_fen"].to_list() == [cost[0]]
    w = led.table("warnings").filter(pl.col("kind") == "rejected_rows")
    assert w.height == 1 and "1 priced row(s)" in w["message"][0] and "yuan" in w["message"][0]
