r"""Time-frequency (STFT-domain) echo cancellation by gradient descent (the seed's "TF LMS").

The reference and the microphone are taken to the STFT domain (Hann window,
``n_fft``, ``hop_length``; ``torch.stft`` with ``center=True`` and reflect
padding). At every frequency :math:`f` the echo is modelled as a causal
complex convolution *across frames*

.. math:: \hat E_m(f) = \sum_{k=0}^{K-1} H_k(f)\, X_{m-k}(f), \qquad X_{m<0} = 0,

so ``kernel_size`` frames of ``hop_length`` samples cover an echo path of
about ``(kernel_size - 1) * hop_length + n_fft`` samples with only
``kernel_size`` complex taps per frequency. The inverse STFT gives the echo
estimate in the waveform domain.

Two losses (``loss_type``):

``"spectral"``
    :class:`ComplexMse` between :math:`Y_m(f)` and :math:`\hat E_m(f)`; its
    exact minimiser is :func:`echoless.aec.fit_spectral_ls`, solved per frequency.
``"waveform"``
    MSE between the microphone and the inverse STFT of :math:`\hat E`: what
    the listener hears, but every frequency is coupled through the overlap-add.

The per-frequency convolution is one grouped real ``conv1d`` (group ``f``:
channels ``Re X_f, Im X_f``) in which complex multiplication is the 2x2 real
matrix ``[[Re H, -Im H], [Im H, Re H]]``, as in
:func:`echoless.conv.stft_domain_convolution` (``method="conv1d"``). During a
fit the reference's spectrogram is put in that real layout once
(:meth:`SpectralConvolution.prepare`); each step runs only the ``conv1d``.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import ArrayLike

from echoless._validation import as_signal, check_choice, check_positive_int
from echoless.aec._fitting import WaveformLogger, check_gd_options, check_offline_inputs, run_adam

LOSS_TYPES = ("spectral", "waveform")


class ComplexMse(torch.nn.Module):
    r"""Mean squared modulus of a complex difference: :math:`\frac{1}{N}\sum |a - b|^2`.

    Equals the sum of the real-part and imaginary-part MSEs.
    """

    def forward(self, estimate: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Scalar loss of two complex tensors of one shape."""
        if estimate.shape != target.shape:
            raise ValueError(f"estimate and target shapes differ: {tuple(estimate.shape)} vs {tuple(target.shape)}")
        # squares of real and imaginary parts: no square root, unlike abs() ** 2
        return torch.view_as_real(estimate - target).square().sum(-1).mean()


class SpectralConvolution(torch.nn.Module):
    """Per-frequency causal complex convolution across STFT frames.

    Parameters
    ----------
    n_freqs : int
        Number of frequency bins ``F`` (``n_fft // 2 + 1``).
    kernel_size : int
        Number of frames ``K`` in each kernel.
    dtype : torch.dtype
        Real dtype of the weight (float32 for gradient descent, float64 for
        least squares).

    Attributes
    ----------
    weight : torch.nn.Parameter, shape (F, K, 2)
        Real and imaginary parts of :math:`H_k(f)`, tap ``k`` applied to frame
        ``m - k``. Zero at creation.
    """

    def __init__(self, n_freqs: int, kernel_size: int, dtype: torch.dtype = torch.float32):
        super().__init__()
        self.n_freqs = check_positive_int(n_freqs, "n_freqs")
        self.kernel_size = check_positive_int(kernel_size, "kernel_size")
        self.weight = torch.nn.Parameter(torch.zeros(self.n_freqs, self.kernel_size, 2, dtype=dtype))

    def prepare(self, spectrogram: torch.Tensor) -> torch.Tensor:
        """The input-only part of :meth:`forward` (computed once per fit).

        Parameters
        ----------
        spectrogram : torch.Tensor, complex, shape (F, M) or (B, F, M)

        Returns
        -------
        torch.Tensor, real, shape (B, 2F, M + K - 1)
            Channels ``Re X_0, Im X_0, Re X_1, ...``, left-padded with ``K - 1``
            zero frames so that the convolution is causal.
        """
        if not spectrogram.is_complex() or spectrogram.dim() not in (2, 3) or spectrogram.shape[-2] != self.n_freqs:
            raise ValueError(
                f"spectrogram must be complex with shape ({self.n_freqs}, frames) or "
                f"(batch, {self.n_freqs}, frames), got {spectrogram.dtype} {tuple(spectrogram.shape)}"
            )
        batch = spectrogram.reshape(-1, self.n_freqs, spectrogram.shape[-1])
        channels = torch.view_as_real(batch).permute(0, 1, 3, 2).reshape(batch.shape[0], 2 * self.n_freqs, -1)
        return F.pad(channels, (self.kernel_size - 1, 0))

    def filter_prepared(self, prepared: torch.Tensor) -> torch.Tensor:
        """Filter an input returned by :meth:`prepare`; returns complex (B, F, M)."""
        real, imag = self.weight.flip(1).unbind(-1)  # (F, K) each, flipped: conv1d correlates
        weight = torch.stack((torch.stack((real, -imag), 1), torch.stack((imag, real), 1)), 1)
        out = F.conv1d(prepared, weight.reshape(2 * self.n_freqs, 2, self.kernel_size), groups=self.n_freqs)
        out = out.reshape(out.shape[0], self.n_freqs, 2, -1).permute(0, 1, 3, 2)
        return torch.view_as_complex(out.contiguous())

    def forward(self, spectrogram: torch.Tensor) -> torch.Tensor:
        """Filter a complex spectrogram of shape (F, M) or (B, F, M); same shape out."""
        return self.filter_prepared(self.prepare(spectrogram)).reshape(spectrogram.shape)

    def get_kernel(self) -> np.ndarray:
        """:math:`H_k(f)` as a complex128 array of shape (F, K)."""
        return torch.view_as_complex(self.weight.detach().double()).numpy().copy()

    def set_kernel(self, kernel: ArrayLike) -> None:
        """Load :math:`H_k(f)` from a complex array of shape (F, K)."""
        kernel = np.asarray(kernel)
        if kernel.shape != (self.n_freqs, self.kernel_size):
            raise ValueError(f"kernel must have shape {(self.n_freqs, self.kernel_size)}, got {kernel.shape}")
        if not np.all(np.isfinite(kernel)):
            raise ValueError("kernel contains NaN or Inf values")
        with torch.no_grad():
            self.weight.copy_(torch.view_as_real(torch.from_numpy(kernel.astype(np.complex128))))


class EndToEndSpectralConvolution(torch.nn.Module):
    """STFT -> :class:`SpectralConvolution` -> inverse STFT: waveform in, waveform out.

    Parameters
    ----------
    kernel_size : int
        Kernel length in frames.
    n_fft : int
        FFT size (and default window length) in samples.
    win_length : int, optional
        Hann window length in samples, ``<= n_fft``; defaults to ``n_fft``.
    hop_length : int
        Hop between frames in samples, ``<= win_length``.
    dtype : torch.dtype
        Real dtype of the weight and of the STFT.
    """

    def __init__(
        self,
        kernel_size: int,
        n_fft: int = 2048,
        win_length: int | None = None,
        hop_length: int = 512,
        dtype: torch.dtype = torch.float32,
    ):
        super().__init__()
        self.n_fft = check_positive_int(n_fft, "n_fft", minimum=2)
        self.win_length = self.n_fft if win_length is None else check_positive_int(win_length, "win_length")
        if self.win_length > self.n_fft:
            raise ValueError(f"win_length must be <= n_fft ({self.n_fft}), got {self.win_length}")
        self.hop_length = check_positive_int(hop_length, "hop_length")
        if self.hop_length > self.win_length:
            raise ValueError(f"hop_length must be <= win_length ({self.win_length}), got {self.hop_length}")
        self.spectral = SpectralConvolution(self.n_fft // 2 + 1, kernel_size, dtype)
        self.register_buffer("window", torch.hann_window(self.win_length, dtype=dtype), persistent=False)

    @property
    def kernel_size(self) -> int:
        """Kernel length in frames."""
        return self.spectral.kernel_size

    def prepare_spectrogram(self, x: torch.Tensor) -> torch.Tensor:
        """Complex STFT of a waveform (T,) or (B, T): shape (F, M) or (B, F, M), ``M = T // hop + 1``."""
        return torch.stft(
            x.to(self.window.dtype),
            self.n_fft,
            hop_length=self.hop_length,
            win_length=self.win_length,
            window=self.window,
            center=True,
            pad_mode="reflect",
            return_complex=True,
        )

    def to_waveform(self, spectrogram: torch.Tensor, length: int) -> torch.Tensor:
        """Inverse STFT of a (B, F, M) or (F, M) spectrogram to ``length`` samples."""
        return torch.istft(
            spectrogram,
            self.n_fft,
            hop_length=self.hop_length,
            win_length=self.win_length,
            window=self.window,
            center=True,
            length=length,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Filter waveforms of shape (B, 1, T); returns shape (B, 1, T)."""
        if x.dim() != 3 or x.shape[1] != 1:
            raise ValueError(f"x must have shape (batch, 1, time), got {tuple(x.shape)}")
        spectrogram = self.spectral(self.prepare_spectrogram(x[:, 0]))
        return self.to_waveform(spectrogram, x.shape[-1])[:, None]

    @torch.no_grad()
    def apply(self, x: ArrayLike) -> np.ndarray:
        """Filter a numpy signal (no gradient) in the model's dtype.

        Parameters
        ----------
        x : array_like, shape (T,)
            Longer than ``n_fft // 2`` samples (the STFT pads by reflection).

        Returns
        -------
        numpy.ndarray, shape (T,), float64
        """
        x = as_signal(x, "x")
        check_signal_fits_stft(len(x), self.n_fft, "x")
        return self(torch.from_numpy(x).view(1, 1, -1))[0, 0].double().numpy()

    def get_kernel(self) -> np.ndarray:
        """:math:`H_k(f)`, complex128, shape (F, K)."""
        return self.spectral.get_kernel()

    def set_kernel(self, kernel: ArrayLike) -> None:
        """Load :math:`H_k(f)` from a complex array of shape (F, K)."""
        self.spectral.set_kernel(kernel)


def check_signal_fits_stft(length: int, n_fft: int, name: str) -> None:
    """The centred STFT reflects ``n_fft // 2`` samples at each end: the signal must be longer."""
    if length <= n_fft // 2:
        raise ValueError(f"{name} has {length} samples; the STFT with n_fft={n_fft} needs more than {n_fft // 2}")


def fit_spectral_lms(
    mic: ArrayLike,
    ref: ArrayLike,
    echo: ArrayLike | None = None,
    near_end: ArrayLike | None = None,
    *,
    loss_type: str = "spectral",
    kernel_size: int = 15,
    n_fft: int = 2048,
    win_length: int | None = None,
    hop_length: int = 512,
    n_steps: int = 1500,
    lr: float = 1e-2,
    progress: bool = True,
) -> tuple[EndToEndSpectralConvolution, list[dict[str, float]]]:
    """Fit per-frequency echo kernels by Adam, on a spectral or a waveform loss (float32).

    Parameters
    ----------
    mic, ref : array_like, shape (T,)
        Microphone and far-end reference, same length, ``T > n_fft // 2``.
    echo, near_end : array_like, shape (T,), optional
        True echo and near end (synthetic data), used only for the logs.
    loss_type : {"spectral", "waveform"}
        Minimise :class:`ComplexMse` between STFTs, or the MSE between waveforms.
    kernel_size : int
        Kernel length in frames.
    n_fft, win_length, hop_length : int
        STFT parameters in samples (see :class:`EndToEndSpectralConvolution`).
    n_steps : int
        Adam steps.
    lr : float
        Adam learning rate.
    progress : bool
        Show a progress bar.

    Returns
    -------
    model : EndToEndSpectralConvolution
        Holding the parameters with the lowest loss seen.
    logs : list of dict
        One row per step: ``loss``, ``loss_oracle``, ``mse``, ``mse_oracle``,
        ``snr_echo``, ``snr_near`` (NaN without ``near_end``), ``lr`` (see
        :mod:`echoless.aec._fitting`).
    """
    mic, ref, echo, near_end = check_offline_inputs(mic, ref, echo, near_end)
    check_choice(loss_type, "loss_type", LOSS_TYPES)
    n_steps, lr = check_gd_options(n_steps, lr)
    model = EndToEndSpectralConvolution(kernel_size, n_fft=n_fft, win_length=win_length, hop_length=hop_length)
    check_signal_fits_stft(len(mic), model.n_fft, "mic")
    logger = WaveformLogger(mic, echo, near_end, torch.float32)
    with torch.no_grad():
        prepared = model.spectral.prepare(model.prepare_spectrogram(torch.as_tensor(ref)))
        if loss_type == "spectral":
            target, oracle_target = model.prepare_spectrogram(logger.mic), model.prepare_spectrogram(logger.oracle)
        else:
            target, oracle_target = logger.mic, logger.oracle
    loss_function = ComplexMse() if loss_type == "spectral" else F.mse_loss

    def step() -> tuple[torch.Tensor, dict[str, float]]:
        spectrogram = model.spectral.filter_prepared(prepared)[0]
        # the spectral loss needs no gradient through the inverse STFT (only the logs use it)
        with torch.set_grad_enabled(loss_type == "waveform"):
            waveform = model.to_waveform(spectrogram, len(mic))
        estimate = spectrogram if loss_type == "spectral" else waveform
        loss = loss_function(estimate, target)
        with torch.no_grad():
            loss_oracle = float(loss_function(estimate, oracle_target))
        return loss, {"loss_oracle": loss_oracle, **logger(waveform.detach())}

    logs = run_adam(model, step, n_steps=n_steps, lr=lr, progress=progress, desc=f"spectral LMS ({loss_type} loss)")
    return model, logs
