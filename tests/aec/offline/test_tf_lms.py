"""TF LMS: the per-frequency convolution against a loop, STFT round trip, ComplexMse, the fit and its logs."""

import math

import numpy as np
import pytest
import torch

from echoless.aec import ComplexMse, EndToEndSpectralConvolution, SpectralConvolution, fit_spectral_lms

SMALL_STFT = {"kernel_size": 4, "n_fft": 256, "hop_length": 64}


def _random_complex(generator, shape):
    return (generator.standard_normal(shape) + 1j * generator.standard_normal(shape)).astype(np.complex128)


def test_spectral_convolution_matches_explicit_loop():
    rng = np.random.default_rng(0)
    n_freqs, n_frames, n_taps = 7, 20, 5
    kernel, frames = _random_complex(rng, (n_freqs, n_taps)), _random_complex(rng, (2, n_freqs, n_frames))
    expected = np.zeros_like(frames)
    for m in range(n_frames):
        for k in range(min(n_taps, m + 1)):  # causal: frames before the first are zero
            expected[:, :, m] += kernel[None, :, k] * frames[:, :, m - k]
    model = SpectralConvolution(n_freqs, n_taps, dtype=torch.float64)
    model.set_kernel(kernel)
    np.testing.assert_allclose(model(torch.from_numpy(frames)).detach().numpy(), expected, atol=1e-12)
    np.testing.assert_allclose(model(torch.from_numpy(frames[0])).detach().numpy(), expected[0], atol=1e-12)
    np.testing.assert_array_equal(model.get_kernel(), kernel)
    # float32 weights, tolerance relative to the output scale
    model32 = SpectralConvolution(n_freqs, n_taps)
    model32.set_kernel(kernel)
    out = model32(torch.from_numpy(frames.astype(np.complex64))).detach().numpy()
    assert np.max(np.abs(out - expected)) < 1e-5 * np.max(np.abs(expected))


@pytest.mark.parametrize(("dtype", "tolerance"), [(torch.float64, 1e-12), (torch.float32, 1e-5)])
def test_identity_kernel_reconstructs_the_waveform(dtype, tolerance):
    # H_0 = 1, H_k>0 = 0 is the identity: STFT then inverse STFT (Hann, hop n_fft/4) is exact
    x = np.random.default_rng(1).standard_normal(3000)
    model = EndToEndSpectralConvolution(dtype=dtype, **SMALL_STFT)
    identity = np.zeros((129, 4), dtype=complex)
    identity[:, 0] = 1.0
    model.set_kernel(identity)
    assert np.max(np.abs(model.apply(x) - x)) < tolerance * np.max(np.abs(x))


def test_one_frame_delay_delays_by_the_hop():
    x = np.random.default_rng(2).standard_normal(3000)
    model = EndToEndSpectralConvolution(dtype=torch.float64, **SMALL_STFT)
    delay = np.zeros((129, 4), dtype=complex)
    delay[:, 1] = 1.0
    model.set_kernel(delay)
    out = model.apply(x)
    # away from the reflect-padded edges, a one-frame delay is a delay of hop_length samples
    np.testing.assert_allclose(out[512:-512], x[512 - 64 : -512 - 64], atol=1e-12)


def test_complex_mse_is_the_sum_of_real_and_imaginary_mses():
    rng = np.random.default_rng(3)
    a, b = torch.from_numpy(_random_complex(rng, (5, 6))), torch.from_numpy(_random_complex(rng, (5, 6)))
    expected = torch.mean((a.real - b.real) ** 2) + torch.mean((a.imag - b.imag) ** 2)
    assert float(ComplexMse()(a, b)) == pytest.approx(float(expected), rel=1e-12)
    with pytest.raises(ValueError, match="shapes differ"):
        ComplexMse()(a, b[:, :2])


@pytest.mark.parametrize("loss_type", ["spectral", "waveform"])
def test_fit_logs(scene, loss_type):
    model, logs = fit_spectral_lms(
        scene.mic, scene.ref, scene.echo, scene.near_end, loss_type=loss_type, n_steps=40, lr=5e-2, progress=False,
        **SMALL_STFT,
    )
    assert len(logs) == 40
    assert set(logs[0]) == {"loss", "loss_oracle", "mse", "mse_oracle", "snr_echo", "snr_near", "lr"}
    assert logs[-1]["loss"] < 0.5 * logs[0]["loss"]
    assert logs[-1]["snr_echo"] > logs[0]["snr_echo"] + 3.0
    # zero init: the first loss is the target's mean energy (|STFT(mic)|^2 averaged, or mic^2)
    if loss_type == "spectral":
        frames = model.prepare_spectrogram(torch.from_numpy(scene.mic)).numpy()
        first = np.mean(np.abs(frames) ** 2)
    else:
        first = np.mean(scene.mic**2)
    assert logs[0]["loss"] == pytest.approx(first, rel=1e-5)
    if loss_type == "waveform":
        assert logs[-1]["mse"] == pytest.approx(logs[-1]["loss"], rel=1e-5)
    # the model holds the best step's parameters: its waveform MSE is that step's logged mse
    best = min(logs, key=lambda row: row["loss"])
    assert np.mean((scene.mic - model.apply(scene.ref)) ** 2) == pytest.approx(best["mse"], rel=1e-4)


def test_fit_without_truth(scene):
    _, logs = fit_spectral_lms(scene.mic, scene.ref, n_steps=2, progress=False, **SMALL_STFT)
    assert all(math.isnan(row["snr_near"]) for row in logs)
    assert all(row["loss_oracle"] == row["loss"] and row["mse_oracle"] == row["mse"] for row in logs)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"loss_type": "l1"}, ValueError, "unknown loss_type 'l1'"),
        ({"n_fft": 512}, ValueError, "mic has 200 samples; the STFT with n_fft=512"),
        ({"hop_length": 300}, ValueError, "hop_length must be <= win_length"),
        ({"win_length": 512}, ValueError, "win_length must be <= n_fft"),
        ({"kernel_size": 0}, ValueError, "kernel_size must be >= 1"),
        ({"near_end": np.ones(5)}, ValueError, "mic and near_end"),
        ({"mic": np.ones(200) * np.inf}, ValueError, "mic contains 200 NaN or Inf"),
    ],
)
def test_fit_rejects_bad_input(kwargs, error, match):
    arguments = {"mic": np.ones(200), "ref": np.ones(200), "n_steps": 1, "progress": False, **SMALL_STFT}
    arguments.update(kwargs)
    with pytest.raises(error, match=match):
        fit_spectral_lms(**arguments)


def test_modules_reject_bad_shapes():
    with pytest.raises(ValueError, match="spectrogram must be complex"):
        SpectralConvolution(5, 2)(torch.zeros(5, 10))
    with pytest.raises(ValueError, match="kernel must have shape \\(5, 2\\)"):
        SpectralConvolution(5, 2).set_kernel(np.zeros((5, 3)))
    with pytest.raises(ValueError, match="shape \\(batch, 1, time\\)"):
        EndToEndSpectralConvolution(2, n_fft=16, hop_length=4)(torch.zeros(100))
