"""Beyond one machine: grouping, weights, pricing and settlement of a partitioned dataset on Dask distributed,
with the same answer to the fen as one machine (issue 19; docs/scale-out.md).

Dask is an optional extra (``pip install drg-points[dask]``). A run takes a client
(:func:`drg.distributed.plugin.cluster_client`: a scheduler's address, or a local cluster of worker processes)
and a dataset (:mod:`drg.distributed.dataset`: a directory of Parquet partitions in documented order).

* :func:`group_dataset` — each partition grouped on a worker into its own file and rejects; repeated case ids
  found across partitions.
* :func:`build_tables_dataset` — weights and coefficients; the history's slim projection shuffled by DRG.
* :func:`price_dataset` — each partition priced on a worker; readmission stays shuffled by patient.
* :func:`settle_year_dataset`, :func:`settle_month_dataset`, :func:`settle_months_dataset` — the sums a tree
  reduction, the point value and the largest-remainder shares computed once on the client.

Every map writes its partition's output atomically under a name fixed by the partition, and a manifest lists
every output with its rows and sha256.
"""

from drg._lazy import lazy_exports

_EXPORTS = {
    "Dataset": "dataset",
    "DrgWorker": "plugin",
    "Partition": "dataset",
    "build_tables_dataset": "weights",
    "cluster_client": "plugin",
    "group_dataset": "grouping",
    "local_cluster": "plugin",
    "open_dataset": "dataset",
    "price_dataset": "pricing",
    "read_manifest": "manifest",
    "settle_month_dataset": "settlement",
    "settle_months_dataset": "settlement",
    "settle_year_dataset": "settlement",
    "split_cases": "dataset",
    "sum_priced": "settlement",
}
__all__, __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
