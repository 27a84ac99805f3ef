r"""Multichannel PFDKF: ``n_ref`` loudspeakers, ``n_mic`` microphones, one Kalman filter per path.

Microphone ``m`` hears every loudspeaker ``r`` through its own echo path
:math:`h_{mr}`. With the partitioned frequency-domain model of
:mod:`echoless.aec.pfdkf` the echo of one frame in bin ``k`` is

.. math:: \hat E_m(k) = \sum_r \sum_p W_{mrp}(k)\, X_{rp}(k) = \sum_p \mathbf w_{mp}^T(k)\, \mathbf x_p(k),

where :math:`\mathbf x_p(k) = [X_{1p}(k), \dots, X_{Rp}(k)]^T` stacks the
reference spectra. Two things follow.

Microphone arrays (one reference, many microphones)
    The reference spectra :math:`X_{rp}` (the frequency-domain delay line) do
    not depend on the microphone: they are computed once per frame and shared.
    Each microphone has its own weights, Kalman state, divergence watch and
    residual-echo suppressor; the bulk delay (GCC-PHAT on the first
    microphone and the mix of the references) is common to all paths, which
    holds for a device whose microphones are centimetres apart.

Stereo playback (several references, adapted jointly)
    The Kalman filter is the one of Enzner & Vary (2006) with the state
    :math:`\mathbf w_{mp}(k)` of all references of a bin (Malik & Enzner,
    "Recursive Bayesian control of multichannel acoustic echo cancellation",
    IEEE SPL 2011): per bin and partition a full :math:`R \times R` state-error
    covariance :math:`\boldsymbol\Phi_p(k)` (partitions and bins stay
    uncoupled, the diagonal approximation), and

    .. math:: D &= \sum_p \mathbf x_p^T \boldsymbol\Phi_p \mathbf x_p^* + \tfrac{M}{R}\Psi_s, \qquad
              \mathbf g_p = \boldsymbol\Phi_p \mathbf x_p^* \\
              \mathbf w_p &\leftarrow \mathbf w_p + \mathbf g_p\, E / D \\
              \boldsymbol\Phi_p &\leftarrow A^2\big(\boldsymbol\Phi_p - \tfrac12\, \mathbf g_p \mathbf g_p^H / D\big)
                + (1 - A^2)\,\mathrm{diag}(|W_{rp}|^2).

    With ``n_ref = 1`` this is exactly :class:`~echoless.aec.pfdkf.PFDKF`
    (the same compiled update is called).

The non-uniqueness problem
    Stereo playback of one talker recorded by two microphones in the far-end
    room gives references that are filtered versions of one source: their
    cross-spectral matrix :math:`E[\mathbf x \mathbf x^H]` is nearly singular
    and many filter pairs explain the echo equally well (Sondhi, Morgan & Hall
    1995; Benesty et al. 1998). A gradient filter then converges slowly along
    the weakly excited direction and wanders along the unexcited one. The
    full covariance handles both: the gain :math:`\boldsymbol\Phi\mathbf x^*/D`
    is a Newton step in the excited direction (it whitens the inputs, as the
    multichannel FDAF of Buchner, Benesty & Kellermann does with
    :math:`\mathbf S_{xx}^{-1}`, regularised here by :math:`\Psi_s` and the
    noise floor), and along a direction that is never excited the covariance
    only receives the process noise, so it stays bounded
    (:math:`\le \max|W|^2`) and the weights do not move there. The echo is
    cancelled whichever solution is reached; what is lost is only the
    misalignment, which shows when the far-end room changes (the filter must
    then re-converge, as for an echo-path change).

Mono content on several channels
    Identical (or merely scaled, panned) channels make the references exactly
    rank one. As WebRTC AEC3 does, the canceller then falls back to one path:
    it watches the :math:`R \times R` covariance of the reference frames,
    smoothed over :data:`MONO_SECONDS`, and while all but
    :data:`MONO_SPREAD_DB` of its energy lies in one direction it runs a
    single filter on the mix :math:`\bar x = \frac1R\sum_r x_r` (one path per
    microphone, half the work for stereo). Stereo returns, with
    :data:`MONO_HYSTERESIS_DB` of hysteresis, when the channels differ again.
    The switch keeps the echo estimate: mono to stereo sets
    :math:`W_r = W/R` (exact for any content) and gives the new, unknown
    difference directions the prior uncertainty; stereo to mono sets
    :math:`W = \sum_r W_r` and :math:`\Phi = \mathbf 1^T \boldsymbol\Phi
    \mathbf 1` (exact while the channels are identical).

Decorrelation
    The classic cure for non-uniqueness alters the playback (a half-wave
    rectifier nonlinearity, complementary comb filters, phase modulation) so
    that the channels become less coherent. echoless does not apply one by
    itself: the library never sees the playback before it is played, and
    changing what a listener hears is the application's decision. With the
    full-covariance update above, a stereo scene already cancels about as
    well as the same scene in mono (``tests/aec/test_multichannel.py``). An
    application that controls its playback and wants the true paths (fast
    recovery when the far-end room changes) can pass it through
    :func:`~echoless.aec.decorrelation.half_wave_decorrelate` and give the
    result to both the loudspeakers and the canceller: on a stereo scene
    the misalignment falls from -4.5 to -12.4 dB.

Cost
    Shared per frame: the ``R`` reference FFTs (``R + 1`` with a mono mix),
    the delay search, the level tracking. Per microphone: the prediction
    (``R P (B + 1)`` complex multiply-adds), one IFFT and one FFT, the Kalman
    update, the constraint FFTs of ``R`` paths, the input high-pass and the
    suppressor. ``benchmarks/bench_multichannel.py`` measures the cost of
    each extra microphone against the first.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from echoless._frames import all_finite
from echoless._jit import kernel
from echoless._validation import as_channels, as_signal, check_positive_int
from echoless.aec._partitioned import constrain_rows
from echoless.aec.base import NUMERICAL_FLOOR, watch_frame
from echoless.aec.pfdkf import PFDKF, kalman_update, observation_step
from echoless.conv.partitioned import push_window

#: Smoothing time of the reference covariance that decides mono or stereo, seconds.
MONO_SECONDS = 0.5
#: Mono when less than this share (dB) of the reference energy lies outside its main direction.
MONO_SPREAD_DB = 40.0
#: Stereo again only when the spread exceeds the mono threshold by this many dB.
MONO_HYSTERESIS_DB = 10.0


def check_frames(frame: Any, size: int, channels: int, name: str, channels_name: str) -> np.ndarray:
    """One multichannel streaming frame, shape (frame_size, channels), as a finite, contiguous
    ``(channels, frame_size)`` ``float64`` array (one row per channel, as the kernels read it), or raise."""
    array = frame if isinstance(frame, np.ndarray) and frame.dtype == np.float64 else np.asarray(frame)
    if array.ndim == 2 and array.dtype != np.float64:
        array = as_channels(array, name)  # named TypeError for non-numeric frames
    if array.shape != (size, channels):
        raise ValueError(
            f"{name} must have shape (frame_size, {channels_name}) = ({size}, {channels}), got {np.shape(array)}"
        )
    rows = np.ascontiguousarray(array.T)
    if not all_finite(rows.reshape(-1)):
        as_signal(rows.reshape(-1), name)  # raises, naming the NaN/Inf count
    return rows


class MultichannelPFDKF(PFDKF):
    """Partitioned-block frequency-domain Kalman filter for ``n_ref`` references and ``n_mic`` microphones.

    Parameters
    ----------
    sample_rate, frame_size, filter_length, filter_ms
        See :class:`~echoless.aec.base.StreamingCanceller`; every path has
        ``filter_length`` taps.
    n_ref : int
        Reference (loudspeaker) channels ``R``, default 1.
    n_mic : int
        Microphone channels ``M``, default 1.
    detect_mono : bool
        With ``R > 1``, fall back to one path per microphone while the
        references carry mono content (see the module notes). Default True.
    transition, initial_uncertainty, noise_smoothing, constraint
        As for :class:`~echoless.aec.pfdkf.PFDKF`.
    **options
        ``delay`` (one delay common to all paths, estimated on the first
        microphone and the reference mix), ``postfilter`` (one suppressor
        per microphone), ``low_cut_hz``, ``highpass_hz`` (on every channel), ``adapt``,
        ``divergence_ratio`` (watched per microphone): as for
        :class:`~echoless.aec.base.StreamingCanceller`. ``initial_filter``
        is not supported.

    Attributes
    ----------
    mono : bool
        True while the references are treated as one (mono) channel.
    n_resets : int
        Safety resets so far, over all microphones.

    Raises
    ------
    ValueError, TypeError
        For invalid options, as :class:`~echoless.aec.pfdkf.PFDKF`.

    Examples
    --------
    >>> import numpy as np
    >>> canceller = MultichannelPFDKF(sample_rate=16000, frame_size=160, n_ref=2, n_mic=4)
    >>> canceller.process(np.zeros((160, 4)), np.zeros((160, 2))).shape
    (160, 4)
    """

    def __init__(
        self,
        sample_rate: int = 16000,
        frame_size: int = 160,
        filter_length: int | None = None,
        filter_ms: float | None = None,
        *,
        n_ref: int = 1,
        n_mic: int = 1,
        detect_mono: bool = True,
        **options,
    ) -> None:
        if "initial_filter" in options:
            raise TypeError("initial_filter is not an option of MultichannelPFDKF")
        self.n_ref = check_positive_int(n_ref, "n_ref")
        self.n_mic = check_positive_int(n_mic, "n_mic")
        self.detect_mono = bool(detect_mono) and self.n_ref > 1
        super().__init__(sample_rate, frame_size, filter_length, filter_ms, **options)
        # the base class built one high-pass pair and one suppressor: one per channel instead
        from echoless.aec.highpass import HighPass, HighPassUndo

        self._channel_highpass = (
            [HighPass(self.sample_rate, self.highpass_hz) for _ in range(self.n_ref + self.n_mic)]
            if self.highpass_hz > 0
            else []
        )
        if self._postfilter is not None:
            from echoless.aec.postfilter import ResidualEchoSuppressor

            strength, low_cut_hz = self._postfilter.strength, self._postfilter.low_cut_hz
            # one comfort-noise seed per microphone: the same seed would give every microphone the
            # same noise (correlation 1.00 between microphones, where the room's noise has about 0)
            self._postfilter = [
                ResidualEchoSuppressor(
                    self.frame_size, strength, sample_rate=self.sample_rate, seed=m, low_cut_hz=low_cut_hz
                )
                for m in range(self.n_mic)
            ]
        # as in the base class: output and echo estimate of each microphone
        self._undo = HighPassUndo(self.sample_rate, self.highpass_hz, 2 * self.n_mic) if self._undo else None
        self._mono_decay = 1.0 - min(1.0, self.frame_size / (MONO_SECONDS * self.sample_rate))

    # ----------------------------------------------------------------- protocol
    def process(self, mic_frame: ArrayLike, ref_frame: ArrayLike) -> np.ndarray:
        """Cancel the echo in one frame of every microphone.

        Parameters
        ----------
        mic_frame : array_like, shape (frame_size, n_mic)
            Microphone samples, one column per microphone, finite.
        ref_frame : array_like, shape (frame_size, n_ref)
            Reference samples, one column per loudspeaker, finite.

        Returns
        -------
        numpy.ndarray, shape (frame_size, n_mic), float64
            Near-end estimate of each microphone (one frame later with the
            postfilter). Always finite.

        Raises
        ------
        ValueError
            If a frame has another shape, or holds NaN or Inf.
        TypeError
            If a frame is not numeric.
        """
        mics = check_frames(mic_frame, self.frame_size, self.n_mic, "mic_frame", "n_mic")
        refs = self._refs
        refs[: self.n_ref] = check_frames(ref_frame, self.frame_size, self.n_ref, "ref_frame", "n_ref")
        if self._channel_highpass:
            filters = self._channel_highpass
            refs[: self.n_ref] = [filters[r].process(refs[r]) for r in range(self.n_ref)]
            mics = np.array([filters[self.n_ref + m].process(mics[m]) for m in range(self.n_mic)])
        if self.n_ref > 1:
            refs[self.n_ref] = refs[: self.n_ref].mean(axis=0)
        if self._delay_tracker is not None:  # one delay for every path: searched on mic 0 and the mix
            self._delay_tracker.process(mics[0], refs[-1], self)
            for line in self._ref_lines:
                line.delay = self._delay_tracker.delay
        if self._ref_lines:
            refs[:] = [line.process(ref) for line, ref in zip(self._ref_lines, refs)]
        self._track_level(mics.reshape(-1), refs[: self.n_ref].reshape(-1))
        if self.detect_mono and self._adapting:
            self._detect_mono(refs[: self.n_ref])
        outs = np.empty_like(mics)
        safe = np.empty(self.n_mic, dtype=np.bool_)
        multichannel_frame(
            *self._spectra_state(),
            refs,
            self.n_ref if self.mono else 0,
            1 if self.mono else self.n_ref,
            mics,
            self._weights,
            self._diagonal,
            self._cross,
            self._noise,
            self._residual,
            self._echo_estimates,
            self._error_spectra,
            self._constraint_rows() if self._adapting else self._no_rows,
            (self.transition**2, self.noise_smoothing, self._noise_floor_share * self._level),
            outs,
            self._watches,
            self._watch_settings,
            safe,
        )
        for m in np.flatnonzero(~safe):
            self._reset_microphone(m)
        if self._postfilter is not None:
            for m, suppressor in enumerate(self._postfilter):
                residual = self._residual[m] if self.adapt and safe[m] else None
                echo = self._echo_estimates[m] if safe[m] else self._silence
                if self._undo is not None:
                    outs[m], echo = self._undo.process(outs[m], 2 * m), self._undo.process(echo, 2 * m + 1)
                filtered, finite = suppressor._process(outs[m], echo, residual)  # frames checked
                if finite:
                    outs[m] = filtered
                else:  # its spectra overflowed (input near 1e150)
                    suppressor.reset()
                    if self._undo is not None:  # this microphone's output and echo estimate
                        self._undo.reset(2 * m)
                        self._undo.reset(2 * m + 1)
                    self.n_resets += 1
        self.n_frames += 1
        return np.ascontiguousarray(outs.T)

    def reset(self) -> None:
        """Forget everything, as right after construction."""
        self._init_filter()
        for part in (self._postfilter or []) + self._channel_highpass:
            part.reset()
        self._reset_stream()
        self.n_resets = 0

    @property
    def delay(self) -> int:
        """Bulk delay (samples) applied to every reference."""
        return self._ref_lines[0].delay if self._ref_lines else 0

    @property
    def filter(self) -> np.ndarray:
        """Echo-path estimates, shape (n_mic, n_ref, filter_length): a read-only copy.

        In mono mode each path is the mono filter divided by ``n_ref`` (the
        filters that give the same echo). The bulk delay is excluded.
        """
        taps = self._filter_taps()
        taps.setflags(write=False)
        return taps

    @property
    def n_partitions(self) -> int:
        """Number of partitions ``P`` of each path."""
        return self._weights.shape[2]

    # -------------------------------------------------------------- internals
    def _init_filter(self) -> None:
        size, n_bins = self.frame_size, self.frame_size + 1
        n_partitions = -(-self.filter_length // size)
        self.filter_length = n_partitions * size
        # one delay line per reference, plus the mono mix when there are several
        lines = self.n_ref + 1 if self.n_ref > 1 else 1
        self._windows = np.zeros((lines, 2 * size))
        self._buffers = np.zeros((lines, 2 * n_partitions, n_bins), dtype=np.complex128)
        self._powers = np.zeros((lines, 2 * n_partitions, n_bins))
        self._head = 0
        self._refs = np.zeros((lines, size))
        self._weights = np.zeros((self.n_mic, self.n_ref, n_partitions, n_bins), dtype=np.complex128)
        self._echo_estimates = np.zeros((self.n_mic, size))
        self._error_spectra = np.zeros((self.n_mic, n_bins), dtype=np.complex128)
        self._all_rows = np.arange(n_partitions)
        self._rows = np.array([0, 0]) if n_partitions > 1 else np.array([0])  # first, rotating
        self._rotation = 0
        self._no_rows = np.empty(0, dtype=np.int64)
        self.mono = self.detect_mono  # as AEC3: mono until the channels are seen to differ
        self._covariance = np.zeros((self.n_ref, self.n_ref))
        self._init_update()

    def _init_update(self) -> None:
        n_partitions, n_bins = self._weights.shape[2:]
        self._prior = np.repeat(self._prior_uncertainty(n_partitions)[:, None], n_bins, axis=1)
        self._diagonal = np.repeat(self._prior[None, None], self.n_ref, axis=1).repeat(self.n_mic, axis=0)
        self._cross = np.zeros((self.n_mic, self.n_ref, self.n_ref, n_partitions, n_bins), dtype=np.complex128)
        self._noise = np.zeros((self.n_mic, n_bins))
        self._residual = np.zeros((self.n_mic, n_bins))

    def _reset_stream(self) -> None:
        super()._reset_stream()
        from echoless.aec.delay import DelayLine

        # the base class delays one reference; every reference (and the mix) gets its own line
        setting, lines = self._delay_setting, len(self._refs)
        if setting == "auto":
            self._ref_lines = [DelayLine(self._delay_tracker.max_lag, self.frame_size) for _ in range(lines)]
        elif setting > 0:
            self._ref_lines = [DelayLine(setting, self.frame_size, setting) for _ in range(lines)]
        else:
            self._ref_lines = []
        self._delay_line = None
        self._watches = np.zeros((self.n_mic, 3))

    def _spectra_state(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
        """Make room for the next block in every delay line (as FrequencyDomainDelayLine.advance)."""
        self._head = (self._head - 1) % (self._buffers.shape[1] // 2)
        return self._windows, self._buffers, self._powers, self._head

    def _detect_mono(self, refs: np.ndarray) -> None:
        """Update the reference covariance and switch between mono and stereo (see the module notes)."""
        # relative to the running level, so that no square overflows (and powers of two scale exactly)
        scaled = refs / np.sqrt(self._level)
        self._covariance *= self._mono_decay
        self._covariance += (1.0 - self._mono_decay) * (scaled @ scaled.T)
        trace = np.trace(self._covariance)
        if self.n_ref == 2:  # closed form of the largest eigenvalue of a 2 x 2 symmetric matrix
            (a, b), (_, d) = self._covariance
            largest = 0.5 * trace + np.sqrt(0.25 * (a - d) ** 2 + b * b)
        else:
            largest = np.linalg.eigvalsh(self._covariance)[-1]
        spread = max(0.0, 1.0 - largest / (trace + NUMERICAL_FLOOR))
        if self.mono and spread > 10.0 ** ((MONO_HYSTERESIS_DB - MONO_SPREAD_DB) / 10.0):
            self._to_stereo()
        elif not self.mono and spread < 10.0 ** (-MONO_SPREAD_DB / 10.0):
            self._to_mono()

    def _to_stereo(self) -> None:
        """Mono to joint paths: ``W_r = W / R``; the unknown difference directions get the prior."""
        n = self.n_ref
        mono_weights, mono_phi = self._weights[:, 0].copy(), self._diagonal[:, 0].copy()
        self._weights[:] = mono_weights[:, None] / n
        # Phi = Phi_mono / R^2 * 1 1^T + prior * (I - 1 1^T / R)
        self._diagonal[:] = (mono_phi / n**2 + self._prior * (1.0 - 1.0 / n))[:, None]
        self._cross[:] = (mono_phi / n**2 - self._prior / n)[:, None, None]
        self.mono = False

    def _to_mono(self) -> None:
        """Joint paths to mono: ``W = sum_r W_r``, ``Phi = 1^T Phi 1``."""
        upper = np.triu(np.ones((self.n_ref, self.n_ref), dtype=bool), 1)
        self._weights[:, 0] = self._weights.sum(axis=1)
        self._diagonal[:, 0] = self._diagonal.sum(axis=1) + 2.0 * self._cross[:, upper].real.sum(axis=1)
        self._weights[:, 1:] = 0.0
        self._cross[:] = 0.0
        self.mono = True

    def _reset_microphone(self, m: int) -> None:
        """The watch found microphone ``m`` unsafe: clear its filter and its suppressor's recent
        signal, as the base class's reset does."""
        self._weights[m] = 0.0
        self._diagonal[m] = self._prior
        self._cross[m] = 0.0
        self._noise[m] = 0.0
        self._residual[m] = 0.0
        self._watches[m] = 0.0
        if self._postfilter is not None:
            self._postfilter[m].forget_signal()
        self.n_resets += 1

    def _filter_taps(self) -> np.ndarray:
        weights = self._weights
        if self.mono:
            weights = np.repeat(weights[:, :1] / self.n_ref, self.n_ref, axis=1)
        taps = np.fft.irfft(weights, 2 * self.frame_size, axis=-1)[..., : self.frame_size]
        return taps.reshape(self.n_mic, self.n_ref, self.filter_length)

    def _load_filter(self, taps: np.ndarray) -> None:
        """Set every path from ``taps`` (n_mic, n_ref, filter_length) (the joint, non-mono form)."""
        blocks = taps.reshape(self.n_mic, self.n_ref, -1, self.frame_size)
        spectra = np.fft.rfft(blocks, 2 * self.frame_size, axis=-1)
        if self.mono:  # the mono filter that gives the same echo while the channels are identical
            self._weights[:, 0] = spectra.sum(axis=1)
            self._weights[:, 1:] = 0.0
        else:
            self._weights[:] = spectra


def cancel_multichannel(mic: ArrayLike, ref: ArrayLike, method: str, sample_rate: int, **options) -> np.ndarray:
    """:func:`echoless.aec.cancel` for multichannel signals (it dispatches here for 2-D input).

    Parameters
    ----------
    mic : array_like, shape (T, n_mic) or (T,)
    ref : array_like, shape (T, n_ref) or (T,)
    method : str
        A method with a multichannel version (``"pfdkf"``).
    sample_rate : int
    **options
        The class's options.

    Returns
    -------
    numpy.ndarray, shape (T, n_mic), or (T,) for a 1-D ``mic``
    """
    from echoless.aec.methods import make_canceller
    from echoless.aec.streaming import run_canceller

    mic_channels = as_channels(mic, "mic")
    ref_channels = as_channels(ref, "ref")
    if len(mic_channels) != len(ref_channels):
        raise ValueError(
            f"mic and ref must have the same length, got {len(mic_channels)} and {len(ref_channels)} samples"
        )
    canceller = make_canceller(
        method, sample_rate, n_ref=ref_channels.shape[1], n_mic=mic_channels.shape[1], **options
    )
    out = run_canceller(canceller, mic_channels, ref_channels)
    return out[:, 0] if np.ndim(mic) == 1 else out


@kernel
def multichannel_frame(
    windows, buffers, powers, head, refs, first, n_paths, mics, weights, diagonal, cross, noise, residual,
    echo_estimates, error_spectra, rows, kalman_settings, outs, watches, watch_settings, safe,
):  # pragma: no cover - compiled
    """One frame of every microphone; ``safe`` (M,) receives each watch's verdict.

    Pushes each row of ``refs`` (lines, B) into its delay line (``buffers``,
    ``powers`` (lines, 2P, B + 1)); the paths are the lines ``first ..
    first + n_paths - 1`` (the references, or the mono mix). Per microphone
    ``m``: the echo estimate into ``echo_estimates[m]``, unless ``rows`` is
    empty the Kalman step (:func:`~echoless.aec.pfdkf.kalman_update` for one
    path, :func:`joint_kalman_update` for several) and the constraint, then
    :func:`~echoless.aec.base.watch_frame` into ``outs[m]``.
    """
    n_partitions = buffers.shape[1] // 2
    size = mics.shape[1]
    adapt = len(rows) > 0
    a2, smoothing, noise_floor = kalman_settings
    ratio, floor, watch_frames, watch_smoothing = watch_settings
    for line in range(refs.shape[0]):
        push_window(windows[line], refs[line], buffers[line], powers[line], head)
    spectrum = np.empty(size + 1, dtype=np.complex128)
    error_window = np.zeros(2 * size)
    gain = np.empty((n_paths, n_partitions, size + 1), dtype=np.complex128)
    for m in range(mics.shape[0]):
        spectrum[:] = 0.0
        for r in range(n_paths):
            for p in range(n_partitions):
                for k in range(size + 1):
                    spectrum[k] += weights[m, r, p, k] * buffers[first + r, head + p, k]
        echo_estimates[m] = np.fft.irfft(spectrum, 2 * size)[size:]
        if adapt:
            error_window[size:] = mics[m] - echo_estimates[m]
            error_spectra[m] = np.fft.rfft(error_window)
            if n_paths == 1:
                kalman_update(
                    buffers[first, head : head + n_partitions], powers[first, head : head + n_partitions],
                    error_spectra[m], weights[m, 0], diagonal[m, 0], noise[m], residual[m], a2, smoothing, noise_floor,
                )  # fmt: skip
            else:
                joint_kalman_update(
                    buffers, powers, first, head, n_paths, error_spectra[m], weights[m], diagonal[m], cross[m],
                    noise[m], residual[m], a2, smoothing, noise_floor, gain,
                )  # fmt: skip
            for r in range(n_paths):
                constrain_rows(weights[m, r], rows)
        safe[m] = watch_frame(mics[m], echo_estimates[m], outs[m], watches[m], ratio, floor, watch_frames, watch_smoothing)


@kernel
def joint_kalman_update(
    buffers, powers, first, head, n_paths, error_spectrum, weights, diagonal, cross, noise, residual, a2, smoothing,
    noise_floor, gain,
):  # pragma: no cover - compiled
    """One Kalman step of the ``n_paths`` paths of one microphone, jointly (see the module notes).

    ``weights`` (R, P, K) :math:`W_{rp}`; the covariance :math:`\\boldsymbol\\Phi_p(k)`
    as its real ``diagonal`` (R, P, K) and its upper triangle ``cross[r, s]``
    (R, R, P, K; ``r < s``); the spectra :math:`X_{rp}` are rows ``head + p``
    of lines ``first + r`` of ``buffers``. ``residual`` (K,) receives
    :math:`\\tfrac12\\sum_p \\mathbf x_p^T \\boldsymbol\\Phi_p \\mathbf x_p^*`;
    ``gain`` (R, P, K) is scratch space for :math:`\\mathbf g_p`. Loops run
    over bins innermost, so that they vectorise.
    """
    n_partitions, n_bins = weights.shape[1], weights.shape[2]
    residual[:] = 0.0
    for p in range(n_partitions):
        row = head + p
        # g = Phi x^*, then x^T Phi x^* = sum_r x_r g_r
        for r in range(n_paths):
            for k in range(n_bins):
                gain[r, p, k] = diagonal[r, p, k] * np.conj(buffers[first + r, row, k])
        for r in range(n_paths):
            for s in range(r + 1, n_paths):
                for k in range(n_bins):
                    c = cross[r, s, p, k]
                    gain[r, p, k] += c * np.conj(buffers[first + s, row, k])
                    gain[s, p, k] += np.conj(c) * np.conj(buffers[first + r, row, k])
        for r in range(n_paths):
            for k in range(n_bins):
                residual[k] += (buffers[first + r, row, k] * gain[r, p, k]).real
    inverse, scaled_error = observation_step(error_spectrum, noise, residual, smoothing, noise_floor)
    for p in range(n_partitions):
        # w += g E / D;  Phi <- A^2 (Phi - g g^H / (2 D)) + (1 - A^2) diag |W|^2
        for r in range(n_paths):
            for k in range(n_bins):
                g = gain[r, p, k]
                weight = weights[r, p, k] + g * scaled_error[k]
                weights[r, p, k] = weight
                magnitude = g.real**2 + g.imag**2
                diagonal[r, p, k] = a2 * (diagonal[r, p, k] - 0.5 * inverse[k] * magnitude) + (1.0 - a2) * (
                    weight.real**2 + weight.imag**2
                )
        for r in range(n_paths):
            for s in range(r + 1, n_paths):
                for k in range(n_bins):
                    cross[r, s, p, k] = a2 * (cross[r, s, p, k] - 0.5 * inverse[k] * gain[r, p, k] * np.conj(gain[s, p, k]))
