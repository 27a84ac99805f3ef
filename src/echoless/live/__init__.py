"""Real-time echo cancellation between a sound card's playback and capture callbacks.

The application plays far-end audio and records the microphone; the two
callbacks hand their blocks to one :class:`LiveCanceller`::

    live = LiveCanceller(device_latency=...)       # PFDKF, delay search, suppressor; compiled now
    # playback callback:  live.push_reference(block_played)
    # capture callback:   cleaned = live.process(block_recorded)
    live.stats                                     # underruns, overruns, callback time, ...

:mod:`echoless.live.canceller`
    :class:`LiveCanceller`, its counters :class:`LiveStats`, its added
    latency and alignment rules.
:mod:`echoless.live.fifo`
    :class:`ReferenceFifo`, the bounded, locked ring between the two sides.
:mod:`echoless.live.simulate`
    :class:`SimulatedDuplex`, a sound card in software (callbacks of
    different block sizes on a jittery clock, an echo path, a talker) to
    test or try the live path without hardware.
:mod:`echoless.live.device`
    The ``echoless live`` session on a real sound card through
    `sounddevice <https://python-sounddevice.readthedocs.io>`_
    (``pip install echoless[live]``; PortAudio, Debian's ``libportaudio2``).

sounddevice is imported only by :mod:`echoless.live.device`, when a session starts.
"""

from echoless.live.canceller import LiveCanceller, LiveStats, warm_up_canceller
from echoless.live.fifo import ReferenceFifo
from echoless.live.simulate import SimulatedDuplex, SimulatedRun

__all__ = [
    "LiveCanceller",
    "LiveStats",
    "ReferenceFifo",
    "SimulatedDuplex",
    "SimulatedRun",
    "warm_up_canceller",
]
