"""Figures for echo-cancellation results. Figures only: every number comes from the library.

Functions return a :class:`matplotlib.figure.Figure` built without ``pyplot``,
so they work headless and never touch global state; save with
``fig.savefig(path)``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

from echoless._validation import as_signal, check_positive_float
from echoless.metrics import erle_over_time
from echoless.stft import stft

# colours of the scene timeline labels (make_scene's meta["timeline"])
TIMELINE_COLOURS = {
    "far_end_single_talk": "tab:blue",
    "double_talk": "tab:red",
    "near_end_single_talk": "tab:green",
    "silence": "0.85",
}


def plot_spectrograms(
    signals: Mapping[str, np.ndarray],
    sample_rate: float,
    n_fft: int = 512,
    hop_length: int = 128,
    dynamic_range_db: float = 80.0,
) -> Figure:
    """Log-magnitude spectrograms, one panel per signal, on one shared colour scale.

    Parameters
    ----------
    signals : mapping of str to array_like, shape (T,)
        Panel title -> signal (e.g. ``{"mic": mic, "ref": ref, "pbfdaf": out}``).
    sample_rate : float
        Sampling rate in Hz (axes in seconds and kHz).
    n_fft, hop_length : int
        STFT size and hop (Hann window of ``n_fft`` samples).
    dynamic_range_db : float
        Colour range below the loudest bin of all panels, in dB.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if not signals:
        raise ValueError("signals must hold at least one signal")
    sample_rate = check_positive_float(sample_rate, "sample_rate")
    dynamic_range_db = check_positive_float(dynamic_range_db, "dynamic_range_db")
    tiny = np.finfo(np.float64).tiny
    levels = {
        name: 20.0 * np.log10(np.abs(stft(as_signal(x, f"signals[{name!r}]"), n_fft, hop_length)) + tiny)
        for name, x in signals.items()
    }
    top = max(float(level.max()) for level in levels.values())
    figure = Figure(figsize=(9.0, 1.9 * len(levels) + 0.6), layout="constrained")
    axes = figure.subplots(len(levels), 1, sharex=True, squeeze=False)[:, 0]
    image = None
    for axis, (name, level) in zip(axes, levels.items()):
        duration = (level.shape[1] - 1) * hop_length / sample_rate
        image = axis.imshow(
            level, origin="lower", aspect="auto", cmap="magma",
            vmin=top - dynamic_range_db, vmax=top,
            extent=(0.0, duration, 0.0, sample_rate / 2000.0),
        )
        axis.set_title(name, fontsize=9, loc="left")
        axis.set_ylabel("kHz")
    axes[-1].set_xlabel("time (s)")
    figure.colorbar(image, ax=list(axes), label="dB", shrink=0.8)
    return figure


def plot_erle_over_time(
    mic: np.ndarray,
    outputs: Mapping[str, np.ndarray],
    sample_rate: float,
    frame_seconds: float = 0.1,
    timeline: Sequence[Mapping] | None = None,
) -> Figure:
    """Segmental ERLE of several cancellers on the same microphone signal.

    ERLE (mic energy over output energy per frame) measures echo removal only
    where the mic holds echo alone (far-end single talk); in double talk it
    also counts removed near-end speech, in near-end single talk it is ~0 dB.
    The scene ``timeline``, when given, shades those segments so the curve can
    be read correctly.

    Parameters
    ----------
    mic : array_like, shape (T,)
    outputs : mapping of str to array_like, shape (T,)
        Method name -> near-end estimate.
    sample_rate : float
        Sampling rate in Hz.
    frame_seconds : float
        Frame length of the segmental ERLE, in seconds.
    timeline : sequence of dict, optional
        Segments ``{"start": s, "end": s, "label": ...}`` (``make_scene`` metadata).

    Returns
    -------
    matplotlib.figure.Figure
    """
    if not outputs:
        raise ValueError("outputs must hold at least one near-end estimate")
    figure = Figure(figsize=(9.0, 3.2), layout="constrained")
    axis = figure.subplots()
    shaded = set()
    for segment in timeline or ():
        label = segment["label"]
        colour = TIMELINE_COLOURS.get(label, "0.9")
        axis.axvspan(segment["start"], segment["end"], color=colour, alpha=0.12, lw=0,
                     label=None if label in shaded else label.replace("_", " "))
        shaded.add(label)
    for name, output in outputs.items():
        times, erle_db = erle_over_time(mic, output, sample_rate, frame_seconds)
        axis.plot(times, erle_db, lw=1.2, label=name)
    axis.axhline(0.0, color="0.5", lw=0.8)
    axis.set_xlabel("time (s)")
    axis.set_ylabel("ERLE (dB)")
    axis.set_title(f"segmental ERLE, {frame_seconds * 1000:.0f} ms frames (meaningful in far-end single talk)", fontsize=9)
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8, ncols=min(len(outputs), 4))
    return figure
