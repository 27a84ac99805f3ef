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

from echoless._jit import kernel
from echoless._validation import check_choice
from echoless.aec.base import StreamingCanceller
from echoless.conv.partitioned import FrequencyDomainDelayLine, filter_output, partition_kernel

CONSTRAINTS = ("alternating", "full")


@kernel
def predict_echo(spectra, weights, mic, echo_estimate, error, error_spectrum, adapt):  # pragma: no cover - compiled
    """Overlap-save echo estimate of one frame and, when adapting, the error and its spectrum.

    Writes ``echo_estimate`` (B,) = last ``B`` samples of
    ``IFFT(sum_p W_p X_p)`` (:func:`~echoless.conv.partitioned.filter_output`)
    and, if ``adapt``, ``error`` (B,) = ``mic - echo_estimate`` and
    ``error_spectrum`` (B + 1,) = ``FFT_2B([0_B, error])``.
    """
    size = mic.shape[0]
    filter_output(spectra, weights, echo_estimate)
    if adapt:
        error_window = np.zeros(2 * size)
        error_window[size:] = mic - echo_estimate
        error[:] = error_window[size:]
        error_spectrum[:] = np.fft.rfft(error_window)


@kernel
def constrain_rows(weights, rows):  # pragma: no cover - compiled
    """Keep the first ``B`` taps of each listed partition of ``weights`` (P, B + 1), in place."""
    size = weights.shape[1] - 1
    for row in rows:
        taps = np.fft.irfft(weights[row], 2 * size)
        taps[size:] = 0.0
        weights[row] = np.fft.rfft(taps)


class PartitionedCanceller(StreamingCanceller):
    """Partitioned-block frequency-domain filter; subclasses add ``_update``
    (or replace the whole linear stage, ``_cancel``, by one compiled call per
    frame, as PFDKF does).

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
        self._echo_estimate = np.empty(size)
        self._error = np.empty(size)
        self._error_spectrum = np.empty(size + 1, dtype=np.complex128)
        self._all_rows = np.arange(n_partitions)
        self._rows = np.array([0, 0]) if n_partitions > 1 else np.array([0])  # first, rotating
        self._rotation = 0
        self._init_update()

    def _init_update(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _update(self, spectra: np.ndarray, error_spectrum: np.ndarray, ref: np.ndarray) -> None:
        raise NotImplementedError  # pragma: no cover - abstract

    def _step(self, mic: np.ndarray, ref: np.ndarray) -> np.ndarray:
        self._spectra.push(ref)
        spectra = self._spectra.spectra
        echo_estimate, error = self._echo_estimate, self._error
        predict_echo(spectra, self._weights, mic, echo_estimate, error, self._error_spectrum, self._adapting)
        if self._adapting:
            self._update(spectra, self._error_spectrum, ref)
            constrain_rows(self._weights, self._constraint_rows())
        return echo_estimate

    def _restart_adaptation(self) -> None:
        self._init_update()  # the step control or covariance, as at the start; the weights stay

    def _constraint_rows(self) -> np.ndarray:
        """Partitions to project back onto ``B`` taps this frame (see module notes)."""
        rows = self._rows
        if self.constraint == "full":
            return self._all_rows
        if len(rows) > 1:  # partition 0 and the next partition in rotation
            self._rotation = self._rotation % (self.n_partitions - 1) + 1
            rows[1] = self._rotation
        return rows

    def _filter_taps(self) -> np.ndarray:
        return self._taps_of(self._weights)

    def _taps_of(self, weights: np.ndarray) -> np.ndarray:
        """Time-domain taps (P * B,) of partition spectra (P, B + 1): first half of each IFFT."""
        return np.fft.irfft(weights, 2 * self.frame_size, axis=1)[:, : self.frame_size].reshape(-1).copy()

    def _load_filter(self, taps: np.ndarray) -> None:
        padded = np.zeros(self.filter_length)
        padded[: len(taps)] = taps
        self._weights[:] = partition_kernel(padded, self.frame_size)
