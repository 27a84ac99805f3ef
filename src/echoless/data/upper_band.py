"""Content above 8 kHz for a scene at 32 kHz or more: the shipped speech stops at 8 kHz.

:func:`make_scene` builds every rate from 16 kHz recordings, so above 8 kHz
its far end, echo and near end are silent, and a canceller's handling of that
band (:mod:`echoless.aec.subband`) goes unmeasured. :func:`with_upper_band`
adds to each talker a hiss above :data:`UPPER_BAND_HZ` that follows the
talker's envelope (as fricatives and breath do), ``level_db`` below the
talker's power, and rebuilds the echo through the scene's own echo path(s)
and loudspeaker. Noise, timeline and impulse responses are unchanged.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
from scipy import signal

from echoless._validation import check_positive_int
from echoless.conv import convolve
from echoless.data.rooms import loudspeaker
from echoless.data.scenes import Scene

#: Lower edge of the added band, Hz (8th-order Butterworth, zero phase).
UPPER_BAND_HZ = 9000.0


def with_upper_band(scene: Scene, level_db: float = -20.0, seed: int = 0) -> Scene:
    """The scene with a hiss above 9 kHz on the far end (so on the echo) and on the near end.

    Parameters
    ----------
    scene : Scene
        From :func:`echoless.data.make_scene`, at a rate above 18 kHz.
    level_db : float
        Power of each talker's hiss relative to the talker's own power, dB
        (default -20; the band above 8 kHz of real speech is 20-30 dB down).
    seed : int
        Seed of the hiss.

    Returns
    -------
    Scene
        A new scene: ``ref``, ``echo``, ``near`` and ``mic`` changed, ``meta``
        with ``"upper_band_db"``.

    Raises
    ------
    ValueError
        If the scene's rate has no band above 9 kHz, or ``level_db`` is not finite.
    """
    rate = scene.sample_rate
    if rate <= 2 * UPPER_BAND_HZ:
        raise ValueError(f"a {rate} Hz scene has no band above {UPPER_BAND_HZ:g} Hz to fill")
    if not math.isfinite(level_db):
        raise ValueError(f"level_db must be finite, got {level_db}")
    rng = np.random.default_rng(check_positive_int(seed, "seed", minimum=0))
    highpass = signal.butter(8, UPPER_BAND_HZ, "highpass", fs=rate, output="sos")
    smoothing = np.ones(rate // 100) / (rate // 100)  # 10 ms envelope

    def hiss(talker: np.ndarray) -> np.ndarray:
        shaped = signal.sosfiltfilt(highpass, rng.standard_normal(len(talker))) * np.convolve(
            np.abs(talker), smoothing, "same"
        )
        power = float(np.sum(shaped**2))
        return shaped * math.sqrt(10.0 ** (level_db / 10.0) * float(np.sum(talker**2)) / power) if power > 0 else shaped

    ref = scene.ref + hiss(scene.ref)
    emitted = loudspeaker(ref, scene.meta.get("nonlinearity", 0.0))
    n_samples = len(ref)
    echo = convolve(emitted, scene.rir)[:n_samples]
    change = scene.meta.get("path_change_sample")
    if scene.rir_after_change is not None and change is not None:
        echo[change:] = convolve(emitted, scene.rir_after_change)[change:n_samples]
    near = scene.near + hiss(scene.near)
    meta = {**scene.meta, "upper_band_db": float(level_db)}
    return replace(scene, ref=ref, echo=echo, near=near, mic=echo + near + scene.noise, meta=meta)
