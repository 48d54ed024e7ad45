"""A rich progress bar for long runs, quiet when output is not a terminal or when asked; and whether the
numba kernels are already compiled (the first run after an install compiles them for several seconds, which
a bar stuck at 0 would hide)."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["kernels_cached", "parquet_rows", "row_progress"]


def kernels_cached(module: str, *functions: str) -> bool:
    """Whether numba's on-disk cache has the compiled ``functions`` of ``module`` (their index files in the
    module's ``__pycache__``). False means the run will compile them first."""
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        return True
    cache = Path(spec.origin).parent / "__pycache__"
    stem = module.rsplit(".", 1)[-1]
    return all(any(cache.glob(f"{stem}.{f}-*.nbi")) for f in functions)


@contextmanager
def row_progress(description: str, total: int | None, *, enabled: bool = True, first: str | None = None) -> Iterator:
    """Yield a callable ``update(rows_done)`` that drives a progress bar over ``total`` rows.

    ``first`` is shown instead of ``description`` until the first rows are done (e.g. "compiling kernels
    (first run only)"), with a spinner, so a bar that cannot move yet says why.
    """
    if not enabled:
        yield lambda done: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), transient=True) as bar:
        task = bar.add_task(first or description, total=total)
        state = {"first": first is not None}

        def update(done: int) -> None:
            if state["first"] and done:
                state["first"] = False
                bar.update(task, description=description)
            bar.update(task, completed=done)

        yield update


def parquet_rows(path) -> int | None:
    """The row count of a Parquet file for a progress bar; None for any other file, or one that cannot be
    read (the command's reader reports that, naming the file)."""
    from pathlib import Path

    path = Path(path)
    if path.suffix.lower() not in (".parquet", ".pq") or not path.is_file():
        return None
    try:
        from drg.casefile.parquet import parquet_file

        return parquet_file(path).metadata.num_rows
    except Exception:
        return None
