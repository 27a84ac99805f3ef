"""Time echo cancellers and tabulate their metrics.

:func:`timed_cancel` runs any method of the one registry
(:data:`echoless.aec.METHODS`, through :func:`echoless.aec.cancel`) and
times it; :func:`format_markdown` and :func:`write_tables` turn rows of
metrics into markdown and CSV. Running methods over a corpus of recordings,
in parallel or not, is :mod:`echoless.batch` (``echoless eval`` and
``echoless batch``).
"""

from __future__ import annotations

import csv
import warnings
import pathlib
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from echoless._validation import as_signal, check_same_length
from echoless.aec.methods import DEFAULT_METHOD, cancel, check_method, make_canceller
from echoless.aec.streaming import run_canceller


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
    clock_drift_ppm : float or None
        A streaming canceller's estimate of the clock drift of MIC against
        REF at the end (:attr:`echoless.aec.base.StreamingCanceller.clock_drift_ppm`);
        None for an offline method or when none was made.
    """

    near_end_estimate: np.ndarray
    echo_estimate: np.ndarray
    seconds: float
    real_time_factor: float
    clock_drift_ppm: float | None = None


def timed_cancel(
    mic: ArrayLike, ref: ArrayLike, method: str = DEFAULT_METHOD, sample_rate: int = 16000, **options
) -> Cancellation:
    """:func:`echoless.aec.cancel`, timed.

    Parameters and errors are those of :func:`echoless.aec.cancel`. Imports
    (torch for the offline methods) happen before the clock starts.

    Returns
    -------
    Cancellation
    """
    canceller = None
    streaming = check_method(method).streaming
    if streaming and np.ndim(mic) == np.ndim(ref) == 1:
        # built here, not inside cancel(), to read its clock-drift estimate afterwards
        # (multichannel signals go through cancel(), which builds the multichannel class)
        mic, ref = as_signal(mic, "mic"), as_signal(ref, "ref")
        check_same_length(mic, ref, "mic", "ref")
        canceller = make_canceller(method, sample_rate, **options)
    elif not streaming:
        import echoless.experiment  # noqa: F401  (torch takes seconds, once)
    start = time.perf_counter()
    if canceller is None:
        near_end_estimate = cancel(mic, ref, method, sample_rate, **options)
    else:
        near_end_estimate = run_canceller(canceller, mic, ref)
    seconds = time.perf_counter() - start
    mic = np.asarray(mic, dtype=np.float64)
    return Cancellation(
        near_end_estimate=near_end_estimate,
        echo_estimate=mic - near_end_estimate,
        seconds=seconds,
        real_time_factor=len(mic) / sample_rate / max(seconds, 1e-12),
        clock_drift_ppm=getattr(canceller, "clock_drift_ppm", None),
    )


def blind_metrics(mic: np.ndarray, ref: np.ndarray, output: np.ndarray, sample_rate: int, timeline=None) -> dict:
    """The scores of a canceller's output that need no ground truth.

    Parameters
    ----------
    mic, ref, output : numpy.ndarray, shape (T,)
        Microphone, far-end reference and canceller output (aligned with ``mic``).
    sample_rate : int
        Sampling rate in Hz.
    timeline : list of dict, optional
        Who talks when, if known (simulated scenes); else detected.

    Returns
    -------
    dict
        ``far_end_seconds`` and ``erle_far_end_db``: how long the far end
        talks alone and the ERLE there (:func:`echoless.talk.far_end_erle`;
        left out when that is never);
        and, where the ``[mos]`` extra is installed and the clip lasts at least
        1 s, ``aecmos_echo`` and ``aecmos_other``: AECMOS
        (:func:`echoless.metrics.aecmos`) of the first 20 s, the model's span,
        by the model that guesses the talk type itself (an output over full
        scale is scored clipped, as a 16-bit file would hold it).
    """
    from echoless.metrics import aecmos
    from echoless.talk import far_end_erle

    far_end = far_end_erle(mic, output, ref, sample_rate, timeline=timeline)
    scores = {"far_end_seconds": far_end.seconds}
    if far_end.seconds > 0:  # like the oracle metrics, a score that cannot be had is left out
        scores["erle_far_end_db"] = far_end.erle_db
    keep = min(len(mic), round(20.0 * sample_rate))
    if keep < sample_rate:
        return scores
    try:
        with warnings.catch_warnings():  # the clip warning
            warnings.simplefilter("ignore", UserWarning)
            opinion = aecmos(ref[:keep], mic[:keep], output[:keep], sample_rate)
    except ModuleNotFoundError:
        return scores
    return {**scores, "aecmos_echo": opinion.echo_mos, "aecmos_other": opinion.other_mos}


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
