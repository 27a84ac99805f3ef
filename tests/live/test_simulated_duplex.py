"""The live path on a simulated sound card: callbacks of different sizes on a jittery clock, a room echo.

The reference test: on a well-behaved device the live output equals, sample
for sample, the offline ``cancel`` of the same microphone signal and the
reference aligned by the device latency, delayed by ``live.latency`` — so
block sizes, jitter and callback order change nothing.
"""

import numpy as np
import pytest

from echoless.aec import cancel
from echoless.data.talkers import TALKERS, load_recording
from echoless.live import LiveCanceller, SimulatedDuplex
from echoless.metrics import erle

SAMPLE_RATE = 16000
SECONDS = 6


def _room(seed=1, acoustic_delay=320, taps=1600):
    """A decaying-noise echo path (100 ms, RT60 about 0.1 s) after a 20 ms acoustic delay."""
    rng = np.random.default_rng(seed)
    path = np.zeros(acoustic_delay + taps)
    path[acoustic_delay:] = 0.3 * rng.standard_normal(taps) * np.exp(-np.arange(taps) / 300)
    return path


def _talkers(near_from=2.0, near_to=3.5):
    """Far-end speech throughout; a near-end talker between ``near_from`` and ``near_to`` seconds."""
    n = SECONDS * SAMPLE_RATE
    far = load_recording(TALKERS[0])[:n]
    near = np.zeros(n)
    start, stop = int(near_from * SAMPLE_RATE), int(near_to * SAMPLE_RATE)
    near[start:stop] = 0.5 * load_recording(TALKERS[1])[: stop - start]
    return far, near


@pytest.fixture(scope="module")
def warm_default():
    """One warm default canceller (compiled once), reset by each test that uses it."""
    return LiveCanceller(sample_rate=SAMPLE_RATE)


@pytest.mark.parametrize(
    "device",
    [
        SimulatedDuplex(playback_block=256, capture_block=160, jitter=100, seed=0),
        SimulatedDuplex(playback_block=441, capture_block=100, playback_latency=2000, capture_latency=0, jitter=300, seed=1),
        SimulatedDuplex(playback_block=128, capture_block=512, playback_latency=600, capture_latency=512, jitter=0, seed=2),
    ],
    ids=["256-160-jitter", "441-100-bursty", "128-512-steady"],
)
def test_live_output_equals_offline_cancel_of_the_aligned_signals(warm_default, device):
    live = warm_default
    live.reset()
    live.device_latency = device.playback_latency
    far, near = _talkers()
    run = device.run(live, far, _room(), near)
    stats = live.stats
    assert stats.glitches == 0 and stats.dropped_samples == stats.missing_samples == 0  # zero lost blocks
    assert len(run.out) == len(run.mic) == stats.captured_samples
    aligned = np.zeros(len(run.mic))
    aligned[device.playback_latency :] = run.ref[: len(run.mic) - device.playback_latency]
    offline = cancel(run.mic, aligned, method="pfdkf", sample_rate=SAMPLE_RATE, delay="auto")  # default postfilter
    lag = live.latency
    np.testing.assert_array_equal(run.out[lag:], offline[: len(offline) - lag])
    np.testing.assert_array_equal(run.out[:lag], 0.0)  # the documented head start, nothing else


def test_cancels_the_echo_and_keeps_the_near_end(warm_default):
    live = warm_default
    live.reset()
    device = SimulatedDuplex(seed=3)
    live.device_latency = device.playback_latency
    far, near = _talkers()
    run = device.run(live, far, _room(), near)
    lag = live.latency
    out = run.out[lag:]
    mic = run.mic[: len(out)]
    last = slice(4 * SAMPLE_RATE, None)  # far-end single talk after the double talk
    assert erle(mic[last], out[last]) > 30.0  # measured 48.3 dB
    # the acoustic delay (20 ms) found on top of the device latency, less the delay search's 5 ms margin
    assert 160 <= live.canceller.delay <= 320
    double_talk = slice(int(2.5 * SAMPLE_RATE), int(3.5 * SAMPLE_RATE))

    def near_end_snr(signal):
        return 10 * np.log10(np.sum(near[double_talk] ** 2) / np.sum((signal[double_talk] - near[double_talk]) ** 2))

    assert near_end_snr(out) - near_end_snr(mic) > 12.0  # measured -10.7 dB -> 4.0 dB


def test_playback_stall_counts_underruns_and_recovers(warm_default):
    live = warm_default
    live.reset()
    stall = (int(3.0 * SAMPLE_RATE), int(0.3 * SAMPLE_RATE))  # the playback thread freezes for 300 ms
    device = SimulatedDuplex(playback_stall=stall, seed=4)
    live.device_latency = device.playback_latency
    far, _ = _talkers()
    run = device.run(live, far, _room())
    stats = live.stats
    assert stats.underruns > 0 and stats.overruns == stats.canceller_errors == 0
    # the reference due during the stall, less what was buffered ahead of the capture side when it began
    assert 0.2 * SAMPLE_RATE < stats.missing_samples <= stall[1]
    assert len(run.out) == len(run.mic) and np.isfinite(run.out).all()
    last = slice(5 * SAMPLE_RATE, None)
    assert erle(run.mic[: len(run.mic) - live.latency][last], run.out[live.latency :][last]) > 30.0  # measured 45.8 dB


def test_capture_stall_overruns_a_small_fifo_and_counts_the_loss():
    live = LiveCanceller("nlms", sample_rate=SAMPLE_RATE, filter_length=64, fifo_seconds=0.25, warm_up=False)
    stall = (SAMPLE_RATE, int(0.5 * SAMPLE_RATE))  # the capture thread freezes for 500 ms
    device = SimulatedDuplex(capture_stall=stall, seed=5)
    live.device_latency = device.playback_latency
    far = 0.1 * np.random.default_rng(5).standard_normal(2 * SAMPLE_RATE)
    run = device.run(live, far, _room(taps=64))
    stats = live.stats
    assert stats.overruns > 0 and stats.dropped_samples > 0.2 * SAMPLE_RATE
    assert len(run.out) == len(run.mic) and np.isfinite(run.out).all()


def test_jitter_changes_the_order_of_the_two_callbacks():
    def pattern(jitter):
        device = SimulatedDuplex(playback_block=256, capture_block=160, jitter=jitter, seed=6)
        sides = [side for side, _, _ in device._callbacks(160 * 200, 256 * 130)]
        # playback callbacks between consecutive capture callbacks
        return np.diff([i - k for k, i in enumerate(i for i, side in enumerate(sides) if side == "capture")])

    steady, jittery = pattern(0), pattern(150)
    assert set(steady) == {0, 1}  # 160/256: the steady clock alternates between none and one
    assert max(jittery) >= 2 and not np.array_equal(steady, jittery)
