"""Every file a settlement run writes is all old or all new, together with its ledger rows.

A run writes its files (``hospitals.parquet``, ``counties.parquet``; the statements, the city summary and its
chart) into a directory of its own, ``BASE/runs/RUN_ID/``, for each output directory ``BASE`` it was given.
Then the ledger commits the run together with those directories (table ``run_outputs``). Then
``BASE/current``, a symbolic link to the run's directory, is replaced by a rename, which is atomic: readers
follow ``BASE/current/…``, or the stable links ``BASE/hospitals.parquet → current/hospitals.parquet`` (and
``statements``, ``city_summary.csv`` …) made the first time, and see the old run or the new one, never a mix.

A run killed at any moment leaves either a run directory that the ledger does not know (killed before the
commit: the ledger still has the old run, ``current`` still points to it) or one the ledger committed but
``current`` does not point to yet (killed between the commit and the rename). The next run with the same
output directory puts that right before it starts (:func:`recover`): the first kind is deleted, the second
swapped in. Without a ledger the rename itself is the commit, and any other run directory is deleted.

A run's statement directory also holds the statements of the other periods already there (hard links to the
files of the current run directory: no copy), so that ``BASE/statements/`` keeps every period.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

__all__ = ["RUNS", "CURRENT", "recover", "stage", "publish", "discard", "current_run"]

RUNS = "runs"
CURRENT = "current"


def current_run(base: Path) -> str | None:
    """The run id ``BASE/current`` points to (None if there is none)."""
    link = Path(base) / CURRENT
    try:
        return Path(os.readlink(link)).name
    except OSError:
        return None


def recover(base: Path, ledger=None) -> None:
    """Put ``base`` right after a run that was killed (see the module docstring)."""
    base = Path(base)
    runs = base / RUNS
    if not runs.is_dir():
        return
    current = current_run(base)
    committed = ledger.committed_runs(str(base.resolve())) if ledger is not None else []
    known = set(committed)
    for d in runs.iterdir():
        if d.name == current or d.name in known:
            continue
        shutil.rmtree(d, ignore_errors=True) if d.is_dir() and not d.is_symlink() else d.unlink(missing_ok=True)
    latest = next((r for r in reversed(committed) if (runs / r).is_dir()), None)
    if latest is not None and latest != current:
        publish(base, latest)
        # the run that was current until now (replaced in the ledger by the one just swapped in) goes too
        if current is not None and current not in known and (runs / current).is_dir():
            shutil.rmtree(runs / current, ignore_errors=True)


def stage(base: Path, run_id: str) -> Path:
    """The new run's own directory under ``base`` (created empty)."""
    d = Path(base) / RUNS / run_id
    d.mkdir(parents=True, exist_ok=False)
    return d


def discard(base: Path, run_id: str) -> None:
    """Remove a run directory that will not be committed."""
    shutil.rmtree(Path(base) / RUNS / run_id, ignore_errors=True)


def link_other_periods(base: Path, run_dir: Path, period: str) -> None:
    """Hard-link the statements of every other period of the current run directory into ``run_dir``."""
    cur = current_run(base)
    if cur is None:
        return
    src = Path(base) / RUNS / cur / "statements"
    if not src.is_dir():
        return
    for p in src.iterdir():
        if p.name == period or not p.is_dir():
            continue

        def link(a, b):
            try:
                os.link(a, b)
            except OSError:
                shutil.copy2(a, b)

        shutil.copytree(p, run_dir / "statements" / p.name, copy_function=link)


def publish(base: Path, run_id: str) -> None:
    """Point ``BASE/current`` at the run (one atomic rename) and make sure the stable links exist."""
    base = Path(base)
    tmp = base / f".{CURRENT}.new-{os.getpid()}"
    tmp.unlink(missing_ok=True)
    os.symlink(f"{RUNS}/{run_id}", tmp)
    os.replace(tmp, base / CURRENT)
    for entry in sorted((base / RUNS / run_id).iterdir()):
        _stable_link(base, entry.name)


def _stable_link(base: Path, name: str) -> None:
    """``BASE/NAME → current/NAME``, replacing a file of that name an earlier version wrote in place (a
    directory is moved aside as ``NAME.before-runs``)."""
    path = base / name
    target = f"{CURRENT}/{name}"
    if path.is_symlink():
        if os.readlink(path) == target:
            return
    elif path.is_dir():
        os.replace(path, base / f"{name}.before-runs")
    tmp = base / f".{name}.link-{os.getpid()}"
    tmp.unlink(missing_ok=True)
    os.symlink(target, tmp)
    os.replace(tmp, path)
