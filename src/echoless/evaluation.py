"""Run echo cancellers on examples and tabulate their metrics.

:func:`timed_cancel` runs any method of the one registry
(:data:`echoless.aec.METHODS`, through :func:`echoless.aec.cancel`) and
times it; :func:`evaluate` runs a list of methods on a list of
:class:`echoless.data.EchoExample` and returns one row per (example, method)
with :func:`echoless.metrics.oracle_metrics`, the processing time and the
real-time factor (seconds of audio per second of processing).
"""

from __future__ import annotations

import csv
import pathlib
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from tqdm.auto import tqdm

from echoless._validation import as_signal, check_same_length
from echoless.aec.methods import DEFAULT_METHOD, STREAMING_METHODS, cancel, check_method, make_canceller, options_for
from echoless.aec.streaming import run_canceller
from echoless.metrics import oracle_metrics


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
    if check_method(method).streaming:
        # built here, not inside cancel(), to read its clock-drift estimate afterwards
        mic, ref = as_signal(mic, "mic"), as_signal(ref, "ref")
        check_same_length(mic, ref, "mic", "ref")
        canceller = make_canceller(method, sample_rate, **options)
    else:
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
        Names from :data:`echoless.aec.METHODS`.
    progress : bool
        Show a progress bar over (example, method) pairs.
    **options
        Passed to :func:`echoless.aec.cancel`, each method taking those
        that apply to it (:func:`echoless.aec.methods.options_for`).

    Returns
    -------
    list of dict
        One row per (example, method): ``example``, ``method``, ``seconds``,
        ``real_time_factor`` and the keys of :func:`echoless.metrics.oracle_metrics`.
    """
    methods = [check_method(method).name for method in methods]
    if not methods:
        raise ValueError("methods must name at least one method")
    examples = list(examples)
    if not examples:
        raise ValueError("examples must hold at least one example")
    rows = []
    with tqdm(total=len(examples) * len(methods), disable=None if progress else True, desc="evaluate") as bar:
        for index, example in enumerate(examples):
            for method in methods:
                result = timed_cancel(
                    example.mic, example.ref, method, example.sample_rate, **options_for(method, options)
                )
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
