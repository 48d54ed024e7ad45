"""Coefficients (差异系数, SPEC §3): hospital and tier coefficients, the chained 90 %/110 % tier fallback,
the blend by policy year, fallbacks to 1.0, clipping and rounding; and :func:`build_tables`, the library
call behind ``drg weights`` that writes ``weights.parquet`` and ``coefficients.parquet``.

All coefficient arithmetic is rational (exact) and rounded once, half away from zero, to the points
decimals of the policy.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import numpy as np
import pyarrow as pa

from drg.errors import InputError
from drg.money import round_half_away
from drg.pricing.exact import COEF_SCALE
from drg.casefile.tables import hospital_tiers
from drg.policy import Policy, load_policy
from drg.pricing.weights import (HistoryRows, HistoryRowsBuilder, Weights, drg_year_sums, grouped_scheme_id,
                                 history_rows, history_years, one_scheme, read_grouped, weights_from_sums, write_weights)

__all__ = ["compute_coefficients", "tier_chain", "build_tables", "read_coefficients", "trimmed_sums",
           "write_tables", "history_columns_read"]

COEF_SCHEMA = pa.schema([
    ("hospital_id", pa.string()), ("tier", pa.string()), ("drg", pa.string()),
    ("n_hospital", pa.int64()), ("hospital_coef", pa.float64()), ("n_tier", pa.int64()),
    ("tier_coef", pa.float64()), ("tier_coef_source", pa.string()), ("coef", pa.float64()),
    ("coef_source", pa.string()),
])


def tier_chain(observed: dict[str, Fraction], tiers: tuple[str, ...], down: Decimal | Fraction,
               up: Decimal | Fraction) -> dict[str, tuple[Fraction, str]]:
    """Complete the tier coefficients of one DRG (SPEC §3.2, §3.6).

    Going down the tiers (``tiers`` highest first), a tier without a value takes ``down`` (90 %) × the
    next-higher tier's value, observed or itself derived; tiers above every observed tier take ``up``
    (110 %) × the next-lower value, chained upward. Returns tier → (value, ``observed`` |
    ``from_higher`` | ``from_lower``); empty when no tier is observed.
    """
    out: dict[str, tuple[Fraction, str]] = {}
    first = next((i for i, t in enumerate(tiers) if t in observed), None)
    if first is None:
        return out
    down, up = Fraction(down), Fraction(up)
    for i in range(first, len(tiers)):
        t = tiers[i]
        if t in observed:
            out[t] = (observed[t], "observed")
        else:
            out[t] = (out[tiers[i - 1]][0] * down, "from_higher")
    for i in range(first - 1, -1, -1):
        out[tiers[i]] = (out[tiers[i + 1]][0] * up, "from_lower")
    return out


def trimmed_sums(trimmed: pa.Table) -> pa.Table:
    """The trimmed history of :func:`drg.pricing.weights.compute_weights` summed per (hospital, DRG, year):
    ``hospital_id, drg, year, cost_fen, n`` (exact int sums; a table that already has ``n`` is returned as it
    is). All that coefficients need of it, and what a dataset's DRG shards send back."""
    if "n" in trimmed.column_names:
        return trimmed
    import polars as pl

    df = pl.from_arrow(trimmed.select(["hospital_id", "drg", "year", "cost_fen"]))
    return df.group_by(["hospital_id", "drg", "year"]).agg(pl.col("cost_fen").sum(),
                                                            pl.len().cast(pl.Int64).alias("n")).to_arrow()


def _clipped(v: Fraction, lo: Fraction | None, hi: Fraction | None) -> Fraction:
    if lo is not None and v < lo:
        v = lo
    if hi is not None and v > hi:
        v = hi
    return v


def compute_coefficients(weights: Weights, trimmed: pa.Table, hospitals: pa.Table, policy: Policy, *,
                         settlement_year: int | None = None) -> pa.Table:
    """One row per hospital of ``hospitals`` and DRG with base points (SPEC §3).

    Columns: ``hospital_id, tier, drg, n_hospital, hospital_coef, n_tier, tier_coef, tier_coef_source,
    coef, coef_source`` where ``coef_source`` is ``hospital`` (the hospital's own coefficient entered),
    ``tier`` (no hospital coefficient; the tier's, observed or chained) or ``1.0`` (neither).
    ``trimmed`` is the trimmed history of :func:`drg.pricing.weights.compute_weights`, or its
    :func:`trimmed_sums`.
    """
    from drg.pricing.coefficient_cells import hospital_cells

    cp = policy.coef
    year = settlement_year if settlement_year is not None else policy.year
    blend = cp.blend_for(year)
    wh, wt, w1 = Fraction(blend.hospital), Fraction(blend.tier), Fraction(blend.one)
    t = weights.table
    drgs = [d for d, bp in zip(t.column("drg").to_pylist(), t.column("base_points").to_pylist()) if bp is not None]
    if weights.mean_exact is not None:
        mean_d = {d: weights.mean_exact[d] for d in drgs}
    else:
        mf = dict(zip(t.column("drg").to_pylist(), t.column("mean_cost_fen").to_pylist()))
        mean_d = {d: Fraction(mf[d]) for d in drgs}
    hosp_ids = hospitals.column("hospital_id").to_pylist()
    tier_of = dict(zip(hosp_ids, hospitals.column("tier").to_pylist()))
    newest = weights.settlement_year - 1 if weights.settlement_year is not None else max(weights.years)
    years = list(weights.years)
    wy = [Fraction(policy.weights.year_weight(y, newest)) for y in years]
    factor = [w * Fraction(policy.weights.cost_index.get(y, Decimal(1))) for w, y in zip(wy, years)]
    tier_names = sorted(set(tier_of.values()), key=str)
    nd, nt, nh, ny = len(drgs), len(tier_names), len(hosp_ids), len(years)
    tier_at = np.array([tier_names.index(tier_of[h]) for h in hosp_ids], np.int64)

    # the trimmed history's fen and cases per cell (drg · hospitals + hospital) and year, for the hospitals
    # and DRGs of the tables (others left out)
    s, c = _cell_sums(trimmed_sums(trimmed), hosp_ids, drgs, years)
    n_h = c.sum(axis=1)
    # the tiers' sums: the cells' of the tier's hospitals
    s3, c3 = s.reshape(nd, nh, ny), c.reshape(nd, nh, ny)
    tier_s = np.stack([s3[:, tier_at == j].sum(axis=1) for j in range(nt)], axis=1) if nt else np.zeros((nd, 0, ny))
    tier_c = np.stack([c3[:, tier_at == j].sum(axis=1) for j in range(nt)], axis=1) if nt else np.zeros((nd, 0, ny))
    lo = None if cp.min is None else Fraction(cp.min)
    hi = None if cp.max is None else Fraction(cp.max)

    # per DRG and tier (a few thousand): the tier's coefficient and source, its case count, the coefficient
    # of a hospital without its own, and the part of the blend that is not the hospital's (wt·tc + w1)
    tier_float = np.full((nd, nt), np.nan)
    tier_src = np.full((nd, nt), 3, np.int8)        # index into TIER_SOURCES (3: none)
    tier_n = tier_c.sum(axis=2).astype(np.int64)
    tier_coef_of = np.zeros((nd, nt))
    rest: list[list[Fraction]] = []
    mean_list = [mean_d[d] for d in drgs]
    # (the blend of a tier's coefficient, wh·tc + wt·tc + w1, as (wh + wt)·tc + w1: the same rational in half the
    # operations; a tier without a coefficient takes 1.0, the same for every DRG)
    whwt = wh + wt
    coef_of_one = round_half_away(_clipped(whwt + w1, lo, hi) * COEF_SCALE) / COEF_SCALE
    rest_of_one = wt + w1
    weight_sums: dict[int, Fraction] = {}
    for i, md in enumerate(mean_list):
        # a DRG whose history costs nothing (bad data: every kept case at 0 fen) has no ratio to it: no tier
        # or hospital coefficient, so 1.0 (SPEC §3.4's fallback; docs/payment-rules.md)
        observed = {}
        if md != 0:
            for j, tier in enumerate(tier_names):
                if tier in cp.tiers and tier_n[i, j] >= cp.tier_n_min:
                    observed[tier] = _mean_ratio(tier_s[i, j].tolist(), tier_c[i, j].tolist(), factor, wy, md,
                                                 weight_sums)
        chain = tier_chain(observed, cp.tiers, cp.down_factor, cp.up_factor)
        row = []
        for j, tier in enumerate(tier_names):
            tc, src = chain.get(tier, (None, None))
            if tc is None:
                tier_coef_of[i, j] = coef_of_one
                row.append(rest_of_one)
                continue
            tier_src[i, j] = TIER_SOURCES.index(src)
            tier_float[i, j] = float(tc)
            tier_coef_of[i, j] = round_half_away(_clipped(whwt * tc + w1, lo, hi) * COEF_SCALE) / COEF_SCALE
            row.append(wt * tc + w1)
        rest.append(row)

    # every hospital × DRG cell, DRG by DRG: where a hospital has n_min cases, its own coefficient, exactly
    # rounded (drg.pricing.coefficient_cells: double-double, Fractions where that could be off)
    cell_tier = np.tile(tier_at, nd)
    cell_drg = np.repeat(np.arange(nd), nh)
    own = (n_h >= cp.n_min) & np.repeat(np.array([md != 0 for md in mean_list], dtype=bool), nh)
    at = np.flatnonzero(own)
    hc_at, coef_at, _exact = hospital_cells(s, c, at, cell_drg[at], cell_tier[at], year_factor=factor,
                                            year_weight=wy, mean=mean_list, wh=wh, rest=rest, lo=lo, hi=hi,
                                            scale=COEF_SCALE)
    hospital_coef = np.full(nd * nh, np.nan)
    hospital_coef[at] = hc_at
    coef = tier_coef_of[cell_drg, cell_tier]
    coef[at] = coef_at
    has_tier = ~np.isnan(tier_float[cell_drg, cell_tier])
    source = np.where(own, 0, np.where(has_tier, 1, 2)).astype(np.int8)
    take_h, take_d = pa.array(np.tile(np.arange(nh), nd)), pa.array(cell_drg)
    return pa.table({
        "hospital_id": pa.array(hosp_ids, pa.string()).take(take_h),
        "tier": pa.array([tier_of[h] for h in hosp_ids], pa.string()).take(take_h),
        "drg": pa.array(drgs, pa.string()).take(take_d),
        "n_hospital": pa.array(n_h, pa.int64()),
        "hospital_coef": pa.array(hospital_coef, pa.float64(), mask=~own),
        "n_tier": pa.array(tier_n[cell_drg, cell_tier], pa.int64()),
        "tier_coef": pa.array(tier_float[cell_drg, cell_tier], pa.float64(), mask=~has_tier),
        "tier_coef_source": pa.array(TIER_SOURCES, pa.string()).take(pa.array(tier_src[cell_drg, cell_tier])),
        "coef": pa.array(coef, pa.float64()),
        "coef_source": pa.array(COEF_SOURCES, pa.string()).take(pa.array(source))}, schema=COEF_SCHEMA)


#: the values of ``tier_coef_source`` (a tier without a coefficient: null) and of ``coef_source``
TIER_SOURCES = ("observed", "from_higher", "from_lower", None)
COEF_SOURCES = ("hospital", "tier", "1.0")


def _mean_ratio(s: list[int], c: list[int], factor: list[Fraction], wy: list[Fraction], mean: Fraction,
                weight_sums: dict) -> Fraction:
    """The year-weighted mean cost of fen sums ``s`` and case counts ``c`` per year (SPEC §2.3: Σ factor·s/c over
    the years with cases ÷ Σ of their weights) divided by ``mean``, exactly: the sum kept as an integer
    numerator and denominator, one Fraction made at the end (a tier's coefficient; 1,833 of them for a
    province, where a Fraction per operation took 0.05 s). ``weight_sums`` caches Σ weights per set of years."""
    num, den, years = 0, 1, 0
    for y, (v, n) in enumerate(zip(s, c)):
        if n:
            f = factor[y]
            a, b = f.numerator * v, f.denominator * n
            num, den = num * b + a * den, den * b
            years |= 1 << y
    w = weight_sums.get(years)
    if w is None:
        w = weight_sums[years] = sum((wy[y] for y in range(len(c)) if years >> y & 1), Fraction(0))
    return Fraction(num * w.denominator * mean.denominator, den * w.numerator * mean.numerator)


def _cell_sums(sums: pa.Table, hosp_ids: list, drgs: list, years: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """The rows of ``sums`` (``hospital_id, drg, year, cost_fen, n``) added up per cell
    ``drg · len(hosp_ids) + hospital`` and position of the year in ``years``: fen and cases, int64 arrays
    ``(cells, years)``; rows of another hospital, DRG or year are left out."""
    import pyarrow.compute as pc

    from drg.pricing.coefficient_cells import cell_sums

    nh = len(hosp_ids)
    h = np.asarray(pc.index_in(sums.column("hospital_id"), value_set=pa.array(hosp_ids, pa.string()))
                   .fill_null(-1), np.int64)
    d = np.asarray(pc.index_in(sums.column("drg"), value_set=pa.array(drgs, pa.string())).fill_null(-1), np.int64)
    y = np.asarray(pc.index_in(sums.column("year").cast(pa.int64()), value_set=pa.array(years, pa.int64()))
                   .fill_null(-1), np.int64)
    cell = np.where((h >= 0) & (d >= 0), d * nh + h, -1)
    return cell_sums(cell, y, np.asarray(sums.column("cost_fen").fill_null(0), np.int64),
                     np.asarray(sums.column("n").fill_null(0), np.int64), len(drgs) * nh, len(years))


def read_coefficients(path: str | Path) -> pa.Table:
    """Read ``coefficients.parquet``."""
    from drg.casefile.parquet import read_parquet

    path = Path(path)
    if not path.exists():
        raise InputError("coefficients table not found (run `drg weights`)", file=str(path))
    return read_parquet(path)


def build_tables(history: str | Path | list, hospitals: str | Path, policy: str | Path | Policy, out: str | Path, *,
                 year: int | None = None, scheme_id: str | None = None, ledger=None) -> dict:
    """``drg weights``: read history and hospitals, write ``OUT/weights.parquet``,
    ``OUT/coefficients.parquet`` and the low-risk DRGs of the same history years
    (``OUT/low_risk_drgs.parquet``, :mod:`drg.monitoring.lowrisk`; also into ``ledger`` when given); return a
    summary dict. ``history`` may be one file or a list (one per year)."""
    pol = policy if isinstance(policy, Policy) else load_policy(policy)
    files = [Path(h) for h in history] if isinstance(history, (list, tuple)) else [Path(history)]
    scan = scan_history(files, pol)
    history = ", ".join(str(f) for f in files)
    hosp = hospital_tiers(hospitals, pol.coef.tiers)
    if year is None and pol.year is None:
        real = scan.years[scan.years > 0]
        year = int(real.max()) + 1 if len(real) else None
    grouped_with = one_scheme({str(f): grouped_scheme_id(f, command="weights") for f in files})
    scheme_id = scheme_id or grouped_with     # the grouper writes the scheme's id into every grouped file
    pol.check_scheme(scheme_id, what="the history cases", file=history)
    settlement_year = year if year is not None else pol.year
    years = history_years(scan.years, pol, settlement_year, file=history)
    sums = drg_year_sums(scan.rows, years, pol)
    del scan.rows
    weights = weights_from_sums(sums, years, pol, settlement_year=settlement_year,
                                scheme_id=scheme_id or pol.scheme, file=history)
    return write_tables(weights, sums.trimmed, hosp, pol, year, out, history_hospitals=scan.hospitals,
                        history_cases=scan.cases, deaths=scan.deaths, ledger=ledger)


#: the history columns ``drg weights`` reads
HISTORY_COLUMNS = ("hospital_id", "drg", "adrg", "los", "discharge_date", "total_cost", "discharge_status",
                   "group_status")
#: history columns read as Arrow dictionaries (20 M history cases: their strings are not built)
HISTORY_DICTIONARIES = ("hospital_id", "drg", "adrg", "group_status")
#: rows of a history file read at a time (256 Ki: at 20 M history cases 40 K page faults and 110 MB of peak
#: fewer than with 1 Mi, in the same time: the projection's kernel takes a batch at a time anyway)
HISTORY_BATCH_ROWS = 1 << 18


def history_columns_read(names) -> list[str]:
    """The columns ``drg weights`` reads of a grouped history file with columns ``names``: those of
    :data:`HISTORY_COLUMNS` it has, the cost in fen where the file has it (money crosses the pipe once: the
    fen column written when the cases were grouped). Also what the benchmark's I/O floor of the stage reads."""
    cols = [c for c in HISTORY_COLUMNS if c in names and not (c == "total_cost" and "total_cost_fen" in names)]
    if "total_cost_fen" in names:
        cols.append("total_cost_fen")
    return cols


@dataclass
class HistoryScan:
    """What ``drg weights`` keeps of its history files, read batch by batch: the slim projection of the cases
    with a DRG (:class:`drg.pricing.weights.HistoryRows`), the discharge years present (0 for none), the number
    of cases, the hospital ids, and the deaths per DRG and year for the low-risk DRGs."""

    rows: HistoryRows | None
    years: np.ndarray
    cases: int
    hospitals: set
    deaths: object


def scan_history(files: list[Path], pol: Policy) -> HistoryScan:
    """Read grouped history files (in order) batch by batch, keeping only what weights, coefficients and the
    low-risk DRGs need: memory is the projection (13 bytes a case) and one batch, not the files' columns.
    The columns used are those every file has (as the files concatenated would have), money in fen where
    the file has it."""
    import pyarrow.parquet as pq
    from drg.casefile.parquet import parquet_file

    from drg.casefile.money import with_fen_columns

    plans, capacity = [], 0
    for f in files:
        parquet = f.suffix.lower() in (".parquet", ".pq")
        try:
            names = pq.read_schema(f).names if parquet and f.exists() else list(HISTORY_COLUMNS)
            capacity += parquet_file(f).metadata.num_rows if parquet and f.exists() else 0
        except (pa.ArrowInvalid, OSError) as exc:
            raise InputError(f"cannot read Parquet: {exc}", file=str(f)) from None
        plans.append((f, parquet, history_columns_read(names)))
    # a column read from every file, under the name the money has once it is in fen
    has = [set(c for c in cols) | ({"total_cost_fen"} if {"total_cost", "total_cost_fen"} & set(cols) else set())
           for _f, _p, cols in plans]
    common = [c for c in (*HISTORY_COLUMNS, "total_cost_fen") if all(c in h for h in has)]

    def batches(f: Path, parquet: bool, cols: list[str]):
        if not parquet:   # a CSV or Excel history file is read whole (read_grouped checks every row)
            t = read_grouped(f, columns=cols or None)
            yield t, 1
            return
        if not f.exists():
            raise InputError("file not found", file=str(f))
        try:
            # text columns of few values as dictionaries: looked up once per value, no string per case
            pf = parquet_file(f, read_dictionary=[c for c in HISTORY_DICTIONARIES if c in cols])
            row, held, n_held = 1, [], 0
            # the reader gives a batch per row group (64 Ki rows from `drg group`): batches are gathered into
            # tables of about HISTORY_BATCH_ROWS rows (one chunk each) for the per-table steps
            for b in pf.iter_batches(batch_size=HISTORY_BATCH_ROWS, columns=cols or None):
                held.append(b)
                n_held += b.num_rows
                if n_held >= HISTORY_BATCH_ROWS:
                    yield with_fen_columns(pa.Table.from_batches(held), file=str(f), first_row=row), row
                    row, held, n_held = row + n_held, [], 0
            if held:
                yield with_fen_columns(pa.Table.from_batches(held), file=str(f), first_row=row), row
        except (pa.ArrowInvalid, OSError) as exc:
            raise InputError(f"cannot read Parquet: {exc}", file=str(f)) from None

    from drg.pricing import history_scan

    if history_scan.ENGINE == "numba":
        try:
            return _projected(_history_tables(plans, common, batches), pol, capacity)
        except history_scan.UnusualHistory:     # (a year outside 0…9999, or very many years: the numpy code)
            pass
    return _projected_numpy(_history_tables(plans, common, batches), pol, capacity)


def _history_tables(plans, common, batches):
    """Each history file's tables in order, with the file, the first row's number, the columns every file has;
    a missing fen value an error naming its row."""
    from drg.casefile.background import prefetch

    def read():
        for f, parquet, cols in plans:
            for t, first_row in batches(f, parquet, cols):
                yield f, cols, t, first_row

    # the next tables read on a second thread (Arrow's reader releases the GIL) while this one is projected,
    # across the files' boundaries too
    for f, cols, t, first_row in prefetch(read(), depth=2):
        if "total_cost_fen" in cols and t.column("total_cost_fen").null_count:
            row = int(np.flatnonzero(np.asarray(t.column("total_cost_fen").is_null()))[0]) + first_row
            raise InputError("money value is missing", file=str(f), row=row, field="total_cost_fen")
        yield f, first_row, t.select([c for c in common if c in t.column_names])


def _projected(tables, pol: Policy, capacity: int) -> HistoryScan:
    """The scan of :func:`_history_tables` ``tables`` in one kernel pass per batch
    (:class:`drg.pricing.history_scan.HistoryProjection`)."""
    from drg.pricing.history_scan import HistoryProjection
    from drg.pricing.weights import require_history_columns

    projection = HistoryProjection(capacity, pol)
    try:
        for f, first_row, t in tables:
            t = require_history_columns(t, file=str(f))
            projection.add(t, file=str(f), first_row=first_row)
    finally:
        projection.close()
    return HistoryScan(projection.rows(), projection.years(), projection.cases, projection.hospitals(),
                       projection.deaths())


def _projected_numpy(tables, pol: Policy, capacity: int) -> HistoryScan:
    """The plain twin of :func:`_projected`: the numpy passes of :func:`drg.pricing.weights.history_rows` and
    :func:`drg.monitoring.lowrisk.death_counts` over each table."""
    import pyarrow.compute as pc

    from drg.monitoring.lowrisk import DeathCounts, death_counts

    built = None
    years, hospitals, deaths, cases = [], set(), [], 0
    for f, _first_row, t in tables:
        rows, case_year = history_rows(t, pol, file=str(f))
        if built is None:
            built = HistoryRowsBuilder(capacity)
        built.add(rows)
        years.append(np.unique(case_year))
        # the distinct ids only (not a Python string per case)
        hospitals.update(pc.unique(t.column("hospital_id")).cast(pa.string()).to_pylist())
        deaths.append(death_counts(t))
        cases += t.num_rows
    if built is None:
        built = HistoryRowsBuilder(0)
    return HistoryScan(built.rows(), np.unique(np.concatenate(years)) if years else np.zeros(0, np.int32), cases,
                       hospitals, DeathCounts.combine(deaths))


def write_tables(weights: Weights, trimmed: pa.Table, hospitals: pa.Table, pol: Policy, year: int | None,
                 out: str | Path, *, history_hospitals: set, history_cases: int, deaths, ledger=None) -> dict:
    """The end of ``drg weights``: coefficients from the weights and the trimmed history (rows or
    :func:`trimmed_sums`), both tables written under ``out``, the low-risk DRGs from the history's deaths
    (:class:`drg.monitoring.lowrisk.DeathCounts`; also into ``ledger`` when given), and the summary dict.
    ``history_hospitals`` are the hospital ids of the history cases (those missing from ``hospitals`` are
    recorded)."""
    from concurrent.futures import ThreadPoolExecutor

    import pyarrow.parquet as pq

    from drg.outputs import atomic_path

    hosp = hospitals
    out = Path(out)
    blend = pol.coef.blend_for(year)
    unknown = sorted(set(history_hospitals) - set(hosp.column("hospital_id").to_pylist()) - {None})
    meta = {b"drg.policy_id": pol.id.encode(), b"drg.settlement_year": str(year or "").encode(),
            b"drg.blend": json.dumps({"hospital": str(blend.hospital), "tier": str(blend.tier),
                                      "one": str(blend.one)}).encode(),
            b"drg.history_hospitals_not_in_table": json.dumps(unknown).encode()}
    # both tables are written in full under temporary names before either takes its name: a failed write
    # (a full disk) leaves the earlier pair as it was. Each is written on a thread (Arrow's writer releases
    # the GIL) while the next step runs: the weights while the coefficients are computed, the coefficients
    # while the low-risk DRGs are.
    with atomic_path(out / "weights.parquet") as weights_tmp, \
            atomic_path(out / "coefficients.parquet") as coefs_tmp, ThreadPoolExecutor(1) as writer:
        written = [writer.submit(write_weights, weights, weights_tmp)]
        coefs = compute_coefficients(weights, trimmed, hosp, pol, settlement_year=year)
        written.append(writer.submit(pq.write_table, coefs.replace_schema_metadata(meta), coefs_tmp))
        low_risk_table = _low_risk_table(deaths, weights, pol)
        for w in written:
            w.result()
    low_risk = _low_risk(low_risk_table, weights, pol, out, ledger)
    wt = weights.table
    return {"history_cases": history_cases, "history_years": list(weights.years), "settlement_year": year,
            "drgs": wt.num_rows, "stable_drgs": int(np.sum(np.asarray(wt.column("stable")))),
            "all_drg_mean_yuan": round(weights.a_yuan, 2), "coefficient_rows": coefs.num_rows,
            "history_hospitals_not_in_table": len(unknown), "policy": pol.id, **low_risk}


def _low_risk_table(deaths, weights: Weights, pol: Policy) -> pa.Table:
    """The low-risk DRGs of the weights' history years (SPEC §9) from the history's deaths."""
    from drg.monitoring.lowrisk import low_risk_of_counts

    return low_risk_of_counts(deaths, weights.years, pol)


def _low_risk(table: pa.Table, weights: Weights, pol: Policy, out: Path, ledger) -> dict:
    """The low-risk DRGs of :func:`_low_risk_table` written: ``OUT/low_risk_drgs.parquet`` and, given a
    ledger, its ``low_risk_drgs`` table; their counts for the summary."""
    from drg.monitoring.lowrisk import LOW_RISK_FILE, write_low_risk

    write_low_risk(table, out / LOW_RISK_FILE, years=weights.years, policy=pol, scheme_id=weights.scheme_id)
    if ledger is not None:
        from drg.monitoring.store import record_low_risk
        from drg.settlement.ledger import Ledger

        led = ledger if isinstance(ledger, Ledger) else Ledger(ledger)
        record_low_risk(led, table, settlement_year=weights.settlement_year, scheme_id=weights.scheme_id,
                        history_years=list(weights.years))
    flags = table.column("low_risk").to_pylist()
    return {"low_risk_drgs": sum(bool(f) for f in flags),
            "low_risk_classified": sum(bool(f) for f in table.column("classified").to_pylist())}
