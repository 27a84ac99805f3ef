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

Long files
----------
:class:`AudioReader` reads a file block by block with the same checks, and
:class:`AudioWriter` writes one block by block, atomically too, so an hour of
audio passes through in a few megabytes (:func:`echoless.aec.files.cancel_file`).
:func:`read_audio` and :func:`write_audio` are one block of each.

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

__all__ = ["AudioReader", "AudioWriter", "read_audio", "read_audio_channels", "resample_signal", "write_audio", "write_audio_channels"]

# Resolved paths of every file read_audio has read in this process.
_INPUT_PATHS: set[Path] = set()

# Subtypes that store floating-point (or perceptually coded) samples and never clip;
# every other subtype is fixed-point and clips outside [-1, 1].
_FLOAT_SUBTYPES = {"FLOAT", "DOUBLE", "VORBIS", "OPUS", "MPEG_LAYER_III"}


def _as_path(path: Any, name: str = "path") -> Path:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{name} must be a str or os.PathLike, got {type(path).__name__}")
    return Path(path)


class AudioReader:
    """One channel of an audio file, read block by block as checked ``float64`` samples.

    The header is checked when the reader is made (missing file, unreadable
    format, channels, no samples), each block when it is read (NaN or Inf),
    so a long file is refused as early as possible without being loaded.
    Use it as a context manager, or call :meth:`close`.

    Parameters
    ----------
    path : str or os.PathLike
        Any format libsndfile reads (WAV, FLAC, OGG, ...).
    channel : int, optional
        Index of the channel to keep from a multichannel file. Without it a
        multichannel file is an error, never silently mixed down.
    all_channels : bool
        Keep every channel: blocks are then (n, n_channels).
    protect : bool
        Remember the file as an input of this run, so that :func:`write_audio`
        and :class:`AudioWriter` refuse to overwrite it.

    Attributes
    ----------
    path : pathlib.Path
    sample_rate : int
        The file's sample rate in Hz (checked by the caller, see :meth:`check_rate`).
    n_samples : int
        Samples per channel in the file.
    channels : int
        Channels of each block read: the file's with ``all_channels``, else 1.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file is a folder, is not readable audio, has several channels
        (and no ``channel``) or holds no samples.
    """

    def __init__(
        self, path: str | os.PathLike, *, channel: int | None = None, all_channels: bool = False, protect: bool = True
    ) -> None:
        self.path = path = _as_path(path)
        if channel is not None:
            channel = check_positive_int(channel, "channel", minimum=0)
            if all_channels:
                raise ValueError("give channel or all_channels, not both")
        if not path.exists():
            raise FileNotFoundError(f"audio file not found: {path}")
        if path.is_dir():
            raise ValueError(f"{path} is a folder, not an audio file")
        try:
            self._file = soundfile.SoundFile(path)
        except (soundfile.LibsndfileError, RuntimeError, TypeError) as error:
            raise ValueError(
                f"cannot read {path} as audio ({error}); use a format libsndfile reads, such as WAV or FLAC"
            ) from None
        try:
            n_channels = self._file.channels
            if channel is not None and channel >= n_channels:
                raise ValueError(f"channel={channel} is out of range: {path} has {n_channels} channel(s)")
            if channel is None and not all_channels and n_channels != 1:
                raise ValueError(
                    f"{path} has {n_channels} channels, echoless needs mono: pick one with channel=0 "
                    f"(command line: --mic-channel 0 / --ref-channel 0), or another index below {n_channels}"
                )
            if self._file.frames <= 0:
                raise ValueError(f"{path} holds no samples (empty audio file)")
        except BaseException:
            self._file.close()
            raise
        if protect:
            _INPUT_PATHS.add(path.resolve())
        self._channel = slice(None) if all_channels else channel or 0
        self.channels = n_channels if all_channels else 1
        self.sample_rate = int(self._file.samplerate)
        self.n_samples = int(self._file.frames)

    def check_rate(self, sample_rate: int) -> None:
        """Raise a ValueError, saying how to fix it, unless the file is at ``sample_rate`` Hz."""
        if self.sample_rate != sample_rate:
            raise ValueError(
                f"{self.path} has sample rate {self.sample_rate} Hz, expected {sample_rate} Hz; "
                f"pass resample=True (echoless cancel: --resample) to convert it, or expect {self.sample_rate} Hz "
                f"(--sample-rate {self.sample_rate})"
            )

    def read(self, n_samples: int = -1) -> np.ndarray:
        """The next ``n_samples`` samples (fewer at the end, all that are left with -1).

        Returns
        -------
        numpy.ndarray, shape (n,), or (n, n_channels) with ``all_channels``, float64
            Integer PCM scaled to ``[-1, 1)``; empty at the end of the file.

        Raises
        ------
        ValueError
            If the block holds NaN or Inf.
        """
        start = self._file.tell()
        data = self._file.read(n_samples, dtype="float64", always_2d=True)[:, self._channel]
        bad = int(np.count_nonzero(~np.isfinite(data)))
        if bad:
            where = "" if start == 0 and len(data) == self.n_samples else f" (from {start / self.sample_rate:.1f} s)"
            raise ValueError(f"{self.path} contains {bad} NaN or Inf sample(s){where}")
        return np.ascontiguousarray(data)

    def close(self) -> None:
        """Close the file."""
        self._file.close()

    def __enter__(self) -> "AudioReader":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


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
    sample_rate = check_positive_int(sample_rate, "sample_rate")
    with AudioReader(path, channel=channel, protect=protect) as reader:
        if not resample:
            reader.check_rate(sample_rate)
        data = reader.read()
    if reader.sample_rate != sample_rate:
        data = resample_signal(data, reader.sample_rate, sample_rate)
    return data


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
    sample_rate = check_positive_int(sample_rate, "sample_rate")
    with AudioReader(path, all_channels=True, protect=protect) as reader:
        if not resample:
            reader.check_rate(sample_rate)
        data = reader.read()
    if reader.sample_rate != sample_rate:
        data = np.stack([resample_signal(channel, reader.sample_rate, sample_rate) for channel in data.T], axis=1)
    return data


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


def publish(temporary: str | os.PathLike, path: Path) -> None:
    """Move a finished temporary file over ``path`` (:func:`os.replace`, atomic), with the mode a
    newly created file would have (``mkstemp`` makes it 0600; the umask decides, as for ``open``)."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(temporary, 0o666 & ~umask)
    os.replace(temporary, path)


class AudioWriter:
    """An audio file written block by block, atomically.

    The blocks go to a temporary file in the destination folder, which
    :meth:`close` renames over ``path`` (:func:`os.replace`); leaving the
    ``with`` block by an exception deletes it instead, so ``path`` either
    keeps its old content or holds the whole new one. Samples are written as
    :func:`write_audio` writes them, block by block: the file is the same,
    byte for byte, however the signal was cut.

    Parameters
    ----------
    path : str or os.PathLike
        Destination; its suffix picks the format (``.wav``, ``.flac``, ...).
        Missing parent folders are created.
    sample_rate : int
        Sample rate in Hz.
    subtype : str
        libsndfile subtype: ``"PCM_16"`` (default), ``"PCM_24"``, ``"FLOAT"``, ...
    channels : int
        Channels of the file (default 1).

    Raises
    ------
    ValueError
        If ``path`` was read as an input in this process, or the format or
        subtype is unknown.

    Warns
    -----
    UserWarning
        On :meth:`close`, if a fixed-point ``subtype`` forced samples outside
        ``[-1, 1]`` to be clipped (once, with the peak).
    """

    def __init__(
        self, path: str | os.PathLike, sample_rate: int, *, subtype: str = "PCM_16", channels: int = 1
    ) -> None:
        self.path = path = _as_path(path)
        self.sample_rate = check_positive_int(sample_rate, "sample_rate")
        self.channels = check_positive_int(channels, "channels")
        if path.resolve() in _INPUT_PATHS:
            raise ValueError(
                f"refusing to overwrite {path}: it was read as an input in this run; write to another path"
            )
        file_format = check_output_format(path, subtype)
        self._clips = subtype not in _FLOAT_SUBTYPES
        self._subtype = subtype
        self._peak = 0.0
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(handle)
        self._temporary = Path(temporary)
        try:
            self._file = soundfile.SoundFile(
                temporary, "w", self.sample_rate, self.channels, subtype=subtype, format=file_format
            )
        except BaseException:
            self._temporary.unlink(missing_ok=True)
            raise

    def write(self, block: Any) -> None:
        """Append finite samples, shape (n,), or (n, channels) for a multichannel file; an empty
        block is allowed."""
        if self.channels == 1:
            if np.ndim(block) == 2 and np.shape(block)[1] == 1:  # one column: the one channel
                block = np.asarray(block)[:, 0]
            block = as_signal(block, "block", allow_empty=True)
        elif len(block):
            block = as_channels(block, "block")
            if block.shape[1] != self.channels:
                raise ValueError(f"block must have {self.channels} channels, got {block.shape[1]}")
        if self._clips and block.size:
            peak = float(np.max(np.abs(block)))
            if peak > 1.0:
                self._peak = max(self._peak, peak)
                block = np.clip(block, -1.0, 1.0)
        self._file.write(block)

    def close(self) -> Path:
        """Finish the file and move it to ``path``; return ``path``."""
        try:
            self._file.close()
            publish(self._temporary, self.path)
        except BaseException:
            self.abort()
            raise
        if self._peak > 1.0:
            warnings.warn(
                f"writing {self.path}: peak {self._peak:.3g} exceeds 1.0; samples are clipped to [-1, 1] "
                f"for {self._subtype}",
                UserWarning,
                stacklevel=3,
            )
        return self.path

    def abort(self) -> None:
        """Drop the temporary file; ``path`` keeps whatever it held."""
        self._file.close()
        self._temporary.unlink(missing_ok=True)

    def __enter__(self) -> "AudioWriter":
        return self

    def __exit__(self, exc_type, *exc_info) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


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
    x = as_signal(x, "x")
    with AudioWriter(path, sample_rate, subtype=subtype) as writer:
        writer.write(x)
    return writer.path


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
    x = as_channels(x, "x")
    with AudioWriter(path, sample_rate, subtype=subtype, channels=x.shape[1]) as writer:
        writer.write(x)
    return writer.path
