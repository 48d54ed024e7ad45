"""A rich progress bar for long runs, quiet when output is not a terminal or when asked."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["parquet_rows", "row_progress"]


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


def parquet_rows(path) -> int | None:
    """The row count of a Parquet file for a progress bar; None for any other file, or one that cannot be
    read (the command's reader reports that, naming the file)."""
    from pathlib import Path

    path = Path(path)
    if path.suffix.lower() not in (".parquet", ".pq") or not path.is_file():
        return None
    try:
        import pyarrow.parquet as pq

        return pq.ParquetFile(path).metadata.num_rows
    except Exception:
        return None
