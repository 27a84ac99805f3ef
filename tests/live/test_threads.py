"""Real threads: a playback thread pushing and a capture thread processing at once, with a third reading stats."""

import threading
import time

import numpy as np
import pytest

from echoless.live import LiveCanceller


class Probe:
    """Returns the reference frame it is given: the output shows which reference met which frame."""

    frame_size = 32
    sample_rate = 8000

    def process(self, mic, ref):
        return ref.copy()

    def reset(self):
        pass


N = 20_000
LATENCY = 300


def _run(paced: bool, slow: str = ""):
    """Push ``1..N`` from one thread in random blocks while another thread processes N mic samples.

    ``paced``: each side waits for the other as a well-behaved device's clock
    would (capture only what playback has played; playback at most half a
    FIFO ahead). Otherwise the sides ignore each other and the ``slow`` one
    sleeps a random time per block: a slow playback underruns, a slow
    capture overruns.
    """
    live = LiveCanceller(Probe(), device_latency=LATENCY, fifo_seconds=0.1, warm_up=False)  # an 800-sample ring
    reference = np.arange(1.0, N + 1)
    outputs, errors = [], []
    stop_reading = threading.Event()

    def wait_for(condition, rng, slowest=2e-4):
        if not paced:  # no coordination: each side at its own uneven pace
            time.sleep(rng.uniform(0, slowest))
        while paced and not condition():
            time.sleep(1e-5)

    def playback():
        rng = np.random.default_rng(1)
        start = 0
        while start < N:
            size = int(rng.integers(1, 200))
            wait_for(lambda: start - (live.stats.captured_samples - LATENCY) < 400 - size, rng,
                     slowest=5e-4 if slow == "playback" else 0.0)
            live.push_reference(reference[start : start + size])
            start += size

    def capture():
        rng = np.random.default_rng(2)
        done = 0
        while done < N:
            size = min(int(rng.integers(1, 200)), N - done)
            needed = (done + size) // Probe.frame_size * Probe.frame_size - LATENCY
            wait_for(lambda: live.stats.played_samples >= needed, rng,
                     slowest=5e-4 if slow == "capture" else 0.0)
            outputs.append(live.process(np.zeros(size)))
            done += size

    def read_stats():
        while not stop_reading.is_set():
            stats = live.stats
            if stats.glitches and paced:
                errors.append(stats)
            time.sleep(1e-4)

    threads = [threading.Thread(target=target) for target in (playback, capture)]
    reader = threading.Thread(target=read_stats)
    reader.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    stop_reading.set()
    reader.join()
    out = np.concatenate(outputs)
    # output sample t carries reference sample t - (frame_size - 1) - latency (values from 1, 0 = none)
    expected = np.zeros(N)
    shift = Probe.frame_size - 1 + LATENCY
    expected[shift:] = reference[: N - shift]
    return live, out, expected, errors


def test_paced_threads_lose_and_reorder_nothing():
    live, out, expected, errors = _run(paced=True)
    assert errors == []
    complete = (N - 31) // 32 * 32 + 31  # samples of whole frames given out
    np.testing.assert_array_equal(out[:complete], expected[:complete])
    stats = live.stats
    assert (stats.glitches, stats.played_samples, stats.captured_samples) == (0, N, N)


@pytest.mark.parametrize(("slow", "counter"), [("playback", "missing_samples"), ("capture", "dropped_samples")])
def test_free_running_threads_never_raise_and_never_misplace_a_sample(slow, counter):
    live, out, expected, _ = _run(paced=False, slow=slow)
    assert len(out) == N and np.isfinite(out).all()
    present = out != 0
    # each sample is the right one or a counted gap (underrun or overrun zeros), never another sample
    np.testing.assert_array_equal(out[present], expected[present])
    stats = live.stats
    assert getattr(stats, counter) > 0
    assert np.count_nonzero(expected != out) <= stats.missing_samples + stats.dropped_samples
