"""A duplex sound card in software: callbacks on a clock, an echo path, a talker.

Test a :class:`~echoless.live.LiveCanceller` (or try one) without audio
hardware. Time counts in sample periods. Playback block ``j`` (far-end
samples ``j*B_p .. (j+1)*B_p``) starts playing at ``j*B_p + playback_latency``;
its callback asks for it one block ahead, at ``j*B_p + playback_latency - B_p``,
up to ``jitter`` earlier. Microphone sample ``m`` is captured at time ``m``:

    mic[m] = (far_end * echo_path)[m - playback_latency] + near_end[m],

so ``playback_latency`` is the device latency a
:class:`~echoless.live.LiveCanceller` should be given, and the acoustic delay
is the leading zeros of ``echo_path``. Capture block ``i`` (samples
``i*B_c .. (i+1)*B_c``) is delivered at ``(i+1)*B_c + capture_latency``, up
to ``jitter`` later. The two callbacks run in the order of those times, so
with jitter their interleaving changes from period to period, as with two
real streams. Callbacks of one side keep their order; a late one delays the
next (they then come in a burst). ``playback_stall`` / ``capture_stall``
hold back every callback of one side for a while, as a busy thread does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from echoless._validation import as_signal, check_positive_int, check_same_length
from echoless.conv import convolve


@dataclass(frozen=True)
class SimulatedRun:
    """What a :meth:`SimulatedDuplex.run` recorded (all shape (T,), float64).

    Attributes
    ----------
    mic : numpy.ndarray
        Microphone signal given to the capture callback.
    ref : numpy.ndarray
        Far end as played (what the playback callback pushed, sample for sample).
    out : numpy.ndarray
        Concatenated outputs of :meth:`~echoless.live.LiveCanceller.process`.
    echo : numpy.ndarray
        The echo part of ``mic`` (``mic - near_end``).
    """

    mic: np.ndarray
    ref: np.ndarray
    out: np.ndarray
    echo: np.ndarray


@dataclass
class SimulatedDuplex:
    """A simulated full-duplex sound card (see the module notes).

    Parameters
    ----------
    playback_block, capture_block : int
        Samples per playback and per capture callback.
    playback_latency : int
        Samples from the playback callback's block to the loudspeaker, plus
        one block: the true device latency. At least ``playback_block + jitter``.
    capture_latency : int
        Samples from capturing a block's last sample to its callback.
    jitter : int
        Largest timing error of a callback, samples (playback early, capture late).
    playback_stall, capture_stall : tuple of int, optional
        ``(start, length)``: no callback of that side runs between those times
        (samples); the ones due run at ``start + length``.
    seed : int
        Seed of the jitter.

    Examples
    --------
    >>> import numpy as np
    >>> from echoless.live import LiveCanceller
    >>> device = SimulatedDuplex(playback_block=256, capture_block=160, jitter=100)
    >>> live = LiveCanceller("pfdkf", filter_length=160, device_latency=device.playback_latency, warm_up=False)
    >>> far_end = 0.1 * np.random.default_rng(0).standard_normal(32000)
    >>> run = device.run(live, far_end, echo_path=[0.0, 0.0, 0.5, 0.25])
    >>> len(run.out) == len(run.mic), live.stats.glitches
    (True, 0)
    >>> lag = live.latency                               # 159 samples
    >>> float(np.std(run.out[-8000:]) / np.std(run.mic[-8000 - lag : -lag])) < 0.01
    True
    """

    playback_block: int = 256
    capture_block: int = 160
    playback_latency: int = 1024
    capture_latency: int = 160
    jitter: int = 100
    playback_stall: tuple[int, int] | None = None
    capture_stall: tuple[int, int] | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        check_positive_int(self.playback_block, "playback_block")
        check_positive_int(self.capture_block, "capture_block")
        check_positive_int(self.capture_latency, "capture_latency", minimum=0)
        check_positive_int(self.jitter, "jitter", minimum=0)
        check_positive_int(self.playback_latency, "playback_latency", minimum=self.playback_block + self.jitter)

    def run(self, live, far_end: ArrayLike, echo_path: ArrayLike, near_end: ArrayLike | None = None) -> SimulatedRun:
        """Play ``far_end``, capture its echo plus ``near_end`` through ``live``.

        Parameters
        ----------
        live : LiveCanceller
            Receives ``push_reference`` and ``process`` calls.
        far_end : array_like, shape (T,)
            What the loudspeaker plays.
        echo_path : array_like, shape (L,)
            Loudspeaker-to-microphone impulse response (acoustic delay included).
        near_end : array_like, shape (T,), optional
            The local talker and noise at the microphone (default silence).

        Returns
        -------
        SimulatedRun
            Signals of ``T // capture_block * capture_block`` samples.
        """
        far_end = as_signal(far_end, "far_end")
        echo_path = as_signal(echo_path, "echo_path")
        near_end = np.zeros(len(far_end)) if near_end is None else as_signal(near_end, "near_end")
        check_same_length(far_end, near_end, "far_end", "near_end")
        n = len(far_end) // self.capture_block * self.capture_block
        if n == 0:
            raise ValueError(f"far_end has {len(far_end)} samples, fewer than capture_block={self.capture_block}")
        delay = self.playback_latency
        echo = np.zeros(n)
        echo[delay:] = convolve(far_end, echo_path)[: max(0, n - delay)]
        mic = echo + near_end[:n]
        played = np.zeros(-(-n // self.playback_block) * self.playback_block)
        played[:n] = far_end[:n]
        out: list[np.ndarray] = []
        for side, start, stop in self._callbacks(n, len(played)):
            if side == "playback":
                live.push_reference(played[start:stop])
            else:
                out.append(live.process(mic[start:stop]))
        return SimulatedRun(mic=mic, ref=played[:n], out=np.concatenate(out), echo=echo)

    def _callbacks(self, n_capture: int, n_playback: int) -> list[tuple[str, int, int]]:
        """Every callback as ``(side, first sample, end sample)``, in the order the clock runs them."""
        rng = np.random.default_rng(self.seed)
        events = []
        for side, block, n, stall in (
            ("playback", self.playback_block, n_playback, self.playback_stall),
            ("capture", self.capture_block, n_capture, self.capture_stall),
        ):
            starts = np.arange(0, n, block)
            jitter = rng.uniform(0, self.jitter, len(starts))
            if side == "playback":
                times = starts + self.playback_latency - block - jitter
            else:
                times = starts + block + self.capture_latency + jitter
            if stall is not None:
                first, length = stall
                times = np.where((times >= first) & (times < first + length), first + length, times)
            # one side's callbacks never overtake each other, even in a burst of equal times
            times = np.maximum.accumulate(times) + 1e-6 * np.arange(len(times))
            # random tie-break: a stalled burst and the other side's callback at the same time
            events += [(time, rng.random(), side, start, start + block) for time, start in zip(times, starts)]
        events.sort()
        return [(side, start, stop) for _, _, side, start, stop in events]
