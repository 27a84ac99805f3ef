"""Timeline segments and activity masks."""

import numpy as np
import pytest

from echoless.data.timeline import DEFAULT_TIMELINE, FAR_END_ACTIVE, NEAR_END_ACTIVE, activity_mask, build_timeline


def test_default_timeline_in_seconds():
    segments = build_timeline(DEFAULT_TIMELINE, 1000, 100)
    assert segments == [
        {"start": 0.0, "end": 4.0, "label": "far_end_single_talk"},
        {"start": 4.0, "end": 8.0, "label": "double_talk"},
        {"start": 8.0, "end": 10.0, "label": "near_end_single_talk"},
    ]


def test_masks_follow_the_labels_with_smooth_ramps():
    sample_rate = 1000
    segments = build_timeline(DEFAULT_TIMELINE, 1000, sample_rate)
    far = activity_mask(segments, FAR_END_ACTIVE, 1000, sample_rate)
    near = activity_mask(segments, NEAR_END_ACTIVE, 1000, sample_rate)
    np.testing.assert_allclose(far[:790], 1.0)
    np.testing.assert_allclose(far[811:], 0.0, atol=1e-15)
    np.testing.assert_allclose(near[:390], 0.0, atol=1e-15)
    np.testing.assert_allclose(near[411:], 1.0)
    ramp = far[790:811]
    # the ramp is centred on the switch between samples 799 and 800
    assert np.all(np.diff(ramp) <= 0) and far[799] + far[800] == pytest.approx(1.0)


def test_fractions_that_do_not_sum_to_one_are_refused():
    with pytest.raises(ValueError, match="sum to 1, got 1.1"):
        build_timeline([("double_talk", 0.6), ("silence", 0.5)], 100, 100)
    with pytest.raises(ValueError, match=r"fraction for 'silence' must be in \(0, 1\]"):
        build_timeline([("double_talk", 1.0), ("silence", 0.0)], 100, 100)
    with pytest.raises(TypeError, match="entries must be \\(label, fraction\\) pairs"):
        build_timeline([("double_talk", 0.5, 1)], 100, 100)
