"""The foundation's commands as a user runs them: ``drg check``, ``drg synth``, ``drg demo``; CI wiring."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import polars as pl
from typer.testing import CliRunner

from drg.cli import app
from tests.helpers.paths import REPO

runner = CliRunner()


def test_synth_writes_the_city(city):
    for name in ("cases-2025.parquet", "hospitals.parquet", "budget.parquet", "county_income.parquet",
                 "manifest.json"):
        assert (city / name).exists(), name


def test_check_prints_counts_and_never_patient_ids(city, tmp_path):
    cases = pl.read_parquet(city / "cases-2025.parquet")
    bad = pl.concat([cases, cases.head(3)])  # three duplicated case ids
    path = tmp_path / "dup.parquet"
    bad.write_parquet(path)
    before = json.loads(runner.invoke(app, ["check", str(city / "cases-2025.parquet"), "--json"]).output)
    result = runner.invoke(app, ["check", str(path), "--rejects", str(tmp_path / "rej.csv"), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["read"] == cases.height + 3 == summary["accepted"] + summary["rejected"]
    assert summary["by_reason"]["duplicate_case_id"] == before["by_reason"].get("duplicate_case_id", 0) + 3
    text = runner.invoke(app, ["check", str(path), "--quiet"]).output
    assert "duplicate_case_id" in text
    for pid in cases["patient_id"].head(50):
        assert pid not in result.output and pid not in text


def test_check_exit_code_1_names_the_file(tmp_path):
    p = tmp_path / "broken.csv"
    p.write_text("case_id\nC1\n", encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "drg.cli", "check", str(p)], capture_output=True, text=True)
    assert result.returncode == 1
    assert "broken.csv" in result.stderr and "missing required column" in result.stderr


def test_usage_error_is_exit_code_2():
    result = subprocess.run([sys.executable, "-m", "drg.cli", "check"], capture_output=True, text=True)
    assert result.returncode == 2


def test_readme_test_command_is_what_ci_runs():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    commands = re.findall(r"```(?:bash|sh)\n(.*?)\n```", readme, flags=re.S)
    test_command = next(c for c in commands if "pytest" in c)
    assert test_command.strip() in ci


def test_batch_runs_keep_freed_memory_where_it_pays_or_when_asked(monkeypatch, tmp_path):
    """The command line asks glibc to keep freed blocks for the next buffers in `drg points` and `drg
    weights` (unless DRG_MALLOC_KEEP=0), in other commands only with DRG_MALLOC_KEEP=1 (drg.cli.runtime: in
    `drg group` kept heaps grow with the run); the library itself never does."""
    import subprocess

    import drg.cli.runtime as runtime

    monkeypatch.setattr(runtime, "_applied", False)
    monkeypatch.delenv("DRG_MALLOC_KEEP", raising=False)
    assert runtime.keep_freed_memory() is False
    monkeypatch.setenv("DRG_MALLOC_KEEP", "0")
    assert runtime.keep_freed_memory(default=True) is False
    monkeypatch.setenv("DRG_MALLOC_KEEP", "1")
    applied = runtime.keep_freed_memory()
    assert applied in (True, False)          # False only off glibc
    assert runtime.keep_freed_memory() is applied
    if applied:
        def kept(args, extra=None):
            return _after_command(args, "import drg.cli.runtime as r; print(r._applied)", unset="DRG_MALLOC_KEEP",
                                  extra=extra)

        missing = str(tmp_path / "none.parquet")
        assert kept(["points", "--help"]) == "True"
        assert kept(["weights", "--help"]) == "True"
        assert kept(["points", "--help"], {"DRG_MALLOC_KEEP": "0"}) == "False"
        assert kept(["group", "--help"]) == "False"
        assert kept(["check", missing]) == "False"
        assert kept(["check", missing], {"DRG_MALLOC_KEEP": "1"}) == "True"
    env = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
    code = ("import sys, pyarrow as pa, drg.cli.runtime as r, drg.grouping; "
            "print(r._applied, sys.getswitchinterval(), pa.default_memory_pool().backend_name)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env).stdout
    assert out.split() == ["False", "0.005", "mimalloc"]  # importing the library changes nothing
    code = ("import sys, pyarrow as pa; from typer.testing import CliRunner; from drg.cli import app; "
            "CliRunner().invoke(app, ['policy', 'list']); "
            "print(sys.getswitchinterval(), pa.default_memory_pool().backend_name)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env).stdout
    interval, pool = out.split()[-2:]
    assert float(interval) <= 0.001    # a command runs with short interpreter-lock turns
    assert pool == "jemalloc"          # and Arrow allocating from jemalloc (drg.cli.runtime.lean_arrow_pool)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env=env | {"ARROW_DEFAULT_MEMORY_POOL": "system"}).stdout
    assert out.split()[-1] == "system"  # unless the environment chooses the pool


def test_streaming_commands_give_freed_arrow_pages_back_at_once(tmp_path):
    """`drg check` has Arrow's jemalloc return freed pages at once (its memory must not grow with the file;
    drg.cli.runtime.release_at_once), `drg group` and `drg points` after 100 ms (the group's refaulting, the
    points' first pass's peak); other
    commands keep its decay, and so does a command run with ``JE_ARROW_MALLOC_CONF`` set."""
    import subprocess

    env = {k: v for k, v in os.environ.items() if k not in ("ARROW_DEFAULT_MEMORY_POOL", "JE_ARROW_MALLOC_CONF")}
    code = ("import sys, pyarrow as pa; calls = []; pa.jemalloc_set_decay_ms = calls.append; "
            "from typer.testing import CliRunner; from drg.cli import app; "
            "CliRunner().invoke(app, sys.argv[1:]); print(calls)")
    missing = str(tmp_path / "none.parquet")

    def decay(args, extra=None):
        out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, check=True,
                             env=env | (extra or {})).stdout
        return out.split("\n")[-2]

    assert decay(["check", missing]) == "[0]"
    assert decay(["group", "--help"]) == "[100]"
    assert decay(["points", "--help"]) == "[100]"
    assert decay(["policy", "list"]) == "[]"
    assert decay(["check", missing], {"JE_ARROW_MALLOC_CONF": "dirty_decay_ms:500"}) == "[]"


def _after_command(args: list[str], report: str, *, unset: str, extra: dict | None = None, pre: str = "") -> str:
    """The last line ``report`` (Python statements) prints in a fresh interpreter after ``drg ARGS`` ran in it
    through the console script's entry point (``drg.cli.main``, which imports more before the root callback
    than typer's runner does), with ``unset`` removed from the environment, ``extra`` added and ``pre`` run
    first."""
    import subprocess

    env = {k: v for k, v in os.environ.items() if k != unset} | (extra or {})
    code = (pre + "import os, sys; from drg.cli import main; sys.argv[0] = 'drg'\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n" + report)
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, check=True,
                         env=env).stdout
    return out.split("\n")[-2]


def test_batch_commands_have_polars_give_freed_pages_back_at_once(tmp_path):
    """A batch command sets polars' jemalloc to return freed pages at once before polars is imported
    (drg.cli.runtime.polars_releases_at_once); a setting in the environment is left as it is, and nothing is
    set once polars is imported (too late to take effect); ``drg settle`` keeps them 50 ms."""
    missing = str(tmp_path / "none.parquet")

    def conf(args, extra=None, pre=""):
        return _after_command(args, "print(repr(os.environ.get('_RJEM_MALLOC_CONF')))", unset="_RJEM_MALLOC_CONF",
                              extra=extra, pre=pre)

    # (polars puts its own defaults first when imported: the settings after them are the ones that count)
    assert conf(["check", missing]).endswith("dirty_decay_ms:0,muzzy_decay_ms:0'")
    # (settle keeps them 50 ms: its statements scan the priced file row group by row group)
    assert conf(["settle", "year", "--help"]).endswith("dirty_decay_ms:50,muzzy_decay_ms:0'")
    assert conf(["check", missing], {"_RJEM_MALLOC_CONF": "dirty_decay_ms:700"}).endswith(",dirty_decay_ms:700'")
    assert "dirty_decay_ms:0" not in conf(["check", missing], pre="import polars; ")


def test_batch_commands_have_numpy_allocate_on_ordinary_pages(tmp_path):
    """A batch command has numpy skip madvise(MADV_HUGEPAGE) before numpy is imported
    (drg.cli.runtime.numpy_small_pages): huge pages compacted on first touch cost more than the work on a
    machine whose memory is full of page cache. A setting in the environment is left as it is; once numpy is
    imported nothing is set (too late to take effect); one-case commands are left alone."""
    missing = str(tmp_path / "none.parquet")
    # (numpy's own switch, asked after the command: it returns the value it had)
    report = ("import numpy; from numpy._core import multiarray as m; "
              "print(repr(os.environ.get('NUMPY_MADVISE_HUGEPAGE')), m._set_madvise_hugepage(True))")

    def state(args, extra=None, pre=""):
        return _after_command(args, report, unset="NUMPY_MADVISE_HUGEPAGE", extra=extra, pre=pre)

    assert state(["check", missing]) == "'0' False"
    assert state(["check", missing], {"NUMPY_MADVISE_HUGEPAGE": "1"}) == "'1' True"
    assert state(["check", missing], pre="import numpy; ").startswith("None ")
    assert state(["estimate", "--help"]).startswith("None ")


def test_the_program_ends_without_tearing_the_interpreter_down(tmp_path):
    """``drg`` (``drg.cli.run``) ends with the command's exit code after Python's exit handlers ran and the
    standard streams were flushed, skipping only the interpreter's teardown; ``DRG_FULL_EXIT=1`` keeps the
    ordinary one. ``main`` still ends with ``SystemExit`` for callers inside a process of their own."""
    script = ("import atexit, sys\n"
              "atexit.register(lambda: print('exit handler ran', flush=False))\n"
              "from drg.cli.runtime import leave\n"
              "print('unflushed output', end='')\n"
              "leave(3)\n"
              "print('never')\n")
    for full in ("0", "1"):
        env = {**os.environ, "DRG_FULL_EXIT": full}
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env)
        assert done.returncode == 3
        assert done.stdout.startswith("unflushed output") and "exit handler ran" in done.stdout
        assert "never" not in done.stdout
    usage = subprocess.run([sys.executable, "-m", "drg.cli", "no-such-command"], capture_output=True, text=True)
    assert usage.returncode == 2 and "No such command" in usage.stderr
    missing = subprocess.run([sys.executable, "-m", "drg.cli", "weights", "--history", str(tmp_path / "none.parquet"),
                              "--hospitals", str(tmp_path / "h.parquet"), "--policy", "demo", "--out",
                              str(tmp_path / "t")], capture_output=True, text=True)
    assert missing.returncode == 1 and "file not found" in missing.stderr
    import pytest

    from drg.cli import main

    argv = sys.argv[:]
    try:
        sys.argv[1:] = ["--help"]
        with pytest.raises(SystemExit):
            main()
    finally:
        sys.argv[:] = argv
