"""load_seed_dataset on files the test writes (download_seed_dataset: test_seed_download.py)."""

import numpy as np
import pytest
import soundfile

from echoless.data import load_seed_dataset

SR = 16000


def _seed_files(root, rng):
    signals = {}
    for kind, names in {"real": ("mic", "ref"), "synth": ("mic", "ref", "near")}.items():
        (root / "homework_2" / kind).mkdir(parents=True)
        for name in names:
            signal = rng.uniform(-0.5, 0.5, 800).astype(np.float32)
            soundfile.write(root / "homework_2" / kind / f"{name}.wav", signal, SR, subtype="FLOAT")
            signals[kind, name] = signal.astype(np.float64)
    return signals


def test_load_seed_dataset_builds_echo_as_the_seed(tmp_path):
    signals = _seed_files(tmp_path, np.random.default_rng(0))
    data = load_seed_dataset(tmp_path)
    assert set(data) == {"real", "synth"}
    synth, real = data["synth"], data["real"]
    np.testing.assert_array_equal(synth.mic, signals["synth", "mic"])
    np.testing.assert_array_equal(synth.ref, signals["synth", "ref"])
    np.testing.assert_array_equal(synth.near_end, signals["synth", "near"])
    np.testing.assert_array_equal(synth.echo, signals["synth", "mic"] - signals["synth", "near"])
    np.testing.assert_array_equal(real.mic, signals["real", "mic"])
    assert real.near_end is None and real.echo is None and real.name == "real"
    # the homework_2 folder itself works as root too
    assert set(load_seed_dataset(tmp_path / "homework_2")) == {"real", "synth"}


def test_load_seed_dataset_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no seed data set under .*homework_2/real"):
        load_seed_dataset(tmp_path)
    (tmp_path / "homework_2" / "synth").mkdir(parents=True)
    soundfile.write(tmp_path / "homework_2" / "synth" / "mic.wav", np.zeros(10), SR)
    soundfile.write(tmp_path / "homework_2" / "synth" / "ref.wav", np.zeros(12), SR)
    with pytest.raises(FileNotFoundError, match="audio file not found: .*near.wav"):
        load_seed_dataset(tmp_path)
    soundfile.write(tmp_path / "homework_2" / "synth" / "near.wav", np.zeros(10), SR)
    with pytest.raises(ValueError, match="synth: mic and ref must have the same length, got 10 and 12"):
        load_seed_dataset(tmp_path)
