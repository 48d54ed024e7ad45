"""What the detectors read: the audited period's priced cases and the history beside them, as one polars frame
of the columns the rules use (money in fen, the principal diagnosis as text, the cost ratio).

The audited cases are those of the priced files (``--priced``) discharged in the period (the whole files when
no period is given); the history files (``--history``: earlier priced or grouped files) are context only —
the earlier stay of a readmission across the year's start, the ADRGs usually treated as outpatients, last
year's coding. A history case is never queued. A history case without a cost ratio (a grouped file) gets
its total cost ÷ the mean cost of its DRG in the audited files' weights.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from drg.errors import InputError

__all__ = ["AuditCases", "CASE_COLUMNS", "read_audit_cases"]

#: Columns read from the priced and history files (those absent are left out, or null).
CASE_COLUMNS = ("case_id", "patient_id", "hospital_id", "insurance_type", "county", "admit_date", "discharge_date",
                "los", "discharge_status", "dx", "mdc", "adrg", "drg", "cc_level", "cc_dx", "group_status",
                "case_class", "base_points", "mean_cost", "cost_ratio", "points", "adjusted_points", "total_cost",
                "fund_paid", "self_paid", "other_paid", "total_cost_fen", "fund_paid_fen", "self_paid_fen",
                "other_paid_fen")

#: Columns an audited (priced) file must have.
REQUIRED = ("case_id", "patient_id", "hospital_id", "admit_date", "discharge_date", "drg", "total_cost")


@dataclass
class AuditCases:
    """The frame the detectors read (``cases``; ``audited`` marks the queued-eligible rows), the files, the
    period, the scheme id of the priced files and the hospitals' tiers (``{hospital_id: tier}``, may be
    empty)."""

    cases: object
    files: list[str]
    history_files: list[str]
    period: str | None
    year: int
    scheme_id: str | None
    tiers: dict[str, str] = field(default_factory=dict)
    pooled: bool = True

    @property
    def audited(self):
        import polars as pl

        return self.cases.filter(pl.col("audited"))


def _read(path: Path, role: str):
    import polars as pl
    from drg.casefile.parquet import parquet_file

    if not path.exists():
        raise InputError(f"{role} file not found", file=str(path))
    if path.suffix.lower() != ".parquet":
        raise InputError(f"{role} cases must be Parquet (the output of `drg points` or `drg group`)", file=str(path))
    try:
        pf = parquet_file(path)
    except Exception as exc:  # noqa: BLE001 - the reader's message, with the file named
        raise InputError(f"cannot read Parquet: {exc}", file=str(path)) from None
    names = pf.schema_arrow.names
    for c in REQUIRED:
        if c not in names and not (c == "total_cost" and "total_cost_fen" in names):
            raise InputError(f"{role} cases: missing column {c}", file=str(path), field=c)
    md = pf.schema_arrow.metadata or {}
    scheme = md.get(b"drg.scheme_id", b"").decode() or None
    table = pf.read(columns=[c for c in CASE_COLUMNS if c in names])
    return pl.from_arrow(table), scheme


def _normalise(df, pooled: bool):
    """The detectors' columns: money in fen, dates, the principal diagnosis, flags; absent columns null."""
    import polars as pl

    def fen(name: str):
        if f"{name}_fen" in df.columns:
            return pl.col(f"{name}_fen").cast(pl.Int64)
        if name in df.columns:
            return (pl.col(name).cast(pl.Float64) * 100).round(0).cast(pl.Int64)
        return pl.lit(0, pl.Int64)

    def text(name: str):
        return pl.col(name).cast(pl.String) if name in df.columns else pl.lit(None, pl.String)

    def num(name: str, dtype=pl.Float64):
        return pl.col(name).cast(dtype) if name in df.columns else pl.lit(None, dtype)

    from grouper.results import has_drg

    drg = pl.col("drg").cast(pl.String)
    values = df["drg"].cast(pl.String).unique().to_list()
    with_drg = [v for v in values if has_drg(v)]        # the one predicate of grouper and drg, once per value
    grouped = drg.is_in(with_drg) & ((text("group_status") == "ok") | text("group_status").is_null())
    out = df.select(
        text("case_id").alias("case_id"), text("patient_id").alias("patient_id"),
        text("hospital_id").alias("hospital_id"),
        (text("insurance_type") if pooled else pl.lit("all")).fill_null("all").alias("pool"),
        text("county").alias("county"),
        pl.col("admit_date").cast(pl.Date).alias("admit"), pl.col("discharge_date").cast(pl.Date).alias("discharge"),
        num("los", pl.Int64).alias("los"), num("discharge_status", pl.Int64).alias("status"),
        (pl.col("dx").list.first().cast(pl.String) if "dx" in df.columns else pl.lit(None, pl.String)).alias("pdx"),
        text("mdc").alias("mdc"), text("adrg").alias("adrg"), drg.alias("drg"),
        num("cc_level", pl.Int64).fill_null(0).alias("cc_level"), text("cc_dx").alias("cc_dx"),
        grouped.alias("grouped"), text("case_class").alias("case_class"),
        num("base_points").alias("base_points"), num("mean_cost").alias("mean_cost"),
        num("cost_ratio").alias("cost_ratio"), num("points").alias("points"),
        num("adjusted_points").alias("adjusted_points"),
        fen("total_cost").alias("total_fen"), fen("fund_paid").alias("fund_fen"), fen("self_paid").alias("self_fen"),
        fen("other_paid").alias("other_fen"))
    return out.with_columns(
        pl.when(pl.col("los").is_null()).then((pl.col("discharge") - pl.col("admit")).dt.total_days())
        .otherwise(pl.col("los")).alias("los"))


def read_audit_cases(priced, history=(), *, period: str | None = None, policy=None, tiers: dict | None = None):
    """Read the audited priced files and the history files into an :class:`AuditCases`.

    ``period`` (``YYYY``, ``YYYY-MM``, ``YYYY-Qn``, ``YYYY-Hn``) limits the audited cases by discharge date;
    a case id found twice across the audited files is an error (``drg check`` rejects duplicate ids; a
    duplicate *claim* has its own id).
    """
    import polars as pl

    priced = [Path(p) for p in ([priced] if isinstance(priced, (str, Path)) else priced)]
    history = [Path(p) for p in ([history] if isinstance(history, (str, Path)) else history)]
    if not priced:
        raise InputError("no priced file to audit", field="priced")
    pooled = policy.pools_by_insurance_type if policy is not None else True
    parts, scheme = [], None
    for p in priced:
        df, s = _read(p, "priced")
        scheme = scheme or s
        parts.append(_normalise(df, pooled).with_columns(pl.lit(True).alias("audited"), pl.lit(str(p)).alias("file")))
    cur = pl.concat(parts, how="vertical_relaxed")
    dup = cur.group_by("case_id").len().filter(pl.col("len") > 1)
    if dup.height:
        raise InputError(f"case id {dup['case_id'][0]} appears {dup['len'][0]} times in the audited files",
                         file=", ".join(map(str, priced)), field="case_id")
    if cur["discharge"].null_count():
        raise InputError("a priced case has no discharge date", file=", ".join(map(str, priced)),
                         field="discharge_date")
    if period:
        from drg.settlement.periods import parse_period

        per = parse_period(period)
        period = per.text
        cur = cur.with_columns(((pl.col("discharge").dt.year() == per.year)
                                & pl.col("discharge").dt.month().is_in(list(per.months))).alias("audited"))
        year = per.year
    else:
        year = int(cur["discharge"].dt.year().max())
    hist = []
    means = (cur.filter(pl.col("mean_cost").is_not_null() & pl.col("grouped"))
             .group_by("drg").agg(pl.col("mean_cost").first().alias("_mean")))
    for p in history:
        df, _ = _read(p, "history")
        h = _normalise(df, pooled).with_columns(pl.lit(False).alias("audited"), pl.lit(str(p)).alias("file"))
        h = h.filter(~pl.col("case_id").is_in(cur["case_id"].implode()))
        # a grouped file has no cost ratio: its cost over the DRG's mean in the audited files' weights
        h = h.join(means, on="drg", how="left").with_columns(
            pl.when(pl.col("cost_ratio").is_null() & (pl.col("_mean") > 0))
            .then(pl.col("total_fen") / 100 / pl.col("_mean")).otherwise(pl.col("cost_ratio")).alias("cost_ratio")
        ).drop("_mean")
        hist.append(h)
    cases = pl.concat([cur, *hist], how="vertical_relaxed") if hist else cur
    return AuditCases(cases=cases, files=[str(p) for p in priced], history_files=[str(p) for p in history],
                      period=period, year=year, scheme_id=scheme, tiers=dict(tiers or {}), pooled=pooled)
