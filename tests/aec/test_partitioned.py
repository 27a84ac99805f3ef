"""The partitioned filter shared by PBFDAF and PFDKF: the compiled prediction and gradient constraint."""

import numpy as np

from echoless.aec._partitioned import constrain_rows, predict_echo


def test_constraint_keeps_the_first_half_of_the_listed_partitions_only():
    rng = np.random.default_rng(0)
    size, n_partitions = 16, 5
    weights = rng.standard_normal((n_partitions, size + 1)) + 1j * rng.standard_normal((n_partitions, size + 1))
    weights[:, [0, -1]] = weights[:, [0, -1]].real  # spectra of real 2B-sample windows
    expected = weights.copy()
    for row in (0, 3):
        taps = np.fft.irfft(weights[row], 2 * size)
        taps[size:] = 0.0
        expected[row] = np.fft.rfft(taps)
    constrain_rows(weights, np.array([0, 3]))
    np.testing.assert_allclose(weights, expected, rtol=0, atol=1e-14)


def test_prediction_is_overlap_save_and_the_error_spectrum_is_of_the_zero_padded_error():
    rng = np.random.default_rng(1)
    size, n_partitions = 8, 3
    spectra = rng.standard_normal((n_partitions, size + 1)) + 1j * rng.standard_normal((n_partitions, size + 1))
    weights = rng.standard_normal((n_partitions, size + 1)) + 1j * rng.standard_normal((n_partitions, size + 1))
    mic = rng.standard_normal(size)
    echo, error = np.empty(size), np.empty(size)
    error_spectrum = np.empty(size + 1, dtype=complex)
    predict_echo(spectra, weights, mic, echo, error, error_spectrum, True)
    want_echo = np.fft.irfft((spectra * weights).sum(axis=0), 2 * size)[size:]
    np.testing.assert_allclose(echo, want_echo, rtol=0, atol=1e-14)
    np.testing.assert_allclose(error, mic - want_echo, rtol=0, atol=1e-14)
    np.testing.assert_allclose(error_spectrum, np.fft.rfft(np.r_[np.zeros(size), mic - want_echo]), rtol=0, atol=1e-13)
