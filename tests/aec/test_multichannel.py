"""MultichannelPFDKF (issue 13, section 2): stereo playback, microphone arrays, mono on two channels.

Figures quoted in the docstrings were measured with these scenes on the
development machine (ERLE over the last half of far-end single talk, dB).
"""

import functools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from echoless.aec import PFDKF, MultichannelPFDKF, cancel, make_canceller
from echoless.aec.multichannel import joint_kalman_update
from echoless.aec.postfilter import ResidualEchoSuppressor
from echoless.aec.streaming import run_canceller
from echoless.conv import convolve
from echoless.data import make_scene

RATE = 16000
FAR_END_ONLY = [("far_end_single_talk", 1.0)]


def _erle_last_half(mic, out):
    half = len(mic) // 2
    return 10 * np.log10(np.sum(mic[half:] ** 2) / np.sum(out[half:] ** 2))


@functools.cache
def _stereo_scene(seed):
    return make_scene(8.0, seed=seed, n_loudspeakers=2, timeline=FAR_END_ONLY, snr_db=50)


def _played_in_mono(scene):
    """The same scene (room, loudspeakers, microphone, near end) with both loudspeakers playing
    the mono mix of the stereo far end."""
    mix = scene.ref.mean(axis=1)
    echo = sum(convolve(mix, scene.rir[0, r])[: len(mix)] for r in range(2))
    return echo + scene.near + scene.noise, mix


# ------------------------------------------------------------------------------ the tests
@pytest.mark.parametrize("seed", [1, 3])
@pytest.mark.parametrize("postfilter", [0, 1])
def test_stereo_playback_within_3_db_of_the_same_scene_in_mono(seed, postfilter):
    """Highly correlated stereo (one talker, two far-end microphones, broadband correlation
    0.3, coherence near 1 at low frequencies): the joint filter cancels nearly as well as
    when the same scene plays the mono mix, and far better than a mono canceller on the mix,
    which cannot model two paths.

    Measured ERLE (stereo / same scene in mono / mono canceller on the mix, dB): seed 1
    linear 26.7 / 25.9 / 12.2, with the postfilter 53.0 / 39.1 / 15.4; seed 3 linear
    25.1 / 24.7 / 18.2, with the postfilter 38.5 / 37.8 / 22.4."""
    scene = _stereo_scene(seed)
    mono_mic, mix = _played_in_mono(scene)
    stereo = _erle_last_half(scene.mic, cancel(scene.mic, scene.ref, postfilter=postfilter))
    mono = _erle_last_half(mono_mic, cancel(mono_mic, mix, postfilter=postfilter))
    on_mix = _erle_last_half(scene.mic, cancel(scene.mic, scene.ref.mean(axis=1), postfilter=postfilter))
    assert stereo > mono - 3.0, (stereo, mono)
    assert stereo > on_mix + 5.0, (stereo, on_mix)


def test_four_microphones_cancel_on_every_channel():
    """Each microphone of a 4-microphone array gets its own filters on the shared reference
    spectra; every channel cancels (measured 24.8-25.2 dB, linear stage alone)."""
    scene = make_scene(8.0, seed=2, n_mics=4, timeline=FAR_END_ONLY, snr_db=50, delay_ms=30)
    out = cancel(scene.mic, scene.ref, postfilter=0)
    assert out.shape == scene.mic.shape
    for m in range(4):
        assert _erle_last_half(scene.mic[:, m], out[:, m]) > 20.0


def test_each_microphone_matches_its_own_single_channel_pfdkf():
    """Independent reference: with a fixed delay, microphone ``m`` of the array is the
    single-channel PFDKF on microphone ``m`` whose suppressor draws its comfort noise from seed
    ``m`` (as the array's does), except that the running level (and with it the -80 dB noise
    floor) is shared; measured max difference 8e-8 on a 0.5-peak signal."""
    scene = make_scene(4.0, seed=5, n_mics=3, delay_ms=30)
    out = cancel(scene.mic, scene.ref, delay=0)
    for m in range(3):
        single = make_canceller("pfdkf", delay=0)
        single._postfilter = ResidualEchoSuppressor(single.frame_size, single._postfilter.strength, seed=m)
        np.testing.assert_allclose(out[:, m], run_canceller(single, scene.mic[:, m], scene.ref), atol=1e-5)


def test_each_microphone_gets_its_own_comfort_noise():
    """Two microphones with the same signal: their filters and suppressors see the same frames and
    differ only in the comfort noise's random phases, which must be independent (the room's noise
    differs between microphones; one noise on every channel is a centred hiss that a beamformer
    cannot remove). Measured: correlation 0.00 (it was 1.00 when every microphone had seed 0)."""
    scene = make_scene(8.0, seed=6, timeline=FAR_END_ONLY, delay_ms=30)
    twice = np.stack([scene.mic, scene.mic], axis=1)
    outputs = []
    for comfort in (True, False):
        canceller = make_canceller("pfdkf", n_ref=1, n_mic=2, delay=0)
        for suppressor in canceller._postfilter:
            suppressor._comfort *= comfort
        outputs.append(run_canceller(canceller, twice, scene.ref[:, None]))
    added = outputs[0] - outputs[1]  # the comfort noise of each microphone
    assert np.sum(added**2) > 0
    assert abs(np.corrcoef(added[:, 0], added[:, 1])[0, 1]) < 0.1


def test_identical_reference_channels_do_not_diverge():
    """Mono content on two channels: the references are exactly rank one. With the mono
    fallback the canceller is the single-channel PFDKF on that content (exactly); without it,
    the joint filter stays finite, never resets, cancels as well, and its weights do not drift
    along the unexcited direction (left minus right).

    Measured: with the fallback, bit for bit; without, ERLE 32.5 dB against PFDKF's 31.6 dB,
    no reset, and left - right stays exactly 0 (the gain has no component along it)."""
    scene = make_scene(8.0, seed=4, timeline=FAR_END_ONLY, snr_db=50)
    both = np.stack([scene.ref, scene.ref], axis=1)
    single = cancel(scene.mic, scene.ref, postfilter=0)
    np.testing.assert_allclose(cancel(scene.mic, both, postfilter=0), single, rtol=0, atol=1e-12)

    canceller = MultichannelPFDKF(RATE, n_ref=2, detect_mono=False, postfilter=0)
    out = np.concatenate(
        [canceller.process(scene.mic[i : i + 160, None], both[i : i + 160]) for i in range(0, len(both) - 159, 160)]
    )
    assert np.all(np.isfinite(out)) and canceller.n_resets == 0
    n = len(out)
    assert _erle_last_half(scene.mic[:n], out[:, 0]) > _erle_last_half(scene.mic[:n], single[:n]) - 1.0
    left, right = canceller.filter[0]
    assert np.linalg.norm(left - right) < 0.1 * np.linalg.norm(left + right)


# -------------------------------------------------------------------------- references and details
@pytest.mark.parametrize("rate", [RATE, 8000])
@pytest.mark.parametrize("options", [{}, {"postfilter": 0, "delay": 0}], ids=["default", "linear"])
def test_one_reference_one_microphone_is_pfdkf(options, rate):
    """n_ref = n_mic = 1 runs PFDKF's own compiled update: equal to 1e-12 on a scene with a
    bulk delay, double talk and an echo-path change (measured: bit for bit), at any rate (the
    suppressor's rate-dependent constants included: each microphone's once ran at 16 kHz's)."""
    scene = make_scene(5.0, sample_rate=rate, seed=6, delay_ms=40, path_change_at=3.0)
    frame = rate // 100
    multi = MultichannelPFDKF(rate, frame_size=frame, n_ref=1, n_mic=1, **options)
    single = PFDKF(rate, frame_size=frame, **options)
    for i in range(0, len(scene.mic) - frame + 1, frame):
        mic, ref = scene.mic[i : i + frame], scene.ref[i : i + frame]
        np.testing.assert_allclose(multi.process(mic[:, None], ref[:, None])[:, 0], single.process(mic, ref), atol=1e-12)
    np.testing.assert_allclose(multi.filter[0, 0], single.filter, atol=1e-12)
    assert multi.delay == single.delay


def _textbook_joint_step(x, error, weights, phi, noise, a2, smoothing, noise_floor):
    """One joint Kalman step with explicit R x R matrices (numpy.linalg-free, by the formulas)."""
    n_paths, n_partitions, n_bins = weights.shape
    noise = smoothing * noise + (1 - smoothing) * np.abs(error) ** 2
    quadratic = np.zeros(n_bins)
    for p in range(n_partitions):
        for k in range(n_bins):
            quadratic[k] += np.real(x[:, p, k] @ phi[p, k] @ np.conj(x[:, p, k]))
    inverse = 1 / (quadratic + 2 * noise + noise_floor)
    weights, phi = weights.copy(), phi.copy()
    for p in range(n_partitions):
        for k in range(n_bins):
            gain = phi[p, k] @ np.conj(x[:, p, k])
            weights[:, p, k] += gain * error[k] * inverse[k]
            phi[p, k] = a2 * (phi[p, k] - 0.5 * inverse[k] * np.outer(gain, np.conj(gain)))
            phi[p, k] += (1 - a2) * np.diag(np.abs(weights[:, p, k]) ** 2)
    return weights, phi, noise, 0.5 * quadratic


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**31), n_paths=st.sampled_from([2, 3]))
def test_joint_update_matches_the_textbook_formulas(seed, n_paths):
    """The compiled joint update against the matrix formulas of the module notes, to 1e-12."""
    rng = np.random.default_rng(seed)
    n_partitions, n_bins = 3, 5

    def complex_normal(*shape):
        return rng.standard_normal(shape) + 1j * rng.standard_normal(shape)

    x = complex_normal(n_paths, n_partitions, n_bins)
    error = complex_normal(n_bins)
    weights = complex_normal(n_paths, n_partitions, n_bins)
    root = complex_normal(n_partitions, n_bins, n_paths, n_paths)
    phi = root @ np.conj(np.swapaxes(root, -1, -2))  # Hermitian positive definite
    noise = rng.uniform(0.1, 1.0, n_bins)
    # the kernel's layout: lines of a 2P-row delay line, diagonal and upper triangle apart
    buffers = np.zeros((n_paths + 1, 2 * n_partitions, n_bins), dtype=complex)
    buffers[1:, 1 : 1 + n_partitions] = x
    powers = np.abs(buffers) ** 2
    diagonal = np.ascontiguousarray(np.real(np.diagonal(phi, axis1=-2, axis2=-1)).transpose(2, 0, 1))
    cross = np.ascontiguousarray(np.triu(phi, 1).transpose(2, 3, 0, 1))
    got_weights, got_noise, residual = weights.copy(), noise.copy(), np.empty(n_bins)
    gain = np.empty_like(weights)
    joint_kalman_update(
        buffers, powers, 1, 1, n_paths, error, got_weights, diagonal, cross, got_noise, residual, 0.99, 0.5, 1e-3, gain
    )
    want_weights, want_phi, want_noise, want_residual = _textbook_joint_step(x, error, weights, phi, noise, 0.99, 0.5, 1e-3)
    np.testing.assert_allclose(got_weights, want_weights, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(got_noise, want_noise, rtol=1e-12)
    np.testing.assert_allclose(residual, want_residual, rtol=1e-12)
    np.testing.assert_allclose(diagonal, np.real(np.diagonal(want_phi, axis1=-2, axis2=-1)).transpose(2, 0, 1), rtol=1e-12)
    upper = np.triu(np.ones((n_paths, n_paths), dtype=bool), 1)
    np.testing.assert_allclose(cross[upper].transpose(1, 2, 0), want_phi[..., upper], rtol=1e-12, atol=1e-12)


def test_mono_detection_follows_the_content():
    """Panned mono (0.8 s, 0.3 s) is one path; two unrelated channels are two; a switch back
    to stereo keeps the echo estimate (W_r = W / R)."""
    rng = np.random.default_rng(0)
    source = rng.standard_normal(16000)
    canceller = MultichannelPFDKF(RATE, n_ref=2, postfilter=0, delay=0, highpass_hz=0)
    frames = [(0.8 * source[i : i + 160], 0.3 * source[i : i + 160]) for i in range(0, 16000, 160)]
    for left, right in frames:
        canceller.process(np.zeros((160, 1)), np.stack([left, right], 1))
    assert canceller.mono
    canceller._weights[:, 0] = rng.standard_normal(canceller._weights[:, 0].shape)
    before = canceller.filter.copy()
    canceller._to_stereo()
    np.testing.assert_allclose(canceller.filter, before, atol=1e-15)
    other = rng.standard_normal((16000, 2))
    for i in range(0, 16000, 160):
        canceller.process(np.zeros((160, 1)), other[i : i + 160])
    assert not canceller.mono


def test_shapes_and_one_line_errors():
    canceller = make_canceller("pfdkf", RATE, n_ref=2, n_mic=3)
    assert isinstance(canceller, MultichannelPFDKF)
    assert canceller.process(np.zeros((160, 3)), np.zeros((160, 2))).shape == (160, 3)
    assert canceller.filter.shape == (3, 2, canceller.filter_length)
    bad = [
        (np.zeros((160, 2)), np.zeros((160, 2)), r"mic_frame must have shape \(frame_size, n_mic\) = \(160, 3\), got \(160, 2\)"),
        (np.zeros((160, 3)), np.zeros(160), r"ref_frame must have shape .* got \(160,\)"),
        (np.zeros((3, 160)), np.zeros((160, 2)), r"got \(3, 160\)"),
        (np.full((160, 3), np.nan), np.zeros((160, 2)), "mic_frame contains 480 NaN or Inf"),
    ]
    for mic, ref, message in bad:
        with pytest.raises(ValueError, match=message) as error:
            canceller.process(mic, ref)
        assert "\n" not in str(error.value)
    with pytest.raises(TypeError, match="mic_frame must be a real numeric array"):
        canceller.process(np.full((160, 3), "a"), np.zeros((160, 2)))
    with pytest.raises(ValueError, match="'nlms' has no multichannel version"):
        cancel(np.zeros((1600, 2)), np.zeros(1600), "nlms")
    with pytest.raises(ValueError, match="same length"):
        cancel(np.zeros((1600, 2)), np.zeros((1500, 2)))
    with pytest.raises(ValueError, match=r"shape \(samples,\) or \(samples, channels\)"):
        cancel(np.zeros((1600, 2, 1)), np.zeros(1600))
    with pytest.raises(TypeError, match="initial_filter"):
        MultichannelPFDKF(RATE, n_ref=2, initial_filter=np.ones(3))


def test_layouts_of_cancel():
    """A 1-D microphone with a stereo reference gives a 1-D output; 2-D gives (T, n_mic)."""
    scene = _stereo_scene(1)
    short = slice(0, 8000)
    assert cancel(scene.mic[short], scene.ref[short]).shape == (8000,)
    assert cancel(np.stack([scene.mic[short]] * 2, 1), scene.ref[short]).shape == (8000, 2)


@settings(max_examples=4, deadline=None)
@given(exponent=st.integers(min_value=-10, max_value=15))
def test_level_invariance_exact_at_powers_of_two(exponent):
    """Every threshold (noise floor, watch, mono detection) is relative to the input level."""
    scale = 2.0**exponent
    scene = make_scene(3.0, seed=7, n_loudspeakers=2, n_mics=2, timeline=FAR_END_ONLY)
    reference = cancel(scene.mic, scene.ref)
    np.testing.assert_array_equal(cancel(scale * scene.mic, scale * scene.ref) / scale, reference)


def test_no_nan_or_inf_on_identical_channels_of_hostile_level():
    """Identical channels at 1e150 (squares overflow): every output sample stays finite."""
    rng = np.random.default_rng(1)
    ref = np.repeat(rng.standard_normal((3200, 1)), 2, axis=1) * 1e150
    mic = np.stack([np.convolve(ref[:, 0], [0.0, 0.5, 0.2])[:3200]] * 2, axis=1)
    for detect_mono in (True, False):
        assert np.all(np.isfinite(cancel(mic, ref, detect_mono=detect_mono)))
