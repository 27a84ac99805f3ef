r"""Time-domain normalised LMS, one block update per frame.

With :math:`\mathbf s_t = [s_t, s_{t-1}, \dots, s_{t-L+1}]` the last ``L``
reference samples, the echo estimate is :math:`\hat e_t = \mathbf h^\top \mathbf s_t`
and NLMS minimises the a priori error :math:`e_t = y_t - \hat e_t` by

.. math:: \mathbf h \leftarrow \mathbf h + \frac{\mu}{\|\mathbf s\|^2 + \delta}\, e_t\, \mathbf s_t .

Here the filter is held fixed during a frame of ``N`` samples and updated
once with the frame's averaged gradient (block NLMS):
:math:`\mathbf h \leftarrow \mathbf h + \mu\, S^\top \mathbf e / (N \|\mathbf s\|^2 + \delta)`,
``S`` being the ``(N, L)`` matrix of reference vectors. Output and gradient
are two matrix products over a strided view of the reference history, with
no Python loop over samples. It is the simplest canceller and the slowest to
converge on speech (its step ignores the colour of the reference); it is here
as the baseline against which the frequency-domain filters are measured.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from echoless._validation import check_positive_float
from echoless.aec.base import StreamingCanceller

#: Regulariser of the normalisation, as a power per sample (-80 dBFS).
POWER_FLOOR = 1e-8


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
        self._taps = np.zeros(length)
        # history[j] = reference sample (j - length + 1) relative to the frame start, oldest first
        self._history = np.zeros(length - 1 + size)
        # rows: reference vectors, newest sample first, one per output sample
        self._vectors = sliding_window_view(self._history, length)[:, ::-1]
        self._echo = np.empty(size)

    def _step(self, mic: np.ndarray, ref: np.ndarray) -> np.ndarray:
        history, size = self._history, self.frame_size
        history[:-size] = history[size:]
        history[-size:] = ref
        echo_estimate = np.matmul(self._vectors, self._taps, out=self._echo)
        if self.adapt and self.step_size > 0:
            error = mic - echo_estimate
            # sum over the frame of ||s_t||^2 ~ N times the window energy
            energy = size * float(np.dot(history[size - 1 :], history[size - 1 :])) + size * self.filter_length * POWER_FLOOR
            self._taps += (self.step_size / energy) * (error @ self._vectors)
        return echo_estimate

    def _filter_taps(self) -> np.ndarray:
        return self._taps.copy()

    def _load_filter(self, taps: np.ndarray) -> None:
        self._taps[:] = 0.0
        self._taps[: len(taps)] = taps
