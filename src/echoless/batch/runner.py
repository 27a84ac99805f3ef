"""Run one function over many items: in this process, on local processes, or on a Dask cluster.

:func:`map_tasks` is the engine of :func:`echoless.batch.cancel_corpus` and
``echoless eval``. With one worker it loops in this process and needs no
Dask. With more it starts a ``dask.distributed`` ``LocalCluster`` of that many
single-threaded worker processes (Dask sets ``OMP_NUM_THREADS=1`` and the MKL
and OpenBLAS equivalents in them, so N workers use N cores); given a
``distributed.Client`` connected to a scheduler, it sends the same tasks to
that cluster. Tasks go out with ``pure=False`` (each runs, none is taken from
a cache) and come back with ``as_completed``, while a progress bar counts
files per second; the results keep the order of the items.

A worker that dies (killed, out of memory) takes its running task with it;
the scheduler hands that task to another worker (up to Dask's
``distributed.scheduler.allowed-failures``, 3), so the run still completes.
A task that keeps killing workers ends as Dask's ``KilledWorker`` error,
which ``failed`` turns into that item's result.

The numba kernels of the streaming cancellers are compiled (or loaded from
numba's on-disk cache) once per process, at their first call, and kept for
the life of the process: a Dask worker runs many files, so it pays this once,
not once per file. ``warm_up`` makes each worker pay it before its first file
(a ``WorkerPlugin``, so workers that join later warm up too), which keeps the
per-file timings honest.

Results do not depend on the number of workers: the audio comes from the
same compiled code, and a serial run limits BLAS to one thread as Dask does
in its workers (with ``threadpoolctl``), so that even the metrics agree to
the last bit. Across machines with different CPUs or BLAS builds, expect the
last bits of the metrics to differ.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Sequence
from typing import Any

from tqdm.auto import tqdm

from echoless._validation import check_positive_int

__all__ = ["dask_available", "default_workers", "map_tasks"]


def default_workers() -> int:
    """The number of cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def dask_available() -> bool:
    """Whether ``dask.distributed`` is installed (``pip install 'echoless[batch]'``)."""
    try:
        import distributed  # noqa: F401
    except ImportError:
        return False
    return True


def map_tasks(
    function: Callable[[Any], Any],
    items: Sequence,
    *,
    client=None,
    workers: int = 1,
    warm_up: Callable[[], Any] | None = None,
    failed: Callable[[Any, BaseException], Any] | None = None,
    progress: bool = False,
    desc: str = "files",
) -> list:
    """``[function(item) for item in items]``, serially or on Dask workers.

    Parameters
    ----------
    function : callable
        Applied to each item; a module-level function (it is pickled to the workers).
    items : sequence
        Picklable inputs.
    client : distributed.Client, optional
        Run on this Dask cluster (``workers`` is then ignored).
    workers : int
        Without ``client``: 1 runs in this process; more start a LocalCluster
        of that many processes, one thread each, closed at the end.
    warm_up : callable, optional
        Called once in each process that runs tasks, before its first task.
    failed : callable, optional
        ``failed(item, error)`` is the result of an item whose task did not
        return (its workers died); without it that error is raised.
    progress : bool
        Show a progress bar (files per second) on stderr when it is a terminal.
    desc : str
        Label of the progress bar.

    Returns
    -------
    list
        The results, in the order of ``items``.

    Raises
    ------
    ImportError
        If more than one worker or a client is asked for and Dask is not installed.
    """
    items = list(items)
    workers = check_positive_int(workers, "workers")
    bar = tqdm(total=len(items), desc=desc, unit="file", disable=None if progress else True)
    with bar:
        if client is None and min(workers, len(items)) <= 1:
            results = []
            with _one_blas_thread():
                if warm_up is not None and items:
                    warm_up()
                for item in items:
                    results.append(function(item))
                    bar.update()
            return results
        if client is not None:
            return _on_cluster(client, function, items, warm_up, failed, bar)
        from echoless.batch._dask import local_client

        with local_client(min(workers, len(items))) as own_client:
            return _on_cluster(own_client, function, items, warm_up, failed, bar)


def _one_blas_thread():
    """Limit BLAS to one thread, as in Dask's workers, where threadpoolctl is installed (``[batch]``).

    A BLAS dot product on several threads sums in another order than on one,
    so a metric would differ from a worker's in its last digit.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # then Dask is not installed either, and there is nothing to match
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


#: Tasks per worker on a cluster: each task runs a chunk of the items.
CHUNKS_PER_WORKER = 4


def run_chunk(function: Callable[[Any], Any], chunk: Sequence) -> list:
    """``[function(item) for item in chunk]``: one Dask task."""
    return [function(item) for item in chunk]


def _on_cluster(client, function, items, warm_up, failed, bar) -> list:
    from distributed import as_completed

    from echoless.batch._dask import WarmUp

    if warm_up is not None:
        client.register_plugin(WarmUp(warm_up), name="echoless-warm-up")
    # a few items per task: on a small machine the scheduler and this client share the cores
    # with the workers, and a task per short file costs them more than it saves (measured: 2
    # workers at 1.57x one with a task per 10 s file, where the same work in two plain
    # processes scaled 1.99x); still about four tasks per worker, to balance the load
    size = max(1, len(items) // (CHUNKS_PER_WORKER * max(1, len(client.scheduler_info()["workers"]))))
    starts = range(0, len(items), size)
    futures = client.map(run_chunk, [function] * len(starts), [items[s : s + size] for s in starts], pure=False)
    position = {future.key: start for future, start in zip(futures, starts)}
    results: list = [None] * len(items)
    try:
        for future in as_completed(futures):
            start = position[future.key]
            chunk = items[start : start + size]
            try:
                results[start : start + len(chunk)] = future.result()
            except Exception as error:  # the task's workers died: KilledWorker
                if failed is None:
                    raise
                results[start : start + len(chunk)] = [failed(item, error) for item in chunk]
            bar.update(len(chunk))
    except BaseException:
        client.cancel(futures)  # a stopped run leaves nothing queued on a shared cluster
        raise
    return results
