r"""The production convolution: ``scipy.signal.convolve`` semantics, faster paths.

:func:`convolve` computes the same 1-D real convolution as
``scipy.signal.convolve(x, h, mode)`` with one of three exact methods:

``"direct"``
    ``numpy.convolve``: :math:`N K` multiply-adds, no transform. Wins for short
    kernels.
``"fft"``
    One real FFT of the full length :math:`L = N + K - 1` (rounded up to a
    5-smooth size): about :math:`3 \cdot \tfrac{L}{2}\log_2 L` butterflies.
``"partitioned"``
    Block (overlap-save) convolution: the signal is cut into blocks of ``B``
    samples, the kernel into ``P = ceil(K / B)`` partitions (one when
    ``B >= K``), and every block is convolved with every partition in an FFT of
    size ``M >= B + min(K, B) - 1``. All blocks are transformed in one batched
    call. Cost grows like :math:`N \log M` instead of :math:`L \log L`, with a
    small, cache-friendly ``M``: it wins when the signal is much longer than the
    kernel. This is the bulk twin of :class:`~echoless.conv.PartitionedConvolver`.

``method="auto"`` evaluates a cost model of the three (constants measured on a
laptop-class x86 core, see ``benchmarks/bench_convolution.py``) and runs the
cheapest. All three agree with ``scipy.signal.convolve`` to about ``1e-12``
relative to ``max|x| * sum|h|``.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import scipy.fft
from numpy.typing import ArrayLike

from echoless._validation import as_signal, check_choice, check_positive_int

MODES = ("full", "same", "valid")
METHODS = ("auto", "direct", "fft", "partitioned")

# Seconds per elementary operation on one core, measured with numpy 2.4 /
# scipy 1.17 (pocketfft) on an x86-64 laptop-class core; only their ratios
# matter for choosing a method.
_DIRECT_SECONDS_PER_OUTPUT = 5e-9  # numpy.convolve: per output sample ...
_DIRECT_SECONDS_PER_MAC = 8.5e-11  # ... plus per multiply-add
_FFT_SECONDS_PER_BUTTERFLY = 4.4e-10  # N/2 log2 N butterflies per real FFT of size N
_FFT_SECONDS_PER_TRANSFORM = 8e-8  # per row of a batched transform
_FFT_CACHE_SIZE = 1 << 16  # beyond this the transform no longer fits in cache ...
_FFT_CACHE_PENALTY = 0.3  # ... and each doubling costs this much more per butterfly
_SPECTRUM_SECONDS_PER_MAC = 1.5e-9  # complex multiply-accumulate of spectra
_PYTHON_SECONDS_PER_PARTITION = 5e-6  # one numpy statement per kernel partition
_WINDOW_SECONDS_PER_SAMPLE = 2e-9  # gathering overlapping windows, cropping outputs


def _fft_cost(n_fft: int, n_transforms: float = 1.0) -> float:
    log_size = math.log2(max(n_fft, 2))
    cache = 1.0 + _FFT_CACHE_PENALTY * max(0.0, log_size - math.log2(_FFT_CACHE_SIZE))
    butterflies = 0.5 * n_fft * log_size
    return n_transforms * (_FFT_SECONDS_PER_TRANSFORM + _FFT_SECONDS_PER_BUTTERFLY * butterflies * cache)


def _direct_cost(n_x: int, n_h: int) -> float:
    n_out = n_x + n_h - 1
    return n_out * (_DIRECT_SECONDS_PER_OUTPUT + _DIRECT_SECONDS_PER_MAC * n_h)


def _full_fft_cost(n_x: int, n_h: int) -> float:
    n_fft = scipy.fft.next_fast_len(n_x + n_h - 1, real=True)
    return _fft_cost(n_fft, 3.0) + _SPECTRUM_SECONDS_PER_MAC * (n_fft // 2 + 1)


@lru_cache(maxsize=256)
def _best_block(n_x: int, n_h: int) -> tuple[int, float]:
    """Block size minimising the modelled cost of the partitioned method."""
    best = (0, math.inf)
    n_out = n_x + n_h - 1
    for log_size in range(23):
        block = 1 << log_size
        if block > 4 * n_out:
            break
        partition = min(block, n_h)
        n_partitions = -(-n_h // partition)
        n_fft = scipy.fft.next_fast_len(block + partition - 1, real=True)
        n_blocks = -(-n_out // block)
        cost = (
            _fft_cost(n_fft, n_blocks * 2.0 + n_partitions)
            + _SPECTRUM_SECONDS_PER_MAC * n_blocks * n_partitions * (n_fft // 2 + 1)
            + _PYTHON_SECONDS_PER_PARTITION * n_partitions
            + _WINDOW_SECONDS_PER_SAMPLE * n_blocks * n_fft
        )
        if cost < best[1]:
            best = (block, cost)
    return best


def estimate_costs(n_x: int, n_h: int) -> dict[str, float]:
    """Modelled run time in seconds of each exact method for these lengths.

    Parameters
    ----------
    n_x, n_h : int
        Signal and kernel lengths.

    Returns
    -------
    dict
        ``{"direct": s, "fft": s, "partitioned": s}``.
    """
    n_x = check_positive_int(n_x, "n_x")
    n_h = check_positive_int(n_h, "n_h")
    return {
        "direct": _direct_cost(n_x, n_h),
        "fft": _full_fft_cost(n_x, n_h),
        "partitioned": _best_block(max(n_x, n_h), min(n_x, n_h))[1],
    }


def choose_conv_method(x: ArrayLike, h: ArrayLike) -> str:
    """The exact method :func:`convolve` runs for ``method="auto"``.

    Parameters
    ----------
    x : array_like, shape (N,)
    h : array_like, shape (K,)

    Returns
    -------
    str
        ``"direct"``, ``"fft"`` or ``"partitioned"``.
    """
    return _cheapest_method(len(as_signal(x, "x")), len(as_signal(h, "h")))


def _cheapest_method(n_x: int, n_h: int) -> str:
    """The method the cost model finds fastest, the longer input taken as the signal (as convolve does)."""
    costs = estimate_costs(max(n_x, n_h), min(n_x, n_h))
    return min(costs, key=costs.__getitem__)


def _convolve_fft(x: np.ndarray, h: np.ndarray) -> np.ndarray:
    n_out = len(x) + len(h) - 1
    n_fft = scipy.fft.next_fast_len(n_out, real=True)
    spectrum = scipy.fft.rfft(x, n_fft)
    spectrum *= scipy.fft.rfft(h, n_fft)
    return scipy.fft.irfft(spectrum, n_fft, overwrite_x=True)[:n_out]


def convolve_partitioned(x: ArrayLike, h: ArrayLike, block_size: int | None = None) -> np.ndarray:
    """Full convolution by batched, uniformly partitioned overlap-save.

    Parameters
    ----------
    x : array_like, shape (N,)
        Signal.
    h : array_like, shape (K,)
        Kernel.
    block_size : int, optional
        Output samples per block ``B``. The kernel is split into partitions of
        ``min(B, K)`` taps. Default: the block size the cost model finds fastest.

    Returns
    -------
    numpy.ndarray, shape (N + K - 1,)
    """
    x, h = as_signal(x, "x"), as_signal(h, "h")
    if block_size is None:
        block_size = _best_block(len(x), len(h))[0]
    return _convolve_partitioned(x, h, check_positive_int(block_size, "block_size"))


def _convolve_partitioned(x: np.ndarray, h: np.ndarray, block: int) -> np.ndarray:
    """:func:`convolve_partitioned` on checked float64 inputs and block size."""
    partition = min(block, len(h))
    n_partitions = -(-len(h) // partition)
    n_fft = scipy.fft.next_fast_len(block + partition - 1, real=True)
    n_out = len(x) + len(h) - 1
    n_blocks = -(-n_out // block)

    history = n_fft - block  # samples before each block that its window sees
    padded = np.zeros(history + n_blocks * block)
    padded[history : history + len(x)] = x
    windows = np.lib.stride_tricks.sliding_window_view(padded, n_fft)[::block]

    kernel = np.zeros(n_partitions * partition)
    kernel[: len(h)] = h
    kernel_spectra = scipy.fft.rfft(kernel.reshape(n_partitions, partition), n_fft, axis=1)
    # with several partitions every block's spectrum is reused P times: keep them all
    all_spectra = scipy.fft.rfft(windows, axis=1) if n_partitions > 1 else None

    # Blocks go through in chunks of about 256 KiB of spectra, so temporaries stay in
    # cache and are recycled by the allocator instead of being page-faulted in anew.
    output = np.empty(n_blocks * block)
    chunk = max(1, (1 << 14) // (n_fft // 2 + 1))
    for first in range(0, n_blocks, chunk):
        last = min(first + chunk, n_blocks)
        if all_spectra is None:
            spectra = scipy.fft.rfft(windows[first:last], axis=1, overwrite_x=True)
            spectra *= kernel_spectra[0]
        else:
            spectra = all_spectra[first:last] * kernel_spectra[0]
            for p in range(1, min(n_partitions, last)):
                # partition p is delayed by p * partition = p * block samples: p blocks
                start = max(first, p)
                spectra[start - first :] += all_spectra[start - p : last - p] * kernel_spectra[p]
        blocks = scipy.fft.irfft(spectra, n_fft, axis=1, overwrite_x=True)
        output[first * block : last * block] = blocks[:, history:].reshape(-1)
    return output[:n_out]


def _crop(full: np.ndarray, mode: str, n_x: int, n_h: int) -> np.ndarray:
    """Crop a full convolution to ``mode``, ``n_x`` being the first input's length."""
    if mode == "full":
        return full
    length = n_x if mode == "same" else abs(n_x - n_h) + 1
    start = (len(full) - length) // 2
    return full[start : start + length]


def convolve(x: ArrayLike, h: ArrayLike, mode: str = "full", method: str = "auto") -> np.ndarray:
    """Convolve two 1-D real signals, exactly as ``scipy.signal.convolve``.

    Parameters
    ----------
    x : array_like, shape (N,)
        Signal.
    h : array_like, shape (K,)
        Kernel.
    mode : {"full", "same", "valid"}
        ``"full"``: all ``N + K - 1`` samples. ``"same"``: ``N`` samples centred
        on the full output. ``"valid"``: the ``|N - K| + 1`` samples computed
        without zero padding (the shorter input slides inside the longer).
    method : {"auto", "direct", "fft", "partitioned"}
        See the module docstring; ``"auto"`` picks the cheapest by a cost model.

    Returns
    -------
    numpy.ndarray, dtype float64

    Raises
    ------
    ValueError
        Empty, non-1-D or non-finite input; unknown ``mode`` or ``method``.
    TypeError
        Non-numeric or complex input.
    """
    x, h = as_signal(x, "x"), as_signal(h, "h")
    check_choice(mode, "mode", MODES)
    check_choice(method, "method", METHODS)
    n_x, n_h = len(x), len(h)
    if len(h) > len(x):  # convolution commutes; the longer input is the "signal"
        x, h = h, x
    if method == "auto":
        method = _cheapest_method(len(x), len(h))
    if method == "direct":
        full = np.convolve(x, h)
    elif method == "fft":
        full = _convolve_fft(x, h)
    else:
        full = _convolve_partitioned(x, h, _best_block(len(x), len(h))[0])
    return _crop(full, mode, n_x, n_h)
