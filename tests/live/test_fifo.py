"""ReferenceFifo against a slow model that keeps every sample in a dict, one sample at a time."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from echoless.live import ReferenceFifo


class SlowFifo:
    """The textbook version: a dict of the samples in the ring, evicting the oldest one by one."""

    def __init__(self, capacity):
        self.capacity, self.ring, self.written, self.read_until = capacity, {}, 0, 0
        self.overruns = self.dropped = self.underruns = self.missing = 0

    def write(self, block):
        lost = 0
        for value in block:
            self.ring[self.written] = value
            self.written += 1
            if len(self.ring) > self.capacity:
                oldest = min(self.ring)
                del self.ring[oldest]
                lost += oldest >= self.read_until
        self.overruns += lost > 0
        self.dropped += lost

    def read(self, start, n):
        values = [self.ring.get(index, 0.0) if index >= 0 else 0.0 for index in range(start, start + n)]
        missing = sum(index >= self.written for index in range(max(start, 0), start + n))
        self.underruns += missing > 0
        self.missing += missing
        self.read_until = start + n
        return np.array(values)


operations = st.lists(
    st.one_of(
        st.tuples(st.just("write"), st.integers(0, 40)),
        st.tuples(st.just("read"), st.integers(1, 20)),
    ),
    max_size=40,
)


@settings(max_examples=200, deadline=None)
@given(capacity=st.integers(1, 30), first=st.integers(-25, 5), ops=operations)
def test_matches_the_slow_model_reads_writes_overruns_underruns(capacity, first, ops):
    fast, slow = ReferenceFifo(capacity), SlowFifo(capacity)
    position, counter = first, 1.0
    for kind, size in ops:
        if kind == "write":
            block = np.arange(counter, counter + size)
            counter += size
            fast.write(block)
            slow.write(block)
        else:
            out = np.full(size, np.nan)
            fast.read(position, out)
            np.testing.assert_array_equal(out, slow.read(position, size))
            position += size
        assert (fast.written, fast.overruns, fast.dropped_samples) == (slow.written, slow.overruns, slow.dropped)
        assert (fast.underruns, fast.missing_samples) == (slow.underruns, slow.missing)
        assert fast.buffered == max(0, slow.written - max(slow.read_until, 0))


def test_block_longer_than_the_ring_keeps_its_end():
    fifo = ReferenceFifo(8)
    fifo.write(np.arange(1.0, 21.0))
    out = np.empty(8)
    fifo.read(12, out)
    np.testing.assert_array_equal(out, np.arange(13.0, 21.0))
    assert (fifo.overruns, fifo.dropped_samples, fifo.underruns) == (1, 12, 0)


def test_capacity_must_be_positive():
    with pytest.raises(ValueError, match="capacity must be >= 1"):
        ReferenceFifo(0)
