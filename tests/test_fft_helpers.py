"""The low-overhead frame FFTs equal numpy.fft on both code paths (1e-12 absolute)."""

import numpy as np
import pytest

from echoless import _fft


@pytest.mark.parametrize("length", [2, 17, 320, 1024])
@pytest.mark.parametrize(
    ("forward", "inverse"),
    [(_fft._rfft_public, _fft._irfft_public), (_fft._rfft_ufunc, _fft._irfft_ufunc), (_fft.rfft_into, _fft.irfft_into)],
)
def test_matches_numpy(length, forward, inverse):
    frame = np.random.default_rng(length).standard_normal(length)
    spectrum = forward(frame, np.empty(length // 2 + 1, dtype=np.complex128))
    np.testing.assert_allclose(spectrum, np.fft.rfft(frame), rtol=0, atol=1e-12)
    np.testing.assert_allclose(inverse(spectrum, np.empty(length)), np.fft.irfft(np.fft.rfft(frame), length), atol=1e-12)
