r"""Waveform-domain echo cancellation by gradient descent (the seed's "LMS" in PyTorch).

The echo is modelled as the reference through a causal FIR :math:`h` of
``kernel_size`` taps, and :math:`h` is fitted to the microphone by minimising

.. math:: L(h) = \frac{1}{T}\sum_{t=0}^{T-1}\Big(y_t - \sum_{k=0}^{K-1} h_k s_{t-k}\Big)^2,
          \qquad s_{t<0} = 0,

with Adam. With the near end uncorrelated with the reference, the minimiser
is the echo path, and ``mic - ref * h`` is the near-end estimate. The exact
minimiser is :func:`echoless.aec.fit_waveform_ls`.

:class:`Convolution` computes ``ref * h`` cropped to ``T`` samples in two
mathematically identical ways:

``method="direct"`` (the seed's recipe)
    ``conv1d`` over the input left-padded with ``K - 1`` zeros: :math:`TK`
    multiply-adds per step, about 1.3e9 for 20 s at 16 kHz and ``K = 4000``.
``method="fft"``
    ``irfft(rfft(s, N) * rfft(h, N))[:T]`` with :math:`N \ge T + K - 1`, so
    there is no circular wrap-around: :math:`O(N \log N)`, tens of times
    faster. During a fit the reference's spectrum is computed once; each
    step transforms only the kernel and the product (and autograd the same
    backwards).

``conv1d`` correlates, so the weight is the kernel reversed; :meth:`get_kernel`
and :meth:`set_kernel` speak the classical orientation ``h[0], h[1], ...``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import ArrayLike

from echoless._validation import as_signal, check_choice, check_positive_float, check_positive_int
from echoless.aec._fitting import WaveformLogger, check_gd_options, check_offline_inputs, run_adam
from echoless.conv import convolve
from echoless.conv.correlation import fft_size

METHODS = ("fft", "direct")


class Convolution(torch.nn.Module):
    """Causal FIR filter: ``(B, 1, T) -> (B, 1, T)``, output ``y[t] = sum_k h[k] x[t - k]``.

    Parameters
    ----------
    kernel_size : int
        Number of taps ``K``.
    method : {"fft", "direct"}
        How :meth:`forward` convolves (see the module docstring); both give
        the same output to float rounding.
    dtype : torch.dtype
        Dtype of the weight (float32, as the seed, for gradient descent;
        float64 keeps a least-squares solution exact).

    Attributes
    ----------
    weight : torch.nn.Parameter, shape (1, 1, K)
        PyTorch ``conv1d`` weight: the kernel reversed. Zero at creation; no bias.
    """

    def __init__(self, kernel_size: int, method: str = "fft", dtype: torch.dtype = torch.float32):
        super().__init__()
        self.kernel_size = check_positive_int(kernel_size, "kernel_size")
        self.method = check_choice(method, "method", METHODS)
        self.weight = torch.nn.Parameter(torch.zeros(1, 1, self.kernel_size, dtype=dtype))

    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        """The part of :meth:`forward` that depends on the input only (computed once per fit).

        Parameters
        ----------
        x : torch.Tensor, shape (B, 1, T)

        Returns
        -------
        torch.Tensor
            ``"direct"``: ``x`` left-padded with ``K - 1`` zeros, shape
            (B, 1, T + K - 1). ``"fft"``: ``rfft(x, N)``, shape (B, 1, N // 2 + 1),
            with ``N = fft_size(T, K)``.
        """
        if x.dim() != 3 or x.shape[1] != 1:
            raise ValueError(f"x must have shape (batch, 1, time), got {tuple(x.shape)}")
        if self.method == "direct":
            return F.pad(x, (self.kernel_size - 1, 0))
        return torch.fft.rfft(x, n=fft_size(x.shape[-1], self.kernel_size))

    def filter_prepared(self, prepared: torch.Tensor, length: int) -> torch.Tensor:
        """Filter an input returned by :meth:`prepare`; output shape (B, 1, ``length``)."""
        if self.method == "direct":
            return F.conv1d(prepared, self.weight)
        n_fft = 2 * (prepared.shape[-1] - 1)
        kernel_spectrum = torch.fft.rfft(self.weight.flip(-1), n=n_fft)
        return torch.fft.irfft(prepared * kernel_spectrum, n=n_fft)[..., :length]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Filter ``x`` of shape (B, 1, T); returns shape (B, 1, T)."""
        return self.filter_prepared(self.prepare(x), x.shape[-1])

    def apply(self, x: ArrayLike) -> np.ndarray:
        """Filter a numpy signal in float64 (no gradient), e.g. the reference into the echo estimate.

        Parameters
        ----------
        x : array_like, shape (T,)

        Returns
        -------
        numpy.ndarray, shape (T,), float64
        """
        x = as_signal(x, "x")
        return convolve(x, self.get_kernel())[: len(x)]

    def get_kernel(self) -> np.ndarray:
        """The FIR in classical orientation, shape (K,), float64."""
        return self.weight.detach().cpu().double().numpy()[0, 0, ::-1].copy()

    def set_kernel(self, kernel: ArrayLike) -> None:
        """Load an FIR given in classical orientation, shape (K,)."""
        kernel = as_signal(kernel, "kernel")
        if len(kernel) != self.kernel_size:
            raise ValueError(f"kernel must have {self.kernel_size} taps, got {len(kernel)}")
        with torch.no_grad():
            self.weight.copy_(torch.from_numpy(kernel[::-1].copy()).view(1, 1, -1))


def kernel_size_from_seconds(kernel_seconds: Any, sample_rate: Any, length: int) -> int:
    """Number of taps covering ``kernel_seconds``; at least 1, at most the signal length."""
    seconds = check_positive_float(kernel_seconds, "kernel_seconds")
    rate = check_positive_int(sample_rate, "sample_rate")
    size = max(1, int(round(seconds * rate)))
    if size > length:
        raise ValueError(
            f"kernel_seconds={kernel_seconds} gives {size} taps at {rate} Hz, "
            f"longer than the signal ({length} samples)"
        )
    return size


def fit_waveform_lms(
    mic: ArrayLike,
    ref: ArrayLike,
    echo: ArrayLike | None = None,
    near_end: ArrayLike | None = None,
    *,
    kernel_seconds: float = 0.25,
    n_steps: int = 1500,
    lr: float = 1e-2,
    sample_rate: int = 16000,
    method: str = "fft",
    progress: bool = True,
) -> tuple[Convolution, list[dict[str, float]]]:
    """Fit a causal FIR echo path by Adam on ``MSE(mic, ref * h)`` (float32, as the seed).

    Parameters
    ----------
    mic, ref : array_like, shape (T,)
        Microphone and far-end reference, same length, sampled at ``sample_rate``.
    echo, near_end : array_like, shape (T,), optional
        True echo and near end (synthetic data), used only for the logs.
    kernel_seconds : float
        Filter length in seconds (0.25 s = 4000 taps at 16 kHz).
    n_steps : int
        Adam steps.
    lr : float
        Adam learning rate.
    sample_rate : int
        Sampling rate in Hz.
    method : {"fft", "direct"}
        Convolution method of the model (same result; ``"fft"`` is much faster).
    progress : bool
        Show a progress bar.

    Returns
    -------
    model : Convolution
        Holding the parameters with the lowest loss seen.
    logs : list of dict
        One row per step with keys ``loss``, ``loss_oracle``, ``snr_echo``,
        ``snr_near`` (NaN without ``near_end``) and ``lr`` (see
        :mod:`echoless.aec._fitting`).
    """
    mic, ref, echo, near_end = check_offline_inputs(mic, ref, echo, near_end)
    n_steps, lr = check_gd_options(n_steps, lr)
    model = Convolution(kernel_size_from_seconds(kernel_seconds, sample_rate, len(mic)), method=method)
    logger = WaveformLogger(mic, echo, near_end, torch.float32)
    prepared = model.prepare(torch.as_tensor(ref, dtype=torch.float32).view(1, 1, -1))

    def step() -> tuple[torch.Tensor, dict[str, float]]:
        prediction = model.filter_prepared(prepared, len(mic))[0, 0]
        loss = F.mse_loss(prediction, logger.mic)
        values = logger(prediction.detach())
        return loss, {
            "loss_oracle": values["mse_oracle"],
            "snr_echo": values["snr_echo"],
            "snr_near": values["snr_near"],
        }

    logs = run_adam(model, step, n_steps=n_steps, lr=lr, progress=progress, desc="waveform LMS")
    return model, logs
