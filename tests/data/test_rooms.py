"""measure_rt60 on known decays, the loudspeaker model, and room_impulse_responses."""

import numpy as np
import pyroomacoustics as pra
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from echoless.data import loudspeaker, measure_rt60, room_impulse_responses

SR = 16000


@pytest.mark.parametrize("rt60", [0.2, 0.5, 1.0])
def test_measure_rt60_of_a_synthetic_exponential_decay(rt60):
    # noise whose energy falls 60 dB in rt60 seconds: amplitude 10**(-3 t / rt60)
    t = np.arange(int(2 * rt60 * SR)) / SR
    rir = np.random.default_rng(0).standard_normal(len(t)) * 10.0 ** (-3.0 * t / rt60)
    assert measure_rt60(rir, SR) == pytest.approx(rt60, rel=0.03)
    # T20 fits a shorter stretch of the noisy curve: a little less precise
    assert measure_rt60(rir, SR, decay_db=20) == pytest.approx(rt60, rel=0.05)


def test_measure_rt60_of_a_noiseless_decay_is_exact():
    # energy decay curve of a pure exponential is a straight line in dB (up to the cut-off)
    t = np.arange(int(3 * 0.3 * SR)) / SR
    assert measure_rt60(10.0 ** (-3.0 * t / 0.3), SR) == pytest.approx(0.3, rel=1e-3)


def test_measure_rt60_errors():
    with pytest.raises(ValueError, match="rir is all zeros"):
        measure_rt60(np.zeros(100), SR)
    with pytest.raises(ValueError, match="rir decays by only .* dB; measuring T30 needs 35 dB"):
        measure_rt60(np.ones(100), SR)


def test_loudspeaker_is_linear_at_zero_drive_and_keeps_the_peak():
    x = np.sin(np.linspace(0, 20, 1000)) * 0.3
    np.testing.assert_array_equal(loudspeaker(x, 0.0), x)
    y = loudspeaker(x, 2.0)
    assert np.max(np.abs(y)) == pytest.approx(np.max(np.abs(x)), rel=1e-12)
    # hand-computed: a sample at half the peak becomes 0.3 * tanh(1) / tanh(2)
    assert loudspeaker(np.array([0.15, 0.3]), 2.0)[0] == pytest.approx(0.3 * np.tanh(1.0) / np.tanh(2.0))
    # quiet parts are amplified relative to the peak: compression
    assert np.abs(y[np.abs(x) < 0.1]).sum() > np.abs(x[np.abs(x) < 0.1]).sum()
    with pytest.raises(ValueError, match="drive must be finite and >= 0"):
        loudspeaker(x, -1.0)


@pytest.mark.parametrize("distortion", [0.05, 2 / 7])
def test_loudspeaker_harmonics_match_the_closed_form_and_grow_with_level(distortion):
    # 1 s of a 1 kHz sine at the peak level A = 1, then 1 s at A = 1/4; overall scale 0.4
    t = np.arange(SR) / SR
    levels = (1.0, 0.25)
    x = 0.4 * np.concatenate([level * np.sin(2 * np.pi * 1000 * t) for level in levels])
    y = loudspeaker(x, 0.0, distortion, SR)
    for i, level in enumerate(levels):
        # 0.5 s, 500 whole cycles, from 0.25 s after the level step (the 40 Hz high-pass has settled)
        window = y[i * SR + SR // 4 : i * SR + 3 * SR // 4]
        amplitude = 2 * np.abs(np.fft.rfft(window)) / len(window)  # 2 Hz bins: 1 kHz is bin 500
        fundamental = 0.4 * (level - 3 * distortion * level**3 / 8)  # sin^3 = (3 sin - sin 3wt) / 4
        assert amplitude[500] == pytest.approx(fundamental, rel=1e-6)
        # relative to the input amplitude: 2nd harmonic h A / 2, 3rd h A^2 / 8
        assert amplitude[1000] / (0.4 * level) == pytest.approx(distortion * level / 2, rel=1e-6)
        assert amplitude[1500] / (0.4 * level) == pytest.approx(distortion * level**2 / 8, rel=1e-6)
        # no DC and nothing else: a cone radiates no DC, and the polynomial has degree 3
        others = np.delete(amplitude, [500, 1000, 1500])
        assert np.max(others) < 1e-9 * fundamental


@settings(max_examples=25, deadline=None)
@given(
    scale=st.floats(1e-3, 1e3),
    drive=st.floats(0.0, 3.0),
    distortion=st.floats(0.0, 2 / 7),
    seed=st.integers(0, 2**16),
)
def test_loudspeaker_levels_are_relative_to_the_peak(scale, drive, distortion, seed):
    x = np.random.default_rng(seed).standard_normal(400)
    expected = scale * loudspeaker(x, drive, distortion)
    np.testing.assert_allclose(loudspeaker(scale * x, drive, distortion), expected, rtol=1e-9, atol=1e-12 * scale)


def test_loudspeaker_distortion_errors():
    x = np.ones(10)
    with pytest.raises(ValueError, match=r"distortion must be in \[0, 2/7\] \(beyond, the curve folds over\)"):
        loudspeaker(x, 0.0, 0.3)
    with pytest.raises(ValueError, match="distortion must be finite and >= 0"):
        loudspeaker(x, 0.0, -0.1)


def test_room_impulse_responses_match_the_request_and_pyroomacoustics_measure():
    rirs, rt60s = room_impulse_responses((6.0, 5.0, 3.0), 0.3, (2.0, 2.0, 1.0), [(2.3, 2.1, 1.0), (3.5, 3.0, 1.5)])
    assert len(rirs) == 2 and len(rirs[0]) == len(rirs[1])
    for rir, measured in zip(rirs, rt60s):
        assert measured == pytest.approx(measure_rt60(rir, SR))
        assert abs(measured - 0.3) <= 0.2 * 0.3
        assert abs(pra.experimental.measure_rt60(rir, SR, decay_db=30) - 0.3) <= 0.2 * 0.3
    # direct path: 1/(4 pi r) at r metres, after r / c seconds; the nearer source arrives first and louder
    assert np.argmax(np.abs(rirs[0])) < np.argmax(np.abs(rirs[1]))
    assert np.max(np.abs(rirs[0])) > np.max(np.abs(rirs[1]))


def test_room_impulse_responses_errors():
    with pytest.raises(ValueError, match=r"microphone position \[9.0, 1.0, 1.0\] lies outside"):
        room_impulse_responses((5.0, 4.0, 3.0), 0.3, (9.0, 1.0, 1.0), [(1.0, 1.0, 1.0)])
    with pytest.raises(ValueError, match="sources must hold at least one position"):
        room_impulse_responses((5.0, 4.0, 3.0), 0.3, (1.0, 1.0, 1.0), [])
    with pytest.raises(ValueError, match="room_dim must be 3 finite numbers"):
        room_impulse_responses((5.0, 4.0), 0.3, (1.0, 1.0, 1.0), [(1.0, 1.0, 1.0)])
