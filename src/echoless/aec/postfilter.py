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

:math:`\gamma^2` being the magnitude-squared coherence, and the gain is

.. math:: G(k) = \max\big(G_{\min},\ 1 - \beta\,\gamma^2(k)\big),
          \qquad G_{\min} = 10^{-\beta \cdot 30 / 20},

with ``strength`` :math:`\beta` the one knob (1: Wiener gain, floor -30 dB).
A canceller that knows its own residual-echo spectrum (the Kalman filter:
:math:`\tfrac{R}{M}\sum_p \Phi_p |X_p|^2`, from its state uncertainty)
passes it in, and :math:`\gamma^2` becomes
:math:`\max(\gamma^2, \hat\Phi_{rr}^{\text{model}} / \Phi_{oo})`: large while the
filter is still uncertain (the first seconds, after a path change), small
once it has converged, so double talk is spared.

Trade-off: more strength removes more residual echo (higher ERLE, a real gain
in the first seconds and after path changes), but in double talk the near end
shares bins with the echo, so its spectrum is attenuated too (lower near-end
SI-SNR). The suppressor adds one frame of latency.
"""

from __future__ import annotations

import numpy as np

from echoless._fft import irfft_into, rfft_into
from echoless._validation import check_positive_float, check_positive_int

#: Forgetting factor of the spectral estimates (about 10 frames: fewer bias the coherence of
#: unrelated signals upwards, which would attenuate the near end in double talk).
SMOOTHING = 0.9
#: Suppression floor, dB, at strength 1.
FLOOR_DB = -30.0


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
        self._spectra = np.empty((2, size + 1), dtype=np.complex128)
        self._frame = np.empty(2 * size)
        self._synthesis = np.empty(2 * size)
        self.reset()

    def reset(self) -> None:
        """Forget the signal history and the spectral estimates."""
        self._buffers[:] = 0.0
        self._tail = np.zeros(self.frame_size)
        self._output_power = np.zeros(self.frame_size + 1)
        self._echo_power = np.zeros(self.frame_size + 1)
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
            The enhanced output, one frame late.
        """
        size = self.frame_size
        buffers = self._buffers
        buffers[:, :size] = buffers[:, size:]
        buffers[0, size:] = output
        buffers[1, size:] = echo_estimate
        spectra = self._spectra
        for row in range(2):
            rfft_into(np.multiply(buffers[row], self._window, out=self._frame), spectra[row])
        out_spectrum, echo_spectrum = spectra
        a = SMOOTHING
        self._output_power *= a
        self._output_power += (1 - a) * (out_spectrum.real**2 + out_spectrum.imag**2)
        self._echo_power *= a
        self._echo_power += (1 - a) * (echo_spectrum.real**2 + echo_spectrum.imag**2)
        self._cross *= a
        self._cross += (1 - a) * out_spectrum * np.conj(echo_spectrum)
        coherence = (self._cross.real**2 + self._cross.imag**2) / (self._output_power * self._echo_power + 1e-30)
        if residual_power is not None:
            self._residual *= a
            self._residual += (1 - a) * residual_power
            coherence = np.maximum(coherence, self._residual / (self._output_power + 1e-30))
        gain = np.maximum(self.floor, 1.0 - self.strength * np.minimum(coherence, 1.0))
        out_spectrum *= gain
        synthesis = irfft_into(out_spectrum, self._synthesis)
        synthesis *= self._window
        result = synthesis[:size] + self._tail
        self._tail[:] = synthesis[size:]
        return result
