"""cancel(): any registered method over whole arrays, output length == input length."""

import numpy as np
import pytest

from echoless.aec import PBFDAF, cancel
from echoless.aec.methods import STREAMING_METHODS as METHODS


@pytest.mark.parametrize("method", sorted(METHODS))
@pytest.mark.parametrize("n_samples", [1, 159, 1000])
def test_output_length_equals_input_length(method, n_samples):
    rng = np.random.default_rng(n_samples)
    ref = rng.standard_normal(n_samples)
    mic = 0.5 * ref + 0.01 * rng.standard_normal(n_samples)
    out = cancel(mic, ref, method=method, filter_length=320)
    assert out.shape == (n_samples,) and out.dtype == np.float64 and np.all(np.isfinite(out))


def test_equals_a_frame_loop_with_the_last_frame_padded_by_its_last_sample():
    rng = np.random.default_rng(0)
    ref = rng.standard_normal(1000)
    mic = np.convolve(ref, [0.2, 0.5])[:1000]
    options = {"frame_size": 128, "filter_length": 256, "postfilter": 0}  # no latency to compensate
    canceller = PBFDAF(**options)
    frames = []
    for start in range(0, 1024, 128):
        mic_frame, ref_frame = np.full(128, mic[-1]), np.full(128, ref[-1])
        mic_frame[: len(mic[start : start + 128])] = mic[start : start + 128]
        ref_frame[: len(ref[start : start + 128])] = ref[start : start + 128]
        frames.append(canceller.process(mic_frame, ref_frame))
    expected = np.concatenate(frames)[:1000]
    np.testing.assert_array_equal(cancel(mic, ref, "pbfdaf", **options), expected)


def test_bad_arguments():
    with pytest.raises(ValueError, match="unknown method 'speex'"):
        cancel(np.ones(10), np.ones(10), method="speex")
    with pytest.raises(ValueError, match="mic and ref must have the same length"):
        cancel(np.ones(10), np.ones(12))
    with pytest.raises(ValueError, match="ref contains 1 NaN"):
        cancel(np.ones(3), np.array([1.0, np.nan, 0.0]))
    with pytest.raises(TypeError, match="unexpected keyword argument 'bogus'"):
        cancel(np.ones(10), np.ones(10), bogus=1)


def test_registry_lists_the_streaming_methods():
    assert set(METHODS) >= {"nlms", "pbfdaf", "pfdkf"}
    assert METHODS[0] == "pfdkf"


def test_postfilter_latency_is_compensated():
    rng = np.random.default_rng(1)
    near = rng.standard_normal(1000)
    ref = np.zeros(1000)  # no echo at all: the output must be the mic itself, aligned
    out = cancel(near, ref, method="pfdkf", frame_size=128, filter_length=256, postfilter=1.0, highpass_hz=0, low_cut_hz=0)
    np.testing.assert_allclose(out, near, atol=1e-10)
    assert PBFDAF(frame_size=128, postfilter=1.0).latency == 128
    assert PBFDAF(frame_size=128, postfilter=0).latency == 0
