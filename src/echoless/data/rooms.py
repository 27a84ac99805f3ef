r"""The acoustic echo path: a loudspeaker model and simulated room impulse responses.

Room impulse responses (RIRs)
    :func:`room_impulse_responses` simulates a shoebox room with
    ``pyroomacoustics``' image-source model. The wall absorption and the
    reflection order come from the requested reverberation time by Sabine's
    formula (:func:`pyroomacoustics.inverse_sabine`),
    :math:`T_{60} = 0.161\,V / (S\,\alpha)`.
    Sabine's formula is only approximate for a truncated image-source model
    (in our rooms the simulated decay was 30 % shorter to 20 % longer than
    requested), so each RIR's envelope is then reshaped to the requested decay
    rate: after the direct path, the response is multiplied by
    :math:`10^{-3 (t - t_0)(1/T_{60} - 1/\hat T_{60})}`, where :math:`\hat T_{60}`
    is the measured reverberation time. A pure exponential decay with time
    constant :math:`\hat T_{60}` becomes one with :math:`T_{60}`; the
    arrival times of the reflections (the room geometry) are unchanged. The
    response is finally cropped where its envelope is 60 dB down.

Reverberation time
    :func:`measure_rt60` uses Schroeder's backward integration: the energy
    decay curve :math:`E(t) = \sum_{\tau \ge t} h(\tau)^2`, in dB relative to
    :math:`E(0)`, is fitted by a line between -5 dB and -35 dB (T30, as ISO
    3382), and the slope is extrapolated to a 60 dB decay.

Loudspeaker
    :func:`loudspeaker` models the amplifier and the driver of a small
    loudspeaker, both memoryless, in levels relative to the peak
    :math:`p = \max|x|` of the signal (so a far end that is quiet at times
    and loud at others distorts most when loud):

    * the amplifier soft-clips, :math:`c = \tanh(d\,x/p) / \tanh(d)`: the
      drive :math:`d` sets how hard the peaks are compressed (0 is linear),
      and the peak is kept;
    * the driver adds harmonics that grow with level (a suspension that
      stiffens and a force factor that falls with excursion, asymmetric about
      rest), :math:`y = p\,(c + h\,\mathcal{H}[c^2] - \tfrac{h}{2} c^3)`.
      A sine of amplitude :math:`A p` comes out with a 2nd harmonic
      :math:`h A / 2` and a 3rd harmonic :math:`h A^2 / 8` times its own
      amplitude (from :math:`\sin^2 = (1 - \cos 2\omega t)/2` and
      :math:`\sin^3 = (3\sin\omega t - \sin 3\omega t)/4`): halving the level
      halves the 2nd and quarters the 3rd. :math:`\mathcal{H}` is a 2nd-order
      Butterworth high-pass at 40 Hz: a cone radiates neither the DC of
      :math:`c^2` nor its syllable-rate envelope. The curve rises
      monotonically for :math:`h \le 2/7`, where a full-level sine has 14 %
      harmonic distortion (small laptop and phone loudspeakers measure
      1-10 % near full volume).

    No linear echo canceller can model either part.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

from echoless._validation import as_signal, check_positive_float, check_positive_int

__all__ = ["loudspeaker", "measure_rt60", "room_impulse_responses"]

# Reshaping the envelope of a non-exponential decay moves the measured RT60
# only approximately; repeat until it is this close (relative) to the request.
_RT60_TOLERANCE = 0.02
_MAX_RESHAPES = 8
# Driver distortion h: the curve c + h c**2 - h/2 c**3 has slope 1 - 3.5 h at c = -1.
_MAX_DISTORTION = 2.0 / 7.0
_CONE_HIGHPASS_HZ = 40.0


def measure_rt60(rir: ArrayLike, sample_rate: float, *, decay_db: float = 30.0) -> float:
    """Reverberation time of an impulse response by Schroeder backward integration.

    Parameters
    ----------
    rir : array_like, shape (L,)
        Room impulse response.
    sample_rate : float
        Sample rate in Hz.
    decay_db : float
        Range of the line fit below -5 dB: 30 gives T30 (ISO 3382), 20 gives T20.

    Returns
    -------
    float
        Time in seconds for the energy to decay by 60 dB, extrapolated from
        the fitted slope.

    Raises
    ------
    ValueError
        If ``rir`` is all zeros or its energy never decays by ``5 + decay_db`` dB.
    """
    rir = as_signal(rir, "rir")
    sample_rate = check_positive_float(sample_rate, "sample_rate")
    decay_db = check_positive_float(decay_db, "decay_db")
    energy = np.cumsum(rir[::-1] ** 2)[::-1]
    if energy[0] == 0.0:
        raise ValueError("rir is all zeros: its reverberation time is undefined")
    with np.errstate(divide="ignore"):  # the curve reaches 0 (-inf dB) after the last non-zero sample
        curve_db = 10.0 * np.log10(energy / energy[0])
    below_start = np.flatnonzero(curve_db <= -5.0)
    below_end = np.flatnonzero(curve_db <= -5.0 - decay_db)
    if below_end.size == 0:
        raise ValueError(
            f"rir decays by only {-np.min(curve_db):.1f} dB; measuring T{decay_db:g} needs {5 + decay_db:g} dB"
        )
    start, end = below_start[0], below_end[0]
    times = np.arange(start, end + 1) / sample_rate
    slope = np.polyfit(times, curve_db[start : end + 1], 1)[0]  # dB per second, negative
    return float(-60.0 / slope)


def loudspeaker(x: ArrayLike, drive: float, distortion: float = 0.0, sample_rate: int = 16000) -> np.ndarray:
    """Small-loudspeaker model: soft-clipping amplifier, then a driver with harmonic distortion.

    ``c = tanh(d x / p) / tanh(d)`` and ``y = p (c + h HP[c**2] - h/2 c**3)``
    with ``p = max|x|`` (see the module docstring).

    Parameters
    ----------
    x : array_like, shape (T,)
        Signal sent to the loudspeaker.
    drive : float
        Non-negative amplifier drive ``d``; 0 is linear, 1 compresses the
        peaks by about 2 dB against the quiet parts, 3 clips hard.
    distortion : float
        Driver distortion ``h`` in ``[0, 2/7]``: a sine at the peak level gets
        a 2nd harmonic of ``h/2`` and a 3rd of ``h/8`` of its amplitude; at
        ``A`` times the peak, ``h A / 2`` and ``h A**2 / 8``. 0 is linear.
    sample_rate : int
        Sample rate in Hz (places the 40 Hz high-pass of the ``c**2`` term).

    Returns
    -------
    numpy.ndarray, shape (T,)
        Sound the loudspeaker emits. Without distortion its peak equals that
        of ``x``; ``x`` itself when ``drive`` and ``distortion`` are both 0.

    Raises
    ------
    ValueError
        If ``drive`` is negative or ``distortion`` outside ``[0, 2/7]`` (the
        curve would fold over).
    """
    x = as_signal(x, "x")
    drive = check_positive_float(drive, "drive", allow_zero=True)
    distortion = check_positive_float(distortion, "distortion", allow_zero=True)
    if distortion > _MAX_DISTORTION:
        raise ValueError(f"distortion must be in [0, 2/7] (beyond, the curve folds over), got {distortion}")
    sample_rate = check_positive_int(sample_rate, "sample_rate")
    peak = float(np.max(np.abs(x)))
    if peak == 0.0 or (drive == 0.0 and distortion == 0.0):
        return x.copy()
    c = x / peak
    if drive > 0.0:
        c = np.tanh(drive * c) / np.tanh(drive)
    if distortion > 0.0:
        import scipy.signal  # slow to import; only the distorting loudspeaker needs it

        highpass = scipy.signal.butter(2, _CONE_HIGHPASS_HZ, "highpass", fs=sample_rate, output="sos")
        c = c + distortion * (scipy.signal.sosfilt(highpass, c**2) - 0.5 * c**3)
    return peak * c


def _reshape_decay(rir: np.ndarray, rt60: float, sample_rate: int) -> np.ndarray:
    """Give ``rir`` the decay rate of ``rt60`` after its direct path.

    An extra energy decay of ``slope`` dB/s multiplies the response by
    ``10**(-slope * t / 20)``. For a pure exponential the measured decay rate
    ``60 / RT60`` grows by exactly ``slope``; a strong direct path bends the
    curve, so the slope is found by the secant method.
    """
    onset = int(np.argmax(np.abs(rir)))  # the direct path is the strongest arrival
    elapsed = np.maximum(np.arange(len(rir)) - onset, 0) / sample_rate
    target = 60.0 / rt60  # decay rate in dB/s

    def reshaped(slope: float) -> tuple[np.ndarray, float]:
        candidate = rir * 10.0 ** (-slope * elapsed / 20.0)
        return candidate, 60.0 / measure_rt60(candidate, sample_rate) - target

    best, error = reshaped(0.0)
    previous = (0.0, error)
    slope = -error  # first guess: exact for a pure exponential
    for _ in range(_MAX_RESHAPES):
        if abs(error) <= _RT60_TOLERANCE * target:
            break
        try:
            candidate, new_error = reshaped(slope)
        except ValueError:  # overshot: the reshaped tail no longer decays enough to measure
            break
        if abs(new_error) < abs(error):
            best, error = candidate, new_error
        if new_error == previous[1]:
            break
        slope, previous = slope - new_error * (slope - previous[0]) / (new_error - previous[1]), (slope, new_error)
    return best


def room_impulse_responses(
    room_dim: Sequence[float],
    rt60: float,
    microphone: Sequence[float],
    sources: Sequence[Sequence[float]],
    sample_rate: int = 16000,
) -> tuple[list[np.ndarray], list[float]]:
    """Impulse responses from each source to one microphone in a shoebox room.

    Parameters
    ----------
    room_dim : sequence of 3 floats
        Room length, width and height in metres.
    rt60 : float
        Requested reverberation time in seconds.
    microphone : sequence of 3 floats
        Microphone position in metres.
    sources : sequence of positions
        Source positions (3 floats each) in metres.
    sample_rate : int
        Sample rate in Hz.

    Returns
    -------
    rirs : list of numpy.ndarray, each shape (L,)
        One response per source, all of the same length ``L`` (the direct
        path of the farthest source plus ``rt60`` seconds).
    rt60s : list of float
        Reverberation time of each returned response, by :func:`measure_rt60`.

    Raises
    ------
    ValueError
        If a position lies outside the room, or ``rt60`` is too short for the
        room (Sabine would need walls absorbing more than all the energy).
    """
    import pyroomacoustics as pra  # heavy import, needed only here

    room_dim = _position(room_dim, "room_dim")
    if min(room_dim) <= 0:
        raise ValueError(f"room_dim must be positive, got {room_dim}")
    rt60 = check_positive_float(rt60, "rt60")
    sample_rate = check_positive_int(sample_rate, "sample_rate")
    microphone = _inside(_position(microphone, "microphone"), room_dim, "microphone")
    sources = [_inside(_position(source, "sources"), room_dim, "source") for source in sources]
    if not sources:
        raise ValueError("sources must hold at least one position")
    try:
        absorption, max_order = pra.inverse_sabine(rt60, room_dim)
    except ValueError:
        raise ValueError(
            f"rt60={rt60} s is too short for a {room_dim[0]} x {room_dim[1]} x {room_dim[2]} m room "
            "(the walls would have to absorb more than all the sound): ask for a longer rt60 or a smaller room"
        ) from None
    room = pra.ShoeBox(room_dim, fs=sample_rate, materials=pra.Material(absorption), max_order=max_order)
    for source in sources:
        room.add_source(source)
    room.add_microphone(microphone)
    room.compute_rir()

    rirs = [_reshape_decay(np.asarray(raw, dtype=np.float64), rt60, sample_rate) for raw in room.rir[0]]
    length = max(int(np.argmax(np.abs(rir))) for rir in rirs) + int(math.ceil(rt60 * sample_rate))
    rirs = [np.pad(rir, (0, max(0, length - len(rir))))[:length] for rir in rirs]
    return rirs, [measure_rt60(rir, sample_rate) for rir in rirs]


def _position(value: Sequence[float], name: str) -> list[float]:
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be 3 numbers in metres, got {value!r}") from None
    if array.shape != (3,) or not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must be 3 finite numbers in metres, got {value!r}")
    return [float(v) for v in array]


def _inside(position: list[float], room_dim: list[float], name: str) -> list[float]:
    if any(not 0.0 < p < d for p, d in zip(position, room_dim)):
        raise ValueError(f"{name} position {position} lies outside the {room_dim} m room")
    return position
