r"""Partitioned-block frequency-domain adaptive filter (multi-delay filter, as in Speex MDF).

On the partitioned filter of :mod:`echoless.aec._partitioned` (prediction
:math:`\hat E = \sum_p W_p X_p`, error spectrum :math:`E`), each frame applies
the normalised gradient step, per frequency bin :math:`k`,

.. math:: W_p(k) \leftarrow W_p(k) + \frac{\mu(k)\, \pi_p}{\sum_q |X_q(k)|^2 + \delta}\, X_p^*(k)\, E(k),

then the gradient constraint. :math:`\sum_q |X_q(k)|^2` is the energy of the
whole filter input in that bin (per-bin NLMS normalisation, summed each
frame over the powers the delay line keeps, so a speech onset never meets a
stale, small normaliser); :math:`\delta` keeps silent bins from dividing by zero (a
-60 dBFS floor); :math:`\pi_p` (mean 1) shares the step between partitions.

Step size. A fixed :math:`\mu` is either slow or wrecked by double talk.
The optimal NLMS step is the share of residual *echo* in the error,

.. math:: \mu_{\mathrm{opt}}(k) = \frac{E|r(k)|^2}{E|E(k)|^2},\qquad r = e_{\text{echo}} - \hat e,

small when the near end talks (the error is then mostly near-end speech, which
must not be learned) and large after an echo-path change. Following Valin's
analysis for Speex ("On adjusting the learning rate in frequency domain echo
cancellation with double-talk", 2007), the residual echo is modelled as a
fraction :math:`\eta` (the *leak*) of the echo estimate,
:math:`|r(k)|^2 \approx \eta |\hat E(k)|^2`, with :math:`\eta` the regression
slope of the error power on the echo-estimate power: their fluctuations
across bins and frames are correlated only through the residual echo. Then

.. math:: \mu(k) = \mu_{\max}\,\frac{0.7 \min(\eta|\hat E_k|^2, \tfrac12|E_k|^2) + 0.3\,\rho\,|E_k|^2}{|E_k|^2},
          \qquad \rho = \min\Big(\tfrac12, \frac{3\eta\,\|\hat e\|^2}{\|e\|^2}\Big).

Before the filter has learned anything (:math:`\hat E = 0`, so :math:`\eta` is
unknown) a scalar step :math:`\tfrac14 \min(\|s\|^2, \|e\|^2)/\|e\|^2` is used
until the accumulated steps reach ``P`` (one full pass of the filter).

The step is shared between partitions in proportion to their energy
(``proportionate``, as Speex does): the early, strong part of a room
response learns fastest. ``two_path`` keeps a separate output filter (see
the class notes). The residual echo :math:`\eta|\hat E(k)|^2` is also what
the postfilter is given as this filter's own residual-echo estimate.

``adaptive_step=False`` uses the constant ``step_size`` instead; with one
partition, ``two_path=False`` and ``constraint="full"`` the filter is then
exactly the textbook constrained FDAF (Shynk 1992; Haykin, *Adaptive Filter
Theory*, ch. 8).
"""

from __future__ import annotations

import numpy as np

from echoless._fft import irfft_into, power_into, rfft_into
from echoless._jit import kernel
from echoless._validation import check_positive_float
from echoless.aec._partitioned import PartitionedCanceller

#: Floor of the per-bin normalisation, as a far-end power per sample (-60 dBFS): a quieter
#: reference would turn the near end into huge, meaningless updates.
POWER_FLOOR = 1e-6
#: Smallest leak the estimator may report (Speex's MIN_LEAK).
MIN_LEAK = 0.005


class PBFDAF(PartitionedCanceller):
    """Partitioned-block frequency-domain adaptive filter (MDF).

    Parameters
    ----------
    sample_rate, frame_size, filter_length, filter_ms
        See :class:`~echoless.aec.base.StreamingCanceller`. ``frame_size`` is
        also the partition size; ``filter_length`` is rounded up to a multiple.
    step_size : float
        Largest step :math:`\\mu_{\\max}` (adaptive) or the constant step
        (``adaptive_step=False``); stable for ``0 < step_size < 2``.
    adaptive_step : bool
        Use the residual-echo-to-error step (default) or a constant one.
    proportionate : bool
        Share the step between partitions in proportion to their energy
        (exponentially decaying, room-like shares until the filter has learned).
    two_path : bool
        Keep a foreground filter for the output, replaced by the adapted
        (background) one only when that one is significantly better, and reset
        the background when it is much worse (Speex MDF): double talk that
        drags the adapted filter does not reach the output.
    constraint : {"alternating", "full"}
        Which partitions get the gradient constraint each frame.
    **options
        ``delay``, ``postfilter``, ``adapt``, ``initial_filter``,
        ``divergence_ratio`` of the base class.

    Examples
    --------
    >>> import numpy as np
    >>> from echoless.aec import PBFDAF
    >>> canceller = PBFDAF(sample_rate=16000, frame_size=160, filter_length=800)
    >>> out = canceller.process(np.zeros(160), np.zeros(160))
    >>> out.shape
    (160,)
    """

    def __init__(
        self,
        sample_rate: int = 16000,
        frame_size: int = 160,
        filter_length: int | None = None,
        filter_ms: float | None = None,
        *,
        step_size: float = 1.0,
        adaptive_step: bool = True,
        proportionate: bool = True,
        two_path: bool = True,
        constraint: str = "alternating",
        **options,
    ) -> None:
        self.step_size = check_positive_float(step_size, "step_size", allow_zero=True)
        self.adaptive_step = bool(adaptive_step)
        self.proportionate = bool(proportionate)
        self.two_path = bool(two_path)
        super().__init__(sample_rate, frame_size, filter_length, filter_ms, constraint=constraint, **options)

    def _init_update(self) -> None:
        bins, size = self.frame_size + 1, self.frame_size
        n_partitions = len(self._weights)
        self._constant_step = np.empty(bins)
        self._equal_shares = np.ones(n_partitions)
        self._norms = np.empty(n_partitions)
        self._floor = n_partitions * 2 * size * POWER_FLOOR
        self._error_power_mean = np.zeros(bins)
        self._echo_power_mean = np.zeros(bins)
        self._cross = 0.0  # smoothed sum over bins of error/echo power fluctuations
        self._echo_variance = 0.0
        self._spectral_smoothing = size / self.sample_rate
        self._echo_zero_padded = np.zeros(2 * size)
        self._echo_padded_spectrum = np.empty(bins, dtype=np.complex128)
        # before the filter has learned, a room-like prior: step decays 10x from first to last partition
        prior = np.exp(-2.4 * np.arange(n_partitions) / n_partitions)
        self._prior = prior * (n_partitions / prior.sum())
        self._residual = np.zeros(bins)
        self._learned = 0.0  # accumulated start-up steps
        self._adapted = False
        self._step_bins = np.empty(bins)
        self._echo_power = np.empty(bins)
        self._error_power = np.empty(bins)
        self._echo_change = np.empty(bins)
        self._error_change = np.empty(bins)
        self._scratch_bins = np.empty(bins)
        # two-path: the adapted (background) weights are self._weights; the output uses these
        self._foreground = self._weights.copy()
        self._foreground_window = np.empty(2 * size)
        self._difference_stats = np.zeros(4)  # short/long averages of the energy difference, and variances

    def _step(self, mic: np.ndarray, ref: np.ndarray) -> np.ndarray:
        background = super()._step(mic, ref)
        if not self.two_path:
            return background
        size = self.frame_size
        foreground = irfft_into(self._spectra.filter_spectrum(self._foreground), self._foreground_window)[size:]
        if self._choose_background(mic, background, foreground):
            self._foreground[:] = self._weights
            return background
        return foreground

    def _choose_background(self, mic: np.ndarray, background: np.ndarray, foreground: np.ndarray) -> bool:
        """Two-path decision (Speex MDF): copy the background filter to the output one when its
        error is significantly lower; reset the background to the foreground when it is much worse.

        "Significantly" compares the error-energy difference with its uncertainty
        ``S_ff * D_bf`` (foreground error energy times the energy of the
        difference of the two errors), instantaneously and smoothed over ~2 and ~6 frames.
        """
        fore_error = mic - foreground
        back_error = mic - background
        fore_energy = float(np.dot(fore_error, fore_error))
        gap = fore_energy - float(np.dot(back_error, back_error))
        spread = fore_energy * float(np.dot(fore_error - back_error, fore_error - back_error))
        stats = self._difference_stats  # short mean, short variance, long mean, long variance
        stats[0] = 0.6 * stats[0] + 0.4 * gap
        stats[1] = 0.36 * stats[1] + 0.16 * spread
        stats[2] = 0.85 * stats[2] + 0.15 * gap
        stats[3] = 0.7225 * stats[3] + 0.0225 * spread
        better = gap * abs(gap) > spread or stats[0] * abs(stats[0]) > 0.5 * stats[1] or stats[2] * abs(stats[2]) > 0.25 * stats[3]
        if better:
            stats[:] = 0.0
            return True
        worse = -gap * abs(gap) > 4 * spread or -stats[0] * abs(stats[0]) > 4 * stats[1] or -stats[2] * abs(stats[2]) > 4 * stats[3]
        if worse:
            self._weights[:] = self._foreground
            stats[:] = 0.0
        return False

    def _filter_taps(self) -> np.ndarray:
        return self._taps_of(self._foreground if self.two_path else self._weights)

    def _load_filter(self, taps: np.ndarray) -> None:
        super()._load_filter(taps)
        self._foreground[:] = self._weights

    def _update(self, spectra: np.ndarray, error_spectrum: np.ndarray, ref: np.ndarray) -> None:
        if self.adaptive_step:
            step = self._adaptive_step(error_spectrum, ref)
        else:
            step = self._constant_step
            step.fill(self.step_size)  # the attribute may have been changed since construction
        if self.proportionate:
            shares = self._proportions() if self._adapted else self._prior
        else:
            shares = self._equal_shares
        normalised_update(spectra, self._spectra.powers, error_spectrum, step, shares, self._weights, self._floor)

    def _residual_power(self) -> np.ndarray | None:
        return self._residual if self.adapt and self.adaptive_step else None

    def _proportions(self) -> np.ndarray:
        """Share of the step per partition, ``P`` times its share of the filter energy (floored)."""
        norms = row_norms(self._weights, self._norms)
        norms += 0.1 * norms.max() + 1e-30
        norms *= len(norms) / norms.sum()
        return norms

    def _adaptive_step(self, error_spectrum: np.ndarray, ref: np.ndarray) -> np.ndarray:
        """Step per bin from the residual-echo-to-error ratio (see the module notes)."""
        size = self.frame_size
        error, echo = self._error, self._echo_estimate
        error_energy = float(np.dot(error, error)) + size * 1e-10
        echo_energy = float(np.dot(echo, echo))
        ref_energy = float(np.dot(ref, ref))
        self._echo_zero_padded[size:] = echo
        echo_spectrum = rfft_into(self._echo_zero_padded, self._echo_padded_spectrum)
        echo_power = power_into(echo_spectrum, self._echo_power, self._scratch_bins)
        error_power = power_into(error_spectrum, self._error_power, self._scratch_bins)
        # leak = regression slope of error power on echo power (fluctuations around their means)
        error_change = np.subtract(error_power, self._error_power_mean, out=self._error_change)
        echo_change = np.subtract(echo_power, self._echo_power_mean, out=self._echo_change)
        self._error_power_mean += np.multiply(error_change, self._spectral_smoothing, out=self._scratch_bins)
        self._echo_power_mean += np.multiply(echo_change, self._spectral_smoothing, out=self._scratch_bins)
        # the regression is trusted faster when the echo estimate dominates the error
        rate = 2 * size / self.sample_rate * min(echo_energy, 0.5 * error_energy) / error_energy
        self._cross += rate * (float(np.dot(error_change, echo_change)) - self._cross)
        self._echo_variance += rate * (float(np.dot(echo_change, echo_change)) - self._echo_variance)
        variance = max(self._echo_variance, 1e-30)
        leak = min(max(self._cross / variance, MIN_LEAK), 1.0)
        np.multiply(echo_power, leak, out=self._residual)  # residual echo, for the postfilter
        if not self._adapted:
            start_rate = 0.25 * min(ref_energy, error_energy) / error_energy if ref_energy > size * 1e-6 else 0.0
            self._learned += start_rate
            self._adapted = self._learned > len(self._weights) and leak > 0.03
            self._step_bins.fill(self.step_size * start_rate)
            return self._step_bins
        correlation = float(np.dot(error, echo))
        # a product, not ** 2: Python's float power raises OverflowError where a product gives inf
        coherence = correlation * correlation / (error_energy * echo_energy) if echo_energy > size * 1e-10 else 0.0
        ratio = min(0.5, max(3.0 * leak * echo_energy / error_energy, coherence))
        # self._residual is leak * echo_power
        residual = np.minimum(self._residual, np.multiply(error_power, 0.5, out=self._scratch_bins), out=self._step_bins)
        residual *= 0.7
        residual += np.multiply(error_power, 0.3 * ratio, out=self._scratch_bins)
        residual *= self.step_size
        return np.divide(residual, np.add(error_power, self._floor / len(self._weights), out=self._scratch_bins), out=residual)


@kernel
def normalised_update(spectra, powers, error_spectrum, step, shares, weights, floor):  # pragma: no cover
    """``W_p += shares_p * step / (sum_q |X_q|^2 + floor) * X_p^* E``, in place (see the module notes).

    ``spectra`` and ``weights`` (P, K) complex, ``powers`` (P, K), ``error_spectrum``
    (K,), ``step`` (K,) per-bin step, ``shares`` (P,) step share per partition.
    """
    n_partitions, n_bins = weights.shape
    input_power = np.zeros(n_bins)
    for p in range(n_partitions):
        for k in range(n_bins):
            input_power[k] += powers[p, k]
    scaled_error = np.empty(n_bins, dtype=np.complex128)
    for k in range(n_bins):
        scaled_error[k] = step[k] / (input_power[k] + floor) * error_spectrum[k]
    for p in range(n_partitions):
        for k in range(n_bins):
            weights[p, k] += np.conj(spectra[p, k]) * scaled_error[k] * shares[p]


@kernel
def row_norms(weights, out):  # pragma: no cover - compiled
    """Euclidean norm of each row of ``weights`` (P, K) complex into ``out`` (P,); returns ``out``."""
    for p in range(weights.shape[0]):
        total = 0.0
        for k in range(weights.shape[1]):
            total += weights[p, k].real ** 2 + weights[p, k].imag ** 2
        out[p] = np.sqrt(total)
    return out
