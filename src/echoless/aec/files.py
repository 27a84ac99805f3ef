"""Echo cancellation from files to files, in blocks, so that memory does not grow with duration.

:func:`cancel_file` reads the microphone and reference files a block at a
time (:class:`echoless.io.AudioReader`), runs a streaming canceller over
them (:func:`echoless.aec.streaming.cancel_blocks`) and writes the near end
as it comes (:class:`echoless.io.AudioWriter`: a temporary file renamed over
the output at the end, so an interrupted run leaves no half-written file).
An hour at 16 kHz passes through in a few MB besides the interpreter; the
samples are the same, bit for bit, as :func:`echoless.aec.cancel` on the
whole arrays.

Offline methods fit one filter on the whole recording, and resampling is
done on the whole file: with those, the pair is read whole.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from echoless._validation import check_positive_int
from echoless.aec.methods import DEFAULT_METHOD, cancel, check_method, make_canceller

#: Samples read per block, in seconds of audio (the memory a stream holds is a few of these).
BLOCK_SECONDS = 1.0


@dataclass(frozen=True)
class FileCancellation:
    """What :func:`cancel_file` did.

    Attributes
    ----------
    n_samples : int
        Samples written (the length of the microphone file, after resampling).
    sample_rate : int
        Sample rate of the output, Hz.
    seconds : float
        Wall-clock time of reading, cancelling and writing, seconds.
    streamed : bool
        True when the pair was processed block by block, False when it was read whole.
    clock_drift_ppm : float or None
        The streaming canceller's estimate of MIC's clock drift against REF
        (:attr:`echoless.aec.base.StreamingCanceller.clock_drift_ppm`), when
        streamed and measured.
    """

    n_samples: int
    sample_rate: int
    seconds: float
    streamed: bool
    clock_drift_ppm: float | None = None

    @property
    def duration(self) -> float:
        """Length of the recording, seconds."""
        return self.n_samples / self.sample_rate

    @property
    def real_time_factor(self) -> float:
        """Seconds of audio processed per second of wall-clock time (file I/O included)."""
        return self.duration / max(self.seconds, 1e-12)


def cancel_file(
    mic_path: str | os.PathLike,
    ref_path: str | os.PathLike,
    out_path: str | os.PathLike,
    method: str = DEFAULT_METHOD,
    sample_rate: int = 16000,
    *,
    echo_path: str | os.PathLike | None = None,
    mic_channel: int | None = None,
    ref_channel: int | None = None,
    resample: bool = False,
    subtype: str = "PCM_16",
    block_size: int | None = None,
    **options,
) -> FileCancellation:
    """Cancel the echo of a recording on disk and write the near-end estimate.

    Parameters
    ----------
    mic_path, ref_path : str or os.PathLike
        Microphone and far-end reference files (any format libsndfile reads),
        of the same length.
    out_path : str or os.PathLike
        Where the near-end estimate goes (its suffix picks the format); written atomically.
    method : str
        A name of :data:`echoless.aec.METHODS` (default ``"pfdkf"``).
    sample_rate : int
        Expected sample rate of both files, Hz (default 16000).
    echo_path : str or os.PathLike, optional
        Also write the echo estimate ``mic - near end`` there.
    mic_channel, ref_channel : int, optional
        Channel to take from a multichannel file (default: the file must be mono).
    resample : bool
        Resample a file at another rate (the pair is then read whole) instead of refusing it.
    subtype : str
        libsndfile subtype of the outputs (default ``"PCM_16"``; ``"FLOAT"`` neither rounds nor clips).
    block_size : int, optional
        Samples read at a time (default :data:`BLOCK_SECONDS` of audio). It
        changes memory and speed, never the output.
    **options
        Canceller options, as for :func:`echoless.aec.cancel`.

    Returns
    -------
    FileCancellation

    Raises
    ------
    FileNotFoundError
        If an input is missing.
    ValueError
        If an input is not readable mono audio at ``sample_rate`` (see
        :func:`echoless.io.read_audio`), the two differ in length, an output
        is an input or has an unknown format, or an option value is invalid.
    TypeError
        If an option does not apply to ``method``.

    Examples
    --------
    >>> from echoless.aec.files import cancel_file           # doctest: +SKIP
    >>> cancel_file("mic.wav", "ref.wav", "near.wav").real_time_factor  # doctest: +SKIP
    """
    from echoless.io import AudioReader, AudioWriter, check_output_format, write_audio

    entry = check_method(method)
    sample_rate = check_positive_int(sample_rate, "sample_rate")
    block_size = check_positive_int(round(BLOCK_SECONDS * sample_rate) if block_size is None else block_size, "block_size")
    outputs = [Path(out_path)] + ([] if echo_path is None else [Path(echo_path)])
    for path in outputs:  # refuse an unwritable output before the work, not after
        check_output_format(path, subtype)
    start = time.perf_counter()
    with AudioReader(mic_path, channel=mic_channel) as mic, AudioReader(ref_path, channel=ref_channel) as ref:
        for reader in (mic, ref):
            if not resample:
                reader.check_rate(sample_rate)
        if mic.n_samples * ref.sample_rate != ref.n_samples * mic.sample_rate:
            raise ValueError(
                f"{mic.path} and {ref.path} must have the same length, got {mic.n_samples} and {ref.n_samples} samples"
            )
        if entry.streaming and mic.sample_rate == ref.sample_rate == sample_rate:
            canceller = make_canceller(method, sample_rate, **options)
            with AudioWriter(outputs[0], sample_rate, subtype=subtype) as near_writer:
                echo_writer = None if echo_path is None else AudioWriter(outputs[1], sample_rate, subtype=subtype)
                try:
                    _stream(canceller, mic, ref, block_size, near_writer, echo_writer)
                except BaseException:
                    if echo_writer is not None:
                        echo_writer.abort()
                    raise
                if echo_writer is not None:
                    echo_writer.close()
            return FileCancellation(
                mic.n_samples, sample_rate, time.perf_counter() - start, streamed=True,
                clock_drift_ppm=getattr(canceller, "clock_drift_ppm", None),
            )
        from echoless.io import resample_signal

        signals = [
            reader.read() if reader.sample_rate == sample_rate else resample_signal(reader.read(), reader.sample_rate, sample_rate)
            for reader in (mic, ref)
        ]
    near_end = cancel(*signals, method, sample_rate, **options)
    write_audio(outputs[0], near_end, sample_rate, subtype=subtype)
    if echo_path is not None:
        write_audio(outputs[1], signals[0] - near_end, sample_rate, subtype=subtype)
    return FileCancellation(len(near_end), sample_rate, time.perf_counter() - start, streamed=False)


def _stream(canceller, mic, ref, block_size: int, near_writer, echo_writer) -> None:
    """Read, cancel and write block by block; the echo is the microphone minus the aligned output."""
    from echoless.aec.streaming import cancel_blocks

    pending_mic: list[np.ndarray] = []  # microphone samples whose output is not out yet (latency)

    def blocks() -> Iterator[tuple[np.ndarray, np.ndarray]]:
        while True:
            mic_block, ref_block = mic.read(block_size), ref.read(block_size)
            if not len(mic_block):
                return
            if echo_writer is not None:
                pending_mic.append(mic_block)
            yield mic_block, ref_block

    for out in cancel_blocks(canceller, blocks()):
        near_writer.write(out)
        if echo_writer is not None and len(out):
            aligned = np.concatenate(pending_mic)
            echo_writer.write(aligned[: len(out)] - out)
            pending_mic[:] = [aligned[len(out) :]]
