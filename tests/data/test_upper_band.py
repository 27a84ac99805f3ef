"""with_upper_band: a hiss above 9 kHz at the stated level, the echo rebuilt through the scene's own path."""

import numpy as np
import pytest
import scipy.signal

from echoless.data import make_scene, with_upper_band


@pytest.mark.parametrize("level_db", (-20.0, -10.0))
def test_upper_band_added_at_its_level_and_echoed_through_the_scene_path(level_db):
    scene = make_scene(2.0, sample_rate=48000, seed=4, rt60=0.2)
    wide = with_upper_band(scene, level_db=level_db)
    added = wide.ref - scene.ref
    assert 10 * np.log10(np.sum(added**2) / np.sum(scene.ref**2)) == pytest.approx(level_db, abs=1e-9)
    frequencies, power = scipy.signal.welch(added, fs=48000, nperseg=1024)
    # the hiss lies above 8 kHz (30 dB down below it: the envelope spreads it a little; measured 39 dB)
    assert np.sum(power[frequencies < 8000]) < 1e-3 * np.sum(power)
    np.testing.assert_allclose(wide.echo, scipy.signal.fftconvolve(wide.ref, scene.rir)[:len(wide.ref)], atol=1e-12)
    np.testing.assert_array_equal(wide.mic, wide.echo + wide.near + scene.noise)
    assert wide.meta["upper_band_db"] == level_db and "upper_band_db" not in scene.meta


def test_rate_without_an_upper_band_is_refused():
    with pytest.raises(ValueError, match="no band above 9000 Hz"):
        with_upper_band(make_scene(0.5, sample_rate=16000, seed=0, rt60=0.2))
