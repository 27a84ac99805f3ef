r"""Bulk delay between the far-end reference and the microphone, by GCC-PHAT.

Playback buffers and the acoustic path delay the echo by tens of
milliseconds. An adaptive filter would spend one tap per sample of that delay
on zeros, so the reference is delayed before the filter instead.

The generalised cross-correlation with phase transform (GCC-PHAT) whitens the
cross-spectrum of mic ``y`` and reference ``s`` before going back to lags:

.. math:: r(\tau) = \mathcal{F}^{-1}\Big[\frac{\Phi_{ys}(f)}{|\Phi_{ys}(f)|}\Big](\tau),
          \qquad \Phi_{ys}(f) = \sum_{\text{windows } w} Y_w(f)\, S_w^*(f),

so every frequency votes with its phase only and the peak is a sharp spike at
the delay :math:`D` (``mic[t] ~ ref[t - D]``) even for coloured speech and a
reverberant path. The cross-spectrum is summed over sliding windows (half
overlapping, each zero-padded by the largest lag searched so that lags do
not wrap), which averages out the near-end talker and noise.

:class:`DelayTracker` runs the same estimate in a stream, on the last
:data:`HISTORY_SECONDS`, once a second (every 8 s once locked), and moves the reference delay only when two successive
confident estimates agree; :class:`DelayLine` applies the delay.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import numpy as np
from numpy.typing import ArrayLike
from scipy import fft

from echoless._jit import kernel
from echoless._validation import as_signal, check_positive_float, check_positive_int, check_same_length

#: Largest delay searched by default, seconds (both signs): device buffers and Bluetooth
#: links add up to several hundred ms.
MAX_DELAY_SECONDS = 1.0
#: Default analysis window of the streaming search, seconds (enough to hold the largest lag twice).
HISTORY_SECONDS = 3.0
#: Far end silent: the reference window's power is this many dB below the far end's running level.
SILENT_DB = 50.0
#: Warn when the far end has been active this long without a confident delay estimate, seconds.
NO_LOCK_WARNING_SECONDS = 10.0


#: Peak-to-background ratio of the GCC-PHAT function above which an estimate is trusted.
CONFIDENCE = 8.0
#: The streaming tracker moves the delay when its estimate is more than this many samples off.
TOLERANCE_SAMPLES = 2


class DelayWarning(UserWarning):
    """No reliable bulk-delay estimate: the reference is probably not what the microphone echoes."""


def gcc_phat(mic: np.ndarray, ref: np.ndarray, max_lag: int, window: int) -> tuple[int, float]:
    """Delay of ``mic`` behind ``ref`` and the confidence of that estimate.

    Parameters
    ----------
    mic, ref : numpy.ndarray, shape (T,)
    max_lag : int
        Lags searched: ``-max_lag .. max_lag`` samples.
    window : int
        Window length; windows hop by half of it (one window if ``T <= window``).

    Returns
    -------
    lag : int
        Samples by which ``mic`` lags ``ref``.
    confidence : float
        Peak height over the RMS of the GCC function at the other lags (0 if
        either signal is silent).
    """
    window = min(window, len(mic))
    max_lag = min(max_lag, window - 1)
    n_fft = gcc_size(window, max_lag)
    hop = max(1, window // 2)
    starts = range(0, max(1, len(mic) - window + 1), hop)
    cross = np.zeros(n_fft // 2 + 1, dtype=np.complex128)
    for start in starts:
        mic_spectrum = fft.rfft(mic[start : start + window], n_fft)
        mic_spectrum *= np.conj(fft.rfft(ref[start : start + window], n_fft))
        cross += mic_spectrum
    return phat_peak(cross, max_lag, n_fft)


def gcc_size(window: int, max_lag: int) -> int:
    """FFT size for GCC-PHAT: ``window + max_lag`` points (rounded up to a fast size)
    hold every lag up to ``max_lag`` without circular wrap."""
    return fft.next_fast_len(window + max_lag, real=True)


def phat_peak(cross: np.ndarray, max_lag: int, n_fft: int) -> tuple[int, float]:
    """Lag and confidence of the GCC-PHAT peak of a cross-spectrum ``Y S^*`` (``n_fft // 2 + 1`` bins).

    ``cross`` is overwritten by its whitened self ``Y S^* / |Y S^*|`` (zero in the bins
    left out), unless a signal is silent. See :func:`gcc_phat` for the returned values.
    """
    magnitude = np.abs(cross)
    peak = magnitude.max()
    if peak == 0.0:
        return 0, 0.0
    # bins with (almost) no common energy carry only noise phase: leave them out
    magnitude[magnitude <= 1e-6 * peak] = np.inf
    cross /= magnitude
    correlation = fft.irfft(cross, n_fft)
    # lags -max_lag .. max_lag, in order: the negative ones wrapped to the end
    values = np.concatenate([correlation[n_fft - max_lag :], correlation[: max_lag + 1]])
    best = int(np.argmax(values))
    others = len(values) - 1
    energy = float(np.dot(values, values)) - float(values[best]) ** 2
    background = np.sqrt(max(energy, 0.0) / others) if others else 0.0
    confidence = float(values[best] / background) if background > 0 else float("inf")
    return best - max_lag, confidence


def estimate_delay(
    mic: ArrayLike,
    ref: ArrayLike,
    sample_rate: int = 16000,
    max_delay: float = MAX_DELAY_SECONDS,
    window_seconds: float = 2.0,
) -> int:
    """Bulk delay of the echo in ``mic`` behind ``ref``, in samples (GCC-PHAT).

    Parameters
    ----------
    mic, ref : array_like, shape (T,)
        Microphone and far-end reference, same length and sample rate.
    sample_rate : int
        Sampling rate in Hz.
    max_delay : float
        Largest delay searched, in seconds, both signs (default 1 s).
    window_seconds : float
        Sliding-window length in seconds; the cross-spectrum is summed over
        half-overlapping windows. Must exceed ``max_delay``.

    Returns
    -------
    int
        ``D`` such that ``mic[t]`` best matches ``ref[t - D]``; negative when
        the mic leads the reference (a broken setup). ``0`` when a signal is
        silent, or when no lag stands out (peak-to-background ratio below
        :data:`CONFIDENCE`), with a :class:`DelayWarning`.

    Warns
    -----
    DelayWarning
        When no reliable peak exists: the delay is then reported as 0, not guessed.

    Examples
    --------
    >>> import numpy as np
    >>> ref = np.random.default_rng(0).standard_normal(16000)
    >>> mic = np.concatenate([np.zeros(640), ref[:-640]])
    >>> estimate_delay(mic, ref)
    640
    """
    mic = as_signal(mic, "mic")
    ref = as_signal(ref, "ref")
    check_same_length(mic, ref, "mic", "ref")
    sample_rate = check_positive_int(sample_rate, "sample_rate")
    max_lag = round(check_positive_float(max_delay, "max_delay") * sample_rate)
    window = round(check_positive_float(window_seconds, "window_seconds") * sample_rate)
    if window <= max_lag:
        raise ValueError(f"window_seconds ({window_seconds}) must exceed max_delay ({max_delay})")
    lag, confidence = gcc_phat(mic, ref, max_lag, window)
    if confidence == 0.0:  # a silent signal
        return 0
    if confidence < CONFIDENCE:
        warnings.warn(
            f"no reliable echo delay within +-{max_delay:g} s (GCC-PHAT peak {confidence:.1f} < {CONFIDENCE:g}, "
            f"at {lag} samples): returning 0. Is the delay longer than max_delay, or is ref not what mic echoes?",
            DelayWarning,
            stacklevel=2,
        )
        return 0
    return lag


class DelayLine:
    """Delays a stream of frames by a settable number of samples (ring buffer).

    Parameters
    ----------
    max_delay : int
        Largest delay that :attr:`delay` may be set to, samples.
    frame_size : int
        Samples per frame.
    delay : int
        Initial delay in samples.

    Notes
    -----
    The ring holds whole frames, so a frame is written in one piece, and its
    first frame is mirrored after its end, so any ``frame_size`` samples are
    read in one piece too: two slice copies per frame.
    """

    def __init__(self, max_delay: int, frame_size: int, delay: int = 0) -> None:
        self.max_delay = int(max_delay)
        self.frame_size = int(frame_size)
        n = self.frame_size
        self._capacity = -(-(self.max_delay + n) // n) * n
        self._buffer = np.zeros(self._capacity + n)
        self._write = 0
        self.delay = int(delay)

    def process(self, frame: np.ndarray) -> np.ndarray:
        """Store ``frame`` (frame_size,), return (a copy of) the frame ``delay`` samples older."""
        out = np.empty(self.frame_size)
        self._write = delay_frame(self._buffer, self._write, self._capacity, self.delay, frame, out)
        return out


@kernel
def delay_frame(buffer, write, capacity, delay, frame, out):  # pragma: no cover - compiled
    """One :meth:`DelayLine.process` step: store ``frame`` at ``write``, copy the frame ``delay``
    samples older into ``out``; return the next write position."""
    n = frame.shape[0]
    buffer[write : write + n] = frame
    if write == 0:
        buffer[capacity:] = frame  # the mirror
    start = (write - delay) % capacity
    out[:] = buffer[start : start + n]
    return (write + n) % capacity


@kernel
def record_frame(frames, row, mic, ref):  # pragma: no cover - compiled
    """Store ``mic`` and ``ref`` in row ``row`` of the history ``frames`` (2, rows, B)."""
    frames[0, row] = mic
    frames[1, row] = ref


@kernel
def record_and_delay(frames, row, mic, ref, buffer, write, capacity, delay, out):  # pragma: no cover - compiled
    """:func:`record_frame`, then :func:`delay_frame` of ``ref``: a tracker's frame in one call."""
    record_frame(frames, row, mic, ref)
    return delay_frame(buffer, write, capacity, delay, ref, out)


class DelayTracker:
    """Streaming GCC-PHAT: estimates the bulk delay and delays the reference by it.

    Every ``interval`` seconds (every ``8 * interval`` once two estimates
    agree) the delay is estimated on the last ``history`` seconds of mic and
    reference. A confident estimate that agrees
    (within 2 samples) with the previous one becomes the new delay, minus a
    5 ms margin so that the filter also sees the direct-path onset; the
    canceller's filter is shifted by the change so it stays aligned. Once
    locked, a change of the bulk delay is followed within ``9 * interval``
    (the next check sees it, the one after confirms it). A check costs
    three FFTs of about ``history + max_delay`` seconds (~2-3 ms with the
    defaults on a 2-core VM; ~4 us per 10 ms frame, averaged, once locked),
    done one per frame over three frames so that no frame pays for all three.

    Parameters
    ----------
    sample_rate, frame_size : int
    max_delay : float
        Largest delay searched, seconds.
    history, interval : float
        Analysis window and re-estimation period, seconds.
    line : DelayLine, optional
        The delay line to drive (any object with an integer ``delay``
        attribute and ``process(frame)``; the clock-drift compensation passes
        a :class:`~echoless.aec.drift.DriftingDelayLine`). Default: a new
        :class:`DelayLine` of ``max_delay``.
    """

    def __init__(
        self,
        sample_rate: int,
        frame_size: int,
        max_delay: float = MAX_DELAY_SECONDS,
        history: float = HISTORY_SECONDS,
        interval: float = 1.0,
        line: DelayLine | None = None,
    ) -> None:
        self.max_lag = round(max_delay * sample_rate)
        self.margin = round(0.005 * sample_rate)
        self._line = DelayLine(self.max_lag, frame_size) if line is None else line
        length = max(round(history * sample_rate), 2 * self.max_lag + frame_size)
        # history as a ring of whole frames: one row write per frame
        self._frames = np.zeros((2, -(-length // frame_size), frame_size))  # mic, ref
        self._row = 0
        self._filled = 0
        self._search_period = max(1, round(interval * sample_rate / frame_size))
        self._locked_period = 8 * self._search_period
        self._period = self._countdown = self._search_period
        self._candidate: int | None = None
        self.locked = False  # a confident estimate has been seen
        self._rate, self._frame_seconds = sample_rate, frame_size / sample_rate
        self._searched = 0  # frames of far-end signal searched so far
        self._warn_after = round(NO_LOCK_WARNING_SECONDS * sample_rate / frame_size)
        self._warned = False
        self._estimate: Iterator[None] | None = None  # the estimate in progress, if any
        #: the delay moves when the estimate is more than this many samples off (the
        #: clock-drift estimator widens it while it steers the line itself)
        self.tolerance = TOLERANCE_SAMPLES

    @property
    def delay(self) -> int:
        """Delay currently applied to the reference, samples."""
        return self._line.delay

    def process(self, mic: np.ndarray, ref: np.ndarray, canceller) -> np.ndarray:
        """Maybe re-estimate (on the history so far), record one frame pair, return the delayed
        reference frame (with the delay the estimate may just have changed)."""
        if self._estimate is not None:  # an estimate in progress: its next step
            next(self._estimate, None)
        self._countdown -= 1
        if self._countdown == 0:
            self._countdown = self._period
            self._estimate = self._estimation(canceller)
            next(self._estimate, None)
        frames, line = self._frames, self._line
        row = self._row
        self._row = (row + 1) % frames.shape[1]
        self._filled = min(frames.shape[1], self._filled + 1)
        if type(line) is DelayLine:  # the integer line: recording and delaying in one compiled call
            delayed = np.empty(len(ref))
            line._write = record_and_delay(
                frames, row, mic, ref, line._buffer, line._write, line._capacity, line.delay, delayed
            )
            return delayed
        record_frame(frames, row, mic, ref)
        return line.process(ref)

    def recent(self, samples: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The recorded history, oldest sample first: mic and (undelayed) reference, shape (T,) each,
        ``T`` up to ``history`` seconds; with ``samples``, only the whole frames that hold the last
        ``samples`` (copying only those)."""
        n_rows, size = self._frames.shape[1], self._frames.shape[2]
        rows = self._filled if samples is None else min(self._filled, -(-samples // size))
        oldest_first = self._frames[:, (self._row - rows + np.arange(rows)) % n_rows]
        mic, ref = oldest_first.reshape(2, -1)
        return mic, ref

    def _estimation(self, canceller) -> Iterator[None]:
        """One delay estimate, spread over three frames (one long FFT each), so that no single
        frame pays for all three (a real-time callback must fit in its frame)."""
        mic, ref = self.recent()
        with np.errstate(over="ignore", invalid="ignore"):  # hostile input: no estimate, not a warning
            silent = not np.dot(ref, ref) >= len(ref) * canceller._levels[1] * 10.0 ** (-SILENT_DB / 10)
        if silent:  # far end silent (or a non-finite energy)
            self._estimate = None
            return
        self._searched += self._period
        max_lag = min(self.max_lag, len(ref) - 1)
        n_fft = gcc_size(len(ref), max_lag)
        # hostile input overflows here: no estimate, not a warning
        with np.errstate(over="ignore", invalid="ignore"):
            cross = fft.rfft(mic, n_fft)
        yield
        with np.errstate(over="ignore", invalid="ignore"):
            cross *= np.conj(fft.rfft(ref, n_fft))
        yield
        with np.errstate(over="ignore", invalid="ignore"):
            lag, confidence = phat_peak(cross, max_lag, n_fft)
        self._estimate = None
        self._decide(lag, confidence, canceller)

    def _decide(self, lag: int, confidence: float, canceller) -> None:
        """Act on one estimate (see the class notes)."""
        if not confidence >= CONFIDENCE:  # lock lost (or NaN from hostile input): search again at the short period
            self._candidate = None
            self._period = self._search_period
            if not self.locked and not self._warned and self._searched >= self._warn_after:
                self._warned = True
                warnings.warn(
                    f"no reliable echo delay found in {self._searched * self._frame_seconds:.0f} s of far-end "
                    f"signal (GCC-PHAT peak {confidence:.1f} < {CONFIDENCE:g}, searched up to "
                    f"{self.max_lag / self._rate:g} s): the delay stays at {self.delay} samples. Is REF what "
                    "the loudspeaker plays, and is the delay within the search range?",
                    DelayWarning,
                    stacklevel=2,
                )
            return
        self.locked = True
        agreed = self._candidate is not None and abs(lag - self._candidate) <= TOLERANCE_SAMPLES
        self._candidate = lag
        # once two estimates agree, re-check less often (each check costs three long FFTs)
        self._period = self._locked_period if agreed else self._search_period
        target = max(0, lag - self.margin)
        if agreed and abs(target - self._line.delay) > self.tolerance:
            canceller._shift_filter(target - self._line.delay)
            self._line.delay = target
