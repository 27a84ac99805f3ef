r"""Convolution, written five ways to show what it is.

The linear convolution of a signal :math:`x` of length :math:`N` with a kernel
:math:`h` of length :math:`K` is

.. math:: y[n] = \sum_{k=0}^{K-1} h[k]\, x[n-k], \qquad n = 0, \dots, N+K-2,

with :math:`x[m] = 0` outside :math:`0 \le m < N`. Output sample :math:`n`
exists as soon as one product :math:`h[k]x[n-k]` can be non-zero, i.e. for
:math:`0 \le n-k < N` and :math:`0 \le k < K`: the first is :math:`n = 0`, the
last :math:`n = (N-1)+(K-1)`, hence ``len(x * h) == len(x) + len(h) - 1``.

The functions below compute exactly this "full" convolution:

* :func:`convolve_by_definition` — the double sum, one product at a time.
* :func:`convolve_dot_product` — each output sample as one dot product of the
  flipped kernel with the part of ``x`` it overlaps.
* :func:`convolve_operator_form` — the output as a sum of shifted copies of
  ``h`` scaled by the samples of ``x`` (convolution as a linear operator
  applied to the basis of unit impulses).
* :func:`convolve_fft` — the convolution theorem with the complex DFT: zero-pad
  both to the full length :math:`N+K-1` so that circular convolution equals
  linear convolution, multiply spectra, invert.
* :func:`convolve_rfft` — the same with the real-input FFT, padded to an even
  length (the half-spectrum of an even-length real signal is unambiguous) and
  trimmed back.

They are for reading and for testing against; :func:`echoless.conv.convolve`
is the fast path.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from echoless._validation import as_signal


def _signals(x: ArrayLike, h: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    return as_signal(x, "x"), as_signal(h, "h")


def convolve_by_definition(x: ArrayLike, h: ArrayLike) -> np.ndarray:
    """Full convolution by the double sum ``y[n] = sum_k h[k] x[n-k]``.

    Parameters
    ----------
    x : array_like, shape (N,)
        Signal.
    h : array_like, shape (K,)
        Kernel.

    Returns
    -------
    numpy.ndarray, shape (N + K - 1,)
        ``x * h``. Runs in O(N K) Python operations: for teaching only.
    """
    x, h = _signals(x, h)
    y = np.zeros(len(x) + len(h) - 1)
    for n in range(len(y)):
        for k in range(len(h)):
            if 0 <= n - k < len(x):
                y[n] += h[k] * x[n - k]
    return y


def convolve_dot_product(x: ArrayLike, h: ArrayLike) -> np.ndarray:
    """Full convolution with the inner loop written as a dot product.

    Output sample ``n`` is ``dot(h[k_lo:k_hi][::-1], x[n-k_hi+1:n-k_lo+1])``:
    the flipped kernel, cropped to the part that overlaps ``x``.

    Parameters
    ----------
    x : array_like, shape (N,)
    h : array_like, shape (K,)

    Returns
    -------
    numpy.ndarray, shape (N + K - 1,)
    """
    x, h = _signals(x, h)
    n_x, n_h = len(x), len(h)
    y = np.empty(n_x + n_h - 1)
    for n in range(len(y)):
        k_lo = max(0, n - n_x + 1)  # smallest k with n - k < N
        k_hi = min(n, n_h - 1)  # largest k with n - k >= 0
        y[n] = np.dot(h[k_lo : k_hi + 1][::-1], x[n - k_hi : n - k_lo + 1])
    return y


def convolve_operator_form(x: ArrayLike, h: ArrayLike) -> np.ndarray:
    """Full convolution as ``sum_m x[m] * shift(h, m)``.

    Convolution with ``h`` is the linear operator that maps the unit impulse at
    ``m`` to ``h`` delayed by ``m`` samples; by linearity ``x * h`` is the sum
    of those delayed copies weighted by ``x[m]``.

    Parameters
    ----------
    x : array_like, shape (N,)
    h : array_like, shape (K,)

    Returns
    -------
    numpy.ndarray, shape (N + K - 1,)
    """
    x, h = _signals(x, h)
    y = np.zeros(len(x) + len(h) - 1)
    for m, weight in enumerate(x):
        y[m : m + len(h)] += weight * h
    return y


def convolve_fft(x: ArrayLike, h: ArrayLike) -> np.ndarray:
    """Full convolution with the complex FFT, both inputs padded to ``N + K - 1``.

    A DFT of length ``L`` multiplies spectra into a *circular* convolution of
    period ``L``; with ``L >= N + K - 1`` no output sample wraps around, so
    circular and linear convolution agree.

    Parameters
    ----------
    x : array_like, shape (N,)
    h : array_like, shape (K,)

    Returns
    -------
    numpy.ndarray, shape (N + K - 1,)
        Real part of the inverse FFT (the imaginary part is rounding noise).
    """
    x, h = _signals(x, h)
    length = len(x) + len(h) - 1
    return np.fft.ifft(np.fft.fft(x, length) * np.fft.fft(h, length)).real


def convolve_rfft(x: ArrayLike, h: ArrayLike) -> np.ndarray:
    """Full convolution with the real FFT, padded to an even length and trimmed.

    Parameters
    ----------
    x : array_like, shape (N,)
    h : array_like, shape (K,)

    Returns
    -------
    numpy.ndarray, shape (N + K - 1,)
    """
    x, h = _signals(x, h)
    length = len(x) + len(h) - 1
    n_fft = length + (length % 2)
    return np.fft.irfft(np.fft.rfft(x, n_fft) * np.fft.rfft(h, n_fft), n_fft)[:length]
