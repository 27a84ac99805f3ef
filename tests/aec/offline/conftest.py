"""A tiny synthetic echo scene shared by the offline-canceller tests."""

from types import SimpleNamespace

import numpy as np
import pytest
import scipy.signal


def make_scene(n_samples=4000, n_taps=32, near_db=-20.0, seed=1):
    """Coloured noise through a known decaying FIR, plus white near-end noise ``near_db`` below the echo."""
    rng = np.random.default_rng(seed)
    ref = scipy.signal.lfilter([1.0], [1.0, -0.5], rng.standard_normal(n_samples))
    rir = rng.standard_normal(n_taps) * np.exp(-np.arange(n_taps) / 6.0)
    echo = scipy.signal.convolve(ref, rir)[:n_samples]
    near_end = 10 ** (near_db / 20) * np.std(echo) * rng.standard_normal(n_samples)
    return SimpleNamespace(mic=echo + near_end, ref=ref, echo=echo, near_end=near_end, rir=rir, sample_rate=16000)


@pytest.fixture
def scene():
    """4000 samples at 16 kHz, a 32-tap echo path, near end 20 dB below the echo."""
    return make_scene()
