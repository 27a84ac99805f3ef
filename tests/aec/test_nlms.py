"""Block NLMS: one update checked against the formula written out; convergence on a known FIR."""

import numpy as np
import scipy.signal

from echoless.aec import NLMS
from echoless.aec.base import NUMERICAL_FLOOR
from echoless.aec.nlms import REGULARISATION_DB


def test_first_updates_match_the_block_nlms_formula(linear, running_levels):
    rng = np.random.default_rng(0)
    length, size, step = 16, 8, 0.7
    ref = rng.standard_normal(size * 4)
    mic = rng.standard_normal(size * 4)
    canceller = NLMS(frame_size=size, filter_length=length, step_size=step, **linear)
    levels = running_levels(mic, ref, size)
    taps = np.zeros(length)
    padded = np.concatenate([np.zeros(length - 1), ref])
    for frame in range(4):
        vectors = np.array([padded[t : t + length][::-1] for t in range(frame * size, frame * size + size)])
        error = mic[frame * size : frame * size + size] - vectors @ taps
        out = canceller.process(mic[frame * size : frame * size + size], ref[frame * size : frame * size + size])
        np.testing.assert_allclose(out, error, atol=1e-12)
        window = padded[frame * size + size - 1 : frame * size + size - 1 + length]
        # regularised relative to the far end's running level (REGULARISATION_DB below it)
        regularisation = levels[frame][1] * 10 ** (-REGULARISATION_DB / 10) + NUMERICAL_FLOOR
        taps = taps + step * (vectors.T @ error) / (size * window @ window + size * length * regularisation)
        np.testing.assert_allclose(canceller.filter, taps, atol=1e-12)


def test_converges_on_a_known_fir():
    rng = np.random.default_rng(1)
    h = rng.standard_normal(32) * np.exp(-np.arange(32) / 8)
    ref = rng.standard_normal(16000)
    mic = scipy.signal.lfilter(h, 1, ref)
    canceller = NLMS(frame_size=16, filter_length=48, step_size=1.0, highpass_hz=0, delay=0, postfilter=0)
    out = np.concatenate([canceller.process(mic[i : i + 16], ref[i : i + 16]) for i in range(0, len(mic), 16)])
    assert 10 * np.log10(np.sum(mic[-2000:] ** 2) / np.sum(out[-2000:] ** 2)) > 40
    np.testing.assert_allclose(canceller.filter[:32], h, atol=1e-2)
