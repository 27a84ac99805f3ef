r"""Quality metrics for echo cancellation, in dB unless stated.

Notation: ``reference`` is the clean signal the estimate should equal (the true
near end, or the true echo), ``estimate`` is what a method produced.

* ``mse(reference, estimate)`` :math:`= \frac{1}{T}\sum_t (r_t - e_t)^2` (linear).
* ``snr(reference, estimate)`` :math:`= 10\log_{10}\frac{\sum_t r_t^2}{\sum_t (r_t-e_t)^2}`.
* ``si_snr(reference, estimate)``: scale-invariant SNR. Both are made zero-mean,
  the target is the projection :math:`s = \frac{\langle e, r\rangle}{\|r\|^2} r`,
  and :math:`10\log_{10}\|s\|^2/\|e-s\|^2`. A gain error does not count.
* ``sdr(reference, estimate, filter_length=512)``: signal-to-distortion ratio
  as in BSS Eval. The target is the best ``filter_length``-tap causal FIR
  filtering of the reference, :math:`s = g * r` with
  :math:`g = \arg\min \|e - g * r\|^2`, and :math:`10\log_{10}\|s\|^2/\|e-s\|^2`.
  A fixed linear filter (a DC notch, a high-pass, a short delay) does not
  count, unlike in SNR and SI-SNR, where the phase shift of a 60 Hz high-pass
  alone caps speech at about 10 dB.
* ``erle(mic, output)`` :math:`= 10\log_{10}\frac{\sum_t y_t^2}{\sum_t \hat n_t^2}`:
  echo return loss enhancement, the energy the canceller removed. It is only
  meaningful where the microphone holds echo alone (far-end single talk).
  The *oracle* ERLE, available on synthetic data, is
  ``erle(echo, echo - echo_estimate)``: echo energy over residual echo energy,
  valid at all times, even in double talk.
* ``erle_over_time``: segmental ERLE, the same ratio in consecutive
  non-overlapping frames (100 ms by default), in dB, for plots over time.

"Oracle" metrics compare against signals that only synthetic scenes have (the
true echo, the true near end); see :func:`oracle_metrics`.

Perceptual quality without the truth
    :func:`aecmos` wraps AECMOS (Purin et al., "AECMOS: a speech quality
    assessment metric for echo impairment", ICASSP 2022), the network the
    ICASSP/Interspeech AEC Challenges score entries with, as the organisers
    ship it in the ``speechmos`` package (ONNX weights inside the wheel). It
    needs only the reference, the microphone and the output, so it scores real
    recordings too. :func:`aecmos_by_segment` scores each talk segment of an
    :class:`~echoless.data.EchoExample` with its talk type. Both need the
    optional extra: ``pip install echoless[mos]``.

A ratio whose denominator is exactly zero (a perfect estimate) is reported as
``+inf`` dB rather than a number made up from an epsilon.
"""

from __future__ import annotations

import functools
import importlib
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.linalg
from numpy.typing import ArrayLike

from echoless._validation import (
    as_signal,
    check_choice,
    check_positive_float,
    check_positive_int,
    check_same_length,
)
from echoless.conv.correlation import CroppedConvolutionGram


def _pair(reference: ArrayLike, estimate: ArrayLike, names: tuple[str, str]) -> tuple[np.ndarray, np.ndarray]:
    first = as_signal(reference, names[0])
    second = as_signal(estimate, names[1])
    check_same_length(first, second, *names)
    return first, second


def _ratio_db(numerator: float, denominator: float) -> float:
    if denominator == 0.0:
        return float("inf") if numerator > 0 else float("nan")
    if numerator == 0.0:
        return float("-inf")
    return float(10.0 * np.log10(numerator / denominator))


def mse(reference: ArrayLike, estimate: ArrayLike) -> float:
    """Mean squared error between two signals of equal length (linear, not dB).

    Parameters
    ----------
    reference, estimate : array_like, shape (T,)

    Returns
    -------
    float
    """
    reference, estimate = _pair(reference, estimate, ("reference", "estimate"))
    return float(np.mean((reference - estimate) ** 2))


def snr(reference: ArrayLike, estimate: ArrayLike) -> float:
    """Signal-to-noise ratio of ``estimate`` against ``reference``, in dB.

    Parameters
    ----------
    reference, estimate : array_like, shape (T,)

    Returns
    -------
    float
        ``10 log10(sum(reference**2) / sum((reference - estimate)**2))``.
    """
    reference, estimate = _pair(reference, estimate, ("reference", "estimate"))
    return _ratio_db(float(np.sum(reference**2)), float(np.sum((reference - estimate) ** 2)))


def si_snr(reference: ArrayLike, estimate: ArrayLike) -> float:
    """Scale-invariant SNR in dB (zero-mean signals, projection on the reference).

    Parameters
    ----------
    reference, estimate : array_like, shape (T,)

    Returns
    -------
    float
    """
    reference, estimate = _pair(reference, estimate, ("reference", "estimate"))
    reference = reference - reference.mean()
    estimate = estimate - estimate.mean()
    energy = float(np.dot(reference, reference))
    if energy == 0.0:
        raise ValueError("reference is constant: SI-SNR is undefined")
    target = (np.dot(estimate, reference) / energy) * reference
    return _ratio_db(float(np.sum(target**2)), float(np.sum((estimate - target) ** 2)))


def sdr(reference: ArrayLike, estimate: ArrayLike, filter_length: int = 512) -> float:
    """Signal-to-distortion ratio in dB: SNR after the best short FIR filtering of ``reference``.

    Parameters
    ----------
    reference, estimate : array_like, shape (T,)
    filter_length : int
        Taps of the allowed distortion filter (512 = 32 ms at 16 kHz, as in BSS Eval).

    Returns
    -------
    float

    Notes
    -----
    The filter solves the autocorrelation-method normal equations (Toeplitz,
    lags ``0 .. filter_length - 1``, computed with FFTs), as BSS Eval does.
    """
    reference, estimate = _pair(reference, estimate, ("reference", "estimate"))
    taps = min(check_positive_int(filter_length, "filter_length"), len(reference))
    gram = CroppedConvolutionGram(reference, taps)
    autocorrelation = gram.autocorrelation()
    if autocorrelation[0] == 0.0:
        raise ValueError("reference is silent: SDR is undefined")
    autocorrelation[0] *= 1.0 + 1e-12  # keeps the solve defined for a reference with few non-zero samples
    gains = scipy.linalg.solve_toeplitz(autocorrelation, gram.correlate(estimate))
    target = gram.filter(gains)
    return _ratio_db(float(np.sum(target**2)), float(np.sum((estimate - target) ** 2)))


def erle(mic: ArrayLike, output: ArrayLike) -> float:
    """Echo return loss enhancement in dB: ``10 log10(sum(mic**2) / sum(output**2))``.

    Parameters
    ----------
    mic : array_like, shape (T,)
        Microphone signal (or, for the oracle variant, the true echo).
    output : array_like, shape (T,)
        Canceller output (or the residual echo ``echo - echo_estimate``).

    Returns
    -------
    float
    """
    mic, output = _pair(mic, output, ("mic", "output"))
    return _ratio_db(float(np.sum(mic**2)), float(np.sum(output**2)))


def erle_over_time(
    mic: ArrayLike,
    output: ArrayLike,
    sample_rate: float,
    frame_seconds: float = 0.1,
    floor_db: float = -60.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Segmental ERLE: the ERLE of consecutive non-overlapping frames.

    Parameters
    ----------
    mic, output : array_like, shape (T,)
    sample_rate : float
        Sampling rate in Hz.
    frame_seconds : float
        Frame length in seconds (the last partial frame is dropped).
    floor_db : float
        Frames whose mic energy is more than ``-floor_db`` dB below the loudest
        frame are silent; their ERLE is NaN so plots show a gap, not noise.

    Returns
    -------
    times : numpy.ndarray, shape (n_frames,)
        Frame centres in seconds.
    erle_db : numpy.ndarray, shape (n_frames,)
        ERLE per frame in dB (NaN in silent frames).
    """
    mic, output = _pair(mic, output, ("mic", "output"))
    sample_rate = check_positive_float(sample_rate, "sample_rate")
    frame = int(round(check_positive_float(frame_seconds, "frame_seconds") * sample_rate))
    if frame < 1 or frame > len(mic):
        raise ValueError(
            f"frame_seconds={frame_seconds} gives a frame of {frame} samples; the signal has {len(mic)}"
        )
    n_frames = len(mic) // frame
    mic_energy = np.sum(mic[: n_frames * frame].reshape(n_frames, frame) ** 2, axis=1)
    out_energy = np.sum(output[: n_frames * frame].reshape(n_frames, frame) ** 2, axis=1)
    # a frame the canceller silenced exactly is +inf dB (as erle()); log of each energy, so no overflow
    with np.errstate(divide="ignore", invalid="ignore"):
        erle_db = 10.0 * np.log10(mic_energy) - 10.0 * np.log10(out_energy)
    silent = mic_energy <= mic_energy.max() * 10.0 ** (floor_db / 10.0)
    erle_db[silent] = np.nan
    times = (np.arange(n_frames) + 0.5) * frame / sample_rate
    return times, erle_db


def oracle_metrics(
    mic: ArrayLike,
    near_end_estimate: ArrayLike,
    echo: ArrayLike | None = None,
    near_end: ArrayLike | None = None,
) -> dict[str, float]:
    """All metrics one run can report, oracle ones where the truth is known.

    Parameters
    ----------
    mic : array_like, shape (T,)
        Microphone signal ``echo + near_end (+ noise)``.
    near_end_estimate : array_like, shape (T,)
        Canceller output.
    echo : array_like, shape (T,), optional
        True echo (synthetic data only).
    near_end : array_like, shape (T,), optional
        True near-end signal (synthetic data only).

    Returns
    -------
    dict
        ``erle_db`` (mic over output; whole signal), ``mse`` (output vs mic: the
        seed's non-oracle loss), and, when known, ``erle_oracle_db`` (echo over
        residual echo), ``snr_echo_db`` (echo estimate vs true echo),
        ``snr_near_db`` and ``si_snr_near_db`` (output vs true near end),
        ``mse_oracle`` (echo estimate vs true echo).
    """
    mic, estimate = _pair(mic, near_end_estimate, ("mic", "near_end_estimate"))
    echo_estimate = mic - estimate
    result = {"erle_db": erle(mic, estimate), "mse": mse(mic, echo_estimate)}
    if echo is not None:
        mic, echo = _pair(mic, echo, ("mic", "echo"))
        result["erle_oracle_db"] = erle(echo, echo - echo_estimate)
        result["snr_echo_db"] = snr(echo, echo_estimate)
        result["mse_oracle"] = mse(echo, echo_estimate)
    if near_end is not None:
        mic, near_end = _pair(mic, near_end, ("mic", "near_end"))
        result["snr_near_db"] = snr(near_end, estimate)
        result["si_snr_near_db"] = si_snr(near_end, estimate)
    return result


# --- AECMOS -------------------------------------------------------------------------------

#: Talk type of each :mod:`echoless.data.timeline` label that AECMOS scores.
TALK_TYPES = {"far_end_single_talk": "st", "double_talk": "dt", "near_end_single_talk": "nst"}
# speechmos' model names, by (model rate, whether a talk type is given)
_AECMOS_MODELS = {
    (16000, False): "aecmos_scenarioless_16kHz",
    (16000, True): "aecmos_16kHz",
    (48000, True): "aecmos_48kHz",
}
_AECMOS_MAX_SECONDS = 20.0  # the model scores at most this much (speechmos cuts the rest)
# A clip shorter than this scores like clean speech whatever it holds (an untouched mic
# scored 4.5 from 0.1 s, 1.7 from 1 s): a score of it would mislead.
_AECMOS_MIN_SECONDS = 1.0


@dataclass(frozen=True)
class AecMos:
    """AECMOS scores of one clip, on the 1 (bad) to 5 (excellent) opinion scale.

    Attributes
    ----------
    echo_mos : float
        How little echo is heard. Meaningful in far-end single talk (``"st"``)
        and double talk (``"dt"``).
    other_mos : float
        How little other degradation (near-end speech distortion, gating,
        noise) is heard. Meaningful in double talk and near-end single talk
        (``"nst"``); speechmos calls it ``deg_mos``.
    talk_type : str or None
        The talk type the clip was scored as (None: the scenario-less model).
    model : str
        The speechmos model that scored it, e.g. ``"aecmos_16kHz"``.
    """

    echo_mos: float
    other_mos: float
    talk_type: str | None
    model: str


def _speechmos_aecmos():
    """``speechmos.aecmos``, or a one-line error saying how to install it."""
    try:
        return importlib.import_module("speechmos.aecmos")
    except ModuleNotFoundError as error:
        raise ModuleNotFoundError(
            f"aecmos needs the optional packages speechmos, onnxruntime and librosa "
            f"({error.name or 'one of them'} is missing): pip install echoless[mos]",
            name=error.name,
        ) from error


@functools.cache
def _aecmos_model(module: Any, name: str) -> Any:
    # one ONNX session per process and model (speechmos.aecmos.run keeps only the last one
    # and rebuilds it whenever the model changes, e.g. between talk_type=None and "st")
    model = module.AECMOS(name)
    # on one thread: a corpus runs one process per core (echoless.batch), and a score then does
    # not depend on how many threads the machine would have given it
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    model.ort_session = onnxruntime.InferenceSession(model.model_path, options)
    return model


def aecmos(
    ref: ArrayLike,
    mic: ArrayLike,
    enhanced: ArrayLike,
    sample_rate: int,
    talk_type: str | None = None,
    *,
    model_rate: int = 16000,
) -> AecMos:
    """AECMOS: predicted echo and degradation opinion scores of an echo canceller's output.

    Parameters
    ----------
    ref : array_like, shape (T,)
        Far-end reference (the loopback signal the loudspeaker played).
    mic : array_like, shape (T,)
        Microphone signal.
    enhanced : array_like, shape (T,)
        Canceller output, as it came out (AECMOS was trained on outputs with
        their own latency: do not align it).
    sample_rate : int
        Sample rate of the three signals in Hz. They are resampled to
        ``model_rate`` (:func:`echoless.io.resample_signal`, polyphase).
    talk_type : {"st", "dt", "nst"}, optional
        ``"st"``: far-end single talk (read ``echo_mos``); ``"dt"``: double
        talk (read both); ``"nst"``: near-end single talk (read
        ``other_mos``). None uses speechmos' scenario-less 16 kHz model, which
        guesses the scenario itself.
    model_rate : {16000, 48000}
        Which model scores: the 16 kHz ones (default, wideband) or the 48 kHz
        one (fullband; needs ``talk_type``). Scores of the two models are not
        interchangeable.

    Returns
    -------
    AecMos
        ``echo_mos``, ``other_mos`` (1 to 5), the talk type and the model.

    Raises
    ------
    ModuleNotFoundError
        If speechmos, onnxruntime or librosa is not installed (``pip install echoless[mos]``).
    ValueError
        If the signals are not 1-D and finite, differ in length, are shorter
        than 1 s, or ``talk_type`` / ``model_rate`` is not one of the above.
    TypeError
        If a signal is not numeric or ``sample_rate`` is not an integer.

    Warns
    -----
    UserWarning
        If a signal leaves [-1, 1] (it is clipped, as a 16-bit file would
        be), or is longer than 20 s (the model scores the first 20 s only).

    Notes
    -----
    The model computes a 160-band log-mel spectrogram of each signal in dB
    below that signal's own maximum (``librosa.power_to_db(ref=np.max)``):
    a residual echo 30 dB down is judged by how it sounds against what else
    the output holds (near-end speech, noise), not by the ERLE. The scores
    are *not* level-free, though: ``power_to_db`` floors powers at 1e-10 and
    limits the range to 80 dB, so quiet clips score differently (measured on
    one simulated scene, echo/other MOS: 4.48/3.60 as is, 4.21/3.25 with all
    three signals 60 dB down, 5.00/1.78 at -100 dB, like digital silence).
    Score recordings at their natural level; the quiet ReSpeaker clips of
    ``shared/data/real`` (reference near -44 dBFS) are affected. The ONNX
    session of each model is built on first use and kept for the process.

    References
    ----------
    M. Purin, S. Sootla, M. Sponza, A. Saabas, R. Cutler, "AECMOS: A speech
    quality assessment metric for echo impairment", ICASSP 2022; the
    ``speechmos`` package (MIT licence) of the AEC Challenge organisers.
    """
    signals = {name: as_signal(x, name) for name, x in (("ref", ref), ("mic", mic), ("enhanced", enhanced))}
    check_same_length(signals["ref"], signals["mic"], "ref", "mic")
    check_same_length(signals["ref"], signals["enhanced"], "ref", "enhanced")
    sample_rate = check_positive_int(sample_rate, "sample_rate")
    if talk_type is not None:
        talk_type = check_choice(talk_type, "talk_type", ("st", "dt", "nst"))
    if model_rate not in (16000, 48000):
        raise ValueError(f"model_rate must be 16000 or 48000, got {model_rate!r}")
    name = _AECMOS_MODELS.get((model_rate, talk_type is not None))
    if name is None:
        raise ValueError("the 48 kHz AECMOS model needs a talk_type ('st', 'dt' or 'nst')")
    seconds = len(signals["ref"]) / sample_rate
    if seconds < _AECMOS_MIN_SECONDS:
        raise ValueError(f"AECMOS needs at least {_AECMOS_MIN_SECONDS:g} s of audio, got {seconds:.2f} s")
    loud = [f"{key} (peak {np.max(np.abs(x)):.2f})" for key, x in signals.items() if np.max(np.abs(x)) > 1.0]
    if loud:
        warnings.warn(f"aecmos: {', '.join(loud)} exceeds [-1, 1]; clipped", UserWarning, stacklevel=2)
    if seconds > _AECMOS_MAX_SECONDS:
        warnings.warn(
            f"aecmos: {seconds:.1f} s of audio; the model scores the first {_AECMOS_MAX_SECONDS:g} s only",
            UserWarning,
            stacklevel=2,
        )
    model = _aecmos_model(_speechmos_aecmos(), name)
    if sample_rate != model_rate:
        from echoless.io import resample_signal  # io imports soundfile: only when needed

        signals = {key: resample_signal(x, sample_rate, model_rate) for key, x in signals.items()}
    # resampling may overshoot a full-scale input a little; speechmos refuses anything outside [-1, 1]
    keep = int(_AECMOS_MAX_SECONDS * model_rate) - 1  # speechmos warns through logging from 20 s on
    clip = {key: np.clip(x[:keep], -1.0, 1.0) for key, x in signals.items()}
    scores = model({"lpb": clip["ref"], "mic": clip["mic"], "enh": clip["enhanced"]}, talk_type)
    return AecMos(float(scores["echo_mos"]), float(scores["deg_mos"]), talk_type, name)


def aecmos_by_segment(
    example: Any,
    enhanced: ArrayLike,
    *,
    min_seconds: float = 2.0,
    model_rate: int = 16000,
) -> list[dict[str, Any]]:
    """AECMOS of each talk segment of an example, scored as its talk type.

    Parameters
    ----------
    example : echoless.data.EchoExample
        Needs ``mic``, ``ref``, ``sample_rate`` and ``meta["timeline"]``: the
        segments ``{"start": s, "end": s, "label": str}`` that
        :func:`echoless.data.make_scene` writes (see
        :mod:`echoless.data.timeline`), or the same made by hand for a
        recording.
    enhanced : array_like, shape (T,)
        Canceller output for ``example.mic``, not re-aligned.
    min_seconds : float
        Segments shorter than this are skipped (AECMOS needs context: an
        unprocessed microphone scored an echo MOS of 1.8 from 0.5 s but 4.5
        from 0.1 s). At least 1 s.
    model_rate : {16000, 48000}
        As in :func:`aecmos`.

    Returns
    -------
    list of dict
        One row per scored piece, in time order: ``label``, ``talk_type``
        (``"st"``, ``"dt"``, ``"nst"``), ``start`` and ``end`` (seconds),
        ``echo_mos``, ``other_mos``. ``silence`` segments and those shorter
        than ``min_seconds`` give no row; a segment longer than the model's
        20 s is cut into equal pieces of at most 20 s, one row each.

    Raises
    ------
    ValueError
        If ``example.meta`` has no ``"timeline"``, ``enhanced`` differs in
        length from ``example.mic``, or ``min_seconds < 1``; and as :func:`aecmos`.
    """
    timeline = getattr(example, "meta", {}).get("timeline")
    if not timeline:
        raise ValueError("example.meta has no 'timeline' (segments with start, end, label) to score by")
    enhanced = as_signal(enhanced, "enhanced")
    check_same_length(example.mic, enhanced, "example.mic", "enhanced")
    min_seconds = check_positive_float(min_seconds, "min_seconds")
    if min_seconds < _AECMOS_MIN_SECONDS:
        raise ValueError(f"min_seconds must be >= {_AECMOS_MIN_SECONDS:g} (AECMOS needs context), got {min_seconds}")
    rate = example.sample_rate
    rows = []
    for segment in timeline:
        talk_type = TALK_TYPES.get(segment["label"])
        start, end = int(round(segment["start"] * rate)), min(len(enhanced), int(round(segment["end"] * rate)))
        if talk_type is None or end - start < min_seconds * rate:
            continue
        n_pieces = int(np.ceil((end - start) / (_AECMOS_MAX_SECONDS * rate)))
        bounds = np.linspace(start, end, n_pieces + 1).round().astype(int)
        for a, b in zip(bounds[:-1], bounds[1:]):
            score = aecmos(example.ref[a:b], example.mic[a:b], enhanced[a:b], rate, talk_type, model_rate=model_rate)
            rows.append(
                {
                    "label": segment["label"],
                    "talk_type": talk_type,
                    "start": float(a / rate),
                    "end": float(b / rate),
                    "echo_mos": score.echo_mos,
                    "other_mos": score.other_mos,
                }
            )
    return rows
