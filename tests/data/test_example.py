"""EchoExample: validation and the seed's echo = mic - near_end."""

import numpy as np
import pytest

from echoless.data import EchoExample


def test_echo_is_derived_from_the_near_end_and_back():
    mic, ref, near = np.array([1.0, 2.0, 3.0]), np.zeros(3), np.array([0.5, 0.5, 0.5])
    example = EchoExample(mic, ref, 16000, near_end=near)
    np.testing.assert_array_equal(example.echo, [0.5, 1.5, 2.5])
    back = EchoExample(mic, ref, 16000, echo=example.echo)
    np.testing.assert_array_equal(back.near_end, near)
    assert example.has_truth and example.duration == 3 / 16000


def test_real_example_has_no_truth():
    example = EchoExample([0.1, 0.2], [0.3, 0.4], 16000, name="real")
    assert example.near_end is None and example.echo is None and not example.has_truth
    assert example.mic.dtype == np.float64


def test_bad_examples_are_named():
    with pytest.raises(ValueError, match="mic and ref must have the same length, got 3 and 2"):
        EchoExample(np.zeros(3), np.zeros(2), 16000)
    with pytest.raises(ValueError, match="mic and near_end must have the same length"):
        EchoExample(np.zeros(3), np.zeros(3), 16000, near_end=np.zeros(4))
    with pytest.raises(ValueError, match="ref contains 1 NaN"):
        EchoExample(np.zeros(2), [0.0, np.nan], 16000)
    with pytest.raises(TypeError, match="sample_rate must be an integer"):
        EchoExample(np.zeros(2), np.zeros(2), 16000.5)
