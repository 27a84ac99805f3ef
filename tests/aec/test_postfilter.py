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
    plain = PFDKF(frame_size=64, filter_length=64)
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
    canceller = PFDKF(frame_size=size, filter_length=256, postfilter=1.0)
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
