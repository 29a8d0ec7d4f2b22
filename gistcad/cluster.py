"""Per-case heavy work on Dask distributed: a local cluster by default, a running one on request.

Radiomics extraction, cross-validation folds, batch prediction and the synthetic build split
their work into tasks (one case, a chunk of cases, one fold) and hand them to :func:`map_cases`.
Where they run is decided by one rule (:func:`use_cluster`), from ``GISTCAD_CLUSTER``
(:func:`gistcad.config.cluster_setting`) and the number of cases:

- ``off``: in this process, one task after another;
- ``local``: on a local Dask cluster of separate worker processes (one thread each, as many
  workers as the machine has cores) started for the work and stopped after it;
- ``tcp://host:8786``: on the running cluster whose scheduler listens there (started with the
  engine's own ``dask scheduler`` and ``dask worker`` commands; the workers must run this
  version of gistcad and see the data folder under the same path);
- unset or ``auto``: a local cluster when the work covers at least :data:`MIN_CASES` cases
  and the machine has more than one core, else this process.

Inside a Dask worker the work always runs in that worker (never a cluster inside a cluster).

Tasks are pure: a submitted function gets inputs (a table row, paths, a fitted model) and
returns its result; it never writes to the database. The caller gathers the results and does
every database write, so a task that the engine runs again (its worker died and the scheduler
gave it to another) cannot write anything twice. Files a task writes (the feature cache) are
keyed by their inputs and published by an atomic rename, so running it twice leaves the same
file. Results are returned in the order of the inputs whichever way the tasks ran, and the
progress is reported as each task completes (:func:`concurrent.futures.as_completed`).

Why Dask and not Ray: Dask's client is a :class:`concurrent.futures.Executor`, it runs embedded
as a local cluster of worker processes without any service to install, and it is a pure-pip
install (dask, distributed); Ray brings its own object store and a much larger binary
dependency for work that here is a list of independent tasks.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, Future, as_completed
from contextlib import contextmanager
from typing import TypeVar

from gistcad.config import ClusterMode, ClusterSetting, cluster_setting
from gistcad.errors import GistcadError
from gistcad.progress import Progress, counted

logger = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

#: with ``GISTCAD_CLUSTER`` unset, work on fewer cases than this stays in this process (a
#: local cluster takes a few seconds to start, more than such work takes)
MIN_CASES = 64


class ClusterError(GistcadError):
    """The cluster named by ``GISTCAD_CLUSTER`` cannot be reached."""


def machine_workers() -> int:
    """The worker processes of a local cluster: one per core this process may use."""
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def in_worker() -> bool:
    """True inside a Dask worker (where work never starts a cluster of its own)."""
    if "distributed" not in sys.modules:  # a worker has it loaded; elsewhere, no need to
        return False
    try:
        from distributed import get_worker

        get_worker()
    except (ImportError, ValueError):
        return False
    return True


def use_cluster(n_cases: int, setting: ClusterSetting, workers: int | None = None) -> bool:
    """The rule: does work on ``n_cases`` cases go to a cluster (True) or stay here (False)?

    ``workers``: the local cluster's size asked for by the caller (1 is this process, unless
    ``GISTCAD_CLUSTER`` says ``local`` or names a scheduler).
    """
    if in_worker() or setting.mode is ClusterMode.OFF:
        return False
    if setting.mode in (ClusterMode.LOCAL, ClusterMode.REMOTE):
        return True
    size = machine_workers() if workers is None else workers
    return n_cases >= MIN_CASES and size > 1


@contextmanager
def cluster_executor(
    n_cases: int,
    *,
    workers: int | None = None,
    setting: ClusterSetting | None = None,
) -> Iterator[Executor | None]:
    """An executor for work on ``n_cases`` cases, or None where it runs in this process.

    Parameters
    ----------
    n_cases
        How many cases the work covers (what :func:`use_cluster` judges).
    workers
        Worker processes of a local cluster (default: :func:`machine_workers`); ignored for a
        running cluster, which has its own.
    setting
        Where to run (default: ``GISTCAD_CLUSTER`` of this process's environment).

    Raises
    ------
    ClusterError
        When the scheduler named by ``GISTCAD_CLUSTER`` does not answer.
    """
    setting = setting or cluster_setting()
    if not use_cluster(n_cases, setting, workers):
        yield None
        return
    from distributed import Client, LocalCluster

    if setting.mode is ClusterMode.REMOTE:
        try:
            client = Client(setting.address, timeout="10s")
        except OSError as exc:
            raise ClusterError(
                f"no Dask scheduler answers at GISTCAD_CLUSTER={setting.address} ({exc}); "
                "start one with 'dask scheduler' and workers with 'dask worker "
                f"{setting.address}', or unset GISTCAD_CLUSTER to work on this machine"
            ) from None
        with client:
            logger.info("work on %d cases sent to the cluster at %s", n_cases, setting.address)
            yield client.get_executor()
        return
    size = machine_workers() if workers is None else max(workers, 1)
    with (
        _quiet("distributed", "tornado"),
        LocalCluster(
            n_workers=size,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            scheduler_port=0,
            silence_logs=logging.WARNING,
        ) as cluster,
        Client(cluster) as client,
    ):
        logger.info("work on %d cases on a local cluster of %d processes", n_cases, size)
        yield client.get_executor()


@contextmanager
def _quiet(*names: str) -> Iterator[None]:
    """The engine's own loggers at WARNING while the local cluster runs in this process (its
    scheduler would otherwise log every start and stop at INFO)."""
    loggers = [logging.getLogger(name) for name in names]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


def map_cases(
    function: Callable[[T], R],
    items: Sequence[T],
    executor: Executor | None,
    *,
    progress: Progress | None = None,
    what: str = "done",
    sizes: Sequence[int] | None = None,
) -> list[R]:
    """``function(item)`` for every item, in the order of ``items``.

    With an executor every item is a task submitted to it; with None they run here, one
    after another. ``progress`` is told ``"what done/total"`` as tasks complete, counting
    cases: ``sizes[i]`` for item i (a chunk of cases), else one per item. ``function`` must be
    pure (see the module's docstring): the engine may run it twice.
    """
    weights = [1] * len(items) if sizes is None else list(sizes)
    total = sum(weights)
    if executor is None:
        results = []
        done = 0
        for item, weight in zip(items, weights, strict=True):
            results.append(function(item))
            done += weight
            counted(what, done, total, progress)
        return results
    futures: dict[Future[R], int] = {executor.submit(function, x): i for i, x in enumerate(items)}
    out: dict[int, R] = {}
    done = 0
    try:
        for future in as_completed(futures):
            index = futures[future]
            out[index] = future.result()
            done += weights[index]
            counted(what, done, total, progress)
    finally:
        for future in futures:
            future.cancel()  # after a failure, the tasks still waiting are not run for nothing
    return [out[i] for i in range(len(items))]


def run_cases(
    function: Callable[[T], R],
    items: Sequence[T],
    *,
    n_cases: int | None = None,
    workers: int | None = None,
    progress: Progress | None = None,
    what: str = "done",
    sizes: Sequence[int] | None = None,
) -> list[R]:
    """:func:`map_cases` where the rule says (:func:`cluster_executor`): the one call the
    heavy steps make. ``n_cases``: the cases the work covers (default: ``sizes``' sum, else
    one per item)."""
    cases = n_cases if n_cases is not None else sum(sizes) if sizes is not None else len(items)
    with cluster_executor(cases, workers=workers) as executor:
        return map_cases(function, items, executor, progress=progress, what=what, sizes=sizes)
