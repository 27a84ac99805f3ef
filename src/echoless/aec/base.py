r"""The streaming echo-canceller protocol, and the safety net every canceller shares.

A streaming canceller is a state object fed one frame of microphone signal
``y`` and one frame of far-end reference ``s`` at a time (``frame_size``
samples each, float64). It keeps an estimate :math:`\hat h` of the echo path,
predicts the echo :math:`\hat e = s * \hat h` and returns the near-end
estimate :math:`\hat n = y - \hat e`:

>>> canceller = PBFDAF(sample_rate=16000, frame_size=160, filter_ms=250)  # doctest: +SKIP
>>> out = canceller.process(mic_frame, ref_frame)                          # doctest: +SKIP

This base class holds everything that is not an update rule (as in
``pyroomacoustics.adaptive``): argument checks, the bulk delay of the
reference (fixed, or estimated on the fly with ``delay="auto"``, which also
follows a clock drift between reference and microphone:
:mod:`echoless.aec.drift`), the optional residual-echo suppressor, and the
safety net:

* no NaN or Inf ever leaves :meth:`StreamingCanceller.process`: a non-finite
  echo estimate resets the filter and the frame is passed through;
* divergence — output energy more than ``divergence_ratio`` times the
  microphone energy, both smoothed over about half a second, or more than
  :data:`PERSISTENT_RATIO` (+1 dB) times it, frame by frame or smoothed, in
  every frame of the last half second — resets the filter too. A canceller must remove energy: an output
  that stays above the microphone for half a second (a filter dragged off
  course by loud double talk, or by a clap that also inflated the smoothed
  microphone energy) is never right. A near-end onset never trips it (the
  output then follows the microphone). Each reset is counted in
  :attr:`StreamingCanceller.n_resets`.

The input stage, before any of that (on by default):

* a high-pass on both signals (:class:`~echoless.aec.highpass.HighPass`,
  ``highpass_hz``), so that DC offsets and rumble never reach the filter
  (with the suppressor on, the output stage undoes it before the
  suppressor, whose zero-phase low cut then shapes the low end:
  :class:`~echoless.aec.highpass.HighPassUndo`);
* a running *level*: the peak power of the input, decaying by
  :data:`LEVEL_RELEASE_DB_PER_SECOND`. Every threshold of every canceller
  (regularisation, silence, start-up gates) is relative to it, so the
  output scales with the input: ``process(a*y, a*s) == a*process(y, s)``
  for any level ``a`` (tested from 1e-3 to 32768, int16-valued floats). The
  only absolute constant is :data:`NUMERICAL_FLOOR`, a guard against 0/0 in
  exact digital silence, 3000 dB below full scale;
* the far end is *active* while the reference power, smoothed over the
  filter length, is within :data:`FAR_END_ACTIVE_DB` of its own running
  level; the filter adapts only then. While the far end pauses there is no
  echo to learn, only the near end, which an NLMS filter would otherwise
  learn and then play back as added echo when the far end resumes.

Subclasses implement ``_init_filter()`` (allocate and clear the adaptive state),
``_step(mic, ref) -> echo_estimate`` (predict, then adapt unless ``adapt`` is
false), ``_filter_taps()`` and ``_load_filter(h)``, and may provide
``_residual_power()`` for the postfilter. A subclass whose whole frame is
compiled may instead replace ``_cancel`` (``_step`` plus the safety watch,
:func:`watch_frame`) by one compiled call, as
:class:`~echoless.aec.pfdkf.PFDKF` does: per-call overhead, not arithmetic,
dominates a 10 ms frame in Python.
"""

from __future__ import annotations

import warnings

import numpy as np
from numpy.typing import ArrayLike

from echoless._jit import kernel
from echoless._frames import check_frame, raise_not_finite
from echoless._validation import as_signal, check_delay, check_positive_float, check_positive_int
from echoless.aec.highpass import DEFAULT_CUTOFF_HZ, UNDO_MAX_GAIN, HighPassUndo, design, filter_frame, steady_state

#: Default echo-path length when neither ``filter_length`` nor ``filter_ms`` is given.
DEFAULT_FILTER_MS = 250.0
#: Longest echo path a streaming canceller models, seconds (a larger request is a typo, not a room).
MAX_FILTER_SECONDS = 10.0
#: Smoothing time of the energies watched by the divergence detector, seconds.
DIVERGENCE_SECONDS = 0.5
#: Output above the microphone by this power ratio (+1 dB) in every frame of the watch window is divergence.
PERSISTENT_RATIO = 10.0**0.1
#: The running level (peak input power) decays by this many dB per second.
LEVEL_RELEASE_DB_PER_SECOND = 10.0
#: A frame counts as silent below the running level by this many dB (the watch's floor).
SILENCE_DB = 80.0
#: The far end is active within this many dB of its running level (adaptation is paused otherwise).
FAR_END_ACTIVE_DB = 40.0
#: Guard added where a power could be exactly zero (digital silence): 1e-300, about -3000 dBFS.
NUMERICAL_FLOOR = 1e-300


class StreamingCanceller:
    """Base class of frame-by-frame echo cancellers.

    Parameters
    ----------
    sample_rate : int
        Sampling rate in Hz (both signals).
    frame_size : int
        Samples per call to :meth:`process` (160 = 10 ms at 16 kHz).
    filter_length : int, optional
        Echo-path length in taps. Give this or ``filter_ms``, not both.
    filter_ms : float, optional
        Echo-path length in milliseconds (default 250 ms when neither is given).
    delay : int or "auto"
        Bulk delay in samples applied to the reference before the filter, so
        that the filter taps are not spent on a pure delay. ``"auto"`` (the
        default) estimates it on the fly with GCC-PHAT
        (:class:`echoless.aec.delay.DelayTracker`), up to
        :data:`echoless.aec.delay.MAX_DELAY_SECONDS` (1 s); ``0`` turns it off.
    postfilter : float
        Strength of the residual-echo suppressor
        (:class:`echoless.aec.postfilter.ResidualEchoSuppressor`, with
        comfort noise), default ``1.5``; ``0`` turns it off. When on, the
        output lags the input by one frame.
    highpass_hz : float
        Cut-off of the input high-pass on both signals
        (:class:`echoless.aec.highpass.HighPass`), default 20 Hz; ``0`` turns it off.
    low_cut_hz : float, optional
        Cut-off of the suppressor's zero-phase low cut on the output
        (:func:`echoless.aec.postfilter.low_cut_gains`), default
        :data:`echoless.aec.postfilter.LOW_CUT_HZ` (80 Hz); ``0`` turns it
        off. Applied by the suppressor: with ``postfilter=0`` the output is
        the linear filter's, not shaped. Independent of ``highpass_hz``: for a
        full-band output pass ``low_cut_hz=0`` too. The suppressor's bins,
        ``sample_rate / (2 * frame_size)`` apart, resolve a cut-off of at
        least half their spacing (25 Hz with 10 ms frames; the
        default 80 Hz needs frames of at least 50 samples at 16 kHz); below
        that the low cut is off, with a ``UserWarning`` when ``low_cut_hz``
        was given.
    drift_compensation : bool
        With ``delay="auto"``: estimate the clock drift between reference and
        microphone and resample the reference to follow it
        (:mod:`echoless.aec.drift`; see :attr:`clock_drift_ppm`). Default
        off: it costs about a fifth of the frame time (one GCC-PHAT lag
        measurement a second) and files recorded through one device have no
        drift; :class:`echoless.live.LiveCanceller`, whose playback and
        capture may be two sound cards, turns it on. Drift below 3 ppm leaves
        the reference untouched. Read at construction and at :meth:`reset`.
    adapt : bool
        Adapt the filter. Set the attribute to ``False`` to freeze it.
    initial_filter : array_like, optional
        Starting echo-path estimate, shape (n_taps,) with ``n_taps <= filter_length``.
    divergence_ratio : float
        Reset the filter when the smoothed output energy exceeds this many times
        the smoothed microphone energy (a canceller must remove energy, not add it).

    Attributes
    ----------
    n_resets : int
        Number of safety resets (non-finite estimate or divergence) so far.
    n_frames : int
        Frames processed since construction or the last :meth:`reset`.
    """

    def __init__(
        self,
        sample_rate: int = 16000,
        frame_size: int = 160,
        filter_length: int | None = None,
        filter_ms: float | None = None,
        *,
        delay: int | str = "auto",
        postfilter: float = 1.5,
        highpass_hz: float = DEFAULT_CUTOFF_HZ,
        low_cut_hz: float | None = None,
        drift_compensation: bool = False,
        adapt: bool = True,
        initial_filter: ArrayLike | None = None,
        divergence_ratio: float = 8.0,
    ) -> None:
        self.sample_rate = check_positive_int(sample_rate, "sample_rate")
        self.frame_size = check_positive_int(frame_size, "frame_size")
        if filter_length is not None and filter_ms is not None:
            raise ValueError("give filter_length or filter_ms, not both")
        if filter_length is None:
            milliseconds = DEFAULT_FILTER_MS if filter_ms is None else check_positive_float(filter_ms, "filter_ms")
            filter_length = max(1, round(milliseconds * self.sample_rate / 1000.0))
        self.filter_length = check_positive_int(filter_length, "filter_length")
        if self.filter_length > MAX_FILTER_SECONDS * self.sample_rate:
            raise ValueError(
                f"filter_length={self.filter_length} taps is {self.filter_length / self.sample_rate:g} s of echo "
                f"path, more than the {MAX_FILTER_SECONDS:g} s a streaming canceller models"
            )
        self.adapt = bool(adapt)
        self.divergence_ratio = check_positive_float(divergence_ratio, "divergence_ratio")
        self._delay_setting = check_delay(delay)
        self.drift_compensation = bool(drift_compensation)
        self._init_filter()
        self._initial_filter = None
        if initial_filter is not None:
            taps = as_signal(initial_filter, "initial_filter")
            if len(taps) > self.filter_length:
                raise ValueError(
                    f"initial_filter has {len(taps)} taps, more than filter_length={self.filter_length}"
                )
            self._initial_filter = taps.copy()
            self._load_filter(taps)
        self._postfilter = None
        if low_cut_hz is not None:  # checked even where no suppressor will apply it
            from echoless.aec.postfilter import check_low_cut

            check_low_cut(low_cut_hz, self.sample_rate)
        strength = check_positive_float(postfilter, "postfilter", allow_zero=True)
        if strength > 0:
            from echoless.aec.postfilter import ResidualEchoSuppressor

            self._postfilter = ResidualEchoSuppressor(
                self.frame_size, strength=strength, sample_rate=self.sample_rate,
                **({} if low_cut_hz is None else {"low_cut_hz": low_cut_hz}),
            )
            if low_cut_hz is not None and low_cut_hz > 0 and not self._postfilter.low_cut_active:
                spacing = self.sample_rate / (2 * self.frame_size)
                warnings.warn(
                    f"low_cut_hz={low_cut_hz:g} is below {spacing / 2:g} Hz, half the {spacing:g} Hz spacing of the "
                    f"suppressor's bins at frame_size={self.frame_size}: the low cut cannot be resolved and is off",
                    UserWarning,
                    stacklevel=2,
                )
        self.highpass_hz = check_positive_float(highpass_hz, "highpass_hz", allow_zero=True)
        # with the suppressor's zero-phase low cut in charge of the output's low end, the output
        # stage undoes the input high-pass, whose phase would otherwise cost the near end
        # (only a cut-off the low cut covers, and where the undo stays bounded: see echoless.aec.highpass)
        undone = (
            self._postfilter is not None
            and self._postfilter.low_cut_active
            and 0 < self.highpass_hz <= self._postfilter.low_cut_hz
        )
        self._undo = HighPassUndo(self.sample_rate, self.highpass_hz) if undone else None
        if self._undo is not None and self._undo.max_gain > UNDO_MAX_GAIN:
            self._undo = None
        # one second-order section for both signals, its states, and the high-passed frames
        self._highpass = design(self.sample_rate, self.highpass_hz) if self.highpass_hz > 0 else np.empty(0)
        self._highpass_steady = steady_state(self._highpass) if self.highpass_hz > 0 else np.empty(0)
        self._highpass_states = np.zeros((2, 2))
        self._highpass_started = np.zeros(1)
        self._inputs = np.empty((2, self.frame_size))
        frame_seconds = self.frame_size / self.sample_rate
        self._level_decay = 10.0 ** (-LEVEL_RELEASE_DB_PER_SECOND * frame_seconds / 10.0)
        # the reference power over the filter's span: is there echo to learn from in the filter?
        self._recent_smoothing = min(1.0, self.frame_size / self.filter_length)
        self._silent_share = self.frame_size * 10.0 ** (-SILENCE_DB / 10.0)  # x the level: a silent frame
        self._watch_constants = (
            max(1, round(DIVERGENCE_SECONDS * self.sample_rate / self.frame_size)),
            min(1.0, self.frame_size / (DIVERGENCE_SECONDS * self.sample_rate)),
        )
        self._silence = np.zeros(self.frame_size)
        self._reset_stream()
        self.n_resets = 0

    # ----------------------------------------------------------------- protocol
    def process(self, mic_frame: ArrayLike, ref_frame: ArrayLike) -> np.ndarray:
        """Cancel the echo in one frame.

        Parameters
        ----------
        mic_frame : array_like, shape (frame_size,)
            Microphone samples (echo + near end), finite.
        ref_frame : array_like, shape (frame_size,)
            Far-end reference samples played by the loudspeaker, finite.

        Returns
        -------
        numpy.ndarray, shape (frame_size,), float64
            Near-end estimate ``mic - echo_estimate`` (one frame later when the
            postfilter is on). Always finite.
        """
        mic = check_frame(mic_frame, self.frame_size, "mic_frame", finite=False)
        ref = check_frame(ref_frame, self.frame_size, "ref_frame", finite=False)
        # finiteness, high-pass, running level and far-end activity, in one compiled call
        state = input_stage(
            mic, ref, self._highpass, self._highpass_steady, self._highpass_states, self._highpass_started,
            self._inputs, self._levels, self._level_decay, self._recent_smoothing,
        )
        if state == NOT_FINITE_MIC:  # NaN or Inf: nothing was changed
            raise_not_finite(mic, "mic_frame")
        if state == NOT_FINITE_REF:
            raise_not_finite(ref, "ref_frame")
        self._adapting = self.adapt and state == 1
        mic, ref = self._inputs
        if self._delay_tracker is not None:
            ref = self._delay_tracker.process(mic, ref, self)
            if self._drift is not None:
                self._drift.update(self)
        elif self._delay_line is not None:
            ref = self._delay_line.process(ref)
        out, echo_estimate, residual_power = self._cancel(mic, ref)
        if self._undo is not None:
            out, echo_estimate = self._undo.process(out, 0), self._undo.process(echo_estimate, 1)
        if self._postfilter is not None:
            filtered, finite = self._postfilter._process(out, echo_estimate, residual_power)  # frames checked
            if finite:
                out = filtered
            else:  # its spectra overflowed (input near 1e150)
                self._postfilter.reset()
                if self._undo is not None:
                    self._undo.reset()
                self.n_resets += 1
        self.n_frames += 1
        return out

    def reset(self) -> None:
        """Forget everything: echo path, signal history, delay estimate, statistics.

        The canceller is then in the state it had right after construction
        (including ``initial_filter`` if one was given).
        """
        self._init_filter()
        if self._initial_filter is not None:
            self._load_filter(self._initial_filter)
        if self._postfilter is not None:
            self._postfilter.reset()
        self._reset_stream()
        self.n_resets = 0

    @property
    def filter(self) -> np.ndarray:
        """Current echo-path estimate in the time domain, shape (filter_length,).

        A read-only copy; it excludes the bulk delay (see :attr:`delay`).
        """
        taps = self._filter_taps()
        taps.setflags(write=False)
        return taps

    @property
    def latency(self) -> int:
        """Samples by which the output lags the input: one frame with the postfilter, else 0."""
        return 0 if self._postfilter is None else self.frame_size

    @property
    def delay(self) -> int:
        """Bulk delay (samples) currently applied to the reference."""
        if self._delay_tracker is not None:
            return self._delay_tracker.delay
        return 0 if self._delay_line is None else self._delay_line.delay

    @property
    def clock_drift_ppm(self) -> float | None:
        """Estimated clock drift of the microphone against the reference, parts per million.

        Positive when the microphone's clock runs fast (the echo's delay
        grows). None until the delay search has locked and measured the lag
        over a few seconds, and always without ``delay="auto"`` and
        ``drift_compensation``.
        """
        return None if self._drift is None else self._drift.ppm

    # -------------------------------------------------------- subclass hooks
    def _init_filter(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _step(self, mic: np.ndarray, ref: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _filter_taps(self) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _load_filter(self, taps: np.ndarray) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _residual_power(self) -> np.ndarray | None:
        """The canceller's own estimate of the residual-echo power spectrum in this frame, if it has one."""
        return None

    # -------------------------------------------------------------- internals
    def _track_level(self, mic: np.ndarray, ref: np.ndarray) -> None:
        """Running level and far-end activity of high-passed frames (see :func:`track_level`)."""
        active = track_level(mic, ref, self._levels, self._level_decay, self._recent_smoothing)
        self._adapting = self.adapt and active

    def _restart_adaptation(self) -> None:
        """Start the step control (and any other adaptive state but the weights) again, as at the start."""

    def _shift_filter(self, samples: int) -> None:
        """Move the estimate ``samples`` taps earlier (later if negative): the bulk delay changed.

        A move by more than a quarter of the filter also starts the adaptive
        state again (:meth:`_restart_adaptation`): the echo had been outside
        the filter's window, so a step control or a Kalman covariance that
        settled there would keep the filter from learning it (PBFDAF stuck at
        0 dB, PFDKF re-converging slowly, before this).
        """
        taps = self._filter_taps()  # (filter_length,), or (..., filter_length) for several paths
        shifted = np.zeros_like(taps)
        if samples >= 0:
            shifted[..., : max(0, self.filter_length - samples)] = taps[..., samples : self.filter_length]
        else:
            shifted[..., -samples:] = taps[..., : self.filter_length + samples]
        self._load_filter(shifted)
        if 4 * abs(samples) > self.filter_length:
            self._restart_adaptation()

    @property
    def _level(self) -> float:
        """Running peak power per sample of the input (never below :data:`NUMERICAL_FLOOR`)."""
        return self._levels[0] + NUMERICAL_FLOOR

    def _reset_stream(self) -> None:
        from echoless.aec.delay import DelayLine, DelayTracker

        setting = self._delay_setting
        self._delay_tracker = self._drift = None
        if setting == "auto" and self.drift_compensation:
            from echoless.aec.drift import drift_tracker

            self._delay_tracker, self._drift = drift_tracker(self.sample_rate, self.frame_size)
        elif setting == "auto":
            self._delay_tracker = DelayTracker(self.sample_rate, self.frame_size)
        fixed = isinstance(setting, int) and setting > 0
        self._delay_line = DelayLine(setting, self.frame_size, setting) if fixed else None
        # smoothed mic and output energies, and the count of consecutive frames whose output
        # exceeded PERSISTENT_RATIO x the mic (see watch_frame)
        self._watch = np.zeros(3)
        self._levels = np.zeros(3)
        self._highpass_started[:] = 0.0
        if self._undo is not None:
            self._undo.reset()
        self._adapting = self.adapt
        self.n_frames = 0

    def _cancel(self, mic: np.ndarray, ref: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """The linear canceller and its safety net for one frame.

        Returns the output ``mic - echo_estimate`` (a new array), the echo
        estimate and the residual-echo power for the postfilter; after a
        safety reset, ``mic``, zeros and ``None``. Subclasses may replace it
        with one compiled call (PFDKF does) as long as they keep that contract.
        """
        # hostile input (values near 1e160) overflows squares and spectra in numpy code, which
        # the watch turns into a reset, not a warning (compiled kernels never warn)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
            echo_estimate = self._step(mic, ref)
        out = np.empty(self.frame_size)
        if watch_frame(mic, echo_estimate, out, self._watch, *self._watch_settings):
            return out, echo_estimate, self._residual_power()
        self._on_unsafe()
        return out, self._silence, None

    @property
    def _watch_settings(self) -> tuple[float, float, int, float]:
        """``divergence_ratio`` (read each frame: it may be changed), silent-frame energy
        (relative to the running level), frames of the persistent-divergence test, and the
        energies' forgetting factor."""
        return (self.divergence_ratio, self._silent_share * self._level, *self._watch_constants)

    def _on_unsafe(self) -> None:
        """The watch found a non-finite or diverging output: clear the filter, the watch and the
        suppressor's recent signal (its analysis window and overlap-add tail hold the diverged
        output, which would otherwise reach the next frames)."""
        self._init_filter()
        self._watch[:] = 0.0
        if self._postfilter is not None:
            self._postfilter.forget_signal()
        self.n_resets += 1


#: input_stage's codes for a frame holding NaN or Inf
NOT_FINITE_MIC, NOT_FINITE_REF = -1, -2


@kernel
def input_stage(mic, ref, sos, steady, states, started, inputs, levels, decay, smoothing):  # pragma: no cover
    """The input stage of one frame (see the module notes): 1 if the far end is active, 0 if not,
    :data:`NOT_FINITE_MIC` or :data:`NOT_FINITE_REF` (and nothing changed) for a NaN or Inf sample.

    ``inputs`` (2, B) receives the frames high-passed by the section ``sos``
    (6,), states ``states`` (2, 2), started from ``steady`` (2,) times each
    signal's first sample while ``started`` (1,) is 0; an empty ``sos``
    copies them unfiltered.
    Updates ``levels`` (3,): the input's running peak power per sample, the
    far end's, and the far-end power smoothed over the filter span (factor
    ``smoothing``); active means within FAR_END_ACTIVE_DB of its level. The
    reference is measured before the bulk delay: the gate then opens and
    closes up to one delay early, which costs nothing (the filter's input is
    still silent when it opens). A non-finite frame leaves the levels as they are.
    """
    for i in range(mic.shape[0]):  # the frames' finiteness, checked here rather than in a pass of its own
        if not np.isfinite(mic[i]):
            return NOT_FINITE_MIC
        if not np.isfinite(ref[i]):
            return NOT_FINITE_REF
    if sos.shape[0] == 0:
        inputs[0] = mic
        inputs[1] = ref
    else:
        start = started[0] == 0.0
        filter_frame(sos, steady, mic, inputs[0], states[0], start)
        filter_frame(sos, steady, ref, inputs[1], states[1], start)
        started[0] = 1.0
    return 1 if track_level(inputs[0], inputs[1], levels, decay, smoothing) else 0


@kernel
def track_level(mic, ref, levels, decay, smoothing):  # pragma: no cover - compiled
    """The level part of :func:`input_stage`, on frames already high-passed (any lengths: a
    multichannel canceller passes all its channels at once); True if the far end is active."""
    mic_power = np.dot(mic, mic) / mic.shape[0]
    ref_power = np.dot(ref, ref) / ref.shape[0]
    if np.isfinite(mic_power) and np.isfinite(ref_power):
        levels[0] = max(levels[0] * decay, mic_power, ref_power)
        levels[1] = max(levels[1] * decay, ref_power)
        levels[2] += smoothing * (ref_power - levels[2])
    return levels[2] > levels[1] * 10.0 ** (-FAR_END_ACTIVE_DB / 10.0)


@kernel
def watch_frame(mic, echo_estimate, out, watch, ratio, floor, watch_frames, smoothing):  # pragma: no cover
    """``out = mic - echo_estimate`` and the divergence watch of one frame; False if unsafe.

    ``watch`` (3,) holds the smoothed mic and output energies (forgetting
    factor ``smoothing`` per frame) and the number of consecutive frames whose
    output energy, or smoothed output energy, exceeded :data:`PERSISTENT_RATIO`
    times the mic's (plus ``floor``, the energy of a silent frame). Unsafe: a non-finite output, or an output
    louder than ``ratio`` x the mic in the smoothed energies, or louder than
    :data:`PERSISTENT_RATIO` x the mic in each of the last ``watch_frames``
    frames (see the module notes); ``out`` is then the mic.
    """
    out_power = 0.0
    mic_power = 0.0
    for i in range(mic.shape[0]):
        out[i] = mic[i] - echo_estimate[i]
        out_power += out[i] * out[i]
        mic_power += mic[i] * mic[i]
    watch[0] += smoothing * (mic_power - watch[0])
    watch[1] += smoothing * (out_power - watch[1])
    # louder than the mic in this frame, or in the smoothed energies (near-end speech has pauses
    # in which a diverged filter's output dips below the mic for a frame or two)
    louder = out_power > PERSISTENT_RATIO * mic_power + floor or watch[1] > PERSISTENT_RATIO * watch[0] + floor
    watch[2] = watch[2] + 1 if louder else 0
    finite = np.isfinite(out_power) and np.isfinite(watch[1])
    diverged = watch[1] > ratio * watch[0] + floor or watch[2] >= watch_frames
    if finite and not diverged:
        return True
    out[:] = mic
    return False
