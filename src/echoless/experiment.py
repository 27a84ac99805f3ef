"""The seed's experiment end to end: every offline method on every example, results on disk.

:func:`run_seed_experiment` fits, for each example of a data set (e.g. the
built-in ``synth`` and ``real``), the seed's gradient-descent cancellers and
their closed-form optima:

=========================  =====================================================
``waveform_lms``           :func:`~echoless.aec.fit_waveform_lms`
``spectral_lms_spectral``  :func:`~echoless.aec.fit_spectral_lms`, spectral loss
``spectral_lms_waveform``  :func:`~echoless.aec.fit_spectral_lms`, waveform loss
``waveform_ls``            :func:`~echoless.aec.fit_waveform_ls`
``spectral_ls``            :func:`~echoless.aec.fit_spectral_ls`
=========================  =====================================================

and writes the folder layout shared with the CLI and the report::

    out_dir/summary.json, comparison_<data>.png,
    out_dir/<method>_<data>/{near_end_est,echo_est,mic,ref}.wav,
        logs.json, logs.csv, metrics.json, loss.png (gradient descent), impulse_response.png

Closed-form methods run first, so the loss curves of gradient descent show
the optimum they approach. JSON holds ``null`` where a number is undefined
(e.g. ``snr_near`` without a known near end) or infinite.
"""

from __future__ import annotations

import csv
import json
import math
import os
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from echoless._validation import check_choice, check_positive_float, check_positive_int
from echoless.aec._fitting import WaveformLogger, check_gd_options, check_offline_inputs
from echoless.aec.least_squares import fit_spectral_ls, fit_waveform_ls
from echoless.aec.tf_lms import ComplexMse, EndToEndSpectralConvolution, check_signal_fits_stft, fit_spectral_lms
from echoless.aec.waveform_lms import fit_waveform_lms, kernel_size_from_seconds
from echoless.io import write_audio
from echoless.metrics import oracle_metrics
from echoless.plots import plot_impulse_response, plot_loss_curves, plot_seed_comparison

METHODS = ("waveform_ls", "spectral_ls", "waveform_lms", "spectral_lms_spectral", "spectral_lms_waveform")
_GRADIENT_METHODS = ("waveform_lms", "spectral_lms_spectral", "spectral_lms_waveform")


def _json_ready(value: Any) -> Any:
    """Replace non-finite floats by ``None`` so the files are strict JSON."""
    if isinstance(value, dict):
        return {key: _json_ready(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_json(path: Path, payload: Any) -> None:
    """Write ``payload`` as JSON, NaN and +-inf as ``null`` (the results layout's convention)."""
    path.write_text(json.dumps(_json_ready(payload), indent=1, allow_nan=False))


def save_run(
    folder: Path,
    mic: np.ndarray,
    ref: np.ndarray,
    near_end_estimate: np.ndarray,
    sample_rate: int,
    seconds: float,
    echo: np.ndarray | None = None,
    near_end: np.ndarray | None = None,
    timeline: list[dict] | None = None,
) -> dict:
    """Write one run of the results layout: the four WAVs and ``metrics.json``.

    Parameters
    ----------
    folder : pathlib.Path
        ``<method>_<data>`` folder (created if needed).
    mic, ref, near_end_estimate : numpy.ndarray, shape (T,)
    sample_rate : int
    seconds : float
        Wall time of the run.
    echo, near_end : numpy.ndarray, shape (T,), optional
        The truth, for the oracle metrics.
    timeline : list of dict, optional
        Who talks when, for the ERLE where the far end talks alone (else detected).

    Returns
    -------
    dict
        The metrics written: :func:`~echoless.evaluation.blind_metrics`,
        :func:`~echoless.metrics.oracle_metrics` and ``seconds``.
    """
    folder.mkdir(parents=True, exist_ok=True)
    signals = {"near_end_est": near_end_estimate, "echo_est": mic - near_end_estimate, "mic": mic, "ref": ref}
    for name, signal in signals.items():
        # 32-bit float WAV: estimates may exceed [-1, 1] and must not be clipped
        write_audio(folder / f"{name}.wav", signal, sample_rate, subtype="FLOAT")
    from echoless.evaluation import blind_metrics

    metrics = {
        **blind_metrics(mic, ref, near_end_estimate, sample_rate, timeline),
        **oracle_metrics(mic, near_end_estimate, echo, near_end),
        "seconds": seconds,
    }
    write_json(folder / "metrics.json", metrics)
    return metrics


def _write_csv(path: Path, rows: list[dict[str, float]]) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def example_timeline(example: Any) -> list[dict] | None:
    """Who talks when, if the example knows (simulated scenes, the built-in data)."""
    meta = getattr(example, "meta", None) or {}
    return meta.get("timeline") or meta.get("scene", {}).get("timeline")


def _true_echo_path(example: Any) -> np.ndarray | None:
    """The simulated impulse response, when the example carries one (its ``rir``)."""
    rir = getattr(example, "rir", None)
    return None if rir is None else np.asarray(rir, dtype=float)


def _spectral_impulse_response(model: EndToEndSpectralConvolution) -> np.ndarray:
    """Response of the STFT-domain filter to a unit impulse on a frame boundary, away from the edges.

    The STFT filter is time-varying with period ``hop_length``; this is the
    response seen by an impulse that starts a frame.
    """
    span = (model.kernel_size - 1) * model.hop_length + model.n_fft
    start = model.hop_length * math.ceil(model.n_fft / model.hop_length)
    impulse = np.zeros(start + span + model.n_fft)
    impulse[start] = 1.0
    return model.apply(impulse)[start : start + span]


def _least_squares_log(
    model: Any, echo_estimate: np.ndarray, mic: np.ndarray, ref: np.ndarray, echo, near_end, spectral: bool
) -> dict:
    """The one-row log of a closed-form fit, with the keys of its gradient-descent twin."""
    values = WaveformLogger(mic, echo, near_end, torch.float64)(torch.from_numpy(echo_estimate))
    if not spectral:
        return {"loss": values["mse"], "loss_oracle": values["mse_oracle"], **values}
    with torch.no_grad():
        estimate = model.spectral(model.prepare_spectrogram(torch.from_numpy(ref)))
        oracle = mic if echo is None else echo
        loss = float(ComplexMse()(estimate, model.prepare_spectrogram(torch.from_numpy(mic))))
        loss_oracle = float(ComplexMse()(estimate, model.prepare_spectrogram(torch.from_numpy(oracle))))
    return {"loss": loss, "loss_oracle": loss_oracle, **values}


def fit_method(
    method: str,
    mic: np.ndarray,
    ref: np.ndarray,
    echo: np.ndarray | None = None,
    near_end: np.ndarray | None = None,
    *,
    sample_rate: int = 16000,
    n_steps: int = 1500,
    lr: float = 1e-2,
    kernel_seconds: float = 0.25,
    kernel_frames: int = 15,
    n_fft: int = 2048,
    hop_length: int = 512,
    ridge: float = 0.0,
    progress: bool = True,
) -> tuple[Any, list[dict], np.ndarray]:
    """Fit one offline method by name: the one dispatch behind the experiment and the CLI.

    Parameters
    ----------
    method : str
        One of :data:`METHODS`.
    mic, ref : numpy.ndarray, shape (T,)
        Microphone and far-end reference (float64, checked by the caller).
    echo, near_end : numpy.ndarray, shape (T,), optional
        True echo and near end, for the oracle columns of the logs.
    sample_rate, n_steps, lr, kernel_seconds, kernel_frames, n_fft, hop_length, ridge, progress
        As for :func:`run_seed_experiment`.

    Returns
    -------
    model : torch.nn.Module
        The fitted filter.
    logs : list of dict
        Per-step log rows (one row for the least-squares methods).
    echo_estimate : numpy.ndarray, shape (T,)
        ``model.apply(ref)``.
    """
    check_choice(method, "method", METHODS)
    spectral = {"kernel_size": kernel_frames, "n_fft": n_fft, "hop_length": hop_length}
    if method == "waveform_lms":
        model, logs = fit_waveform_lms(
            mic, ref, echo, near_end, kernel_seconds=kernel_seconds, n_steps=n_steps,
            lr=lr, sample_rate=sample_rate, progress=progress,
        )
    elif method.startswith("spectral_lms"):
        model, logs = fit_spectral_lms(
            mic, ref, echo, near_end, loss_type=method.rsplit("_", 1)[1], n_steps=n_steps,
            lr=lr, progress=progress, **spectral,
        )
    elif method == "waveform_ls":
        taps = kernel_size_from_seconds(kernel_seconds, sample_rate, len(mic))
        model = fit_waveform_ls(mic, ref, taps, ridge=ridge)
    else:
        model = fit_spectral_ls(mic, ref, ridge=ridge, **spectral)
    echo_estimate = model.apply(ref)
    if method.endswith("_ls"):
        logs = [_least_squares_log(model, echo_estimate, mic, ref, echo, near_end, spectral=method == "spectral_ls")]
    return model, logs, echo_estimate


def _check_dataset(dataset: Any) -> dict[str, tuple]:
    if not isinstance(dataset, Mapping) or not dataset:
        raise TypeError("dataset must be a non-empty mapping of name -> example (mic, ref, sample_rate, ...)")
    checked = {}
    for name, example in dataset.items():
        if not isinstance(name, str) or not name or os.sep in name or name.startswith("."):
            raise ValueError(f"dataset name {name!r} cannot be used as a folder name")
        missing = [key for key in ("mic", "ref", "sample_rate") if not hasattr(example, key)]
        if missing:
            raise TypeError(f"dataset[{name!r}] lacks {', '.join(missing)}")
        signals = check_offline_inputs(
            example.mic, example.ref, getattr(example, "echo", None), getattr(example, "near_end", None)
        )
        checked[name] = (signals, check_positive_int(example.sample_rate, f"dataset[{name!r}].sample_rate"))
    rates = {rate for _, rate in checked.values()}
    if len(rates) > 1:
        raise ValueError(f"all examples must share one sample_rate, got {sorted(rates)}")
    return checked


def run_seed_experiment(
    dataset: Mapping[str, Any],
    out_dir: str | os.PathLike,
    *,
    methods: Iterable[str] = METHODS,
    n_steps: int = 1500,
    lr: float = 1e-2,
    kernel_seconds: float = 0.25,
    kernel_frames: int = 15,
    n_fft: int = 2048,
    hop_length: int = 512,
    ridge: float = 0.0,
    progress: bool = True,
) -> dict:
    """Fit every method on every example and write audio, logs, metrics and figures.

    Parameters
    ----------
    dataset : mapping of str to example
        ``name -> example`` with attributes ``mic``, ``ref`` (1-D arrays),
        ``sample_rate`` (Hz, shared by all examples), ``near_end`` and ``echo``
        (arrays or ``None``), e.g. :func:`echoless.data.default_dataset`. An
        ``rir`` attribute is drawn as the true echo path.
    out_dir : path-like
        Results folder (created if needed).
    methods : iterable of str
        Any of ``waveform_lms``, ``spectral_lms_spectral``,
        ``spectral_lms_waveform``, ``waveform_ls``, ``spectral_ls``.
    n_steps, lr : int, float
        Adam steps and learning rate of the gradient-descent methods.
    kernel_seconds : float
        Waveform filter length in seconds.
    kernel_frames, n_fft, hop_length : int
        Time-frequency kernel length in frames and STFT parameters in samples.
    ridge : float
        Relative diagonal loading of the least-squares methods.
    progress : bool
        Progress bars for the fits.

    Returns
    -------
    dict
        The content of ``summary.json``: ``{"rows": [{"method", "data",
        "seconds", "metrics"}], "sample_rate"}``; ``seconds`` is the fit's wall time.
    """
    examples = _check_dataset(dataset)
    methods = tuple(methods)
    if not methods:
        raise ValueError("methods must name at least one method")
    for method in methods:
        check_choice(method, "method", METHODS)
    if len(set(methods)) != len(methods):
        raise ValueError(f"methods has duplicates: {methods}")
    methods = tuple(method for method in METHODS if method in methods)  # closed form first
    sample_rate = next(iter(examples.values()))[1]
    # every option is checked before the first fit, so a typo fails in seconds, not after an hour
    n_steps, lr = check_gd_options(n_steps, lr)
    check_positive_float(ridge, "ridge", allow_zero=True)
    EndToEndSpectralConvolution(kernel_frames, n_fft=n_fft, hop_length=hop_length)
    for (mic, *_), _ in examples.values():
        kernel_size_from_seconds(kernel_seconds, sample_rate, len(mic))
        check_signal_fits_stft(len(mic), n_fft, "mic")
    options = {
        "sample_rate": sample_rate, "n_steps": n_steps, "lr": lr,
        "kernel_seconds": kernel_seconds, "kernel_frames": kernel_frames, "n_fft": n_fft,
        "hop_length": hop_length, "ridge": ridge, "progress": progress,
    }
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for data, (signals, _) in examples.items():
        mic, ref, echo, near_end = signals
        all_logs = {}
        for method in methods:
            start = time.perf_counter()
            model, logs, echo_estimate = fit_method(method, *signals, **options)
            seconds = time.perf_counter() - start
            all_logs[method] = logs
            near_end_estimate = mic - echo_estimate
            folder = out / f"{method}_{data}"
            metrics = save_run(
                folder, mic, ref, near_end_estimate, sample_rate, seconds, echo, near_end, example_timeline(dataset[data])
            )
            write_json(folder / "logs.json", logs)
            _write_csv(folder / "logs.csv", logs)
            title = f"{method} on {data}"
            if method in _GRADIENT_METHODS:
                twin = {"waveform_lms": "waveform_ls", "spectral_lms_spectral": "spectral_ls"}.get(method)
                optimum = all_logs[twin][0]["loss"] if twin in all_logs else None
                oracle_label = "loss vs true echo (oracle)" if echo is not None else "loss vs mic (echo unknown)"
                plot_loss_curves(
                    [row["loss"] for row in logs], [row["loss_oracle"] for row in logs],
                    optimum=optimum, title=title, oracle_label=oracle_label, path=folder / "loss.png",
                )
            if method.startswith("waveform"):
                response = model.get_kernel()
            else:
                response = _spectral_impulse_response(model)
            plot_impulse_response(
                response, sample_rate, true=_true_echo_path(dataset[data]), title=title,
                path=folder / "impulse_response.png",
            )
            rows.append({"method": method, "data": data, "seconds": seconds, "metrics": metrics})
        _write_comparison(all_logs, out / f"comparison_{data}.png", data, echo_known=echo is not None)
    summary = {"rows": rows, "sample_rate": sample_rate}
    write_json(out / "summary.json", summary)
    return summary


def _write_comparison(all_logs: dict[str, list[dict]], path: Path, data: str, echo_known: bool) -> None:
    """The seed's 3-panel figure; the waveform fit's loss *is* its MSE."""
    curves = {
        method: {key: [row[key] for row in logs] for key in ("mse", "mse_oracle", "snr_near")}
        for method, logs in all_logs.items()
        if method in _GRADIENT_METHODS and method != "waveform_lms"
    }
    if "waveform_lms" in all_logs:
        logs = all_logs["waveform_lms"]
        curves = {
            "waveform_lms": {
                "mse": [row["loss"] for row in logs],
                "mse_oracle": [row["loss_oracle"] for row in logs],
                "snr_near": [row["snr_near"] for row in logs],
            },
            **curves,
        }
    optima = {method: all_logs[method][0] for method in ("waveform_ls", "spectral_ls") if method in all_logs}
    plot_seed_comparison(curves, optima=optima, echo_known=echo_known, title=f"waveform vs spectral on {data}", path=path)
