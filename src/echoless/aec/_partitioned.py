r"""What PBFDAF and PFDKF share: the partitioned overlap-save filter and its gradient constraint.

The echo path (``L`` taps) is cut into ``P = ceil(L / B)`` partitions of
``B = frame_size`` taps. Each frame, the reference block enters the
frequency-domain delay line of :mod:`echoless.conv.partitioned`, whose rows
are :math:`X_p = \mathrm{FFT}_{2B}[s_{b-p-1}, s_{b-p}]`, and

.. math:: \hat E = \sum_p W_p X_p,\qquad \hat e = \text{last } B \text{ of } \mathrm{IFFT}(\hat E),
          \qquad e = y - \hat e,\qquad E = \mathrm{FFT}_{2B}[0_B, e],

with one FFT and one IFFT per frame whatever ``P``. The adaptive rules
(subclasses) then add a gradient ``\Delta W_p \propto X_p^* E`` to each
partition. That product is a *circular* correlation; the constraint keeps only
its first ``B`` lags (IFFT, zero the second half, FFT), which makes the update
a true gradient of the linear-convolution error. Constraining every partition
every frame costs ``2P`` FFTs, so by default the first partition (which holds
the direct path and converges first) and one more partition in rotation are
constrained each frame — the alternately updated MDF of Speex, whose
unconstrained residue in the other partitions is removed ``P - 1`` frames later.
"""

from __future__ import annotations

import numpy as np

from echoless._fft import irfft_into, rfft_into
from echoless._validation import check_choice
from echoless.aec.base import StreamingCanceller
from echoless.conv.partitioned import FrequencyDomainDelayLine, partition_kernel

CONSTRAINTS = ("alternating", "full")


class PartitionedCanceller(StreamingCanceller):
    """Partitioned-block frequency-domain filter; subclasses add ``_update``.

    ``filter_length`` is rounded up to a whole number of partitions of
    ``frame_size`` taps. ``constraint`` is ``"alternating"`` (partition 0 and
    one rotating partition per frame, the default) or ``"full"`` (all).
    """

    def __init__(self, *args, constraint: str = "alternating", **kwargs) -> None:
        self.constraint = check_choice(constraint, "constraint", CONSTRAINTS)
        super().__init__(*args, **kwargs)

    @property
    def n_partitions(self) -> int:
        """Number of partitions ``P``."""
        return len(self._weights)

    def _init_filter(self) -> None:
        size = self.frame_size
        n_partitions = -(-self.filter_length // size)
        self.filter_length = n_partitions * size
        self._spectra = FrequencyDomainDelayLine(size, n_partitions, keep_powers=True)
        self._weights = np.zeros((n_partitions, size + 1), dtype=np.complex128)
        # summing P rows as ones @ rows is a BLAS gemv: faster than einsum or .sum(axis=0)
        self._ones = np.ones(n_partitions)
        self._error_window = np.zeros(2 * size)
        self._echo_window = np.empty(2 * size)
        self._constraint_windows = np.empty((n_partitions, 2 * size))
        self._error_spectrum = np.empty(size + 1, dtype=np.complex128)
        self._error = self._error_window[size:]  # a view: the error is written where its FFT reads it
        self._rotation = 0
        self._init_update()

    def _init_update(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _update(self, spectra: np.ndarray, error_spectrum: np.ndarray, ref: np.ndarray) -> None:
        raise NotImplementedError  # pragma: no cover - abstract

    def _step(self, mic: np.ndarray, ref: np.ndarray) -> np.ndarray:
        size = self.frame_size
        self._spectra.push(ref)
        spectra = self._spectra.spectra
        echo_estimate = irfft_into(self._spectra.filter_spectrum(self._weights), self._echo_window)[size:]
        if self.adapt:
            np.subtract(mic, echo_estimate, out=self._error)
            rfft_into(self._error_window, self._error_spectrum)
            self._update(spectra, self._error_spectrum, ref)
            self._constrain()
        return echo_estimate

    def _constrain(self) -> None:
        """Project the weights back onto ``B``-tap partitions (see module notes)."""
        n_partitions = len(self._weights)
        if self.constraint == "full":
            rows = slice(None)
        elif n_partitions == 1:
            rows = slice(0, 1)
        else:
            self._rotation = self._rotation % (n_partitions - 1) + 1
            rows = slice(0, self._rotation + 1, self._rotation)  # rows 0 and rotation
        # the rows are a view of the weights, so one batched FFT pair transforms them in place
        weights = self._weights[rows]
        windows = irfft_into(weights, self._constraint_windows[: len(weights)])
        windows[:, self.frame_size :] = 0.0
        rfft_into(windows, weights)

    def _filter_taps(self) -> np.ndarray:
        return self._taps_of(self._weights)

    def _taps_of(self, weights: np.ndarray) -> np.ndarray:
        """Time-domain taps (P * B,) of partition spectra (P, B + 1): first half of each IFFT."""
        return np.fft.irfft(weights, 2 * self.frame_size, axis=1)[:, : self.frame_size].reshape(-1).copy()

    def _load_filter(self, taps: np.ndarray) -> None:
        padded = np.zeros(self.filter_length)
        padded[: len(taps)] = taps
        self._weights[:] = partition_kernel(padded, self.frame_size)
