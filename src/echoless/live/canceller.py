r"""The live echo canceller: two audio callbacks, one streaming canceller between them.

A sound card calls the application twice per period: the *playback*
callback asks for the next block to play, the *capture* callback hands over
the block just recorded. The two may run in different threads, with
different block sizes, in any order. :class:`LiveCanceller` decouples them,
as WebRTC's audio processing module splits ``ProcessReverseStream`` (far
end) from ``ProcessStream`` (near end):

* the playback side calls :meth:`LiveCanceller.push_reference` with each
  block it plays; the block goes into a bounded FIFO
  (:class:`~echoless.live.fifo.ReferenceFifo`);
* the capture side calls :meth:`LiveCanceller.process` with each recorded
  block and gets as many cleaned samples back. Inside, microphone samples are
  gathered into frames of ``frame_size``; each frame is paired with the
  reference played ``device_latency`` samples earlier and given to the
  streaming canceller.

Alignment is by sample count, not by arrival time: microphone sample ``m``
is paired with reference sample ``m - device_latency``, where both count
from the first sample of their stream. The device latency is the
playback-to-capture offset of the sound card (its output plus input
buffering, which PortAudio reports, see :mod:`echoless.live.device`); the
acoustic delay on top is the canceller's to find (``delay="auto"``). Setting
``device_latency`` too low costs nothing but some of the canceller's delay
range; too high pairs each echo with a reference that comes *after* it,
which no causal filter can cancel.

Added latency
    The output lags the microphone by ``frame_size - 1`` samples (the fewest
    that let blocks of any size in give as many samples out: a partial frame
    waits for the rest) plus the canceller's own latency (one frame with the
    residual-echo suppressor). With the default canceller at 16 kHz and
    10 ms frames that is 159 + 160 = 319 samples, 19.9 ms. It is
    :attr:`LiveCanceller.latency`, fixed for the life of the object.

Nothing raises inside a callback. Underruns (a microphone frame needs
reference that has not been pushed: it reads as zeros), overruns (the FIFO
was full: its oldest samples are dropped), bad blocks (NaN or Inf samples,
which become zeros; a wrong shape or dtype, which becomes silence) and
canceller errors (the frame passes through) are counted in
:attr:`LiveCanceller.stats`, which any thread may read.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from echoless._frames import all_finite
from echoless._validation import check_positive_float, check_positive_int
from echoless.live.fifo import ReferenceFifo

#: Seconds of synthetic echo the canceller processes before the stream starts (see :func:`warm_up_canceller`):
#: long enough for the delay search to lock, so that every compiled path has run once.
WARM_UP_SECONDS = 2.5
#: Default reference FIFO size, seconds.
FIFO_SECONDS = 2.0


def _build_canceller(canceller: Any, sample_rate: int | None, frame_size: int | None, options: dict):
    """A streaming canceller from ``None`` (the default), a method name, or an object to use as is."""
    if canceller is None or isinstance(canceller, str):
        sample_rate = 16000 if sample_rate is None else check_positive_int(sample_rate, "sample_rate")
        if frame_size is None:
            frame_size = round(0.01 * sample_rate)  # 10 ms
        from echoless.aec.methods import DEFAULT_METHOD, make_canceller

        # the one registry: None is the library's default pipeline (PFDKF, delay search, suppressor),
        # here with clock-drift compensation on: playback and capture may be two sound cards
        options = {"drift_compensation": True, **options}
        return make_canceller(canceller or DEFAULT_METHOD, sample_rate, frame_size=frame_size, **options)
    if not callable(getattr(canceller, "process", None)) or not hasattr(canceller, "frame_size"):
        raise TypeError(
            f"canceller must be None, a method name or a streaming canceller (process(mic, ref), frame_size), "
            f"got {type(canceller).__name__}"
        )
    if options:
        raise TypeError(f"options {sorted(options)} apply only when canceller is a method name or None")
    for name, given in (("sample_rate", sample_rate), ("frame_size", frame_size)):
        own = getattr(canceller, name, None)
        if given is not None and own is not None and given != own:
            raise ValueError(f"{name}={given} differs from the canceller's {name}={own}")
    return canceller


def warm_up_canceller(canceller, sample_rate: int, seconds: float = WARM_UP_SECONDS) -> None:
    """Run ``canceller`` on synthetic echo, then ``reset()`` it.

    The first frames of an echoless canceller compile its kernels (seconds
    on a new machine, a fraction of a second from numba's cache): done here,
    before the stream starts, no audio callback pays for it. The echo is
    white noise delayed by 20 ms, so the delay search locks and shifts the
    filter within ``seconds``, and every code path has run once.
    """
    if not callable(getattr(canceller, "reset", None)):
        raise TypeError(f"{type(canceller).__name__} has no reset() to call after the warm-up: pass warm_up=False")
    size = canceller.frame_size
    n = math.ceil(seconds * sample_rate / size) * size
    lag = round(0.02 * sample_rate)
    rng = np.random.default_rng(0)
    ref = 0.1 * rng.standard_normal(n + lag)
    mic = 0.5 * ref[:n] + 1e-3 * rng.standard_normal(n)
    ref = np.ascontiguousarray(ref[lag:])  # the mic is ref delayed by lag samples
    for start in range(0, n, size):
        canceller.process(mic[start : start + size], ref[start : start + size])
    canceller.reset()


@dataclass(frozen=True)
class LiveStats:
    """A snapshot of a :class:`LiveCanceller`'s counters.

    Attributes
    ----------
    frames : int
        Canceller frames run.
    captured_samples, played_samples : int
        Samples given to :meth:`~LiveCanceller.process` and to :meth:`~LiveCanceller.push_reference`.
    underruns : int
        Frames that needed reference not pushed yet (``missing_samples`` of it read as zeros).
    missing_samples : int
    overruns : int
        Pushes into a full FIFO (``dropped_samples`` unread reference samples lost).
    dropped_samples : int
    bad_capture_blocks, bad_reference_blocks : int
        Blocks with NaN/Inf (those samples zeroed) or of a wrong shape or dtype (silenced).
    canceller_errors : int
        Frames whose canceller raised or returned a wrong or non-finite frame (passed through).
    canceller_resets : int
        The canceller's own safety resets (``n_resets``), if it counts them.
    buffered_samples : int
        Reference samples in the FIFO, pushed but not used yet.
    max_callback_seconds, mean_callback_seconds : float
        Time spent in :meth:`~LiveCanceller.process` per call.
    last_error : str or None
        The last canceller error, ``"TypeName: message"``.
    """

    frames: int
    captured_samples: int
    played_samples: int
    underruns: int
    missing_samples: int
    overruns: int
    dropped_samples: int
    bad_capture_blocks: int
    bad_reference_blocks: int
    canceller_errors: int
    canceller_resets: int
    buffered_samples: int
    max_callback_seconds: float
    mean_callback_seconds: float
    last_error: str | None

    @property
    def glitches(self) -> int:
        """Events that changed the audio: underruns, overruns, bad blocks and canceller errors (0 when all went well)."""
        return (self.underruns + self.overruns + self.bad_capture_blocks + self.bad_reference_blocks
                + self.canceller_errors)


def _samples(block: Any) -> tuple[np.ndarray, bool]:
    """``block`` as a new 1-D float64 array, and whether it was valid; never raises.

    Accepted: shape ``(n,)`` or ``(n, 1)`` (sounddevice's mono blocks), float
    dtypes, or signed integers (PCM, scaled to [-1, 1)). NaN/Inf samples
    become zeros; any other block becomes ``n`` zeros (0 if it has no length).
    """
    try:
        array = np.asarray(block)
    except Exception:  # noqa: BLE001 - ragged or hostile objects: a callback must not raise
        return np.zeros(0), False
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    n = array.shape[0] if array.ndim >= 1 else 0
    if array.ndim != 1 or array.dtype.kind not in "fi":
        return np.zeros(n), False
    if array.dtype.kind == "i":
        return array / float(2 ** (8 * array.dtype.itemsize - 1)), True
    samples = array.astype(np.float64)  # a copy: the caller's buffer is reused by the driver
    if all_finite(samples):
        return samples, True
    samples[~np.isfinite(samples)] = 0.0
    return samples, False


class LiveCanceller:
    """Echo cancellation between a playback and a capture callback (see the module notes).

    Parameters
    ----------
    canceller : None, str or streaming canceller
        ``None`` (default): the library's default pipeline
        (:data:`echoless.aec.DEFAULT_METHOD` with its default options), with
        ``drift_compensation=True``: playback and capture may run on two sound
        cards whose clocks drift apart. A method name
        (``"pfdkf"``, ``"pbfdaf"``, ``"nlms"``): that canceller, built with
        ``sample_rate``, ``frame_size`` and ``options``. Or any object with
        ``process(mic_frame, ref_frame) -> out_frame`` and ``frame_size``
        (and optionally ``latency``, ``reset()``, ``n_resets``), used as is.
    sample_rate : int, optional
        Hz; default the canceller's, else 16000.
    frame_size : int, optional
        Canceller frame, samples; default the canceller's, else 10 ms.
    device_latency : int
        Samples from playing a reference sample to capturing it, not counting
        the acoustic path (see the module notes). Settable while running.
    fifo_seconds : float
        Reference FIFO size: how far playback may run ahead of capture.
    warm_up : bool
        Run the canceller on :data:`WARM_UP_SECONDS` of synthetic echo and
        reset it now (see :func:`warm_up_canceller`), so that no callback compiles
        anything. ``False`` keeps an already warm canceller's state.
    **options
        Canceller options, when ``canceller`` is ``None`` or a name.

    Raises
    ------
    TypeError, ValueError
        On a configuration error (one line naming the argument). Once built,
        :meth:`push_reference` and :meth:`process` never raise.

    Examples
    --------
    >>> import numpy as np
    >>> live = LiveCanceller("nlms", filter_length=64, postfilter=0, warm_up=False)
    >>> live.push_reference(np.zeros(256))          # playback callback, any block size
    >>> live.process(np.zeros(100)).shape           # capture callback: as many samples back
    (100,)
    >>> live.latency, live.stats.glitches           # 159 samples of added latency, nothing lost
    (159, 0)
    """

    def __init__(
        self,
        canceller: Any = None,
        *,
        sample_rate: int | None = None,
        frame_size: int | None = None,
        device_latency: int = 0,
        fifo_seconds: float = FIFO_SECONDS,
        warm_up: bool = True,
        **options: Any,
    ) -> None:
        self.canceller = _build_canceller(canceller, sample_rate, frame_size, options)
        self.frame_size = check_positive_int(self.canceller.frame_size, "frame_size")
        self.sample_rate = check_positive_int(
            getattr(self.canceller, "sample_rate", None) or sample_rate or 16000, "sample_rate"
        )
        capacity = round(check_positive_float(fifo_seconds, "fifo_seconds") * self.sample_rate)
        self._fifo = ReferenceFifo(max(capacity, 1))
        self.device_latency = device_latency
        if warm_up:
            warm_up_canceller(self.canceller, self.sample_rate)
        self._mic = np.zeros(self.frame_size)  # the frame being gathered
        self._ref = np.zeros(self.frame_size)
        self._pending = np.zeros(2 * self.frame_size)  # cleaned samples not returned yet
        self._restart()

    # ----------------------------------------------------------------- the two sides
    def push_reference(self, block: Any) -> None:
        """Playback side: the next block played, shape ``(n,)`` or ``(n, 1)``, any ``n``. Never raises."""
        samples, valid = _samples(block)
        if not valid:
            self._bad_reference_blocks += 1
        self._fifo.write(samples)

    def process(self, block: Any) -> np.ndarray:
        """Capture side: cancel the echo in the next recorded block. Never raises.

        Parameters
        ----------
        block : array_like, shape (n,) or (n, 1)
            Microphone samples, any ``n``; float (or signed-integer PCM).

        Returns
        -------
        numpy.ndarray, shape (n,), float64
            Cleaned samples, :attr:`latency` samples behind ``block``. Always finite.
        """
        started = time.perf_counter()
        mic, valid = _samples(block)
        if not valid:
            self._bad_capture_blocks += 1
        n = len(mic)
        out = np.empty(n)
        size = self.frame_size
        taken = returned = 0
        while taken < n:
            step = min(size - self._gathered, n - taken)
            self._mic[self._gathered : self._gathered + step] = mic[taken : taken + step]
            self._gathered += step
            taken += step
            if self._gathered == size:
                self._run_frame()
                self._gathered = 0
                returned += self._take_pending(out[returned:taken])
        self._take_pending(out[returned:])  # never short: frame_size - 1 samples of head start
        self._captured += n
        elapsed = time.perf_counter() - started
        self._calls += 1
        self._total_seconds += elapsed
        self._max_seconds = max(self._max_seconds, elapsed)
        return out

    # ----------------------------------------------------------------- settings and state
    @property
    def device_latency(self) -> int:
        """Samples between playing a reference sample and capturing it (without the acoustic path).

        Settable while the callbacks run: the next frame is paired anew (the
        canceller sees an echo-path change). Raises ``ValueError`` if it does
        not fit the FIFO.
        """
        return self._device_latency

    @device_latency.setter
    def device_latency(self, samples: int) -> None:
        samples = check_positive_int(samples, "device_latency", minimum=0)
        room = self._fifo.capacity - self.frame_size
        if samples >= room:
            raise ValueError(
                f"device_latency={samples} samples does not fit the {self._fifo.capacity}-sample FIFO: "
                f"raise fifo_seconds"
            )
        self._device_latency = samples

    @property
    def latency(self) -> int:
        """Samples by which the output lags the microphone: ``frame_size - 1`` + the canceller's latency."""
        return self.frame_size - 1 + int(getattr(self.canceller, "latency", 0))

    @property
    def stats(self) -> LiveStats:
        """The counters now (safe to read from any thread while the callbacks run)."""
        fifo = self._fifo
        calls = self._calls
        return LiveStats(
            frames=self._frames,
            captured_samples=self._captured,
            played_samples=fifo.written,
            underruns=fifo.underruns,
            missing_samples=fifo.missing_samples,
            overruns=fifo.overruns,
            dropped_samples=fifo.dropped_samples,
            bad_capture_blocks=self._bad_capture_blocks,
            bad_reference_blocks=self._bad_reference_blocks,
            canceller_errors=self._errors,
            canceller_resets=int(getattr(self.canceller, "n_resets", 0)),
            buffered_samples=fifo.buffered,
            max_callback_seconds=self._max_seconds,
            mean_callback_seconds=self._total_seconds / calls if calls else 0.0,
            last_error=self._last_error,
        )

    def reset(self) -> None:
        """Start over: empty FIFO and buffers, zero counters, canceller reset. Call it with the streams stopped."""
        self._fifo = ReferenceFifo(self._fifo.capacity)
        if callable(getattr(self.canceller, "reset", None)):
            self.canceller.reset()
        self._restart()

    # ----------------------------------------------------------------- internals
    def _restart(self) -> None:
        self._gathered = 0
        self._n_pending = self.frame_size - 1  # the head start of zeros that makes the output never short
        self._pending[:] = 0.0
        self._frames = self._captured = self._calls = 0
        self._bad_capture_blocks = self._bad_reference_blocks = self._errors = 0
        self._total_seconds = self._max_seconds = 0.0
        self._last_error: str | None = None

    def _run_frame(self) -> None:
        """Cancel the gathered microphone frame; append the result to the pending output."""
        size = self.frame_size
        self._fifo.read(self._frames * size - self._device_latency, self._ref)
        try:
            # contiguous float64, the one layout the finiteness kernel is compiled for (no compiling here)
            cleaned = np.ascontiguousarray(self.canceller.process(self._mic, self._ref), dtype=np.float64)
            if cleaned.shape != (size,) or not all_finite(cleaned):
                raise ValueError(f"the canceller returned a frame of shape {cleaned.shape} or with NaN/Inf")
        except Exception as error:  # noqa: BLE001 - an audio callback must not raise: pass the frame through
            self._errors += 1
            self._last_error = f"{type(error).__name__}: {error}"
            cleaned = self._mic
        self._pending[self._n_pending : self._n_pending + size] = cleaned
        self._n_pending += size
        self._frames += 1

    def _take_pending(self, out: np.ndarray) -> int:
        """Move the oldest pending samples into ``out`` (as many as fit); return how many."""
        count = min(len(out), self._n_pending)
        out[:count] = self._pending[:count]
        self._pending[: self._n_pending - count] = self._pending[count : self._n_pending]
        self._n_pending -= count
        return count
