"""torch conv1d and STFT-domain convolution against scipy and each other (1e-5 relative, float32)."""

import numpy as np
import pytest
import scipy.signal
import torch

from echoless.conv import convolve_pt, stft_domain_convolution


def _rel_error(a, b):
    a, b = torch.as_tensor(a, dtype=torch.float64), torch.as_tensor(b, dtype=torch.float64)
    return float((a - b).abs().max() / b.abs().max())


@pytest.mark.parametrize(("n_x", "n_h"), [(1, 1), (10, 3), (3, 10), (1000, 257), (64, 64)])
def test_full_matches_scipy(n_x, n_h):
    rng = np.random.default_rng(n_x)
    x, h = rng.standard_normal(n_x), rng.standard_normal(n_h)
    expected = scipy.signal.convolve(x, h)
    assert _rel_error(convolve_pt(torch.tensor(x, dtype=torch.float32), torch.tensor(h, dtype=torch.float32)), expected) < 1e-5
    np.testing.assert_allclose(convolve_pt(x, h), expected, atol=1e-10)  # float64 numpy in, numpy out


def test_valid_matches_scipy_and_rejects_long_kernel():
    rng = np.random.default_rng(2)
    x, h = rng.standard_normal(500), rng.standard_normal(31)
    np.testing.assert_allclose(convolve_pt(x, h, "valid"), scipy.signal.convolve(x, h, "valid"), atol=1e-10)
    with pytest.raises(ValueError, match="len\\(h\\) <= len\\(x\\)"):
        convolve_pt(h, x, "valid")


def test_three_d_tensors_keep_their_shape():
    y = convolve_pt(torch.randn(1, 1, 50), torch.randn(1, 1, 5))
    assert y.shape == (1, 1, 54)


def test_conv1d_without_flip_is_correlation_not_convolution():
    # conv1d correlates: with an asymmetric kernel, skipping the flip convolves with h reversed
    rng = np.random.default_rng(3)
    x = torch.tensor(rng.standard_normal(200))
    h = torch.tensor([1.0, 0.5, -0.25, 0.125], dtype=torch.float64)
    unflipped = torch.nn.functional.conv1d(x[None, None], h[None, None], padding=3)[0, 0]
    assert _rel_error(unflipped, convolve_pt(x, h)) > 0.5
    np.testing.assert_allclose(unflipped.numpy(), scipy.signal.convolve(x.numpy(), h.flip(0).numpy()), atol=1e-12)


@pytest.mark.parametrize("method", ["dot", "conv1d"])
def test_stft_domain_convolution_seed_check(method):
    # the seed's check: 20 trials, x of 16000 samples, h of 1000 taps, windows of 200
    generator = torch.Generator().manual_seed(0)
    for _ in range(20):
        x, h = torch.randn(16000, generator=generator), torch.randn(1000, generator=generator)
        assert _rel_error(stft_domain_convolution(x, h, win_size=200, method=method), convolve_pt(x, h, "full")) < 1e-5


@pytest.mark.parametrize("method", ["dot", "conv1d"])
@pytest.mark.parametrize(("n_x", "n_h", "win_size"), [(1, 1, 1), (100, 37, 7), (37, 100, 16), (500, 20, 512), (1000, 999, 64)])
def test_stft_domain_convolution_matches_scipy_in_float64(method, n_x, n_h, win_size):
    rng = np.random.default_rng(n_x + n_h)
    x, h = rng.standard_normal(n_x), rng.standard_normal(n_h)
    y = stft_domain_convolution(x, h, win_size, method)
    assert isinstance(y, np.ndarray)
    np.testing.assert_allclose(y, scipy.signal.convolve(x, h), atol=1e-10)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: convolve_pt(torch.randn(2, 1, 5), torch.randn(3)), ValueError, "x must have shape"),
        (lambda: convolve_pt(torch.randn(5), torch.randn(3), mode="same"), ValueError, "unknown mode 'same'"),
        (lambda: convolve_pt(torch.tensor([1.0, float("nan")]), torch.randn(3)), ValueError, "x contains 1 NaN"),
        (lambda: convolve_pt(torch.arange(5), torch.randn(3)), TypeError, "x must be a real floating-point tensor"),
        (lambda: stft_domain_convolution(torch.randn(5), torch.randn(3), win_size=0), ValueError, "win_size must be >= 1"),
        (lambda: stft_domain_convolution(torch.randn(5), torch.randn(3), method="fft"), ValueError, "unknown method 'fft'"),
        (lambda: stft_domain_convolution(torch.randn(5), torch.empty(0)), ValueError, "h must not be empty"),
    ],
)
def test_bad_input_names_the_argument(call, error, message):
    with pytest.raises(error, match=message):
        call()
