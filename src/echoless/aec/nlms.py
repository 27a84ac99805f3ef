r"""Time-domain normalised LMS, one block update per frame.

With :math:`\mathbf s_t = [s_t, s_{t-1}, \dots, s_{t-L+1}]` the last ``L``
reference samples, the echo estimate is :math:`\hat e_t = \mathbf h^\top \mathbf s_t`
and NLMS minimises the a priori error :math:`e_t = y_t - \hat e_t` by

.. math:: \mathbf h \leftarrow \mathbf h + \frac{\mu}{\|\mathbf s\|^2 + \delta}\, e_t\, \mathbf s_t .

Here the filter is held fixed during a frame of ``N`` samples and updated
once with the frame's averaged gradient (block NLMS):
:math:`\mathbf h \leftarrow \mathbf h + \mu\, S^\top \mathbf e / (N \|\mathbf s\|^2 + \delta)`,
``S`` being the ``(N, L)`` matrix of reference vectors. It is the simplest
canceller and the slowest to converge on speech (its step ignores the colour
of the reference); it is here as the baseline against which the
frequency-domain filters are measured.

Computation. ``S`` is a Toeplitz matrix, so both products are
convolutions: the output :math:`S \mathbf h` is a partitioned overlap-save
convolution of the reference with the taps (cut into ``P = ceil(L / N)``
partitions of ``N``, :mod:`echoless.conv.partitioned`), and the gradient
:math:`S^\top \mathbf e` is, per partition ``p``, the first ``N`` lags of the
circular correlation :math:`\mathrm{IFFT}(X_p^* E)`, with
:math:`E = \mathrm{FFT}_{2N}[0_N, \mathbf e]`. Per frame that is two batched
FFTs of the ``P`` partitions (taps to spectra, gradient back to lags) instead
of ``2 N L`` multiply-adds; the filter itself and its update stay in the time
domain, exactly as written above (to rounding).
"""

from __future__ import annotations

import numpy as np

from echoless._fft import irfft_into, rfft_into
from echoless._validation import check_positive_float
from echoless.aec._partitioned import predict_echo
from echoless.aec.base import NUMERICAL_FLOOR, StreamingCanceller
from echoless.conv.partitioned import FrequencyDomainDelayLine

#: Regulariser of the normalisation: a power per sample this many dB below the far end's running
#: level, so that a quiet stretch of reference (a fade, a pause's tail) cannot make huge steps.
REGULARISATION_DB = 30.0


class NLMS(StreamingCanceller):
    """Block normalised LMS in the time domain.

    Parameters
    ----------
    sample_rate, frame_size, filter_length, filter_ms
        See :class:`~echoless.aec.base.StreamingCanceller`.
    step_size : float
        :math:`\\mu`, stable for ``0 < step_size < 2``.
    **options
        ``delay``, ``postfilter``, ``adapt``, ``initial_filter``,
        ``divergence_ratio`` of the base class.

    Examples
    --------
    >>> import numpy as np
    >>> from echoless.aec import NLMS
    >>> NLMS(frame_size=160, filter_length=512).process(np.zeros(160), np.zeros(160)).shape
    (160,)
    """

    def __init__(
        self,
        sample_rate: int = 16000,
        frame_size: int = 160,
        filter_length: int | None = None,
        filter_ms: float | None = None,
        *,
        step_size: float = 0.5,
        **options,
    ) -> None:
        self.step_size = check_positive_float(step_size, "step_size", allow_zero=True)
        super().__init__(sample_rate, frame_size, filter_length, filter_ms, **options)

    def _init_filter(self) -> None:
        length, size = self.filter_length, self.frame_size
        n_partitions = -(-length // size)
        self._taps = np.zeros(n_partitions * size)  # zero-padded to whole partitions; the filter is [:L]
        self._tap_rows = self._taps.reshape(n_partitions, size)  # a view: one partition per row
        self._partitions = np.zeros((n_partitions, 2 * size))  # each partition zero-padded to 2N
        self._spectra = FrequencyDomainDelayLine(size, n_partitions)
        self._history = np.zeros(length)  # the last L reference samples, oldest first
        self._tap_spectra = np.empty((n_partitions, size + 1), dtype=np.complex128)
        self._correlation = np.empty((n_partitions, size + 1), dtype=np.complex128)
        self._echo_estimate = np.empty(size)
        self._error = np.empty(size)
        self._error_spectrum = np.empty(size + 1, dtype=np.complex128)
        self._lags = np.empty((n_partitions, 2 * size))

    def _step(self, mic: np.ndarray, ref: np.ndarray) -> np.ndarray:
        history, size = self._history, self.frame_size
        kept = len(history) - size
        if kept > 0:
            history[:kept] = history[size:]
            history[kept:] = ref
        else:
            history[:] = ref[-len(history) :]
        self._spectra.push(ref)
        spectra = self._spectra.spectra
        # S h: partitioned convolution with the current taps
        self._partitions[:, :size] = self._tap_rows
        rfft_into(self._partitions, self._tap_spectra)
        adapt = self._adapting and self.step_size > 0
        echo_estimate = self._echo_estimate
        predict_echo(spectra, self._tap_spectra, mic, echo_estimate, self._error, self._error_spectrum, adapt)
        if adapt:
            # S^T e: first N lags of each partition's circular correlation with the error
            correlation = np.multiply(np.conj(spectra, out=self._correlation), self._error_spectrum, out=self._correlation)
            gradient = irfft_into(correlation, self._lags)[:, :size]
            # sum over the frame of ||s_t||^2 ~ N times the window energy
            regularisation = self._levels[1] * 10.0 ** (-REGULARISATION_DB / 10) + NUMERICAL_FLOOR
            energy = size * float(np.dot(history, history)) + size * self.filter_length * regularisation
            gradient *= self.step_size / energy
            self._tap_rows += gradient
            self._taps[self.filter_length :] = 0.0  # the padding is no filter tap
        return echo_estimate

    def _filter_taps(self) -> np.ndarray:
        return self._taps[: self.filter_length].copy()

    def _load_filter(self, taps: np.ndarray) -> None:
        self._taps[:] = 0.0
        self._taps[: len(taps)] = taps
