"""Checks of streaming frames: the per-frame hot path of every streaming class.

Kept apart from :mod:`echoless._validation` because the finiteness test is a
compiled kernel: importing numba (about half a second) is a cost only
streaming code should pay.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from echoless._jit import kernel
from echoless._validation import as_signal


def check_frame(frame: Any, size: int, name: str, size_name: str = "frame_size", *, finite: bool = True) -> np.ndarray:
    """Return one streaming frame as a finite, contiguous ``float64`` array of ``size`` samples, or raise.

    The per-frame hot path: a contiguous ``float64`` array of the right shape
    costs one compiled pass over its samples; anything else goes through
    :func:`as_signal` and its named errors.

    Parameters
    ----------
    frame : array_like, shape (size,)
    size : int
        Samples the frame must hold.
    name, size_name : str
        Names of the frame and of the size argument, for error messages.
    finite : bool
        Check finiteness here (default). A caller whose own compiled pass
        over the samples checks it may skip this one, and call
        :func:`raise_not_finite` when that pass finds NaN or Inf.
    """
    fast = isinstance(frame, np.ndarray) and frame.dtype == np.float64 and frame.flags.c_contiguous
    # contiguous, as the compiled kernels are specialised for (a strided view would compile anew)
    array = frame if fast else np.ascontiguousarray(as_signal(frame, name))
    if array.shape != (size,):
        array = as_signal(array, name)  # raises first on non-1-D input
        raise ValueError(f"{name} must have {size_name}={size} samples, got {len(array)}")
    if finite and not all_finite(array):
        raise_not_finite(array, name)
    return array


def raise_not_finite(frame: np.ndarray, name: str) -> None:
    """Raise the ValueError that names ``frame``'s NaN/Inf count."""
    as_signal(frame, name)


@kernel
def all_finite(array) -> bool:  # pragma: no cover - compiled
    """Whether every sample of a 1-D array is finite: one compiled pass, no overflow warnings."""
    for value in array:
        if not np.isfinite(value):
            return False
    return True
