"""Run a streaming canceller over whole signals, frame by frame.

The signals are cut into frames of ``frame_size`` samples, the last partial
frame is padded by repeating each signal's last sample (a constant, which
the input high-pass turns into silence; zeros after a DC offset would be a
step, heard as a click in the last frame), and the output is trimmed back to
the input length, so the output always has the input's length. A canceller whose output lags (the
postfilter adds one frame, see its ``latency``) is run on extra zero frames
and its output advanced, so the result is aligned with ``mic``.
:func:`echoless.aec.cancel` is the front door that builds the canceller by name.
"""

from __future__ import annotations

import numpy as np


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
    """
    size = canceller.frame_size
    latency = getattr(canceller, "latency", 0)
    padded = -(-(len(mic) + latency) // size) * size
    mic_frames = np.pad(mic, [(0, padded - len(mic))] + [(0, 0)] * (mic.ndim - 1), mode="edge")
    ref_frames = np.pad(ref, [(0, padded - len(ref))] + [(0, 0)] * (ref.ndim - 1), mode="edge")
    out = np.empty((padded, *mic.shape[1:]))
    for start in range(0, padded, size):
        out[start : start + size] = canceller.process(mic_frames[start : start + size], ref_frames[start : start + size])
    return out[latency : latency + len(mic)]
