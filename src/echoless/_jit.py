"""Compiled per-frame kernels: the one numba configuration every echoless kernel uses.

Streaming cancellers process 10 ms frames. In numpy each frame costs dozens
of calls of about a microsecond of overhead each, plus one pass over the
partition arrays per operation; a compiled kernel fuses those passes and
calls the FFT without numpy's per-call overhead (``rocket-fft`` makes
``numpy.fft`` available inside numba-compiled code).

Options, and why:

* ``cache=True``: the machine code is written next to the module (or to
  ``NUMBA_CACHE_DIR``), so only the first call on a machine pays the
  compile time (about 10 s for all the streaming kernels; later processes
  load them in about 0.3 s);
* ``nogil=True``: cancellers in different threads run in parallel;
* ``error_model="numpy"``: a division by zero gives ``inf``/``nan`` as in
  numpy, never a Python exception from inside a frame; callers check the
  outputs (:meth:`echoless.aec.base.StreamingCanceller.process` never
  returns a non-finite sample);
* no ``fastmath``: IEEE semantics, so NaN and Inf propagate into the checks
  that look for them.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numba
import rocket_fft  # noqa: F401 - registers numpy.fft for numba-compiled code

#: numba options shared by every kernel (see the module notes).
OPTIONS = {"nogil": True, "error_model": "numpy"}


def kernel(function: Callable) -> Callable:
    """Compile ``function`` as a per-frame kernel, cached on disk where numba can write.

    A read-only installation with no writable home directory (and no
    ``NUMBA_CACHE_DIR``) leaves numba nowhere to cache: the kernel is then
    compiled in every process (about 10 s at the first streaming call), with a
    warning saying how to avoid it.
    """
    try:
        return numba.njit(cache=True, **OPTIONS)(function)
    except RuntimeError as error:  # "cannot cache function ...: no locator available"
        warnings.warn(
            f"echoless: numba cannot cache its compiled kernels ({error}); they will be compiled "
            "in every process. Set NUMBA_CACHE_DIR to a writable folder to avoid this.",
            RuntimeWarning,
            stacklevel=2,
        )
        return numba.njit(**OPTIONS)(function)
