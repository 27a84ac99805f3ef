"""Streaming PartitionedConvolver against scipy.signal.convolve (float64 precision)."""

import numpy as np
import pytest
import scipy.signal
from hypothesis import given, settings
from hypothesis import strategies as st

from echoless.conv import PartitionedConvolver
from echoless.conv.partitioned import FrequencyDomainDelayLine


def _stream(convolver, x):
    block = convolver.block_size
    return np.concatenate([convolver.process(x[i : i + block]) for i in range(0, len(x), block)])


@pytest.mark.parametrize(("n_h", "block_size"), [(1, 1), (4000, 160), (4000, 512), (100, 256), (257, 16), (7, 3)])
def test_streamed_output_equals_truncated_full_convolution(n_h, block_size):
    rng = np.random.default_rng(n_h)
    h = rng.standard_normal(n_h)
    x = rng.standard_normal(block_size * 40)
    y = _stream(PartitionedConvolver(h, block_size), x)
    expected = scipy.signal.convolve(x, h)[: len(x)]
    np.testing.assert_allclose(y, expected, rtol=0, atol=1e-10 * np.abs(h).sum())


@settings(max_examples=40, deadline=None)
@given(n_h=st.integers(1, 200), block_size=st.integers(1, 64), n_blocks=st.integers(1, 12), seed=st.integers(0, 99))
def test_exact_for_any_kernel_and_block_size(n_h, block_size, n_blocks, seed):
    rng = np.random.default_rng(seed)
    h, x = rng.standard_normal(n_h), rng.standard_normal(block_size * n_blocks)
    y = _stream(PartitionedConvolver(h, block_size), x)
    np.testing.assert_allclose(y, scipy.signal.convolve(x, h)[: len(x)], rtol=0, atol=1e-11 * np.abs(h).sum())


def test_reset_forgets_history():
    rng = np.random.default_rng(3)
    h, x = rng.standard_normal(50), rng.standard_normal(160)
    convolver = PartitionedConvolver(h, 16)
    first = _stream(convolver, x)
    convolver.reset()
    np.testing.assert_array_equal(_stream(convolver, x), first)


def test_delay_line_keeps_newest_first():
    line = FrequencyDomainDelayLine(block_size=4, n_partitions=3)
    for value in range(1, 6):
        line.push(np.full(4, float(value)))
    # window spectra at DC: sum of the window = 4 * (previous + newest)
    np.testing.assert_allclose(line.spectra[:, 0].real, [4 * (4 + 5), 4 * (3 + 4), 4 * (2 + 3)])


def test_delay_line_powers_are_those_of_its_spectra():
    rng = np.random.default_rng(5)
    line = FrequencyDomainDelayLine(block_size=8, n_partitions=3, keep_powers=True)
    for _ in range(7):  # wraps the ring twice
        line.push(rng.standard_normal(8))
        np.testing.assert_allclose(line.powers, np.abs(line.spectra) ** 2, rtol=1e-13, atol=0)
    line.reset()
    assert not line.powers.any()
    with pytest.raises(AttributeError, match="keep_powers=False"):
        FrequencyDomainDelayLine(block_size=8, n_partitions=3).powers


def test_kernel_is_read_only_copy():
    h = np.ones(8)
    convolver = PartitionedConvolver(h, 4)
    h[0] = 5.0
    assert convolver.kernel[0] == 1.0
    with pytest.raises(ValueError):
        convolver.kernel[0] = 2.0


@pytest.mark.parametrize(
    ("block", "error", "message"),
    [
        (np.ones(5), ValueError, "block must have block_size=4 samples, got 5"),
        (np.ones((2, 4)), ValueError, "block must be 1-D"),
        (np.array([1.0, np.nan, 0.0, 0.0]), ValueError, "block contains 1 NaN"),
    ],
)
def test_bad_blocks_are_named(block, error, message):
    with pytest.raises(error, match=message):
        PartitionedConvolver(np.ones(3), 4).process(block)


@pytest.mark.parametrize(("h", "block_size", "error", "message"), [
    (np.ones(3), 0, ValueError, "block_size must be >= 1"),
    (np.ones(3), 1.5, TypeError, "block_size must be an integer"),
    (np.array([]), 4, ValueError, "h must not be empty"),
])
def test_bad_construction_is_named(h, block_size, error, message):
    with pytest.raises(error, match=message):
        PartitionedConvolver(h, block_size)


def test_a_complex_block_is_refused_not_cast():
    conv = PartitionedConvolver(np.ones(4), block_size=4)
    with pytest.raises(TypeError, match="block must be real-valued"):
        conv.process(np.array([1 + 1j, 0, 0, 0]))
