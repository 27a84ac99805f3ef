"""Real FFTs of one short frame with as little per-call overhead as numpy allows.

Streaming code transforms one frame of a few hundred samples per call, where
``numpy.fft.rfft``'s Python-level argument handling costs as much as the
transform itself. numpy >= 2 implements ``rfft``/``irfft`` as pocketfft
ufuncs; calling them directly, into preallocated outputs, halves the cost.
Both functions transform along the last axis, so a stack of frames (or a
strided view of some rows of one) costs one call.
Where those ufuncs are missing (other numpy versions) the public functions are
used. Both paths give identical results (checked at import).
"""

from __future__ import annotations

import numpy as np

try:  # numpy >= 2.0
    from numpy.fft import _pocketfft_umath as _ufuncs
except ImportError:  # pragma: no cover - exercised on numpy < 2 only
    _ufuncs = None


def _rfft_public(frame: np.ndarray, out: np.ndarray) -> np.ndarray:
    """rFFT of real ``frame`` (..., N) into ``out`` (..., N // 2 + 1) complex128; returns ``out``."""
    out[...] = np.fft.rfft(frame)
    return out


def _irfft_public(spectrum: np.ndarray, out: np.ndarray) -> np.ndarray:
    """Inverse rFFT of ``spectrum`` (..., N // 2 + 1) into real ``out`` (..., N); returns ``out``."""
    out[...] = np.fft.irfft(spectrum, out.shape[-1])
    return out


def _rfft_ufunc(frame: np.ndarray, out: np.ndarray) -> np.ndarray:
    """rFFT of real ``frame`` (..., N) into ``out`` (..., N // 2 + 1) complex128; returns ``out``."""
    kernel = _ufuncs.rfft_n_even if frame.shape[-1] % 2 == 0 else _ufuncs.rfft_n_odd
    return kernel(frame, 1.0, out=out)


def _irfft_ufunc(spectrum: np.ndarray, out: np.ndarray) -> np.ndarray:
    """Inverse rFFT of ``spectrum`` (..., N // 2 + 1) into real ``out`` (..., N); returns ``out``."""
    return _ufuncs.irfft(spectrum, 1.0 / out.shape[-1], out=out)


def _ufuncs_agree() -> bool:
    if _ufuncs is None:
        return False
    try:
        frame = np.random.default_rng(0).standard_normal((2, 18))
        spectrum = _rfft_ufunc(frame, np.empty((2, 10), dtype=np.complex128))
        back = _irfft_ufunc(spectrum, np.empty((2, 18)))
    except (AttributeError, TypeError, ValueError):  # pragma: no cover - future numpy
        return False
    return bool(np.allclose(spectrum, np.fft.rfft(frame)) and np.allclose(back, frame))


if _ufuncs_agree():
    rfft_into, irfft_into = _rfft_ufunc, _irfft_ufunc
else:  # pragma: no cover - exercised on numpy < 2 only
    rfft_into, irfft_into = _rfft_public, _irfft_public
