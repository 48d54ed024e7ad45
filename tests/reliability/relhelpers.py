"""Helpers of the reliability tests: run ``drg`` as a person does, in this process (fast) or as a child
process (for kills), and mount a small or read-only tmpfs (skipping where mounting is not permitted)."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def drg_run(args: list) -> tuple[int, str, str]:
    """``drg ARGS`` in this process, ended as the entry point ends it: ``(exit code, stdout, stderr)``."""
    from drg.cli import main

    out, err = io.StringIO(), io.StringIO()
    argv = sys.argv
    sys.argv = ["drg", *map(str, args)]
    code = 0
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main()
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        sys.argv = argv
    return code, out.getvalue(), err.getvalue()


def drg_proc(args: list, **kwargs) -> subprocess.Popen:
    """``drg ARGS`` as a child process (stdout and stderr piped)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **kwargs.pop("env", {})}
    return subprocess.Popen([sys.executable, "-m", "drg.cli", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, cwd=REPO, **kwargs)


@contextlib.contextmanager
def mounted(kind: str, size: str = "64k"):
    """A fresh tmpfs, full-able (``kind="small"``, ``size`` bytes) or read-only (``kind="ro"``); the test
    skips with the reason where this machine does not let the test mount one (not root, or no tmpfs)."""
    import tempfile

    where = Path(tempfile.mkdtemp(prefix=f"drg-{kind}-"))
    opts = f"size={size}" if kind == "small" else "size=1m,ro"
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(where)], capture_output=True, text=True)
    if r.returncode != 0:
        shutil.rmtree(where, ignore_errors=True)
        pytest.skip(f"cannot mount a {kind} tmpfs here (mount -t tmpfs needs root): {r.stderr.strip()[:120]}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)
        shutil.rmtree(where, ignore_errors=True)
