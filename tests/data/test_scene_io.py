"""save_scene / load_scene round trips, and a folder of the user's own recordings."""

import json
import math

import numpy as np
import pytest
import soundfile

from echoless.data import EchoExample, load_scene, make_scene, save_scene


def test_scene_round_trip_is_float32_exact(tmp_path):
    scene = make_scene(1.0, seed=2, rt60=0.2, snr_db=math.inf)
    save_scene(scene, tmp_path / "scene")
    assert sorted(p.name for p in (tmp_path / "scene").iterdir()) == ["echo.wav", "meta.json", "mic.wav", "near.wav", "ref.wav"]
    loaded = load_scene(tmp_path / "scene")
    example = scene.to_example()
    for field in ("mic", "ref", "near_end", "echo"):
        # 32-bit float files: each sample within float32 rounding (relative 2**-24)
        np.testing.assert_allclose(getattr(loaded, field), getattr(example, field), rtol=2**-24, atol=1e-30)
    assert loaded.sample_rate == 16000 and loaded.name == "scene"
    assert loaded.meta["timeline"] == scene.meta["timeline"]
    assert loaded.meta["snr_db"] == "inf"  # JSON has no infinity
    assert json.loads((tmp_path / "scene" / "meta.json").read_text())["sample_rate"] == 16000


def test_example_without_truth_and_with_a_name(tmp_path):
    example = EchoExample([0.1, -0.2, 0.3], [0.0, 0.5, 0.25], 8000, name="mine", meta={"room": "office"})
    save_scene(example, tmp_path / "real")
    assert not (tmp_path / "real" / "near.wav").exists()
    loaded = load_scene(tmp_path / "real")
    assert (loaded.name, loaded.sample_rate, loaded.meta) == ("mine", 8000, {"room": "office"})
    assert loaded.near_end is None and loaded.echo is None


def test_users_own_recordings_without_meta(tmp_path):
    (tmp_path / "call").mkdir()
    soundfile.write(tmp_path / "call" / "mic.wav", np.full(100, 0.25), 16000)
    soundfile.write(tmp_path / "call" / "ref.wav", np.full(100, -0.25), 16000)
    loaded = load_scene(tmp_path / "call")
    assert loaded.name == "call" and loaded.meta == {}
    np.testing.assert_array_equal(loaded.mic, 0.25)


def test_load_scene_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="scene folder not found"):
        load_scene(tmp_path / "absent")
    (tmp_path / "half").mkdir()
    soundfile.write(tmp_path / "half" / "mic.wav", np.zeros(10), 16000)
    with pytest.raises(FileNotFoundError, match="audio file not found: .*ref.wav"):
        load_scene(tmp_path / "half")
    soundfile.write(tmp_path / "half" / "ref.wav", np.zeros(11), 16000)
    with pytest.raises(ValueError, match="half: mic and ref must have the same length"):
        load_scene(tmp_path / "half")
    (tmp_path / "half" / "meta.json").write_text("{not json")
    with pytest.raises(ValueError, match="meta.json is not valid JSON"):
        load_scene(tmp_path / "half")
    with pytest.raises(TypeError, match="scene must be a Scene or an EchoExample"):
        save_scene({"mic": [0.0]}, tmp_path / "x")


def test_a_scene_loaded_as_dot_is_named_after_its_folder(tmp_path, monkeypatch):
    (tmp_path / "kitchen").mkdir()
    soundfile.write(tmp_path / "kitchen" / "mic.wav", np.full(100, 0.25), 16000)
    soundfile.write(tmp_path / "kitchen" / "ref.wav", np.full(100, -0.25), 16000)
    monkeypatch.chdir(tmp_path / "kitchen")
    assert load_scene(".").name == "kitchen"
