r"""Band split above 16 kHz: the canceller adapts on 0-8 kHz, the band above is suppressed.

An adaptive filter's cost grows with the sample rate twice over: more taps for
the same echo path in milliseconds, and more samples per second to filter.
At 48 kHz a full-band PFDKF costs 2.3 times its 16 kHz cost (10 ms frames). WebRTC
AEC3 avoids that by splitting the band and adapting only on the lowest
16 kHz-rate band; echoless does the same:

1. **Analysis.** Microphone ``y`` and reference ``s`` are low-passed by one
   linear-phase FIR ``h`` (:func:`split_filter`: Kaiser window, pass band up
   to :data:`PASSBAND` of the low band's Nyquist frequency, stop band from
   it, :data:`ATTENUATION_DB` down) and decimated by
   :math:`D = \lceil f_s / 16\,\mathrm{kHz} \rceil` (2 at 32 kHz, 3 at
   44.1 and 48 kHz). The low band runs at :math:`f_s / D`: 16 kHz, or
   14.7 kHz at 44.1 kHz, which needs no rational resampler.
2. **Low band.** The ordinary canceller (PFDKF with delay search and
   suppressor by default) runs at :math:`f_s / D` with frames of
   ``frame_size / D`` samples and the same echo path in milliseconds.
3. **Synthesis.** Its output :math:`\hat n_L` and the decimated microphone
   :math:`y_L` (delayed by the canceller's own latency) are zero-stuffed and
   filtered by :math:`D h` (interpolation, :math:`I`). The upper band is what
   the low band's round trip leaves of the microphone,

   .. math:: y_H[n] = y[n - \tau] - I(y_L)[n], \qquad
             \text{out}[n] = I(\hat n_L)[n] + g[n]\, y_H[n],

   with :math:`\tau` the latency below. With the canceller replaced by the
   identity and :math:`g = 1`, ``out`` is exactly ``y`` delayed by
   :math:`\tau`, whatever the filter (perfect reconstruction by
   construction; aliasing of the decimation cancels between the two terms).
4. **Upper band.** No filter adapts there. As in AEC3, its gain follows the
   low band's: the power that the canceller left in the top of the low band
   (:data:`GAIN_BAND`, 4-7 kHz at a 16 kHz low band, read off the spectrum
   that the synthesis computes anyway) over the microphone's power there, both smoothed over
   :data:`GAIN_SECONDS`, gives :math:`g = \max(g_{\min}, \sqrt{\min(1,
   P_{\hat n} / P_y)})` with :math:`g_{\min}` at :data:`UPPER_FLOOR_DB`,
   ramped linearly across each frame (no steps). A ratio, so the output
   scales with the input. Far-end single talk: :math:`g` falls to the floor
   and the echo above 8 kHz is suppressed, not cancelled. Near end alone:
   :math:`g = 1`, the near end keeps its full band. Double talk: the upper
   band of the near end is attenuated with the echo, by about the low band's
   share of residual power (the trade-off AEC3 also makes).

Both filters run by overlap-save, compiled with the canceller's kernels, on
complex FFTs that carry two real signals (microphone and reference, or the
two signals to interpolate, as real and imaginary parts; ``h`` is real).
Decimation folds the filtered spectrum ``D`` times before a short inverse
FFT, and zero-stuffing repeats a short FFT ``D`` times: per frame one FFT of
the overlap-save length ``M`` each way and two of ``M / D``.

Latency: :math:`\tau = 2d + D\,L` samples at :math:`f_s`, with
:math:`d = (\text{len}(h) - 1)/2` the group delay of each filter and
:math:`L` the low-band canceller's own latency (one low-band frame with the
suppressor). At 48 kHz with 10 ms frames: ``len(h) = 143``, :math:`2d` =
142 samples (3.0 ms) on top of the suppressor's 10 ms: 622 samples, 13.0 ms
(32 kHz: 2 x 47 + 2 x 160 = 414, 12.9 ms; 44.1 kHz: 142 + 3 x 147 = 583, 13.2 ms).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import signal

from echoless._frames import all_finite, check_frame
from echoless._jit import kernel
from echoless._validation import check_positive_int
from echoless.aec.base import NUMERICAL_FLOOR

#: Highest rate at which a canceller adapts; faster signals are split (AEC3 splits above 16 kHz too).
LOW_BAND_RATE = 16000
#: Pass-band edge of the split filter, a share of the low band's Nyquist frequency (7 of 8 kHz).
PASSBAND = 0.875
#: Stop-band attenuation of the split filter, dB. The aliasing of the decimation is this far down; with
#: the canceller as identity it cancels exactly (see the module notes), and what the canceller leaves of
#: it lies 20 dB below the upper band's -30 dB floor. (60 dB: 34 more taps, 0.7 ms more latency.)
ATTENUATION_DB = 50.0
#: Lowest gain of the upper band, dB (as deep as the suppressor's floor).
UPPER_FLOOR_DB = -30.0
#: Smoothing time of the band powers that set the upper-band gain, seconds.
GAIN_SECONDS = 0.02
#: Band of the low band whose residual sets the upper-band gain, shares of its Nyquist frequency.
GAIN_BAND = (0.5, PASSBAND)
#: Frame duration used when no ``frame_size`` is given, seconds.
FRAME_SECONDS = 0.01


def split_factor(sample_rate: int) -> int:
    """Decimation factor :math:`D = \\lceil f_s / 16000 \\rceil` of the low band (1: no split)."""
    return max(1, math.ceil(sample_rate / LOW_BAND_RATE))


def default_frame_size(sample_rate: int) -> int:
    """10 ms of samples, rounded to a multiple of :func:`split_factor` (80 at 8 kHz, 441 at 44.1 kHz)."""
    factor = split_factor(sample_rate) if sample_rate > LOW_BAND_RATE else 1
    return factor * max(1, round(FRAME_SECONDS * sample_rate / factor))


def split_filter(sample_rate: int) -> tuple[int, np.ndarray]:
    """The decimation factor and the low-pass FIR of the band split at ``sample_rate``.

    A Kaiser-window design (``scipy.signal.kaiserord`` and ``firwin``): pass
    band up to :data:`PASSBAND` of the low band's Nyquist frequency, stop
    band from that Nyquist frequency on, :data:`ATTENUATION_DB` down; an odd
    length, so that its group delay is a whole number of samples.

    Returns
    -------
    factor : int
    taps : numpy.ndarray, shape (N,), N odd, unit DC gain
    """
    factor = split_factor(sample_rate)
    nyquist = sample_rate / factor / 2.0
    width = (1.0 - PASSBAND) * nyquist
    n_taps, beta = signal.kaiserord(ATTENUATION_DB, width / (sample_rate / 2.0))
    n_taps |= 1
    cutoff = nyquist - width / 2.0
    return factor, signal.firwin(n_taps, cutoff, window=("kaiser", beta), fs=sample_rate)


def _smooth_length(minimum: int, factor: int) -> int:
    """The least ``n >= minimum`` with ``n * factor`` of the form 2^a 3^b."""
    n = minimum
    while True:
        rest = n * factor
        for prime in (2, 3):
            while rest % prime == 0:
                rest //= prime
        if rest == 1:
            return n
        n += 1


class BandSplitCanceller:
    """A streaming canceller that adapts on the low band only (see the module notes).

    Parameters
    ----------
    canceller_class : type
        Class of the low-band canceller (:class:`~echoless.aec.pfdkf.PFDKF`, ...).
    sample_rate : int
        Sampling rate in Hz, above 16000, a multiple of :func:`split_factor`.
    frame_size : int, optional
        Samples per call at ``sample_rate``, a multiple of :func:`split_factor`
        (default 10 ms, :func:`default_frame_size`).
    filter_length : int, optional
        Echo-path length in taps at ``sample_rate`` (the low band gets
        ``ceil(filter_length / D)``); or give ``filter_ms``.
    delay : int or "auto"
        Bulk delay in samples at ``sample_rate`` (rounded to the low band), or
        ``"auto"`` (default) for the low band's own search.
    **options
        Every other option of ``canceller_class`` (``filter_ms``,
        ``postfilter``, ``highpass_hz``, ...), passed to the low band.

    Attributes
    ----------
    low_band : echoless.aec.base.StreamingCanceller
        The canceller of the low band, at ``sample_rate / factor``.
    factor : int
        Decimation factor :math:`D`.
    taps : numpy.ndarray
        The split filter ``h``.

    Raises
    ------
    ValueError
        If the rate needs no split, is not a multiple of the factor, or
        ``frame_size`` is not a multiple of it; if ``initial_filter`` is
        given (it would be a full-band filter).

    Examples
    --------
    >>> import numpy as np
    >>> from echoless.aec import PFDKF
    >>> canceller = BandSplitCanceller(PFDKF, 48000)
    >>> canceller.frame_size, canceller.low_band.sample_rate, canceller.low_band.frame_size
    (480, 16000, 160)
    >>> canceller.process(np.zeros(480), np.zeros(480)).shape
    (480,)
    """

    def __init__(
        self,
        canceller_class: type,
        sample_rate: int,
        frame_size: int | None = None,
        filter_length: int | None = None,
        *,
        delay: int | str = "auto",
        **options,
    ) -> None:
        self.sample_rate = check_positive_int(sample_rate, "sample_rate")
        if self.sample_rate <= LOW_BAND_RATE:
            raise ValueError(f"band_split needs a rate above {LOW_BAND_RATE} Hz, got sample_rate={sample_rate}")
        self.factor, self.taps = split_filter(self.sample_rate)
        factor = self.factor
        if self.sample_rate % factor:
            raise ValueError(
                f"sample_rate={sample_rate} is not a multiple of the band split's factor {factor}: "
                f"resample, or use band_split=False"
            )
        self.frame_size = default_frame_size(self.sample_rate) if frame_size is None else check_positive_int(
            frame_size, "frame_size"
        )
        if self.frame_size % factor:
            raise ValueError(
                f"frame_size={self.frame_size} must be a multiple of {factor} at {sample_rate} Hz for the band split "
                f"(10 ms is {default_frame_size(self.sample_rate)}), or use band_split=False"
            )
        if options.get("initial_filter") is not None:
            raise ValueError("initial_filter is a full-band filter: give it with band_split=False")
        if filter_length is not None:
            filter_length = -(-check_positive_int(filter_length, "filter_length") // factor)
        if isinstance(delay, (int, np.integer)) and not isinstance(delay, bool):
            delay = round(delay / factor)
        self.low_band = canceller_class(
            sample_rate=self.sample_rate // factor,
            frame_size=self.frame_size // factor,
            filter_length=filter_length,
            delay=delay,
            **options,
        )
        half = (len(self.taps) - 1) // 2
        #: samples by which the output lags the input (see the module notes)
        self.latency = 2 * half + factor * self.low_band.latency
        size = self.frame_size
        # overlap-save length: a multiple of the factor, so that decimation and zero-stuffing are
        # folds and tilings of the spectrum, and 2^a 3^b (measured faster than lengths with 5 or 7)
        low_fft = _smooth_length(-(-(size + len(self.taps) - 1) // factor), factor)
        self._taps_spectrum = np.fft.fft(self.taps, low_fft * factor)
        self._split_buffer = np.zeros(low_fft * factor, dtype=np.complex128)
        self._merge_buffer = np.zeros(low_fft, dtype=np.complex128)
        self._mic_line = np.zeros(self.latency + size)
        self._low_mic_line = np.zeros(self.low_band.latency + size // factor)
        self._gain_settings = (
            math.exp(-size / (GAIN_SECONDS * self.sample_rate)),
            10.0 ** (UPPER_FLOOR_DB / 20.0),
            float(round(GAIN_BAND[0] * low_fft / 2)),
            float(round(GAIN_BAND[1] * low_fft / 2) + 1),
        )
        self._own_resets = 0
        self._clear()

    def process(self, mic_frame, ref_frame) -> np.ndarray:
        """Cancel the echo in one frame: ``frame_size`` samples in, ``frame_size`` out, ``latency`` late.

        Parameters
        ----------
        mic_frame, ref_frame : array_like, shape (frame_size,)
            Microphone and far-end reference samples, finite.

        Returns
        -------
        numpy.ndarray, shape (frame_size,), float64
            The near-end estimate, :attr:`latency` samples late. Always finite.
        """
        mic = check_frame(mic_frame, self.frame_size, "mic_frame")
        ref = check_frame(ref_frame, self.frame_size, "ref_frame")
        low_mic, low_ref = np.empty(self.low_band.frame_size), np.empty(self.low_band.frame_size)
        split_frame(mic, ref, self._taps_spectrum, self._split_buffer, low_mic, low_ref)
        low_out = self.low_band.process(low_mic, low_ref)
        out = np.empty(self.frame_size)
        if merge_frame(
            low_out, low_mic, mic, self._taps_spectrum, self._merge_buffer, self._mic_line, self._low_mic_line,
            self._gain_state, out,
        ):  # fmt: skip
            return out
        # only inputs near the float64 limit overflow the filter bank: start it again, and pass
        # the microphone through, as the base class does after a safety reset
        self._clear()
        self._own_resets += 1
        return mic.copy()

    def reset(self) -> None:
        """Forget everything (low-band canceller, filter-bank history, upper-band gain)."""
        self.low_band.reset()
        self._clear()
        self._own_resets = 0

    @property
    def adapt(self) -> bool:
        """Whether the low-band filter adapts (settable, as on every canceller)."""
        return self.low_band.adapt

    @adapt.setter
    def adapt(self, value: bool) -> None:
        self.low_band.adapt = bool(value)

    @property
    def n_resets(self) -> int:
        """Safety resets of the low-band canceller and of the filter bank."""
        return self.low_band.n_resets + self._own_resets

    @property
    def n_frames(self) -> int:
        """Frames processed since construction or the last :meth:`reset`."""
        return self.low_band.n_frames

    @property
    def filter_length(self) -> int:
        """Echo-path length modelled, in samples at ``sample_rate``."""
        return self.low_band.filter_length * self.factor

    @property
    def delay(self) -> int:
        """Bulk delay applied to the reference, in samples at ``sample_rate``."""
        return self.low_band.delay * self.factor

    @property
    def clock_drift_ppm(self) -> float | None:
        """The low-band canceller's clock-drift estimate (the same in ppm at any rate), or None."""
        return self.low_band.clock_drift_ppm

    def _clear(self) -> None:
        self._split_buffer[:] = 0.0
        self._merge_buffer[:] = 0.0
        self._mic_line[:] = 0.0
        self._low_mic_line[:] = 0.0
        # smoothed band powers (output, mic), last gain, then the constant settings
        self._gain_state = np.array([0.0, 0.0, 1.0, *self._gain_settings])


@kernel
def split_frame(mic, ref, taps_spectrum, buffer, low_mic, low_ref):  # pragma: no cover - compiled
    """Low-pass ``mic`` and ``ref`` (F,) by overlap-save and keep every ``D``-th sample, from the frame's
    first, in ``low_mic`` and ``low_ref`` (F / D,). ``buffer`` (M,) holds ``mic + j ref``; ``M / D``
    samples of the decimated output are the inverse FFT of the spectrum folded ``D`` times."""
    size = mic.shape[0]
    factor = size // low_mic.shape[0]
    start = buffer.shape[0] - size
    buffer[:start] = buffer[size:]
    for i in range(size):
        buffer[start + i] = mic[i] + 1j * ref[i]
    spectrum = np.fft.fft(buffer)
    spectrum *= taps_spectrum
    low_fft = buffer.shape[0] // factor
    folded = spectrum[:low_fft].copy()
    for j in range(1, factor):
        folded += spectrum[j * low_fft : (j + 1) * low_fft]
    decimated = np.fft.ifft(folded)
    low_start = start // factor
    for m in range(low_mic.shape[0]):
        low_mic[m] = decimated[low_start + m].real / factor
        low_ref[m] = decimated[low_start + m].imag / factor


@kernel
def merge_frame(
    low_out, low_mic, mic, taps_spectrum, buffer, mic_line, low_mic_line, state, out
):  # pragma: no cover - compiled
    """The synthesis of one frame into ``out`` (F,) (see the module notes); True if it is finite.

    ``low_out`` is the low-band canceller's output, ``low_mic`` the decimated
    microphone of this frame (delayed here by ``low_mic_line`` to match
    ``low_out``), ``mic`` the full-band microphone (delayed by ``mic_line``).
    ``buffer`` (M / D,) holds ``D (low_out + j low_mic)``: the spectrum of
    the zero-stuffed signals is its FFT repeated ``D`` times. ``state``: the
    smoothed band powers of output and microphone, the last upper-band gain,
    then the smoothing factor, the floor and the band's first and last + 1 bins.
    """
    size = mic.shape[0]
    low_size = low_out.shape[0]
    factor = size // low_size
    low_mic_line[:-low_size] = low_mic_line[low_size:]
    low_mic_line[-low_size:] = low_mic
    mic_line[:-size] = mic_line[size:]
    mic_line[-size:] = mic
    low_fft = buffer.shape[0]
    low_start = low_fft - low_size
    buffer[:low_start] = buffer[low_size:]
    for m in range(low_size):
        buffer[low_start + m] = factor * (low_out[m] + 1j * low_mic_line[m])
    low_spectrum = np.fft.fft(buffer)
    # upper-band gain from the residual share in the top of the low band; the two spectra
    # separate by symmetry: A = (Z[k] + Z*[-k]) / 2 (output), B = (Z[k] - Z*[-k]) / 2j (mic)
    out_power = 0.0
    mic_power = 0.0
    for k in range(int(state[5]), int(state[6])):
        z, mirror = low_spectrum[k], np.conj(low_spectrum[(low_fft - k) % low_fft])
        a, b = z + mirror, z - mirror
        out_power += a.real**2 + a.imag**2
        mic_power += b.real**2 + b.imag**2
    smoothing, floor = state[3], state[4]
    if np.isfinite(out_power) and np.isfinite(mic_power):  # else (overflow) the last gain stays
        state[0] = smoothing * state[0] + (1.0 - smoothing) * out_power
        state[1] = smoothing * state[1] + (1.0 - smoothing) * mic_power
    gain = max(floor, np.sqrt(min(1.0, (state[0] + NUMERICAL_FLOOR) / (state[1] + NUMERICAL_FLOOR))))
    # interpolate the output and the delayed microphone of the low band in one complex FFT
    spectrum = np.empty(low_fft * factor, dtype=np.complex128)
    for j in range(factor):
        spectrum[j * low_fft : (j + 1) * low_fft] = low_spectrum
    spectrum *= taps_spectrum
    interpolated = np.fft.ifft(spectrum)
    start = spectrum.shape[0] - size
    last = state[2]
    for i in range(size):
        ramp = last + (gain - last) * (i + 1) / size
        both = interpolated[start + i]
        out[i] = both.real + ramp * (mic_line[i] - both.imag)
    state[2] = gain
    return all_finite(out)
