"""Shared test helpers for the streaming cancellers."""

import numpy as np
import pytest

from echoless.aec.base import LEVEL_RELEASE_DB_PER_SECOND, NUMERICAL_FLOOR

#: The linear canceller alone: no input high-pass, no delay search, no suppressor.
LINEAR = {"highpass_hz": 0, "delay": 0, "postfilter": 0}


@pytest.fixture
def linear():
    """Options that leave only the adaptive filter (for checks against textbook formulas)."""
    return dict(LINEAR)


@pytest.fixture
def running_levels():
    """The base class's running levels, written out: per frame, the peak input power and the
    far end's peak power per sample, each decaying by LEVEL_RELEASE_DB_PER_SECOND."""

    def levels(mic, ref, frame_size, sample_rate=16000):
        decay = 10.0 ** (-LEVEL_RELEASE_DB_PER_SECOND * frame_size / sample_rate / 10.0)
        level = far = 0.0
        rows = []
        for start in range(0, len(mic), frame_size):
            mic_power = np.mean(mic[start : start + frame_size] ** 2)
            ref_power = np.mean(ref[start : start + frame_size] ** 2)
            level = max(level * decay, mic_power, ref_power)
            far = max(far * decay, ref_power)
            rows.append((level + NUMERICAL_FLOOR, far))
        return rows

    return levels
