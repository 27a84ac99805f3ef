"""Waveform LMS: the seed's convolution check, FFT path == direct path, the Adam fit and its logs."""

import math

import numpy as np
import pytest
import scipy.signal
import torch

from echoless.aec import Convolution, fit_waveform_lms

RANDOM_SIGNAL = np.random.default_rng(0).standard_normal(2000)
RANDOM_KERNEL = np.random.default_rng(1).standard_normal(300)


@pytest.mark.parametrize("method", ["fft", "direct"])
def test_seed_check_matches_scipy(method):
    expected = scipy.signal.convolve(RANDOM_SIGNAL, RANDOM_KERNEL)[: len(RANDOM_SIGNAL)]
    # float32 model (the seed's): forward and apply within float32 rounding of the output scale
    model = Convolution(len(RANDOM_KERNEL), method=method)
    model.set_kernel(RANDOM_KERNEL)
    out = model(torch.tensor(RANDOM_SIGNAL, dtype=torch.float32).view(1, 1, -1))[0, 0].detach().double().numpy()
    assert np.max(np.abs(out - expected)) < 1e-5 * np.max(np.abs(expected))
    assert np.max(np.abs(model.apply(RANDOM_SIGNAL) - expected)) < 1e-5 * np.max(np.abs(expected))
    # float64 model: exact to double rounding
    model = Convolution(len(RANDOM_KERNEL), method=method, dtype=torch.float64)
    model.set_kernel(RANDOM_KERNEL)
    np.testing.assert_allclose(model.apply(RANDOM_SIGNAL), expected, atol=1e-10)
    out = model(torch.tensor(RANDOM_SIGNAL).view(1, 1, -1))[0, 0].detach().numpy()
    np.testing.assert_allclose(out, expected, atol=1e-10)


def test_weight_is_the_reversed_kernel_and_round_trips():
    model = Convolution(4)
    model.set_kernel([1.0, 2.0, 3.0, 4.0])
    assert model.weight.detach().flatten().tolist() == [4.0, 3.0, 2.0, 1.0]
    np.testing.assert_array_equal(model.get_kernel(), [1.0, 2.0, 3.0, 4.0])
    assert Convolution(5).get_kernel().tolist() == [0.0] * 5  # zero init, no bias
    assert [name for name, _ in Convolution(5).named_parameters()] == ["weight"]


@pytest.mark.parametrize(("dtype", "tolerance"), [(torch.float32, 2e-6), (torch.float64, 1e-13)])
def test_fft_path_equals_direct_path_with_gradients(dtype, tolerance):
    # batch of 2, kernel longer than some signal structure; tolerance relative to max|x| * sum|h|
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(2, 1, 3000, generator=generator, dtype=dtype)
    target = torch.randn(2, 1, 3000, generator=generator, dtype=dtype)
    kernel = torch.randn(257, generator=generator, dtype=torch.float64).numpy()
    outputs, gradients = [], []
    for method in ("fft", "direct"):
        model = Convolution(257, method=method, dtype=dtype)
        model.set_kernel(kernel)
        out = model(x)
        torch.nn.functional.mse_loss(out, target).backward()
        outputs.append(out.detach())
        gradients.append(model.weight.grad)
    scale = float(x.abs().max()) * float(np.abs(kernel).sum())
    assert outputs[0].shape == (2, 1, 3000)
    assert float((outputs[0] - outputs[1]).abs().max()) < tolerance * scale
    gradient_scale = float(gradients[1].abs().max())
    assert float((gradients[0] - gradients[1]).abs().max()) < 10 * tolerance * gradient_scale


def test_fit_logs_and_best_snapshot(scene):
    model, logs = fit_waveform_lms(
        scene.mic, scene.ref, scene.echo, scene.near_end, kernel_seconds=32 / 16000, n_steps=60, lr=3e-2, progress=False
    )
    assert len(logs) == 60
    assert set(logs[0]) == {"loss", "loss_oracle", "snr_echo", "snr_near", "lr"}
    assert all(row["lr"] == 3e-2 for row in logs)
    assert logs[-1]["loss"] < 0.1 * logs[0]["loss"]
    assert logs[0]["snr_echo"] == pytest.approx(0.0, abs=1e-6)  # zero init: echo estimate is 0
    assert logs[0]["loss"] == pytest.approx(np.mean(scene.mic**2), rel=1e-5)
    assert logs[0]["loss_oracle"] == pytest.approx(np.mean(scene.echo**2), rel=1e-5)
    # the returned model holds the lowest logged loss (float32 run, float64 re-evaluation)
    final_loss = np.mean((scene.mic - model.apply(scene.ref)) ** 2)
    assert final_loss == pytest.approx(min(row["loss"] for row in logs), rel=1e-4)
    # snr_near from the log equals a direct computation at step 0 (estimate 0 -> near-end estimate = mic)
    expected = 10 * np.log10(np.sum(scene.near_end**2) / np.sum(scene.echo**2))
    assert logs[0]["snr_near"] == pytest.approx(expected, abs=1e-3)


def test_fit_without_truth_uses_mic_as_oracle_and_nan_snr_near(scene):
    _, logs = fit_waveform_lms(scene.mic, scene.ref, kernel_seconds=0.001, n_steps=3, progress=False)
    assert all(row["loss_oracle"] == pytest.approx(row["loss"], rel=1e-5) for row in logs)
    assert all(math.isnan(row["snr_near"]) for row in logs)


def test_direct_and_fft_fits_follow_the_same_trajectory(scene):
    logs = [
        fit_waveform_lms(scene.mic, scene.ref, kernel_seconds=0.002, n_steps=5, method=method, progress=False)[1]
        for method in ("fft", "direct")
    ]
    np.testing.assert_allclose([row["loss"] for row in logs[0]], [row["loss"] for row in logs[1]], rtol=1e-4)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"ref": np.ones(10)}, ValueError, "mic and ref must have the same length"),
        ({"mic": np.full(100, np.nan)}, ValueError, "mic contains 100 NaN"),
        ({"ref": np.ones((100, 2))}, ValueError, "ref must be 1-D"),
        ({"echo": np.ones(99)}, ValueError, "mic and echo"),
        ({"kernel_seconds": 1.0}, ValueError, "longer than the signal"),
        ({"kernel_seconds": -1.0}, ValueError, "kernel_seconds must be"),
        ({"n_steps": 0}, ValueError, "n_steps must be >= 1"),
        ({"lr": 0.0}, ValueError, "lr must be"),
        ({"sample_rate": 16000.5}, TypeError, "sample_rate must be an integer"),
        ({"method": "fast"}, ValueError, "unknown method 'fast'"),
    ],
)
def test_fit_rejects_bad_input(kwargs, error, match):
    arguments = {"mic": np.ones(100), "ref": np.ones(100), "kernel_seconds": 0.001, "n_steps": 1, "progress": False}
    arguments.update(kwargs)
    with pytest.raises(error, match=match):
        fit_waveform_lms(**arguments)


def test_module_rejects_bad_shapes():
    with pytest.raises(ValueError, match="shape \\(batch, 1, time\\)"):
        Convolution(3)(torch.zeros(10))
    with pytest.raises(ValueError, match="kernel must have 3 taps"):
        Convolution(3).set_kernel([1.0, 2.0])
    with pytest.raises(ValueError, match="kernel_size must be >= 1"):
        Convolution(0)
