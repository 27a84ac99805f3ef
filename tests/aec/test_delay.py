"""GCC-PHAT bulk delay: planted delays found to +-1 sample, offline and in a stream."""

import numpy as np
import pytest
import scipy.signal

from echoless.aec import PFDKF, estimate_delay
from echoless.aec.delay import DelayLine


def _speech_like(rng, n):
    """Coloured noise with a syllabic on/off envelope."""
    signal = scipy.signal.lfilter([1.0], [1.0, -0.95], rng.standard_normal(n))
    return signal * (np.sin(np.arange(n) * 2 * np.pi * 3 / 16000) > -0.3)


@pytest.mark.parametrize("delay", [0, 1, 37, 640, 7999])
def test_finds_a_planted_delay_in_a_reverberant_echo(delay):
    rng = np.random.default_rng(delay)
    ref = _speech_like(rng, 16000 * 3)
    room = rng.standard_normal(800) * np.exp(-np.arange(800) / 150)
    room[0] = 3.0  # direct path
    path = np.concatenate([np.zeros(delay), room])
    mic = scipy.signal.fftconvolve(ref, path)[: len(ref)]
    mic += 0.1 * np.std(mic) * rng.standard_normal(len(mic)) + 0.5 * _speech_like(rng, len(mic))
    assert abs(estimate_delay(mic, ref) - delay) <= 1


def test_negative_delay_and_silence():
    rng = np.random.default_rng(0)
    ref = rng.standard_normal(16000)
    assert estimate_delay(ref[100:], ref[:-100]) == -100
    assert estimate_delay(np.zeros(1000), ref[:1000]) == 0


def test_arguments_are_checked():
    with pytest.raises(ValueError, match="mic and ref must have the same length"):
        estimate_delay(np.ones(10), np.ones(11))
    with pytest.raises(ValueError, match="window_seconds .* must exceed max_delay"):
        estimate_delay(np.ones(10), np.ones(10), max_delay=0.5, window_seconds=0.4)
    with pytest.raises(ValueError, match="max_delay must be finite and > 0"):
        estimate_delay(np.ones(10), np.ones(10), max_delay=-1.0)


def test_delay_line_delays_by_the_set_amount():
    line = DelayLine(max_delay=100, frame_size=16, delay=37)
    x = np.arange(16 * 20, dtype=float) + 1
    y = np.concatenate([line.process(x[i : i + 16]) for i in range(0, len(x), 16)])
    np.testing.assert_array_equal(y, np.concatenate([np.zeros(37), x[:-37]]))


def test_delay_line_follows_delay_changes_over_its_whole_range():
    rng = np.random.default_rng(2)
    line = DelayLine(max_delay=100, frame_size=16)
    x = np.arange(16 * 60, dtype=float) + 1
    padded = np.concatenate([np.zeros(100), x])
    for start in range(0, len(x), 16):
        line.delay = int(rng.choice([0, 1, 15, 16, 17, 63, 99, 100]))
        expected = padded[100 + start - line.delay : 100 + start - line.delay + 16]
        np.testing.assert_array_equal(line.process(x[start : start + 16]), expected)


def test_streaming_auto_delay_locks_on_and_keeps_the_filter_short():
    rng = np.random.default_rng(5)
    delay = 640  # 40 ms, longer than the 20 ms filter
    h = rng.standard_normal(100) * np.exp(-np.arange(100) / 20)
    h[0] = 3.0  # direct path
    ref = rng.standard_normal(16000 * 5)
    mic = scipy.signal.lfilter(np.concatenate([np.zeros(delay), h]), 1, ref)
    canceller = PFDKF(frame_size=160, filter_ms=20.0, delay="auto")
    out = np.concatenate([canceller.process(mic[i : i + 160], ref[i : i + 160]) for i in range(0, len(mic), 160)])
    assert abs(canceller.delay - (delay - 80)) <= 1  # 5 ms margin before the direct path
    assert 10 * np.log10(np.sum(mic[-16000:] ** 2) / np.sum(out[-16000:] ** 2)) > 30
