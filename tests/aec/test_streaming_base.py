"""The streaming protocol shared by every canceller: argument checks, reset, safety net, exactness."""

import numpy as np
import pytest
import scipy.signal
from hypothesis import given, settings
from hypothesis import strategies as st

from echoless.aec import NLMS, PBFDAF, PFDKF, StreamingCanceller

CLASSES = [NLMS, PBFDAF, PFDKF]


def _stream(canceller, mic, ref):
    size = canceller.frame_size
    return np.concatenate([canceller.process(mic[i : i + size], ref[i : i + size]) for i in range(0, len(mic), size)])


@pytest.mark.parametrize("cls", CLASSES)
def test_frozen_true_path_cancels_noise_free_echo_to_minus_100_db(cls):
    rng = np.random.default_rng(0)
    h = rng.standard_normal(100) * np.exp(-np.arange(100) / 20)
    ref = rng.standard_normal(64 * 30)
    echo = scipy.signal.lfilter(h, 1, ref)
    # the true path with the linear filter alone: the input high-pass starts from each signal's
    # first sample, which breaks the exact echo relation for its first tens of ms
    canceller = cls(frame_size=64, filter_length=128, initial_filter=h, adapt=False, delay=0, postfilter=0, highpass_hz=0)
    out = _stream(canceller, echo, ref)
    assert 10 * np.log10(np.sum(out**2) / np.sum(echo**2)) < -100
    np.testing.assert_allclose(canceller.filter[:100], h, atol=1e-12)


@pytest.mark.parametrize("cls", CLASSES)
def test_frame_size_mismatch_names_the_argument(cls):
    canceller = cls(frame_size=32, filter_length=64)
    with pytest.raises(ValueError, match="mic_frame must have frame_size=32 samples, got 31"):
        canceller.process(np.zeros(31), np.zeros(32))
    with pytest.raises(ValueError, match="ref_frame must have frame_size=32 samples, got 40"):
        canceller.process(np.zeros(32), np.zeros(40))
    with pytest.raises(ValueError, match="ref_frame must be 1-D"):
        canceller.process(np.zeros(32), np.zeros((2, 32)))
    with pytest.raises(ValueError, match="mic_frame contains 1 NaN"):
        canceller.process(np.r_[np.zeros(31), np.nan], np.zeros(32))
    with pytest.raises(TypeError, match="ref_frame must be real-valued"):
        canceller.process(np.zeros(32), np.zeros(32, dtype=complex))


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"filter_length": 100, "filter_ms": 10.0}, ValueError, "filter_length or filter_ms"),
        ({"filter_length": 0}, ValueError, "filter_length must be >= 1"),
        ({"frame_size": 2.5}, TypeError, "frame_size must be an integer"),
        ({"sample_rate": -16000}, ValueError, "sample_rate must be >= 1"),
        ({"delay": "soon"}, ValueError, "delay must be a non-negative integer or 'auto'"),
        ({"delay": -3}, ValueError, "delay must be >= 0"),
        ({"postfilter": -1.0}, ValueError, "postfilter must be finite and >= 0"),
        ({"frame_size": 10, "filter_length": 10, "initial_filter": np.ones(11)}, ValueError, "initial_filter has 11 taps"),
    ],
)
def test_bad_options_raise_naming_the_argument(options, error, message):
    with pytest.raises(error, match=message):
        PFDKF(**options)


def test_filter_length_and_filter_ms():
    assert NLMS(sample_rate=8000, filter_ms=50.0).filter_length == 400
    assert NLMS().filter_length == 4000  # 250 ms at 16 kHz
    # partitioned filters round up to whole partitions of frame_size taps
    canceller = PBFDAF(frame_size=160, filter_length=1000)
    assert (canceller.filter_length, canceller.n_partitions) == (1120, 7)
    assert canceller.filter.shape == (1120,)


@pytest.mark.parametrize("cls", CLASSES)
def test_filter_is_read_only_and_reset_restores_the_start(cls):
    rng = np.random.default_rng(1)
    ref = rng.standard_normal(32 * 20)
    mic = np.convolve(ref, [0.5, -0.3, 0.1])[: len(ref)]
    canceller = cls(frame_size=32, filter_length=64)
    first = _stream(canceller, mic, ref)
    with pytest.raises(ValueError):
        canceller.filter[0] = 1.0
    assert np.abs(canceller.filter).max() > 0.01  # it learned something
    canceller.reset()
    assert np.abs(canceller.filter).max() == 0.0
    np.testing.assert_array_equal(_stream(canceller, mic, ref), first)


@pytest.mark.parametrize("cls", CLASSES)
def test_divergence_is_detected_and_the_filter_reset(cls):
    rng = np.random.default_rng(2)
    h = np.array([0.0, 0.6, 0.3])
    ref = rng.standard_normal(64 * 40)
    mic = np.convolve(ref, h)[: len(ref)]
    # a wildly wrong, frozen filter: the output would be 81 times the mic energy
    canceller = cls(frame_size=64, filter_length=64, initial_filter=-8 * h, adapt=False)
    out = _stream(canceller, mic, ref)
    assert canceller.n_resets >= 1
    assert np.all(canceller.filter == 0.0)
    assert np.sum(out**2) < 2 * np.sum(mic**2)


def _hostile(kind, rng, n):
    if kind == "huge":
        return rng.standard_normal(n) * 1e9
    if kind == "enormous":  # squares overflow to inf
        return rng.standard_normal(n) * 1e160
    if kind == "tiny":
        return rng.standard_normal(n) * 1e-30
    if kind == "clipped":
        return np.clip(rng.standard_normal(n) * 20, -1, 1)
    if kind == "silent":
        return np.zeros(n)
    signal = np.zeros(n)
    signal[rng.integers(0, n, 3)] = rng.choice([-1.0, 1.0], 3) * 10.0 ** rng.uniform(-5, 5, 3)
    return signal


KINDS = ["huge", "enormous", "tiny", "clipped", "silent", "impulses"]


@settings(max_examples=40, deadline=None)
@given(
    cls=st.sampled_from(CLASSES),
    mic_kind=st.sampled_from(KINDS),
    ref_kind=st.sampled_from(KINDS),
    postfilter=st.sampled_from([0.0, 1.0]),
    seed=st.integers(0, 1000),
)
def test_no_nan_or_inf_ever_leaves_process(cls, mic_kind, ref_kind, postfilter, seed):
    rng = np.random.default_rng(seed)
    n = 32 * 12
    mic, ref = _hostile(mic_kind, rng, n), _hostile(ref_kind, rng, n)
    canceller = cls(frame_size=32, filter_length=96, postfilter=postfilter)
    out = _stream(canceller, mic, ref)
    assert np.all(np.isfinite(out))
    assert np.all(np.isfinite(canceller.filter))


def test_base_class_is_abstract():
    with pytest.raises(NotImplementedError):
        StreamingCanceller()


@pytest.mark.parametrize("cls", CLASSES)
@pytest.mark.parametrize("postfilter", [0.0, 1.0])
def test_enormous_input_is_passed_through_finite(cls, postfilter):
    rng = np.random.default_rng(4)
    ref = rng.standard_normal(32 * 12) * 1e160
    mic = np.convolve(ref, [0.5, 0.2])[: len(ref)]
    canceller = cls(frame_size=32, filter_length=64, postfilter=postfilter)
    out = _stream(canceller, mic, ref)
    assert np.all(np.isfinite(out))


@pytest.mark.parametrize("cls", CLASSES)
@pytest.mark.parametrize("amplitude", [1e80, 1e150, 1e160])
def test_a_mic_burst_after_convergence_never_raises(cls, amplitude):
    # a few frames of absurd microphone samples once the filter has adapted: PBFDAF used to
    # square a Python float there, which raises OverflowError instead of giving inf
    rng = np.random.default_rng(7)
    ref = rng.standard_normal(160 * 120)
    mic = np.convolve(ref, [0.5, 0.3, -0.2])[: len(ref)] + 0.01 * rng.standard_normal(len(ref))
    mic[160 * 100 : 160 * 103] = amplitude * rng.standard_normal(3 * 160)
    out = _stream(cls(frame_size=160, filter_length=320), mic, ref)
    assert np.all(np.isfinite(out))


@pytest.mark.parametrize("cls", CLASSES)
def test_a_filter_dragged_off_by_a_mic_burst_is_reset_within_the_watch_time(cls):
    # a burst inflates the smoothed mic energy for many seconds; NLMS (which normalises by
    # the reference only) learns the burst and then emits ~1e15 x the mic, frame after frame
    rng = np.random.default_rng(7)
    ref = rng.standard_normal(160 * 400)
    mic = np.convolve(ref, [0.5, 0.3, -0.2])[: len(ref)] + 0.01 * rng.standard_normal(len(ref))
    mic[160 * 100 : 160 * 103] = 1e6 * rng.standard_normal(3 * 160)
    canceller = cls(frame_size=160, filter_length=320)
    out = _stream(canceller, mic, ref)
    out_power, mic_power = ((x.reshape(-1, 160) ** 2).sum(axis=1) for x in (out, mic))
    watch = 50  # frames in DIVERGENCE_SECONDS at 10 ms
    settled = 103 + watch + 1 + canceller.latency // 160  # the suppressor's output is one frame late
    assert np.all(out_power[settled:] <= 2 * mic_power[settled:])


@pytest.mark.parametrize("cls", CLASSES)
def test_strided_frames_give_the_same_output_as_contiguous_ones(cls):
    rng = np.random.default_rng(2)
    interleaved = rng.standard_normal(2 * 32 * 10)  # mic and ref samples alternate
    mic, ref = interleaved[0::2], interleaved[1::2]
    strided = _stream(cls(frame_size=32, filter_length=64, postfilter=1.0), mic, ref)
    contiguous = _stream(cls(frame_size=32, filter_length=64, postfilter=1.0), mic.copy(), ref.copy())
    np.testing.assert_array_equal(strided, contiguous)
