"""The production convolve() against scipy.signal.convolve (all modes, all methods)."""

import numpy as np
import pytest
import scipy.signal
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from echoless.conv import choose_conv_method, convolve, convolve_partitioned, estimate_costs

METHODS = ["auto", "direct", "fft", "partitioned"]
MODES = ["full", "same", "valid"]
SHAPES = [(1, 1), (1, 5), (5, 1), (2, 2), (17, 4), (4, 17), (100, 100), (1000, 255), (255, 1000), (4096, 513)]

finite = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False)
signal = arrays(np.float64, st.integers(1, 300), elements=finite)


def _tolerance(x, h):
    return 1e-12 * max(1.0, np.abs(x).max() * np.abs(h).sum())


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("n_x", "n_h"), SHAPES)
def test_matches_scipy(method, mode, n_x, n_h):
    rng = np.random.default_rng(n_x + 7 * n_h)
    x, h = rng.standard_normal(n_x), rng.standard_normal(n_h)
    expected = scipy.signal.convolve(x, h, mode=mode, method="direct")
    y = convolve(x, h, mode=mode, method=method)
    assert y.shape == expected.shape
    np.testing.assert_allclose(y, expected, rtol=0, atol=1e-10)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("mode", MODES)
@settings(max_examples=25, deadline=None)
@given(x=signal, h=signal)
def test_matches_scipy_property(method, mode, x, h):
    expected = scipy.signal.convolve(x, h, mode=mode, method="direct")
    np.testing.assert_allclose(convolve(x, h, mode, method), expected, rtol=0, atol=_tolerance(x, h))


@pytest.mark.parametrize("block_size", [1, 2, 7, 64, 300, 5000])
def test_partitioned_is_exact_for_every_block_size(block_size):
    rng = np.random.default_rng(block_size)
    x, h = rng.standard_normal(3000), rng.standard_normal(700)
    np.testing.assert_allclose(convolve_partitioned(x, h, block_size), scipy.signal.convolve(x, h), atol=1e-10)


def test_lists_and_integers_are_accepted():
    np.testing.assert_array_equal(convolve([1, 2, 3], [0, 1], method="direct"), [0.0, 1.0, 2.0, 3.0])


def test_auto_follows_the_cost_model():
    costs = estimate_costs(160_000, 8)
    assert min(costs, key=costs.get) == "direct"
    assert choose_conv_method(np.ones(160_000), np.ones(8)) == "direct"
    long_kernel = estimate_costs(160_000, 16_000)
    assert long_kernel["direct"] > 10 * min(long_kernel["fft"], long_kernel["partitioned"])


def test_choose_conv_method_is_symmetric_like_convolve():
    # convolve takes the longer input as the signal; the choice it reports must not depend on the order
    for n_x, n_h in [(8, 160_000), (300, 20_000), (16_000, 4000)]:
        assert choose_conv_method(np.ones(n_x), np.ones(n_h)) == choose_conv_method(np.ones(n_h), np.ones(n_x))


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"mode": "circular"}, ValueError, "unknown mode 'circular'"),
        ({"method": "winograd"}, ValueError, "unknown method 'winograd'"),
        ({"mode": 3}, ValueError, "unknown mode 3"),
    ],
)
def test_unknown_options_are_named(kwargs, error, message):
    with pytest.raises(error, match=message):
        convolve(np.ones(4), np.ones(2), **kwargs)


@pytest.mark.parametrize(
    ("x", "h", "message"),
    [
        (np.ones((3, 3)), np.ones(2), "x must be 1-D"),
        (np.ones(4), np.ones((2, 1, 1)), "h must be 1-D"),
        (np.ones(4), np.array([]), "h must not be empty"),
        (np.ones(4), np.array([np.nan, 1.0]), "h contains 1 NaN"),
    ],
)
def test_bad_signals_are_named(x, h, message):
    with pytest.raises(ValueError, match=message):
        convolve(x, h)


@pytest.mark.parametrize("block_size", [0, -3])
def test_block_size_must_be_positive(block_size):
    with pytest.raises(ValueError, match="block_size must be >= 1"):
        convolve_partitioned(np.ones(10), np.ones(3), block_size)


def test_block_size_must_be_an_integer():
    with pytest.raises(TypeError, match="block_size must be an integer"):
        convolve_partitioned(np.ones(10), np.ones(3), 2.5)
