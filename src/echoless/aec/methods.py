"""The one registry of echo cancellers, and :func:`cancel`, the front door to all of them.

Every part of echoless that runs a canceller by name — the library, the
``echoless`` command, ``eval``, the demo and the benchmarks — looks it up in
:data:`METHODS`, under one spelling:

==========================  =========  ================================================
name                        kind       what
==========================  =========  ================================================
``pfdkf`` (default)         streaming  partitioned frequency-domain Kalman filter
``pbfdaf``                  streaming  Speex-MDF-style block frequency-domain NLMS
``nlms``                    streaming  time-domain normalised LMS (teaching baseline)
``waveform_ls``             offline    exact least-squares FIR over the whole file
``spectral_ls``             offline    exact least-squares STFT-domain filter
``waveform_lms``            offline    the seed's gradient descent (Adam), FIR
``spectral_lms_spectral``   offline    the seed's STFT-domain Adam fit, spectral loss
``spectral_lms_waveform``   offline    the same fit, waveform loss
==========================  =========  ================================================

Why ``pfdkf`` is the default
    On ``benchmarks/bench_aec.py`` (simulated rooms with double talk, echo-path
    changes, loudspeaker clipping and music, 10 ms frames) the Kalman filter
    removes the most echo and keeps the near end best of the three streaming
    filters, and it is the fastest per frame: its step size comes from its own
    uncertainty, so it needs no double-talk detector to stop adapting on the
    near end (Enzner & Vary 2006). The streaming classes' own defaults
    (:class:`~echoless.aec.base.StreamingCanceller`) complete the pipeline:
    the input high-pass, ``delay="auto"`` (GCC-PHAT bulk-delay search) and the
    residual-echo suppressor. The measured table is in the README.

Offline methods fit one filter on the whole recording (they are not causal
and need the whole file in memory); streaming ones run frame by frame and are
what a live application uses (:func:`make_canceller`).
"""

from __future__ import annotations

import importlib
import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from echoless._validation import as_signal, check_choice, check_positive_float, check_positive_int, check_same_length

#: The method :func:`cancel`, the CLI and the batch tools use when none is named.
DEFAULT_METHOD = "pfdkf"
#: Echo-path length of the offline methods when ``filter_ms`` is not given (the seed's 4000 taps at 16 kHz).
OFFLINE_FILTER_MS = 250.0
#: The seed's STFT for the time-frequency offline methods.
TF_N_FFT, TF_HOP_LENGTH = 2048, 512


@dataclass(frozen=True)
class Method:
    """One registered canceller.

    Attributes
    ----------
    name : str
        Its one spelling.
    streaming : bool
        True for frame-by-frame cancellers (a class with ``process(mic_frame, ref_frame)``),
        False for offline fits on the whole recording.
    summary : str
        One line for help texts.
    target : str
        ``"module:Class"`` of a streaming canceller (relative to ``echoless.aec``).
    multichannel : str
        ``"module:Class"`` of its version with ``n_ref`` references and
        ``n_mic`` microphones, if it has one.
    """

    name: str
    streaming: bool
    summary: str
    target: str = ""
    multichannel: str = ""


METHODS: dict[str, Method] = {
    method.name: method
    for method in (
        Method(
            "pfdkf", True, "Kalman filter in the frequency domain (default)", "pfdkf:PFDKF",
            multichannel="multichannel:MultichannelPFDKF",
        ),
        Method("pbfdaf", True, "block frequency-domain NLMS with Speex-style step control", "pbfdaf:PBFDAF"),
        Method("nlms", True, "time-domain NLMS, the textbook baseline", "nlms:NLMS"),
        Method("waveform_ls", False, "exact least-squares FIR fitted on the whole file"),
        Method("spectral_ls", False, "exact least-squares STFT-domain filter on the whole file"),
        Method("waveform_lms", False, "the seed's Adam fit of an FIR (slow)"),
        Method("spectral_lms_spectral", False, "the seed's Adam fit in the STFT domain, spectral loss (slow)"),
        Method("spectral_lms_waveform", False, "the seed's Adam fit in the STFT domain, waveform loss (slow)"),
    )
}
#: Names of the streaming methods, default first.
STREAMING_METHODS = tuple(name for name, method in METHODS.items() if method.streaming)
#: Names of the offline methods.
OFFLINE_METHODS = tuple(name for name, method in METHODS.items() if not method.streaming)
#: Keyword options the offline methods take (see :func:`cancel`).
OFFLINE_OPTIONS = ("filter_ms", "n_steps", "lr", "ridge", "progress")


def check_method(method: str) -> Method:
    """The registered method called ``method``, or a ValueError that lists the names."""
    return METHODS[check_choice(method, "method", METHODS)]


def canceller_class(method: str, multichannel: bool = False) -> type:
    """The class of the streaming method ``method`` (imported on first use), or of its
    multichannel version (``n_ref`` and ``n_mic`` options)."""
    entry = check_method(method)
    if not entry.streaming:
        raise ValueError(f"{method!r} is an offline method (it fits the whole file): choose one of {STREAMING_METHODS}")
    target = entry.multichannel if multichannel else entry.target
    if not target:
        supported = [name for name, other in METHODS.items() if other.multichannel]
        raise ValueError(f"method {method!r} has no multichannel version (n_ref, n_mic, 2-D signals): use {supported}")
    module, name = target.split(":")
    return getattr(importlib.import_module(f"echoless.aec.{module}"), name)


def make_canceller(method: str = DEFAULT_METHOD, sample_rate: int = 16000, *, band_split: bool | str = "auto", **options):
    """A new streaming canceller, ready for ``process(mic_frame, ref_frame)``.

    Parameters
    ----------
    method : str
        A streaming name of :data:`METHODS` (default ``"pfdkf"``).
    sample_rate : int
        Sampling rate in Hz.
    band_split : bool or "auto"
        Adapt on the 0-8 kHz band only and suppress the band above
        (:class:`~echoless.aec.subband.BandSplitCanceller`): ``"auto"`` (the
        default) does so above 16 kHz, where it is cheaper and as good (see
        the README's "Sample rates"); ``False`` adapts on the full band.
    **options
        The class's options (``frame_size``, ``filter_ms``, ``delay``,
        ``postfilter``, ...); defaults give the recommended pipeline, with
        10 ms frames (:func:`~echoless.aec.subband.default_frame_size`). With
        ``n_ref`` or ``n_mic`` the method's multichannel version is built
        (:class:`~echoless.aec.multichannel.MultichannelPFDKF`), whose frames
        are (frame_size, n_mic) and (frame_size, n_ref).

    Returns
    -------
    echoless.aec.base.StreamingCanceller or echoless.aec.subband.BandSplitCanceller

    Raises
    ------
    ValueError
        If ``method`` is unknown or offline, an option value is invalid, or
        ``band_split`` is true at 16 kHz or below.
    TypeError
        If an option is not one of the class's.
    """
    from echoless.aec import subband

    multichannel = "n_ref" in options or "n_mic" in options
    kind = canceller_class(method, multichannel)
    sample_rate = check_positive_int(sample_rate, "sample_rate")
    if band_split not in ("auto", True, False):
        raise ValueError(f"band_split must be 'auto', True or False, got {band_split!r}")
    if band_split is True and sample_rate <= subband.LOW_BAND_RATE:
        raise ValueError(f"band_split=True needs a rate above {subband.LOW_BAND_RATE} Hz, got sample_rate={sample_rate}")
    if band_split is True and multichannel:
        raise ValueError("band_split=True is for one microphone and one reference; multichannel runs on the full band")
    if options.get("frame_size") is None:
        options["frame_size"] = subband.default_frame_size(sample_rate)
    # the band split is single-channel: a multichannel canceller adapts on the full band
    if band_split and not multichannel and sample_rate > subband.LOW_BAND_RATE:
        return subband.BandSplitCanceller(kind, sample_rate, **options)
    return kind(sample_rate=sample_rate, **options)


def cancel(
    mic: ArrayLike,
    ref: ArrayLike,
    method: str = DEFAULT_METHOD,
    sample_rate: int = 16000,
    **options,
) -> np.ndarray:
    """Near-end estimate of a whole recording: ``mic`` minus the estimated echo of ``ref``.

    The front door to every canceller. With no options it runs the
    recommended pipeline: PFDKF with the input high-pass, the bulk-delay
    search and the residual-echo suppressor (see the module notes for why).

    Parameters
    ----------
    mic : array_like, shape (T,) or (T, n_mic)
        Microphone signal (echo + near end), finite; one column per microphone.
    ref : array_like, shape (T,) or (T, n_ref)
        Far-end reference at the same sample rate and length; one column per
        loudspeaker. A 2-D ``mic`` or ``ref`` runs the method's multichannel
        version (:mod:`echoless.aec.multichannel`).
    method : str
        A name of :data:`METHODS` (default ``"pfdkf"``).
    sample_rate : int
        Sampling rate in Hz (default 16000).
    **options
        Streaming methods: the options of their class (``frame_size``,
        default 10 ms; ``filter_length`` or ``filter_ms``, ``delay``,
        ``postfilter``, ``highpass_hz``, ``step_size``, ...) and
        ``band_split`` (above 16 kHz, see :func:`make_canceller`). Offline methods:
        ``filter_ms`` (echo-path length, default 250 ms), ``n_steps`` (Adam
        steps of the ``*_lms`` fits, default 300), ``lr`` (default 1e-2),
        ``ridge`` (diagonal loading of the least squares, default 0) and
        ``progress`` (progress bar, default False).

    Returns
    -------
    numpy.ndarray, shape (T,) or (T, n_mic), float64
        The near-end estimate, aligned with ``mic`` and of its shape (a
        canceller's own latency is compensated).

    Raises
    ------
    ValueError
        If the signals are invalid or differ in length, ``method`` is
        unknown, or an option value is invalid.
    TypeError
        If an option does not apply to ``method``.

    Examples
    --------
    >>> import numpy as np
    >>> ref = np.random.default_rng(0).standard_normal(16000)
    >>> mic = np.convolve(ref, [0.0, 0.5, 0.25])[:16000]
    >>> out = cancel(mic, ref, method="pfdkf", filter_length=160, postfilter=0)
    >>> out.shape, bool(np.std(out[8000:]) < 0.01 * np.std(mic))
    ((16000,), True)
    """
    if np.ndim(mic) > 1 or np.ndim(ref) > 1:
        from echoless.aec.multichannel import cancel_multichannel

        return cancel_multichannel(mic, ref, method, check_positive_int(sample_rate, "sample_rate"), **options)
    mic = as_signal(mic, "mic")
    ref = as_signal(ref, "ref")
    check_same_length(mic, ref, "mic", "ref")
    entry = check_method(method)
    sample_rate = check_positive_int(sample_rate, "sample_rate")
    if entry.streaming:
        from echoless.aec.streaming import run_canceller

        return run_canceller(make_canceller(method, sample_rate, **options), mic, ref)
    return mic - _fit_offline(entry.name, mic, ref, sample_rate, **options)


def options_for(method: str, options: dict) -> dict:
    """The options of a run over several methods that apply to ``method``.

    ``filter_ms`` applies to every method. The offline-only options
    (``n_steps``, ``lr``, ``ridge``, ``progress``) are left out for a
    streaming method; every other option is a streaming one, and giving it
    with an offline method raises (in :func:`cancel`), since it would
    silently do nothing there.
    """
    if check_method(method).streaming:
        return {key: value for key, value in options.items() if key == "filter_ms" or key not in OFFLINE_OPTIONS}
    return dict(options)


def _fit_offline(
    method: str,
    mic: np.ndarray,
    ref: np.ndarray,
    sample_rate: int,
    *,
    filter_ms: float = OFFLINE_FILTER_MS,
    n_steps: int = 300,
    lr: float = 1e-2,
    ridge: float = 0.0,
    progress: bool = False,
    **unknown,
) -> np.ndarray:
    """The echo estimate of an offline method (:func:`echoless.experiment.fit_method`)."""
    if unknown:
        raise TypeError(
            f"{', '.join(sorted(unknown))}: not an option of the offline method {method!r} (it takes "
            f"{', '.join(OFFLINE_OPTIONS)}); delay, postfilter and frame options are for the streaming "
            f"methods {', '.join(STREAMING_METHODS)}"
        )
    filter_ms = check_positive_float(filter_ms, "filter_ms")
    filter_samples = max(1, round(filter_ms * sample_rate / 1000.0))
    if filter_samples > len(mic):
        raise ValueError(f"filter_ms={filter_ms:g} ms is {filter_samples} samples, longer than the {len(mic)}-sample recording")
    n_steps = check_positive_int(n_steps, "n_steps")
    from echoless.experiment import fit_method  # imports torch

    return fit_method(
        method, mic, ref, sample_rate=sample_rate, n_steps=n_steps, lr=lr, ridge=ridge, progress=progress,
        kernel_seconds=filter_ms / 1000.0, kernel_frames=max(1, math.ceil(filter_samples / TF_HOP_LENGTH)),
        n_fft=TF_N_FFT, hop_length=TF_HOP_LENGTH,
    )[2]
