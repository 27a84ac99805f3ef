"""The bounded reference FIFO between the playback and the capture callbacks.

The playback side writes the samples it plays, in blocks of any size; the
capture side reads the stretch of reference that goes with each microphone
frame. Samples are addressed by their *absolute index* in the played stream
(0 for the first sample ever written), so the reader asks for "samples
``k .. k + n``" rather than "the next ``n``": a block that arrives late or
is lost then costs zeros in the frames that needed it and never shifts the
alignment of the frames after it.

The buffer is a preallocated ring of ``capacity`` samples holding the last
``capacity`` samples written. A write that overwrites samples the reader has
not reached yet is an *overrun* (the writer is too far ahead, or the reader
stalled); a read of samples that have not been written yet is an *underrun*
(the reader is ahead of the playback). Both are counted, never raised: the
missing samples read as zeros. A :class:`threading.Lock` is held only while
samples are copied, so neither side waits for the other's processing.
"""

from __future__ import annotations

import threading

import numpy as np

from echoless._validation import check_positive_int


class ReferenceFifo:
    """Single-writer, single-reader ring buffer of reference samples, addressed by absolute index.

    Parameters
    ----------
    capacity : int
        Samples held: how far the writer may run ahead of the reader.

    Attributes
    ----------
    written : int
        Samples written so far (the absolute index of the next one).
    overruns : int
        Writes that overwrote samples the reader had not read yet.
    dropped_samples : int
        Samples lost that way.
    underruns : int
        Reads that asked for samples not written yet.
    missing_samples : int
        Samples read as zeros because they had not been written yet.

    Examples
    --------
    >>> fifo = ReferenceFifo(4)
    >>> fifo.write(np.arange(1.0, 6.0))      # 5 samples into 4: sample 0 is dropped unread
    >>> out = np.empty(4)
    >>> fifo.read(0, out); out                # index 0 was overwritten; 1, 2, 3 hold 2, 3, 4
    array([0., 2., 3., 4.])
    >>> fifo.overruns, fifo.dropped_samples
    (1, 1)
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = check_positive_int(capacity, "capacity")
        self._ring = np.zeros(self.capacity)
        self._lock = threading.Lock()
        self._read_until = 0  # the reader has consumed every index below this one
        self.written = 0
        self.overruns = 0
        self.dropped_samples = 0
        self.underruns = 0
        self.missing_samples = 0

    @property
    def buffered(self) -> int:
        """Samples written but not read yet (0 when the reader is ahead)."""
        return max(0, self.written - max(self._read_until, 0))

    def write(self, block: np.ndarray) -> None:
        """Append ``block`` (1-D float64) to the played stream, overwriting the oldest samples."""
        n = len(block)
        size = self.capacity
        with self._lock:
            start = self.written
            kept = block[-size:] if n > size else block  # a block longer than the ring keeps its end
            first = (start + n - len(kept)) % size
            head = min(len(kept), size - first)
            self._ring[first : first + head] = kept[:head]
            self._ring[: len(kept) - head] = kept[head:]
            # unread samples that fell out of the ring: indices [read_until, written - capacity)
            unread_from = max(self._read_until, 0)
            lost = max(0, start + n - size - unread_from) - max(0, start - size - unread_from)
            self.written = start + n
        if lost:
            self.overruns += 1
            self.dropped_samples += lost

    def read(self, start: int, out: np.ndarray) -> None:
        """Fill ``out`` with samples ``start .. start + len(out)`` of the played stream.

        Indices before 0 (before playback began) and samples already
        overwritten read as zeros; samples not written yet read as zeros and
        count as an underrun. Afterwards everything before ``start + len(out)``
        counts as read (for the overrun count: reads normally move forward).
        """
        n = len(out)
        size = self.capacity
        with self._lock:
            written = self.written
            # the part of [start, start + n) still in the ring: [low, high)
            low = max(start, written - size, 0)
            high = min(start + n, written)
            out[:] = 0.0
            if high > low:
                first = low % size
                head = min(high - low, size - first)
                offset = low - start
                out[offset : offset + head] = self._ring[first : first + head]
                out[offset + head : offset + high - low] = self._ring[: high - low - head]
            self._read_until = start + n
        missing = start + n - max(written, start)
        if missing > 0:
            self.underruns += 1
            self.missing_samples += missing
