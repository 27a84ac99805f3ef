"""Clock drift (issue 13, section 3): simulated in make_scene, estimated and compensated by the cancellers.

The end-to-end check runs the default pipeline on one 60 s far-end single-talk
scene per drift (0, +100, -100 ppm): about 1 s to build each scene and 1 s to
cancel it, so the whole file stays near 10 s of CPU.
"""

import re

import numpy as np
import pytest

from echoless.aec import make_canceller
from echoless.aec.delay import DelayLine, estimate_delay
from echoless.aec.drift import DEADBAND_PPM, DriftingDelayLine
from echoless.aec.streaming import run_canceller
from echoless.data import make_scene
from echoless.metrics import erle

RATE = 16000
FAR_END_ONLY = [("far_end_single_talk", 1.0)]


def _erle_between(scene, out, start, end):
    # without the scene's last 10 ms frame: run_canceller emits it from the call on the padding
    # frame, whose residual echo (18 dB below the mic, drift or not) would alone cap the ERLE of
    # the last 10 s near 46 dB and hide the differences measured here
    part = slice(start * RATE, min(end * RATE, len(out) - 160))
    return erle(scene.mic[part], out[part])


@pytest.fixture(scope="module")
def minute():
    """60 s far-end single talk, 40 ms bulk delay, at 0 and +-100 ppm: output, ERLE 50-60 s and estimate."""
    runs = {}
    for ppm in (0.0, 100.0, -100.0):
        scene = make_scene(60.0, seed=0, delay_ms=40, snr_db=50, timeline=FAR_END_ONLY, clock_drift_ppm=ppm)
        canceller = make_canceller(drift_compensation=True)
        out = run_canceller(canceller, scene.mic, scene.ref)
        runs[ppm] = (scene, out, _erle_between(scene, out, 50, 60), canceller.clock_drift_ppm)
    return runs


# ------------------------------------------------------------------ the scene
def test_scene_echo_delay_grows_by_the_drift():
    # an independent look at the simulation: the GCC-PHAT lag of the drifted echo behind the
    # drift-free one (same seed, same room and signals) is ppm * 1e-6 * t samples at time t
    free = make_scene(10.0, seed=2, delay_ms=20, snr_db=np.inf, timeline=FAR_END_ONLY)
    for ppm in (500.0, -500.0):
        drifted = make_scene(10.0, seed=2, delay_ms=20, snr_db=np.inf, timeline=FAR_END_ONLY, clock_drift_ppm=ppm)
        assert drifted.meta["clock_drift_ppm"] == ppm
        for centre in (2.0, 5.0, 9.0):
            # over a quarter second the lag moves by 2 samples at 500 ppm: the peak may sit anywhere within
            part = slice(round((centre - 0.125) * RATE), round((centre + 0.125) * RATE))
            lag = estimate_delay(drifted.echo[part], free.echo[part], RATE, max_delay=0.01, window_seconds=0.25)
            assert abs(lag - ppm * 1e-6 * centre * RATE) <= 2


def test_zero_drift_leaves_the_scene_as_it_was():
    plain, zero = make_scene(3.0, seed=1), make_scene(3.0, seed=1, clock_drift_ppm=0.0)
    np.testing.assert_array_equal(plain.mic, zero.mic)


@pytest.mark.parametrize("value, error", [(float("nan"), ValueError), (2000.0, ValueError), ("50", TypeError)])
def test_scene_rejects_a_bad_drift(value, error):
    with pytest.raises(error, match="clock_drift_ppm"):
        make_scene(1.0, clock_drift_ppm=value)


# ------------------------------------------------------------ the delay line
def _fourier_series(rng, n_terms=30, top=0.35):
    frequencies = rng.uniform(0.0, top, n_terms)
    amplitudes = rng.standard_normal(n_terms)
    phases = rng.uniform(0.0, 2 * np.pi, n_terms)
    return lambda t: np.sum(amplitudes * np.cos(2 * np.pi * frequencies * np.asarray(t)[..., None] + phases), axis=-1)


def _stream(line, x, frame_size):
    return np.concatenate([line.process(x[i : i + frame_size]) for i in range(0, len(x), frame_size)])


def test_drifting_line_without_drift_is_the_integer_delay_line():
    x = np.random.default_rng(0).standard_normal(160 * 50)
    line, plain = DriftingDelayLine(2000, 160), DelayLine(2000, 160)
    line.delay = plain.delay = 777
    np.testing.assert_array_equal(_stream(line, x, 160), _stream(plain, x, 160))


@pytest.mark.parametrize("rate", [2e-4, -2e-4, 3e-6])
def test_drifting_line_reads_the_signal_at_the_drifting_delay(rate):
    # a band-limited signal's exact value at n - d(n), d(n) = 100.3 + rate * n, across whole-sample
    # carries of the delay (continuity between frames, both directions)
    value = _fourier_series(np.random.default_rng(1))
    n = 160 * 200
    line = DriftingDelayLine(1000, 160)
    line.delay, line.fraction, line.rate = 100, 0.3, rate
    out = _stream(line, value(np.arange(n)), 160)
    t = np.arange(n)
    expected = value(t - (100.3 + rate * t))
    error = (out - expected)[200:]  # the first 100 samples read the silence before the stream
    assert np.sqrt(np.mean(error**2)) < 1e-4 * np.std(expected)
    assert line.delay + line.fraction == pytest.approx(100.3 + rate * n, abs=1e-9)


def test_drifting_line_near_its_shortest_delay_never_raises():
    # the interpolation needs HALF_WIDTH samples of delay at every sample of the frame: a line
    # that drifts below that falls back to the integer delay instead of reading the future
    x = np.random.default_rng(2).standard_normal(160 * 40)
    for delay in (0, 15, 16, 17, 20):
        for rate in (-1e-3, -2e-4, 2e-4, 1e-3):
            line = DriftingDelayLine(500, 160)
            line.delay, line.fraction, line.rate = delay, 0.0, rate
            assert np.all(np.isfinite(_stream(line, x, 160)))
            assert 0 <= line.delay <= 500


# -------------------------------------------------------------- the canceller
@pytest.mark.parametrize("ppm", [100.0, -100.0])
def test_drift_is_estimated_and_compensated(minute, ppm):
    scene, out, late, estimate = minute[ppm]
    # measured: +100 ppm -> +100.4, -100 ppm -> -100.2
    assert estimate == pytest.approx(ppm, abs=2.0)
    # measured: ERLE 50-60 s 64.8 / 64.8 dB against 64.9 dB without drift (27.3 at +100 ppm uncompensated)
    assert late > minute[0.0][2] - 3.0
    assert np.all(np.isfinite(out))


@pytest.mark.parametrize("ppm", [10.0, -30.0, 200.0])
def test_drift_estimate_through_double_talk_and_noise(ppm):
    # 20 s: far end alone, both talking (0 dB), far end alone; noise 30 dB below the near end.
    # measured: +10.1, -30.3, +202.9 ppm (and as close at 10 dB SNR, or with music)
    scene = make_scene(20.0, seed=7, delay_ms=50, snr_db=30, clock_drift_ppm=ppm, timeline=[
        ("far_end_single_talk", 0.3), ("double_talk", 0.4), ("far_end_single_talk", 0.3)])  # fmt: skip
    canceller = make_canceller(drift_compensation=True)
    run_canceller(canceller, scene.mic, scene.ref)
    assert canceller.clock_drift_ppm == pytest.approx(ppm, abs=1.0 + 0.03 * abs(ppm))


def test_delay_tracker_does_not_pull_a_drifting_line_back(minute):
    # the tracker's integer lag, averaged over 3 s of a drifting echo, sits a few samples from
    # the line: with its usual 2-sample tolerance it moves line and filter (here by -5 samples
    # once; with a line realigned by the estimator too, back and forth every 10-20 s), and
    # each shift of the filter costs about a second of ERLE
    scene = minute[-100.0][0]
    canceller = make_canceller(drift_compensation=True)
    shifts = []
    shift = canceller._shift_filter
    canceller._shift_filter = lambda samples: (shifts.append(samples), shift(samples))
    run_canceller(canceller, scene.mic, scene.ref)
    assert len(shifts) == 1  # the first lock only


def test_drift_without_compensation_loses_the_echo(minute):
    # the failure the compensation exists for (measured over 50-60 s at +100 ppm: 27.3 dB against
    # 64.8 compensated; 16.9 before the suppressor's leakage estimate took some of the residual)
    scene = minute[100.0][0]
    out = run_canceller(make_canceller(drift_compensation=False), scene.mic, scene.ref)
    assert _erle_between(scene, out, 50, 60) < minute[100.0][2] - 20.0


def test_drift_free_input_is_processed_exactly_as_without_compensation():
    scene = make_scene(20.0, seed=5, ser_db=-5.0, delay_ms=200)  # double talk and near end too
    compensated = make_canceller(drift_compensation=True)
    out = run_canceller(compensated, scene.mic, scene.ref)
    np.testing.assert_array_equal(out, run_canceller(make_canceller(drift_compensation=False), scene.mic, scene.ref))
    assert abs(compensated.clock_drift_ppm) < DEADBAND_PPM


def test_drift_compensation_is_level_invariant():
    scene = make_scene(15.0, seed=3, delay_ms=40, snr_db=50, timeline=FAR_END_ONLY, clock_drift_ppm=-150)
    runs = []
    for scale in (1.0, 2.0**-12, 2.0**14):  # powers of two scale exactly
        canceller = make_canceller(drift_compensation=True)
        runs.append((run_canceller(canceller, scale * scene.mic, scale * scene.ref) / scale, canceller.clock_drift_ppm))
    assert runs[0][1] == pytest.approx(-150, abs=5)  # measured -152.8 after 15 s (a 10 s fit)
    for out, estimate in runs[1:]:
        np.testing.assert_array_equal(out, runs[0][0])
        assert estimate == runs[0][1]


def test_echo_path_change_under_drift_restarts_the_estimate():
    scene = make_scene(40.0, seed=3, delay_ms=60, snr_db=50, timeline=FAR_END_ONLY, path_change_at=20.0,
                       clock_drift_ppm=100)  # fmt: skip
    canceller = make_canceller(drift_compensation=True)
    out = run_canceller(canceller, scene.mic, scene.ref)
    assert canceller.clock_drift_ppm == pytest.approx(100, abs=3)
    assert _erle_between(scene, out, 32, 40) > 50.0  # measured 65.3 dB


def test_no_estimate_without_the_delay_search_and_after_reset(minute):
    scene = minute[100.0][0]
    fixed = make_canceller(delay=600)
    run_canceller(fixed, scene.mic[: 5 * RATE], scene.ref[: 5 * RATE])
    assert fixed.clock_drift_ppm is None
    canceller = make_canceller(drift_compensation=True)
    run_canceller(canceller, scene.mic[: 12 * RATE], scene.ref[: 12 * RATE])
    assert canceller.clock_drift_ppm == pytest.approx(100, abs=5)
    canceller.reset()
    assert canceller.clock_drift_ppm is None


def test_cli_cancel_reports_a_significant_drift_only(minute, tmp_path, capsys):
    from echoless.cli import main
    from echoless.io import write_audio

    for ppm in (100.0, 0.0):
        scene = minute[ppm][0]
        mic = write_audio(tmp_path / f"mic{ppm:g}.wav", scene.mic[: 15 * RATE], RATE)
        ref = write_audio(tmp_path / f"ref{ppm:g}.wav", scene.ref[: 15 * RATE], RATE)
        assert main(["cancel", str(mic), str(ref), "-o", str(tmp_path / f"near{ppm:g}.wav"), "--drift"]) == 0
        printed = capsys.readouterr().out
        if ppm:
            reported = float(re.search(r"clock drift: MIC runs ([-+][\d.]+) ppm", printed).group(1))
            assert reported == pytest.approx(ppm, abs=5)
        else:
            assert "clock drift" not in printed
