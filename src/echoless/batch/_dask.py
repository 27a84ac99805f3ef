"""The Dask side of :mod:`echoless.batch.runner`: a local cluster, and the per-worker warm-up.

Imported only when Dask runs, so that ``echoless`` works without it.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

import dask
from distributed import Client, LocalCluster, WorkerPlugin


@contextlib.contextmanager
def local_client(workers: int) -> Iterator[Client]:
    """A client of a new LocalCluster: ``workers`` processes of one thread each, closed on exit.

    Dask starts its worker processes with ``OMP_NUM_THREADS=1`` (and the MKL
    and OpenBLAS equivalents, its ``distributed.nanny.pre-spawn-environ``),
    so each worker uses one core. It also sets ``MALLOC_TRIM_THRESHOLD_``,
    which fixes glibc's mmap threshold, so that every array over 128 kB is
    a fresh mmap whose pages fault in: that doubled the time per 10 s file
    (reading, scoring and writing make many such arrays), so these workers
    keep glibc's default. No dashboard is served.
    """
    with dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}):
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                               silence_logs=logging.ERROR)
    with cluster, Client(cluster) as client:
        yield client


class WarmUp(WorkerPlugin):
    """Calls ``warm_up()`` when a worker starts (or when registered on running workers).

    Attributes
    ----------
    seconds : float
        How long the call took on this worker (set on the worker's copy).
    """

    def __init__(self, warm_up: Callable[[], Any]) -> None:
        self.warm_up = warm_up
        self.seconds = float("nan")

    def setup(self, worker) -> None:
        start = time.perf_counter()
        self.warm_up()
        self.seconds = time.perf_counter() - start
