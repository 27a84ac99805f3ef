r"""Realistic echo scenes built from the shipped speech and a simulated room.

A scene is what one microphone of a hands-free device records:

.. math::

    \text{mic} = \underbrace{h * L(\text{ref})}_{\text{echo}}
               + \underbrace{g * \text{talker}}_{\text{near}} + \text{noise}

* ``ref`` is the far end (one shipped talker, or music), gated by the
  :mod:`~echoless.data.timeline`.
* :math:`L` is the loudspeaker (:func:`~echoless.data.rooms.loudspeaker`):
  an amplifier that soft-clips (``nonlinearity``) and a small driver whose
  harmonic distortion grows with level (``distortion``); linear when both are 0.
* :math:`h` is the echo path: a bulk delay (``delay_ms``, e.g. a sound-card
  buffer) then the room impulse response from the loudspeaker to the
  microphone. With ``path_change_at`` the loudspeaker moves at that time and
  the echo after it comes from a second response (an abrupt echo-path change).
* :math:`g` is the response from the near-end talker (the other shipped
  voice) to the microphone, in the same room.
* ``noise`` is stationary pink noise (power falling 3 dB per octave).
* With ``clock_drift_ppm`` the microphone's sample clock runs that many
  parts per million faster than the loudspeaker's: microphone sample ``n``
  is taken at reference time ``n / (1 + ppm * 1e-6)``, so the echo is
  band-limited interpolation of the drift-free echo at those positions
  (:func:`echoless.aec.fractional.interpolate`, 48 taps a side, flat to 0.82
  of the Nyquist frequency and closed above 0.98 of it, as the microphone's
  anti-aliasing filter would be) and its delay grows by ``ppm``
  microseconds per second (100 ppm: 96 samples at 16 kHz after 60 s). A tone
  in the reference reaches the microphone ``ppm`` parts per million lower in
  digital frequency. The near end and the noise have no reference to drift
  against and are left as they are.

Multichannel scenes (``n_loudspeakers=2``, ``n_mics=M``): the device has a
uniform circular microphone array (radius :data:`ARRAY_RADIUS`, as a smart
speaker's) centred where the single microphone would be, and a second
loudspeaker placed like the first; pyroomacoustics simulates every
loudspeaker-to-microphone path. Stereo playback is what a far-end room
sends: the far-end talker (or the music) picked up by a spaced pair of
microphones :data:`FAR_PAIR_SPACING` apart, 1 to 2 m from the source, in a
room of the same size and reverberation time. The two channels are then
highly correlated, not identical, which is the hard case of stereo echo
cancellation. The choices that single-channel scenes do not need come from a
second generator seeded from ``seed``, so a single-channel scene is unchanged.

Levels follow from two ratios, each measured over the samples where the
talker is active (the far end's for the echo, the near end's for near and
noise): ``ser_db`` = near-end power over echo power (signal-to-echo ratio;
0 dB is a hard double talk) and ``snr_db`` = near-end power over noise power.
Echo, near and noise then share one gain that puts the microphone peak at
0.5 (-6 dBFS); that gain is part of :attr:`Scene.rir`, so
``echo == convolve(loudspeaker(ref), rir)[:T]`` holds exactly before any path change.

Everything random (which voice is the far end, where each recording starts,
the positions in the room, the noise) comes from one
:func:`numpy.random.default_rng` seeded with ``seed``: the same arguments give
the same scene, sample for sample.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from echoless._validation import check_choice, check_positive_float, check_positive_int
from echoless.aec.fractional import interpolate
from echoless.conv import convolve
from echoless.io import resample_signal
from echoless.data.example import EchoExample
from echoless.data.rooms import loudspeaker, room_impulse_responses
from echoless.data.talkers import MUSIC, SAMPLE_RATE, TALKERS, load_recording
from echoless.data.timeline import (
    DEFAULT_TIMELINE,
    FAR_END_ACTIVE,
    NEAR_END_ACTIVE,
    activity_mask,
    build_timeline,
)

__all__ = ["Scene", "make_scene"]

#: Radius of the circular microphone array of multichannel scenes, metres.
ARRAY_RADIUS = 0.035
#: Spacing of the far-end room's microphone pair that records stereo playback, metres.
FAR_PAIR_SPACING = 0.3

_MIC_PEAK = 0.5
# Loudspeaker-to-microphone distance of a hands-free device (laptop, speakerphone), metres.
_SPEAKER_DISTANCE = (0.1, 0.4)
# Near-end talker to microphone, metres.
_TALKER_DISTANCE = (0.6, 1.5)
_WALL_MARGIN = 0.3
# Sound-card clocks differ by tens of ppm; a thousand is a wrong sample rate, not a drift.
_MAX_DRIFT_PPM = 1000.0
# Half-width, Kaiser shape and cut-off (of the Nyquist frequency) of the interpolation that
# simulates clock drift: flat to 0.82 (error below -100 dB), -6 dB at 0.9, below -100 dB from
# 0.98, as a converter's anti-aliasing filter. Without the cut-off, the band the kernel cannot
# interpolate exactly (the last few percent below Nyquist) would flicker as the fractional
# delay turns, an echo no converter records, which caps any canceller near 53 dB of ERLE.
_DRIFT_KERNEL = (48, 12.0, 0.9)


@dataclass
class Scene:
    """A simulated microphone recording and all of its parts.

    Multichannel scenes (``n_loudspeakers`` or ``n_mics`` above 1) have one
    column per loudspeaker in ``ref`` and one per microphone in the others;
    :meth:`to_example` needs a single-channel scene.

    Attributes
    ----------
    ref : numpy.ndarray, shape (T,) or (T, n_ref)
        Far-end reference sent to the loudspeaker(s).
    echo : numpy.ndarray, shape (T,) or (T, n_mic)
        Echo at the microphone(s).
    near : numpy.ndarray, shape (T,) or (T, n_mic)
        Near-end talker at the microphone(s) (reverberant).
    noise : numpy.ndarray, shape (T,) or (T, n_mic)
        Background noise at the microphone(s).
    mic : numpy.ndarray, shape (T,) or (T, n_mic)
        ``echo + near + noise``.
    rir : numpy.ndarray, shape (L,) or (n_mic, n_ref, L)
        Echo path (bulk delay, room, common gain) from the loudspeaker output
        to the microphone, before any path change (one per pair in a
        multichannel scene).
    sample_rate : int
        Sample rate in Hz.
    meta : dict
        Every parameter, the ``"timeline"``, the chosen recordings and
        offsets, the positions and the measured RT60 of each response.
    rir_after_change : numpy.ndarray, shape (L,) or (n_mic, n_ref, L), optional
        Echo path after ``path_change_at`` (None without a change).
    """

    ref: np.ndarray
    echo: np.ndarray
    near: np.ndarray
    noise: np.ndarray
    mic: np.ndarray
    rir: np.ndarray
    sample_rate: int
    meta: dict[str, Any] = field(default_factory=dict)
    rir_after_change: np.ndarray | None = None

    def to_example(self, name: str = "") -> EchoExample:
        """The scene as an :class:`EchoExample` (``near_end = near + noise``)."""
        return EchoExample(
            mic=self.mic,
            ref=self.ref,
            sample_rate=self.sample_rate,
            near_end=self.near + self.noise,
            echo=self.echo,
            rir=self.rir,
            name=name,
            meta=dict(self.meta),
        )


def _finite(value: Any, name: str, *, allow_inf: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    number = float(value)
    if math.isnan(number) or (math.isinf(number) and not (allow_inf and number > 0)):
        allowed = "finite or +inf" if allow_inf else "finite"
        raise ValueError(f"{name} must be {allowed}, got {value}")
    return number


def _clip(recording: np.ndarray, offset: int, n_samples: int) -> np.ndarray:
    """``n_samples`` of ``recording`` from ``offset``, looping past its end."""
    return np.take(recording, np.arange(offset, offset + n_samples), mode="wrap")


def _point_near(rng: np.random.Generator, anchor: np.ndarray, distance: tuple[float, float], room: np.ndarray) -> np.ndarray:
    """A random point at a random distance from ``anchor``, kept away from the walls."""
    for _ in range(1000):
        direction = rng.standard_normal(3)
        direction[2] *= 0.2  # devices and heads sit at similar heights
        point = anchor + rng.uniform(*distance) * direction / np.linalg.norm(direction)
        if np.all(point > _WALL_MARGIN) and np.all(point < room - _WALL_MARGIN):
            return point
    raise ValueError(f"room_dim {room.tolist()} is too small to place a device and a talker in it")


def _pink_noise(rng: np.random.Generator, n_samples: int) -> np.ndarray:
    """Unit-power noise whose power spectrum falls as 1/f."""
    spectrum = np.fft.rfft(rng.standard_normal(n_samples))
    frequency = np.arange(len(spectrum), dtype=np.float64)
    frequency[0] = 1.0  # no infinite DC gain
    noise = np.fft.irfft(spectrum / np.sqrt(frequency), n_samples)
    return noise / np.sqrt(np.mean(noise**2))


def _active_power(x: np.ndarray, mask: np.ndarray) -> float:
    """Power of ``x`` (T,) or (T, channels) where ``mask`` (T,) is on, averaged over channels."""
    weight = float(np.sum(mask))
    if weight == 0.0:
        return 0.0
    channels = 1 if x.ndim == 1 else x.shape[1]
    return float(np.sum(mask * (x.T) ** 2) / (weight * channels))


def _circular_array(rng: np.random.Generator, centre: np.ndarray, n_mics: int) -> list[np.ndarray]:
    """``n_mics`` positions on a horizontal circle of :data:`ARRAY_RADIUS` around ``centre``, randomly turned."""
    angles = rng.uniform(0, 2 * np.pi) + 2 * np.pi * np.arange(n_mics) / n_mics
    return [centre + ARRAY_RADIUS * np.array([np.cos(a), np.sin(a), 0.0]) for a in angles]


def _stereo_recording(
    rng: np.random.Generator, clip: np.ndarray, room: np.ndarray, rt60: float, sample_rate: int
) -> np.ndarray:
    """``clip`` (T,) as a spaced microphone pair in a far-end room records it: (T, 2), same peak."""
    centre = np.array([rng.uniform(1.0, side - 1.0) if side > 2.0 else side / 2 for side in room[:2]] + [1.5])
    centre[2] = min(1.5, room[2] - _WALL_MARGIN)
    axis = rng.uniform(0, 2 * np.pi)
    offset = 0.5 * FAR_PAIR_SPACING * np.array([np.cos(axis), np.sin(axis), 0.0])
    source = _point_near(rng, centre, (1.0, 2.0), room)
    channels = [room_impulse_responses(room, rt60, centre + sign * offset, [source], sample_rate)[0][0] for sign in (-1, 1)]
    stereo = np.stack([convolve(clip, rir)[: len(clip)] for rir in channels], axis=1)
    peak = float(np.max(np.abs(stereo)))
    return stereo * (float(np.max(np.abs(clip))) / peak) if peak > 0.0 else stereo


def make_scene(
    duration: float = 10.0,
    *,
    sample_rate: int = 16000,
    seed: int = 0,
    far_end: str = "speech",
    rt60: float = 0.4,
    room_dim: Sequence[float] = (5.0, 4.0, 3.0),
    ser_db: float = 0.0,
    snr_db: float = 40.0,
    delay_ms: float = 0.0,
    path_change_at: float | None = None,
    nonlinearity: float = 0.0,
    distortion: float = 0.0,
    timeline: Sequence[tuple[str, float]] | None = None,
    clock_drift_ppm: float = 0.0,
    n_loudspeakers: int = 1,
    n_mics: int = 1,
) -> Scene:
    """Simulate a hands-free recording with echo, a near-end talker and noise.

    Parameters
    ----------
    duration : float
        Length in seconds.
    sample_rate : int
        Sample rate in Hz (the shipped recordings are 16 kHz and are resampled otherwise).
    seed : int
        Seed of every random choice.
    far_end : {"speech", "music"}
        What the far end plays: one of the two shipped voices, or music.
    rt60 : float
        Reverberation time of the room in seconds. The image-source
        simulation grows with it: about 0.3 s of computing for 0.4 s in the
        default room, several seconds beyond 0.8 s.
    room_dim : sequence of 3 floats
        Room length, width, height in metres.
    ser_db : float
        Signal-to-echo ratio in dB: near-end power over echo power.
    snr_db : float
        Near-end power over noise power in dB; ``math.inf`` for no noise.
    delay_ms : float
        Bulk delay added in front of the echo path, in milliseconds.
    path_change_at : float, optional
        Time in seconds at which the loudspeaker moves (echo-path change).
    nonlinearity : float
        Loudspeaker amplifier drive (soft clipping); 0 is linear.
    distortion : float
        Loudspeaker driver distortion ``h`` in ``[0, 2/7]``: a sine at the far
        end's peak level gets a 2nd harmonic of ``h/2`` and a 3rd of ``h/8``
        of its amplitude, less at lower levels (see
        :func:`~echoless.data.rooms.loudspeaker`); 0 is linear.
    timeline : sequence of (label, fraction), optional
        Who talks when, as shares of ``duration`` (see
        :mod:`echoless.data.timeline`). Default: 40 % far-end single talk,
        40 % double talk, 20 % near-end single talk.
    clock_drift_ppm : float
        How much faster the microphone's sample clock runs than the
        loudspeaker's, in parts per million (negative: slower); see the
        module notes. Within +-1000.
    n_loudspeakers : {1, 2}
        2 plays a stereo far end (see the module notes); ``ref`` is then (T, 2).
    n_mics : int
        Microphones of a circular array (see the module notes); ``mic``,
        ``echo``, ``near`` and ``noise`` are then (T, n_mics). With
        ``path_change_at`` every loudspeaker moves.

    Returns
    -------
    Scene

    Raises
    ------
    TypeError, ValueError
        For an argument of the wrong type or out of range, named in the message.
    """
    duration = check_positive_float(duration, "duration")
    sample_rate = check_positive_int(sample_rate, "sample_rate")
    seed = check_positive_int(seed, "seed", minimum=0)
    far_end = check_choice(far_end, "far_end", ("speech", "music"))
    rt60 = check_positive_float(rt60, "rt60")
    ser_db = _finite(ser_db, "ser_db")
    snr_db = _finite(snr_db, "snr_db", allow_inf=True)
    delay_ms = check_positive_float(delay_ms, "delay_ms", allow_zero=True)
    nonlinearity = check_positive_float(nonlinearity, "nonlinearity", allow_zero=True)
    distortion = check_positive_float(distortion, "distortion", allow_zero=True)
    clock_drift_ppm = _finite(clock_drift_ppm, "clock_drift_ppm")
    if abs(clock_drift_ppm) > _MAX_DRIFT_PPM:
        raise ValueError(f"clock_drift_ppm={clock_drift_ppm} is beyond +-{_MAX_DRIFT_PPM:g} (sound-card clocks differ by tens)")
    if path_change_at is not None:
        path_change_at = check_positive_float(path_change_at, "path_change_at")
        if path_change_at >= duration:
            raise ValueError(f"path_change_at={path_change_at} s must fall inside the scene (duration {duration} s)")
    try:
        room = np.asarray(room_dim, dtype=np.float64)
    except (TypeError, ValueError):
        room = np.empty(0)
    if room.shape != (3,) or not np.all(np.isfinite(room)) or np.any(room <= 2 * _WALL_MARGIN):
        raise ValueError(f"room_dim must be 3 lengths in metres, each above {2 * _WALL_MARGIN} m, got {room_dim!r}")
    n_samples = int(round(duration * sample_rate))
    if n_samples < 1:
        raise ValueError(f"duration={duration} s is shorter than one sample at {sample_rate} Hz")
    segments = build_timeline(DEFAULT_TIMELINE if timeline is None else timeline, n_samples, sample_rate)
    n_loudspeakers = check_positive_int(n_loudspeakers, "n_loudspeakers")
    if n_loudspeakers > 2:
        raise ValueError(f"n_loudspeakers must be 1 or 2, got {n_loudspeakers}")
    n_mics = check_positive_int(n_mics, "n_mics")

    rng = np.random.default_rng(seed)
    far_talker, near_talker = (str(name) for name in rng.permutation(TALKERS))
    far_name = far_talker if far_end == "speech" else MUSIC
    sources = {}
    for role, name in (("far_end", far_name), ("near_end", near_talker)):
        recording = load_recording(name)
        if sample_rate != SAMPLE_RATE:
            recording = resample_signal(recording, SAMPLE_RATE, sample_rate)
        offset = int(rng.integers(len(recording)))
        sources[role] = {"recording": name, "offset_seconds": offset / sample_rate}
        sources[role]["clip"] = _clip(recording, offset, n_samples)

    far_mask = activity_mask(segments, FAR_END_ACTIVE, n_samples, sample_rate)
    near_mask = activity_mask(segments, NEAR_END_ACTIVE, n_samples, sample_rate)
    ref = sources["far_end"]["clip"] * far_mask
    # before the (slow) room, so that an out-of-range distortion fails fast
    emitted = [loudspeaker(ref, nonlinearity, distortion, sample_rate)]

    # The device stands on a table: anywhere in the floor plan, 0.7 to 1.2 m high (lower in a low room).
    height = rng.uniform(min(0.7, room[2] / 2), min(1.2, room[2] - _WALL_MARGIN))
    microphone = np.array([*(rng.uniform(_WALL_MARGIN, side - _WALL_MARGIN) for side in room[:2]), height])
    speaker = _point_near(rng, microphone, _SPEAKER_DISTANCE, room)
    talker = _point_near(rng, microphone, _TALKER_DISTANCE, room)
    positions = [speaker, talker]
    if path_change_at is not None:
        positions.append(_point_near(rng, microphone, _SPEAKER_DISTANCE, room))
    # sources: loudspeaker 0, talker, [loudspeaker 0 after the change], other loudspeakers [, after]
    speaker_index, after_index = [0], [2] if path_change_at is not None else []
    microphones = [microphone]
    multichannel = n_loudspeakers > 1 or n_mics > 1
    if multichannel:
        extra = np.random.default_rng([seed, 13])  # leaves the single-channel draws as they were
        for index in (speaker_index, after_index if path_change_at is not None else []):
            for _ in range(n_loudspeakers - 1):
                index.append(len(positions))
                positions.append(_point_near(extra, microphone, _SPEAKER_DISTANCE, room))
        if n_mics > 1:
            microphones = _circular_array(extra, microphone, n_mics)
    simulated = [room_impulse_responses(room, rt60, position, positions, sample_rate) for position in microphones]
    length = max(len(rirs[0]) for rirs, _ in simulated)
    rirs = np.array([[np.pad(rir, (0, length - len(rir))) for rir in mic_rirs] for mic_rirs, _ in simulated])
    rt60s = simulated[0][1]

    if n_loudspeakers > 1:
        ref = _stereo_recording(extra, sources["far_end"]["clip"], room, rt60, sample_rate) * far_mask[:, None]
        emitted = [loudspeaker(channel, nonlinearity, distortion, sample_rate) for channel in ref.T]
    delay = int(round(delay_ms * sample_rate / 1000.0))
    # paths[i][m, r]: before (i = 0) and, if any, after the change
    echo_paths = [
        np.pad(rirs[:, index], [(0, 0), (0, 0), (delay, 0)]) for index in (speaker_index, after_index) if index
    ]
    # a slow microphone clock reads the echo up to n_samples * |drift| past its end
    drift = clock_drift_ppm * 1e-6
    n_echo = n_samples + (math.ceil(n_samples * abs(drift)) + _DRIFT_KERNEL[0] if drift else 0)

    def echo_of(paths: np.ndarray) -> np.ndarray:
        return np.stack(
            [
                sum(np.pad(convolve(emitted[r], paths[m, r]), (0, n_echo))[:n_echo] for r in range(n_loudspeakers))
                for m in range(n_mics)
            ],
            axis=1,
        )

    echo = echo_of(echo_paths[0])
    change_sample = None
    if path_change_at is not None:
        change_sample = int(round(path_change_at * sample_rate))
        echo[change_sample:] = echo_of(echo_paths[1])[change_sample:]
    if drift:
        times = np.arange(n_samples) / (1.0 + drift)
        echo = np.stack([interpolate(channel, times, *_DRIFT_KERNEL) for channel in echo.T], axis=1)
    near_clip = sources["near_end"]["clip"] * near_mask
    near = np.stack([convolve(near_clip, rirs[m, 1])[:n_samples] for m in range(n_mics)], axis=1)

    echo_power = _active_power(echo, far_mask)
    near_power = _active_power(near, near_mask)
    if near_power > 0.0 and echo_power > 0.0:
        near *= math.sqrt(echo_power / near_power * 10.0 ** (ser_db / 10.0))
        near_power = echo_power * 10.0 ** (ser_db / 10.0)
    reference_power = near_power if near_power > 0.0 else echo_power
    noise = np.zeros((n_samples, n_mics))
    if math.isfinite(snr_db):
        noise = np.stack([_pink_noise(rng, n_samples) for _ in range(n_mics)], axis=1)
        noise *= math.sqrt(reference_power * 10.0 ** (-snr_db / 10.0))

    peak = float(np.max(np.abs(echo + near + noise)))
    gain = _MIC_PEAK / peak if peak > 0.0 else 1.0
    echo, near, noise = echo * gain, near * gain, noise * gain
    echo_paths = [path * gain for path in echo_paths]
    mic = echo + near + noise
    if n_mics == 1:
        echo, near, noise, mic = echo[:, 0], near[:, 0], noise[:, 0], mic[:, 0]
    if not multichannel:
        echo_paths = [path[0, 0] for path in echo_paths]

    meta = {
        "duration": duration,
        "sample_rate": sample_rate,
        "seed": seed,
        "far_end": far_end,
        "rt60": rt60,
        "room_dim": room.tolist(),
        "ser_db": ser_db,
        "snr_db": snr_db,
        "delay_ms": delay_ms,
        "delay_samples": delay,
        "path_change_at": path_change_at,
        "path_change_sample": change_sample,
        "nonlinearity": nonlinearity,
        "distortion": distortion,
        "clock_drift_ppm": clock_drift_ppm,
        "timeline": segments,
        "far_end_recording": sources["far_end"]["recording"],
        "far_end_offset_seconds": sources["far_end"]["offset_seconds"],
        "near_end_recording": sources["near_end"]["recording"],
        "near_end_offset_seconds": sources["near_end"]["offset_seconds"],
        "microphone_position": microphone.tolist(),
        "loudspeaker_position": speaker.tolist(),
        "talker_position": talker.tolist(),
        "loudspeaker_position_after_change": positions[2].tolist() if path_change_at is not None else None,
        "rt60_measured": {
            "echo_path": rt60s[0],
            "near_end_path": rt60s[1],
            "echo_path_after_change": rt60s[2] if path_change_at is not None else None,
        },
        "noise": "pink",
        "n_loudspeakers": n_loudspeakers,
        "n_mics": n_mics,
    }
    if multichannel:
        meta["microphone_positions"] = [position.tolist() for position in microphones]
        meta["loudspeaker_positions"] = [positions[i].tolist() for i in speaker_index]
    return Scene(
        ref=ref,
        echo=echo,
        near=near,
        noise=noise,
        mic=mic,
        rir=echo_paths[0],
        sample_rate=sample_rate,
        meta=meta,
        rir_after_change=echo_paths[1] if path_change_at is not None else None,
    )
