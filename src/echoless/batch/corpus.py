"""Cancel and score a whole corpus: one output per recording, a summary table, resumable.

Each recording is one task, run on whichever process or Dask worker is free
(:func:`echoless.batch.runner.map_tasks`):

1. **Skip.** When its output and its record exist from a run with the same
   method, options, sample rate and output subtype, the recorded row is
   returned (status ``skipped``) and nothing is recomputed, so a run that was
   stopped, or whose workers were killed, continues where it stopped.
2. **Cancel.** A recording of at most ``metrics_max_seconds`` (default 5
   minutes), or any recording with an offline method (those fit the whole
   file), is read whole, cancelled by :func:`echoless.aec.cancel`, written
   atomically and scored. A longer one with a streaming method is cancelled
   block by block by :func:`echoless.aec.files.cancel_file`, whose memory
   does not grow with duration (the output is the same, bit for bit); it is
   not scored, since the far-end detection and the metrics read whole
   arrays, and its row says so.
3. **Score** (no ground truth needed): ``erle_far_end_db``, the ERLE where
   the far end talks alone, from the timeline of a scene folder's
   ``meta.json`` where one is saved, else detected from the reference and
   the microphone (:func:`echoless.talk.far_end_erle`; ``far_end_seconds`` says over how
   long), ``aecmos_echo`` and ``aecmos_other`` where the ``[mos]`` extra is
   installed (:func:`echoless.evaluation.blind_metrics`), and
   :func:`echoless.metrics.oracle_metrics`: ``erle_db`` and
   ``mse`` over the whole file, and the oracle metrics where the true near
   end or echo are known (``near``/``echo`` files beside the microphone, the
   AEC-Challenge synthetic truth folders).
4. **Record.** The row is written to ``OUT/.echoless/<output>.json`` after
   the output itself (both atomically: a temporary file renamed), so a record
   exists only for a finished output.

A task that fails (a corrupt file, another sample rate, a stereo file, two
lengths, a missing reference) returns a row with its ``error``; the others
go on. The summary, ``OUT/summary.csv`` and ``OUT/summary.md``, lists every
recording in corpus order. Outputs depend only on the recording, method and
options, so any number of workers gives the same bytes as one.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from echoless._validation import check_positive_float, check_positive_int
from echoless.aec.methods import DEFAULT_METHOD, OFFLINE_OPTIONS, check_method, make_canceller, options_for
from echoless.batch.pairs import FilePair, find_pairs
from echoless.batch.runner import map_tasks

__all__ = ["METRICS_MAX_SECONDS", "cancel_corpus", "evaluate_corpus", "write_summary"]

#: Recordings up to this long (seconds) are read whole and scored; longer ones are streamed, unscored.
METRICS_MAX_SECONDS = 300.0
#: Folder of the output folder where each finished output's row is recorded.
RECORDS = ".echoless"


@dataclass(frozen=True)
class Task:
    """One recording to cancel (and score) with one method; what a worker receives."""

    pair: FilePair
    method: str
    sample_rate: int
    options: dict = field(default_factory=dict)
    out_dir: Path | None = None  # None: score only (``echoless eval``)
    subtype: str = "PCM_16"
    overwrite: bool = False
    metrics_max_seconds: float = METRICS_MAX_SECONDS


def cancel_corpus(
    pairs: Iterable[FilePair] | str | os.PathLike,
    out_dir: str | os.PathLike,
    method: str = DEFAULT_METHOD,
    *,
    sample_rate: int = 16000,
    client=None,
    workers: int = 1,
    overwrite: bool = False,
    subtype: str = "PCM_16",
    metrics_max_seconds: float = METRICS_MAX_SECONDS,
    progress: bool = False,
    **options,
) -> list[dict]:
    """Cancel the echo of every recording of a corpus, write the outputs and a summary.

    Parameters
    ----------
    pairs : iterable of FilePair, or str or os.PathLike
        The recordings, or a folder, glob, AEC-Challenge folder or manifest
        CSV to find them in (:func:`echoless.batch.find_pairs`).
    out_dir : str or os.PathLike
        Output folder: each output at its pair's ``out`` below it (mirroring
        the input names), plus ``summary.csv``, ``summary.md`` and the
        ``.echoless/`` records.
    method : str
        A name of :data:`echoless.aec.METHODS` (default ``"pfdkf"``).
    sample_rate : int
        Sample rate every file must have, Hz (default 16000).
    client : distributed.Client, optional
        Run the tasks on this Dask cluster. Its workers read and write the
        paths given here: on several machines, put the corpus and ``out_dir``
        on storage they all see under the same paths.
    workers : int
        Without ``client``: 1 (default) runs in this process; more start a
        Dask LocalCluster of that many single-threaded processes.
    overwrite : bool
        Redo outputs that a previous run finished (default: skip them).
    subtype : str
        libsndfile subtype of the outputs (default ``"PCM_16"``; ``"FLOAT"`` neither rounds nor clips).
    metrics_max_seconds : float
        Recordings longer than this are streamed block by block and not scored (default 300 s).
    progress : bool
        Show a progress bar with files per second.
    **options
        Canceller options, as for :func:`echoless.aec.cancel`.

    Returns
    -------
    list of dict
        The summary, one row per recording in corpus order: ``example``,
        ``method``, ``duration`` (s), ``seconds`` (processing time, s),
        ``real_time_factor``, ``erle_far_end_db``, ``far_end_seconds``, the
        keys of :func:`echoless.metrics.oracle_metrics`, ``status``
        (``done``, ``skipped`` or ``failed``), ``note``, ``error`` and ``out``.

    Raises
    ------
    ValueError
        If the corpus holds no recordings, the method or an option value is
        invalid, or an output would replace an input.
    TypeError
        If an option does not apply to ``method``.
    ImportError
        If a client or several workers are asked for and Dask is not installed.
    """
    out_dir = Path(out_dir)
    if isinstance(pairs, (str, os.PathLike)):
        pairs = find_pairs(pairs, exclude=out_dir)
    pairs = list(pairs)
    if not pairs:
        raise ValueError("pairs must hold at least one recording")
    method = check_method(method).name
    sample_rate = check_positive_int(sample_rate, "sample_rate")
    metrics_max_seconds = check_positive_float(metrics_max_seconds, "metrics_max_seconds", allow_zero=True)
    _check_options(method, sample_rate, options)
    _check_outputs(pairs, out_dir, subtype)
    tasks = [Task(pair, method, sample_rate, dict(options), out_dir, subtype, overwrite, metrics_max_seconds)
             for pair in pairs]
    rows = map_tasks(run_task, tasks, client=client, workers=workers, progress=progress,
                     warm_up=functools.partial(warm_up, (method,), sample_rate, options),
                     failed=_failed_row, desc=f"echoless batch {method}")
    write_summary(rows, out_dir)
    return rows


def evaluate_corpus(
    pairs: Iterable[FilePair],
    methods: Sequence[str],
    *,
    sample_rate: int = 16000,
    client=None,
    workers: int = 1,
    progress: bool = False,
    **options,
) -> list[dict]:
    """Score several methods on every recording, writing no audio: ``echoless eval``.

    Parameters are those of :func:`cancel_corpus`; each method takes the
    options that apply to it (:func:`echoless.aec.methods.options_for`).

    Returns
    -------
    list of dict
        One row per (recording, method), recording-major, with the keys of
        :func:`cancel_corpus`'s rows (no ``out``).
    """
    pairs = list(pairs)
    methods = [check_method(method).name for method in methods]
    if not pairs or not methods:
        raise ValueError("evaluate_corpus needs at least one recording and one method")
    sample_rate = check_positive_int(sample_rate, "sample_rate")
    for method in methods:
        _check_options(method, sample_rate, options_for(method, options))
    tasks = [Task(pair, method, sample_rate, options_for(method, options)) for pair in pairs for method in methods]
    return map_tasks(run_task, tasks, client=client, workers=workers, progress=progress,
                     warm_up=functools.partial(warm_up, tuple(methods), sample_rate, options),
                     failed=_failed_row, desc="echoless eval")


def write_summary(rows: Sequence[dict], out_dir: str | os.PathLike) -> tuple[Path, Path]:
    """Write ``summary.csv`` and ``summary.md`` in ``out_dir`` (:func:`echoless.evaluation.write_tables`)."""
    from echoless.evaluation import write_tables

    return write_tables(rows, Path(out_dir) / "summary")


def run_task(task: Task) -> dict:
    """Cancel (and score) one recording; a failure becomes the row's ``error``. Runs on a worker."""
    row = {"example": task.pair.name, "method": task.method}
    try:
        row.update(_skip_or_cancel(task))
    except Exception as error:  # one bad file must not stop the corpus
        row.update(status="failed", error=_describe(error))
    if task.out_dir is not None:  # the same columns in every summary
        row = {**row, "note": row.get("note", ""), "error": row.get("error", ""), "out": task.pair.out}
    return row


def warm_up(methods: Sequence[str], sample_rate: int, options: dict) -> None:
    """Run each method once on a few seconds of noise, so that a process's first file is not slower.

    Loads (or compiles) the numba kernels and imports scipy's signal tools
    (and torch for the offline methods) once per process.
    """
    from echoless.aec.methods import cancel
    from echoless.talk import far_end_erle

    noise = np.random.default_rng(0).standard_normal(3 * sample_rate)  # the delay search starts after 1 s
    for method in methods:
        if check_method(method).streaming:
            out = cancel(0.5 * noise, noise, method, sample_rate, **options_for(method, options))
            far_end_erle(0.5 * noise, out, noise, sample_rate)
        else:
            import echoless.experiment  # noqa: F401  (torch)


def _skip_or_cancel(task: Task) -> dict:
    from echoless.io import AudioReader

    pair = task.pair
    if pair.ref is None:
        raise FileNotFoundError(f"no reference beside {pair.mic}: its name with 'lpb' or 'ref' for 'mic'")
    if task.out_dir is None:
        return {**_cancel_whole(task, None), "status": "done"}
    out = task.out_dir / pair.out
    record = task.out_dir / RECORDS / f"{pair.out}.json"
    settings = _settings(task)
    if not task.overwrite and out.is_file() and record.is_file():
        stored = json.loads(record.read_text())
        if stored["settings"] == settings:
            return {**stored["row"], "status": "skipped"}
        raise ValueError(f"{out} was made with other settings ({stored['settings']}); pass overwrite (--overwrite)")
    with AudioReader(pair.mic, protect=False) as reader:
        duration = reader.n_samples / reader.sample_rate
    if check_method(task.method).streaming and duration > task.metrics_max_seconds:
        row = _cancel_streamed(task, out)
    else:
        row = _cancel_whole(task, out)
    _write_json(record, {"settings": settings, "row": row})
    return {**row, "status": "done"}


def _cancel_whole(task: Task, out: Path | None) -> dict:
    from echoless.data import EchoExample
    from echoless.evaluation import blind_metrics, timed_cancel
    from echoless.io import read_audio, write_audio
    from echoless.metrics import oracle_metrics

    pair, rate = task.pair, task.sample_rate
    truth = {key: read_audio(path, rate) for key, path in (("near_end", pair.near), ("echo", pair.echo)) if path}
    example = EchoExample(mic=read_audio(pair.mic, rate), ref=read_audio(pair.ref, rate), sample_rate=rate, **truth)
    with _one_torch_thread(task.method):
        result = timed_cancel(example.mic, example.ref, task.method, rate, **task.options)
    if out is not None:
        write_audio(out, result.near_end_estimate, rate, subtype=task.subtype)
    return {
        "duration": example.duration,
        "seconds": result.seconds,
        "real_time_factor": result.real_time_factor,
        **blind_metrics(example.mic, example.ref, result.near_end_estimate, rate, _timeline(pair)),
        **oracle_metrics(example.mic, result.near_end_estimate, example.echo, example.near_end),
    }



@contextlib.contextmanager
def _one_torch_thread(method: str):
    """Run an offline (torch) fit on one thread, as in a Dask worker: a sum split over threads adds
    in another order, and the output would differ from a worker's in its last bit."""
    from echoless.aec.methods import check_method

    if check_method(method).streaming:
        yield
        return
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _timeline(pair) -> list[dict] | None:
    """Who talks when, where a scene folder's ``meta.json`` (:func:`echoless.data.save_scene`) says."""
    from echoless.data.scene_io import scene_document

    if Path(pair.mic).name != "mic.wav":
        return None
    try:
        document = scene_document(Path(pair.mic).parent)
    except (OSError, ValueError):
        return None  # a scene's own metadata, not needed to cancel: detect instead
    return document.get("meta", {}).get("timeline")


def _cancel_streamed(task: Task, out: Path) -> dict:
    from echoless.aec.files import cancel_file

    result = cancel_file(task.pair.mic, task.pair.ref, out, task.method, task.sample_rate,
                         subtype=task.subtype, **task.options)
    return {
        "duration": result.duration,
        "seconds": result.seconds,
        "real_time_factor": result.real_time_factor,
        "note": f"streamed, not scored: longer than {task.metrics_max_seconds:g} s (scoring reads the whole file)",
    }


def _settings(task: Task) -> dict:
    """What an output depends on besides its input, as JSON would store it."""
    return json.loads(json.dumps({"method": task.method, "sample_rate": task.sample_rate,
                                  "options": task.options, "subtype": task.subtype}))


def _write_json(path: Path, document: dict) -> None:
    from echoless.io import publish

    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w") as stream:
            json.dump(document, stream, indent=1)
        publish(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _describe(error: BaseException) -> str:
    """A user error's own message; anything else with its type, for a bug report."""
    if isinstance(error, (ValueError, TypeError, OSError)):
        return str(error)
    return f"{type(error).__name__}: {error}"


def _failed_row(task: Task, error: BaseException) -> dict:
    """The row of a task whose workers died running it (Dask's KilledWorker)."""
    row = {"example": task.pair.name, "method": task.method, "status": "failed", "error": _describe(error)}
    if task.out_dir is not None:
        row = {**row, "note": "", "error": row["error"], "out": task.pair.out}
    return row


def _check_options(method: str, sample_rate: int, options: dict) -> None:
    """Refuse bad options here, once, rather than in every task."""
    if check_method(method).streaming:
        make_canceller(method, sample_rate, **options)
        return
    unknown = sorted(set(options) - set(OFFLINE_OPTIONS))
    if unknown:
        raise TypeError(f"{', '.join(unknown)}: not an option of the offline method {method!r} "
                        f"(it takes {', '.join(OFFLINE_OPTIONS)})")


def _check_outputs(pairs: Sequence[FilePair], out_dir: Path, subtype: str) -> None:
    """Refuse, before any work, an output that would replace an input or that cannot be written."""
    from echoless.io import check_output_format

    inputs = {path.resolve() for pair in pairs for path in (pair.mic, pair.ref, pair.near, pair.echo) if path}
    for pair in pairs:
        out = out_dir / pair.out
        if out.resolve() in inputs:
            raise ValueError(f"the output {out} would replace an input: choose another output folder")
        check_output_format(out, subtype)
