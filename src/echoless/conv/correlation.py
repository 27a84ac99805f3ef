r"""Correlations of a long signal with a short filter, by FFT: the normal equations of FIR fitting.

Fitting a causal FIR ``h`` (``K`` taps) so that the *cropped* convolution
:math:`(x * h)[:T]` matches a target ``v`` (least squares) needs
:math:`X^\top v` (the correlation of ``v`` with ``x`` at lags ``0..K-1``) and
:math:`X^\top X` (the Gram matrix), ``X`` being the ``(T, K)`` Toeplitz
matrix of delayed copies of ``x``. The autocorrelation method approximates the
Gram matrix by the Toeplitz matrix of the autocorrelation :math:`a_d`; the
exact product :math:`X^\top X h` is a cropped convolution followed by a
correlation. Both take one FFT of ``x``, computed once, and one or two short
transforms per product: used by the exact waveform least squares
(:func:`echoless.aec.fit_waveform_ls`) and by the BSS Eval distortion filter
of :func:`echoless.metrics.sdr`.
"""

from __future__ import annotations

import numpy as np
import scipy.fft


def fft_size(length: int, kernel_size: int) -> int:
    """Smallest even 5-smooth FFT size holding a linear convolution without wrap-around."""
    size = scipy.fft.next_fast_len(length + kernel_size - 1, real=True)
    while size % 2:  # an even size keeps irfft's output length unambiguous
        size = scipy.fft.next_fast_len(size + 1, real=True)
    return size


class CroppedConvolutionGram:
    """Products with :math:`X^\\top X` and :math:`X^\\top v` through FFTs of the signal.

    Parameters
    ----------
    signal : numpy.ndarray, shape (T,)
        The filtered signal ``x`` (float64, checked by the caller).
    kernel_size : int
        Filter taps ``K``.
    """

    def __init__(self, signal: np.ndarray, kernel_size: int):
        self.length, self.kernel_size = len(signal), kernel_size
        self.n_fft = fft_size(len(signal), kernel_size)  # no wrap-around for lags 0..K-1
        self.spectrum = scipy.fft.rfft(signal, self.n_fft)

    def correlate(self, v: np.ndarray) -> np.ndarray:
        """:math:`X^\\top v`: correlation of ``v`` (T,) with the signal at lags 0..K-1."""
        product = scipy.fft.rfft(v, self.n_fft) * np.conj(self.spectrum)
        return scipy.fft.irfft(product, self.n_fft)[: self.kernel_size]

    def autocorrelation(self) -> np.ndarray:
        """:math:`a_d` for lags 0..K-1 (first column of the Toeplitz approximation of :math:`X^\\top X`)."""
        return scipy.fft.irfft(np.abs(self.spectrum) ** 2, self.n_fft)[: self.kernel_size]

    def filter(self, h: np.ndarray) -> np.ndarray:
        """:math:`X h`: the signal convolved with ``h`` (K,), cropped to its ``T`` samples."""
        return scipy.fft.irfft(self.spectrum * scipy.fft.rfft(h, self.n_fft), self.n_fft)[: self.length]

    def gram_times(self, h: np.ndarray) -> np.ndarray:
        """:math:`X^\\top X h`: the cropped convolution, then the correlation."""
        return self.correlate(self.filter(h))
