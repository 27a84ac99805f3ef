"""LiveCanceller: block re-framing, reference pairing, added latency, bad blocks, configuration errors."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from echoless.aec import NLMS, PFDKF
from echoless.live import LiveCanceller


class Probe:
    """A stand-in canceller whose output shows what it was given: ``mic + 1000 * ref``."""

    frame_size = 16
    sample_rate = 8000

    def __init__(self):
        self.frames = 0

    def process(self, mic, ref):
        self.frames += 1
        return mic + 1000.0 * ref

    def reset(self):
        self.frames = 0


def _split(signal, sizes):
    """Cut ``signal`` into blocks of the given sizes (cycled), the last one shorter."""
    blocks, start, i = [], 0, 0
    while start < len(signal):
        blocks.append(signal[start : start + sizes[i % len(sizes)]])
        start += sizes[i % len(sizes)]
        i += 1
    return blocks


@settings(max_examples=60, deadline=None)
@given(
    capture_sizes=st.lists(st.integers(1, 70), min_size=1, max_size=6),
    playback_sizes=st.lists(st.integers(1, 70), min_size=1, max_size=6),
    device_latency=st.integers(0, 100),
)
def test_output_is_mic_and_paired_reference_delayed_by_the_documented_latency(capture_sizes, playback_sizes, device_latency):
    n = 400
    mic = np.arange(1.0, n + 1)  # distinct values: any lost, doubled or swapped sample shows
    ref = np.arange(1.0, n + 1) / 1e4
    live = LiveCanceller(Probe(), device_latency=device_latency, warm_up=False)
    for block in _split(ref, playback_sizes):  # the playback side well ahead: no underrun
        live.push_reference(block)
    out = np.concatenate([live.process(block) for block in _split(mic, capture_sizes)])
    assert out.shape == (n,)
    lag = live.latency
    assert lag == Probe.frame_size - 1
    paired = np.concatenate([np.zeros(device_latency), ref])[:n]  # mic sample m meets ref sample m - latency
    expected = np.concatenate([np.zeros(lag), mic + 1000.0 * paired])[:n]
    complete = (n - lag) // Probe.frame_size * Probe.frame_size  # the frames fully given out so far
    np.testing.assert_array_equal(out[: lag + complete], expected[: lag + complete])
    stats = live.stats
    assert (stats.glitches, stats.captured_samples, stats.played_samples) == (0, n, n)


def test_added_latency_includes_the_cancellers_own():
    live = LiveCanceller(PFDKF(sample_rate=16000, frame_size=160, filter_length=320, postfilter=1.0), warm_up=False)
    assert live.latency == 159 + 160  # the 19.9 ms the module notes promise
    assert LiveCanceller("nlms", filter_length=64, postfilter=0, warm_up=False).latency == 159


def test_default_is_a_warm_pfdkf_with_delay_search_and_suppressor():
    live = LiveCanceller(sample_rate=16000)
    canceller = live.canceller
    assert isinstance(canceller, PFDKF)
    assert (canceller.frame_size, canceller._delay_setting, live.latency) == (160, "auto", 319)
    assert canceller.n_frames == 0  # the warm-up ran, then reset() cleared it
    assert live.stats.frames == 0 and live.stats.glitches == 0


def test_nan_and_wrong_blocks_are_counted_and_replaced_never_raised():
    live = LiveCanceller(Probe(), warm_up=False)
    live.push_reference(np.array([np.nan, 1.0, np.inf]))
    live.push_reference("not audio")
    live.push_reference(np.zeros((3, 2)))  # stereo: silenced, but its 3 samples still count
    assert live.stats.bad_reference_blocks == 3
    assert live.stats.played_samples == 6
    noisy = np.ones(40)
    noisy[5] = np.nan
    out = [live.process(noisy), live.process(np.zeros((20, 2))), live.process(None), live.process([[0.5]] * 8)]
    assert [len(block) for block in out] == [40, 20, 0, 8]
    assert all(np.isfinite(block).all() for block in out)
    assert live.stats.bad_capture_blocks == 3  # the (8, 1) column is a valid mono block
    pcm = live.process(np.full(16, -32768, dtype=np.int16))  # integer PCM is scaled to [-1, 1)
    assert live.stats.bad_capture_blocks == 3 and np.isfinite(pcm).all()


class Failing(Probe):
    def __init__(self, result):
        super().__init__()
        self.result = result

    def process(self, mic, ref):
        if isinstance(self.result, Exception):
            raise self.result
        return self.result


@pytest.mark.parametrize("result", [RuntimeError("boom"), np.full(16, np.nan), np.zeros(3)])
def test_a_failing_canceller_passes_the_frame_through_and_is_counted(result):
    live = LiveCanceller(Failing(result), warm_up=False)
    mic = np.arange(1.0, 65.0)
    out = live.process(mic)
    np.testing.assert_array_equal(out[15:], mic[: 64 - 15])
    stats = live.stats
    assert stats.canceller_errors == 4 and stats.frames == 4
    assert stats.last_error.startswith("RuntimeError: boom" if isinstance(result, Exception) else "ValueError")


def test_reset_starts_over():
    live = LiveCanceller(Probe(), warm_up=False)
    live.push_reference(np.ones(50))
    live.process(np.ones(50))
    live.reset()
    assert live.stats.frames == live.stats.played_samples == live.canceller.frames == 0
    np.testing.assert_array_equal(live.process(np.ones(16)), np.r_[np.zeros(15), 1.0])  # the head start again


@pytest.mark.parametrize(
    ("arguments", "error", "message"),
    [
        ({"device_latency": -1}, ValueError, "device_latency must be >= 0"),
        ({"device_latency": 15990}, ValueError, "device_latency=15990 samples does not fit the 16000-sample FIFO"),
        ({"fifo_seconds": 0}, ValueError, "fifo_seconds must be finite and > 0"),
        ({"canceller": "kalman"}, ValueError, "unknown method 'kalman'"),
        ({"canceller": object()}, TypeError, "canceller must be None, a method name or a streaming canceller"),
        ({"canceller": NLMS(frame_size=16, filter_length=16), "step_size": 0.5}, TypeError, "options .* apply only"),
        ({"canceller": NLMS(sample_rate=8000, frame_size=16, filter_length=16), "sample_rate": 16000},
         ValueError, "sample_rate=16000 differs from the canceller's sample_rate=8000"),
    ],
)
def test_configuration_errors_raise_one_line_naming_the_argument(arguments, error, message):
    arguments = {"canceller": Probe(), "warm_up": False, **arguments}
    with pytest.raises(error, match=message) as info:
        LiveCanceller(**arguments)
    assert "\n" not in str(info.value)


def test_warm_up_needs_a_reset_method():
    class NoReset:
        frame_size = 16

        def process(self, mic, ref):
            return mic

    with pytest.raises(TypeError, match="no reset.*warm_up=False"):
        LiveCanceller(NoReset())


def test_device_latency_is_settable_while_running():
    live = LiveCanceller(Probe(), warm_up=False)
    live.push_reference(np.arange(1.0, 101.0))
    live.process(np.zeros(16))
    live.device_latency = 10
    out = live.process(np.zeros(16))  # the second frame, samples 16..31, meets reference 6..21
    np.testing.assert_array_equal(out[15:], 1000.0 * np.arange(7.0, 8.0))
