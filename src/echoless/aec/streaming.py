"""Run a streaming canceller over whole signals: ``cancel(mic, ref, method=...)``.

The signals are cut into frames of ``frame_size`` samples, the last partial
frame is zero-padded, and the output is trimmed back to the input length, so
``len(cancel(mic, ref)) == len(mic)`` always. A canceller whose output lags
(the postfilter adds one frame, see its ``latency``) is run on extra zero
frames and its output advanced, so the result is aligned with ``mic``. :data:`METHODS` maps each method
name to its class; other cancellers (offline ones included) can be registered
there, as long as they are constructed with ``sample_rate`` and their options
and provide ``frame_size`` and ``process(mic_frame, ref_frame)`` (and
``latency`` in samples if their output lags).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from echoless._validation import as_signal, check_choice, check_positive_int, check_same_length
from echoless.aec.nlms import NLMS
from echoless.aec.pbfdaf import PBFDAF
from echoless.aec.pfdkf import PFDKF

#: Method name -> canceller class.
METHODS: dict[str, type] = {"nlms": NLMS, "pbfdaf": PBFDAF, "pfdkf": PFDKF}


def cancel(
    mic: ArrayLike,
    ref: ArrayLike,
    method: str = "pbfdaf",
    sample_rate: int = 16000,
    **options,
) -> np.ndarray:
    """Near-end estimate of a whole recording, by a streaming echo canceller.

    Parameters
    ----------
    mic : array_like, shape (T,)
        Microphone signal (echo + near end).
    ref : array_like, shape (T,)
        Far-end reference, same length and sample rate.
    method : str
        A key of :data:`METHODS`: ``"nlms"``, ``"pbfdaf"`` (default) or ``"pfdkf"``.
    sample_rate : int
        Sampling rate in Hz.
    **options
        Passed to the canceller class (``frame_size``, ``filter_length``,
        ``filter_ms``, ``delay``, ``postfilter``, ``step_size``, ...).

    Returns
    -------
    numpy.ndarray, shape (T,), float64
        ``mic`` minus the estimated echo, aligned with ``mic``.

    Examples
    --------
    >>> import numpy as np
    >>> ref = np.random.default_rng(0).standard_normal(8000)
    >>> mic = np.convolve(ref, [0.0, 0.5, 0.25])[:8000]
    >>> out = cancel(mic, ref, method="pfdkf", filter_length=160)
    >>> out.shape, bool(np.std(out[4000:]) < 0.01 * np.std(mic))
    ((8000,), True)
    """
    mic = as_signal(mic, "mic")
    ref = as_signal(ref, "ref")
    check_same_length(mic, ref, "mic", "ref")
    method = check_choice(method, "method", METHODS)
    sample_rate = check_positive_int(sample_rate, "sample_rate")
    canceller = METHODS[method](sample_rate=sample_rate, **options)
    size = canceller.frame_size
    latency = getattr(canceller, "latency", 0)
    padded = -(-(len(mic) + latency) // size) * size
    mic_frames = np.zeros(padded)
    ref_frames = np.zeros(padded)
    mic_frames[: len(mic)] = mic
    ref_frames[: len(ref)] = ref
    out = np.empty(padded)
    for start in range(0, padded, size):
        out[start : start + size] = canceller.process(mic_frames[start : start + size], ref_frames[start : start + size])
    return out[latency : latency + len(mic)]
