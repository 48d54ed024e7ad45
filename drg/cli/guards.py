"""Checks a command makes before a run that would otherwise finish "successfully" with wrong numbers.

(The errors of that kind — a file no grouping produced, files and tables of different schemes — are the
library's own, :func:`drg.pricing.weights.grouped_scheme_id`, so every caller has them.)

Heuristics (a warning on standard error; with ``--strict`` the run is refused, exit 1): more than 5 % of the
principal diagnoses unknown to the scheme (``drg group``: a sample of the file before grouping, and the count
after); the cases' years not the tables' settlement year (``drg points``).
"""

from __future__ import annotations

import sys
from pathlib import Path

from drg.errors import InputError

__all__ = ["MIN_CASES", "UNKNOWN_DX_LIMIT", "warn", "unknown_principal_share",
           "case_years", "check_year", "unknown_dx_message"]

#: Share of unknown principal diagnoses above which a grouping run is suspect.
UNKNOWN_DX_LIMIT = 0.05
#: Fewer cases than this say nothing about a file as a whole: the heuristics stay silent.
MIN_CASES = 20


def warn(message: str, *, strict: bool, what: str = "") -> None:
    """A heuristic's finding: printed as a warning, or (``strict``) an input error that refuses the run."""
    if strict:
        raise InputError(f"{message} (refused under --strict{'; ' + what if what else ''})")
    sys.stderr.write(f"warning: {message}\n")
    sys.stderr.flush()


def _schema(path: Path):
    """The Arrow schema of a Parquet file (None for CSV/Excel)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if path.suffix.lower() not in (".parquet", ".pq"):
        return None
    if not path.exists():
        raise InputError("file not found", file=str(path))
    try:
        return pq.read_schema(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(f"cannot read Parquet: {exc}", file=str(path)) from None


def case_years(path: str | Path) -> dict[int, int]:
    """``{year: cases}`` of a Parquet case file by discharge date (empty when it cannot be told)."""
    import pyarrow.compute as pc
    from drg.casefile.parquet import read_parquet

    p = Path(path)
    schema = _schema(p)
    if schema is None or "discharge_date" not in schema.names:
        return {}
    col = read_parquet(p, columns=["discharge_date"]).column("discharge_date")
    try:
        years = pc.year(col)
    except Exception:  # noqa: BLE001 - dates as text: leave the check to the reader
        return {}
    counts = pc.value_counts(years.combine_chunks() if hasattr(years, "combine_chunks") else years)
    return {int(v["values"]): int(v["counts"]) for v in counts.to_pylist() if v["values"] is not None}


def check_year(path: str | Path, year: int | None, *, strict: bool, what: str) -> None:
    """Warn (or refuse under ``strict``) when most cases of ``path`` are not of the settlement ``year``."""
    if year is None:
        return
    years = case_years(path)
    total = sum(years.values())
    if total < MIN_CASES:
        return
    inside = years.get(int(year), 0)
    if inside < total / 2:
        shown = ", ".join(f"{y}: {n:,}" for y, n in sorted(years.items()))
        warn(f"{path}: {total - inside:,} of {total:,} cases were discharged in another year than {year}, the "
             f"settlement year of {what} (cases by year: {shown}); were the right cases or tables given?",
             strict=strict)


def unknown_principal_share(path: str | Path, scheme, *, mapping=None, sample: int = 50_000) -> tuple[float, int]:
    """The share of principal diagnoses unknown to ``scheme`` among the first ``sample`` cases of a Parquet
    file (``(share, cases looked at)``; ``(0.0, 0)`` for other files)."""
    import pyarrow as pa
    from drg.casefile.parquet import parquet_file

    from grouper.reference import normalize_code

    p = Path(path)
    schema = _schema(p)
    if schema is None or mapping is not None or "dx" not in schema.names:
        return 0.0, 0
    dx_type = schema.field("dx").type if schema.names.count("dx") == 1 else None
    if not (dx_type is not None and (pa.types.is_list(dx_type) or pa.types.is_large_list(dx_type))
            and (pa.types.is_string(dx_type.value_type) or pa.types.is_large_string(dx_type.value_type))):
        return 0.0, 0   # a dx column of another type: the reader rejects the file, naming it
    seen = unknown = 0
    try:
        for batch in parquet_file(p).iter_batches(batch_size=min(sample, 65_536), columns=["dx"]):
            for codes in batch.column(0).to_pylist():
                if not codes:
                    continue
                seen += 1
                unknown += codes[0] is None or normalize_code(codes[0]) not in scheme.dx_index
            if seen >= sample:
                break
    except (pa.ArrowException, OSError):
        pass   # a damaged file: the reader reports it, with its name and row group
    return (unknown / seen if seen else 0.0), seen


def unknown_dx_message(share: float, n: int, scheme_name: str, cases: str, after: bool) -> str:
    """The warning for many unknown principal diagnoses, naming the likely cause."""
    where = "of the grouped cases" if after else f"of the first {n:,} cases"
    return (f"{share:.1%} {where} in {cases} have a principal diagnosis the scheme {scheme_name} does not know "
            f"(more than {UNKNOWN_DX_LIMIT:.0%}): the cases are likely coded with another code edition than the "
            "scheme's (for example national ICD-10 codes instead of 医保版 2.0), or the wrong scheme was given")
