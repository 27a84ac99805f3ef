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

Names are imported on first use, so ``import echoless.live`` imports neither
numba nor sounddevice.
"""

from __future__ import annotations

import importlib

# public name -> module (relative to echoless.live) that defines it
_EXPORTS: dict[str, str] = {
    "LiveCanceller": "canceller",
    "LiveStats": "canceller",
    "default_canceller": "canceller",
    "warm_up_canceller": "canceller",
    "ReferenceFifo": "fifo",
    "SimulatedDuplex": "simulate",
    "SimulatedRun": "simulate",
}


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'echoless.live' has no attribute {name!r}")
    return getattr(importlib.import_module(f"echoless.live.{module}"), name)


def __dir__() -> list[str]:
    return sorted(_EXPORTS)


__all__ = sorted(_EXPORTS)
