"""The input high-pass of every streaming canceller: DC and rumble never reach the filter.

A microphone with a DC offset (cheap ADCs, a USB dongle) or handling rumble
adds a large, slowly varying component that the reference does not explain.
The adaptive filter then spends its step on it: a DC of 0.05 on the
microphone cost PBFDAF 8 dB of ERLE and made NLMS add echo. Speex puts a DC
notch on its input and WebRTC's audio processing a high-pass filter; echoless
filters both the microphone and the reference with the same 2nd-order
Butterworth high-pass (``scipy.signal.butter``), by default at
:data:`DEFAULT_CUTOFF_HZ`. Filtering both by the same linear filter leaves
the echo path between them unchanged, so nothing has to be re-learned. Each
filter starts as if its signal had held its first sample forever
(``scipy.signal.sosfilt_zi``): a DC offset then leaves no start-up transient
at all (from a zero state it rang for tens of ms at 20 Hz, perturbing the
first adaptation enough to move the ERLE seconds later by about 1 dB), at
the price of the first tens of ms, in which the high-passed microphone is
not exactly the echo path applied to the high-passed reference.

The filter's phase shift at low speech frequencies is what SI-SNR against
the unfiltered talker counts as damage: a lone talker through the 2nd-order
filter scores an SI-SNR of 19.9 dB at 20 Hz, 10.0 dB at 60 Hz and 7.1 dB at
80 Hz (the peers' outputs score 6-10 dB for this reason). So when the
residual-echo suppressor is on, and with it its zero-phase low cut (see
:mod:`echoless.aec.postfilter`), which then takes over the output's low end,
the canceller undoes the high-pass on its output (:class:`HighPassUndo`, on
the output and the echo estimate, before the suppressor): what is left of
it is a DC blocker with its double pole at a quarter of the cut-off
(:data:`UNDO_RATIO`; at the default 20 Hz: -6 dB at 5 Hz, -3 dB at 7.8 Hz),
whose phase costs the voice band little. Only a cut-off at or below the low
cut's is undone (above it, the undo would restore what the low cut then
leaves), only while the low cut is active (not at ``low_cut_hz=0`` nor with
frames too short to resolve it), and only where the undo amplifies by at
most about :data:`UNDO_RATIO` squared (near the Nyquist frequency the
bilinear transform's warping makes it more: 91 dB at 7.9 kHz on 16 kHz). Measured on the tuning scenes of
``benchmarks/bench_aec.py``, double-talk SI-SNR rose from 15.0 to 16.7 dB
(medians, with the low cut); a lone talker, above 200 Hz, from 22.0 to
31.0 dB (``tests/aec/test_robustness.py``). The undo cannot be exact (that
would put its poles on the unit circle) and should not come closer: it
amplifies by up to :data:`UNDO_RATIO` squared whatever the filter does below
the cut-off, where nothing constrains it (undone to 3 Hz, 10 Hz rumble with
``highpass_hz=60`` cost 9.8 dB of ERLE, against 1.7 at a quarter). With
``postfilter=0`` the output stays high-passed. The undo's state is kept
through the canceller's safety resets (its input stays continuous: a reset
filter passes the microphone through; clearing it measured no better) and
cleared only where the suppressor's spectra overflowed.

The filter still adapts on high-passed signals, so the cut-off only sets
what reaches the filter: at 20 Hz a DC offset is removed entirely, rumble is
taken down by 12 dB at 10 Hz and 6 dB at 15 Hz; for heavy rumble, raise
``highpass_hz`` (60 Hz takes 10 Hz rumble down by 31 dB). Lowering it to
10 Hz, which (measured before the undo existed) gains the same SI-SNR, let
10 Hz rumble cost 7.8 dB of ERLE.
"""

from __future__ import annotations

import numpy as np
from scipy import signal

from echoless._jit import kernel
from echoless._validation import check_positive_float, check_positive_int

#: Default cut-off of the input high-pass, Hz (-3 dB; 12 dB per octave below; see the module notes).
DEFAULT_CUTOFF_HZ = 20.0
#: :class:`HighPassUndo` leaves a DC blocker at the high-pass's cut-off over this ratio: for
#: cut-offs far below the Nyquist frequency it then amplifies by at most about its square (24 dB).
UNDO_RATIO = 4.0
#: A canceller undoes its high-pass only where the undo's largest gain stays within 5 % of
#: :data:`UNDO_RATIO` squared (16.26 at 80 Hz on 8 kHz; far more near the Nyquist frequency).
UNDO_MAX_GAIN = 1.05 * UNDO_RATIO**2


class HighPass:
    """2nd-order Butterworth high-pass applied frame by frame, with state between frames.

    Parameters
    ----------
    sample_rate : int
        Sampling rate in Hz.
    cutoff_hz : float
        -3 dB cut-off in Hz, below the Nyquist frequency.

    Raises
    ------
    ValueError
        If ``cutoff_hz`` is not positive or not below ``sample_rate / 2``.

    Examples
    --------
    >>> import numpy as np
    >>> highpass = HighPass(16000, 20.0)
    >>> out = np.concatenate([highpass.process(np.full(160, 0.5)) for _ in range(400)])
    >>> bool(abs(out[-160:]).max() < 1e-6)   # a DC offset is gone after a few hundred ms
    True
    """

    def __init__(self, sample_rate: int, cutoff_hz: float = DEFAULT_CUTOFF_HZ) -> None:
        self.cutoff_hz = check_positive_float(cutoff_hz, "highpass_hz")
        self._sos = design(sample_rate, cutoff_hz)
        self._steady = steady_state(self._sos)
        self._state = np.zeros(2)
        self.reset()

    def reset(self) -> None:
        """Forget the filter state; the next frame starts it (see the module notes)."""
        self._started = False

    def process(self, frame: np.ndarray) -> np.ndarray:
        """The high-passed frame (a new float64 array of the same shape)."""
        out = np.empty(len(frame))
        filter_frame(self._sos, self._steady, frame, out, self._state, not self._started)
        self._started = True
        return out


class HighPassUndo:
    r"""Undoes the input high-pass on the canceller's output, down to a DC blocker.

    The output stage of a canceller whose suppressor applies the zero-phase
    low cut (see the module notes): each signal goes through
    :math:`C(z) = A(z) / \big(g\,(1 - \rho z^{-1})^2\big)`, where
    :math:`H(z) = g\,(1 - z^{-1})^2 / A(z)` is the high-pass of
    :func:`design` and :math:`\rho = e^{-2\pi f_0 / f_s}`, :math:`f_0` the cut-off over
    :data:`UNDO_RATIO`, so that :math:`C H = (1 - z^{-1})^2 / (1 - \rho z^{-1})^2`:
    a DC blocker with its double pole at :math:`f_0` (-6 dB there, -3 dB at
    :math:`1.55 f_0`; the exact inverse would have the pole on the unit
    circle). For cut-offs far below the Nyquist frequency :math:`C`
    amplifies by at most about :data:`UNDO_RATIO` squared (:attr:`max_gain`);
    closer to it, the bilinear transform's warping makes that more, and the
    canceller then does not undo its high-pass.

    Parameters
    ----------
    sample_rate : int
        Sampling rate in Hz.
    cutoff_hz : float
        Cut-off of the high-pass to undo, below ``sample_rate / 2``.
    n_signals : int
        Signals undone, each with its own state (default 2: output and echo estimate).

    Attributes
    ----------
    max_gain : float
        The undo's largest gain at any frequency.

    Raises
    ------
    ValueError, TypeError
        If ``sample_rate`` or ``n_signals`` is not a positive integer, or
        ``cutoff_hz`` is not positive or not below ``sample_rate / 2``.
    """

    def __init__(self, sample_rate: int, cutoff_hz: float, n_signals: int = 2) -> None:
        sample_rate = check_positive_int(sample_rate, "sample_rate")
        cutoff_hz = check_positive_float(cutoff_hz, "highpass_hz")
        pole = np.exp(-2 * np.pi * cutoff_hz / UNDO_RATIO / sample_rate)
        self._sos = undo_design(design(sample_rate, cutoff_hz), pole)
        self._states = np.zeros((check_positive_int(n_signals, "n_signals"), 2))
        _, response = signal.sosfreqz(self._sos[None], worN=np.geomspace(1e-3, sample_rate / 2, 512), fs=sample_rate)
        #: Largest gain of the undo at any frequency (about UNDO_RATIO squared far below the Nyquist frequency).
        self.max_gain = float(np.abs(response).max())

    def reset(self, signal_index: int | None = None) -> None:
        """Forget the history of signal ``signal_index``, or of every signal (the default)."""
        self._states[slice(None) if signal_index is None else self._row(signal_index)] = 0.0

    def process(self, frame: np.ndarray, signal_index: int) -> np.ndarray:
        """Undo the high-pass on one signal's next frame.

        Parameters
        ----------
        frame : numpy.ndarray, shape (n,), float64
            The next samples of the high-passed signal.
        signal_index : int
            Which signal, ``0 <= signal_index < n_signals`` (each has its own state).

        Returns
        -------
        numpy.ndarray, shape (n,), float64
            A new array.

        Raises
        ------
        ValueError
            If ``signal_index`` is out of range.
        """
        frame = np.asarray(frame, dtype=np.float64)
        if frame.ndim != 1:
            raise ValueError(f"frame must be one-dimensional, got shape {frame.shape}")
        out = np.empty(len(frame))
        biquad(self._sos, frame, out, self._states[self._row(signal_index)])
        return out

    def _row(self, signal_index: int) -> int:
        valid = isinstance(signal_index, (int, np.integer)) and not isinstance(signal_index, (bool, np.bool_))
        if not valid or not 0 <= signal_index < len(self._states):
            raise ValueError(f"signal_index={signal_index!r} is not an integer in [0, {len(self._states)})")
        return int(signal_index)


def undo_design(highpass: np.ndarray, pole: float) -> np.ndarray:
    """The section (6,) of :class:`HighPassUndo` for the high-pass section ``highpass`` (6,)
    (:func:`design`, numerator ``g (1, -2, 1)``), its double pole at ``pole`` (< 1)."""
    gain = highpass[0]
    return np.array([1.0, highpass[4], highpass[5], gain, -2.0 * pole * gain, pole * pole * gain]) / gain


def steady_state(sos: np.ndarray) -> np.ndarray:
    """The state (2,) of the section after a constant 1 forever (``scipy.signal.sosfilt_zi``):
    times a signal's first sample, the state it starts from."""
    return signal.sosfilt_zi(sos[None])[0]


def design(sample_rate: int, cutoff_hz: float) -> np.ndarray:
    """The second-order section (6,) of the high-pass (``scipy.signal.butter``, ``output="sos"``).

    Raises
    ------
    ValueError
        If ``cutoff_hz`` is not below ``sample_rate / 2``.
    """
    if cutoff_hz >= sample_rate / 2:
        raise ValueError(
            f"highpass_hz={cutoff_hz:g} must be below {sample_rate / 2:g} Hz, the Nyquist frequency of the "
            f"{sample_rate:g} Hz band it filters"
        )
    return signal.butter(2, cutoff_hz, "highpass", fs=sample_rate, output="sos")[0]


@kernel
def biquad(sos, frame, out, state):  # pragma: no cover - compiled
    """One second-order section (``sos`` as one row of ``scipy.signal.butter(..., output="sos")``)
    over ``frame`` into ``out``, transposed direct form II, ``state`` (2,) carried between calls."""
    b0, b1, b2, _, a1, a2 = sos[0], sos[1], sos[2], sos[3], sos[4], sos[5]
    z0, z1 = state[0], state[1]
    for i in range(frame.shape[0]):
        x = frame[i]
        y = b0 * x + z0
        z0 = b1 * x - a1 * y + z1
        z1 = b2 * x - a2 * y
        out[i] = y
    state[0] = z0
    state[1] = z1


@kernel
def filter_frame(sos, steady, frame, out, state, start):  # pragma: no cover - compiled
    """:func:`biquad` of ``frame`` into ``out``; when ``start``, the state first becomes ``steady``
    (:func:`steady_state`) times the frame's first sample, as if the signal had held it forever
    (see the module notes)."""
    if start:
        state[0] = steady[0] * frame[0]
        state[1] = steady[1] * frame[0]
    biquad(sos, frame, out, state)
