"""One echo-cancellation example: what every canceller and metric consumes.

The microphone records ``mic = echo + near_end``, where ``echo`` is the
far-end reference ``ref`` after the loudspeaker and the room, and ``near_end``
is everything else (the near-end talker and noise). Synthetic data knows both
parts; a real recording knows only ``mic`` and ``ref``. Given one part, the
other follows from ``mic`` exactly as the seed builds it:
``echo = mic - near_end``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from echoless._validation import as_signal, check_positive_int, check_same_length

__all__ = ["EchoExample"]


@dataclass
class EchoExample:
    """Microphone and reference signals, and the truth when it is known.

    Parameters
    ----------
    mic : numpy.ndarray, shape (T,), float64
        Microphone signal.
    ref : numpy.ndarray, shape (T,), float64
        Far-end reference (what the loudspeaker played).
    sample_rate : int
        Sample rate of all signals, in Hz.
    near_end : numpy.ndarray, shape (T,), optional
        True near-end signal (talker plus noise). Synthetic data only.
    echo : numpy.ndarray, shape (T,), optional
        True echo. When only one of ``near_end`` and ``echo`` is given, the
        other is derived as ``mic`` minus it.
    rir : numpy.ndarray, shape (K,), optional
        True echo path (impulse response from the reference to the echo, before
        any path change). Synthetic data only; drawn beside estimated paths.
    name : str
        Short label, e.g. ``"synth"``.
    meta : dict
        Free-form description (scene parameters, file paths, ...).
    """

    mic: np.ndarray
    ref: np.ndarray
    sample_rate: int
    near_end: np.ndarray | None = None
    echo: np.ndarray | None = None
    rir: np.ndarray | None = None
    name: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.mic = as_signal(self.mic, "mic")
        self.ref = as_signal(self.ref, "ref")
        check_same_length(self.mic, self.ref, "mic", "ref")
        self.sample_rate = check_positive_int(self.sample_rate, "sample_rate")
        if self.rir is not None:
            self.rir = as_signal(self.rir, "rir")
        for name in ("near_end", "echo"):
            value = getattr(self, name)
            if value is not None:
                value = as_signal(value, name)
                check_same_length(self.mic, value, "mic", name)
                setattr(self, name, value)
        if self.near_end is not None and self.echo is None:
            self.echo = self.mic - self.near_end
        elif self.echo is not None and self.near_end is None:
            self.near_end = self.mic - self.echo
        if not isinstance(self.name, str):
            raise TypeError(f"name must be a str, got {type(self.name).__name__}")
        if not isinstance(self.meta, dict):
            raise TypeError(f"meta must be a dict, got {type(self.meta).__name__}")

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return len(self.mic) / self.sample_rate

    @property
    def has_truth(self) -> bool:
        """Whether the true echo and near end are known (synthetic data)."""
        return self.echo is not None
