"""Residual-echo suppressor: transparent without echo, suppresses what the echo estimate predicts."""

import numpy as np
import pytest

from echoless.aec import PFDKF, ResidualEchoSuppressor


def _run(suppressor, output, echo_estimate):
    size = suppressor.frame_size
    return np.concatenate(
        [suppressor.process(output[i : i + size], echo_estimate[i : i + size]) for i in range(0, len(output), size)]
    )


def test_without_echo_it_is_a_one_frame_delay():
    rng = np.random.default_rng(0)
    near = rng.standard_normal(64 * 20)
    out = _run(ResidualEchoSuppressor(64, strength=1.0), near, np.zeros_like(near))
    np.testing.assert_allclose(out[64:], near[:-64], atol=1e-12)


def test_suppresses_residual_echo_and_keeps_uncorrelated_near_end():
    rng = np.random.default_rng(1)
    n = 64 * 200
    echo_estimate = rng.standard_normal(n)
    near = rng.standard_normal(n)
    residual = 0.3 * echo_estimate  # a misadjusted linear filter leaves a scaled copy
    suppressor = ResidualEchoSuppressor(64, strength=1.0)
    echo_only = _run(suppressor, residual, echo_estimate)
    assert 10 * np.log10(np.sum(residual[64:] ** 2) / np.sum(echo_only[64:] ** 2)) > 20
    suppressor.reset()
    near_only = _run(suppressor, near, echo_estimate)
    # uncorrelated near end: coherence stays small, so most of it passes
    assert 10 * np.log10(np.sum(near[:-64] ** 2) / np.sum((near_only[64:] - near[:-64]) ** 2)) > 3


def test_strength_is_checked_and_the_canceller_option_works():
    with pytest.raises(ValueError, match="strength must be finite and > 0"):
        ResidualEchoSuppressor(64, strength=0.0)
    rng = np.random.default_rng(2)
    ref = rng.standard_normal(64 * 50)
    mic = np.convolve(ref, [0.0, 0.5, -0.2])[: len(ref)]
    plain = PFDKF(frame_size=64, filter_length=64, postfilter=0)
    filtered = PFDKF(frame_size=64, filter_length=64, postfilter=1.0)
    outs = [np.concatenate([c.process(mic[i : i + 64], ref[i : i + 64]) for i in range(0, len(mic), 64)]) for c in (plain, filtered)]
    assert np.sum(outs[1] ** 2) < np.sum(outs[0] ** 2)


def test_unrelated_near_end_passes_nearly_unchanged():
    # coherence of unrelated signals, estimated over ~10 frames, is biased upwards: only the part
    # above the detection threshold may attenuate (measured: error -22.3 dB; -18.2 dB before the threshold)
    rng = np.random.default_rng(4)
    n = 64 * 200
    near = rng.standard_normal(n)
    out = _run(ResidualEchoSuppressor(64, strength=1.0), near, rng.standard_normal(n))
    assert 10 * np.log10(np.sum((out[64:] - near[:-64]) ** 2) / np.sum(near[:-64] ** 2)) < -20


def test_near_end_single_talk_with_silent_reference_passes_unchanged():
    # far-end single talk, then the reference stops and a lone near-end talker speaks: once the
    # filter's memory (filter_length) and ~50 frames of spectral smoothing have passed, the Kalman
    # residual-echo model is zero and the gain is 1 (measured: error -75.7 dB)
    rng = np.random.default_rng(3)
    size, half = 64, 64 * 150
    ref = np.concatenate([rng.standard_normal(half), np.zeros(half)])
    path = 0.5 * rng.standard_normal(128) * np.exp(-np.arange(128) / 20)
    near = np.concatenate([np.zeros(half), 0.3 * rng.standard_normal(half)])
    mic = np.convolve(ref, path)[: len(ref)] + near
    canceller = PFDKF(frame_size=size, filter_length=256, postfilter=1.0, highpass_hz=0, delay=0)
    out = np.concatenate([canceller.process(mic[i : i + size], ref[i : i + size]) for i in range(0, len(mic), size)])
    aligned = out[canceller.latency :]
    settled = slice(half + 256 + 50 * size, len(aligned))
    error = aligned[settled] - near[settled]
    assert 10 * np.log10(np.sum(error**2) / np.sum(near[settled] ** 2)) < -70


@pytest.mark.parametrize(
    ("args", "error", "message"),
    [
        ((np.zeros(100), np.zeros(160)), ValueError, "output must have frame_size=160 samples, got 100"),
        ((np.zeros(160), np.full(160, np.nan)), ValueError, "echo_estimate contains 160 NaN"),
        ((np.zeros(160), np.zeros(160), np.ones(80)), ValueError, r"residual_power must have frame_size \+ 1=161"),
    ],
)
def test_bad_frames_are_named(args, error, message):
    with pytest.raises(error, match=message):
        ResidualEchoSuppressor(160).process(*args)


def _suppressor_reference(output, echo_estimate, residual_power, strength, size):
    """The suppressor written from the module equations with whole-signal numpy STFTs."""
    from echoless.aec.postfilter import COHERENCE_THRESHOLD, FLOOR_DB, SMOOTHING

    window = np.sqrt(np.hanning(2 * size + 1)[:-1])  # periodic sqrt-Hann
    padded = [np.concatenate([np.zeros(size), x]) for x in (output, echo_estimate)]
    n_frames = len(output) // size
    frames = [np.stack([x[i * size : i * size + 2 * size] * window for i in range(n_frames)]) for x in padded]
    out_spectra, echo_spectra = (np.fft.rfft(f, axis=1) for f in frames)
    powers, cross, residual = np.zeros((2, size + 1)), np.zeros(size + 1, complex), np.zeros(size + 1)
    floor = 10 ** (strength * FLOOR_DB / 20)
    result = np.zeros((n_frames + 1) * size)
    for i, (o, e) in enumerate(zip(out_spectra, echo_spectra)):
        powers = SMOOTHING * powers + (1 - SMOOTHING) * np.abs([o, e]) ** 2
        cross = SMOOTHING * cross + (1 - SMOOTHING) * o * np.conj(e)
        coherence = np.abs(cross) ** 2 / (powers[0] * powers[1] + 1e-30)
        share = np.maximum(0, (coherence - COHERENCE_THRESHOLD) / (1 - COHERENCE_THRESHOLD))
        if residual_power is not None:
            residual = SMOOTHING * residual + (1 - SMOOTHING) * residual_power[i]
            share = np.maximum(share, residual / (powers[0] + 1e-30))
        gain = np.maximum(floor, 1 - strength * np.minimum(share, 1))
        result[i * size : i * size + 2 * size] += np.fft.irfft(o * gain) * window
    return result[:len(output)]


@pytest.mark.parametrize("with_residual", [False, True])
def test_compiled_frames_match_the_numpy_equations(with_residual):
    rng = np.random.default_rng(3)
    size, n_frames = 32, 40
    echo_estimate = rng.standard_normal(size * n_frames)
    output = 0.5 * echo_estimate + rng.standard_normal(size * n_frames)
    residual_power = rng.uniform(0, 50, (n_frames, size + 1)) if with_residual else None
    suppressor = ResidualEchoSuppressor(size, strength=1.3)
    got = np.concatenate([
        suppressor.process(
            output[i * size : (i + 1) * size],
            echo_estimate[i * size : (i + 1) * size],
            None if residual_power is None else residual_power[i],
        )
        for i in range(n_frames)
    ])  # fmt: skip
    want = _suppressor_reference(output, echo_estimate, residual_power, 1.3, size)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12 * np.abs(want).max())
