"""The peer echo cancellers of the benchmarks, behind the echoless frame protocol.

* :class:`Speex` — speexdsp's MDF (``pip install speexdsp``; needs Debian
  ``libspeexdsp-dev`` and ``swig`` to build);
* :class:`WebRtcAec3` — WebRTC audio processing with AEC3 only (noise
  suppression, gain control and VAD off), ``pip install aec-audio-processing``.

Both are in ``pip install echoless[peers]``. Both take 16-bit integer audio
and 10 ms frames; :func:`available_peers` says which can run at a rate.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def _int16(x: np.ndarray) -> bytes:
    return (np.clip(x, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()


class Speex:
    """speexdsp's MDF echo canceller: ``frame_size`` samples per call, a ``filter_ms`` echo path."""

    def __init__(self, sample_rate: int = 16000, frame_size: int = 160, filter_ms: float = 250.0) -> None:
        import speexdsp

        self.frame_size = frame_size
        self._state = speexdsp.EchoCanceller.create(frame_size, round(filter_ms * sample_rate / 1000), sample_rate)

    def process(self, mic: np.ndarray, ref: np.ndarray) -> np.ndarray:
        return np.frombuffer(self._state.process(_int16(mic), _int16(ref)), dtype="<i2") / 32767.0


class WebRtcAec3:
    """WebRTC audio processing (AEC3 only): 10 ms frames at ``sample_rate``."""

    def __init__(self, sample_rate: int = 16000) -> None:
        from aec_audio_processing import AudioProcessor

        processor = AudioProcessor(enable_aec=True, enable_ns=False, enable_agc=False, enable_vad=False)
        processor.set_stream_format(sample_rate, 1)
        processor.set_reverse_stream_format(sample_rate, 1)
        processor.set_stream_delay(0)
        self._processor = processor
        self.frame_size = sample_rate // 100

    def process(self, mic: np.ndarray, ref: np.ndarray) -> np.ndarray:
        self._processor.process_reverse_stream(_int16(ref))
        return np.frombuffer(self._processor.process_stream(_int16(mic)), dtype="<i2") / 32767.0


def available_peers(
    sample_rate: int = 16000, frame_size: int = 160, filter_ms: float = 250.0
) -> tuple[dict[str, Callable[[], object]], list[str]]:
    """Constructors of the peers that run at ``sample_rate``, and a note for each that cannot.

    A peer counts as running when one frame of noise goes through it and
    comes back with ``frame_size`` samples.
    """
    makers: dict[str, Callable[[], object]] = {
        "speexdsp MDF": lambda: Speex(sample_rate, frame_size, filter_ms),
        "WebRTC AEC3": lambda: WebRtcAec3(sample_rate),
    }
    running, missing = {}, []
    noise = 0.1 * np.random.default_rng(0).standard_normal(frame_size)
    for name, make in makers.items():
        try:
            peer = make()
            if peer.frame_size != frame_size or len(peer.process(noise, noise)) != frame_size:
                raise ValueError(f"does not take {frame_size}-sample frames at {sample_rate} Hz")
        except Exception as error:  # ImportError, a broken native build, or a rate it refuses
            missing.append(f"{name} at {sample_rate} Hz: not run ({type(error).__name__}: {error})")
        else:
            running[name] = make
    return running, missing
