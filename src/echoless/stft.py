r"""Short-time Fourier transform in numpy, with ``torch.stft``/``torch.istft`` conventions.

Analysis. With a window ``w`` of ``win_length`` samples, zero-padded on both
sides to ``n_fft`` (centred, as torch does), hop ``H`` and, when
``center=True``, the signal reflect-padded by ``n_fft // 2`` on each side,
frame ``m`` is

.. math:: S[k, m] = \sum_{n=0}^{N-1} w[n]\, x[mH + n]\, e^{-2\pi i k n / N},
          \qquad k = 0, \dots, N/2,

(one-sided: ``N // 2 + 1`` bins, no normalisation), exactly what
``torch.stft(x, n_fft, hop_length, win_length, window, center=True,
pad_mode="reflect", return_complex=True)`` returns.

Synthesis (:func:`istft`) is the least-squares inverse of Griffin & Lim:
inverse FFT of each frame, multiply by the window again, overlap-add, divide
by the overlap-added squared window :math:`\sum_m w^2[t - mH]`. It inverts
:func:`stft` exactly whenever that envelope is non-zero.

The Parseval factor (:func:`stft_isometry_ratio`). By Parseval for the
unnormalised DFT, :math:`\sum_k |S[k, m]|^2 = N \sum_n w^2[n] x^2[mH+n]` (all
``N`` bins). Summing over frames,

.. math:: \|S\|^2 = N \sum_t x^2[t] \sum_m w^2[t - mH].

When the squared window overlap-adds to a constant
:math:`\sum_m w^2[t - mH] = \frac{1}{H}\sum_n w^2[n]`, the STFT is a scaled
isometry, :math:`\|S\|^2 = \frac{N}{H}\|w\|^2 \|x\|^2`. For the periodic Hann
window, :math:`w^2 = \frac38 - \frac12\cos\frac{2\pi n}{L} + \frac18\cos\frac{4\pi n}{L}`;
both cosines cancel in the overlap-add when ``L / H`` is an integer ``>= 3``,
leaving the closed form

.. math:: \frac{\|S\|^2}{\|x\|^2} = \frac{3 N L}{8 H}.

An inconsistent spectrogram (:func:`make_inconsistent_spectrogram`). The
STFT is redundant (``N / H`` times more coefficients than samples), so most
complex arrays are *not* the STFT of any signal. ``stft(istft(S))`` is the
orthogonal projection of ``S`` onto the consistent ones (for a tight frame),
and keeping a speech magnitude while drawing the phase at random lands far
from that subspace.
"""

from __future__ import annotations

import numpy as np
import scipy.signal
from numpy.typing import ArrayLike

from echoless._validation import as_signal, check_choice, check_positive_int

WINDOWS = ("hann", "rectangular")


def _window(n_fft: int, hop_length: int | None, win_length: int | None, window: str) -> tuple[np.ndarray, int]:
    """Return the window zero-padded (centred) to ``n_fft``, and the hop."""
    n_fft = check_positive_int(n_fft, "n_fft", minimum=2)
    win_length = n_fft if win_length is None else check_positive_int(win_length, "win_length")
    if win_length > n_fft:
        raise ValueError(f"win_length must be <= n_fft, got win_length={win_length} and n_fft={n_fft}")
    hop_length = win_length // 4 if hop_length is None else check_positive_int(hop_length, "hop_length")
    check_choice(window, "window", WINDOWS)
    if window == "hann":
        # periodic Hann, as torch.hann_window(win_length) (periodic=True by default)
        short = scipy.signal.get_window("hann", win_length, fftbins=True)
    else:
        short = np.ones(win_length)
    padded = np.zeros(n_fft)
    left = (n_fft - win_length) // 2
    padded[left : left + win_length] = short
    return padded, max(1, hop_length)


def stft(
    x: ArrayLike,
    n_fft: int = 1024,
    hop_length: int | None = None,
    win_length: int | None = None,
    window: str = "hann",
    center: bool = True,
) -> np.ndarray:
    """One-sided STFT, equal to ``torch.stft(..., center=center, pad_mode="reflect")``.

    Parameters
    ----------
    x : array_like, shape (T,)
        Real signal.
    n_fft : int
        FFT size ``N`` (>= 2).
    hop_length : int, optional
        Hop ``H`` in samples; default ``win_length // 4``.
    win_length : int, optional
        Window length ``L <= n_fft``; default ``n_fft``.
    window : {"hann", "rectangular"}
        Periodic Hann (as ``torch.hann_window``) or all ones.
    center : bool
        Reflect-pad ``n_fft // 2`` samples on both sides so frame ``m`` is
        centred on sample ``m H``.

    Returns
    -------
    numpy.ndarray, shape (n_fft // 2 + 1, n_frames), complex128
        ``n_frames = 1 + T // H`` when centred, ``1 + (T - N) // H`` otherwise.
    """
    x = as_signal(x, "x")
    w, hop_length = _window(n_fft, hop_length, win_length, window)
    if center:
        if len(x) <= n_fft // 2:
            raise ValueError(f"x must be longer than n_fft // 2 = {n_fft // 2} samples for reflect padding, got {len(x)}")
        x = np.pad(x, n_fft // 2, mode="reflect")
    if len(x) < n_fft:
        raise ValueError(f"x must have at least n_fft = {n_fft} samples, got {len(x)}")
    frames = np.lib.stride_tricks.sliding_window_view(x, n_fft)[::hop_length]
    return np.fft.rfft(frames * w, axis=1).T


def istft(
    spectrogram: ArrayLike,
    n_fft: int = 1024,
    hop_length: int | None = None,
    win_length: int | None = None,
    window: str = "hann",
    center: bool = True,
    length: int | None = None,
) -> np.ndarray:
    """Least-squares inverse STFT, equal to ``torch.istft`` with the same arguments.

    Parameters
    ----------
    spectrogram : array_like, shape (n_fft // 2 + 1, n_frames), complex
        One-sided spectrogram.
    n_fft, hop_length, win_length, window, center
        As in :func:`stft`.
    length : int, optional
        Output length in samples; default ``(n_frames - 1) * H`` when centred
        (the signal length :func:`stft` saw, up to ``H - 1`` samples).

    Returns
    -------
    numpy.ndarray, shape (length,), float64

    Raises
    ------
    ValueError
        If the spectrogram does not have ``n_fft // 2 + 1`` rows, or the squared
        window overlap-adds to zero somewhere inside the output (the frames
        then do not determine the signal there).
    """
    spec = np.asarray(spectrogram)
    if spec.ndim != 2 or spec.shape[0] != n_fft // 2 + 1 or spec.shape[1] == 0:
        raise ValueError(
            f"spectrogram must have shape ({n_fft // 2 + 1}, n_frames) for n_fft={n_fft}, got {spec.shape}"
        )
    if not np.all(np.isfinite(spec)):
        raise ValueError("spectrogram contains NaN or Inf values")
    w, hop_length = _window(n_fft, hop_length, win_length, window)
    n_frames = spec.shape[1]
    frames = np.fft.irfft(spec.T, n=n_fft, axis=1) * w
    total = n_fft + hop_length * (n_frames - 1)
    signal = np.zeros(total)
    envelope = np.zeros(total)
    w2 = w**2
    for m in range(n_frames):  # a few thousand frames at most: a plain loop is clear and fast enough
        signal[m * hop_length : m * hop_length + n_fft] += frames[m]
        envelope[m * hop_length : m * hop_length + n_fft] += w2
    start = n_fft // 2 if center else 0
    if length is None:
        end = total - start
    else:
        end = start + check_positive_int(length, "length")
        if end > total:  # torch zero-pads a requested length beyond the frames
            signal, envelope = np.pad(signal, (0, end - total)), np.pad(envelope, (0, end - total), constant_values=1.0)
    signal, envelope = signal[start:end], envelope[start:end]
    if np.any(envelope < 1e-11):
        raise ValueError(
            "the squared window overlap-adds to zero inside the signal: "
            f"hop_length={hop_length} is too large for this window"
        )
    return signal / envelope


def stft_isometry_ratio(
    n_fft: int = 1024,
    hop_length: int | None = None,
    win_length: int | None = None,
    window: str = "hann",
) -> float:
    r"""The Parseval factor :math:`\|S\|^2 / \|x\|^2` of the STFT, ``N \|w\|^2 / H``.

    ``\|S\|^2`` is the energy of the full two-sided spectrogram: for the
    one-sided array :func:`stft` returns, see :func:`spectrogram_energy`. The
    factor is exact for every signal (away from the first and last ``n_fft``
    samples) when the squared window overlap-adds to a constant, e.g. a Hann
    window with ``win_length / hop_length`` an integer ``>= 3``, where it equals
    ``3 n_fft win_length / (8 hop_length)``; otherwise it is the average over
    time of a factor that ripples with period ``hop_length``.

    Parameters
    ----------
    n_fft, hop_length, win_length, window
        As in :func:`stft`.

    Returns
    -------
    float
    """
    w, hop_length = _window(n_fft, hop_length, win_length, window)
    return float(n_fft * np.sum(w**2) / hop_length)


def spectrogram_energy(spectrogram: ArrayLike, n_fft: int) -> float:
    """Energy of the two-sided spectrogram a one-sided ``spectrogram`` stands for.

    The bins strictly between DC and Nyquist appear twice in the two-sided DFT
    of a real frame (as conjugate pairs), so they count twice.

    Parameters
    ----------
    spectrogram : array_like, shape (n_fft // 2 + 1, n_frames), complex
    n_fft : int

    Returns
    -------
    float
    """
    spec = np.asarray(spectrogram)
    if spec.ndim != 2 or spec.shape[0] != n_fft // 2 + 1:
        raise ValueError(f"spectrogram must have shape ({n_fft // 2 + 1}, n_frames) for n_fft={n_fft}, got {spec.shape}")
    weights = np.full(spec.shape[0], 2.0)
    weights[0] = 1.0
    if n_fft % 2 == 0:
        weights[-1] = 1.0
    return float(np.sum(weights[:, None] * np.abs(spec) ** 2))


def consistency_error(
    spectrogram: ArrayLike,
    n_fft: int = 1024,
    hop_length: int | None = None,
    win_length: int | None = None,
    window: str = "hann",
) -> float:
    """Relative distance ``||stft(istft(S)) - S|| / ||S||`` of ``S`` from the consistent spectrograms.

    Zero (to rounding) for the STFT of any signal; close to one for a random array.

    Parameters
    ----------
    spectrogram : array_like, shape (n_fft // 2 + 1, n_frames), complex
    n_fft, hop_length, win_length, window
        As in :func:`stft` (``center=True``).

    Returns
    -------
    float
    """
    spec = np.asarray(spectrogram)
    signal = istft(spec, n_fft, hop_length, win_length, window)
    again = stft(signal, n_fft, hop_length, win_length, window)
    return float(np.linalg.norm(again - spec) / np.linalg.norm(spec))


def make_inconsistent_spectrogram(
    x: ArrayLike,
    n_fft: int = 1024,
    hop_length: int | None = 128,
    win_length: int | None = 512,
    window: str = "hann",
    seed: int = 0,
) -> np.ndarray:
    """The magnitude of ``stft(x)`` with uniformly random phases: no signal has this STFT.

    Parameters
    ----------
    x : array_like, shape (T,)
        Signal whose magnitude is kept (speech gives a realistic example).
    n_fft, hop_length, win_length, window
        As in :func:`stft` (defaults: the seed's ``n_fft=1024, hop_length=128,
        win_length=512``).
    seed : int
        Seed of the random phases.

    Returns
    -------
    numpy.ndarray, shape (n_fft // 2 + 1, n_frames), complex128
        ``S`` with ``consistency_error(S, ...)`` typically above 0.5 (the phases of
        neighbouring, overlapping frames no longer agree).
    """
    magnitude = np.abs(stft(x, n_fft, hop_length, win_length, window))
    phase = np.random.default_rng(seed).uniform(-np.pi, np.pi, magnitude.shape)
    phase[0] = 0.0  # DC (and Nyquist) bins of a real frame are real
    if n_fft % 2 == 0:
        phase[-1] = 0.0
    return magnitude * np.exp(1j * phase)
