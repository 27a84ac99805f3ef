r"""Who talks when, detected from the reference and the microphone; ERLE where the far end talks alone.

ERLE, ``10 log10(mic energy / output energy)``, measures echo removal only
where the microphone holds echo and nothing else: the far end talks alone.
Over a whole file with double talk it mostly measures the near-end talker,
whom a good canceller keeps (the demo's synthetic data reads 3.7 dB over the
file where the ERLE over its far-end-only part is 15 dB). Recordings rarely
come with a timeline, so :func:`far_end_single_talk` finds those stretches
from the two signals themselves:

1. the bulk delay ``D`` of the echo is found by GCC-PHAT
   (:func:`echoless.aec.delay.estimate_delay`), so that the microphone is
   compared with the reference that it echoes;
2. both are cut into 64 ms frames (hop 16 ms at 16 kHz); the far end is
   *active* in a frame whose reference power lies within ``active_db`` of the
   reference's loud (95th-percentile) frames: a threshold relative to the
   signal, so it holds at any level;
3. the magnitude-squared coherence of microphone and reference,
   :math:`|\Phi_{ys}|^2 / (\Phi_{yy}\Phi_{ss})`, with the spectra smoothed
   over about 250 ms, is averaged over 300-4000 Hz weighted by the
   microphone's power: the share of the microphone that the reference
   explains linearly. It is near 1 where the microphone is an echo of the
   reference, and drops when a near-end talker adds what the reference does
   not explain. Its level in single talk depends on the room (0.7 in a
   0.8 s RT60 room, 0.95 in a dry one), so the threshold is relative: a frame
   is far-end single talk when its coherence is at least ``relative_coherence``
   times the 95th percentile of the active frames'.

Double talk with a near end 5-10 dB below the echo barely lowers the
coherence and can pass step 3; the ERLE then includes some near end and
reads low (it reads high only where detection skips the filter's start-up). Measured with the default pipeline on the demo's
synthetic data and five simulated scenes (RT60 0.3-0.8 s, SER -10..+5 dB):
precision 0.69-1.00, and the ERLE read 17 dB below to 3 dB above the ERLE
over the true far-end single-talk segment (32.2 against 37.8 dB on the demo
data, where the whole-file ratio reads near 4 dB). The CLI and the batch
tools use it; with a known timeline (simulated scenes) :func:`far_end_erle`
uses that instead.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy import signal

from echoless._validation import as_signal, check_positive_int, check_same_length

#: A frame is far-end active within this many dB of the reference's loud (95th-percentile) frames.
ACTIVE_DB = 30.0
#: Far-end single talk: coherence at least this share of its 95th percentile over active frames.
RELATIVE_COHERENCE = 0.95
#: Smoothing time constant of the spectra behind the coherence, seconds.
COHERENCE_SECONDS = 0.25
#: Band over which the coherence is averaged, Hz (where speech and small loudspeakers have energy).
COHERENCE_BAND_HZ = (300.0, 4000.0)
#: Frames processed at a time (bounds memory on hour-long files).
_BLOCK_FRAMES = 2048


@dataclass(frozen=True)
class FarEndErle:
    """ERLE over the stretches where the far end talks alone.

    Attributes
    ----------
    erle_db : float
        ``10 log10`` of the microphone energy over the output energy in those
        stretches; NaN when there are none.
    seconds : float
        Their total duration, seconds.
    detected : bool
        True when the stretches were detected from the signals, False when a
        timeline gave them.
    """

    erle_db: float
    seconds: float
    detected: bool


def _coherence_track(mic: np.ndarray, ref: np.ndarray, sample_rate: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Per-frame coherence (band average) and reference power, and the hop in samples."""
    n_fft = 1 << max(6, int(np.ceil(np.log2(0.064 * sample_rate))))
    hop = n_fft // 4
    window = np.hanning(n_fft)
    low, high = (round(f * n_fft / sample_rate) for f in COHERENCE_BAND_HZ)
    band = slice(max(1, low), max(low + 2, min(high, n_fft // 2)))
    forget = np.exp(-hop / sample_rate / COHERENCE_SECONDS)
    state = [np.zeros((band.stop - band.start, 1), dtype=complex) for _ in range(3)]
    n_frames = max(0, (len(mic) - n_fft) // hop + 1)
    coherence = np.zeros(n_frames)
    ref_power = np.zeros(n_frames)
    for first in range(0, n_frames, _BLOCK_FRAMES):
        starts = hop * np.arange(first, min(n_frames, first + _BLOCK_FRAMES))
        index = starts[:, None] + np.arange(n_fft)
        spectra_y = np.fft.rfft(mic[index] * window, axis=1)[:, band].T
        spectra_s = np.fft.rfft(ref[index] * window, axis=1)[:, band].T
        smoothed = []
        for k, product in enumerate((np.abs(spectra_y) ** 2, np.abs(spectra_s) ** 2, spectra_y * spectra_s.conj())):
            values, state[k] = signal.lfilter([1 - forget], [1, -forget], product, axis=1, zi=forget * state[k])
            state[k] = values[:, -1:]
            smoothed.append(values)
        power_y, power_s, cross = smoothed
        with np.errstate(invalid="ignore", divide="ignore"):
            per_bin = np.abs(cross) ** 2 / (power_y.real * power_s.real)
        # weighted by the mic's power: the share of the mic that the reference explains linearly
        weights = power_y.real
        total = weights.sum(axis=0)
        rows = slice(first, first + len(starts))
        coherence[rows] = np.where(total > 0, np.nansum(per_bin * weights, axis=0) / np.where(total > 0, total, 1), 0.0)
        ref_power[rows] = power_s.real.sum(axis=0)
    return coherence, ref_power, hop


def far_end_single_talk(
    mic: ArrayLike,
    ref: ArrayLike,
    sample_rate: int = 16000,
    *,
    active_db: float = ACTIVE_DB,
    relative_coherence: float = RELATIVE_COHERENCE,
) -> np.ndarray:
    """Samples at which the far end talks alone, detected from ``mic`` and ``ref``.

    Parameters
    ----------
    mic, ref : array_like, shape (T,)
        Microphone and far-end reference, same length and sample rate.
    sample_rate : int
        Sampling rate in Hz.
    active_db : float
        The far end counts as active within this many dB of its loud frames (default 30).
    relative_coherence : float
        Share of the 95th-percentile coherence above which an active frame is
        single talk (default 0.95).

    Returns
    -------
    numpy.ndarray, shape (T,), bool
        True where the far end talks alone (in hops of 16 ms at 16 kHz).

    Raises
    ------
    ValueError
        If the signals are invalid or differ in length.
    """
    from echoless.aec.delay import DelayWarning, estimate_delay

    mic = as_signal(mic, "mic")
    ref = as_signal(ref, "ref")
    check_same_length(mic, ref, "mic", "ref")
    sample_rate = check_positive_int(sample_rate, "sample_rate")
    mask = np.zeros(len(mic), dtype=bool)
    if len(mic) < sample_rate // 2 or not np.any(ref) or not np.any(mic):
        return mask
    seconds = len(mic) / sample_rate
    with warnings.catch_warnings():  # no reliable delay: compare at lag 0, which is what it returns
        warnings.simplefilter("ignore", DelayWarning)
        delay = estimate_delay(mic, ref, sample_rate, max_delay=min(1.0, 0.45 * seconds), window_seconds=min(2.0, seconds))
    delayed = np.zeros_like(ref)
    if delay >= 0:
        delayed[delay:] = ref[: len(ref) - delay]
    else:
        delayed[:delay] = ref[-delay:]
    coherence, ref_power, hop = _coherence_track(mic, delayed, sample_rate)
    if not len(coherence):
        return mask
    active = ref_power > np.percentile(ref_power, 95) * 10 ** (-active_db / 10)
    if not np.any(active):
        return mask
    single = active & (coherence >= relative_coherence * np.percentile(coherence[active], 95))
    # each frame decides the hop at its centre
    offset = hop * 3 // 2  # frame k spans hops k..k+3
    mask[offset : offset + hop * len(single)] = np.repeat(single, hop)[: len(mask) - offset]
    return mask


def far_end_erle(
    mic: ArrayLike,
    output: ArrayLike,
    ref: ArrayLike,
    sample_rate: int = 16000,
    timeline: list[dict] | None = None,
) -> FarEndErle:
    """ERLE of a canceller's ``output`` where the far end talks alone.

    Parameters
    ----------
    mic, output, ref : array_like, shape (T,)
        Microphone, canceller output (aligned with ``mic``) and far-end reference.
    sample_rate : int
        Sampling rate in Hz.
    timeline : list of dict, optional
        Known segments (``{"start", "end", "label"}`` in seconds, as
        :func:`echoless.data.make_scene` writes); the ``far_end_single_talk``
        ones are used. Default: detected by :func:`far_end_single_talk`.

    Returns
    -------
    FarEndErle

    Raises
    ------
    ValueError
        If the signals are invalid or differ in length.
    """
    mic = as_signal(mic, "mic")
    output = as_signal(output, "output")
    check_same_length(mic, output, "mic", "output")
    if timeline is None:
        mask = far_end_single_talk(mic, ref, sample_rate)
    else:
        mask = np.zeros(len(mic), dtype=bool)
        for segment in timeline:
            if segment["label"] == "far_end_single_talk":
                mask[round(segment["start"] * sample_rate) : round(segment["end"] * sample_rate)] = True
    seconds = float(mask.sum()) / sample_rate
    mic_energy = float(np.dot(mic[mask], mic[mask]))
    out_energy = float(np.dot(output[mask], output[mask]))
    if seconds == 0 or mic_energy == 0:
        value = float("nan")
    elif out_energy == 0:
        value = float("inf")
    else:
        value = 10.0 * np.log10(mic_energy / out_energy)
    return FarEndErle(erle_db=value, seconds=seconds, detected=timeline is None)
