"""Per worker: the compiled scheme and the pricing tables loaded once, the numba kernels compiled once, the
libraries' thread pools sized to the worker; and the clients a run talks to.

* :func:`cached` keeps what a task loads — the scheme, the weights and coefficients tables, reviews and
  violations — once per worker process, keyed by the file's sha256 (computed once on the client and checked
  once on the worker: a file that changed under a running job is an error, never a silent mix). The first
  scheme a worker loads also compiles the grouping kernel (numba caches it on disk, so later workers only
  load it).
* :class:`DrgWorker` is the worker plugin: at setup it applies the process settings of the ``drg`` command
  line (:func:`drg.cli.runtime.batch_process`), sizes Arrow's thread pools to the worker's threads, stops
  Dask's statistical profiler (its 10 ms samples interrupt the pipelines' threads) and, when asked, pins the
  worker process to one core (the 1-thread runs of the benchmarks); at teardown it drops the cache.
* :func:`cluster_client` opens a client: on a running scheduler (``tcp://HOST:PORT``: ``dask scheduler`` /
  ``dask worker``, dask-kubernetes, dask-yarn), or on a :class:`distributed.LocalCluster` of worker
  processes over loopback whose numba, polars and OpenMP pools are pinned to the threads of each worker.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from distributed import WorkerPlugin

from drg.errors import InputError

__all__ = ["DrgWorker", "cached", "cached_scheme", "cached_tables", "cluster_client", "local_cluster",
           "kill_once", "pinned_env", "task_threads"]

PLUGIN_NAME = "drg-points"
_CACHE: dict[tuple[str, str], Any] = {}
_LOCK = threading.Lock()
_LOADING: dict[tuple[str, str], threading.Lock] = {}


def cached(kind: str, path: str | Path, sha256: str, load: Callable[[Path], Any]) -> Any:
    """``load(path)`` once per process for each (kind, sha256); the file's sha256 is checked when it is
    loaded, so a file replaced while a run goes on is an error."""
    from drg.distributed.manifest import file_sha256

    key = (kind, sha256)
    with _LOCK:
        if key in _CACHE:
            return _CACHE[key]
        lock = _LOADING.setdefault(key, threading.Lock())
    with lock:                          # one loader per key; other threads wait for it
        with _LOCK:
            if key in _CACHE:
                return _CACHE[key]
        if file_sha256(path) != sha256:
            raise InputError(f"the {kind} file changed while the run was going on (sha256 differs)", file=str(path))
        value = load(Path(path))
        with _LOCK:
            _CACHE[key] = value
        return value


def cached_scheme(path: str | Path, sha256: str):
    """The compiled scheme, loaded and its grouping kernel compiled once per worker process."""
    def load(p: Path):
        import pyarrow as pa

        from drg.grouping import group_batches
        from grouper.scheme import load_scheme

        scheme = load_scheme(p)
        # compile (or load from numba's cache) the kernels on one made-up case, here rather than in the
        # middle of the first partition
        warm = pa.table({"case_id": ["warm-up"], "sex": pa.array([1], pa.int8()), "age": pa.array([40], pa.int16()),
                         "dx": pa.array([["A00.000"]], pa.list_(pa.string())),
                         "px": pa.array([[]], pa.list_(pa.string()))})
        import tempfile

        with tempfile.TemporaryDirectory(prefix="drg-warm-") as tmp:
            group_batches(scheme, [warm], Path(tmp) / "warm.parquet", slim=True)
        return scheme

    return cached("scheme", path, sha256, load)


def cached_tables(tables: str | Path, weights_sha: str, coefficients_sha: str):
    """``(Weights, coefficients table)`` of a ``drg weights`` directory, once per worker process."""
    from drg.pricing.coefficients import read_coefficients
    from drg.pricing.weights import read_weights

    tables = Path(tables)
    return (cached("weights", tables / "weights.parquet", weights_sha, read_weights),
            cached("coefficients", tables / "coefficients.parquet", coefficients_sha, read_coefficients))


_THREADS: int | None = None    # the threads a task may use, set by DrgWorker.setup


def task_threads() -> None:
    """At the start of a task: numba's ``parallel=True`` kernels called from this thread use at most the
    worker's threads (numba's setting is per calling thread, and the pool may be larger when numba was
    imported before the worker's environment was applied)."""
    if _THREADS is None or "numba" not in sys.modules:
        return
    import numba

    numba.set_num_threads(max(1, min(_THREADS, numba.config.NUMBA_NUM_THREADS)))


def kill_once(fault: dict, at: int) -> None:
    """For the tests of lost workers: when ``at`` is ``fault["at"]`` and the file ``fault["marker"]`` does
    not exist yet, create it and kill this worker process (SIGKILL: no cleanup runs, as when a machine dies).
    The scheduler then runs the task again elsewhere, and recomputes what the dead worker held."""
    if fault.get("at") != at:
        return
    try:
        fd = os.open(fault["marker"], os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return
    os.close(fd)
    import signal

    os.kill(os.getpid(), signal.SIGKILL)


def clear_cache() -> None:
    with _LOCK:
        _CACHE.clear()
        _LOADING.clear()


class DrgWorker(WorkerPlugin):
    """The worker plugin of drg-points (registered by :func:`cluster_client`).

    Parameters
    ----------
    threads : Arrow's CPU and IO pools are sized to this (default: the worker's threads).
    cpus : pin each worker process to one of these cores, by worker name (``0, 1, …`` on a LocalCluster):
        a 1-thread worker then never runs on a second core, not even with its pipeline's own threads.
    """

    name = PLUGIN_NAME
    idempotent = False

    def __init__(self, threads: int | None = None, cpus: Sequence[int] | None = None) -> None:
        self.threads = threads
        self.cpus = tuple(cpus) if cpus else None

    def setup(self, worker) -> None:
        import pyarrow as pa

        from drg.cli.runtime import batch_process

        global _THREADS
        batch_process()
        n = self.threads or worker.state.nthreads
        _THREADS = max(1, n)
        if "numba" in sys.modules:
            # numba read NUMBA_NUM_THREADS when it was imported — in a spawned worker that can be before the
            # worker's environment was applied (a script importing drg at its top is imported again in every
            # worker process). numba refuses a different value once its pool runs, so the variable is put
            # back to the pool's size and tasks narrow it per thread (task_threads).
            import numba

            os.environ["NUMBA_NUM_THREADS"] = str(numba.config.NUMBA_NUM_THREADS)
        pa.set_cpu_count(max(1, n))
        pa.set_io_thread_count(max(1, n))
        # Dask's statistical profiler samples every thread's stack every 10 ms, taking the interpreter lock
        # each time: it interrupts the hand-offs between a partition's reading, grouping and writing threads
        # (measured: grouping 400,000 cases on one worker, 1.9 -> 1.0 s). drg's tasks report their own
        # progress and timings, so the profiler is stopped on drg's workers.
        for name in ("profile", "profile-cycle"):
            callback = getattr(worker, "periodic_callbacks", {}).pop(name, None)
            if callback is not None:
                callback.stop()
        if self.cpus and hasattr(os, "sched_setaffinity"):
            try:
                index = int(worker.name)
            except (TypeError, ValueError):
                index = 0
            os.sched_setaffinity(0, {self.cpus[index % len(self.cpus)]})

    def teardown(self, worker) -> None:
        clear_cache()


def pinned_env(threads: int) -> dict[str, str]:
    """Environment of a worker process whose thread pools are pinned to ``threads`` threads (numba's
    ``parallel=True`` kernels, polars, OpenMP/BLAS); read by those libraries when they are imported."""
    n = str(max(1, threads))
    return {"NUMBA_NUM_THREADS": n, "POLARS_MAX_THREADS": n, "OMP_NUM_THREADS": n, "MKL_NUM_THREADS": n,
            "OPENBLAS_NUM_THREADS": n, "RAYON_NUM_THREADS": n}


def local_cluster(workers: int, *, threads: int = 1, memory_limit: str | float | None = "auto",
                  dashboard: bool = False, **kwargs):
    """A :class:`distributed.LocalCluster` of ``workers`` worker processes with ``threads`` threads each,
    over loopback, their thread pools pinned (:func:`pinned_env`)."""
    from distributed import LocalCluster

    import logging

    kwargs.setdefault("silence_logs", logging.ERROR)
    return LocalCluster(n_workers=workers, threads_per_worker=threads, processes=True, host="127.0.0.1",
                        dashboard_address=":0" if dashboard else None, memory_limit=memory_limit,
                        env=pinned_env(threads), **kwargs)


@contextmanager
def cluster_client(cluster: str | None = None, workers: int | None = None, *, threads: int = 1,
                   pin_cpus: bool = False, quiet: bool = True) -> Iterator:
    """A :class:`distributed.Client` with the :class:`DrgWorker` plugin registered: connected to the
    scheduler at ``cluster`` (``tcp://HOST:PORT``), or to a local cluster of ``workers`` processes started
    here and closed on exit. ``pin_cpus`` pins local worker ``i`` to core ``i`` (mod the cores)."""
    import logging

    from distributed import Client

    if (cluster is None) == (workers is None):
        raise ValueError("give cluster (a scheduler address) or workers (a local cluster)")
    if quiet:   # a worker killed and restarted is reported by the run itself
        for name in ("distributed", "distributed.nanny", "distributed.scheduler", "distributed.worker"):
            logging.getLogger(name).setLevel(logging.ERROR)
    if cluster is not None:
        with Client(cluster) as client:
            client.register_plugin(DrgWorker(threads=None))
            yield client
        return
    cpus = sorted(os.sched_getaffinity(0)) if pin_cpus and hasattr(os, "sched_getaffinity") else None
    silence = logging.CRITICAL if quiet else logging.WARNING   # (a closing worker's last heartbeat)
    with local_cluster(int(workers), threads=threads, silence_logs=silence) as lc, Client(lc) as client:
        client.register_plugin(DrgWorker(threads=threads, cpus=cpus))
        yield client
