r"""Clock drift between loudspeaker and microphone: estimated, and compensated on the reference.

Two sound cards never share a clock. If the microphone's runs a fraction
:math:`\varepsilon` faster than the loudspeaker's (tens of ppm is common),
the echo's delay behind the reference grows by :math:`\varepsilon` samples
per sample, :math:`L(t) = L_0 + \varepsilon t`: 100 ppm moves it 96 samples
a minute at 16 kHz, and an adaptive filter that chases a moving path never
settles (PFDKF's ERLE over the last 10 s of a minute falls from 64 to 17 dB,
``benchmarks/bench_drift.py``).

**Estimate.** Every :data:`HOP_SECONDS`, the lag of the last
:data:`WINDOW_SECONDS` of microphone behind the undelayed reference is
measured by GCC-PHAT (:mod:`echoless.aec.delay`) within
:data:`SEARCH_SECONDS` of where the delay line expects it, then refined
below a sample by Newton's method on the band-limited GCC function

.. math:: r(\tau) = \sum_k w_k\, \mathrm{Re}\big(C_k\, e^{j\omega_k\tau}\big),

where :math:`C_k` is the whitened cross-spectrum and :math:`w_k` counts the
bin's mirror image (the sinc-interpolated peak, not a parabola: a
parabola's bias changes with the fractional part, which drift sweeps). The
drift is the least-squares slope of those lags over the last
:data:`FIT_SECONDS`; a lag more than :data:`JUMP_SAMPLES` off the fitted line
is an outlier, and three in a row (the echo path moved) restart the fit.

Resampling the reference to the microphone's clock is the classic remedy
(e.g. Pawig, Enzner & Vary, "Adaptive sampling rate correction for acoustic
echo control in voice-over-IP", IEEE Trans. Signal Processing, 2010); the
estimator here is the simplest one that the delay search already makes
possible.

**Compensate.** :class:`DriftingDelayLine` replaces the delay tracker's
integer delay line: it delays the reference by ``delay + fraction``, which
changes by the estimated slope at every sample, reading between samples
with the Kaiser-windowed sinc of :mod:`echoless.aec.fractional`. When the
fraction crosses a whole sample the integer delay takes it, in the same
buffer, so the reference stays continuous; and the delay tracker, which
compares its GCC-PHAT lag with that integer delay, sees the line follow the
echo (its tolerance is widened to :data:`SEARCH_SECONDS` while the line
moves) and never shifts the filter for drift. Below :data:`DEADBAND_PPM` the
line stays an exact integer delay, so that drift-free input is processed
exactly as without compensation.

.. warning:: Reading between samples needs :data:`~echoless.aec.fractional.HALF_WIDTH`
   (16) samples of delay, so the reference is resampled only while the echo
   arrives at least 32 samples (2 ms at 16 kHz) after it: the line takes the
   16 samples from the filter's leading taps when the tracker left it less.
   A slow microphone clock makes the echo come earlier and earlier; once it
   is 16 samples behind the reference the line stops there and the filter
   is left to follow on its own.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import fft

from echoless._jit import kernel
from echoless.aec.delay import (
    CONFIDENCE,
    MAX_DELAY_SECONDS,
    SILENT_DB,
    TOLERANCE_SAMPLES,
    DelayTracker,
    gcc_size,
    phat_peak,
)
from echoless.aec.fractional import HALF_WIDTH, table, weigh

#: Length of the microphone window of each lag measurement, seconds.
WINDOW_SECONDS = 1.0
#: Time between lag measurements, seconds.
HOP_SECONDS = 1.0
#: Lags searched on either side of the expected one, seconds (4 ms: 3 ms of slope error over 30 s at 100 ppm).
SEARCH_SECONDS = 0.004
#: The drift is the slope of the lags measured over this many seconds.
FIT_SECONDS = 20.0
#: No estimate before the lags span this many seconds.
MIN_SPAN_SECONDS = 4.0
#: A lag this many samples off the fitted line is an outlier (three in a row restart the fit).
JUMP_SAMPLES = 2.0
#: Drift below this many ppm is left to the filter (the reference is then not resampled).
DEADBAND_PPM = 3.0
#: Drift beyond this many ppm is not compensated: that is a wrong sample rate, not two clocks.
MAX_PPM = 1000.0


class DriftingDelayLine:
    """Delays a stream of frames by ``delay + fraction`` samples, changing by ``rate`` every sample.

    It stands in for the delay tracker's :class:`~echoless.aec.delay.DelayLine`
    (same ``delay`` attribute and ``process``), and is exactly that integer
    delay line while ``rate`` and ``fraction`` are zero.

    Parameters
    ----------
    max_delay : int
        Largest delay, samples.
    frame_size : int
        Samples per frame.

    Attributes
    ----------
    delay : int
        Whole samples of delay (the delay tracker sets it).
    fraction : float
        Extra fractional delay in [0, 1).
    rate : float
        Change of the delay per sample: the clock drift (1e-4 for 100 ppm).
    """

    def __init__(self, max_delay: int, frame_size: int) -> None:
        self.max_delay = int(max_delay)
        self.frame_size = int(frame_size)
        # a ring with room for the longest delay, its drift over a frame and the kernel, written
        # twice (at i and i + capacity), so that the last ``capacity`` samples are always one
        # contiguous slice: no shift of the whole history each frame
        self._capacity = self.max_delay + 2 * self.frame_size + 2 * HALF_WIDTH + 2
        self._history = np.zeros(2 * self._capacity)
        self._write = 0
        self.delay = 0
        self.fraction = 0.0
        self.rate = 0.0
        self._steps = np.arange(self.frame_size, dtype=np.float64)
        self._kernels = table()

    def process(self, frame: np.ndarray) -> np.ndarray:
        """Store ``frame`` (frame_size,), return the delayed frame (a new array)."""
        out = np.empty(self.frame_size)
        self._write, self.delay, self.fraction = drifting_frame(
            self._history, self._capacity, self._write, frame, int(self.delay), self.fraction, self.rate,
            self.max_delay, self._steps, self._kernels, out,
        )  # fmt: skip
        return out


@kernel
def drifting_frame(
    history, capacity, write, frame, delay, fraction, rate, max_delay, steps, kernels, out
):  # pragma: no cover - compiled
    """One :meth:`DriftingDelayLine.process` step into ``out``; returns the new write position,
    delay and fraction. The positions read are in range by construction (the ring holds the
    longest delay, a frame's drift and the kernel), which is why the compiled read needs no check."""
    n = frame.shape[0]
    write = push_mirrored(history, capacity, write, frame)
    end = write + capacity  # one past the newest sample, in the second copy
    delay = min(max(delay, 0), max_delay)
    # the interpolation reads HALF_WIDTH samples on either side of every delay of the frame
    shortest = delay + fraction + min(rate, 0.0) * (n - 1)
    if shortest < HALF_WIDTH or (fraction == 0.0 and rate == 0.0):
        out[:] = history[end - n - delay : end - delay]
    else:
        weigh(history, end - n - delay - fraction + steps * (1.0 - rate), kernels, out)
    total = min(max(delay + fraction + rate * n, 0.0), float(max_delay))
    whole = math.floor(total)
    return write, whole, total - whole


@kernel
def push_mirrored(buffer, capacity, write, frame):  # pragma: no cover - compiled
    """Write ``frame`` at ``write`` (mod ``capacity``) into both halves of ``buffer`` (2 capacity,);
    return the next write position."""
    for i in range(frame.shape[0]):
        j = (write + i) % capacity
        buffer[j] = frame[i]
        buffer[j + capacity] = frame[i]
    return (write + frame.shape[0]) % capacity


class DriftEstimator:
    """Measures the echo's lag once a second and fits its slope (see the module notes).

    Parameters
    ----------
    sample_rate, frame_size : int
    tracker : echoless.aec.delay.DelayTracker
        The delay tracker whose recorded signals are measured, and whose
        ``tolerance`` is widened while the drift is compensated.
    line : DriftingDelayLine
        The tracker's line, to steer: its ``rate`` is set to each new
        estimate (zero inside :data:`DEADBAND_PPM`).

    Attributes
    ----------
    slope : float or None
        Estimated drift, samples per sample (None until the lags span
        :data:`MIN_SPAN_SECONDS`).
    """

    def __init__(self, sample_rate: int, frame_size: int, tracker: DelayTracker, line: DriftingDelayLine) -> None:
        self._tracker = tracker
        self._line = line
        self._frame_size = frame_size
        self._window = round(WINDOW_SECONDS * sample_rate)
        self._search = max(1, round(SEARCH_SECONDS * sample_rate))
        self._n_fft = gcc_size(self._window, self._search)
        self._omega = 2.0 * np.pi * np.arange(self._n_fft // 2 + 1) / self._n_fft
        self._roots = np.exp(2j * np.pi * np.arange(self._n_fft) / self._n_fft)
        self._weight = np.full(len(self._omega), 2.0)
        self._weight[0] = 1.0
        if self._n_fft % 2 == 0:
            self._weight[-1] = 1.0
        self._fit_span = FIT_SECONDS * sample_rate
        self._min_span = MIN_SPAN_SECONDS * sample_rate
        self._period = max(1, round(HOP_SECONDS * sample_rate / frame_size))
        self._countdown = self._period
        self._frames = 0
        self._points: list[tuple[float, float]] = []  # (time, lag), samples
        self._outliers: list[tuple[float, float]] = []
        self._fit: tuple[float, float, float] | None = None  # slope, and the fitted lag at a time
        self.slope: float | None = None

    @property
    def ppm(self) -> float | None:
        """Estimated drift in parts per million (positive: the microphone's clock is fast), or None."""
        return None if self.slope is None else self.slope * 1e6

    def update(self, canceller) -> None:
        """Count one frame; every :data:`HOP_SECONDS` measure the lag, refit and steer the line.

        ``canceller`` is the :class:`~echoless.aec.base.StreamingCanceller`
        that owns the tracker: its far-end level sets silence
        (:data:`~echoless.aec.delay.SILENT_DB` below).
        """
        self._frames += 1
        self._countdown -= 1
        if self._countdown > 0:
            return
        self._countdown = self._period
        tracker = self._tracker
        if not tracker.locked:
            return
        line = self._line
        guess = round(line.delay + line.fraction) + tracker.margin
        mic, ref = tracker.recent(self._window + guess)
        end = len(ref) - guess
        if end - self._window < 0:
            return
        ref = ref[end - self._window : end]
        with np.errstate(over="ignore", invalid="ignore"):  # hostile input: no estimate, not a warning
            # (not np.dot: a multithreaded BLAS call can take milliseconds on a busy machine)
            if not np.mean(ref * ref) >= canceller._levels[1] * 10.0 ** (-SILENT_DB / 10):
                return
            cross = fft.rfft(mic[-self._window :], self._n_fft) * np.conj(fft.rfft(ref, self._n_fft))
            lag, confidence = phat_peak(cross, self._search, self._n_fft)
            if not confidence >= CONFIDENCE:  # also NaN
                return
            lag = guess + self._refine(cross, lag)
        if math.isfinite(lag):
            was_still = self._line.rate == 0.0
            self._add((self._frames * self._frame_size - self._window / 2, lag))
            if was_still and self._line.rate != 0.0:
                self._engage(canceller)

    def _engage(self, canceller) -> None:
        """The line starts to follow the drift: make room for its interpolation, restart the step control.

        Reading between samples needs ``HALF_WIDTH`` samples of delay. When
        the delay tracker left less (an echo under 6 ms), the reference is
        delayed by the difference and the filter moved as many taps earlier,
        as long as that keeps ``HALF_WIDTH`` taps before the echo's onset.
        Then, the echo path no longer moving, the step control (Kalman
        covariance) may learn it as fast as at the start instead of at the
        pace it settled to while chasing it.
        """
        line = self._line
        missing = HALF_WIDTH - line.delay
        onset = self._predict(self._frames * self._frame_size) - line.delay - line.fraction
        if missing > 0 and onset - missing >= HALF_WIDTH:
            canceller._shift_filter(missing)
            line.delay += missing
        canceller._restart_adaptation()

    def _refine(self, whitened: np.ndarray, lag: int) -> float:
        """The maximum of the band-limited GCC function near the integer peak ``lag`` (Newton steps)."""
        omega, weight = self._omega, self._weight
        tau = float(lag)
        # the phases exp(j omega_k tau): at the integer lag, roots of unity (a look-up); off it, that
        # times z**k with z = exp(j 2 pi delta / N), by a running product in compiled code (an exp
        # per bin and numpy temporaries were the costly part: 0.2 ms a measurement)
        at_lag = weight * whitened * self._roots[(np.arange(len(omega)) * lag) % self._n_fft]
        for _ in range(3):
            slope, curvature = gcc_derivatives(at_lag, omega, 2.0 * np.pi * (tau - lag) / self._n_fft)
            if not curvature < 0.0:  # not a maximum (or not finite): keep the integer peak
                return float(lag)
            tau += float(np.clip(-slope / curvature, -0.5, 0.5))
        return tau if abs(tau - lag) <= 1.0 else float(lag)

    def _add(self, point: tuple[float, float]) -> None:
        """Take one lag measurement: reject or keep it, and refit."""
        time, lag = point
        if self._points:
            expected = self._points[-1][1] if self._fit is None else self._predict(time)
            if abs(lag - expected) > JUMP_SAMPLES:
                self._outliers.append(point)
                if len(self._outliers) < 3:
                    return
                # three in a row: the echo path moved; start again from them
                self._points, self._fit, self.slope = self._outliers[:-1], None, None
                self._line.rate = 0.0
                self._tracker.tolerance = TOLERANCE_SAMPLES
            self._outliers = []
        self._points.append(point)
        self._points = [p for p in self._points if p[0] >= time - self._fit_span]
        times, lags = np.array(self._points).T
        if len(times) >= 2 and times[-1] > times[0]:
            # times from the newest: hours of samples would otherwise cost the fit its precision
            slope, lag_now = np.polyfit(times - time, lags, 1)
            self._fit = (float(slope), time, float(lag_now))
            if times[-1] - times[0] >= self._min_span:
                self.slope = float(slope)
                self._line.rate = self.slope if DEADBAND_PPM <= abs(self.slope) * 1e6 <= MAX_PPM else 0.0
                # while the line follows the echo, the tracker's integer lag (averaged over its
                # window as the echo drifts) must not pull it back by a few samples: each shift of
                # the filter costs a second of ERLE. It still moves the line for a larger change.
                self._tracker.tolerance = self._search if self._line.rate else TOLERANCE_SAMPLES

    def _predict(self, time: float) -> float:
        """The fitted lag at ``time`` (samples)."""
        slope, fitted_at, lag = self._fit
        return lag + slope * (time - fitted_at)


@kernel
def gcc_derivatives(weighted, omega, angle):  # pragma: no cover - compiled
    """First and second derivative of the band-limited GCC function at ``angle`` (radians per bin)
    past the integer lag whose weighted, rotated spectrum is ``weighted``:
    ``r'(tau) = -sum_k omega_k Im(W_k z^k)``, ``r''(tau) = -sum_k omega_k^2 Re(W_k z^k)``, ``z = exp(j angle)``."""
    z = np.cos(angle) + 1j * np.sin(angle)
    phase = 1.0 + 0.0j
    first = 0.0
    second = 0.0
    for k in range(weighted.shape[0]):
        value = weighted[k] * phase
        first -= omega[k] * value.imag
        second -= omega[k] * omega[k] * value.real
        phase *= z
    return first, second


def drift_tracker(sample_rate: int, frame_size: int) -> tuple[DelayTracker, DriftEstimator]:
    """A :class:`~echoless.aec.delay.DelayTracker` on a :class:`DriftingDelayLine`, and its estimator."""
    line = DriftingDelayLine(round(MAX_DELAY_SECONDS * sample_rate), frame_size)
    tracker = DelayTracker(sample_rate, frame_size, line=line)
    return tracker, DriftEstimator(sample_rate, frame_size, tracker, line)
