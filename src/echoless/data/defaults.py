"""The two built-in data sets, mirroring the seed's ``synth`` and ``real``.

Both are 20 s scenes at 16 kHz made by :func:`~echoless.data.make_scene`
from the shipped speech, so they need no download and are the same on every
machine.

``synth``
    A linear echo path in a 5 x 4 x 3 m room (RT60 0.4 s), 40 % far-end single
    talk, 40 % double talk at 0 dB signal-to-echo ratio, 20 % near-end single
    talk, quiet noise (40 dB SNR). The true echo and near end are known, so
    the oracle metrics apply.
``real``
    Stands in for the seed's real recording: another room (4 x 3.5 x 2.7 m,
    RT60 0.3 s), the voices swapped, a loudspeaker driven into soft clipping,
    a 12 ms bulk delay and audible noise (25 dB SNR). Like a real recording it
    exposes only ``mic`` and ``ref``: ``near_end`` and ``echo`` are None.
"""

from __future__ import annotations

import copy
import functools

from echoless.data.example import EchoExample
from echoless.data.scenes import make_scene

__all__ = ["default_dataset"]

_DURATION = 20.0


@functools.lru_cache(maxsize=1)
def _build() -> dict[str, EchoExample]:
    synth = make_scene(_DURATION, seed=0).to_example("synth")
    scene = make_scene(
        _DURATION,
        seed=3,
        rt60=0.3,
        room_dim=(4.0, 3.5, 2.7),
        ser_db=0.0,
        snr_db=25.0,
        delay_ms=12.0,
        nonlinearity=1.0,
    )
    real = EchoExample(
        mic=scene.mic,
        ref=scene.ref,
        sample_rate=scene.sample_rate,
        name="real",
        meta={"simulated": True, "truth_withheld": True, "scene": scene.meta},
    )
    return {"synth": synth, "real": real}


def default_dataset() -> dict[str, EchoExample]:
    """The built-in ``synth`` and ``real`` examples (20 s each, 16 kHz, no download).

    Returns
    -------
    dict of str to EchoExample
        ``"synth"`` with ``near_end`` and ``echo`` known; ``"real"`` with only
        ``mic`` and ``ref``. Each call returns fresh copies, safe to modify.
    """
    return copy.deepcopy(_build())
