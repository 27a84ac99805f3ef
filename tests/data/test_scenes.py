"""make_scene: exact mixture, determinism, timeline, levels, RT60, delay, path change, nonlinearity."""

import math

import numpy as np
import pyroomacoustics as pra
import pytest
import scipy.signal

from echoless.data import EchoExample, loudspeaker, make_scene, measure_rt60
from echoless.data.timeline import LABELS

SR = 16000


@pytest.fixture(scope="module")
def scene():
    return make_scene(3.0, seed=5, rt60=0.3)


def _segment(scene, label):
    (segment,) = [s for s in scene.meta["timeline"] if s["label"] == label]
    # stay clear of the 20 ms ramps and of the room's reverberant tail
    return slice(int(segment["start"] * SR) + 400, int(segment["end"] * SR) - 400)


def test_mic_is_exactly_echo_plus_near_plus_noise(scene):
    np.testing.assert_array_equal(scene.mic, scene.echo + scene.near + scene.noise)
    for name in ("ref", "echo", "near", "noise", "mic"):
        signal = getattr(scene, name)
        assert signal.shape == (3 * SR,) and signal.dtype == np.float64 and np.all(np.isfinite(signal))
    assert np.max(np.abs(scene.mic)) == pytest.approx(0.5)


def test_same_seed_same_scene_other_seed_other_scene(scene):
    again = make_scene(3.0, seed=5, rt60=0.3)
    for name in ("ref", "echo", "near", "noise", "mic", "rir"):
        np.testing.assert_array_equal(getattr(again, name), getattr(scene, name))
    assert again.meta == scene.meta
    other = make_scene(3.0, seed=6, rt60=0.3)
    assert not np.array_equal(other.mic, scene.mic)


def test_default_timeline_is_recorded_and_tiles_the_scene(scene):
    timeline = scene.meta["timeline"]
    assert [s["label"] for s in timeline] == ["far_end_single_talk", "double_talk", "near_end_single_talk"]
    assert [(s["start"], s["end"]) for s in timeline] == [(0.0, 1.2), (1.2, 2.4), (2.4, 3.0)]
    assert all(s["label"] in LABELS for s in timeline)


def test_talkers_are_active_only_in_their_segments(scene):
    far_single, double, near_single = (_segment(scene, label) for label in ("far_end_single_talk", "double_talk", "near_end_single_talk"))
    assert np.all(scene.ref[near_single] == 0.0)
    # the talker's response has not started yet (FFT convolution leaves ~1e-17 round-off)
    assert np.max(np.abs(scene.near[far_single])) < 1e-12
    for signal, active in ((scene.ref, far_single), (scene.ref, double), (scene.near, double), (scene.near, near_single)):
        assert np.sqrt(np.mean(signal[active] ** 2)) > 1e-3


def test_custom_timeline_with_silence():
    scene = make_scene(2.0, seed=1, rt60=0.2, timeline=[("silence", 0.25), ("double_talk", 0.5), ("silence", 0.25)])
    assert [(s["start"], s["end"], s["label"]) for s in scene.meta["timeline"]] == [
        (0.0, 0.5, "silence"),
        (0.5, 1.5, "double_talk"),
        (1.5, 2.0, "silence"),
    ]
    assert np.all(scene.ref[: int(0.5 * SR) - 200] == 0.0) and np.all(scene.ref[int(1.5 * SR) + 200 :] == 0.0)


def test_signal_to_echo_and_noise_ratios_are_as_requested():
    scene = make_scene(3.0, seed=2, rt60=0.2, ser_db=-5.0, snr_db=20.0)
    double = _segment(scene, "double_talk")
    near_power = np.mean(scene.near[double] ** 2)
    # the levels are set over each talker's whole active stretch; a segment is close to it
    assert 10 * np.log10(near_power / np.mean(scene.echo[double] ** 2)) == pytest.approx(-5.0, abs=3.0)
    assert 10 * np.log10(near_power / np.mean(scene.noise**2)) == pytest.approx(20.0, abs=3.0)
    silent = make_scene(1.0, seed=2, rt60=0.2, snr_db=math.inf)
    assert np.all(silent.noise == 0.0)


def test_echo_is_the_reference_through_the_recorded_echo_path(scene):
    expected = scipy.signal.convolve(scene.ref, scene.rir)[: len(scene.ref)]
    np.testing.assert_allclose(scene.echo, expected, rtol=0, atol=1e-12)
    assert scene.rir_after_change is None


def test_rir_rt60_within_20_percent_of_request():
    scene = make_scene(1.0, seed=0, rt60=0.4)
    measured = measure_rt60(scene.rir, SR)
    assert abs(measured - 0.4) <= 0.2 * 0.4
    assert scene.meta["rt60_measured"]["echo_path"] == pytest.approx(measured)
    # the same by an independent implementation (pyroomacoustics, T30)
    assert abs(pra.experimental.measure_rt60(scene.rir, SR, decay_db=30) - 0.4) <= 0.2 * 0.4


def test_bulk_delay_shifts_the_echo_path():
    plain = make_scene(1.0, seed=3, rt60=0.2)
    delayed = make_scene(1.0, seed=3, rt60=0.2, delay_ms=25.0)
    assert delayed.meta["delay_samples"] == 400
    np.testing.assert_array_equal(delayed.rir[:400], 0.0)
    # the shared gain differs (the mic peak is renormalised); the shape is the same
    scale = np.max(np.abs(delayed.rir)) / np.max(np.abs(plain.rir))
    np.testing.assert_allclose(delayed.rir[400:], plain.rir * scale, rtol=1e-12, atol=1e-15)


def test_path_change_switches_to_a_second_response():
    scene = make_scene(2.0, seed=4, rt60=0.2, path_change_at=1.0)
    change = scene.meta["path_change_sample"]
    assert change == SR and scene.rir_after_change is not None
    assert not np.allclose(scene.rir, scene.rir_after_change)
    before = scipy.signal.convolve(scene.ref, scene.rir)[: len(scene.ref)]
    after = scipy.signal.convolve(scene.ref, scene.rir_after_change)[: len(scene.ref)]
    np.testing.assert_allclose(scene.echo[:change], before[:change], atol=1e-12)
    np.testing.assert_allclose(scene.echo[change:], after[change:], atol=1e-12)
    assert scene.meta["loudspeaker_position_after_change"] != scene.meta["loudspeaker_position"]
    assert abs(scene.meta["rt60_measured"]["echo_path_after_change"] - 0.2) <= 0.04


def test_nonlinear_loudspeaker_echo():
    scene = make_scene(1.0, seed=3, rt60=0.2, nonlinearity=2.0)
    expected = scipy.signal.convolve(loudspeaker(scene.ref, 2.0), scene.rir)[: len(scene.ref)]
    np.testing.assert_allclose(scene.echo, expected, atol=1e-12)
    linear = scipy.signal.convolve(scene.ref, scene.rir)[: len(scene.ref)]
    assert np.max(np.abs(scene.echo - linear)) > 0.01 * np.max(np.abs(scene.echo))


def test_distorting_loudspeaker_echo():
    scene = make_scene(1.0, seed=3, rt60=0.2, nonlinearity=1.0, distortion=0.2)
    expected = scipy.signal.convolve(loudspeaker(scene.ref, 1.0, 0.2, SR), scene.rir)[: len(scene.ref)]
    np.testing.assert_allclose(scene.echo, expected, atol=1e-12)
    assert scene.meta["distortion"] == 0.2 and make_scene(1.0, seed=3, rt60=0.2).meta["distortion"] == 0.0


def test_music_far_end_and_speakers_differ():
    speech = make_scene(1.0, seed=0, rt60=0.2)
    music = make_scene(1.0, seed=0, rt60=0.2, far_end="music")
    assert speech.meta["far_end_recording"] != speech.meta["near_end_recording"]
    assert music.meta["far_end_recording"] == "music_morning_coffee"


def test_other_sample_rate():
    scene = make_scene(0.5, seed=0, rt60=0.2, sample_rate=8000)
    assert len(scene.mic) == 4000 and scene.sample_rate == 8000


def test_to_example_near_end_includes_noise(scene):
    example = scene.to_example("demo")
    assert isinstance(example, EchoExample) and example.name == "demo"
    np.testing.assert_array_equal(example.near_end, scene.near + scene.noise)
    np.testing.assert_array_equal(example.echo, scene.echo)
    np.testing.assert_array_equal(example.rir, scene.rir)  # the true path travels with the example
    assert example.meta["timeline"] == scene.meta["timeline"]


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"duration": -1.0}, ValueError, "duration must be finite and > 0"),
        ({"far_end": "noise"}, ValueError, "unknown far_end 'noise'"),
        ({"rt60": 0.0}, ValueError, "rt60 must be finite and > 0"),
        ({"rt60": 0.05}, ValueError, "rt60=0.05 s is too short for a 5.0 x 4.0 x 3.0 m room"),
        ({"room_dim": (5.0, 4.0)}, ValueError, "room_dim must be 3 lengths"),
        ({"ser_db": float("nan")}, ValueError, "ser_db must be finite"),
        ({"snr_db": "high"}, TypeError, "snr_db must be a real number"),
        ({"delay_ms": -1.0}, ValueError, "delay_ms must be finite and >= 0"),
        ({"path_change_at": 5.0}, ValueError, "path_change_at=5.0 s must fall inside the scene"),
        ({"nonlinearity": -0.5}, ValueError, "nonlinearity must be finite and >= 0"),
        ({"distortion": 0.5}, ValueError, r"distortion must be in \[0, 2/7\]"),
        ({"seed": 1.5}, TypeError, "seed must be an integer"),
        ({"timeline": [("talking", 1.0)]}, ValueError, "unknown timeline label 'talking'"),
        ({"timeline": [("double_talk", 0.5)]}, ValueError, "timeline fractions must sum to 1"),
        ({"timeline": "double_talk"}, TypeError, "timeline must be a non-empty sequence"),
    ],
)
def test_bad_arguments_are_named(kwargs, error, message):
    arguments = {"duration": 1.0, "rt60": 0.2, **kwargs}
    with pytest.raises(error, match=message):
        make_scene(**arguments)
