"""Data for echo cancellation: examples, data sets and simulated echo scenes.

:class:`EchoExample`
    ``mic``, ``ref`` and, when known, the true ``near_end`` and ``echo``.
:func:`default_dataset`
    The built-in ``synth`` and ``real`` examples, from the shipped speech.
:func:`make_scene`
    Realistic scenes: real speech, a simulated room, loudspeaker
    nonlinearity, noise, double talk and echo-path changes.
:func:`load_seed_dataset`, :func:`download_seed_dataset`
    The seed assignment's ``homework_2/{real,synth}`` recordings.
:func:`load_aec_challenge`
    The ICASSP AEC-Challenge synthetic layout.
:func:`with_upper_band`
    A scene at 32 kHz or more with content above 8 kHz, which the shipped speech lacks.
:func:`save_scene`, :func:`load_scene`
    A scene or your own recording as a folder of WAV files and ``meta.json``.
"""

from echoless.data.aec_challenge import load_aec_challenge
from echoless.data.defaults import default_dataset
from echoless.data.example import EchoExample
from echoless.data.rooms import loudspeaker, measure_rt60, room_impulse_responses
from echoless.data.scene_io import load_scene, save_scene
from echoless.data.scenes import Scene, make_scene
from echoless.data.seed import download_seed_dataset, load_seed_dataset
from echoless.data.upper_band import with_upper_band

__all__ = [
    "EchoExample",
    "Scene",
    "default_dataset",
    "download_seed_dataset",
    "load_aec_challenge",
    "load_scene",
    "load_seed_dataset",
    "loudspeaker",
    "make_scene",
    "measure_rt60",
    "room_impulse_responses",
    "save_scene",
    "with_upper_band",
]
