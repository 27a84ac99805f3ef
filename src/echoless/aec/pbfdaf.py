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

from echoless._jit import kernel
from echoless._validation import check_positive_float
from echoless.aec._partitioned import PartitionedCanceller
from echoless.aec.base import NUMERICAL_FLOOR
from echoless.conv.partitioned import filter_output

#: Floor of the per-bin normalisation, a power per sample this many dB below the input's running
#: level: a quieter reference would turn the near end into huge, meaningless updates.
POWER_FLOOR_DB = 40.0
#: Energies this many dB below the running level count as nothing (guards of the step control).
NEGLIGIBLE_DB = 80.0
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
        self._shares = np.empty(n_partitions)
        self._error_power_mean = np.zeros(bins)
        self._echo_power_mean = np.zeros(bins)
        self._cross = 0.0  # smoothed sum over bins of error/echo power fluctuations
        self._echo_variance = 0.0
        # before the filter has learned, a room-like prior: step decays 10x from first to last partition
        prior = np.exp(-2.4 * np.arange(n_partitions) / n_partitions)
        self._prior = prior * (n_partitions / prior.sum())
        self._residual = np.zeros(bins)
        self._learned = 0.0  # accumulated start-up steps
        self._adapted = False
        self._step_bins = np.empty(bins)
        # two-path: the adapted (background) weights are self._weights; the output uses these
        self._foreground = self._weights.copy()
        self._foreground_estimate = np.empty(size)
        self._difference_stats = np.zeros(4)  # short/long averages of the energy difference, and variances

    def _step(self, mic: np.ndarray, ref: np.ndarray) -> np.ndarray:
        background = super()._step(mic, ref)
        if not self.two_path:
            return background
        foreground = self._foreground_estimate
        use_background = two_path_step(
            self._spectra.spectra,
            self._foreground,
            self._weights,
            mic,
            background,
            foreground,
            self._difference_stats,
        )
        return background if use_background else foreground

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
            shares = partition_shares(self._weights, self._shares) if self._adapted else self._prior
        else:
            shares = self._equal_shares
        floor = len(self._weights) * 2 * self.frame_size * self._level * 10.0 ** (-POWER_FLOOR_DB / 10)
        normalised_update(spectra, self._spectra.powers, error_spectrum, step, shares, self._weights, floor)

    def _residual_power(self) -> np.ndarray | None:
        return self._residual if self.adapt and self.adaptive_step else None

    def _adaptive_step(self, error_spectrum: np.ndarray, ref: np.ndarray) -> np.ndarray:
        """Step per bin from the residual-echo-to-error ratio (see the module notes)."""
        self._cross, self._echo_variance, self._learned, self._adapted = adaptive_step(
            self._error,
            self._echo_estimate,
            ref,
            error_spectrum,
            self._error_power_mean,
            self._echo_power_mean,
            self._residual,
            self._step_bins,
            self._cross,
            self._echo_variance,
            self._learned,
            self._adapted,
            self.step_size,
            self.frame_size / self.sample_rate,
            2 * self.frame_size * self._level * 10.0 ** (-POWER_FLOOR_DB / 10),
            self._level,
            len(self._weights),
        )
        return self._step_bins


@kernel
def adaptive_step(
    error, echo, ref, error_spectrum, error_power_mean, echo_power_mean, residual, step, cross, echo_variance,
    learned, adapted, step_size, smoothing, floor, level, n_partitions,
):  # pragma: no cover - compiled
    """The residual-echo-to-error step of one frame (see the module notes), into ``step`` (K,).

    ``error``, ``echo`` (the echo estimate) and ``ref`` are this frame's (B,)
    signals, ``error_spectrum`` (K,) that of the zero-padded error. Updates the
    per-bin power means (K,) and writes ``residual`` (K,) = leak x echo
    power, for the postfilter. ``smoothing`` is the frame duration in seconds
    (the power means' forgetting rate), ``floor`` the per-bin step floor and
    ``level`` the input's running power per sample, to which the guards are relative.
    Returns the updated scalars ``cross, echo_variance, learned, adapted``.
    """
    size = error.shape[0]
    negligible = size * level * 10.0 ** (-NEGLIGIBLE_DB / 10)
    error_energy = np.dot(error, error) + negligible
    echo_energy = np.dot(echo, echo)
    ref_energy = np.dot(ref, ref)
    padded = np.zeros(2 * size)
    padded[size:] = echo
    echo_spectrum = np.fft.rfft(padded)
    echo_power = echo_spectrum.real**2 + echo_spectrum.imag**2
    error_power = error_spectrum.real**2 + error_spectrum.imag**2
    # leak = regression slope of error power on echo power (fluctuations around their means)
    error_change = error_power - error_power_mean
    echo_change = echo_power - echo_power_mean
    error_power_mean += error_change * smoothing
    echo_power_mean += echo_change * smoothing
    # the regression is trusted faster when the echo estimate dominates the error
    rate = 2 * smoothing * min(echo_energy, 0.5 * error_energy) / error_energy
    cross += rate * (np.dot(error_change, echo_change) - cross)
    echo_variance += rate * (np.dot(echo_change, echo_change) - echo_variance)
    leak = min(max(cross / max(echo_variance, NUMERICAL_FLOOR), MIN_LEAK), 1.0)
    residual[:] = echo_power * leak
    if not adapted:
        # start-up: learn only from a far end within POWER_FLOOR_DB of the level
        audible = ref_energy > size * level * 10.0 ** (-POWER_FLOOR_DB / 10)
        start_rate = 0.25 * min(ref_energy, error_energy) / error_energy if audible else 0.0
        learned += start_rate
        step[:] = step_size * start_rate
        return cross, echo_variance, learned, learned > n_partitions and leak > 0.03
    correlation = np.dot(error, echo)
    coherence = correlation * correlation / (error_energy * echo_energy) if echo_energy > negligible else 0.0
    ratio = min(0.5, max(3.0 * leak * echo_energy / error_energy, coherence))
    for k in range(step.shape[0]):
        step[k] = step_size * (0.7 * min(residual[k], 0.5 * error_power[k]) + 0.3 * ratio * error_power[k])
        step[k] /= error_power[k] + floor
    return cross, echo_variance, learned, adapted


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
def partition_shares(weights, out):  # pragma: no cover - compiled
    """Step share of each partition of ``weights`` (P, K): ``P`` times its share of the
    filter's norm, each norm floored at a tenth of the largest; into ``out`` (P,)."""
    for p in range(weights.shape[0]):
        total = 0.0
        for k in range(weights.shape[1]):
            total += weights[p, k].real ** 2 + weights[p, k].imag ** 2
        out[p] = np.sqrt(total)
    out += 0.1 * out.max() + NUMERICAL_FLOOR
    out *= len(out) / out.sum()
    return out


@kernel
def two_path_step(
    spectra, foreground, background, mic, background_estimate, foreground_estimate, stats
):  # pragma: no cover - compiled
    """Two-path decision of Speex MDF (see :class:`PBFDAF`); returns True to output the background.

    Computes ``foreground_estimate`` (B,), the echo predicted by the
    ``foreground`` weights (P, K), and compares the error energies of the two
    filters: when the background (adapted) filter's error is significantly
    lower, it is copied to the foreground; when it is much worse, the
    background is reset to the foreground. "Significantly" compares the
    error-energy difference with its uncertainty ``S_ff * D_bf`` (foreground
    error energy times the energy of the difference of the two errors),
    instantaneously and smoothed over ~2 and ~6 frames (``stats``: short mean,
    short variance, long mean, long variance).
    """
    filter_output(spectra, foreground, foreground_estimate)
    fore_error = mic - foreground_estimate
    back_error = mic - background_estimate
    difference = fore_error - back_error
    fore_energy = np.dot(fore_error, fore_error)
    gap = fore_energy - np.dot(back_error, back_error)
    spread = fore_energy * np.dot(difference, difference)
    stats[0] = 0.6 * stats[0] + 0.4 * gap
    stats[1] = 0.36 * stats[1] + 0.16 * spread
    stats[2] = 0.85 * stats[2] + 0.15 * gap
    stats[3] = 0.7225 * stats[3] + 0.0225 * spread
    better = gap * abs(gap) > spread or stats[0] * abs(stats[0]) > 0.5 * stats[1] or stats[2] * abs(stats[2]) > 0.25 * stats[3]
    if better:
        foreground[:] = background
        stats[:] = 0.0
        return True
    worse = -gap * abs(gap) > 4 * spread or -stats[0] * abs(stats[0]) > 4 * stats[1] or -stats[2] * abs(stats[2]) > 4 * stats[3]
    if worse:
        background[:] = foreground
        stats[:] = 0.0
    return False
