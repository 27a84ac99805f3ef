"""Argument checks shared by every public function.

Each check names the offending argument in its message, so a user sees
``ValueError: x must be 1-D, got shape (2, 100)`` instead of a traceback
from deep inside numpy.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable
from typing import Any

import numpy as np


def as_signal(x: Any, name: str, *, allow_empty: bool = False) -> np.ndarray:
    """Return ``x`` as a finite, 1-D ``float64`` array, or raise naming ``name``.

    Parameters
    ----------
    x : array_like, shape (n_samples,)
        Candidate signal. Lists, numpy arrays and CPU torch tensors are accepted.
    name : str
        Argument name used in error messages.
    allow_empty : bool
        Accept a zero-length signal.

    Returns
    -------
    numpy.ndarray, shape (n_samples,), dtype float64

    Raises
    ------
    TypeError
        If ``x`` is not numeric (strings, objects, complex numbers).
    ValueError
        If ``x`` is not 1-D, is empty, or holds NaN or Inf.
    """
    array = _real_array(x, name, "a 1-D numeric array")
    if array.ndim != 1:
        hint = ""
        if array.ndim == 2 and min(array.shape) > 1:
            hint = " (multichannel input: pick one channel, e.g. x[:, 0])"
        raise ValueError(f"{name} must be 1-D, got shape {array.shape}{hint}")
    if array.size == 0 and not allow_empty:
        raise ValueError(f"{name} must not be empty")
    array = array.astype(np.float64, copy=False)
    if not np.all(np.isfinite(array)):
        bad = int(np.count_nonzero(~np.isfinite(array)))
        raise ValueError(f"{name} contains {bad} NaN or Inf value(s)")
    return array


def as_channels(x: Any, name: str) -> np.ndarray:
    """Return ``x`` as a finite ``float64`` array of shape (samples, channels), or raise naming ``name``.

    A 1-D signal is one channel. Raises TypeError (not numeric) or
    ValueError (more than two dimensions, empty, NaN or Inf).
    """
    array = _real_array(x, name, "a numeric array of shape (samples, channels)")
    if array.ndim == 1:
        return as_signal(array, name)[:, None]
    if array.ndim != 2:
        raise ValueError(f"{name} must have shape (samples,) or (samples, channels), got shape {array.shape}")
    if 0 in array.shape:
        raise ValueError(f"{name} must not be empty, got shape {array.shape}")
    return as_signal(array.reshape(-1), name).reshape(array.shape)


def _real_array(x: Any, name: str, expected: str) -> np.ndarray:
    """``x`` as a real numeric numpy array (any shape), or a TypeError naming ``name``."""
    if hasattr(x, "detach") and hasattr(x, "cpu"):  # torch tensor, without importing torch
        x = x.detach().cpu().numpy()
    try:
        array = np.asarray(x)
    except (ValueError, TypeError) as error:  # ragged nested lists
        raise TypeError(f"{name} must be {expected} ({error})") from None
    if array.dtype == object or not (
        np.issubdtype(array.dtype, np.number) or np.issubdtype(array.dtype, np.bool_)
    ):
        raise TypeError(f"{name} must be a real numeric array, got dtype {array.dtype}")
    if np.iscomplexobj(array):
        raise TypeError(f"{name} must be real-valued, got complex dtype {array.dtype}")
    return array


def check_choice(value: Any, name: str, choices: Iterable[str]) -> str:
    """Return ``value`` if it is one of ``choices``, else raise ``ValueError``."""
    options = tuple(choices)
    if not isinstance(value, str) or value not in options:
        listed = ", ".join(repr(option) for option in options)
        raise ValueError(f"unknown {name} {value!r}: expected one of {listed}")
    return value


def check_positive_int(value: Any, name: str, *, minimum: int = 1) -> int:
    """Return ``value`` as ``int`` if it is an integer ``>= minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def check_positive_float(value: Any, name: str, *, allow_zero: bool = False) -> float:
    """Return ``value`` as ``float`` if it is finite and positive (or zero if allowed)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    number = float(value)
    if not np.isfinite(number) or number < 0 or (number == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be finite and {bound}, got {value}")
    return number


def check_same_length(a: np.ndarray, b: np.ndarray, name_a: str, name_b: str) -> None:
    """Raise ``ValueError`` if two signals differ in length, naming both."""
    if len(a) != len(b):
        raise ValueError(
            f"{name_a} and {name_b} must have the same length, got {len(a)} and {len(b)} samples"
        )


def check_delay(delay: Any) -> int | str:
    """Return a bulk delay: a non-negative integer number of samples, or ``"auto"``."""
    if isinstance(delay, str):
        if delay != "auto":
            raise ValueError(f"delay must be a non-negative integer or 'auto', got {delay!r}")
        return delay
    if isinstance(delay, bool) or not isinstance(delay, numbers.Integral):
        raise TypeError(f"delay must be a non-negative integer or 'auto', got {type(delay).__name__}")
    if delay < 0:
        raise ValueError(f"delay must be >= 0 samples, got {delay}")
    return int(delay)
