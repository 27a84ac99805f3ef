r"""Residual-echo suppressor: a spectral Wiener-type gain driven by the linear echo estimate.

A linear canceller leaves residual echo: while it converges, after an
echo-path change, from a loudspeaker nonlinearity or a reverberation tail
longer than the filter. The residual is still *correlated* with the linear
echo estimate :math:`\hat e`, while the near end is not. In the short-time
spectrum (window ``2 * frame_size``, hop ``frame_size``, square-root Hann
analysis and synthesis), with recursively smoothed auto- and cross-spectra
:math:`\Phi_{oo}, \Phi_{\hat e\hat e}, \Phi_{o\hat e}` of the canceller output
:math:`o` and of :math:`\hat e`, the residual echo power in bin ``k`` is the
power of :math:`o` that :math:`\hat e` predicts linearly,

.. math:: \hat\Phi_{rr}(k) = \frac{|\Phi_{o\hat e}(k)|^2}{\Phi_{\hat e\hat e}(k)}
          = \gamma^2(k)\, \Phi_{oo}(k),

:math:`\gamma^2` being the magnitude-squared coherence. Estimated from about
ten frames, the coherence of *unrelated* signals is biased upwards (its mean
is :math:`(1-a)/(1+a) \approx 0.05` for forgetting factor :math:`a = 0.9`,
with a long tail): taken at face value it attenuates the near end in double
talk by a few dB for no echo removed. So only the part above a detection
threshold :math:`\gamma_0^2 = 0.3` counts (for stationary unrelated signals,
about 19 effective averages, it is exceeded with probability
:math:`0.7^{18} \approx 0.2\,\%`):

.. math:: c(k) = \max\Big(0,\ \frac{\gamma^2(k) - \gamma_0^2}{1 - \gamma_0^2}\Big),
          \qquad G(k) = \max\big(G_{\min},\ 1 - \beta\,\min(c(k), 1)\big),
          \qquad G_{\min} = 10^{-\beta \cdot 30 / 20},

with ``strength`` :math:`\beta` the one knob (1: Wiener gain, floor -30 dB).
A canceller that knows its own residual-echo spectrum (the Kalman filter:
:math:`\tfrac{R}{M}\sum_p \Phi_p |X_p|^2`, from its state uncertainty and the
current reference spectra) passes it in, and :math:`c` becomes
:math:`\max(c, \hat\Phi_{rr}^{\text{model}} / \Phi_{oo})`: large while the
filter is still uncertain (the first seconds, after a path change), small
once it has converged, so double talk is spared; zero once the reference has
been silent for a filter length, so a lone near-end talker passes unchanged.

Trade-off: more strength removes more residual echo (higher ERLE, a real gain
in the first seconds and after path changes), but in double talk the near end
shares bins with the echo, so its spectrum is attenuated too (lower near-end
SI-SNR). The suppressor adds one frame of latency. Measured with PFDKF on the
eight scenes of ``benchmarks/bench_aec.py`` (medians, dB; strength 0 is no
postfilter; SDR as in :func:`echoless.metrics.sdr`):

========  ====  ===============  =============  ======  ======
strength  ERLE  ERLE last 3 s    DT SI-SNR      DT SDR  NE SDR
========  ====  ===============  =============  ======  ======
0         15.0  27.8             19.9           20.0    43.5
0.5       20.6  32.8             20.2           20.3    42.8
1         34.0  39.0             19.1           19.4    39.2
1.5       37.3  41.5             17.6           18.1    37.4
2         39.4  45.0             16.1           16.8    35.9
========  ====  ===============  =============  ======  ======
"""

from __future__ import annotations

import numpy as np

from echoless._fft import irfft_into, power_into, rfft_into
from echoless._validation import check_frame, check_positive_float, check_positive_int

#: Forgetting factor of the spectral estimates (about 10 frames: fewer bias the coherence of
#: unrelated signals upwards, which would attenuate the near end in double talk).
SMOOTHING = 0.9
#: Suppression floor, dB, at strength 1.
FLOOR_DB = -30.0
#: Coherence below which output and echo estimate count as unrelated (see the module notes).
COHERENCE_THRESHOLD = 0.3


class ResidualEchoSuppressor:
    """Spectral postfilter for the output of a linear echo canceller.

    Parameters
    ----------
    frame_size : int
        Samples per frame (hop); the analysis window is twice as long.
    strength : float
        :math:`\\beta > 0`: overestimation of the residual echo and depth of
        the floor (see the module notes). 1 is a Wiener gain.

    Examples
    --------
    >>> import numpy as np
    >>> suppressor = ResidualEchoSuppressor(160, strength=1.0)
    >>> suppressor.process(np.zeros(160), np.zeros(160)).shape
    (160,)
    """

    def __init__(self, frame_size: int, strength: float = 1.0) -> None:
        self.frame_size = check_positive_int(frame_size, "frame_size")
        self.strength = check_positive_float(strength, "strength")
        self.floor = 10.0 ** (self.strength * FLOOR_DB / 20.0)
        size = self.frame_size
        self._window = np.sqrt(0.5 - 0.5 * np.cos(2 * np.pi * np.arange(2 * size) / (2 * size)))
        self._buffers = np.zeros((2, 2 * size))  # analysis windows of output and echo estimate
        self._frames = np.empty((2, 2 * size))
        self._spectra = np.empty((2, size + 1), dtype=np.complex128)
        self._synthesis = np.empty(2 * size)
        # scratch for the per-bin arithmetic: every operation writes into one of these
        self._new_powers = np.empty((2, size + 1))
        self._scratch = np.empty((2, size + 1))
        self._new_cross = np.empty(size + 1, dtype=np.complex128)
        self._conjugate = np.empty(size + 1, dtype=np.complex128)
        self._coherence = np.empty(size + 1)
        self.reset()

    def reset(self) -> None:
        """Forget the signal history and the spectral estimates."""
        self._buffers[:] = 0.0
        self._tail = np.zeros(self.frame_size)
        self._powers = np.zeros((2, self.frame_size + 1))  # smoothed |O|^2 and |E_hat|^2
        self._cross = np.zeros(self.frame_size + 1, dtype=np.complex128)
        self._residual = np.zeros(self.frame_size + 1)

    def process(
        self, output: np.ndarray, echo_estimate: np.ndarray, residual_power: np.ndarray | None = None
    ) -> np.ndarray:
        """Suppress the residual echo in one frame.

        Parameters
        ----------
        output : numpy.ndarray, shape (frame_size,)
            Linear canceller output (near end + residual echo).
        echo_estimate : numpy.ndarray, shape (frame_size,)
            The canceller's echo estimate for the same frame.
        residual_power : numpy.ndarray, shape (frame_size + 1,), optional
            The canceller's own prediction of the residual-echo power per bin
            (a Kalman filter knows it from its state uncertainty), on the scale
            of ``|FFT_2N([0, output])|^2``; used when it exceeds the coherent part.

        Returns
        -------
        numpy.ndarray, shape (frame_size,)
            The enhanced output, one frame late (a new array).
        """
        output = check_frame(output, self.frame_size, "output")
        echo_estimate = check_frame(echo_estimate, self.frame_size, "echo_estimate")
        if residual_power is not None:
            residual_power = check_frame(residual_power, self.frame_size + 1, "residual_power", "frame_size + 1")
        return self._process(output, echo_estimate, residual_power)

    def _process(
        self, output: np.ndarray, echo_estimate: np.ndarray, residual_power: np.ndarray | None
    ) -> np.ndarray:
        """:meth:`process` without the argument checks, for a canceller that made the frames itself."""
        size = self.frame_size
        buffers = self._buffers
        buffers[:, :size] = buffers[:, size:]
        buffers[0, size:] = output
        buffers[1, size:] = echo_estimate
        # both windowed frames in one multiply and one batched FFT
        spectra = rfft_into(np.multiply(buffers, self._window, out=self._frames), self._spectra)
        self._smooth(spectra, residual_power)
        out_spectrum = spectra[0]
        out_spectrum *= self._gain(residual_power is not None)
        synthesis = irfft_into(out_spectrum, self._synthesis)
        synthesis *= self._window
        result = synthesis[:size] + self._tail
        self._tail[:] = synthesis[size:]
        return result

    def _smooth(self, spectra: np.ndarray, residual_power: np.ndarray | None) -> None:
        """Recursive averages of the auto- and cross-spectra and of the model residual power."""
        a = SMOOTHING
        powers = power_into(spectra, self._new_powers, self._scratch)  # output and echo rows at once
        powers *= 1 - a
        self._powers *= a
        self._powers += powers
        cross = np.multiply(spectra[0], 1 - a, out=self._new_cross)
        cross *= np.conj(spectra[1], out=self._conjugate)
        self._cross *= a
        self._cross += cross
        if residual_power is not None:
            self._residual *= a
            self._residual += np.multiply(residual_power, 1 - a, out=self._scratch[0])

    def _gain(self, with_residual: bool) -> np.ndarray:
        """Suppression gain per bin from the smoothed statistics (see the module notes)."""
        output_power, echo_power = self._powers
        coherence = power_into(self._cross, self._coherence, self._scratch[0])
        denominator = np.multiply(output_power, echo_power, out=self._scratch[0])
        denominator += 1e-30
        coherence /= denominator
        # c = max(0, (coherence - threshold) / (1 - threshold)): only coherence above chance counts
        coherence -= COHERENCE_THRESHOLD
        coherence *= 1.0 / (1.0 - COHERENCE_THRESHOLD)
        np.maximum(coherence, 0.0, out=coherence)
        if with_residual:
            ratio = np.add(output_power, 1e-30, out=self._scratch[0])
            np.divide(self._residual, ratio, out=ratio)
            np.maximum(coherence, ratio, out=coherence)
        # max(floor, 1 - strength * min(c, 1)), in place
        np.minimum(coherence, 1.0, out=coherence)
        coherence *= -self.strength
        coherence += 1.0
        return np.maximum(coherence, self.floor, out=coherence)
