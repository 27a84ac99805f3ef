"""Run any echo canceller by name on whole signals, and tabulate its metrics.

One entry point for every method, offline or streaming, so the command line,
the demo and the benchmarks run them the same way:

* streaming (:func:`echoless.aec.cancel`): ``pbfdaf``, ``pfdkf``, ``nlms``;
* offline, fitted on the whole file (:mod:`echoless.aec`): ``waveform-ls``
  and ``spectral-ls`` (exact least squares), ``waveform-lms`` and
  ``spectral-lms`` (the seed's gradient descent, Adam).

The echo-path length is given once, in milliseconds (``filter_ms``). Offline
time-frequency methods fit ``ceil(filter_ms * sample_rate / 1000 / hop_length)``
STFT frames of kernel (hop 512, ``n_fft`` 2048 as in the seed), which covers at
least the same time span.

:func:`evaluate` runs a list of methods on a list of
:class:`echoless.data.EchoExample` and returns one row per (example, method)
with :func:`echoless.metrics.oracle_metrics`, the processing time and the
real-time factor (seconds of audio per second of processing).
"""

from __future__ import annotations

import csv
import math
import pathlib
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from tqdm.auto import tqdm

from echoless._validation import (
    as_signal,
    check_choice,
    check_delay,
    check_positive_float,
    check_positive_int,
    check_same_length,
)
from echoless.metrics import oracle_metrics

STREAMING_METHODS = ("pbfdaf", "pfdkf", "nlms")
OFFLINE_METHODS = ("waveform-ls", "spectral-ls", "waveform-lms", "spectral-lms")
METHODS = STREAMING_METHODS + OFFLINE_METHODS

# the seed's STFT for the time-frequency methods
TF_N_FFT, TF_HOP_LENGTH = 2048, 512
# command-line name -> run_seed_experiment's name (spectral-lms: the seed's spectral loss)
_EXPERIMENT_NAMES = {
    "waveform-ls": "waveform_ls", "spectral-ls": "spectral_ls",
    "waveform-lms": "waveform_lms", "spectral-lms": "spectral_lms_spectral",
}


@dataclass
class Cancellation:
    """What one run of one method produced.

    Attributes
    ----------
    near_end_estimate : numpy.ndarray, shape (T,)
        The canceller output.
    echo_estimate : numpy.ndarray, shape (T,)
        ``mic - near_end_estimate``.
    seconds : float
        Wall-clock processing time (fit and apply), in seconds.
    real_time_factor : float
        Seconds of audio processed per second of wall-clock time.
    """

    near_end_estimate: np.ndarray
    echo_estimate: np.ndarray
    seconds: float
    real_time_factor: float


def cancel_echo(
    mic: ArrayLike,
    ref: ArrayLike,
    method: str = "pbfdaf",
    sample_rate: int = 16000,
    *,
    filter_ms: float = 250.0,
    delay: int | str = 0,
    postfilter: float = 0.0,
    n_steps: int = 300,
    progress: bool = False,
) -> Cancellation:
    """Remove the echo of ``ref`` from ``mic`` with the method called ``method``.

    Parameters
    ----------
    mic, ref : array_like, shape (T,)
        Microphone and far-end reference, same length, at ``sample_rate``.
    method : str
        One of :data:`METHODS`.
    sample_rate : int
        Sampling rate in Hz.
    filter_ms : float
        Echo-path length to model, in milliseconds.
    delay : int or "auto"
        Bulk delay of the reference in samples, or ``"auto"`` (GCC-PHAT);
        streaming methods only.
    postfilter : float
        Residual-echo suppressor strength, 0 = off; streaming methods only.
    n_steps : int
        Adam steps of the gradient-descent methods (``*-lms``).
    progress : bool
        Show a progress bar during gradient descent.

    Returns
    -------
    Cancellation
    """
    mic = as_signal(mic, "mic")
    ref = as_signal(ref, "ref")
    check_same_length(mic, ref, "mic", "ref")
    check_choice(method, "method", METHODS)
    sample_rate = check_positive_int(sample_rate, "sample_rate")
    filter_ms = check_positive_float(filter_ms, "filter_ms")
    delay = check_delay(delay)
    postfilter = check_positive_float(postfilter, "postfilter", allow_zero=True)
    n_steps = check_positive_int(n_steps, "n_steps")
    if method in OFFLINE_METHODS and (delay != 0 or postfilter != 0.0):
        raise ValueError(f"delay and postfilter apply to streaming methods {STREAMING_METHODS}, not to {method!r}")
    filter_samples = max(1, round(filter_ms * sample_rate / 1000.0))
    if filter_samples > len(mic):
        raise ValueError(
            f"filter_ms={filter_ms:g} ms is {filter_samples} samples, longer than the {len(mic)}-sample recording"
        )

    # imports happen before the clock starts (torch takes seconds, once); only offline fits need torch
    if method in STREAMING_METHODS:
        from echoless.aec import cancel

        def run() -> np.ndarray:
            return cancel(mic, ref, method=method, sample_rate=sample_rate,
                          filter_ms=filter_ms, delay=delay, postfilter=postfilter)
    else:
        from echoless.experiment import fit_method

        options = {
            "sample_rate": sample_rate, "n_steps": n_steps, "lr": 1e-2, "progress": progress, "ridge": 0.0,
            "kernel_seconds": filter_ms / 1000.0,
            "kernel_frames": max(1, math.ceil(filter_samples / TF_HOP_LENGTH)),
            "n_fft": TF_N_FFT, "hop_length": TF_HOP_LENGTH,
        }

        def run() -> np.ndarray:
            return mic - fit_method(_EXPERIMENT_NAMES[method], mic, ref, **options)[2]

    start = time.perf_counter()
    near_end_estimate = run()
    seconds = time.perf_counter() - start
    return Cancellation(
        near_end_estimate=near_end_estimate,
        echo_estimate=mic - near_end_estimate,
        seconds=seconds,
        real_time_factor=len(mic) / sample_rate / max(seconds, 1e-12),
    )


def load_examples(paths: Iterable[str | pathlib.Path]) -> list:
    """The examples stored in scene folders or AEC-Challenge folders.

    Each path is one of: a scene folder (``mic.wav``, ``ref.wav``, optional
    ``near.wav``/``echo.wav``, ``meta.json``: :func:`echoless.data.load_scene`);
    an ICASSP AEC-Challenge synthetic folder (``nearend_mic_signal/`` ...:
    :func:`echoless.data.load_aec_challenge`); or a folder whose sub-folders
    are scene folders.

    Returns
    -------
    list of echoless.data.EchoExample
    """
    from echoless.data import load_aec_challenge, load_scene

    examples = []
    for path in map(pathlib.Path, paths):
        if not path.is_dir():
            raise FileNotFoundError(f"{str(path)!r} is not a folder")
        if (path / "mic.wav").exists():
            examples.append(load_scene(path))
        elif (path / "nearend_mic_signal").is_dir():
            examples.extend(load_aec_challenge(path))
        else:
            scenes = sorted(sub for sub in path.iterdir() if (sub / "mic.wav").exists())
            if not scenes:
                raise ValueError(
                    f"{str(path)!r} is neither a scene folder (mic.wav, ref.wav), an AEC-Challenge "
                    "folder (nearend_mic_signal/, farend_speech/) nor a folder of scene folders"
                )
            examples.extend(load_scene(scene) for scene in scenes)
    return examples


def evaluate(
    examples: Iterable,
    methods: Sequence[str] = STREAMING_METHODS,
    *,
    progress: bool = False,
    **options,
) -> list[dict]:
    """Run every method on every example and collect the metrics.

    Parameters
    ----------
    examples : iterable of echoless.data.EchoExample
    methods : sequence of str
        Names from :data:`METHODS`.
    progress : bool
        Show a progress bar over (example, method) pairs.
    **options
        Passed to :func:`cancel_echo` (``filter_ms``, ``delay``, ``postfilter``, ``n_steps``).

    Returns
    -------
    list of dict
        One row per (example, method): ``example``, ``method``, ``seconds``,
        ``real_time_factor`` and the keys of :func:`echoless.metrics.oracle_metrics`.
    """
    methods = [check_choice(method, "method", METHODS) for method in methods]
    if not methods:
        raise ValueError("methods must name at least one method")
    examples = list(examples)
    if not examples:
        raise ValueError("examples must hold at least one example")
    rows = []
    with tqdm(total=len(examples) * len(methods), disable=None if progress else True, desc="evaluate") as bar:
        for index, example in enumerate(examples):
            for method in methods:
                result = cancel_echo(example.mic, example.ref, method, example.sample_rate, **options)
                metrics = oracle_metrics(example.mic, result.near_end_estimate, example.echo, example.near_end)
                rows.append({
                    "example": example.name or f"example_{index}",
                    "method": method,
                    "seconds": result.seconds,
                    "real_time_factor": result.real_time_factor,
                    **metrics,
                })
                bar.update()
    return rows


def _columns(rows: Sequence[dict]) -> list[str]:
    columns: list[str] = []
    for row in rows:
        columns.extend(key for key in row if key not in columns)
    return columns


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1e-2 and value != 0.0 else f"{value:.2f}"
    return str(value)


def format_markdown(rows: Sequence[dict]) -> str:
    """The rows as a markdown table (missing values as ``–``), one line per row."""
    if not rows:
        raise ValueError("rows must not be empty")
    columns = _columns(rows)
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_cell(row[c]) if c in row else "–" for c in columns) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def write_tables(rows: Sequence[dict], stem: str | pathlib.Path) -> tuple[pathlib.Path, pathlib.Path]:
    """Write ``<stem>.csv`` (full precision) and ``<stem>.md`` (:func:`format_markdown`).

    Returns
    -------
    tuple of pathlib.Path
        The CSV and markdown paths.
    """
    stem = pathlib.Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    # appended, not with_suffix: a stem such as "run.v2" keeps its dot
    csv_path, md_path = stem.with_name(stem.name + ".csv"), stem.with_name(stem.name + ".md")
    with csv_path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=_columns(rows), restval="")
        writer.writeheader()
        writer.writerows(rows)
    md_path.write_text(format_markdown(rows))
    return csv_path, md_path
