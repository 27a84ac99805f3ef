"""Run a streaming canceller over whole signals, or over a stream of blocks, frame by frame.

The signals are cut into frames of ``frame_size`` samples, the last partial
frame is padded by repeating each signal's last sample (a constant, which
the input high-pass turns into silence; zeros after a DC offset would be a
step, heard as a click in the last frame), and the output is trimmed back to
the input length, so the output always has the input's length. A canceller whose output lags (the
postfilter adds one frame, see its ``latency``) is run on extra zero frames
and its output advanced, so the result is aligned with ``mic``.

:func:`cancel_blocks` does this over blocks of any sizes, as a file is read
(:func:`echoless.aec.files.cancel_file`); :func:`run_canceller` is the same
over one block, so the two give the same samples, bit for bit, however the
signal was cut. :func:`echoless.aec.cancel` is the front door that builds
the canceller by name.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np


def cancel_blocks(canceller, blocks: Iterable[tuple[np.ndarray, np.ndarray]]) -> Iterator[np.ndarray]:
    """Near-end estimate of a stream of (mic, ref) blocks, aligned with ``mic``.

    Parameters
    ----------
    canceller : echoless.aec.base.StreamingCanceller
        Any object with ``frame_size``, ``latency`` (samples) and
        ``process(mic_frame, ref_frame)``; it keeps its state afterwards.
    blocks : iterable of (numpy.ndarray, numpy.ndarray)
        Checked ``float64`` blocks of microphone and reference, of equal
        lengths within each pair (any length, including 0), shape (n,), or
        (n, channels) for a multichannel canceller.

    Yields
    ------
    numpy.ndarray, shape (n,) or (n, n_mic), float64
        Output samples as they become available: in total exactly as many as
        were fed, the ``latency`` of the canceller compensated (the end of the
        stream is flushed with frames of each signal's last sample).
    """
    size = canceller.frame_size
    to_drop = getattr(canceller, "latency", 0)
    mic_rest = ref_rest = None
    n_in = n_out = 0
    for mic, ref in blocks:
        if mic_rest is None:  # (0,) or (0, channels), as the blocks are
            mic_rest, ref_rest = mic[:0], ref[:0]
            mic_last, ref_last = np.zeros(mic.shape[1:]), np.zeros(ref.shape[1:])  # the last samples pad the end
        n_in += len(mic)
        if len(mic):
            mic_last, ref_last = mic[-1], ref[-1]
        mic_rest = np.concatenate((mic_rest, mic))
        ref_rest = np.concatenate((ref_rest, ref))
        n_frames = len(mic_rest) // size
        out = np.empty((n_frames * size, *mic.shape[1:]))
        for start in range(0, n_frames * size, size):
            out[start : start + size] = canceller.process(mic_rest[start : start + size], ref_rest[start : start + size])
        mic_rest, ref_rest = mic_rest[n_frames * size :], ref_rest[n_frames * size :]
        dropped = min(to_drop, len(out))
        to_drop -= dropped
        n_out += len(out) - dropped
        yield out[dropped:]
    # the last partial frame, padded by the last sample, then frames of it until the lagging output is out
    if mic_rest is None:
        return
    mic_tail = np.repeat(mic_last[None], size, axis=0)
    ref_tail = np.repeat(ref_last[None], size, axis=0)
    mic_tail[: len(mic_rest)] = mic_rest
    ref_tail[: len(ref_rest)] = ref_rest
    while n_out < n_in:
        frame = canceller.process(mic_tail, ref_tail)
        mic_tail, ref_tail = np.repeat(mic_last[None], size, axis=0), np.repeat(ref_last[None], size, axis=0)
        dropped = min(to_drop, size)
        to_drop -= dropped
        kept = frame[dropped : dropped + n_in - n_out]
        n_out += len(kept)
        yield kept


def run_canceller(canceller, mic: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Near-end estimate of whole signals by a streaming canceller, aligned with ``mic``.

    Parameters
    ----------
    canceller : echoless.aec.base.StreamingCanceller
        Any object with ``frame_size``, ``latency`` (samples) and
        ``process(mic_frame, ref_frame)``; it keeps its state afterwards.
    mic, ref : numpy.ndarray, shape (T,) or (T, channels), float64
        Checked signals of the same length (2-D for a multichannel canceller).

    Returns
    -------
    numpy.ndarray, shape of ``mic``, float64
        :func:`cancel_blocks` over the one block ``(mic, ref)``.
    """
    return np.concatenate(list(cancel_blocks(canceller, [(mic, ref)])))
