"""A rich progress bar for long runs, quiet when output is not a terminal or when asked."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["row_progress"]


@contextmanager
def row_progress(description: str, total: int | None, *, enabled: bool = True) -> Iterator:
    """Yield a callable ``update(rows_done)`` that drives a progress bar over ``total`` rows."""
    if not enabled:
        yield lambda done: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  transient=True) as bar:
        task = bar.add_task(description, total=total)
        yield lambda done: bar.update(task, completed=done)
