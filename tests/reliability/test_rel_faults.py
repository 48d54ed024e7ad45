"""Faults (issue 16, items 12–14): a run killed with SIGKILL at random moments leaves every output all old or all
new; a full disk (a size-limited tmpfs) or a read-only directory (a read-only mount) is one line naming the
path and the cause, exit 1, with nothing written earlier lost and no ``.partial`` file left. The mount tests
skip with the reason where this machine does not let a test mount a tmpfs.

``DRG_FAULT_KILLS`` (default 1) sets how many random kills each stage gets.
"""

from __future__ import annotations

import os
import random
import signal
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from relhelpers import drg_proc, drg_run

KILLS = int(os.environ.get("DRG_FAULT_KILLS", "1"))


@pytest.fixture(scope="module")
def big_cases(rworld, tmp_path_factory) -> dict:
    """The 2025 cases repeated to about 12,000 rows (unique ids), in small row groups: runs long enough to be
    killed in the middle; and a different, smaller file for the 'old' outputs."""
    root = tmp_path_factory.mktemp("faults")
    t = pq.read_table(rworld["cases"])
    parts = []
    for k in range(max(1, 12_000 // t.num_rows)):
        ids = pa.array([f"{v}-{k}" for v in t.column("case_id").to_pylist()])
        parts.append(t.set_column(t.column_names.index("case_id"), "case_id", ids))
    big = pa.concat_tables(parts)
    pq.write_table(big, root / "big.parquet", row_group_size=1000)
    pq.write_table(t.slice(0, 300), root / "small.parquet")
    return {"big": root / "big.parquet", "small": root / "small.parquet", "root": root}


def _kill_at_random(args: list, seconds: float, rng: random.Random) -> None:
    p = drg_proc(args)
    time.sleep(rng.uniform(0.2, seconds))
    if p.poll() is None:
        p.send_signal(signal.SIGKILL)
    p.communicate(timeout=60)


def _timed(args: list) -> float:
    """Run ``args`` in this process (the reference output); the seconds a child process would take (its run
    plus starting Python and the libraries)."""
    t0 = time.perf_counter()
    code, _out, err = drg_run(args)
    assert code == 0, err
    return time.perf_counter() - t0 + 2.0


@pytest.mark.parametrize("stage", ["group", "points"])
def test_sigkill_group_and_points_leave_old_or_new(rworld, big_cases, tmp_path, stage):
    rng = random.Random(16)
    out = tmp_path / "out.parquet"
    if stage == "group":
        def args(cases):
            return ["group", "--scheme", rworld["scheme"], "--cases", cases, "--out", out, "--quiet"]
        old_args, new_args = args(big_cases["small"]), args(big_cases["big"])
    else:
        drg_run(["group", "--scheme", rworld["scheme"], "--cases", big_cases["big"], "--out", tmp_path / "g.parquet",
                 "--quiet"])
        drg_run(["group", "--scheme", rworld["scheme"], "--cases", big_cases["small"], "--out",
                 tmp_path / "gs.parquet", "--quiet"])

        def args(cases):
            return ["points", "--cases", cases, "--tables", rworld["tables"], "--policy", "demo", "--out", out,
                    "--year", "2025"]
        old_args, new_args = args(tmp_path / "gs.parquet"), args(tmp_path / "g.parquet")
    seconds = _timed(new_args)
    new = out.read_bytes()
    _timed(old_args)
    old = out.read_bytes()
    for _ in range(KILLS):
        out.write_bytes(old)
        _kill_at_random(new_args, seconds, rng)
        got = out.read_bytes()
        assert got in (old, new), "a killed run left a mixed or partial output"


def test_sigkill_settle_with_statements_leaves_old_or_new(rworld, tmp_path):
    from drg.settlement import rundirs
    from drg.settlement.ledger import Ledger

    rng = random.Random(12)
    ledger = tmp_path / "ledger.duckdb"
    args = ["settle", "year", "--year", "2025", "--priced", rworld["priced_small"], "--hospitals",
            rworld["hospitals"], "--budget", rworld["budget"], "--policy", "demo", "--ledger", ledger,
            "--out", tmp_path / "out", "--statements", tmp_path / "st", "--replace"]
    seconds = _timed(args)
    led = Ledger(ledger)
    moments = [rng.uniform(0.2, seconds) for _ in range(KILLS)]
    pauses = [None] * KILLS + ["3"]           # and once inside the open ledger transaction
    for moment, pause in zip(moments + [1.0], pauses):
        before = led.runs()["run_id"].to_list()
        p = drg_proc(args, env={"DRG_LEDGER_TEST_PAUSE": pause} if pause else {})
        if pause:       # kill once the transaction is open (the pause is announced on stderr)
            line = p.stderr.readline()
            while line and "pausing" not in line:
                line = p.stderr.readline()
        else:
            time.sleep(moment)
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
        p.communicate(timeout=60)
        after = led.runs()["run_id"].to_list()
        assert len(after) == 1 and (after == before or after[0] not in before)
        for base in (tmp_path / "out", tmp_path / "st"):
            cur = rundirs.current_run(base)
            assert cur in (before[0], after[0])         # old or new, never a third state
            rundirs.recover(base, led)                  # what the next run does first
            assert rundirs.current_run(base) == after[0]
            assert sorted(d.name for d in (base / "runs").iterdir()) == [after[0]]
        statements = list((tmp_path / "st" / "statements" / "2025").glob("*.xlsx"))
        hospitals = pq.read_table(tmp_path / "out" / "hospitals.parquet")
        assert len(statements) == len(set(hospitals.column("hospital_id").to_pylist())) > 0
        assert all(s.stat().st_size > 0 for s in statements)


def test_sigkill_estimate_keeps_the_previous_workbook(rworld, big_cases, tmp_path):
    import fastexcel

    rng = random.Random(7)
    month = tmp_path / "month.parquet"
    pq.write_table(pq.read_table(rworld["cases"]).slice(0, 300), month)
    out = tmp_path / "e.xlsx"
    args = ["estimate", "--bundle", rworld["bundle"], "--cases", month, "--out", out]
    seconds = _timed(args)
    old = out.read_bytes()
    sheets = fastexcel.read_excel(out).sheet_names      # a whole workbook's sheets (汇总, 明细, 病组, 拒收, 说明)
    assert sheets[:3] == ["汇总", "明细", "病组"]
    for _ in range(KILLS):
        _kill_at_random(args, seconds, rng)
        got = out.read_bytes()
        assert got == old or fastexcel.read_excel(out).sheet_names == sheets   # the old one, or a whole new one


# full disk and read-only directory ------------------------------------------------------------------------
def _commands(rworld, d: Path) -> dict[str, list]:
    return {
        "group": ["group", "--scheme", rworld["scheme"], "--cases", rworld["cases"], "--out", d / "g.parquet"],
        "points": ["points", "--cases", rworld["grouped"], "--tables", rworld["tables"], "--policy", "demo",
                   "--out", d / "p.parquet", "--year", "2025"],
        "check-rejects": ["check", rworld["rejected"], "--rejects", d / "r.parquet", "--quiet"],
        "settle": ["settle", "year", "--year", "2025", "--priced", rworld["priced_small"], "--hospitals",
                   rworld["hospitals"], "--budget", rworld["budget"], "--policy", "demo", "--out", d / "out",
                   "--statements", d / "st"],
        "settle-ledger": ["settle", "year", "--year", "2025", "--priced", rworld["priced_small"], "--hospitals",
                          rworld["hospitals"], "--budget", rworld["budget"], "--policy", "demo",
                          "--ledger", d / "ledger.duckdb"],
        "estimate": ["estimate", "--bundle", rworld["bundle"], "--cases", rworld["cases"], "--out", d / "e.xlsx"],
        "publish": ["publish", "--scheme", rworld["scheme"], "--tables", rworld["tables"], "--policy", "demo",
                    "--out", d / "bundle", "--point-value", "310=85.5"],
        "weights": ["weights", "--history", rworld["grouped"], "--hospitals", rworld["hospitals"], "--policy", "demo",
                    "--out", d / "tables", "--year", "2026"],
    }


def _one_clean_line(code: int, err: str, d: Path, cause: str) -> None:
    assert code == 1, err
    lines = [x for x in err.strip().splitlines() if x.strip()]
    assert len(lines) == 1 and "Traceback" not in err and "rollback" not in err.lower(), err
    assert str(d) in err and cause in err, err


@pytest.mark.parametrize("command", ["group", "points", "check-rejects", "settle", "settle-ledger", "estimate",
                                     "publish", "weights"])
def test_full_disk_is_one_line_and_loses_nothing(rworld, small_disk, command):
    d = small_disk
    marker = d / "earlier.txt"
    marker.write_text("an earlier output\n")
    filler = d / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)    # fill the disk, then give back a few kilobytes
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError:
        pass
    os.ftruncate(fd, max(0, os.fstat(fd).st_size - 12288))
    os.close(fd)
    code, _out, err = drg_run(_commands(rworld, d)[command])
    _one_clean_line(code, err, d, "No space left on device")
    assert marker.read_text() == "an earlier output\n"
    left = [p.name for p in d.rglob("*") if "partial" in p.name]
    assert left == [], left


@pytest.mark.parametrize("command", ["group", "points", "check-rejects", "settle", "settle-ledger", "estimate",
                                     "publish", "weights"])
def test_read_only_directory_is_one_line(rworld, read_only_dir, command):
    code, _out, err = drg_run(_commands(rworld, read_only_dir)[command])
    assert code == 1, err
    lines = [x for x in err.strip().splitlines() if x.strip()]
    assert len(lines) == 1 and "Traceback" not in err and str(read_only_dir) in err, err
    assert "Read-only file system" in err or "read-only" in err.lower(), err


def test_estimate_on_a_full_disk_keeps_the_previous_workbook(rworld, small_disk, tmp_path):
    month = tmp_path / "m.parquet"
    pq.write_table(pq.read_table(rworld["cases"]).slice(0, 30), month)
    out = small_disk / "e.xlsx"
    code, _, err = drg_run(["estimate", "--bundle", rworld["bundle"], "--cases", month, "--out", out])
    assert code == 0, err
    good = out.read_bytes()
    code, _, err = drg_run(["estimate", "--bundle", rworld["bundle"], "--cases", rworld["cases"], "--out", out])
    assert code == 1 and "No space left on device" in err, err
    assert out.read_bytes() == good and not [p for p in small_disk.iterdir() if "partial" in p.name]
