"""The compiled-kernel decorator: cached where possible, still compiled where numba cannot cache."""

import numba
import numpy as np
import pytest

from echoless import _jit


def _double(x):
    return 2.0 * x


def test_kernels_are_compiled_and_cached():
    compiled = _jit.kernel(_double)
    assert compiled(np.ones(3)).tolist() == [2.0, 2.0, 2.0]
    assert compiled._cache is not None and compiled._cache.cache_path


def test_without_a_writable_cache_location_it_warns_and_still_compiles(monkeypatch):
    real_njit = numba.njit

    def njit_without_locator(*args, cache=False, **options):
        if cache:
            raise RuntimeError("cannot cache function '_double': no locator available")
        return real_njit(*args, **options)

    monkeypatch.setattr(numba, "njit", njit_without_locator)
    with pytest.warns(RuntimeWarning, match="NUMBA_CACHE_DIR"):
        compiled = _jit.kernel(_double)
    assert compiled(np.ones(2)).tolist() == [2.0, 2.0]
