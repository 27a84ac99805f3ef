r"""Band-limited interpolation at fractional sample positions (Kaiser-windowed sinc).

A signal sampled at the Nyquist rate is known between its samples:
:math:`x(p) = \sum_k x[k]\,\mathrm{sinc}(p - k)`. Truncated to the ``2H``
samples around ``p`` and tapered by a Kaiser window of half-width ``H``
(J. F. Kaiser, "Nonrecursive digital filter design using the I0-sinh window
function", ISCAS 1974; the table-driven interpolator of J. O. Smith's
*Digital Audio Resampling*),

.. math:: x(i + \mu) \approx \sum_{k=-H+1}^{H} x[i + k]\,
          \mathrm{sinc}(k - \mu)\, w\!\Big(\frac{k - \mu}{H}\Big),\qquad
          w(t) = \frac{I_0\big(\beta\sqrt{1 - t^2}\big)}{I_0(\beta)},

with ``i = floor(p)`` and ``mu = p - i`` in [0, 1). At ``mu = 0`` the kernel is
a unit impulse, so integer positions return the samples themselves, exactly.
A ``cutoff`` below 1 (a fraction of the Nyquist frequency) replaces the sinc
by :math:`c\,\mathrm{sinc}(c\,(k - \mu))`, a low-pass interpolator: the
signal is then also band-limited, as by a converter's anti-aliasing filter.
With ``H = 16`` and ``beta = 10`` the error on a unit tone stays below
-90 dB up to 0.8 of the Nyquist frequency (-92.7 dB measured, against the
tone's exact value); above that the window's transition band attenuates the
tone. ``H = 48, beta = 12`` reach 0.92 of the Nyquist frequency (-104 dB);
with ``cutoff = 0.9`` they are flat (-100 dB) to 0.82 of it and stop
everything above 0.98 of it (below -100 dB): the simulated microphone of
:func:`echoless.data.make_scene`.

The weights come from a table of :data:`PHASES` + 1 kernels (``mu = 0,
1/PHASES, ..., 1``), linearly interpolated between its rows (an error of
1e-5 of a sample's weight at most, -100 dB), so that no output sample
evaluates ``2 H`` Bessel functions; one compiled loop (:func:`weigh`) reads
them. :func:`interpolate` evaluates a whole signal at arbitrary positions
(the simulated clock drift of :func:`echoless.data.make_scene`);
:class:`echoless.aec.drift.DriftingDelayLine` uses :func:`read` to delay a
stream by a slowly changing, fractional number of samples.
"""

from __future__ import annotations

import functools

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import i0

from echoless._jit import kernel as compiled

#: Taps on each side of the interpolated position.
HALF_WIDTH = 16
#: Kaiser window shape: larger trades a wider transition band for lower ripple.
BETA = 10.0
#: Kernels tabulated per sample (linear interpolation between them).
PHASES = 512


@functools.lru_cache(maxsize=4)
def table(half_width: int = HALF_WIDTH, beta: float = BETA, cutoff: float = 1.0) -> np.ndarray:
    """Interpolation kernels at ``mu = 0, 1/PHASES, ..., 1`` (see the module notes).

    Parameters
    ----------
    half_width, beta : int, float
        ``H`` and the Kaiser shape.
    cutoff : float
        Cut-off of the interpolator, a fraction of the Nyquist frequency
        (default 1: interpolation only).

    Returns
    -------
    numpy.ndarray, shape (PHASES + 1, 2 * half_width), read-only
        Row ``r`` weighs the samples ``x[i - H + 1 .. i + H]`` for ``mu = r / PHASES``.
    """
    offsets = np.arange(-half_width + 1, half_width + 1) - np.linspace(0.0, 1.0, PHASES + 1)[:, None]
    taper = i0(beta * np.sqrt(np.clip(1.0 - (offsets / half_width) ** 2, 0.0, None))) / i0(beta)
    kernels = cutoff * np.sinc(cutoff * offsets) * taper
    kernels.setflags(write=False)
    return kernels


def interpolate(
    x: ArrayLike, positions: ArrayLike, half_width: int = HALF_WIDTH, beta: float = BETA, cutoff: float = 1.0
) -> np.ndarray:
    """``x`` evaluated at fractional sample positions (zero outside the signal).

    Parameters
    ----------
    x : array_like, shape (T,)
        A band-limited signal.
    positions : array_like, shape (N,)
        Where to evaluate it, in samples (``positions[n] = 2.5`` is halfway
        between ``x[2]`` and ``x[3]``); finite.
    half_width, beta, cutoff : int, float, float
        Kernel size, shape and cut-off (see :func:`table`).

    Returns
    -------
    numpy.ndarray, shape (N,), float64

    Raises
    ------
    ValueError
        If a position is not finite.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.arange(400)
    >>> x = np.sin(0.3 * t)
    >>> bool(abs(interpolate(x, [200.25])[0] - np.sin(0.3 * 200.25)) < 1e-4)
    True
    """
    x = np.asarray(x, dtype=np.float64)
    positions = np.asarray(positions, dtype=np.float64)
    if not np.all(np.isfinite(positions)):
        raise ValueError("positions must be finite")
    # zeros around x: a position up to half_width outside still reads 2 * half_width samples
    padded = np.concatenate([np.zeros(2 * half_width), x, np.zeros(2 * half_width)])
    outside = (positions <= -half_width) | (positions >= len(x) - 1 + half_width)
    out = read(padded, np.where(outside, 0.0, positions) + 2 * half_width, half_width, beta, cutoff)
    out[outside] = 0.0
    return out


def read(
    x: np.ndarray, positions: np.ndarray, half_width: int = HALF_WIDTH, beta: float = BETA, cutoff: float = 1.0
) -> np.ndarray:
    """:func:`interpolate` at positions at least ``half_width`` samples inside ``x`` (no padding, no copy).

    Parameters
    ----------
    x : numpy.ndarray, shape (T,), float64
    positions : numpy.ndarray, shape (N,), float64
        Each in ``[half_width - 1, T - half_width - 1)``: the samples read,
        ``floor(p) - half_width + 1 .. floor(p) + half_width``, all exist.
    half_width, beta, cutoff : int, float, float
        As for :func:`table`.

    Returns
    -------
    numpy.ndarray, shape (N,), float64

    Raises
    ------
    ValueError
        If a position is outside that range or not finite (the compiled loop does not check indices).
    """
    if len(positions) and not (positions.min() >= half_width - 1 and positions.max() < len(x) - half_width - 1):
        raise ValueError(f"positions must lie in [{half_width - 1}, {len(x) - half_width - 1}) (and be finite)")
    out = np.empty(len(positions))
    weigh(x, positions, table(half_width, beta, cutoff), out)
    return out


@compiled
def weigh(x, positions, kernels, out):  # pragma: no cover - compiled
    """``out[n] = sum_j x[i - H + 1 + j] w_j(mu)``, ``i + mu = positions[n]``, ``w`` blended from ``kernels``."""
    phases = kernels.shape[0] - 1
    taps = kernels.shape[1]
    for n in range(positions.shape[0]):
        whole = np.floor(positions[n])
        phase = (positions[n] - whole) * phases
        row = min(int(phase), phases - 1)
        blend = phase - row
        start = int(whole) - taps // 2 + 1
        total = 0.0
        for j in range(taps):
            total += x[start + j] * (kernels[row, j] + blend * (kernels[row + 1, j] - kernels[row, j]))
        out[n] = total
