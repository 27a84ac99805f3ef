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
import pathlib
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from echoless.aec.methods import DEFAULT_METHOD, cancel, check_method


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
    if not check_method(method).streaming:
        import echoless.experiment  # noqa: F401  (torch takes seconds, once)
    start = time.perf_counter()
    near_end_estimate = cancel(mic, ref, method, sample_rate, **options)
    seconds = time.perf_counter() - start
    mic = np.asarray(mic, dtype=np.float64)
    return Cancellation(
        near_end_estimate=near_end_estimate,
        echo_estimate=mic - near_end_estimate,
        seconds=seconds,
        real_time_factor=len(mic) / sample_rate / max(seconds, 1e-12),
    )


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
