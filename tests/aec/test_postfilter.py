"""Residual-echo suppressor: transparent without echo, suppresses what the echo estimate predicts."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.signal import butter, freqs

from echoless.aec import postfilter as pf
from echoless.aec import PFDKF, ResidualEchoSuppressor, cancel


def _run(suppressor, output, echo_estimate):
    size = suppressor.frame_size
    return np.concatenate(
        [suppressor.process(output[i : i + size], echo_estimate[i : i + size]) for i in range(0, len(output), size)]
    )


def test_without_echo_and_low_cut_it_is_a_one_frame_delay():
    rng = np.random.default_rng(0)
    near = rng.standard_normal(64 * 20)
    out = _run(ResidualEchoSuppressor(64, strength=1.0, low_cut_hz=0), near, np.zeros_like(near))
    np.testing.assert_allclose(out[64:], near[:-64], atol=1e-12)


# --- the low cut ----------------------------------------------------------------------------


@settings(max_examples=30, deadline=None)
@given(
    frame_size=st.sampled_from([32, 64, 160, 256, 480]),
    sample_rate=st.sampled_from([8000, 16000, 44100, 48000]),
    cutoff_hz=st.floats(min_value=1.0, max_value=3000.0),
)
def test_low_cut_is_the_butterworth_magnitude(frame_size, sample_rate, cutoff_hz):
    # against scipy's analog 2nd-order Butterworth high-pass, at the bins' frequencies, where the
    # bins resolve the cut (at most LOW_CUT_RESOLUTION times the cut-off apart); no cut elsewhere
    frequencies = np.arange(frame_size + 1) * sample_rate / (2 * frame_size)
    analog = butter(2, 2 * np.pi * cutoff_hz, "highpass", analog=True)
    resolved = frequencies[1] <= pf.LOW_CUT_RESOLUTION * cutoff_hz
    want = np.abs(freqs(*analog, 2 * np.pi * frequencies)[1]) if resolved else np.ones(frame_size + 1)
    np.testing.assert_allclose(pf.low_cut_gains(frame_size, sample_rate, cutoff_hz), want, rtol=1e-12, atol=1e-300)
    np.testing.assert_array_equal(pf.low_cut_gains(frame_size, sample_rate, 0.0), 1.0)


def _tone_through_the_low_cut(frequency, size, rate=16000):
    """A 2 s tone through the suppressor without echo: (gain against the Butterworth magnitude in dB,
    error of the output against the scaled, unshifted tone in dB), over the last 1.5 s."""
    x = np.sin(2 * np.pi * frequency * np.arange(2 * rate) / rate)
    out = _run(ResidualEchoSuppressor(size, sample_rate=rate), x, np.zeros_like(x))[size : len(x)]
    steady = slice(rate // 2, len(out))
    tone, got = x[: len(out)][steady], out[steady]
    gain = np.std(got) / np.std(tone)
    ratio = (frequency / pf.LOW_CUT_HZ) ** 2
    off_db = 20 * np.log10(gain * np.sqrt(1 + ratio**2) / ratio)  # against the Butterworth magnitude
    return off_db, 10 * np.log10(np.sum((got - gain * tone) ** 2) / np.sum(got**2))


@pytest.mark.parametrize(
    ("frequency", "tolerance_db"), [(40.0, 2.0), (60.0, 0.6), (80.0, 0.8), (100.0, 0.3), (200.0, 0.05), (1000.0, 0.01)]
)
def test_low_cut_passes_tones_in_phase(frequency, tolerance_db):
    """Without echo, a steady tone comes out one frame late, scaled by the low cut and not shifted:
    zero phase (the input high-pass's phase is what SI-SNR counted as damage to the near end).

    The gain is the Butterworth magnitude to within the window's resolution (50 Hz bins: 1.8 dB
    off at 40 Hz, 0.7 at 80, 0.02 at 200, measured); the in-phase error, measured -22.5 dB at
    40 Hz, -42 at 80 and -100 at 1 kHz."""
    off_db, in_phase_error_db = _tone_through_the_low_cut(frequency, 160)
    assert abs(off_db) < tolerance_db
    assert in_phase_error_db < (-20.0 if frequency < pf.LOW_CUT_HZ else -40.0), in_phase_error_db


@pytest.mark.parametrize(
    ("size", "tolerances_db", "in_phase_db"),
    [(64, (1.9, 0.3, 0.01), -15.0), (320, (0.2, 0.05, 0.01), -35.0)],  # at 100 Hz, 200 Hz, 1 kHz
)
def test_low_cut_at_other_frame_sizes(size, tolerances_db, in_phase_db):
    """Bins of 125 Hz (64-sample frames) and 25 Hz (320): the cut still follows the Butterworth
    magnitude, looser where the bins are wider (measured off by 1.26 / 0.19 / 0.00 dB at 100 Hz,
    200 Hz, 1 kHz with 64 samples, 0.10 / 0.004 / 0.00 with 320; in-phase errors -21 dB and below,
    and -44 dB and below)."""
    for frequency, tolerance_db in zip((100.0, 200.0, 1000.0), tolerances_db):
        off_db, in_phase_error_db = _tone_through_the_low_cut(frequency, size)
        assert abs(off_db) < tolerance_db and in_phase_error_db < in_phase_db, (frequency, off_db, in_phase_error_db)


def test_frames_too_short_for_the_low_cut_leave_it_off():
    """Bins more than LOW_CUT_RESOLUTION times the cut-off apart cannot shape it (zeroing the DC
    bin would take its whole main lobe: 16-sample frames cut a 200 Hz tone by 7.9 dB): the cut is
    off, and so is the undone input high-pass, so the pipeline is exactly the one without them."""
    widest = int(np.ceil(16000 / (2 * pf.LOW_CUT_RESOLUTION * pf.LOW_CUT_HZ)))  # 50 samples at 16 kHz
    assert not ResidualEchoSuppressor(widest - 1).low_cut_active
    assert ResidualEchoSuppressor(widest).low_cut_active
    rng = np.random.default_rng(5)
    mic, ref = rng.standard_normal((2, 16000))
    mic += np.convolve(ref, [0.0, 0.5, -0.3])[:16000]
    for size in (16, 32, widest - 1):
        np.testing.assert_array_equal(
            cancel(mic, ref, frame_size=size), cancel(mic, ref, frame_size=size, low_cut_hz=0)
        )


def test_an_unresolvable_low_cut_given_explicitly_warns():
    with pytest.warns(UserWarning, match="low_cut_hz=20 is below 25 Hz, half the 50 Hz spacing"):
        cancel(np.zeros(1600), np.zeros(1600), low_cut_hz=20.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cancel(np.zeros(1600), np.zeros(1600), frame_size=32)  # the default is not warned about


def test_low_cut_is_checked():
    with pytest.raises(ValueError, match="low_cut_hz must be finite and >= 0"):
        ResidualEchoSuppressor(64, low_cut_hz=-1.0)
    with pytest.raises(ValueError, match="low_cut_hz must be finite and >= 0"):
        pf.low_cut_gains(64, 16000, float("nan"))
    message = "low_cut_hz=8000 must be below 8000 Hz, the Nyquist frequency of the 16000 Hz band"
    with pytest.raises(ValueError, match=message):
        ResidualEchoSuppressor(64, sample_rate=16000, low_cut_hz=8000.0)
    with pytest.raises(ValueError, match=message):  # checked even without the suppressor
        cancel(np.zeros(1600), np.zeros(1600), postfilter=0, low_cut_hz=8000.0)
    with pytest.raises(ValueError, match=message):  # 48 kHz: the suppressor works on the 16 kHz low band
        cancel(np.zeros(4800), np.zeros(4800), sample_rate=48000, low_cut_hz=8000.0)


def test_suppresses_residual_echo_and_keeps_uncorrelated_near_end():
    rng = np.random.default_rng(1)
    n = 64 * 200
    echo_estimate = rng.standard_normal(n)
    near = rng.standard_normal(n)
    residual = 0.3 * echo_estimate  # a misadjusted linear filter leaves a scaled copy
    # the gain rule alone: a residual that is stationary noise from the very first frame is, to a
    # minimum tracker, the noise floor, and comfort noise would refill it (see the module notes)
    suppressor = ResidualEchoSuppressor(64, strength=1.0, comfort_noise=False)
    echo_only = _run(suppressor, residual, echo_estimate)
    assert 10 * np.log10(np.sum(residual[64:] ** 2) / np.sum(echo_only[64:] ** 2)) > 20
    suppressor.reset()
    near_only = _run(suppressor, near, echo_estimate)
    # uncorrelated near end: coherence stays small, so most of it passes
    assert 10 * np.log10(np.sum(near[:-64] ** 2) / np.sum((near_only[64:] - near[:-64]) ** 2)) > 3


def test_strength_is_checked_and_the_canceller_option_works():
    with pytest.raises(ValueError, match="strength must be finite and > 0"):
        ResidualEchoSuppressor(64, strength=0.0)
    with pytest.raises(ValueError, match="seed must be >= 0"):
        ResidualEchoSuppressor(64, seed=-1)
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
    out = _run(ResidualEchoSuppressor(64, strength=1.0, low_cut_hz=0), near, rng.standard_normal(n))
    assert 10 * np.log10(np.sum((out[64:] - near[:-64]) ** 2) / np.sum(near[:-64] ** 2)) < -20


def test_near_end_single_talk_with_silent_reference_passes_unchanged():
    # far-end single talk, then the reference stops and a lone near-end talker speaks: once the
    # filter's memory (filter_length) has passed the Kalman residual-echo model is zero, and once
    # its smoothed share has decayed (by 0.9 a frame) below the dead zone, about 65 frames later,
    # the gain is exactly 1 and no comfort noise is added (measured: error -311 dB from frame 64)
    rng = np.random.default_rng(3)
    size, half = 64, 64 * 150
    ref = np.concatenate([rng.standard_normal(half), np.zeros(half)])
    path = 0.5 * rng.standard_normal(128) * np.exp(-np.arange(128) / 20)
    near = np.concatenate([np.zeros(half), 0.3 * rng.standard_normal(half)])
    mic = np.convolve(ref, path)[: len(ref)] + near
    canceller = PFDKF(frame_size=size, filter_length=256, postfilter=1.0, highpass_hz=0, delay=0, low_cut_hz=0)
    out = np.concatenate([canceller.process(mic[i : i + size], ref[i : i + size]) for i in range(0, len(mic), size)])
    aligned = out[canceller.latency :]
    settled = slice(half + 256 + 70 * size, len(aligned))
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


def _suppressor_reference(output, echo_estimate, residual_power, strength, size, sample_rate=16000, seed=0):
    """The suppressor written from the module equations with whole-signal numpy STFTs; the low cut
    is scipy's analog 2nd-order Butterworth high-pass at LOW_CUT_HZ, its magnitude at the bins.

    Returns the output and, per frame, whether the near end dominated, whether any bin had a
    leakage estimate and whether the far-end overestimate applied (so a test can check that its
    input exercised every branch)."""
    from echoless.aec import postfilter as pf

    window = np.sqrt(np.hanning(2 * size + 1)[:-1])  # periodic sqrt-Hann
    padded = [np.concatenate([np.zeros(size), x]) for x in (output, echo_estimate)]
    n_frames = len(output) // size
    frames = [np.stack([x[i * size : i * size + 2 * size] * window for i in range(n_frames)]) for x in padded]
    frequencies = np.arange(size + 1) * sample_rate / (2 * size)
    low_cut = np.abs(freqs(*butter(2, 2 * np.pi * pf.LOW_CUT_HZ, "highpass", analog=True), 2 * np.pi * frequencies)[1])
    if frequencies[1] > pf.LOW_CUT_RESOLUTION * pf.LOW_CUT_HZ:  # bins too wide to resolve the cut: none
        low_cut[:] = 1.0
    out_spectra, echo_spectra = (np.fft.rfft(f, axis=1) * low_cut for f in frames)
    powers, cross, residual = np.zeros((2, size + 1)), np.zeros(size + 1, complex), np.zeros(size + 1)
    noise, floor_power = np.full(size + 1, np.inf), np.zeros(size + 1)
    rise = 10 ** (pf.NOISE_RISE_DB_PER_SECOND * size / sample_rate / 10)
    ratio_rise = 10 ** (pf.NEAR_END_RATIO_RISE_DB_PER_SECOND * size / sample_rate / 10)
    hangover = max(1, round(pf.NEAR_END_HANGOVER_SECONDS * sample_rate / size))
    smallest_ratio, held = np.inf, 0
    # the leakage regression as exponentially weighted sums of whole frames: w_t = b (1 - b)^(n - t)
    b = 1 - pf.LEAKAGE_SMOOTHING
    learnt_o, learnt_p, learnt_w = [], [], []
    state = pf.seed_state(seed)
    mask = (1 << 64) - 1

    def draw():  # xorshift64, written out
        nonlocal state
        state ^= (state << 13) & mask
        state ^= state >> 7
        state ^= (state << 17) & mask
        return state >> (64 - 10)

    floor = 10 ** (strength * pf.FLOOR_DB / 20)
    result = np.zeros((n_frames + 1) * size)
    near_frames, leaking_frames, far_only_frames = [], [], []
    for i, (o, e) in enumerate(zip(out_spectra, echo_spectra)):
        powers = pf.SMOOTHING * powers + (1 - pf.SMOOTHING) * np.abs([o, e]) ** 2
        cross = pf.SMOOTHING * cross + (1 - pf.SMOOTHING) * o * np.conj(e)
        coherence = np.abs(cross) ** 2 / (powers[0] * powers[1] + 1e-300)
        coherent = np.maximum(0, (coherence - pf.COHERENCE_THRESHOLD) / (1 - pf.COHERENCE_THRESHOLD))
        # near-end detector: more output power than noise floor, coherent echo and the least echo left explain
        if powers[1].sum() > 0:
            smallest_ratio = min(smallest_ratio * ratio_rise, powers[0].sum() / powers[1].sum())
        least_echo = smallest_ratio * powers[1].sum() if np.isfinite(smallest_ratio) else 0.0
        explained = noise[np.isfinite(noise)].sum() + np.sum(coherent * powers[0]) + least_echo
        held = hangover if powers[0].sum() > pf.NEAR_END_THRESHOLD * explained else max(0, held - 1)
        near = held > 0
        near_frames.append(near)
        if not near:
            learnt_w = [w * (1 - b) for w in learnt_w] + [b]
            learnt_o.append(powers[0].copy())
            learnt_p.append(powers[1].copy())
        leakage = np.zeros(size + 1)
        if learnt_w:  # weighted least squares of O on P, per bin, with the gates of the module notes
            w = np.array(learnt_w)[:, None] / np.sum(learnt_w)
            O, P = np.array(learnt_o), np.array(learnt_p)
            covariance = np.sum(w * O * P, 0) - np.sum(w * O, 0) * np.sum(w * P, 0)
            p_variance = np.maximum(0, np.sum(w * P * P, 0) - np.sum(w * P, 0) ** 2)
            o_variance = np.maximum(0, np.sum(w * O * O, 0) - np.sum(w * O, 0) ** 2)
            correlated = covariance**2 >= pf.CORRELATION_THRESHOLD * (p_variance * o_variance + 1e-300)
            varying = p_variance >= pf.VARIATION_MIN * np.sum(w * P, 0) ** 2
            used = (covariance > 0) & correlated & varying
            slope = np.minimum(pf.LEAKAGE_MAX, covariance / (p_variance + 1e-300))
            leakage[used] = (slope * powers[1])[used]
        leaking_frames.append(bool(np.any(leakage > 0)))
        # the far-end overestimate only with evidence that the far end talks alone
        far_end_only = powers[0].sum() <= pf.FAR_END_ONLY_THRESHOLD * (
            leakage.sum() + noise[np.isfinite(noise)].sum() + np.sum(coherent * powers[0])
        )
        far_only_frames.append(far_end_only and not near)
        overestimate = pf.LEAKAGE_OVERESTIMATE if far_end_only and not near else pf.LEAKAGE_OVERESTIMATE_NEAR_END
        share = coherent * (pf.NEAR_END_COHERENCE_WEIGHT if near else 1.0)
        if residual_power is not None:
            residual = pf.SMOOTHING * residual + (1 - pf.SMOOTHING) * residual_power[i]
            share = np.maximum(share, residual / (powers[0] + 1e-300))
        share = np.maximum(share, overestimate * leakage / (powers[0] + 1e-300))
        share[share < pf.SHARE_DEADZONE] = 0
        gain = np.maximum(floor, 1 - strength * np.minimum(share, 1))
        floor_power = pf.FLOOR_SMOOTHING * floor_power + (1 - pf.FLOOR_SMOOTHING) * np.abs(o) ** 2
        settled = i + 1 >= pf.NOISE_WARM_UP
        level = floor_power / (1 - pf.FLOOR_SMOOTHING ** (i + 1)) * settled
        noise[share < pf.NOISE_UPDATE_SHARE] *= rise
        lower = (level > 0) & (level < noise)
        noise[lower] = level[lower]
        # comfort noise: power (1 - G^2) * floor once resynthesised (sum(w^2) / len(w) = 1/2 undone)
        known = np.isfinite(noise)
        fill = np.zeros(size + 1)
        fill[known] = np.sqrt((1 - gain[known] ** 2) * 2 * pf.COMFORT_LEVEL * noise[known])
        phases = np.exp(2j * np.pi * np.array([draw() for _ in range(size + 1)]) / pf.PHASE_STEPS)
        result[i * size : i * size + 2 * size] += np.fft.irfft(o * gain + fill * phases) * window
    return result[: len(output)], np.array(near_frames), np.array(leaking_frames), np.array(far_only_frames)


def _talk(rng, n_frames, size, scale=1.0):
    """Speech-like noise: white, under a piecewise-constant envelope of random 10-frame syllables
    of levels spread over 35 dB, and pauses (each bin's smoothed power varies as speech's does: squared
    coefficient of variation about 3, measured on the tuning scenes' far-end speech 1.2-30)."""
    levels = 10 ** rng.uniform(-1.75, 0, n_frames // 10 + 1) * (rng.uniform(size=n_frames // 10 + 1) > 0.3)
    envelope = np.repeat(levels, 10 * size)[: n_frames * size]
    return scale * envelope * rng.standard_normal(n_frames * size)


@pytest.mark.parametrize("with_residual", [False, True])
def test_compiled_frames_match_the_numpy_equations(with_residual):
    # a far end that talks in syllables, a residual whose power follows it (leakage), and near-end
    # bursts in the second half (the detector): every term of the module notes is exercised
    rng = np.random.default_rng(3)
    size, n_frames = 32, 240
    echo_estimate = _talk(rng, n_frames, size)
    leak = np.abs(echo_estimate) * rng.standard_normal(size * n_frames)  # power follows, phase does not
    near = _talk(rng, n_frames, size, scale=3.0) * (np.arange(size * n_frames) > size * n_frames // 2)
    output = 0.3 * echo_estimate + 0.5 * leak + near + 0.01 * rng.standard_normal(size * n_frames)
    residual_power = rng.uniform(0, 50, (n_frames, size + 1)) if with_residual else None
    # 8 kHz: 125 Hz bins, which resolve the 80 Hz low cut, so it is exercised too
    suppressor = ResidualEchoSuppressor(size, strength=1.3, sample_rate=8000)
    assert suppressor.low_cut_active
    got = np.concatenate([
        suppressor.process(
            output[i * size : (i + 1) * size],
            echo_estimate[i * size : (i + 1) * size],
            None if residual_power is None else residual_power[i],
        )
        for i in range(n_frames)
    ])  # fmt: skip
    want, *branches = _suppressor_reference(output, echo_estimate, residual_power, 1.3, size, sample_rate=8000)
    assert all(0 < np.mean(taken) < 1 for taken in branches), [np.mean(taken) for taken in branches]
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12 * np.abs(want).max())


# --- leakage and the near-end detector ------------------------------------------------------


def test_learnt_leakage_is_the_weighted_least_squares_slope():
    # the recursive moments against the closed form: slope = cov_w(O, P) / var_w(P) with weights
    # b (1 - b)^(n - t), normalised
    rng = np.random.default_rng(11)
    n, bins = 300, 5
    p = rng.exponential(1.0, (n, bins)) * rng.choice([0.05, 1.0, 4.0], (n, 1))
    o = 0.2 * p + rng.exponential(0.5, (n, bins))
    moments, weight, leakage = np.zeros((5, bins)), np.zeros(1), np.zeros(bins)
    for t in range(n):
        pf.learn_leakage(o[t], p[t], moments, weight)
    total = pf.predict_leakage(p[-1], moments, weight, leakage)
    b = 1 - pf.LEAKAGE_SMOOTHING
    w = b * (1 - b) ** np.arange(n - 1, -1, -1)[:, None]
    w = w / w.sum()
    mean_o, mean_p = (w * o).sum(0), (w * p).sum(0)
    slope = ((w * o * p).sum(0) - mean_o * mean_p) / ((w * p * p).sum(0) - mean_p**2)
    np.testing.assert_allclose(leakage, slope * p[-1], rtol=1e-9)
    assert total == pytest.approx(leakage.sum(), rel=1e-12)
    assert np.all(np.abs(slope - 0.2) < 0.1)  # and it finds the true leakage


def test_leakage_needs_correlation_and_a_varying_echo():
    rng = np.random.default_rng(12)
    n, bins = 300, 4
    moments, weight, leakage = np.zeros((5, bins)), np.zeros(1), np.zeros(bins)
    steady = rng.exponential(1.0, (n, bins)) * 0.05 + 1.0  # varies by a few %: nothing to regress on
    for t in range(n):
        pf.learn_leakage(0.3 * steady[t], steady[t], moments, weight)
    pf.predict_leakage(steady[-1], moments, weight, leakage)
    np.testing.assert_array_equal(leakage, 0.0)
    moments[:], weight[:] = 0.0, 0.0
    varying = rng.exponential(1.0, (n, bins)) * rng.choice([0.05, 1.0, 4.0], (n, 1))
    unrelated = rng.exponential(1.0, (n, bins)) * rng.choice([0.05, 1.0, 4.0], (n, 1))
    for t in range(n):
        pf.learn_leakage(unrelated[t], varying[t], moments, weight)
    pf.predict_leakage(varying[-1], moments, weight, leakage)
    np.testing.assert_array_equal(leakage, 0.0)


def test_near_end_detector_decisions():
    # the least output / echo ratio falls at once and rises slowly; a near end adds power nothing
    # explains, and the decision is held for the hangover; the same in any units
    hangover, ratio_rise = 3, 10 ** (1.0 * 0.01 / 10)
    for unit in (1.0, 2.0**-40, 1e12):
        detector = np.array([np.inf, 0.0])
        decide = lambda out, echo: pf.near_end_dominates(  # noqa: E731
            unit * out, unit * echo, 0.01 * unit, detector, ratio_rise, hangover
        )
        assert not any(decide(0.05, 1.0) for _ in range(50))  # far-end single talk: 5 % echo left
        assert detector[0] == pytest.approx(0.05, rel=1e-12)
        assert decide(2.0, 1.0)  # a talker: 2 > 8 * (0.05 + 0.01)
        assert [decide(0.05, 1.0) for _ in range(4)] == [True, True, False, False]  # held 3 frames
        assert not decide(0.4, 1.0)  # 0.4 < 8 * (0.05 * rise + 0.01)
        assert not decide(0.0, 0.0)  # digital silence: no power, no talker


@pytest.mark.parametrize("seed", [13, 14, 15])
def test_leakage_suppresses_residual_echo_the_coherence_misses(seed):
    # a loudspeaker's distortion: residual whose power follows the echo's syllables but whose
    # phase is unrelated (coherence at chance). Far-end single talk, after 2 s of learning, the
    # suppressor removes it (plain gain, no comfort noise: the removal is measured alone;
    # measured 10.2, 6.6, 12.1 dB). The same residual power with syllables of its own is not
    # echo the regression can see: it passes (measured 0.3 dB or less)
    rng = np.random.default_rng(seed)
    size, n_frames = 160, 600
    echo_estimate = _talk(rng, n_frames, size)
    follows = 0.1 * np.abs(echo_estimate) * rng.standard_normal(size * n_frames)
    own = 0.1 * np.abs(_talk(rng, n_frames, size)) * rng.standard_normal(size * n_frames)
    start = 200 * size
    attenuation = {}
    for name, residual in (("follows", follows), ("own", own)):
        out = _run(ResidualEchoSuppressor(size, comfort_noise=False), residual, echo_estimate)
        attenuation[name] = 10 * np.log10(np.sum(residual[start:-size] ** 2) / np.sum(out[start + size :] ** 2))
    assert attenuation["follows"] > 5, attenuation
    assert abs(attenuation["own"]) < 1, attenuation


# --- comfort noise --------------------------------------------------------------------------


def _learn_then_suppress(noise, size=64, n_learn=400, seed=0, scale=1.0):
    """Feed ``noise`` with no echo (gain 1: the floor is learnt), then the same noise flagged as all
    echo by a huge model residual (gain at its floor: the output is comfort noise). Returns the
    suppressor and the output of the suppressed part (frame-aligned, the first frames dropped)."""
    suppressor = ResidualEchoSuppressor(size, seed=seed)
    zeros, loud = np.zeros(size), np.full(size + 1, 1e6 * scale**2 * np.sum(noise**2))
    out = []
    for i in range(0, len(noise), size):
        frame = noise[i : i + size]
        if i // size < n_learn:
            suppressor.process(frame, zeros)
        else:
            out.append(suppressor.process(frame, zeros, loud))
    return suppressor, np.concatenate(out[5:])


def _periodogram(x, size):
    """Mean |FFT(w * frame)|^2 over frames of 2 * size hopped by size: the suppressor's own analysis."""
    window = np.sqrt(np.hanning(2 * size + 1)[:-1])
    frames = np.stack([x[i : i + 2 * size] * window for i in range(0, len(x) - 2 * size + 1, size)])
    return np.mean(np.abs(np.fft.rfft(frames, axis=1)) ** 2, axis=0)


def test_comfort_noise_level_matches_the_floor_estimate():
    # white noise, unit variance: true |FFT(w x)|^2 = sum(w^2) = size per bin. The minimum-tracking
    # estimate sits below the mean (the bias of minimum statistics: measured -6.7 dB with these
    # 4 ms frames, -5.8 dB with 10 ms ones); the comfort noise reproduces COMFORT_LEVEL times the
    # estimate (over all bins within 0.5 dB), never more
    size = 64
    noise = np.random.default_rng(5).standard_normal(size * 1400)
    suppressor, out = _learn_then_suppress(noise, size)
    estimate = suppressor._noise[1:-1]  # DC and Nyquist take only the real part of the random phase
    measured = _periodogram(out, size)[1:-1]
    # (the estimate still falls to new minima while the output is measured: measured +0.35 dB)
    assert abs(10 * np.log10(np.sum(measured) / (pf.COMFORT_LEVEL * np.sum(estimate)))) < 0.5
    assert -8.0 < 10 * np.log10(np.mean(estimate) / size) < -5.0
    assert np.all(np.isfinite(out))


def test_comfort_noise_spectrum_follows_the_floor_estimate():
    # coloured noise (1 + 0.9 z^-1: 25 dB from DC to Nyquist): the comfort noise has its shape,
    # band by band (bands of 8 bins: the periodogram of 1000 frames is within ~0.5 dB)
    size = 64
    white = np.random.default_rng(6).standard_normal(size * 1400 + 1)
    noise = white[1:] + 0.9 * white[:-1]
    suppressor, out = _learn_then_suppress(noise, size)
    bands = lambda x: np.add.reduceat(x[1:-1], np.arange(0, size - 1, 8))  # noqa: E731
    difference = 10 * np.log10(bands(_periodogram(out, size)) / bands(pf.COMFORT_LEVEL * suppressor._noise))
    assert np.max(np.abs(difference)) < 1.0, difference
    shape = np.abs(1 + 0.9 * np.exp(-2j * np.pi * np.arange(size + 1) / (2 * size))) ** 2
    error = 10 * np.log10(bands(suppressor._noise) / bands(shape * size))
    assert np.ptp(error) < 1.5, error  # the estimate itself has the noise's shape, up to its bias


def test_comfort_noise_is_deterministic_seeded_and_restarted_by_reset():
    size = 64
    noise = np.random.default_rng(7).standard_normal(size * 500)
    _, first = _learn_then_suppress(noise, size, n_learn=300)
    _, again = _learn_then_suppress(noise, size, n_learn=300)
    _, other_seed = _learn_then_suppress(noise, size, n_learn=300, seed=1)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other_seed)
    suppressor = ResidualEchoSuppressor(size)
    runs = []
    for _ in range(2):
        runs.append(_run(suppressor, noise, 0.5 * noise))  # coherent echo: gains below 1, noise added
        suppressor.reset()
    np.testing.assert_array_equal(runs[0], runs[1])


def test_comfort_noise_is_zero_where_the_gain_is_one():
    # no echo estimate and no model residual: the gain is exactly 1, so comfort noise or not,
    # the output is the input one frame late, bit for bit
    rng = np.random.default_rng(8)
    near = rng.standard_normal(64 * 100)
    outs = [_run(ResidualEchoSuppressor(64, comfort_noise=on), near, np.zeros_like(near)) for on in (True, False)]
    np.testing.assert_array_equal(outs[0], outs[1])


def test_digital_silence_teaches_no_floor():
    # exact zeros say nothing about the noise floor (a floor of 0 could never rise again): it stays
    # unknown, nothing is added, and the output is exactly zero and finite even under full
    # suppression; the first real signal then sets it
    size = 64
    suppressor = ResidualEchoSuppressor(size)
    loud = np.full(size + 1, 1e300)
    out = [suppressor.process(np.zeros(size), np.zeros(size), loud) for _ in range(100)]
    np.testing.assert_array_equal(np.concatenate(out), 0.0)
    assert np.all(np.isinf(suppressor._noise))
    noise = np.random.default_rng(9).standard_normal(size * 40)
    _run(suppressor, noise, np.zeros_like(noise))
    # but for the DC bin, which the low cut zeroes: it never holds anything to learn from
    assert np.all(np.isinf(suppressor._noise[:1]))
    assert np.all(np.isfinite(suppressor._noise[1:])) and np.all(suppressor._noise[1:] > 0)


@pytest.mark.parametrize("scale", [2.0**-15, 2.0**20, 1e-3, 3e4])
def test_comfort_noise_scales_with_the_input(scale):
    # the floor estimate is a power of the input and the phases do not depend on it:
    # exact at powers of two, to rounding otherwise
    size = 64
    rng = np.random.default_rng(10)
    near, echo = rng.standard_normal((2, size * 300))
    output, estimate = near + 0.7 * echo, echo
    reference = _run(ResidualEchoSuppressor(size), output, estimate)
    scaled = _run(ResidualEchoSuppressor(size), scale * output, scale * estimate) / scale
    if np.log2(scale) == round(np.log2(scale)):
        np.testing.assert_array_equal(scaled, reference)
    else:
        assert np.linalg.norm(scaled - reference) <= 1e-9 * np.linalg.norm(reference)
