r"""Uniformly partitioned overlap-save convolution, for streaming.

A long kernel ``h`` (``K`` taps) is cut into ``P = ceil(K / B)`` partitions of
``B`` taps, ``B`` being the block size. With an FFT of size ``2B``, partition
``p`` contributes to the current output block the product of its spectrum
``H_p`` with the spectrum of the input window seen ``p`` blocks ago:

.. math:: Y_b = \sum_{p=0}^{P-1} H_p \, X_{b-p}, \qquad
          X_b = \mathrm{FFT}_{2B}\big([x_{b-1}, x_b]\big),

and the last ``B`` samples of ``IFFT(Y_b)`` are the output block (overlap-save:
the first ``B`` are circularly aliased and discarded). The spectra ``X_{b-p}``
form the *frequency-domain delay line* (FDL). Per block this costs one forward
and one inverse FFT of size ``2B`` plus ``P (B+1)`` complex multiply-adds, and
the latency is one block — against ``O(K)`` per sample for direct convolution
or a latency of ``K`` for one big FFT.

The same FDL is the input of the partitioned-block frequency-domain adaptive
filters in :mod:`echoless.aec`, which replace the fixed ``H_p`` by adapted ones.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from echoless._jit import kernel
from echoless._frames import check_frame
from echoless._validation import as_signal, check_positive_int


@kernel
def push_window(window, block, buffer, powers, head):  # pragma: no cover - compiled
    """Slide ``block`` (B,) into ``window`` (2B,) and store its rFFT at rows ``head`` and ``head + P``.

    ``buffer`` (2P, B + 1) complex holds every spectrum twice (see
    :class:`FrequencyDomainDelayLine`); ``powers`` (2P, B + 1), or (0, B + 1)
    when the powers are not kept, receives ``|spectrum|^2`` the same way.
    """
    size = block.shape[0]
    n_partitions = buffer.shape[0] // 2
    window[:size] = window[size:]
    window[size:] = block
    spectrum = np.fft.rfft(window)
    buffer[head] = spectrum
    buffer[head + n_partitions] = spectrum
    if powers.shape[0] > 0:
        for k in range(spectrum.shape[0]):
            power = spectrum[k].real ** 2 + spectrum[k].imag ** 2
            powers[head, k] = power
            powers[head + n_partitions, k] = power


@kernel
def sum_products(spectra, partition_spectra, out):  # pragma: no cover - compiled
    """``out[k] = sum_p partition_spectra[p, k] * spectra[p, k]``, both (P, B + 1); returns ``out``."""
    out[:] = 0.0
    for p in range(spectra.shape[0]):
        for k in range(spectra.shape[1]):
            out[k] += partition_spectra[p, k] * spectra[p, k]
    return out


@kernel
def filter_output(spectra, partition_spectra, out):  # pragma: no cover - compiled
    """Overlap-save output block of a partitioned filter into ``out`` (B,); returns ``out``.

    The last ``B`` samples of ``IFFT_2B(sum_p H_p X_p)``, with ``spectra``
    :math:`X_p` and ``partition_spectra`` :math:`H_p` both (P, B + 1).
    """
    size = out.shape[0]
    spectrum = sum_products(spectra, partition_spectra, np.empty(size + 1, dtype=np.complex128))
    out[:] = np.fft.irfft(spectrum, 2 * size)[size:]
    return out


@kernel
def filter_block(window, buffer, powers, head, block, partition_spectra, out):  # pragma: no cover - compiled
    """:func:`push_window`, then :func:`filter_output` into ``out`` (B,)."""
    push_window(window, block, buffer, powers, head)
    return filter_output(buffer[head : head + buffer.shape[0] // 2], partition_spectra, out)


class FrequencyDomainDelayLine:
    """The spectra of the last ``n_partitions`` input windows, newest first.

    Parameters
    ----------
    block_size : int
        Samples per block ``B``; windows are ``2B`` long.
    n_partitions : int
        Number of past window spectra kept, ``P``.
    keep_powers : bool
        Also keep their power spectra :math:`|X_p(k)|^2` (:attr:`powers`), which
        adaptive filters normalise by: one new row per block instead of ``P``.

    Notes
    -----
    Each spectrum is stored twice, at ``head`` and ``head + P`` of a ``2P``-row
    buffer, so that :attr:`spectra` is always one contiguous, newest-first
    slice: no copy or roll per block. The powers are stored the same way.
    """

    def __init__(self, block_size: int, n_partitions: int, keep_powers: bool = False) -> None:
        self.block_size = check_positive_int(block_size, "block_size")
        self.n_partitions = check_positive_int(n_partitions, "n_partitions")
        self._window = np.zeros(2 * self.block_size)
        self._buffer = np.zeros((2 * self.n_partitions, self.block_size + 1), dtype=np.complex128)
        self._powers = np.zeros(self._buffer.shape if keep_powers else (0, self.block_size + 1))
        self._head = 0

    def reset(self) -> None:
        """Forget all past input."""
        self._window[:] = 0.0
        self._buffer[:] = 0.0
        self._powers[:] = 0.0
        self._head = 0

    def advance(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
        """Make room for the next block, for compiled code that pushes it itself.

        Returns ``(window, buffer, powers, head)``, the arguments
        :func:`push_window` updates in place (``powers`` has no rows without
        ``keep_powers``); rows ``head .. head + P - 1`` of ``buffer`` and
        ``powers`` are then :attr:`spectra` and :attr:`powers`.
        """
        head = self._head = (self._head - 1) % self.n_partitions
        return self._window, self._buffer, self._powers, head

    def push(self, block: np.ndarray) -> np.ndarray:
        """Add one block of ``B`` samples; return the new window spectrum.

        Parameters
        ----------
        block : numpy.ndarray, shape (B,)

        Returns
        -------
        numpy.ndarray, shape (B + 1,), complex
            ``rfft([previous block, block])``.
        """
        window, buffer, powers, head = self.advance()
        push_window(window, block, buffer, powers, head)
        return buffer[head]

    def push_and_filter(self, block: np.ndarray, partition_spectra: np.ndarray) -> np.ndarray:
        """:meth:`push` ``block``, then return the partitioned filter's output block, in one compiled call.

        Parameters
        ----------
        block : numpy.ndarray, shape (B,)
        partition_spectra : numpy.ndarray, shape (P, B + 1), complex
            Filter partition spectra ``H_p`` (:func:`partition_kernel`), row
            ``p`` meeting the input window ``p`` blocks old.

        Returns
        -------
        numpy.ndarray, shape (B,)
            The last ``B`` samples of ``IFFT(sum_p H_p X_p)`` (overlap-save), a new array.
        """
        return filter_block(*self.advance(), block, partition_spectra, np.empty(len(block)))

    @property
    def spectra(self) -> np.ndarray:
        """Window spectra, shape (P, B + 1), row ``p`` being ``p`` blocks old."""
        return self._buffer[self._head : self._head + self.n_partitions]

    @property
    def powers(self) -> np.ndarray:
        """Power spectra ``|X_p(k)|^2``, shape (P, B + 1), rows as in :attr:`spectra`.

        Only with ``keep_powers=True``.
        """
        if len(self._powers) == 0:
            raise AttributeError("this delay line was built with keep_powers=False")
        return self._powers[self._head : self._head + self.n_partitions]

    @property
    def window(self) -> np.ndarray:
        """The current time-domain window, shape (2B,): previous block, newest block."""
        return self._window


def partition_kernel(h: np.ndarray, block_size: int) -> np.ndarray:
    """Spectra of the ``B``-tap partitions of ``h``, each zero-padded to ``2B``.

    Parameters
    ----------
    h : numpy.ndarray, shape (K,)
    block_size : int

    Returns
    -------
    numpy.ndarray, shape (ceil(K / B), B + 1), complex
    """
    n_partitions = -(-len(h) // block_size)
    partitions = np.zeros(n_partitions * block_size)
    partitions[: len(h)] = h
    return np.fft.rfft(partitions.reshape(n_partitions, block_size), n=2 * block_size, axis=1)


class PartitionedConvolver:
    """Streaming convolution with a fixed kernel, one block at a time.

    Parameters
    ----------
    h : array_like, shape (K,)
        Kernel (FIR impulse response), finite, non-empty.
    block_size : int
        Samples per call to :meth:`process`, ``B >= 1``. Latency is ``B``
        samples; cost per sample falls as ``B`` grows up to about ``K``.

    Examples
    --------
    >>> import numpy as np
    >>> from echoless.conv import PartitionedConvolver, convolve
    >>> x, h = np.random.randn(1000), np.random.randn(300)
    >>> conv = PartitionedConvolver(h, block_size=100)
    >>> y = np.concatenate([conv.process(x[i:i + 100]) for i in range(0, 1000, 100)])
    >>> bool(np.allclose(y, convolve(x, h)[:1000]))
    True
    """

    def __init__(self, h: ArrayLike, block_size: int) -> None:
        self.block_size = check_positive_int(block_size, "block_size")
        self.kernel = as_signal(h, "h").copy()
        self.kernel.setflags(write=False)
        self._kernel_spectra = partition_kernel(self.kernel, self.block_size)
        self._delay_line = FrequencyDomainDelayLine(self.block_size, len(self._kernel_spectra))

    @property
    def n_partitions(self) -> int:
        """Number of kernel partitions ``P = ceil(K / B)``."""
        return len(self._kernel_spectra)

    def reset(self) -> None:
        """Clear the input history, as if no block had been processed."""
        self._delay_line.reset()

    def process(self, block: ArrayLike) -> np.ndarray:
        """Convolve the next input block.

        Parameters
        ----------
        block : array_like, shape (block_size,)

        Returns
        -------
        numpy.ndarray, shape (block_size,)
            The next ``block_size`` samples of ``x * h``.
        """
        block = check_frame(block, self.block_size, "block", "block_size")
        return self._delay_line.push_and_filter(block, self._kernel_spectra)
