"""Figures of echo-cancellation runs: loss curves, echo paths, the seed's comparison,
spectrograms and ERLE over time.

Only drawing happens here; every number comes from the caller. Figures are
built on :class:`matplotlib.figure.Figure` directly (no ``pyplot``, no global
backend switch), so they render headless with the Agg canvas and never open a
window. Each function returns the figure and saves it when ``path`` is given.
"""

from __future__ import annotations

import os
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


def _finish(figure: Figure, path: str | os.PathLike | None) -> Figure:
    figure.tight_layout()
    if path is not None:
        figure.savefig(path, dpi=110)
    return figure


def _single_axes():
    figure = Figure(figsize=(7, 4))
    return figure, figure.add_subplot()


def _label(axes, xlabel: str, ylabel: str, title: str) -> None:
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    axes.set_title(title)
    axes.grid(True, which="both", alpha=0.3)
    axes.legend()


def _positive(values: Sequence[float]) -> np.ndarray:
    """Values for a log axis: non-positive entries become NaN (a gap, not an error)."""
    array = np.asarray(values, dtype=float)
    return np.where(array > 0, array, np.nan)


def plot_loss_curves(
    loss: Sequence[float],
    loss_oracle: Sequence[float] | None = None,
    *,
    optimum: float | None = None,
    title: str = "",
    oracle_label: str = "loss vs true echo (oracle)",
    path: str | os.PathLike | None = None,
) -> Figure:
    """Loss per gradient step on a log scale, with the oracle curve and the exact optimum.

    Parameters
    ----------
    loss : sequence of float, length n_steps
        The objective at each step.
    loss_oracle : sequence of float, optional
        The same objective against the true echo.
    optimum : float, optional
        The least-squares minimum of ``loss``, drawn as a dashed line.
    title : str
        Figure title.
    oracle_label : str
        Legend label of ``loss_oracle``.
    path : path-like, optional
        Where to save the PNG.

    Returns
    -------
    matplotlib.figure.Figure
    """
    figure, axes = _single_axes()
    steps = np.arange(len(loss))
    axes.semilogy(steps, _positive(loss), label="loss (vs mic)")
    if loss_oracle is not None:
        axes.semilogy(steps, _positive(loss_oracle), label=oracle_label)
    if optimum is not None and optimum > 0:
        axes.axhline(optimum, color="k", linestyle="--", linewidth=1, label="least-squares optimum")
    _label(axes, "step", "loss", title)
    return _finish(figure, path)


def plot_impulse_response(
    estimate: np.ndarray,
    sample_rate: float,
    *,
    true: np.ndarray | None = None,
    title: str = "",
    path: str | os.PathLike | None = None,
) -> Figure:
    """Estimated echo path over time in milliseconds, with the true one when known.

    Parameters
    ----------
    estimate : numpy.ndarray, shape (K,)
        Estimated impulse response.
    sample_rate : float
        Sampling rate in Hz.
    true : numpy.ndarray, shape (L,), optional
        True impulse response.
    title : str
        Figure title.
    path : path-like, optional
        Where to save the PNG.

    Returns
    -------
    matplotlib.figure.Figure
    """
    figure, axes = _single_axes()
    if true is not None:
        axes.plot(1e3 * np.arange(len(true)) / sample_rate, true, color="0.6", linewidth=1.5, label="true")
    axes.plot(1e3 * np.arange(len(estimate)) / sample_rate, estimate, linewidth=0.8, label="estimate")
    _label(axes, "time (ms)", "amplitude", title)
    return _finish(figure, path)


_PANELS = (
    ("mse", "MSE vs mic", True),
    ("mse_oracle", "MSE vs true echo (oracle)", True),
    ("snr_near", "SNR of near-end estimate (dB)", False),
)


def plot_seed_comparison(
    curves: Mapping[str, Mapping[str, Sequence[float]]],
    *,
    optima: Mapping[str, Mapping[str, float]] | None = None,
    echo_known: bool = True,
    title: str = "",
    path: str | os.PathLike | None = None,
) -> Figure:
    """The seed's three panels: ``mse``, ``mse_oracle`` and ``snr_near`` per step, one line per method.

    Parameters
    ----------
    curves : mapping
        ``{method label: {"mse": [...], "mse_oracle": [...], "snr_near": [...]}}``,
        waveform-domain values per gradient step.
    optima : mapping, optional
        ``{label: {"mse": value, ...}}`` for closed-form solutions, drawn as
        dashed horizontal lines.
    echo_known : bool
        False when the "oracle" values were computed against the microphone
        (the seed's fallback without a true echo); the panel title says so.
    title : str
        Figure title.
    path : path-like, optional
        Where to save the PNG.

    Returns
    -------
    matplotlib.figure.Figure
    """
    figure = Figure(figsize=(15, 4))
    for index, (key, label, log_scale) in enumerate(_PANELS):
        axes = figure.add_subplot(1, len(_PANELS), index + 1)
        drawn = False
        for name, values in curves.items():
            series = np.asarray(values[key], dtype=float)
            if np.all(np.isnan(series)):
                continue
            axes.plot(np.arange(len(series)), _positive(series) if log_scale else series, label=name)
            drawn = True
        for number, (name, values) in enumerate((optima or {}).items()):
            value = values.get(key, np.nan)
            if np.isfinite(value):
                color = f"C{len(curves) + number}"  # after the colours of the curves
                axes.axhline(value, linestyle="--", linewidth=1, color=color, label=name)
                drawn = True
        if log_scale:
            axes.set_yscale("log")
        if drawn:
            axes.legend(fontsize="small")
        else:
            axes.text(0.5, 0.5, "unknown on this data", ha="center", va="center", transform=axes.transAxes)
        axes.set_xlabel("step")
        axes.set_title(label if echo_known or key != "mse_oracle" else "MSE vs mic (true echo unknown)")
        axes.grid(True, which="both", alpha=0.3)
    if title:
        figure.suptitle(title)
    return _finish(figure, path)


def plot_spectrograms(
    signals: Mapping[str, np.ndarray],
    sample_rate: float,
    *,
    n_fft: int = 512,
    hop_length: int = 128,
    dynamic_range_db: float = 80.0,
    path: str | os.PathLike | None = None,
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
    path : path-like, optional
        Save the figure there.

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
    figure = Figure(figsize=(9.0, 1.9 * len(levels) + 0.6))
    axes = figure.subplots(len(levels), 1, sharex=True, squeeze=False)[:, 0]
    for axis, (name, level) in zip(axes, levels.items()):
        duration = (level.shape[1] - 1) * hop_length / sample_rate
        image = axis.imshow(
            level, origin="lower", aspect="auto", cmap="magma",
            vmin=top - dynamic_range_db, vmax=top,
            extent=(0.0, duration, 0.0, sample_rate / 2000.0),
        )
        axis.set_title(name, fontsize=9, loc="left")
        axis.set_ylabel("kHz")
        figure.colorbar(image, ax=axis, label="dB", pad=0.01)
    axes[-1].set_xlabel("time (s)")
    return _finish(figure, path)


def plot_erle_over_time(
    mic: np.ndarray,
    outputs: Mapping[str, np.ndarray],
    sample_rate: float,
    *,
    frame_seconds: float = 0.1,
    timeline: Sequence[Mapping] | None = None,
    path: str | os.PathLike | None = None,
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
    path : path-like, optional
        Save the figure there.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if not outputs:
        raise ValueError("outputs must hold at least one near-end estimate")
    figure = Figure(figsize=(10.0, 3.2))
    axis = figure.add_subplot()
    shaded = set()
    for segment in timeline or ():
        label = segment["label"]
        axis.axvspan(segment["start"], segment["end"], color=TIMELINE_COLOURS.get(label, "0.9"), alpha=0.12, lw=0,
                     label=None if label in shaded else label.replace("_", " "))
        shaded.add(label)
    for name, output in outputs.items():
        times, erle_db = erle_over_time(mic, output, sample_rate, frame_seconds)
        axis.plot(times, erle_db, lw=1.2, label=name)
    axis.axhline(0.0, color="0.5", lw=0.8)
    title = f"segmental ERLE, {frame_seconds * 1000:.0f} ms frames (meaningful in far-end single talk)"
    _label(axis, "time (s)", "ERLE (dB)", title)
    axis.title.set_fontsize(9)
    axis.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))  # outside: curves stay visible
    return _finish(figure, path)
