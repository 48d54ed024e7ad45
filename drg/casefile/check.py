"""``drg check``: validate a case file, write its rejects, count rows by outcome and reason."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from drg.casefile.mapping import ColumnMapping
from drg.casefile.reader import read_cases
from drg.casefile.rejects import RejectWriter
from drg.casefile.schema import REJECT_REASONS, SETTLEMENT_REQUIRED

__all__ = ['CheckSummary', 'check_cases']


@dataclass
class CheckSummary:
    """Counts of a validation pass: ``read == accepted + rejected`` always holds."""

    source: str
    read: int = 0
    accepted: int = 0
    rejected: int = 0
    by_reason: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"source": self.source, "read": self.read, "accepted": self.accepted, "rejected": self.rejected,
                "by_reason": dict(self.by_reason)}


def check_cases(path: str | Path, *, rejects: str | Path | None = None,
                mapping: ColumnMapping | str | Path | None = None,
                required: tuple[str, ...] = SETTLEMENT_REQUIRED,
                progress=None, sheet: str | int | None = None) -> CheckSummary:
    """Validate a case file, write its rejects, and count rows by outcome and reason.

    ``progress`` is an optional callable receiving the number of rows done after each batch; ``sheet`` the
    Excel sheet to read (name or 1-based number).
    """
    # (the duplicate pre-pass, not the streaming check: with no pipeline to hide it in, hashing in the main
    # pass, and numba's start-up, made a 10-million-case check 1.2 s slower and a small one 0.5 s slower)
    summary = CheckSummary(source=str(path))
    with RejectWriter(rejects) as writer:
        for batch in read_cases(path, mapping=mapping, required=required, sheet=sheet):
            summary.read += batch.n_read
            summary.accepted += batch.accepted.num_rows
            if batch.rejected is not None:
                summary.rejected += batch.rejected.num_rows
                counts = pl.from_arrow(batch.rejected.select(["reject_reason"]))["reject_reason"].value_counts()
                for r, c in counts.iter_rows():
                    summary.by_reason[r] = summary.by_reason.get(r, 0) + int(c)
                writer.write(batch.rejected)
            if progress is not None:
                progress(summary.read)
    if summary.read != summary.accepted + summary.rejected:  # pragma: no cover - guarded by construction
        raise AssertionError("rows lost in validation")
    summary.by_reason = {r: summary.by_reason[r] for r in REJECT_REASONS if r in summary.by_reason}
    return summary
