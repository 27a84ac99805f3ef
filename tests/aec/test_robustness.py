"""The input kinds that users of other AEC libraries report every week, one test per kind (issue 11).

Each test runs every streaming method (and the default pipeline of
``cancel``) on scenes from :func:`echoless.data.make_scene`. The figures in
the comments were measured on main before the fix (``benchmarks/bench_robustness.py``
prints them all).
"""

import functools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.signal import butter, sosfiltfilt

from echoless.aec import cancel, estimate_delay
from echoless.aec.base import DIVERGENCE_SECONDS, PERSISTENT_RATIO
from echoless.aec.delay import DelayWarning
from echoless.aec.methods import STREAMING_METHODS
from echoless.data import make_scene
from echoless.metrics import erle, si_snr

RATE = 16000
#: every streaming method with its linear stage alone, plus the default pipeline
CONFIGURATIONS = [(method, {"delay": 0, "postfilter": 0}) for method in STREAMING_METHODS] + [("default", {})]
IDS = [name for name, _ in CONFIGURATIONS]


def _run(name, options, mic, ref, **more):
    if name == "default":
        return cancel(mic, ref, **more)
    return cancel(mic, ref, name, RATE, **{**options, **more})


def _last(seconds, *signals):
    return [signal[-int(seconds * RATE) :] for signal in signals]


@functools.cache
def _far_end_scene(seconds=6.0, delay_ms=40, seed=11):
    return make_scene(seconds, seed=seed, delay_ms=delay_ms, timeline=[("far_end_single_talk", 1.0)], snr_db=50)


# --------------------------------------------------------------------------------------- level
@pytest.mark.parametrize(("name", "options"), CONFIGURATIONS, ids=IDS)
@settings(max_examples=6, deadline=None)
@given(exponent=st.integers(min_value=-10, max_value=15))
def test_level_invariance_exact_at_powers_of_two(name, options, exponent):
    """Every threshold is relative to the signal's level: scaling by 2**k (exact in floating
    point) gives exactly the scaled output, decisions and all.

    Before: PBFDAF removed 0.45 dB at a=0.01 against 16.0 dB at a=1 (absolute power floors)."""
    scale = 2.0**exponent
    scene = _far_end_scene(3.0)
    reference = _run(name, options, scene.mic, scene.ref)
    np.testing.assert_array_equal(_run(name, options, scale * scene.mic, scale * scene.ref) / scale, reference)


@pytest.mark.parametrize(("name", "options"), CONFIGURATIONS, ids=IDS)
@settings(max_examples=6, deadline=None)
@given(exponent=st.floats(min_value=np.log10(1e-3), max_value=np.log10(32768.0)))
def test_level_invariance(name, options, exponent):
    """cancel(a*mic, a*ref) == a*cancel(mic, ref) for any a in [1e-3, 32768]: to 1e-9 of the
    output's norm, except PBFDAF, whose two-path switch can tip a frame earlier or later on a
    rounding-level tie (up to 5 % of the output's norm): its ERLE stays within 0.5 dB."""
    scale = 10.0**exponent
    scene = _far_end_scene(3.0)
    reference = _run(name, options, scene.mic, scene.ref)
    scaled = _run(name, options, scale * scene.mic, scale * scene.ref) / scale
    if name == "pbfdaf":
        difference = erle(*_last(1, scene.mic, scaled)) - erle(*_last(1, scene.mic, reference))
        assert abs(difference) < 0.5
        assert np.linalg.norm(scaled - reference) <= 0.05 * np.linalg.norm(reference)
    else:
        assert np.linalg.norm(scaled - reference) <= 1e-9 * np.linalg.norm(reference)


@pytest.mark.parametrize(("name", "options"), CONFIGURATIONS, ids=IDS)
def test_level_invariance_of_erle_at_int16_scale_and_quiet_input(name, options):
    scene = _far_end_scene()
    erles = [erle(*_last(3, scene.mic, _run(name, options, a * scene.mic, a * scene.ref) / a)) for a in (0.01, 1.0, 32768.0)]
    # PBFDAF: its two-path switch can tip on a rounding-level tie (see test_level_invariance)
    assert max(erles) - min(erles) < (0.5 if name == "pbfdaf" else 0.01), erles


# ------------------------------------------------------------------------------------ DC, rumble
def _highpass(x):
    # scoring only: both outputs through the same zero-phase 100 Hz high-pass, so that the
    # figure counts echo, not the offset itself (which the peers also remove)
    return sosfiltfilt(butter(4, 100.0, "highpass", fs=RATE, output="sos"), x)


@pytest.mark.parametrize(("name", "options"), CONFIGURATIONS, ids=IDS)
def test_dc_offset_on_the_mic(name, options):
    """A DC offset of 0.05 on the mic costs under 1 dB of ERLE (the high-pass removes DC entirely).

    Before: a DC of 0.05 cost PBFDAF 7.9 dB and NLMS 3.5 dB (bench_robustness)."""
    scene = _far_end_scene()
    clean = _run(name, options, scene.mic, scene.ref)
    disturbed = _run(name, options, scene.mic + 0.05, scene.ref)
    cost = erle(*_last(3, scene.mic, _highpass(clean))) - erle(*_last(3, scene.mic, _highpass(disturbed)))
    assert cost < 1.0, cost


@pytest.mark.parametrize(("name", "options"), CONFIGURATIONS, ids=IDS)
def test_rumble_on_the_mic(name, options):
    """10 Hz rumble of amplitude 0.05 on the mic: the default 20 Hz high-pass takes 12 dB off it
    before the filter (cost under 3 dB: what is left acts as low-frequency near-end noise);
    highpass_hz=60, for heavy rumble, brings the cost under 2 dB. Measured with 60 Hz: PFDKF 0.4,
    PBFDAF 0.6, NLMS 0.0, the default 1.7 dB of its 41.1 dB (at 40 dB the suppressor's gains, not
    the filter, decide the last decibel). The default's output keeps the rumble at least 20 dB
    below what was added: the suppressor's low cut takes it (measured -24.2 dB, against -13.2
    before the low cut)."""
    scene = _far_end_scene()
    rumble = 0.05 * np.sin(2 * np.pi * 10.0 * np.arange(len(scene.mic)) / RATE)
    for highpass_hz, bound in ((None, 3.0), (60.0, 2.0)):
        more = {} if highpass_hz is None else {"highpass_hz": highpass_hz}
        clean = _run(name, options, scene.mic, scene.ref, **more)
        disturbed = _run(name, options, scene.mic + rumble, scene.ref, **more)
        cost = erle(*_last(3, scene.mic, _highpass(clean))) - erle(*_last(3, scene.mic, _highpass(disturbed)))
        assert cost < bound, (highpass_hz, cost)
        if name == "default" and highpass_hz is None:
            def at_10_hz(x):
                return np.std(sosfiltfilt(butter(4, [5.0, 13.0], "bandpass", fs=RATE, output="sos"), x)[2 * RATE :])

            assert 20 * np.log10(at_10_hz(disturbed - clean) / at_10_hz(rumble)) < -20.0


def test_highpass_matches_scipy_across_frames():
    from scipy import signal

    from echoless.aec.highpass import HighPass

    rng = np.random.default_rng(0)
    x = rng.standard_normal(160 * 20) + 0.3
    highpass = HighPass(RATE, 60.0)
    out = np.concatenate([highpass.process(x[i : i + 160]) for i in range(0, len(x), 160)])
    sos = signal.butter(2, 60.0, "highpass", fs=RATE, output="sos")
    expected = signal.sosfilt(sos, x, zi=signal.sosfilt_zi(sos) * x[0])[0]  # started at the first sample
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="below 8000 Hz, the Nyquist frequency"):
        HighPass(RATE, 9000.0)


@pytest.mark.parametrize("rate", [8000, 16000, 48000])
@pytest.mark.parametrize("cutoff_hz", [10.0, 20.0, 60.0, 80.0])
def test_undone_highpass_is_a_dc_blocker(rate, cutoff_hz):
    """High-pass then HighPassUndo, frame by frame, is (1 - z^-1)^2 / (1 - rho z^-1)^2 with rho at
    cutoff_hz / UNDO_RATIO (scipy.signal.lfilter of the closed form), and the undo's gain is at most
    UNDO_RATIO^2 at any frequency (scipy.signal.freqz), to 3 % (measured 16.03 at DC at 16 kHz and
    20 Hz, 16.26 at 8 kHz and 80 Hz: the bilinear transform's warping), for every cut-off the
    canceller undoes (up to the low cut's 80 Hz)."""
    from scipy import signal

    from echoless.aec.highpass import UNDO_RATIO, HighPass, HighPassUndo

    frame = rate // 100
    rng = np.random.default_rng(1)
    x = np.concatenate([[0.0], rng.standard_normal(frame * 30 - 1) + 0.3])  # starts at 0: no steady start
    highpass, undo = HighPass(rate, cutoff_hz), HighPassUndo(rate, cutoff_hz, n_signals=1)
    out = np.concatenate([undo.process(highpass.process(x[i : i + frame]), 0) for i in range(0, len(x), frame)])
    rho = np.exp(-2 * np.pi * cutoff_hz / UNDO_RATIO / rate)
    expected = signal.lfilter([1.0, -2.0, 1.0], [1.0, -2.0 * rho, rho * rho], x)
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-9 * np.abs(expected).max())
    _, response = signal.freqz(undo._sos[:3], undo._sos[3:], worN=np.geomspace(0.01, rate / 2, 2000), fs=rate)
    assert np.abs(response).max() <= UNDO_RATIO**2 * 1.03


def test_highpass_undo_names_bad_arguments():
    from echoless.aec.highpass import HighPassUndo

    with pytest.raises(ValueError, match="highpass_hz must be finite and > 0"):
        HighPassUndo(RATE, 0.0)
    with pytest.raises(ValueError, match="below 8000 Hz, the Nyquist frequency of the 16000 Hz band"):
        HighPassUndo(RATE, 9000.0)
    with pytest.raises(ValueError, match="sample_rate must be >= 1"):
        HighPassUndo(0, 20.0)
    with pytest.raises(TypeError, match="sample_rate must be an integer"):
        HighPassUndo("16000", 20.0)
    undo = HighPassUndo(RATE, 20.0, n_signals=2)
    for index in (2, -1, 1.0, True):
        with pytest.raises(ValueError, match=r"is not an integer in \[0, 2\)"):
            undo.process(np.zeros(160), index)
    with pytest.raises(ValueError, match=r"frame must be one-dimensional, got shape \(2, 80\)"):
        undo.process(np.zeros((2, 80)), 0)


def test_highpass_is_undone_only_where_the_undo_stays_bounded():
    """Near the Nyquist frequency the bilinear transform's warping makes the undo's gain far more
    than UNDO_RATIO^2 (measured 91 dB at 7.9 kHz on 16 kHz): such a high-pass is not undone."""
    from echoless.aec import make_canceller
    from echoless.aec.highpass import UNDO_MAX_GAIN, HighPassUndo

    assert HighPassUndo(RATE, 7000.0).max_gain > 10 * UNDO_MAX_GAIN  # measured 409 (52 dB)
    assert make_canceller("pfdkf", RATE, highpass_hz=7000.0, low_cut_hz=7500.0)._undo is None
    assert make_canceller("pfdkf", RATE, highpass_hz=80.0)._undo is not None  # up to the low cut's 80 Hz
    assert make_canceller("pfdkf", RATE, highpass_hz=81.0)._undo is None


def test_reset_gives_the_output_of_a_fresh_canceller():
    """Input high-pass, its undo, delay search, filter and suppressor all start again."""
    from echoless.aec import make_canceller

    scene = _far_end_scene(2.0)
    frames = [(scene.mic[i : i + 160], scene.ref[i : i + 160]) for i in range(0, len(scene.mic) - 159, 160)]
    used = make_canceller("pfdkf", RATE)
    for mic, ref in frames:
        used.process(mic + 0.1, ref)  # a DC offset, so the high-pass and its undo hold state
    used.reset()
    fresh = make_canceller("pfdkf", RATE)
    for mic, ref in frames:
        np.testing.assert_array_equal(used.process(mic, ref), fresh.process(mic, ref))


def test_default_pipeline_keeps_the_near_ends_phase():
    """A lone near end through the default pipeline: the input high-pass is undone on the output
    and the suppressor's low cut has no phase, so the near end comes out in phase. SI-SNR above
    200 Hz (both through the same zero-phase high-pass, scoring only): measured 31.0 dB, against
    22.0 with postfilter=0, whose output keeps the 20 Hz high-pass's phase."""
    scene = make_scene(8.0, seed=3, timeline=[("near_end_single_talk", 1.0)])
    near_end = scene.near + scene.noise

    def above_200_hz(x):
        return sosfiltfilt(butter(4, 200.0, "highpass", fs=RATE, output="sos"), x)[RATE:]

    default = si_snr(above_200_hz(near_end), above_200_hz(cancel(scene.mic, scene.ref)))
    linear = si_snr(above_200_hz(near_end), above_200_hz(cancel(scene.mic, scene.ref, postfilter=0)))
    assert default > 29.0 and default > linear + 6.0, (default, linear)


# ------------------------------------------------------------------------- delay beyond the filter
@pytest.mark.parametrize("delay_ms", [300, 450, 700, 950])
@pytest.mark.parametrize("method", ["pbfdaf", "pfdkf"])
def test_delay_longer_than_filter(method, delay_ms):
    """A bulk delay beyond the 250 ms filter, found by delay="auto": after lock, ERLE within 3 dB
    of the run given the right delay.

    Before: PBFDAF removed 0.0 dB at 450 ms (its step control stuck after the filter moved);
    delays over 500 ms were outside the search range."""
    scene = make_scene(14.0, seed=5, delay_ms=delay_ms, timeline=[("far_end_single_talk", 1.0)], snr_db=50)
    right = round(delay_ms * RATE / 1000) - round(0.005 * RATE)
    found = erle(*_last(5, scene.mic, cancel(scene.mic, scene.ref, method, delay="auto", postfilter=0)))
    given_delay = erle(*_last(5, scene.mic, cancel(scene.mic, scene.ref, method, delay=right, postfilter=0)))
    assert found > given_delay - 3.0, (found, given_delay)


def test_estimate_delay_finds_delays_up_to_one_second():
    scene = make_scene(8.0, seed=2, delay_ms=950, timeline=[("far_end_single_talk", 1.0)], snr_db=40)
    # the echo's strongest arrival sits a few ms after the bulk delay (source-microphone distance)
    assert 0 <= estimate_delay(scene.mic, scene.ref) - round(0.95 * RATE) < round(0.02 * RATE)


def test_no_reliable_delay_peak_moves_nothing_and_warns():
    rng = np.random.default_rng(0)
    mic, ref = rng.standard_normal(4 * RATE), rng.standard_normal(4 * RATE)  # unrelated signals
    with pytest.warns(DelayWarning, match="no reliable echo delay"):
        assert estimate_delay(mic, ref) == 0


def test_a_stream_without_a_delay_lock_warns_once_and_stays_put():
    from echoless.aec import PFDKF

    rng = np.random.default_rng(1)
    mic, ref = rng.standard_normal(14 * RATE), rng.standard_normal(14 * RATE)
    canceller = PFDKF(postfilter=0)
    with pytest.warns(DelayWarning) as record:
        for start in range(0, len(mic), 160):
            canceller.process(mic[start : start + 160], ref[start : start + 160])
    assert len([w for w in record if issubclass(w.category, DelayWarning)]) == 1
    assert canceller.delay == 0


# ------------------------------------------------------------------------------ loud double talk
@functools.cache
def _loud_double_talk():
    return make_scene(13.0, seed=3, ser_db=5.0, snr_db=45, timeline=[
        ("far_end_single_talk", 4 / 13), ("double_talk", 4 / 13), ("far_end_single_talk", 3 / 13),
        ("near_end_single_talk", 2 / 13)])  # fmt: skip


def _longest_times_above_mic(out, mic):
    """Longest stretches (s) in which the output exceeds the mic by PERSISTENT_RATIO: in 10 ms
    frames, and in energies smoothed like the watch's."""
    frames = len(out) // 160
    power = [np.sum(x[: frames * 160].reshape(frames, 160) ** 2, axis=1) for x in (out, mic)]
    smoothing = 160 / (DIVERGENCE_SECONDS * RATE)
    smoothed = [np.zeros(frames), np.zeros(frames)]
    for which in range(2):
        value = 0.0
        for k in range(frames):
            value += smoothing * (power[which][k] - value)
            smoothed[which][k] = value
    runs = []
    for louder in (power[0] > PERSISTENT_RATIO * power[1], smoothed[0] > PERSISTENT_RATIO * smoothed[1]):
        best = run = 0
        for flag in louder:
            run = run + 1 if flag else 0
            best = max(best, run)
        runs.append(best * 160 / RATE)
    return runs


@pytest.mark.parametrize(("name", "options"), CONFIGURATIONS, ids=IDS)
def test_loud_double_talk(name, options):
    """A near end 5 dB louder than the echo: no canceller leaves the echo louder than it was, and
    no output stays above the mic for longer than the watch window (then the filter is reset).

    Before: PBFDAF's residual echo was 5.9 dB louder than the echo during the double talk."""
    scene = _loud_double_talk()
    out = _run(name, options, scene.mic, scene.ref)
    segment = next(s for s in scene.meta["timeline"] if s["label"] == "double_talk")
    part = slice(round(segment["start"] * RATE), round(segment["end"] * RATE))
    residual = out[part] - scene.near[part] - scene.noise[part]
    residual_db = 10 * np.log10(np.sum(residual**2) / np.sum(scene.echo[part] ** 2))
    assert residual_db < 2.0, residual_db
    in_frames, smoothed = _longest_times_above_mic(out, scene.mic)
    assert in_frames <= DIVERGENCE_SECONDS + 0.02
    # after a reset the output is the mic, but energies smoothed over the window take one more to fall
    assert smoothed <= 2 * DIVERGENCE_SECONDS + 0.02


def test_the_default_pipeline_keeps_removing_echo_in_loud_double_talk():
    scene = _loud_double_talk()
    out = cancel(scene.mic, scene.ref)
    segment = next(s for s in scene.meta["timeline"] if s["label"] == "double_talk")
    part = slice(round(segment["start"] * RATE), round(segment["end"] * RATE))
    residual = out[part] - scene.near[part] - scene.noise[part]
    assert 10 * np.log10(np.sum(residual**2) / np.sum(scene.echo[part] ** 2)) < -4.0


# ----------------------------------------------------------------------------- far-end pause
@pytest.mark.parametrize(("name", "options"), CONFIGURATIONS, ids=IDS)
def test_far_end_pause_during_near_end_talk(name, options):
    """The far end pauses while the near end talks, then resumes: nobody learns the near end
    and plays it back as added echo (ERLE after the pause stays positive).

    Before: NLMS gave -2.6 dB after the pause."""
    scene = make_scene(16.0, seed=9, delay_ms=60, snr_db=50, timeline=[
        ("far_end_single_talk", 0.25), ("near_end_single_talk", 0.3125), ("far_end_single_talk", 0.4375)])  # fmt: skip
    out = _run(name, options, scene.mic, scene.ref)
    assert erle(*_last(6, scene.mic, out)) > 3.0


# --------------------------------------------------------------- the watch, as a property
@pytest.mark.parametrize(("name", "options"), CONFIGURATIONS, ids=IDS)
@settings(max_examples=5, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    near_db=st.floats(-20.0, 20.0),
    burst_db=st.floats(0.0, 60.0),
)
def test_output_never_above_the_mic_for_longer_than_the_watch(name, options, seed, near_db, burst_db):
    """Whatever the echo path, near-end level and mic bursts, no output stays 1 dB above the mic,
    frame after frame, for longer than the watch window (then the filter is reset)."""
    rng = np.random.default_rng(seed)
    n = 4 * RATE
    ref = rng.standard_normal(n) * (1 + np.sin(2 * np.pi * 0.7 * np.arange(n) / RATE))
    path = rng.standard_normal(400) * np.exp(-np.arange(400) / 80)
    mic = np.convolve(ref, path)[:n] / np.sqrt(np.sum(path**2))
    near = rng.standard_normal(n) * 10 ** (near_db / 20) * (np.sin(2 * np.pi * 0.4 * np.arange(n) / RATE) > 0)
    mic = mic + near
    burst = slice(RATE, RATE + 480)
    mic[burst] += rng.standard_normal(480) * 10 ** (burst_db / 20)
    out = _run(name, options, mic, ref)
    assert np.all(np.isfinite(out))
    in_frames, _ = _longest_times_above_mic(out, mic)
    assert in_frames <= DIVERGENCE_SECONDS + 0.02


# ------------------------------------------------- the suppressor and a talker it cannot expect
def _si_snr_after(seconds, reference, estimate):
    start = int(seconds * RATE)
    return si_snr(reference[start:], estimate[start:])


@pytest.mark.parametrize("seed, ser_db", [(541, 0.0), (542, -10.0), (542, 0.0)])
def test_double_talk_from_the_first_sample(seed, ser_db):
    """A talker from the very first sample (barge-in on a first prompt): no far-end single talk has
    taught the near-end detector the least echo left, yet after 3 s the suppressor may cost the
    near end at most 3.5 dB of SI-SNR against the linear canceller alone.

    Measured 1.8 / 2.5 / 3.0 dB. The kind is bounded, not fixed: before the far-end tuning needed
    evidence of far-end single talk, 2.6 / 3.7 / 3.6 dB; before the leakage estimate existed,
    0.4 / 1.4 / 0.6 dB (see echoless.aec.postfilter)."""
    scene = make_scene(12.0, seed=seed, ser_db=ser_db, timeline=[("double_talk", 1.0)])
    near_end = scene.near + scene.noise
    linear = _si_snr_after(3, near_end, cancel(scene.mic, scene.ref, postfilter=0))
    suppressed = _si_snr_after(3, near_end, cancel(scene.mic, scene.ref))
    assert linear - suppressed < 3.5, (linear, suppressed)


def test_cadenced_tone_with_a_talker():
    """A ringback tone (425 Hz, 1 s on, 1 s off) as the far end, a talker from 8 s: the window
    sidelobes of the tone's echo estimate rise and fall with the cadence, and a talker's power
    can follow them by chance; the leakage must not take the talker for echo. The suppressor may
    cost the talker at most 4 dB of SNR against the linear canceller alone.

    Measured 2.3 dB (before LEAKAGE_MAX: 6.5 dB; before the leakage estimate existed: 2.7 dB)."""
    n = 20 * RATE
    t = np.arange(n) / RATE
    rng = np.random.default_rng(1)
    path = np.zeros(1600)
    path[[64, 300, 900]] = 0.5, -0.25, 0.08
    path += 0.01 * rng.standard_normal(1600) * np.exp(-np.arange(1600) / 400)
    far = 0.3 * np.sin(2 * np.pi * 425 * t) * ((t % 2) < 1)
    talker = make_scene(20.0, seed=540, timeline=[("near_end_single_talk", 1.0)]).near
    talker = 0.03 * talker / np.std(talker) * (t >= 8)
    mic = np.convolve(far, path)[:n] + talker + 3e-4 * rng.standard_normal(n)
    talking = slice(10 * RATE, None)

    def snr(out):
        return 10 * np.log10(np.sum(talker[talking] ** 2) / np.sum((out[talking] - talker[talking]) ** 2))

    cost = snr(cancel(mic, far, postfilter=0)) - snr(cancel(mic, far))
    assert cost < 4.0, cost
