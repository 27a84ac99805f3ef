"""PFDKF: convergence on a known FIR, robustness to double talk, re-tracking an echo-path change."""

import numpy as np
import pytest
import scipy.signal

from echoless.aec import PFDKF


def _stream(canceller, mic, ref):
    size = canceller.frame_size
    return np.concatenate([canceller.process(mic[i : i + size], ref[i : i + size]) for i in range(0, len(mic), size)])


def _erle_db(mic, out):
    return 10 * np.log10(np.sum(mic**2) / np.sum(out**2))


def _path(rng, n_taps=200):
    return rng.standard_normal(n_taps) * np.exp(-np.arange(n_taps) / 40)


@pytest.mark.parametrize("constraint", ["alternating", "full"])
def test_converges_on_a_known_fir(constraint):
    rng = np.random.default_rng(0)
    h = _path(rng)
    ref = rng.standard_normal(16000 * 2)
    mic = scipy.signal.lfilter(h, 1, ref) + 1e-4 * rng.standard_normal(len(ref))
    canceller = PFDKF(frame_size=64, filter_length=256, constraint=constraint)
    out = _stream(canceller, mic, ref)
    assert _erle_db(mic[-8000:], out[-8000:]) > 40
    misalignment = np.sum((canceller.filter[:200] - h) ** 2) / np.sum(h**2)
    assert 10 * np.log10(misalignment) < -35


def test_double_talk_does_not_make_the_filter_diverge():
    rng = np.random.default_rng(1)
    h = _path(rng)
    ref = rng.standard_normal(16000 * 4)
    echo = scipy.signal.lfilter(h, 1, ref)
    # near-end speech stand-in: bursts of coloured noise, 6 dB louder than the echo
    near = scipy.signal.lfilter([1.0], [1.0, -0.9], rng.standard_normal(len(ref)))
    near *= 2 * np.std(echo) / np.std(near) * (np.sin(np.arange(len(ref)) * 2 * np.pi * 1.5 / 16000) > 0)
    near[:32000] = 0.0  # far-end single talk first, then double talk
    canceller = PFDKF(frame_size=64, filter_length=256, highpass_hz=0, delay=0, postfilter=0)
    out = _stream(canceller, echo + near, ref)
    assert canceller.n_resets == 0
    misalignment = np.sum((canceller.filter[:200] - h) ** 2) / np.sum(h**2)
    assert 10 * np.log10(misalignment) < -15
    # the residual echo stays far below the near end through the double talk
    residual = out[32000:] - near[32000:]
    assert _erle_db(echo[32000:], residual) > 15


def test_echo_path_change_is_retracked_within_two_seconds():
    rng = np.random.default_rng(2)
    first, second = _path(rng), _path(rng)
    ref = rng.standard_normal(16000 * 4)
    echo = np.concatenate(
        [scipy.signal.lfilter(first, 1, ref)[:32000], scipy.signal.lfilter(second, 1, ref)[32000:]]
    )
    mic = echo + 1e-4 * rng.standard_normal(len(ref))
    canceller = PFDKF(frame_size=64, filter_length=256)
    out = _stream(canceller, mic, ref)
    assert _erle_db(mic[24000:32000], out[24000:32000]) > 30  # converged before the change
    assert _erle_db(mic[32000:33000], out[32000:33000]) < 10  # the change hurts
    assert _erle_db(mic[-8000:], out[-8000:]) > 25  # and is re-learned within 2 s


def test_transition_must_be_in_range():
    with pytest.raises(ValueError, match="transition must be in"):
        PFDKF(transition=1.5)
    with pytest.raises(ValueError, match="noise_smoothing must be in"):
        PFDKF(noise_smoothing=1.0)


def _kalman_reference(spectra, powers, error_spectrum, weights, uncertainty, noise, a2, smoothing, floor):
    """One Kalman step written from the module equations with whole-array numpy operations."""
    noise = smoothing * noise + (1 - smoothing) * np.abs(error_spectrum) ** 2
    expected = np.sum(uncertainty * powers, axis=0)
    denominator = expected + 2 * noise + floor
    gain = uncertainty / denominator
    weights = weights + gain * np.conj(spectra) * error_spectrum
    uncertainty = a2 * (1 - 0.5 * gain * powers) * uncertainty + (1 - a2) * np.abs(weights) ** 2
    return weights, uncertainty, noise, 0.5 * expected


def test_compiled_kalman_step_matches_the_numpy_equations():
    from echoless.aec.pfdkf import kalman_update

    rng = np.random.default_rng(7)
    shape = (6, 17)
    spectra = rng.standard_normal(shape) + 1j * rng.standard_normal(shape)
    powers = np.abs(spectra) ** 2
    error_spectrum = rng.standard_normal(shape[1]) + 1j * rng.standard_normal(shape[1])
    weights = rng.standard_normal(shape) + 1j * rng.standard_normal(shape)
    uncertainty = rng.uniform(0.01, 1.0, shape)
    noise = rng.uniform(0.0, 2.0, shape[1])
    args = (0.998, 0.5, 1e-6)
    expected = _kalman_reference(spectra, powers, error_spectrum, weights, uncertainty, noise, *args)
    residual = np.empty(shape[1])
    kalman_update(spectra, powers, error_spectrum, weights, uncertainty, noise, residual, *args)
    for got, want in zip((weights, uncertainty, noise, residual), expected):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=0)
