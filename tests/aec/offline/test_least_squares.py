"""Least squares: exact FIR recovery, agreement with dense lstsq, and the gap to gradient descent."""

import numpy as np
import pytest
import scipy.linalg
import scipy.signal
import torch

from echoless.aec import ComplexMse, fit_spectral_lms, fit_spectral_ls, fit_waveform_lms, fit_waveform_ls

SMALL_STFT = {"kernel_size": 4, "n_fft": 256, "hop_length": 64}


def _convolution_matrix(ref, n_taps):
    """Dense T x K causal convolution matrix X[t, k] = ref[t - k] (independent reference)."""
    return scipy.linalg.toeplitz(ref, np.zeros(n_taps))


def test_recovers_a_known_fir_without_noise():
    rng = np.random.default_rng(0)
    ref = scipy.signal.lfilter([1.0], [1.0, -0.9], rng.standard_normal(5000))  # strongly coloured
    rir = rng.standard_normal(64) * np.exp(-np.arange(64) / 10)
    mic = scipy.signal.convolve(ref, rir)[:5000]
    model = fit_waveform_ls(mic, ref, 64)
    assert np.max(np.abs(model.get_kernel() - rir)) < 1e-8
    assert model.weight.dtype == torch.float64


@pytest.mark.parametrize("ridge", [0.0, 1e-2])
def test_matches_dense_least_squares(scene, ridge):
    # the cropped objective: its Gram matrix is not Toeplitz, CG must still reach the exact minimiser
    X = _convolution_matrix(scene.ref, 40)
    gram = X.T @ X + ridge * np.sum(scene.ref**2) * np.eye(40)
    expected = np.linalg.solve(gram, X.T @ scene.mic)
    solution = fit_waveform_ls(scene.mic, scene.ref, 40, ridge=ridge).get_kernel()
    assert np.max(np.abs(solution - expected)) < 1e-10 * np.max(np.abs(expected))


def test_gradient_descent_approaches_the_optimum(scene):
    optimum = np.mean((scene.mic - fit_waveform_ls(scene.mic, scene.ref, 32).apply(scene.ref)) ** 2)
    model, logs = fit_waveform_lms(
        scene.mic, scene.ref, kernel_seconds=32 / 16000, n_steps=400, lr=3e-2, progress=False
    )
    reached = np.mean((scene.mic - model.apply(scene.ref)) ** 2)
    # LS is the minimum (up to float32 rounding of the GD weights); 400 Adam steps get within 1e-4 of it
    assert optimum * (1 - 1e-6) <= reached <= optimum * (1 + 1e-4)
    assert logs[0]["loss"] > 100 * optimum  # it really had to travel


def _spectral_loss(model, mic, ref):
    with torch.no_grad():
        estimate = model.spectral(model.prepare_spectrogram(torch.from_numpy(ref)))
        return float(ComplexMse()(estimate.to(torch.complex128), model.prepare_spectrogram(torch.from_numpy(mic)).to(torch.complex128)))


def test_spectral_ls_matches_per_frequency_lstsq(scene):
    model = fit_spectral_ls(scene.mic, scene.ref, **SMALL_STFT)
    ref_frames = model.prepare_spectrogram(torch.from_numpy(scene.ref)).numpy()
    mic_frames = model.prepare_spectrogram(torch.from_numpy(scene.mic)).numpy()
    for f in (0, 17, 128):
        design = scipy.linalg.toeplitz(ref_frames[f], np.zeros(4))  # (M, K): delayed frames
        expected = np.linalg.lstsq(design, mic_frames[f], rcond=None)[0]
        np.testing.assert_allclose(model.get_kernel()[f], expected, rtol=1e-9, atol=1e-12)


def test_spectral_ls_is_below_gradient_descent_and_a_minimum(scene):
    model = fit_spectral_ls(scene.mic, scene.ref, **SMALL_STFT)
    optimum = _spectral_loss(model, scene.mic, scene.ref)
    gd_model, logs = fit_spectral_lms(scene.mic, scene.ref, n_steps=100, lr=5e-2, progress=False, **SMALL_STFT)
    assert optimum <= min(row["loss"] for row in logs) * (1 + 1e-6)
    assert optimum <= _spectral_loss(gd_model, scene.mic, scene.ref)
    # a minimum: any perturbation of the kernels increases the loss
    kernel = model.get_kernel()
    rng = np.random.default_rng(4)
    for _ in range(3):
        model.set_kernel(kernel + 1e-3 * (rng.standard_normal(kernel.shape) + 1j * rng.standard_normal(kernel.shape)))
        assert _spectral_loss(model, scene.mic, scene.ref) > optimum


def test_ridge_shrinks_the_solution(scene):
    plain = fit_spectral_ls(scene.mic, scene.ref, **SMALL_STFT).get_kernel()
    shrunk = fit_spectral_ls(scene.mic, scene.ref, ridge=1.0, **SMALL_STFT).get_kernel()
    assert np.linalg.norm(shrunk) < np.linalg.norm(plain)


def test_silent_reference_bins_get_zero_kernels():
    # a reference with no energy at some frequencies: min-norm solution, no NaN
    t = np.arange(2000)
    ref = np.sin(2 * np.pi * 0.125 * t)
    model = fit_spectral_ls(ref * 0.5, ref, **SMALL_STFT)
    assert np.all(np.isfinite(model.get_kernel()))


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: fit_waveform_ls(np.ones(100), np.zeros(100), 4), ValueError, "ref is all zeros"),
        (lambda: fit_waveform_ls(np.ones(100), np.ones(100), 101), ValueError, "kernel_size \\(101\\) must be <="),
        (lambda: fit_waveform_ls(np.ones(100), np.ones(100), 4, ridge=-1.0), ValueError, "ridge must be"),
        (lambda: fit_waveform_ls(np.ones(100), np.ones(99), 4), ValueError, "same length"),
        (lambda: fit_waveform_ls(np.ones(100), np.ones(100), 2.5), TypeError, "kernel_size must be an integer"),
        (lambda: fit_spectral_ls(np.ones(100), np.ones(100), n_fft=256, hop_length=64), ValueError, "n_fft=256"),
        (lambda: fit_spectral_ls(np.ones((100, 2)), np.ones(100)), ValueError, "mic must be 1-D"),
    ],
)
def test_rejects_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call()
