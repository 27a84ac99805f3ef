"""The speech and music shipped inside the package, decoded once per process.

``src/echoless/data/speech/`` holds 16 kHz mono FLAC recordings
(CC-BY-SA-3.0, see the README there): two talkers, who serve as far end and
near end of the synthetic scenes, and one piece of music for a far end that
plays music.
"""

from __future__ import annotations

import functools
from importlib import resources

import numpy as np

from echoless._validation import check_choice
from echoless.io import read_audio

__all__ = ["MUSIC", "SAMPLE_RATE", "TALKERS", "load_recording"]

SAMPLE_RATE = 16000
TALKERS = ("allison_en_f", "june_fr_f")
MUSIC = "music_morning_coffee"


@functools.lru_cache(maxsize=None)
def load_recording(name: str) -> np.ndarray:
    """Return one shipped recording as a read-only float64 array at 16 kHz.

    Parameters
    ----------
    name : str
        One of :data:`TALKERS` or :data:`MUSIC`.

    Returns
    -------
    numpy.ndarray, shape (n_samples,)
        Read-only (it is cached and shared): copy it before changing it.
    """
    check_choice(name, "recording", (*TALKERS, MUSIC))
    with resources.as_file(resources.files("echoless.data") / "speech" / f"{name}.flac") as path:
        samples = read_audio(path, SAMPLE_RATE)
    samples.setflags(write=False)
    return samples
