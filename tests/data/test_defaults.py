"""The built-in synth and real data sets."""

import numpy as np

from echoless.data import default_dataset


def test_default_dataset_mirrors_the_seed():
    data = default_dataset()
    assert set(data) == {"synth", "real"}
    synth, real = data["synth"], data["real"]
    for example in (synth, real):
        assert example.sample_rate == 16000 and len(example.mic) == 20 * 16000 == len(example.ref)
        assert 0.1 < np.max(np.abs(example.mic)) <= 0.5 + 1e-12
    np.testing.assert_allclose(synth.mic, synth.echo + synth.near_end, atol=1e-15)
    assert real.near_end is None and real.echo is None and real.rir is None
    assert synth.rir is not None  # drawn beside the estimated paths in the demo
    # the real one is another room and voice, with a clipping loudspeaker and noise
    scene = real.meta["scene"]
    assert scene["far_end_recording"] != synth.meta["far_end_recording"]
    assert scene["nonlinearity"] > 0 and scene["snr_db"] < synth.meta["snr_db"]


def test_default_dataset_is_deterministic_and_returns_copies():
    first, second = default_dataset(), default_dataset()
    for name in ("synth", "real"):
        np.testing.assert_array_equal(first[name].mic, second[name].mic)
    first["synth"].mic[:] = 0.0
    assert np.any(default_dataset()["synth"].mic != 0.0)
