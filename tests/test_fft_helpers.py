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


@pytest.mark.parametrize(
    ("forward", "inverse"),
    [(_fft._rfft_public, _fft._irfft_public), (_fft._rfft_ufunc, _fft._irfft_ufunc)],
)
def test_transforms_rows_of_a_strided_view_in_place(forward, inverse):
    """A stack of frames, here rows 0 and 3 of a (5, N) array (a strided view), is one call."""
    frames = np.random.default_rng(1).standard_normal((5, 18))
    spectra = np.zeros((5, 10), dtype=np.complex128)
    rows = spectra[0:4:3]
    assert np.shares_memory(forward(frames[0:4:3], rows), spectra)
    np.testing.assert_allclose(spectra[[0, 3]], np.fft.rfft(frames[[0, 3]]), rtol=0, atol=1e-12)
    assert not spectra[[1, 2, 4]].any()
    back = inverse(rows, np.empty((2, 18)))
    np.testing.assert_allclose(back, frames[[0, 3]], rtol=0, atol=1e-12)
