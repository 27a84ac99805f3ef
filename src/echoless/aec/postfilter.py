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

from echoless._jit import kernel
from echoless._frames import all_finite, check_frame
from echoless._validation import check_positive_float, check_positive_int
from echoless.aec.base import NUMERICAL_FLOOR

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
        self._no_residual = np.empty(0)
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
        return self._process(output, echo_estimate, residual_power)[0]

    def _process(
        self, output: np.ndarray, echo_estimate: np.ndarray, residual_power: np.ndarray | None
    ) -> tuple[np.ndarray, bool]:
        """:meth:`process` without the argument checks, for a canceller that made the frames itself.

        Also returns whether the frame is finite (False when the spectra
        overflowed, for inputs near 1e150: the caller then resets).
        """
        result = np.empty(self.frame_size)
        finite = suppress_frame(
            output,
            echo_estimate,
            self._no_residual if residual_power is None else residual_power,
            residual_power is not None,
            self._window,
            self._buffers,
            self._powers,
            self._cross,
            self._residual,
            self._tail,
            self.strength,
            self.floor,
            result,
        )
        return result, finite


@kernel
def suppress_frame(
    output, echo_estimate, residual_power, use_residual, window, buffers, powers, cross, residual, tail, strength,
    floor, result,
):  # pragma: no cover - compiled
    """One frame of the suppressor (see the module notes); ``result`` (B,) receives the output.

    Returns whether ``result`` is finite.

    State, updated in place: ``buffers`` (2, 2B) the analysis windows of output
    and echo estimate; ``powers`` (2, B + 1) and ``cross`` (B + 1,) the smoothed
    auto- and cross-spectra; ``residual`` (B + 1,) the smoothed model residual
    power (read only if ``use_residual``); ``tail`` (B,) the overlap-add tail.
    """
    size = output.shape[0]
    a = SMOOTHING
    buffers[:, :size] = buffers[:, size:]
    buffers[0, size:] = output
    buffers[1, size:] = echo_estimate
    out_spectrum = np.fft.rfft(buffers[0] * window)
    echo_spectrum = np.fft.rfft(buffers[1] * window)
    for k in range(size + 1):
        out_bin, echo_bin = out_spectrum[k], echo_spectrum[k]
        powers[0, k] = a * powers[0, k] + (1 - a) * (out_bin.real**2 + out_bin.imag**2)
        powers[1, k] = a * powers[1, k] + (1 - a) * (echo_bin.real**2 + echo_bin.imag**2)
        cross[k] = a * cross[k] + (1 - a) * out_bin * np.conj(echo_bin)
        coherence = (cross[k].real ** 2 + cross[k].imag ** 2) / (powers[0, k] * powers[1, k] + NUMERICAL_FLOOR)
        # c = max(0, (coherence - threshold) / (1 - threshold)): only coherence above chance counts
        share = max(0.0, (coherence - COHERENCE_THRESHOLD) / (1.0 - COHERENCE_THRESHOLD))
        if use_residual:
            residual[k] = a * residual[k] + (1 - a) * residual_power[k]
            share = max(share, residual[k] / (powers[0, k] + NUMERICAL_FLOOR))
        out_spectrum[k] = out_bin * max(floor, 1.0 - strength * min(share, 1.0))
    synthesis = np.fft.irfft(out_spectrum, 2 * size) * window
    result[:] = synthesis[:size] + tail
    tail[:] = synthesis[size:]
    return all_finite(result)
