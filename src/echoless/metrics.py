r"""Quality metrics for echo cancellation, in dB unless stated.

Notation: ``reference`` is the clean signal the estimate should equal (the true
near end, or the true echo), ``estimate`` is what a method produced.

* ``mse(reference, estimate)`` :math:`= \frac{1}{T}\sum_t (r_t - e_t)^2` (linear).
* ``snr(reference, estimate)`` :math:`= 10\log_{10}\frac{\sum_t r_t^2}{\sum_t (r_t-e_t)^2}`.
* ``si_snr(reference, estimate)``: scale-invariant SNR. Both are made zero-mean,
  the target is the projection :math:`s = \frac{\langle e, r\rangle}{\|r\|^2} r`,
  and :math:`10\log_{10}\|s\|^2/\|e-s\|^2`. A gain error does not count.
* ``sdr(reference, estimate, filter_length=512)``: signal-to-distortion ratio
  as in BSS Eval. The target is the best ``filter_length``-tap causal FIR
  filtering of the reference, :math:`s = g * r` with
  :math:`g = \arg\min \|e - g * r\|^2`, and :math:`10\log_{10}\|s\|^2/\|e-s\|^2`.
  A fixed linear filter (a DC notch, a high-pass, a short delay) does not
  count, unlike in SNR and SI-SNR, where the phase shift of a 60 Hz high-pass
  alone caps speech at about 10 dB.
* ``erle(mic, output)`` :math:`= 10\log_{10}\frac{\sum_t y_t^2}{\sum_t \hat n_t^2}`:
  echo return loss enhancement, the energy the canceller removed. It is only
  meaningful where the microphone holds echo alone (far-end single talk).
  The *oracle* ERLE, available on synthetic data, is
  ``erle(echo, echo - echo_estimate)``: echo energy over residual echo energy,
  valid at all times, even in double talk.
* ``erle_over_time``: segmental ERLE, the same ratio in consecutive
  non-overlapping frames (100 ms by default), in dB, for plots over time.

"Oracle" metrics compare against signals that only synthetic scenes have (the
true echo, the true near end); see :func:`oracle_metrics`.

A ratio whose denominator is exactly zero (a perfect estimate) is reported as
``+inf`` dB rather than a number made up from an epsilon.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
from numpy.typing import ArrayLike

from echoless._validation import as_signal, check_positive_float, check_positive_int, check_same_length
from echoless.conv.correlation import CroppedConvolutionGram


def _pair(reference: ArrayLike, estimate: ArrayLike, names: tuple[str, str]) -> tuple[np.ndarray, np.ndarray]:
    first = as_signal(reference, names[0])
    second = as_signal(estimate, names[1])
    check_same_length(first, second, *names)
    return first, second


def _ratio_db(numerator: float, denominator: float) -> float:
    if denominator == 0.0:
        return float("inf") if numerator > 0 else float("nan")
    if numerator == 0.0:
        return float("-inf")
    return float(10.0 * np.log10(numerator / denominator))


def mse(reference: ArrayLike, estimate: ArrayLike) -> float:
    """Mean squared error between two signals of equal length (linear, not dB).

    Parameters
    ----------
    reference, estimate : array_like, shape (T,)

    Returns
    -------
    float
    """
    reference, estimate = _pair(reference, estimate, ("reference", "estimate"))
    return float(np.mean((reference - estimate) ** 2))


def snr(reference: ArrayLike, estimate: ArrayLike) -> float:
    """Signal-to-noise ratio of ``estimate`` against ``reference``, in dB.

    Parameters
    ----------
    reference, estimate : array_like, shape (T,)

    Returns
    -------
    float
        ``10 log10(sum(reference**2) / sum((reference - estimate)**2))``.
    """
    reference, estimate = _pair(reference, estimate, ("reference", "estimate"))
    return _ratio_db(float(np.sum(reference**2)), float(np.sum((reference - estimate) ** 2)))


def si_snr(reference: ArrayLike, estimate: ArrayLike) -> float:
    """Scale-invariant SNR in dB (zero-mean signals, projection on the reference).

    Parameters
    ----------
    reference, estimate : array_like, shape (T,)

    Returns
    -------
    float
    """
    reference, estimate = _pair(reference, estimate, ("reference", "estimate"))
    reference = reference - reference.mean()
    estimate = estimate - estimate.mean()
    energy = float(np.dot(reference, reference))
    if energy == 0.0:
        raise ValueError("reference is constant: SI-SNR is undefined")
    target = (np.dot(estimate, reference) / energy) * reference
    return _ratio_db(float(np.sum(target**2)), float(np.sum((estimate - target) ** 2)))


def sdr(reference: ArrayLike, estimate: ArrayLike, filter_length: int = 512) -> float:
    """Signal-to-distortion ratio in dB: SNR after the best short FIR filtering of ``reference``.

    Parameters
    ----------
    reference, estimate : array_like, shape (T,)
    filter_length : int
        Taps of the allowed distortion filter (512 = 32 ms at 16 kHz, as in BSS Eval).

    Returns
    -------
    float

    Notes
    -----
    The filter solves the autocorrelation-method normal equations (Toeplitz,
    lags ``0 .. filter_length - 1``, computed with FFTs), as BSS Eval does.
    """
    reference, estimate = _pair(reference, estimate, ("reference", "estimate"))
    taps = min(check_positive_int(filter_length, "filter_length"), len(reference))
    gram = CroppedConvolutionGram(reference, taps)
    autocorrelation = gram.autocorrelation()
    if autocorrelation[0] == 0.0:
        raise ValueError("reference is silent: SDR is undefined")
    autocorrelation[0] *= 1.0 + 1e-12  # keeps the solve defined for a reference with few non-zero samples
    gains = scipy.linalg.solve_toeplitz(autocorrelation, gram.correlate(estimate))
    target = gram.filter(gains)
    return _ratio_db(float(np.sum(target**2)), float(np.sum((estimate - target) ** 2)))


def erle(mic: ArrayLike, output: ArrayLike) -> float:
    """Echo return loss enhancement in dB: ``10 log10(sum(mic**2) / sum(output**2))``.

    Parameters
    ----------
    mic : array_like, shape (T,)
        Microphone signal (or, for the oracle variant, the true echo).
    output : array_like, shape (T,)
        Canceller output (or the residual echo ``echo - echo_estimate``).

    Returns
    -------
    float
    """
    mic, output = _pair(mic, output, ("mic", "output"))
    return _ratio_db(float(np.sum(mic**2)), float(np.sum(output**2)))


def erle_over_time(
    mic: ArrayLike,
    output: ArrayLike,
    sample_rate: float,
    frame_seconds: float = 0.1,
    floor_db: float = -60.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Segmental ERLE: the ERLE of consecutive non-overlapping frames.

    Parameters
    ----------
    mic, output : array_like, shape (T,)
    sample_rate : float
        Sampling rate in Hz.
    frame_seconds : float
        Frame length in seconds (the last partial frame is dropped).
    floor_db : float
        Frames whose mic energy is more than ``-floor_db`` dB below the loudest
        frame are silent; their ERLE is NaN so plots show a gap, not noise.

    Returns
    -------
    times : numpy.ndarray, shape (n_frames,)
        Frame centres in seconds.
    erle_db : numpy.ndarray, shape (n_frames,)
        ERLE per frame in dB (NaN in silent frames).
    """
    mic, output = _pair(mic, output, ("mic", "output"))
    sample_rate = check_positive_float(sample_rate, "sample_rate")
    frame = int(round(check_positive_float(frame_seconds, "frame_seconds") * sample_rate))
    if frame < 1 or frame > len(mic):
        raise ValueError(
            f"frame_seconds={frame_seconds} gives a frame of {frame} samples; the signal has {len(mic)}"
        )
    n_frames = len(mic) // frame
    mic_energy = np.sum(mic[: n_frames * frame].reshape(n_frames, frame) ** 2, axis=1)
    out_energy = np.sum(output[: n_frames * frame].reshape(n_frames, frame) ** 2, axis=1)
    # a frame the canceller silenced exactly is +inf dB (as erle()); log of each energy, so no overflow
    with np.errstate(divide="ignore", invalid="ignore"):
        erle_db = 10.0 * np.log10(mic_energy) - 10.0 * np.log10(out_energy)
    silent = mic_energy <= mic_energy.max() * 10.0 ** (floor_db / 10.0)
    erle_db[silent] = np.nan
    times = (np.arange(n_frames) + 0.5) * frame / sample_rate
    return times, erle_db


def oracle_metrics(
    mic: ArrayLike,
    near_end_estimate: ArrayLike,
    echo: ArrayLike | None = None,
    near_end: ArrayLike | None = None,
) -> dict[str, float]:
    """All metrics one run can report, oracle ones where the truth is known.

    Parameters
    ----------
    mic : array_like, shape (T,)
        Microphone signal ``echo + near_end (+ noise)``.
    near_end_estimate : array_like, shape (T,)
        Canceller output.
    echo : array_like, shape (T,), optional
        True echo (synthetic data only).
    near_end : array_like, shape (T,), optional
        True near-end signal (synthetic data only).

    Returns
    -------
    dict
        ``erle_db`` (mic over output; whole signal), ``mse`` (output vs mic: the
        seed's non-oracle loss), and, when known, ``erle_oracle_db`` (echo over
        residual echo), ``snr_echo_db`` (echo estimate vs true echo),
        ``snr_near_db`` and ``si_snr_near_db`` (output vs true near end),
        ``mse_oracle`` (echo estimate vs true echo).
    """
    mic, estimate = _pair(mic, near_end_estimate, ("mic", "near_end_estimate"))
    echo_estimate = mic - estimate
    result = {"erle_db": erle(mic, estimate), "mse": mse(mic, echo_estimate)}
    if echo is not None:
        mic, echo = _pair(mic, echo, ("mic", "echo"))
        result["erle_oracle_db"] = erle(echo, echo - echo_estimate)
        result["snr_echo_db"] = snr(echo, echo_estimate)
        result["mse_oracle"] = mse(echo, echo_estimate)
    if near_end is not None:
        mic, near_end = _pair(mic, near_end, ("mic", "near_end"))
        result["snr_near_db"] = snr(near_end, estimate)
        result["si_snr_near_db"] = si_snr(near_end, estimate)
    return result
