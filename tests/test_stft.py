"""echoless.stft against torch.stft/istft, Parseval's closed form, and the inconsistent spectrogram."""

import numpy as np
import pytest
import torch

from echoless.stft import (
    consistency_error,
    istft,
    make_inconsistent_spectrogram,
    spectrogram_energy,
    stft,
    stft_isometry_ratio,
)

# (n_fft, hop_length, win_length): the seed's, a full-length window, an odd FFT size
CONFIGS = [(1024, 128, 512), (512, 128, 512), (255, 64, 200), (64, 16, None)]


def _torch_kwargs(n_fft, hop_length, win_length):
    length = n_fft if win_length is None else win_length
    return dict(
        n_fft=n_fft, hop_length=hop_length, win_length=length,
        window=torch.hann_window(length, dtype=torch.float64), center=True,
    )


@pytest.mark.parametrize(("n_fft", "hop_length", "win_length"), CONFIGS)
def test_stft_matches_torch(n_fft, hop_length, win_length):
    x = np.random.default_rng(n_fft).standard_normal(3001)
    expected = torch.stft(
        torch.from_numpy(x), pad_mode="reflect", return_complex=True, **_torch_kwargs(n_fft, hop_length, win_length)
    ).numpy()
    ours = stft(x, n_fft, hop_length, win_length)
    assert ours.shape == expected.shape
    np.testing.assert_allclose(ours, expected, rtol=0, atol=1e-10)


@pytest.mark.parametrize(("n_fft", "hop_length", "win_length"), CONFIGS)
def test_istft_matches_torch_and_inverts(n_fft, hop_length, win_length):
    x = np.random.default_rng(1).standard_normal(2000)
    spec = stft(x, n_fft, hop_length, win_length)
    expected = torch.istft(
        torch.from_numpy(spec), length=len(x), **_torch_kwargs(n_fft, hop_length, win_length)
    ).numpy()
    ours = istft(spec, n_fft, hop_length, win_length, length=len(x))
    np.testing.assert_allclose(ours, expected, rtol=0, atol=1e-10)
    np.testing.assert_allclose(ours, x, rtol=0, atol=1e-10)


def test_istft_default_length_matches_torch():
    spec = stft(np.random.default_rng(2).standard_normal(1000), 256, 64)
    expected = torch.istft(torch.from_numpy(spec), **_torch_kwargs(256, 64, None)).numpy()
    np.testing.assert_allclose(istft(spec, 256, 64), expected, rtol=0, atol=1e-10)


@pytest.mark.parametrize(("n_fft", "hop_length", "win_length"), [(1024, 128, 512), (512, 128, 512), (400, 100, 300)])
def test_hann_closed_form_of_the_parseval_factor(n_fft, hop_length, win_length):
    closed_form = 3 * n_fft * win_length / (8 * hop_length)
    assert stft_isometry_ratio(n_fft, hop_length, win_length) == pytest.approx(closed_form, rel=1e-12)


@pytest.mark.parametrize(("n_fft", "hop_length", "win_length"), [(1024, 128, 512), (512, 128, 512), (400, 100, 300)])
def test_parseval_factor_is_the_measured_energy_ratio(n_fft, hop_length, win_length):
    # zeros at both ends keep the reflect padding and the partial overlap at the edges out of the sum
    x = np.zeros(8 * n_fft)
    x[n_fft:-n_fft] = np.random.default_rng(3).standard_normal(6 * n_fft)
    measured = spectrogram_energy(stft(x, n_fft, hop_length, win_length), n_fft) / np.sum(x**2)
    assert measured == pytest.approx(stft_isometry_ratio(n_fft, hop_length, win_length), rel=1e-10)


def test_parseval_factor_is_only_an_average_when_the_squared_window_does_not_overlap_add_to_a_constant():
    # Hann with hop = win_length / 2: w**2 ripples, so the ratio depends on where the energy sits
    n_fft, hop = 512, 256
    ratios = []
    for offset in (0, hop // 2):
        x = np.zeros(8 * n_fft)
        x[4 * n_fft + offset] = 1.0
        ratios.append(spectrogram_energy(stft(x, n_fft, hop), n_fft))
    assert abs(ratios[0] - ratios[1]) > 0.1 * stft_isometry_ratio(n_fft, hop)
    assert np.mean(ratios) == pytest.approx(stft_isometry_ratio(n_fft, hop), rel=1e-10)


def test_spectrogram_energy_counts_the_two_sided_bins():
    x = np.random.default_rng(4).standard_normal(64)
    full = np.fft.fft(x)
    one_sided = np.fft.rfft(x)[:, None]
    assert spectrogram_energy(one_sided, 64) == pytest.approx(np.sum(np.abs(full) ** 2), rel=1e-12)
    x_odd = x[:63]
    assert spectrogram_energy(np.fft.rfft(x_odd)[:, None], 63) == pytest.approx(
        np.sum(np.abs(np.fft.fft(x_odd)) ** 2), rel=1e-12
    )


def test_the_seeds_inconsistent_spectrogram():
    x = np.random.default_rng(5).standard_normal(16000)
    spec = make_inconsistent_spectrogram(x, n_fft=1024, hop_length=128, win_length=512)
    assert spec.shape == stft(x, 1024, 128, 512).shape
    np.testing.assert_allclose(np.abs(spec), np.abs(stft(x, 1024, 128, 512)), rtol=1e-12)
    assert consistency_error(spec, 1024, 128, 512) > 0.5
    # an actual STFT is consistent
    assert consistency_error(stft(x, 1024, 128, 512), 1024, 128, 512) < 1e-10


def test_inconsistent_spectrogram_is_deterministic_per_seed():
    x = np.random.default_rng(6).standard_normal(4000)
    a = make_inconsistent_spectrogram(x, seed=1)
    np.testing.assert_array_equal(a, make_inconsistent_spectrogram(x, seed=1))
    assert not np.allclose(a, make_inconsistent_spectrogram(x, seed=2))


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: stft(np.ones(100), n_fft=64, win_length=65), "win_length"),
        (lambda: stft(np.ones(100), n_fft=1), "n_fft"),
        (lambda: stft(np.ones(100), n_fft=64, hop_length=0), "hop_length"),
        (lambda: stft(np.ones(100), n_fft=64, window="kaiser"), "window"),
        (lambda: stft(np.ones((2, 100)), n_fft=64), "x must be 1-D"),
        (lambda: stft(np.ones(20), n_fft=64), "longer than n_fft"),
        (lambda: stft(np.ones(20), n_fft=64, center=False), "at least n_fft"),
        (lambda: istft(np.ones((10, 4)), n_fft=64), "spectrogram must have shape"),
        (lambda: istft(np.full((33, 4), np.nan), n_fft=64), "NaN"),
        (lambda: istft(np.ones((33, 4)), n_fft=64, hop_length=64, win_length=32), "overlap-adds to zero"),
        (lambda: spectrogram_energy(np.ones((5, 2)), 64), "spectrogram must have shape"),
    ],
)
def test_bad_input_names_the_argument(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()
