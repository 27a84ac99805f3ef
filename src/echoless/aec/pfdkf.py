r"""Partitioned frequency-domain Kalman filter (Enzner & Vary state-space echo canceller).

The echo path is a hidden state that drifts: per partition ``p`` and bin ``k``,

.. math:: W_p^{(l+1)}(k) = A\, W_p^{(l)}(k) + \Delta W_p^{(l)}(k),\qquad
          E\,|\Delta W_p(k)|^2 = \Psi_\Delta(k) = (1 - A^2)\,|W_p(k)|^2,

observed through the microphone, :math:`Y = \sum_p X_p W_p + S` with
:math:`S` the near-end signal and noise (power :math:`\Psi_s`). With the
frequency-domain diagonal approximation the Kalman filter decouples into
scalar filters per bin (Enzner & Vary, "Frequency-domain adaptive Kalman
filter for acoustic echo control in hands-free telephones", Signal
Processing 2006; Kuech, Mabande & Enzner, "State-space architecture of the
partitioned-block-based acoustic echo controller", ICASSP 2014):

.. math::
   D(k) &= \sum_p |X_p(k)|^2 \Phi_p(k) + \tfrac{M}{R}\,\Psi_s(k), \qquad
   \mu_p(k) = \Phi_p(k) / D(k) \\
   W_p &\leftarrow W_p + \mu_p X_p^* E \quad\text{(then the gradient constraint)} \\
   \Phi_p &\leftarrow A^2 \big[1 - \tfrac{R}{M}\,\mu_p |X_p|^2\big]\Phi_p + (1 - A^2)\,|W_p|^2 ,

where :math:`\Phi_p(k)` is the state-error covariance (the uncertainty of
each weight), ``M/R = 2`` the FFT-size to frame-shift ratio, and
:math:`\Psi_s` is estimated by smoothing :math:`|E|^2`. The Kalman gain
:math:`\mu_p` is a per-bin, per-partition step size that is large while the
weights are uncertain and the error is echo, and small when the error is
dominated by the near end (large :math:`\Psi_s`): double talk needs no
separate detector, and after an echo-path change the error grows, the
process noise keeps :math:`\Phi` from collapsing, and the filter re-converges.
``transition`` is :math:`A`: closer to 1 trusts the current estimate more
(steadier in double talk, slower to track changes). Unlike the textbook
model the weights themselves are not multiplied by :math:`A` (a random walk,
:math:`A = 1` in the mean): that leak would bias the estimate towards zero,
while :math:`A` in the covariance alone sets how fast uncertainty regrows.
"""

from __future__ import annotations

import numpy as np

from echoless._jit import kernel
from echoless._validation import check_positive_float
from echoless.aec._partitioned import PartitionedCanceller, constrain_rows, predict_echo
from echoless.aec.base import watch_frame
from echoless.conv.partitioned import push_window

#: Floor of the observation-noise PSD, this many dB below the input's running level.
NOISE_FLOOR_DB = 80.0


class PFDKF(PartitionedCanceller):
    """Partitioned-block frequency-domain Kalman filter.

    Parameters
    ----------
    sample_rate, frame_size, filter_length, filter_ms
        See :class:`~echoless.aec.base.StreamingCanceller`. ``frame_size`` is
        also the partition size; ``filter_length`` is rounded up to a multiple.
    transition : float
        State transition factor :math:`A` in (0, 1].
    initial_uncertainty : float
        Initial state-error covariance :math:`\\Phi` per weight (relative to a
        unit-gain echo path); larger converges faster at the start.
    noise_smoothing : float
        Forgetting factor in [0, 1) of the observation-noise PSD estimate.
    constraint, **options
        As for :class:`~echoless.aec.pbfdaf.PBFDAF`.

    Examples
    --------
    >>> import numpy as np
    >>> from echoless.aec import PFDKF
    >>> canceller = PFDKF(sample_rate=16000, frame_size=160, filter_length=800)
    >>> canceller.process(np.zeros(160), np.zeros(160)).shape
    (160,)
    """

    def __init__(
        self,
        sample_rate: int = 16000,
        frame_size: int = 160,
        filter_length: int | None = None,
        filter_ms: float | None = None,
        *,
        transition: float = 0.999,
        initial_uncertainty: float = 10.0,
        noise_smoothing: float = 0.5,
        constraint: str = "alternating",
        **options,
    ) -> None:
        self.transition = check_positive_float(transition, "transition")
        if self.transition > 1.0:
            raise ValueError(f"transition must be in (0, 1], got {transition}")
        self.initial_uncertainty = check_positive_float(initial_uncertainty, "initial_uncertainty")
        self.noise_smoothing = check_positive_float(noise_smoothing, "noise_smoothing", allow_zero=True)
        if self.noise_smoothing >= 1.0:
            raise ValueError(f"noise_smoothing must be in [0, 1), got {noise_smoothing}")
        super().__init__(sample_rate, frame_size, filter_length, filter_ms, constraint=constraint, **options)
        # the observation-noise floor per bin, as a multiple of the running level
        self._noise_floor_share = 2 * self.frame_size * 10.0 ** (-NOISE_FLOOR_DB / 10)

    def _init_update(self) -> None:
        shape = self._weights.shape
        self._uncertainty = np.repeat(self._prior_uncertainty(shape[0])[:, None], shape[1], axis=1)
        self._noise = np.zeros(shape[1])
        self._residual = np.zeros(shape[1])
        self._no_rows = np.empty(0, dtype=np.int64)

    def _prior_uncertainty(self, n_partitions: int) -> np.ndarray:
        """Initial :math:`\\Phi_p` of each of ``n_partitions`` partitions, shape (P,)."""
        # a unit-gain path spread over the taps: each weight spectrum has E|W|^2 ~ 1 / P
        # room-like prior: the echo-path energy decays ~20 dB from the first partition to the last
        prior = np.exp(-4.8 * np.arange(n_partitions) / n_partitions)
        return self.initial_uncertainty * prior / prior.sum()

    def _residual_power(self) -> np.ndarray | None:
        return self._residual if self.adapt else None

    def _cancel(self, mic: np.ndarray, ref: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        # the base class's linear stage (push, predict, Kalman step, constraint, safety watch)
        # in one compiled call: between numpy calls, Python overhead would cost as much again
        out = np.empty(self.frame_size)
        safe = kalman_canceller_frame(
            *self._spectra.advance(),
            mic,
            ref,
            self._weights,
            self._uncertainty,
            self._noise,
            self._residual,
            self._echo_estimate,
            self._error_spectrum,
            self._constraint_rows() if self._adapting else self._no_rows,
            (self.transition**2, self.noise_smoothing, self._noise_floor_share * self._level),
            out,
            self._watch,
            self._watch_settings,
        )
        if safe:
            return out, self._echo_estimate, self._residual_power()
        self._on_unsafe()
        return out, self._silence, None


@kernel
def kalman_canceller_frame(
    window, buffer, powers, head, mic, ref, weights, uncertainty, noise, residual, echo_estimate, error_spectrum, rows,
    kalman_settings, out, watch, watch_settings,
):  # pragma: no cover - compiled
    """:func:`push_window` of ``ref``, :func:`kalman_frame`, then :func:`watch_frame` into ``out``; True if safe."""
    n_partitions = buffer.shape[0] // 2
    push_window(window, ref, buffer, powers, head)
    spectra = buffer[head : head + n_partitions]
    a2, smoothing, noise_floor = kalman_settings
    kalman_frame(
        spectra, powers[head : head + n_partitions], mic, weights, uncertainty, noise, residual, echo_estimate,
        error_spectrum, rows, a2, smoothing, noise_floor,
    )  # fmt: skip
    ratio, floor, watch_frames, watch_smoothing = watch_settings
    return watch_frame(mic, echo_estimate, out, watch, ratio, floor, watch_frames, watch_smoothing)


@kernel
def kalman_frame(
    spectra, powers, mic, weights, uncertainty, noise, residual, echo_estimate, error_spectrum, rows, a2, smoothing,
    noise_floor,
):  # pragma: no cover - compiled
    """One PFDKF frame: predict the echo into ``echo_estimate`` (B,); unless ``rows`` is empty
    (not adapting), one Kalman step and the gradient constraint of those partitions."""
    adapt = len(rows) > 0
    size = mic.shape[0]
    error = np.empty(size)
    predict_echo(spectra, weights, mic, echo_estimate, error, error_spectrum, adapt)
    if adapt:
        kalman_update(spectra, powers, error_spectrum, weights, uncertainty, noise, residual, a2, smoothing, noise_floor)
        constrain_rows(weights, rows)


@kernel
def kalman_update(
    spectra, powers, error_spectrum, weights, uncertainty, noise, residual, a2, smoothing, noise_floor
):  # pragma: no cover - compiled
    """One Kalman step (see the module notes), in place, in two passes over the partitions.

    Reads ``spectra`` :math:`X_p` and ``powers`` :math:`|X_p|^2` (P, K) and
    ``error_spectrum`` :math:`E` (K,); updates ``weights`` :math:`W_p`,
    ``uncertainty`` :math:`\\Phi_p` (P, K) and ``noise`` :math:`\\Psi_s`
    (K,); writes ``residual`` (K,), the expected residual-echo power in
    :math:`E`, :math:`\\tfrac12 \\sum_p \\Phi_p |X_p|^2`. ``a2`` is :math:`A^2`.
    """
    n_partitions, n_bins = weights.shape
    residual[:] = 0.0
    for p in range(n_partitions):
        for k in range(n_bins):
            residual[k] += uncertainty[p, k] * powers[p, k]
    inverse, scaled_error = observation_step(error_spectrum, noise, residual, smoothing, noise_floor)
    for p in range(n_partitions):
        for k in range(n_bins):
            phi = uncertainty[p, k]
            # W_p += mu_p X_p^* E with mu_p = Phi_p / D
            weight = weights[p, k] + np.conj(spectra[p, k]) * scaled_error[k] * phi
            weights[p, k] = weight
            # Phi <- A^2 (1 - mu |X|^2 / 2) Phi + (1 - A^2) |W|^2
            phi *= a2 - 0.5 * a2 * phi * powers[p, k] * inverse[k]
            uncertainty[p, k] = phi + (1.0 - a2) * (weight.real**2 + weight.imag**2)


@kernel
def observation_step(error_spectrum, noise, residual, smoothing, noise_floor):  # pragma: no cover - compiled
    """The Kalman step's per-bin scalars, shared by every reference path of a bin.

    Updates ``noise`` :math:`\\Psi_s` (K,) from ``error_spectrum`` :math:`E`;
    ``residual`` (K,) holds :math:`\\sum_p \\Phi_p |X_p|^2` on entry and half
    of it on return. Returns ``inverse`` :math:`1/D` and ``scaled_error``
    :math:`E/D` (K,).
    """
    n_bins = error_spectrum.shape[0]
    inverse = np.empty(n_bins)
    scaled_error = np.empty(n_bins, dtype=np.complex128)
    for k in range(n_bins):
        error_power = error_spectrum[k].real ** 2 + error_spectrum[k].imag ** 2
        noise[k] = smoothing * noise[k] + (1.0 - smoothing) * error_power
        # D = sum_p Phi_p |X_p|^2 + (M / R) Psi_s, floored
        inverse[k] = 1.0 / (residual[k] + 2.0 * noise[k] + noise_floor)
        residual[k] *= 0.5
        scaled_error[k] = error_spectrum[k] * inverse[k]
    return inverse, scaled_error
