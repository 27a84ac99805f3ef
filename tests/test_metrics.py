"""Metrics against values computed by hand."""

import math

import numpy as np
import pytest

from echoless.metrics import erle, erle_over_time, mse, oracle_metrics, si_snr, snr


def test_mse_by_hand():
    assert mse([1.0, 2.0, 3.0], [1.0, 2.0, 5.0]) == pytest.approx(4.0 / 3.0)


def test_snr_by_hand():
    # signal energy 3^2 + 4^2 = 25, error energy 1: 10 log10(25) dB
    assert snr([3.0, 4.0], [3.0, 3.0]) == pytest.approx(10 * math.log10(25.0))
    assert snr([3.0, 4.0], [3.0, 4.0]) == math.inf
    assert snr([0.0, 0.0], [1.0, 0.0]) == -math.inf


def test_si_snr_by_hand_and_gain_invariance():
    reference = np.array([1.0, -1.0, 1.0, -1.0])
    orthogonal = np.array([1.0, 1.0, -1.0, -1.0])  # zero mean, orthogonal to the reference
    # projection is the reference itself; the residual has the same energy: 0 dB
    assert si_snr(reference, reference + orthogonal) == pytest.approx(0.0, abs=1e-12)
    # half the residual: 10 log10(4 / 1) dB, whatever the gain of the estimate
    assert si_snr(reference, reference + 0.5 * orthogonal) == pytest.approx(10 * math.log10(4.0))
    assert si_snr(reference, 3.0 * (reference + 0.5 * orthogonal)) == pytest.approx(10 * math.log10(4.0))
    assert si_snr(reference, 2.0 * reference) == math.inf
    with pytest.raises(ValueError, match="reference is constant"):
        si_snr([1.0, 1.0], [1.0, 2.0])


def test_erle_by_hand():
    # mic energy 8, output energy 2: 10 log10(4) = 6.02 dB
    assert erle([2.0, 2.0], [1.0, 1.0]) == pytest.approx(10 * math.log10(4.0))


def test_segmental_erle_by_hand():
    mic = np.array([1.0] * 4 + [2.0] * 4 + [3.0])  # the last partial frame is dropped
    output = np.array([0.5] * 4 + [0.1] * 4 + [3.0])
    times, values = erle_over_time(mic, output, sample_rate=4, frame_seconds=1.0)
    np.testing.assert_allclose(times, [0.5, 1.5])
    np.testing.assert_allclose(values, [10 * math.log10(1 / 0.25), 10 * math.log10(4 / 0.01)])


def test_segmental_erle_marks_silent_frames():
    mic = np.array([1.0, 1.0, 0.0, 0.0])
    times, values = erle_over_time(mic, 0.5 * mic, sample_rate=2, frame_seconds=1.0)
    assert values[0] == pytest.approx(10 * math.log10(4.0)) and math.isnan(values[1])
    with pytest.raises(ValueError, match="frame_seconds=10 gives a frame of 20 samples; the signal has 4"):
        erle_over_time(mic, mic, sample_rate=2, frame_seconds=10)


def test_oracle_metrics_by_hand():
    echo = np.array([1.0, -1.0, 1.0, -1.0])
    near = np.array([0.5, 0.5, -0.5, -0.5])
    mic = echo + near
    estimate = near + 0.1 * echo  # residual echo of 0.1 times the echo
    result = oracle_metrics(mic, estimate, echo=echo, near_end=near)
    residual_energy = np.sum((0.1 * echo) ** 2)  # 0.04
    assert result["erle_db"] == pytest.approx(10 * math.log10(np.sum(mic**2) / np.sum(estimate**2)))
    assert result["erle_oracle_db"] == pytest.approx(10 * math.log10(4.0 / residual_energy))  # 20 dB
    assert result["snr_near_db"] == pytest.approx(10 * math.log10(1.0 / residual_energy))
    assert result["snr_echo_db"] == pytest.approx(20.0)  # echo estimate 0.9 echo: 10 log10(4 / 0.04)
    assert result["mse_oracle"] == pytest.approx(0.01)
    assert result["mse"] == pytest.approx(np.mean((mic - 0.9 * echo) ** 2))
    assert set(oracle_metrics(mic, estimate)) == {"erle_db", "mse"}


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match="reference and estimate must have the same length"):
        snr([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="mic contains 1 NaN"):
        erle([np.nan, 1.0], [1.0, 1.0])
    with pytest.raises(ValueError, match="mic and echo must have the same length"):
        oracle_metrics([1.0, 2.0], [1.0, 2.0], echo=[1.0])


def test_erle_over_time_of_an_exactly_silenced_frame_is_infinite_without_overflow():
    mic = np.array([1.0, 1.0, 1e-150, 1e-150, 0.0, 0.0])
    output = np.array([0.0, 0.0, 1e-150, 0.0, 0.0, 0.0])
    times, values = erle_over_time(mic, output, sample_rate=2, frame_seconds=1.0, floor_db=-4000.0)
    assert values[0] == np.inf  # a loud frame cancelled exactly
    assert values[1] == pytest.approx(10 * np.log10(2.0))  # tiny energies: no overflow, no warning
    assert np.isnan(values[2])  # silent mic


def test_sdr_ignores_a_fixed_filter_that_snr_punishes():
    import scipy.signal

    from echoless.metrics import sdr

    rng = np.random.default_rng(4)
    reference = scipy.signal.lfilter([1.0], [1.0, -0.9], rng.standard_normal(16000))  # coloured, speech-like
    b, a = scipy.signal.butter(2, 60 / 8000, "high")  # a 60 Hz DC-removal filter, as Speex applies
    filtered = scipy.signal.lfilter(b, a, reference)
    assert snr(reference, filtered) < 15.0
    # a 2nd-order IIR is not exactly a 512-tap FIR, but its truncation error is far below -40 dB
    assert sdr(reference, filtered) > 40.0


def test_sdr_of_white_noise_added_equals_snr_within_0_1_db():
    from echoless.metrics import sdr

    rng = np.random.default_rng(5)
    reference = rng.standard_normal(32000)
    noisy = reference + 0.1 * rng.standard_normal(32000)  # 20 dB SNR
    # the 512 fitted taps absorb about 512/32000 of the noise: a bias of ~0.07 dB
    assert abs(sdr(reference, noisy) - snr(reference, noisy)) < 0.1


def test_sdr_of_a_scaled_delayed_copy_is_high():
    from echoless.metrics import sdr

    rng = np.random.default_rng(6)
    reference = rng.standard_normal(8000)
    delayed = 0.5 * np.concatenate([np.zeros(10), reference[:-10]])
    # exact up to the autocorrelation method's edge effect (the 10 samples shifted out): 47 dB here
    assert sdr(reference, delayed) > 45.0
    assert snr(reference, delayed) < 1.0


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"reference": np.zeros(100), "estimate": np.ones(100)}, ValueError, "reference is silent"),
        ({"reference": np.ones(100), "estimate": np.ones(99)}, ValueError, "same length"),
        ({"reference": np.ones(100), "estimate": np.ones(100), "filter_length": 0}, ValueError, "filter_length"),
    ],
)
def test_sdr_bad_input_is_named(kwargs, error, message):
    from echoless.metrics import sdr

    with pytest.raises(error, match=message):
        sdr(**kwargs)
