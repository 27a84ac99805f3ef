"""Reading and writing mono audio files, with the checks echo cancellation needs.

Every signal in echoless is a 1-D ``float64`` array at an explicit sample rate
(multichannel signals, for the multichannel cancellers: ``(samples, channels)``,
:func:`read_audio_channels` and :func:`write_audio_channels`).
:func:`read_audio` turns a file into exactly that or says clearly why it cannot:
missing file, unreadable format, wrong sample rate, several channels, no
samples, NaN or Inf. Integer PCM is scaled to ``[-1, 1)`` (``int16`` sample
``k`` becomes ``k / 32768``), the convention of libsndfile and of most tools.

:func:`write_audio` writes atomically: the data goes to a temporary file in the
destination folder, which is then renamed over the destination
(:func:`os.replace` is atomic on one file system), so a crash never leaves a
half-written file behind.

Input protection
----------------
Every file :func:`read_audio` reads is remembered (by resolved path) for the
life of the Python process. :func:`write_audio` refuses to overwrite any of
them, so a command such as ``echoless cancel mic.wav ref.wav --out mic.wav``
cannot destroy its own input. Write to another path instead; a new process
starts with an empty registry.
"""

from __future__ import annotations

import math
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import soundfile

from echoless._validation import as_channels, as_signal, check_positive_int

__all__ = ["read_audio", "read_audio_channels", "resample_signal", "write_audio", "write_audio_channels"]

# Resolved paths of every file read_audio has read in this process.
_INPUT_PATHS: set[Path] = set()

# Subtypes that store floating-point (or perceptually coded) samples and never clip;
# every other subtype is fixed-point and clips outside [-1, 1].
_FLOAT_SUBTYPES = {"FLOAT", "DOUBLE", "VORBIS", "OPUS", "MPEG_LAYER_III"}


def _as_path(path: Any, name: str = "path") -> Path:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{name} must be a str or os.PathLike, got {type(path).__name__}")
    return Path(path)


def read_audio(
    path: str | os.PathLike,
    sample_rate: int = 16000,
    resample: bool = False,
    *,
    channel: int | None = None,
    protect: bool = True,
) -> np.ndarray:
    """Read a mono audio file as a ``float64`` array at ``sample_rate``.

    Parameters
    ----------
    path : str or os.PathLike
        Any format libsndfile reads (WAV, FLAC, OGG, ...).
    sample_rate : int
        Expected sample rate in Hz.
    resample : bool
        Convert a file at another rate to ``sample_rate`` (polyphase filtering,
        :func:`scipy.signal.resample_poly`) instead of raising.
    channel : int, optional
        Index of the channel to keep from a multichannel file. Without it a
        multichannel file is an error, never silently mixed down.
    protect : bool
        Remember the file as an input of this run, so that :func:`write_audio`
        refuses to overwrite it. Code that reads back results it wrote itself
        (the report) passes ``False``.

    Returns
    -------
    numpy.ndarray, shape (n_samples,), dtype float64
        Samples in ``[-1, 1)`` for integer PCM files.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file is a folder, is not readable audio, has another sample
        rate (and ``resample`` is false), has several channels (and no
        ``channel``), holds no samples, or holds NaN or Inf.
    """
    path = _as_path(path)
    sample_rate = check_positive_int(sample_rate, "sample_rate")
    if channel is not None:
        channel = check_positive_int(channel, "channel", minimum=0)
    data, file_rate = _read_file(path, protect)

    n_channels = data.shape[1]
    if channel is not None:
        if channel >= n_channels:
            raise ValueError(f"channel={channel} is out of range: {path} has {n_channels} channel(s)")
        data = data[:, channel]
    elif n_channels != 1:
        raise ValueError(
            f"{path} has {n_channels} channels, echoless needs mono: pick one with channel=0 "
            f"(command line: --channel 0), or another index below {n_channels}"
        )
    else:
        data = data[:, 0]
    return _checked(data[:, None], path, file_rate, sample_rate, resample)[:, 0]


def read_audio_channels(
    path: str | os.PathLike, sample_rate: int = 16000, resample: bool = False, *, protect: bool = True
) -> np.ndarray:
    """Read every channel of an audio file, as soundfile lays them out.

    Parameters and errors as :func:`read_audio`, but a multichannel file is
    not an error.

    Returns
    -------
    numpy.ndarray, shape (n_samples, n_channels), dtype float64
    """
    path = _as_path(path)
    sample_rate = check_positive_int(sample_rate, "sample_rate")
    data, file_rate = _read_file(path, protect)
    return _checked(data, path, file_rate, sample_rate, resample)


def _read_file(path: Path, protect: bool) -> tuple[np.ndarray, int]:
    """The samples (n_samples, n_channels) and the rate of an existing audio file, or a named error."""
    if not path.exists():
        raise FileNotFoundError(f"audio file not found: {path}")
    if path.is_dir():
        raise ValueError(f"{path} is a folder, not an audio file")
    try:
        data, file_rate = soundfile.read(path, dtype="float64", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError, TypeError) as error:
        raise ValueError(
            f"cannot read {path} as audio ({error}); use a format libsndfile reads, such as WAV or FLAC"
        ) from None
    if protect:
        _INPUT_PATHS.add(path.resolve())
    return data, file_rate


def _checked(data: np.ndarray, path: Path, file_rate: int, sample_rate: int, resample: bool) -> np.ndarray:
    """``data`` (n_samples, n_channels) checked (not empty, finite) and at ``sample_rate``."""
    if data.size == 0:
        raise ValueError(f"{path} holds no samples (empty audio file)")
    bad = int(np.count_nonzero(~np.isfinite(data)))
    if bad:
        raise ValueError(f"{path} contains {bad} NaN or Inf sample(s)")

    if file_rate != sample_rate:
        if not resample:
            raise ValueError(
                f"{path} has sample rate {file_rate} Hz, expected {sample_rate} Hz; "
                f"pass resample=True (command line: --resample) to convert it to {sample_rate} Hz"
            )
        data = np.stack([resample_signal(channel, int(file_rate), sample_rate) for channel in data.T], axis=1)
    return np.ascontiguousarray(data, dtype=np.float64)


def resample_signal(x: Any, orig_rate: int, target_rate: int) -> np.ndarray:
    """Change the sample rate of a signal by polyphase filtering.

    Parameters
    ----------
    x : array_like, shape (n_samples,)
        Signal at ``orig_rate``.
    orig_rate, target_rate : int
        Sample rates in Hz.

    Returns
    -------
    numpy.ndarray, shape (ceil(n_samples * target_rate / orig_rate),)
        :func:`scipy.signal.resample_poly` with the rate ratio in lowest terms
        (its default Kaiser-window anti-aliasing filter).
    """
    import scipy.signal  # slow to import; only resampling needs it

    x = as_signal(x, "x")
    orig_rate = check_positive_int(orig_rate, "orig_rate")
    target_rate = check_positive_int(target_rate, "target_rate")
    if orig_rate == target_rate:
        return x.copy()
    divisor = math.gcd(orig_rate, target_rate)
    return scipy.signal.resample_poly(x, target_rate // divisor, orig_rate // divisor)


def check_output_format(path: str | os.PathLike, subtype: str = "PCM_16") -> str:
    """The libsndfile format that ``path``'s suffix names, checked before any work is done.

    Parameters
    ----------
    path : str or os.PathLike
        Output path; its suffix picks the format (``.wav``, ``.flac``, ...).
    subtype : str
        libsndfile subtype to be written (``"PCM_16"``, ``"FLOAT"``, ...).

    Returns
    -------
    str
        The format name, e.g. ``"WAV"``.

    Raises
    ------
    ValueError
        If the suffix names no format libsndfile can write, or the format cannot hold ``subtype``.
    """
    path = _as_path(path)
    file_format = path.suffix.lstrip(".").upper()
    if file_format not in soundfile.available_formats():
        raise ValueError(f"unknown audio format {path.suffix!r} in {path}: use e.g. .wav or .flac")
    if not soundfile.check_format(file_format, subtype):
        raise ValueError(f"subtype {subtype!r} cannot be written in the {file_format} format ({path})")
    return file_format


def write_audio(
    path: str | os.PathLike,
    x: Any,
    sample_rate: int,
    *,
    subtype: str = "PCM_16",
) -> Path:
    """Write a mono signal to an audio file, atomically.

    Parameters
    ----------
    path : str or os.PathLike
        Destination; its suffix picks the format (``.wav``, ``.flac``, ...).
        Missing parent folders are created.
    x : array_like, shape (n_samples,)
        Finite samples, nominally in ``[-1, 1]``.
    sample_rate : int
        Sample rate in Hz.
    subtype : str
        libsndfile subtype: ``"PCM_16"`` (default, 16-bit WAV), ``"PCM_24"``,
        ``"FLOAT"`` (32-bit float, no clipping), ...

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    ValueError
        If ``path`` was read by :func:`read_audio` in this process, if ``x`` is
        not a finite 1-D signal, or if the format or subtype is unknown.

    Warns
    -----
    UserWarning
        If a fixed-point ``subtype`` forces samples outside ``[-1, 1]`` to be clipped.
    """
    return _write(_as_path(path), as_signal(x, "x"), sample_rate, subtype)


def write_audio_channels(
    path: str | os.PathLike,
    x: Any,
    sample_rate: int,
    *,
    subtype: str = "PCM_16",
) -> Path:
    """Write a multichannel signal to an audio file, atomically.

    Parameters, errors and warnings as :func:`write_audio`, with ``x`` of
    shape (n_samples, n_channels) (a 1-D ``x`` is one channel).
    """
    return _write(_as_path(path), as_channels(x, "x"), sample_rate, subtype)


def _write(path: Path, x: np.ndarray, sample_rate: int, subtype: str) -> Path:
    """:func:`write_audio` of a checked array, (n_samples,) or (n_samples, n_channels)."""
    sample_rate = check_positive_int(sample_rate, "sample_rate")
    if path.resolve() in _INPUT_PATHS:
        raise ValueError(
            f"refusing to overwrite {path}: it was read as an input in this run; write to another path"
        )
    file_format = check_output_format(path, subtype)

    peak = float(np.max(np.abs(x)))
    if subtype not in _FLOAT_SUBTYPES and peak > 1.0:
        warnings.warn(
            f"writing {path}: peak {peak:.3g} exceeds 1.0; samples are clipped to [-1, 1] for {subtype}",
            UserWarning,
            stacklevel=2,
        )
        x = np.clip(x, -1.0, 1.0)

    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(handle)
    try:
        soundfile.write(temporary, x, sample_rate, subtype=subtype, format=file_format)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path
