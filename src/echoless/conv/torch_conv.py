r"""Convolution in PyTorch: ``conv1d`` with a flipped kernel, and exact STFT-domain convolution.

``torch.nn.functional.conv1d`` computes a *cross-correlation*,
:math:`z[n] = \sum_k w[k]\, x[n+k]`, not a convolution
:math:`y[n] = \sum_k h[k]\, x[n-k]`. Substituting :math:`k \to K-1-k` shows that
the two agree when :math:`w` is :math:`h` reversed and the input is padded
with :math:`K-1` zeros on both sides ("full") or not at all ("valid"). Without
the flip the result is the convolution with the time-reversed kernel, which
differs for every kernel that is not symmetric.

:func:`stft_domain_convolution` computes the same full convolution block-wise
in the frequency domain, the way an STFT-domain echo canceller sees it. With
windows (blocks) of ``W`` samples,

* ``x`` is cut into blocks :math:`x_b` of ``W`` samples and ``h`` into
  partitions :math:`h_p` of ``W`` taps;
* each is zero-padded to ``2W`` (the "2x window trick"): the linear convolution
  of two ``W``-sample pieces has ``2W - 1`` samples, so a ``2W``-point DFT
  holds it without circular wrap-around;
* in the frequency domain, block :math:`m` of the output is the per-frequency
  convolution across blocks :math:`Y_m(f) = \sum_p H_p(f) X_{m-p}(f)`;
* each :math:`Y_m` is inverted and overlap-added at hop ``W``.

This is exact (to float rounding), unlike a plain STFT with overlapping
windows, where multiplying spectra only approximates convolution.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from echoless._validation import as_signal, check_choice, check_positive_int


def _as_tensor(x: Any, name: str) -> tuple[torch.Tensor, bool, bool]:
    """1-D tensor from a 1-D or (1, 1, T) tensor or array; flags: was 3-D, was numpy."""
    is_tensor = isinstance(x, torch.Tensor)
    three_d = is_tensor and x.dim() == 3
    if three_d:
        if x.shape[:2] != (1, 1):
            raise ValueError(f"{name} must have shape (T,) or (1, 1, T), got {tuple(x.shape)}")
        x = x[0, 0]
    if is_tensor:
        if x.is_complex() or not x.is_floating_point():
            raise TypeError(f"{name} must be a real floating-point tensor, got {x.dtype}")
        as_signal(x, name)  # shape, emptiness and finiteness checks
        return x, three_d, False
    return torch.from_numpy(as_signal(x, name)), False, True


def _restore(y: torch.Tensor, three_d: bool, was_numpy: bool) -> Any:
    if was_numpy:
        return y.numpy()
    return y[None, None] if three_d else y


def convolve_pt(x: Any, h: Any, mode: str = "full") -> Any:
    """Linear convolution with ``torch.nn.functional.conv1d`` and a flipped kernel.

    Parameters
    ----------
    x : torch.Tensor, shape (T,) or (1, 1, T); or array_like, shape (T,)
        Signal.
    h : torch.Tensor, shape (K,) or (1, 1, K); or array_like, shape (K,)
        Kernel.
    mode : {"full", "valid"}
        ``"full"``: ``T + K - 1`` samples (input padded by ``K - 1`` zeros on
        both sides). ``"valid"``: ``T - K + 1`` samples, requires ``K <= T``.

    Returns
    -------
    torch.Tensor or numpy.ndarray
        Same form as ``x``: 1-D, ``(1, 1, T')``, or a numpy array when ``x``
        was one. Computed in the dtype of ``x`` (``h`` is cast to it).
    """
    check_choice(mode, "mode", ("full", "valid"))
    x_t, three_d, was_numpy = _as_tensor(x, "x")
    h_t = _as_tensor(h, "h")[0].to(x_t.dtype)
    n_h = h_t.shape[0]
    if mode == "valid" and n_h > x_t.shape[0]:
        raise ValueError(f"mode='valid' needs len(h) <= len(x), got {n_h} > {x_t.shape[0]}")
    padding = n_h - 1 if mode == "full" else 0
    y = F.conv1d(x_t[None, None], h_t.flip(0)[None, None], padding=padding)[0, 0]
    return _restore(y, three_d, was_numpy)


def _blocks_spectra(signal: torch.Tensor, win_size: int) -> torch.Tensor:
    """rFFT of ``win_size``-sample blocks, each zero-padded to ``2 * win_size``.

    Returns shape (n_blocks, win_size + 1), complex.
    """
    n_blocks = -(-signal.shape[0] // win_size)
    blocks = F.pad(signal, (0, n_blocks * win_size - signal.shape[0])).reshape(n_blocks, win_size)
    return torch.fft.rfft(blocks, n=2 * win_size, dim=1)


def _convolve_across_blocks_dot(x_spec: torch.Tensor, h_spec: torch.Tensor) -> torch.Tensor:
    """``Y[m] = sum_p H[p] X[m - p]``, each output block as one dot product over ``p``."""
    n_x, n_h = x_spec.shape[0], h_spec.shape[0]
    out = torch.zeros(n_x + n_h - 1, x_spec.shape[1], dtype=x_spec.dtype)
    for m in range(out.shape[0]):
        p_lo, p_hi = max(0, m - n_x + 1), min(m, n_h - 1)
        # flipped crop of X against H[p_lo..p_hi], summed over blocks for every frequency
        out[m] = (h_spec[p_lo : p_hi + 1] * x_spec[m - p_hi : m - p_lo + 1].flip(0)).sum(0)
    return out


def _convolve_across_blocks_conv1d(x_spec: torch.Tensor, h_spec: torch.Tensor) -> torch.Tensor:
    """The same per-frequency complex convolution as one grouped real ``conv1d``.

    Frequency ``f`` is group ``f`` with input channels ``(Re X_f, Im X_f)`` and
    output channels ``(Re Y_f, Im Y_f)``; complex multiplication is the 2x2
    real matrix ``[[Re H, -Im H], [Im H, Re H]]``.
    """
    n_freqs, n_h = x_spec.shape[1], h_spec.shape[0]
    # (F, n_x) complex -> (1, 2F, n_x) real, channels interleaved Re X_0, Im X_0, Re X_1, ...
    signal = torch.view_as_real(x_spec.T).permute(0, 2, 1).reshape(1, 2 * n_freqs, -1)
    kernel = h_spec.T.flip(1)  # (F, P): flipped, because conv1d correlates
    real, imag = kernel.real, kernel.imag
    weight = torch.stack(
        (torch.stack((real, -imag), 1), torch.stack((imag, real), 1)), 1
    ).reshape(2 * n_freqs, 2, n_h)
    out = F.conv1d(signal, weight, padding=n_h - 1, groups=n_freqs)[0]  # (2F, n_x + P - 1)
    return torch.view_as_complex(out.reshape(n_freqs, 2, -1).permute(0, 2, 1).contiguous()).T


def stft_domain_convolution(x: Any, h: Any, win_size: int = 512, method: str = "dot") -> Any:
    """Exact full convolution computed block-wise in the frequency domain.

    Parameters
    ----------
    x : torch.Tensor, shape (T,) or (1, 1, T); or array_like, shape (T,)
        Signal.
    h : torch.Tensor, shape (K,) or (1, 1, K); or array_like, shape (K,)
        Kernel.
    win_size : int
        Block (window) length ``W`` in samples; blocks are padded to ``2W``.
    method : {"dot", "conv1d"}
        How the per-frequency convolution across blocks is computed: a dot
        product per output block, or one grouped complex ``conv1d``.

    Returns
    -------
    torch.Tensor or numpy.ndarray, shape (T + K - 1,)
        Same form as ``x``; equals :func:`convolve_pt` ``(x, h, "full")`` to
        float rounding.
    """
    win_size = check_positive_int(win_size, "win_size")
    check_choice(method, "method", ("dot", "conv1d"))
    x_t, three_d, was_numpy = _as_tensor(x, "x")
    h_t = _as_tensor(h, "h")[0].to(x_t.dtype)
    x_spec, h_spec = _blocks_spectra(x_t, win_size), _blocks_spectra(h_t, win_size)
    across = _convolve_across_blocks_dot if method == "dot" else _convolve_across_blocks_conv1d
    blocks = torch.fft.irfft(across(x_spec, h_spec), n=2 * win_size, dim=1)  # (M, 2W)
    # overlap-add at hop W: block m covers samples [mW, mW + 2W)
    first, second = blocks[:, :win_size], blocks[:, win_size:]
    y = F.pad(first.reshape(-1), (0, win_size)) + F.pad(second.reshape(-1), (win_size, 0))
    length = x_t.shape[0] + h_t.shape[0] - 1
    return _restore(y[:length], three_d, was_numpy)
