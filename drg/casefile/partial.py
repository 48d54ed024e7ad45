"""Files written under a temporary name (``PATH.partial``) and given their own name only when complete, so
that a run that fails leaves no half-written file and an earlier ``PATH`` untouched."""

from __future__ import annotations

from pathlib import Path

__all__ = ["discard_partial", "partial_path"]


def partial_path(path: Path) -> Path:
    """Where ``path`` is written until it is complete."""
    return path.with_name(path.name + ".partial")


def discard_partial(writer, partial: Path | None) -> None:
    """After an error: close ``writer`` (a Parquet writer, or None) and remove the unfinished file. An error
    of the close is swallowed: the run's own error is the one to report."""
    if writer is not None:
        try:
            writer.close()
        except Exception:
            pass
    if partial is not None:
        partial.unlink(missing_ok=True)
