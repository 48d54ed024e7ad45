"""Settlement over a priced dataset on a Dask cluster: the sums are a tree reduction, the money is computed once.

Each partition is reduced on a worker to exact sums at the finest grain a run and the ledger's monitoring
facts read (pool, hospital, month, county, class, DRG, group state: :func:`drg.settlement.aggregates.
priced_sums`), with the rows it cannot settle, split by a hash of the hospital, and each hospital bucket's
sums are added up as a tree in partition order (:meth:`drg.settlement.aggregates.PricedSums.combine`, eight
at a time), the buckets' trees side by side. The client then builds the views
(:func:`drg.settlement.aggregates.aggregates_of`) and runs the single-machine settlement on them
(:func:`drg.settlement.runs.settle_year` and friends, given a :class:`drg.settlement.records.SummedPriced`):
the point value, the largest-remainder shares, county accounts, warnings, the ledger — once, on exact integers,
so the result is the same to the fen whatever the partitioning.

The ledger records each priced partition (path, size, sha256) from the pricing run's manifest when there is
one, else hashes them on the workers; the client never reads a partition.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

from drg.distributed.dataset import open_dataset
from drg.distributed.manifest import file_sha256, read_manifest
from drg.distributed.shuffle import bucket_count, buckets_of, shuffle, tree_reduce, wait

__all__ = ["sum_priced", "settle_year_dataset", "settle_month_dataset", "settle_months_dataset"]


def _input_file(path: str):
    from drg.settlement.records import InputFile

    p = Path(path)
    return InputFile("priced", str(p.resolve()), file_sha256(p), p.stat().st_size)


def priced_part(path: str, year: int, policy, buckets: int) -> list:
    """One priced partition reduced to exact sums (on a worker), split by hospital bucket; the files, row
    counts and rejects go with bucket 0."""
    import polars as pl

    from drg.distributed.plugin import task_threads
    from drg.settlement.aggregates import PricedSums, as_strings, priced_sums

    task_threads()
    s = priced_sums(path, year, policy)
    out = [PricedSums(None, None, [], None, 0, 0) for _ in range(buckets)]
    out[0] = PricedSums(None, s.rejects, s.files, s.scheme_id, s.rows_read, s.rows_other_years)
    if s.fine is not None:
        fine = as_strings(s.fine)      # (each partition's enums are its own: strings between workers)
        split = (fine.with_columns(pl.Series("_bucket", buckets_of(fine["hospital_id"].to_arrow(), buckets)))
                 .partition_by("_bucket", as_dict=True, include_key=False))
        for (i,), part in split.items():
            out[i] = PricedSums(part, out[i].rejects, out[i].files, out[i].scheme_id, out[i].rows_read,
                                out[i].rows_other_years)
    return out


def _priced_inputs(client, ds, run: str) -> list:
    """The ledger records of the priced partitions: from the manifest of the directory they came from (when
    it lists every one of them at its current size), else hashed on the workers."""
    from drg.settlement.records import InputFile

    src = Path(ds.source) if isinstance(ds.source, str) else None
    manifest = read_manifest(src) if src is not None and src.is_dir() else None
    if manifest is not None:
        known = {str((src / f["output"]).resolve()): f for f in manifest.get("files", [])}
        out = []
        for p in ds:
            f = known.get(str(Path(p.path).resolve()))
            if f is None or Path(p.path).stat().st_size != f.get("bytes"):
                break
            out.append(InputFile("priced", str(Path(p.path).resolve()), f["sha256"], f["bytes"]))
        else:
            return out
    return client.gather(client.map(_input_file, [p.path for p in ds], key=[f"drg-hash-{run}-{p.index}" for p in ds]))


def sum_priced(client, priced, year: int, policy, *, fan_in: int = 8, buckets: int | None = None,
               on_progress: Callable[[str, int, int], None] | None = None):
    """The priced dataset ``priced`` reduced to a :class:`drg.settlement.records.SummedPriced` for ``year``
    (the cases of ``year − 1`` kept for last year's CMI and spending, as :func:`drg.settlement.aggregates.
    read_priced` does). The sums are split by a hash of the hospital into ``buckets`` (default two per
    worker thread), each bucket added up as its own tree, and the trees put together on the client.
    """
    from drg.policy import Policy, load_policy
    from drg.settlement.aggregates import PricedSums, aggregates_of
    from drg.settlement.records import SummedPriced

    pol = policy if isinstance(policy, Policy) else load_policy(policy)
    ds = open_dataset(priced)
    run = uuid.uuid4().hex[:8]
    b = buckets or bucket_count(sum(client.nthreads().values()) or 1, len(ds))
    parts = [client.submit(priced_part, p.path, year, pol, b, key=f"drg-sums-{run}-{p.index}") for p in ds]
    wait(parts, "settlement sums", on_progress, gather=False)
    # one tree per hospital bucket: every level of the reduction runs in parallel, the last one included
    trees = [tree_reduce(client, pieces, PricedSums.combine, key=f"drg-sumtree-{run}-{i}", fan_in=fan_in)
             for i, pieces in enumerate(shuffle(client, parts, b, key=f"drg-sumshuffle-{run}"))]
    total = PricedSums.combine(wait(trees, "adding up"), disjoint=True)
    inputs = _priced_inputs(client, ds, run)
    return SummedPriced(aggregates_of(total, year, pol), tuple(inputs))


def settle_year_dataset(client, priced, hospitals, budget, county_income, policy, year: int, *,
                        on_progress: Callable[[str, int, int], None] | None = None, **kwargs):
    """:func:`drg.settlement.runs.settle_year` over a priced dataset (same keyword arguments)."""
    from drg.settlement.runs import settle_year

    summed = sum_priced(client, priced, year, policy, on_progress=on_progress)
    return settle_year(summed, hospitals, budget, county_income, policy, year, **kwargs)


def settle_month_dataset(client, priced, hospitals, budget, county_income, policy, period: str, *,
                         on_progress: Callable[[str, int, int], None] | None = None, **kwargs):
    """:func:`drg.settlement.runs.settle_month` over a priced dataset (same keyword arguments)."""
    from drg.settlement.periods import parse_period
    from drg.settlement.runs import settle_month

    year, _ = parse_period(period)
    summed = sum_priced(client, priced, year, policy, on_progress=on_progress)
    return settle_month(summed, hospitals, budget, county_income, policy, period, **kwargs)


def settle_months_dataset(client, priced, hospitals, budget, county_income, policy, year: int, *,
                          on_progress: Callable[[str, int, int], None] | None = None, **kwargs):
    """:func:`drg.settlement.runs.settle_months` over a priced dataset (same keyword arguments)."""
    from drg.settlement.runs import settle_months

    summed = sum_priced(client, priced, year, policy, on_progress=on_progress)
    return settle_months(summed, hospitals, budget, county_income, policy, year, **kwargs)
