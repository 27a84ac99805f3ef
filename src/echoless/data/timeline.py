"""Who talks when in a scene: segments of far-end, double and near-end talk.

A timeline is a list of segments ``{"start": s, "end": s, "label": str}`` that
tile the scene. The label says which talkers are active:

==========================  ========  ========
label                       far end   near end
==========================  ========  ========
``far_end_single_talk``     yes       no
``double_talk``             yes       yes
``near_end_single_talk``    no        yes
``silence``                 no        no
==========================  ========  ========

A talker's activity becomes a gain mask whose 0/1 steps are smoothed by a
20 ms Hann window (an S-shaped 20 ms ramp centred on each switch), so gating
the recordings adds no clicks.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import numpy as np

__all__ = ["DEFAULT_TIMELINE", "LABELS", "activity_mask", "build_timeline"]

LABELS = ("far_end_single_talk", "double_talk", "near_end_single_talk", "silence")
FAR_END_ACTIVE = frozenset({"far_end_single_talk", "double_talk"})
NEAR_END_ACTIVE = frozenset({"double_talk", "near_end_single_talk"})

# (label, fraction of the scene): the seed-like default, 40 / 40 / 20 %.
DEFAULT_TIMELINE: tuple[tuple[str, float], ...] = (
    ("far_end_single_talk", 0.4),
    ("double_talk", 0.4),
    ("near_end_single_talk", 0.2),
)

_RAMP_SECONDS = 0.01


def build_timeline(
    fractions: Sequence[tuple[str, float]], n_samples: int, sample_rate: int
) -> list[dict[str, float | str]]:
    """Turn ``(label, fraction)`` pairs into segments in seconds.

    Parameters
    ----------
    fractions : sequence of (str, float)
        Labels from :data:`LABELS`, each with its positive share of the
        scene; the shares must sum to 1.
    n_samples : int
        Scene length in samples; segment boundaries fall on whole samples.
    sample_rate : int
        Sample rate in Hz.

    Returns
    -------
    list of dict
        ``{"start": seconds, "end": seconds, "label": str}``, in order, tiling the scene.
    """
    if isinstance(fractions, (str, bytes)) or not isinstance(fractions, Sequence) or not fractions:
        raise TypeError("timeline must be a non-empty sequence of (label, fraction) pairs")
    total = 0.0
    for item in fractions:
        if not (isinstance(item, Sequence) and len(item) == 2):
            raise TypeError(f"timeline entries must be (label, fraction) pairs, got {item!r}")
        label, share = item
        if label not in LABELS:
            raise ValueError(f"unknown timeline label {label!r}: expected one of {', '.join(map(repr, LABELS))}")
        if isinstance(share, bool) or not isinstance(share, numbers.Real) or not 0 < share <= 1:
            raise ValueError(f"timeline fraction for {label!r} must be in (0, 1], got {share!r}")
        total += float(share)
    if not math.isclose(total, 1.0, abs_tol=1e-9):
        raise ValueError(f"timeline fractions must sum to 1, got {total:g}")

    segments, cumulative, start = [], 0.0, 0
    for label, share in fractions:
        cumulative += float(share)
        end = n_samples if math.isclose(cumulative, 1.0, abs_tol=1e-9) else int(round(cumulative * n_samples))
        segments.append({"start": start / sample_rate, "end": end / sample_rate, "label": label})
        start = end
    return segments


def activity_mask(
    timeline: list[dict[str, float | str]], labels: frozenset[str], n_samples: int, sample_rate: int
) -> np.ndarray:
    """Gain mask (0 to 1) that is 1 inside segments whose label is in ``labels``.

    Parameters
    ----------
    timeline : list of dict
        Segments from :func:`build_timeline`.
    labels : frozenset of str
        Labels during which the talker is active.
    n_samples : int
        Length of the mask.
    sample_rate : int
        Sample rate in Hz.

    Returns
    -------
    numpy.ndarray, shape (n_samples,)
        0/1 steps smoothed by a 20 ms Hann window (S-shaped ramps centred on each switch).
    """
    active = np.zeros(n_samples)
    for segment in timeline:
        if segment["label"] in labels:
            active[int(round(segment["start"] * sample_rate)) : int(round(segment["end"] * sample_rate))] = 1.0
    ramp = max(1, int(round(_RAMP_SECONDS * sample_rate)))
    window = np.hanning(2 * ramp + 1)
    window /= window.sum()
    # Edges are padded with their own value, so a talker active at the start stays at full gain there.
    return np.convolve(np.pad(active, ramp, mode="edge"), window, mode="valid")
