"""Many recordings at once: in this process, on local processes, or on a Dask cluster.

>>> from echoless.batch import cancel_corpus                        # doctest: +SKIP
>>> rows = cancel_corpus("corpus/", "out/", workers=4)              # doctest: +SKIP

:func:`find_pairs`
    The (microphone, reference) pairs of a folder, glob, AEC-Challenge folder
    or manifest CSV (:mod:`~echoless.batch.pairs`).
:func:`cancel_corpus`
    Cancel every pair, write the outputs (mirroring the input names) and
    ``summary.csv``/``summary.md``; resumable (:mod:`~echoless.batch.corpus`).
:func:`evaluate_corpus`
    Score several methods on every pair (``echoless eval``).
:func:`map_tasks`
    The engine: serial, a Dask LocalCluster, or a Dask scheduler
    (:mod:`~echoless.batch.runner`).

Dask is an optional dependency: ``pip install 'echoless[batch]'``. With one
worker nothing imports it.
"""

from echoless.batch.corpus import METRICS_MAX_SECONDS, cancel_corpus, evaluate_corpus, write_summary
from echoless.batch.pairs import FilePair, find_pairs
from echoless.batch.runner import map_tasks

__all__ = [
    "METRICS_MAX_SECONDS",
    "FilePair",
    "cancel_corpus",
    "evaluate_corpus",
    "find_pairs",
    "map_tasks",
    "write_summary",
]
