"""make_scene with two loudspeakers and a microphone array (issue 13, section 2)."""

import numpy as np
import pytest

from echoless.conv import convolve
from echoless.data import make_scene
from echoless.data.scenes import ARRAY_RADIUS


def test_every_microphone_hears_every_loudspeaker_through_its_own_path():
    scene = make_scene(2.0, seed=3, n_loudspeakers=2, n_mics=3, snr_db=np.inf)
    n = len(scene.mic)
    assert scene.ref.shape == (n, 2) and scene.mic.shape == scene.echo.shape == scene.near.shape == (n, 3)
    assert scene.rir.shape[:2] == (3, 2)
    for m in range(3):
        echo = sum(convolve(scene.ref[:, r], scene.rir[m, r])[:n] for r in range(2))
        np.testing.assert_allclose(scene.echo[:, m], echo, atol=1e-12)
    np.testing.assert_allclose(scene.mic, scene.echo + scene.near + scene.noise, atol=1e-15)
    # distinct paths, and a stereo far end that is correlated but not identical
    assert np.linalg.norm(scene.rir[0, 0] - scene.rir[1, 0]) > 0.1 * np.linalg.norm(scene.rir[0, 0])
    correlation = np.corrcoef(scene.ref.T)[0, 1]
    assert 0.05 < correlation < 0.999


def test_array_geometry_and_meta():
    scene = make_scene(1.0, seed=0, n_mics=4, path_change_at=0.5)
    centre = np.array(scene.meta["microphone_position"])
    radii = [np.linalg.norm(np.array(p) - centre) for p in scene.meta["microphone_positions"]]
    np.testing.assert_allclose(radii, ARRAY_RADIUS)
    assert scene.ref.ndim == 1 and scene.mic.shape[1] == 4
    assert scene.rir_after_change.shape == scene.rir.shape
    assert (scene.meta["n_loudspeakers"], scene.meta["n_mics"]) == (1, 4)


def test_single_channel_scene_keeps_its_layout():
    scene = make_scene(1.0, seed=0)
    assert scene.mic.ndim == scene.ref.ndim == scene.rir.ndim == 1
    assert (scene.meta["n_loudspeakers"], scene.meta["n_mics"]) == (1, 1)


@pytest.mark.parametrize(("options", "message"), [({"n_loudspeakers": 3}, "n_loudspeakers must be 1 or 2"),
                                                  ({"n_mics": 0}, "n_mics must be >= 1")])
def test_bad_channel_counts(options, message):
    with pytest.raises(ValueError, match=message):
        make_scene(1.0, **options)
