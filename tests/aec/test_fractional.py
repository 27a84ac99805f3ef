"""Kaiser-windowed sinc interpolation against closed forms: tones and band-limited Fourier series."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from echoless.aec.fractional import interpolate, read, table


def _fourier_series(rng, n_terms, top):
    """A random band-limited signal (frequencies below ``top`` cycles/sample) and its exact value anywhere."""
    frequencies = rng.uniform(0.0, top, n_terms)
    amplitudes = rng.standard_normal(n_terms)
    phases = rng.uniform(0.0, 2 * np.pi, n_terms)

    def value(t):
        t = np.asarray(t, dtype=np.float64)[..., None]
        return np.sum(amplitudes * np.cos(2 * np.pi * frequencies * t + phases), axis=-1)

    return value, np.sqrt(np.sum(amplitudes**2) / 2)


@settings(max_examples=25, deadline=None)
@given(frequency=st.floats(0.0, 0.4), phase=st.floats(0.0, 6.3), seed=st.integers(0, 2**16))
def test_a_tone_between_its_samples_to_minus_90_db(frequency, phase, seed):
    # up to 0.8 of the Nyquist frequency; the exact value of the tone is the reference
    t = np.arange(600)
    positions = np.random.default_rng(seed).uniform(40.0, 560.0, 200)
    error = interpolate(np.cos(2 * np.pi * frequency * t + phase), positions) - np.cos(2 * np.pi * frequency * positions + phase)
    assert np.max(np.abs(error)) < 10 ** (-90 / 20)  # measured worst: -92.7 dB near 0.38


def test_a_band_limited_signal_between_its_samples():
    rng = np.random.default_rng(1)
    value, rms = _fourier_series(rng, 40, 0.4)
    positions = rng.uniform(20.0, 1980.0, 5000)
    error = interpolate(value(np.arange(2000)), positions) - value(positions)
    assert np.sqrt(np.mean(error**2)) < 1e-5 * rms


def test_integer_positions_return_the_samples():
    x = np.random.default_rng(2).standard_normal(300)
    np.testing.assert_allclose(interpolate(x, np.arange(300.0)), x, rtol=0, atol=1e-15)
    # the table's first and last rows are unit impulses (mu = 0 and mu = 1)
    np.testing.assert_allclose(table()[[0, -1]], np.eye(32)[[15, 16]], rtol=0, atol=1e-16)


def test_positions_outside_the_signal_read_zeros():
    x = np.ones(100)
    assert np.all(interpolate(x, [-17.0, -100.0, 116.0, 1e6]) == 0.0)
    # near an edge, the zeros beyond it are part of the band-limited signal
    assert 0.4 < interpolate(x, [-0.5])[0] < 0.6


def test_read_equals_interpolate_inside():
    x = np.random.default_rng(3).standard_normal(200)
    positions = np.linspace(15.0, 182.999, 77)  # the whole range read accepts
    # (interpolate pads x, which moves the positions by a whole number of samples: rounding only)
    np.testing.assert_allclose(read(x, positions), interpolate(x, positions), rtol=0, atol=1e-12)


@pytest.mark.parametrize("half_width, beta", [(16, 10.0), (48, 12.0)])
def test_wider_kernels_reach_closer_to_nyquist(half_width, beta):
    # the kernel the scenes use (48, 12) is accurate to 0.92 of the Nyquist frequency
    top = 0.4 if half_width == 16 else 0.46
    t = np.arange(1000)
    positions = np.random.default_rng(4).uniform(100.0, 900.0, 300)
    error = interpolate(np.sin(2 * np.pi * top * t), positions, half_width, beta) - np.sin(2 * np.pi * top * positions)
    assert np.max(np.abs(error)) < 10 ** (-90 / 20)


def test_a_cutoff_makes_a_low_pass_interpolator():
    # the scenes' simulated microphone: flat to 0.82 of Nyquist, closed above 0.98 of it
    t = np.arange(1000)
    positions = np.random.default_rng(5).uniform(100.0, 900.0, 300)
    for frequency, passes in ((0.2, True), (0.41, True), (0.49, False), (0.5, False)):
        tone = interpolate(np.cos(2 * np.pi * frequency * t), positions, 48, 12.0, 0.9)
        expected = np.cos(2 * np.pi * frequency * positions) if passes else 0.0
        assert np.max(np.abs(tone - expected)) < 1e-5, frequency


@pytest.mark.parametrize("position", [14.0, 183.0, float("nan")])
def test_read_refuses_positions_it_cannot_reach(position):
    # the compiled loop does not check indices: read does, before it
    with pytest.raises(ValueError, match="positions must"):
        read(np.zeros(200), np.array([50.0, position]))
    with pytest.raises(ValueError, match="finite"):
        interpolate(np.zeros(200), [float("inf")])
