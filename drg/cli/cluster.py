"""``--cluster tcp://HOST:PORT`` and ``--workers N`` for the batch commands: the one helper through which a
command runs on Dask distributed (:mod:`drg.distributed`).

A command opts in with one decorator line under its ``@app.command``::

    @app.command("group")
    @on_cluster("group")
    def group_cmd(...): ...

Without either option the command runs as it always did. With one of them its inputs are partitioned
datasets (a directory of Parquet partitions, or files) read by the workers, and:

* ``group``, ``weights``, ``points``: the dataset run replaces the command's body (``OUT`` is a directory:
  one output per partition and ``_manifest.json``);
* ``settle-year``, ``settle-month``: the priced dataset is summed on the cluster, then the command's own body
  settles those sums (the point value and the shares computed once, here), prints and records as usual.

A progress bar per stage (partitions done of all) shows on a terminal unless ``--json`` or ``--quiet``. Dask
is imported only when a cluster is asked for, so every other command starts as fast as before.
"""

from __future__ import annotations

import functools
import inspect
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Optional

import typer

__all__ = ["on_cluster"]

CLUSTER_HELP = ("run on the Dask scheduler at this address (tcp://HOST:PORT); the inputs are partitioned "
                "datasets on storage every worker reads")
WORKERS_HELP = "run on a local Dask cluster of N worker processes (one thread each)"


@contextmanager
def stage_progress(enabled: bool) -> Iterator[Callable[[str, int, int], None] | None]:
    """A rich progress bar with one line per stage of a distributed run (``on_progress(stage, done, total)``)."""
    if not enabled:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    tasks: dict[str, int] = {}
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  transient=True) as bar:
        def update(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        yield update


def _print(summary: dict, title: str, as_json: bool) -> None:
    from drg.cli.payment import _print_summary   # (inside: drg.cli.payment imports this module)

    _print_summary(summary, title, as_json)


# ------------------------------------------------------------------------------------------------ the runs
def _group(client, progress, *, scheme, cases, out, slim=False, rejects=None, columns=None, sheet=None, codes=None,
           as_json=False, **_):
    from drg.distributed.grouping import group_dataset
    from drg.errors import InputError

    if columns is not None or sheet is not None:
        option = "--columns" if columns is not None else "--sheet"
        raise InputError(f"{option} is not available with --cluster/--workers: a dataset is Parquet files with "
                         "the standard headers (map the headers first: drg group without a cluster, one file at "
                         "a time)", field=option[2:])
    if codes is not None or Path(scheme).is_dir():
        raise InputError("with --cluster/--workers the scheme must be a compiled scheme file that every worker "
                         "reads (drg scheme build), not a rule-table directory", file=str(scheme), field="scheme")
    summary = group_dataset(client, scheme, cases, out, rejects=rejects, slim=slim, on_progress=progress)
    if as_json:
        _print(summary, "", True)
        return
    from rich.console import Console

    con = Console()
    con.print(f"read {summary['read']:,}, grouped {summary['rows']:,}, rejected {summary['rejected']:,} in "
              f"{summary['partitions']} partitions → {out} (manifest {summary['manifest']})", highlight=False)
    for k, v in summary["by_status"].items():
        con.print(f"  {k}: {v:,}")


def _weights(client, progress, *, history, hospitals, policy, out, year=None, scheme_id=None, ledger=None,
             as_json=False, **_):
    from drg.distributed.weights import build_tables_dataset

    summary = build_tables_dataset(client, history, hospitals, policy, out, year=year, scheme_id=scheme_id,
                                   ledger=ledger, on_progress=progress)
    _print(summary, f"weights and coefficients → {out}", as_json)


def _points(client, progress, *, cases, tables, policy, out, reviews=None, violations=None, year=None,
            rejects=None, as_json=False, **_):
    from drg.distributed.pricing import price_dataset

    summary = price_dataset(client, cases, tables, policy, out, reviews=reviews, violations=violations, year=year,
                            rejects=rejects, on_progress=progress)
    _print(summary, f"priced cases → {out}", as_json)


def _summed(year_of: Callable[[dict], int]):
    """The priced dataset summed on the cluster for the run's year; the command's body then settles it."""
    def run(client, progress, body, kwargs):
        from drg.distributed.settlement import sum_priced

        kwargs["priced"] = sum_priced(client, kwargs["priced"], year_of(kwargs), kwargs["policy"],
                                      on_progress=progress)
        return body(**kwargs)

    return run


def _month_year(kwargs: dict) -> int:
    """The year of ``drg settle month --period`` (a month, quarter, half-year, year or range of one year)."""
    from drg.cli.options import period_value
    from drg.settlement.periods import parse_period_range

    return parse_period_range(period_value(kwargs["period"], allow_range=True))[0]


def _year_year(kwargs: dict) -> int:
    """The year of ``drg settle year`` (``--year`` or ``--period YYYY``; the command checks they agree)."""
    from drg.cli.options import period_value

    year, period = kwargs.get("year"), kwargs.get("period")
    if period is not None:
        return int(period_value(period, kinds=("year",)))
    if year is None:
        raise typer.BadParameter("give the settlement year: --year YYYY (or --period YYYY)", param_hint="--year")
    return year


RUNS = {"group": _group, "weights": _weights, "points": _points}
SUMMED = {"settle-year": _summed(_year_year), "settle-month": _summed(_month_year)}


# ------------------------------------------------------------------------------------------------ decorator
def on_cluster(kind: str):
    """Give a command ``--cluster`` and ``--workers`` (see the module's docstring); ``kind`` is one of
    ``group``, ``weights``, ``points``, ``settle-year``, ``settle-month``."""
    if kind not in RUNS and kind not in SUMMED:
        raise ValueError(f"unknown kind {kind!r}")

    def decorate(body):
        sig = inspect.signature(body)
        extra = [inspect.Parameter("cluster", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Optional[str],
                                   default=typer.Option(None, "--cluster", help=CLUSTER_HELP)),
                 inspect.Parameter("workers", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Optional[int],
                                   default=typer.Option(None, "--workers", min=1, help=WORKERS_HELP))]

        @functools.wraps(body)
        def command(*args, cluster: Optional[str] = None, workers: Optional[int] = None, **kwargs):
            if cluster is None and workers is None:
                return body(*args, **kwargs)
            if cluster is not None and workers is not None:
                raise typer.BadParameter("give --cluster or --workers, not both")
            from drg.distributed.plugin import cluster_client

            quiet = kwargs.get("as_json") or kwargs.get("quiet") or not sys.stderr.isatty()
            with cluster_client(cluster, workers) as client, stage_progress(not quiet) as progress:
                if kind in RUNS:
                    return RUNS[kind](client, progress, **kwargs)
                return SUMMED[kind](client, progress, body, kwargs)

        command.__signature__ = sig.replace(parameters=[*sig.parameters.values(), *extra])
        command.__annotations__ = {**getattr(body, "__annotations__", {}), "cluster": Optional[str],
                                   "workers": Optional[int]}
        return command

    return decorate

