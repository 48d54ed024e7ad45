"""``drg weights`` over partitioned grouped history on a Dask cluster.

Trimming needs a DRG-year's whole cost list (the sample SD or the percentiles of its costs), so the history
crosses partitions — as a slim projection, never whole rows: each partition sends, per case with a DRG,
its DRG and hospital (dictionary-encoded), discharge year, cost in fen, bed-days and per-diem flag
(:func:`drg.pricing.weights.history_rows`), split by a hash of the DRG. Each bucket then holds every case of
its DRGs, in documented order (partition, then row), and is trimmed and summed by the single-machine
function (:func:`drg.pricing.weights.drg_year_sums`): the same float64 trimming decisions over the same cost
lists in the same order, then exact sums. Those sums — a few per DRG-year, and per (hospital, DRG, year)
for the coefficients — come to the client, which computes A, the base points and the coefficients once
(:func:`drg.pricing.weights.weights_from_sums`, :func:`drg.pricing.coefficients.write_tables`).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa

from drg.distributed.dataset import open_dataset
from drg.distributed.shuffle import bucket_count, buckets_of, shuffle, split_by_bucket, wait

__all__ = ["build_tables_dataset"]

WANTED = ("hospital_id", "drg", "adrg", "los", "discharge_date", "total_cost", "discharge_status", "group_status")


def history_part(path: str, columns: list[str], policy, buckets: int) -> dict:
    """One history partition: its projection split by DRG bucket, and the facts the client needs (discharge
    years present, hospital ids, rows, deaths per DRG and year for the low-risk DRGs)."""
    from drg.distributed.plugin import task_threads
    from drg.monitoring.lowrisk import death_counts
    from drg.pricing.weights import history_rows, read_grouped

    task_threads()
    t = read_grouped(path, columns=columns)
    rows, years = history_rows(t, policy, file=path)
    proj = rows.to_arrow()
    return {"pieces": split_by_bucket(proj, buckets_of(proj.column("drg"), buckets), buckets),
            "years": np.unique(years), "rows": t.num_rows,
            "hospitals": set(t.column("hospital_id").cast(pa.string()).to_pylist()), "deaths": death_counts(t)}


def _facts(part: dict) -> dict:
    return {k: v for k, v in part.items() if k != "pieces"}


def _pieces(part: dict) -> list[pa.Table]:
    return part["pieces"]


def drg_shard(pieces: list[pa.Table], years, policy):
    """Trim and sum the DRGs of one bucket (every case of them, in documented order); the trimmed cases come
    back summed per (hospital, DRG, year)."""
    from drg.distributed.plugin import task_threads
    from drg.pricing.coefficients import trimmed_sums
    from drg.pricing.weights import HistoryRows, drg_year_sums

    task_threads()
    rows = HistoryRows.from_arrow(pa.concat_tables(pieces))
    sums = drg_year_sums(rows, years, policy)
    sums.trimmed = trimmed_sums(sums.trimmed)
    return sums


def build_tables_dataset(client, history, hospitals: str | Path, policy, out: str | Path, *, year: int | None = None,
                         scheme_id: str | None = None, ledger=None, buckets: int | None = None,
                         on_progress: Callable[[str, int, int], None] | None = None) -> dict:
    """``drg weights`` over history datasets (one or several: a list of directories or files, in order) on
    the cluster of ``client``; writes ``OUT/weights.parquet``, ``OUT/coefficients.parquet`` and
    ``OUT/low_risk_drgs.parquet`` (also into ``ledger`` when given) equal to those
    :func:`drg.pricing.coefficients.build_tables` writes from the files concatenated in documented order,
    and returns the same summary (plus ``partitions``). ``buckets``: DRG buckets of the shuffle (default: two
    per worker thread, fewer than the partitions); the tables do not depend on it."""
    import pyarrow.parquet as pq
    from drg.casefile.parquet import parquet_file

    from drg.casefile.tables import hospital_tiers
    from drg.errors import InputError
    from drg.policy import Policy, load_policy
    from drg.pricing.coefficients import write_tables
    from drg.monitoring.lowrisk import DeathCounts
    from drg.pricing.weights import DrgYearSums, grouped_scheme_id, history_years, one_scheme, weights_from_sums

    pol = policy if isinstance(policy, Policy) else load_policy(policy)
    ds = open_dataset(history)
    names = []
    for p in ds:       # the columns every partition has (as build_tables concatenates files)
        try:
            names.append(pq.read_schema(p.path).names)
        except (pa.ArrowInvalid, OSError) as exc:
            raise InputError(f"cannot read Parquet: {exc}", file=p.path) from None
    common = [c for c in WANTED if all(c in n for n in names)]
    # the scheme each partition was grouped with (from its footer; a file no grouping wrote is an error)
    grouped_with = one_scheme({p.path: grouped_scheme_id(p.path, command="weights") for p in ds})
    run = uuid.uuid4().hex[:8]
    threads = sum(client.nthreads().values()) or 1
    rows = sum(parquet_file(p.path).metadata.num_rows for p in ds)
    b = buckets or bucket_count(threads, len(ds), rows)
    mapped = [client.submit(history_part, p.path, common, pol, b, key=f"drg-history-{run}-{p.index}") for p in ds]
    facts = wait([client.submit(_facts, m, key=f"drg-historyfacts-{run}-{k}") for k, m in enumerate(mapped)],
                 "history projection", on_progress)
    file = ", ".join(p.path for p in ds)
    present = np.unique(np.concatenate([f["years"] for f in facts]))
    if year is None and pol.year is None:
        real = present[present > 0]
        year = int(real.max()) + 1 if len(real) else None
    scheme_id = scheme_id or grouped_with     # the grouper writes the scheme's id into every grouped file
    pol.check_scheme(scheme_id, what="the history cases", file=file)
    settlement_year = year if year is not None else pol.year
    years = history_years(present, pol, settlement_year, file=file)
    piece_lists = [client.submit(_pieces, m, key=f"drg-historypieces-{run}-{k}") for k, m in enumerate(mapped)]
    shards = [client.submit(drg_shard, pieces, years, pol, key=f"drg-drgshard-{run}-{i}")
              for i, pieces in enumerate(shuffle(client, piece_lists, b, key=f"drg-drgshuffle-{run}"))]
    sums = DrgYearSums.combine(wait(shards, "trimming by DRG", on_progress))
    weights = weights_from_sums(sums, years, pol, settlement_year=settlement_year,
                                scheme_id=scheme_id or pol.scheme, file=file)
    hosp = hospital_tiers(hospitals, pol.coef.tiers)
    trimmed = sums.trimmed if sums.trimmed is not None else pa.table(
        {"hospital_id": pa.array([], pa.string()), "drg": pa.array([], pa.string()),
         "year": pa.array([], pa.int32()), "cost_fen": pa.array([], pa.int64()), "n": pa.array([], pa.int64())})
    summary = write_tables(weights, trimmed, hosp, pol, year, out,
                           history_hospitals=set().union(*(f["hospitals"] for f in facts)),
                           history_cases=sum(f["rows"] for f in facts),
                           deaths=DeathCounts.combine([f["deaths"] for f in facts]), ledger=ledger)
    return summary | {"partitions": len(ds)}
