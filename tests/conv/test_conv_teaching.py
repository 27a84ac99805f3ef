"""Teaching convolutions against scipy.signal.convolve (1e-10 absolute, float64)."""

import numpy as np
import pytest
import scipy.signal
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from echoless.conv import (
    convolve_by_definition,
    convolve_dot_product,
    convolve_fft,
    convolve_operator_form,
    convolve_rfft,
)

TEACHING = [convolve_by_definition, convolve_dot_product, convolve_operator_form, convolve_fft, convolve_rfft]
SHAPES = [(1, 1), (1, 7), (7, 1), (10, 3), (3, 10), (64, 64), (101, 20), (20, 101), (128, 33)]

finite = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False)
signal = arrays(np.float64, st.integers(1, 40), elements=finite)


@pytest.mark.parametrize("function", TEACHING, ids=lambda f: f.__name__)
@pytest.mark.parametrize(("n_x", "n_h"), SHAPES)
def test_matches_scipy_on_edge_shapes(function, n_x, n_h):
    rng = np.random.default_rng(n_x * 1000 + n_h)
    x, h = rng.standard_normal(n_x), rng.standard_normal(n_h)
    y = function(x, h)
    assert y.shape == (n_x + n_h - 1,)
    np.testing.assert_allclose(y, scipy.signal.convolve(x, h, method="direct"), rtol=0, atol=1e-10)


@pytest.mark.parametrize("function", TEACHING, ids=lambda f: f.__name__)
@settings(max_examples=30, deadline=None)
@given(x=signal, h=signal)
def test_matches_scipy_property(function, x, h):
    expected = scipy.signal.convolve(x, h, method="direct")
    scale = max(1.0, np.abs(x).max() * np.abs(h).sum())
    np.testing.assert_allclose(function(x, h), expected, rtol=0, atol=1e-12 * scale)


@pytest.mark.parametrize("function", TEACHING, ids=lambda f: f.__name__)
def test_zero_padding_commutes_with_convolution(function):
    # the seed's check: padding x with zeros pads x * h with the same zeros
    rng = np.random.default_rng(1)
    x, h = rng.standard_normal(50), rng.standard_normal(9)
    left, right = 13, 21
    padded = function(np.pad(x, (left, right)), h)
    np.testing.assert_allclose(padded, np.pad(function(x, h), (left, right)), rtol=0, atol=1e-10)


def test_length_is_n_plus_k_minus_one_because_of_the_first_and_last_overlap():
    # unit impulses make the support explicit: x * h is nonzero exactly from n=0 to (N-1)+(K-1)
    x, h = np.ones(5), np.ones(3)
    y = convolve_by_definition(x, h)
    np.testing.assert_array_equal(y, [1, 2, 3, 3, 3, 2, 1])


@pytest.mark.parametrize("function", TEACHING, ids=lambda f: f.__name__)
@pytest.mark.parametrize(
    ("x", "error", "message"),
    [
        (np.zeros((2, 5)), ValueError, "x must be 1-D"),
        (np.array([]), ValueError, "x must not be empty"),
        (np.array([1.0, np.nan]), ValueError, "x contains 1 NaN or Inf"),
        (np.array([1.0, np.inf]), ValueError, "x contains 1 NaN or Inf"),
        (np.array(["a", "b"]), TypeError, "x must be a real numeric array"),
        (np.array([1 + 1j]), TypeError, "x must be real-valued"),
    ],
)
def test_bad_input_names_the_argument(function, x, error, message):
    with pytest.raises(error, match=message):
        function(x, np.ones(3))
