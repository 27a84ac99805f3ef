"""FFT normal-equation products against the dense Toeplitz matrix of delayed copies."""

import numpy as np
import scipy.linalg

from echoless.conv.correlation import CroppedConvolutionGram, fft_size


def _dense(x, taps):
    # X[t, k] = x[t - k]: the (T, K) matrix of delayed copies (cropped convolution X h = (x * h)[:T])
    return scipy.linalg.toeplitz(x, np.r_[x[0], np.zeros(taps - 1)])


def test_products_match_the_dense_matrix():
    rng = np.random.default_rng(0)
    x, v, h = rng.standard_normal(300), rng.standard_normal(300), rng.standard_normal(17)
    gram, X = CroppedConvolutionGram(x, 17), _dense(x, 17)
    np.testing.assert_allclose(gram.filter(h), X @ h, atol=1e-12)
    np.testing.assert_allclose(gram.correlate(v), X.T @ v, atol=1e-12)
    np.testing.assert_allclose(gram.gram_times(h), X.T @ X @ h, atol=1e-11)


def test_autocorrelation_is_the_gram_matrix_when_the_signal_ends_in_silence():
    # with K - 1 trailing zeros nothing is cropped away, so X^T X is exactly Toeplitz
    x = np.r_[np.random.default_rng(1).standard_normal(200), np.zeros(9)]
    gram, X = CroppedConvolutionGram(x, 10), _dense(x, 10)
    np.testing.assert_allclose(scipy.linalg.toeplitz(gram.autocorrelation()), X.T @ X, atol=1e-11)


def test_fft_size_is_even_and_large_enough():
    for length, taps in [(1, 1), (100, 7), (1001, 1000), (16000, 4000)]:
        size = fft_size(length, taps)
        assert size % 2 == 0 and size >= length + taps - 1
