"""run_seed_experiment writes the whole results layout, with metrics that match the files."""

import csv
import json
from types import SimpleNamespace

import numpy as np
import pytest
import soundfile

from echoless.experiment import METHODS, run_seed_experiment
from echoless.metrics import oracle_metrics

TINY = {"n_steps": 3, "kernel_seconds": 0.002, "kernel_frames": 3, "n_fft": 128, "hop_length": 32, "progress": False}
FILES = ("near_end_est.wav", "echo_est.wav", "mic.wav", "ref.wav", "logs.json", "logs.csv", "metrics.json", "impulse_response.png")


@pytest.fixture
def dataset(scene):
    real = SimpleNamespace(mic=scene.mic, ref=scene.ref, sample_rate=16000, near_end=None, echo=None)
    return {"synth": scene, "real": real}


def test_writes_every_file_of_the_layout(dataset, tmp_path):
    summary = run_seed_experiment(dataset, tmp_path, **TINY)
    assert (tmp_path / "summary.json").is_file()
    assert json.loads((tmp_path / "summary.json").read_text()) == json.loads(json.dumps(summary).replace("NaN", "null"))
    assert summary["sample_rate"] == 16000
    assert {(row["method"], row["data"]) for row in summary["rows"]} == {(m, d) for m in METHODS for d in dataset}
    for data in dataset:
        assert (tmp_path / f"comparison_{data}.png").stat().st_size > 1000
        for method in METHODS:
            folder = tmp_path / f"{method}_{data}"
            for name in FILES:
                assert (folder / name).stat().st_size > 0, folder / name
            assert (folder / "loss.png").exists() == ("lms" in method)
            logs = json.loads((folder / "logs.json").read_text())
            assert len(logs) == (3 if "lms" in method else 1)
            with (folder / "logs.csv").open() as handle:
                assert len(list(csv.DictReader(handle))) == len(logs)


def test_files_and_metrics_agree(dataset, tmp_path):
    summary = run_seed_experiment(dataset, tmp_path, methods=["waveform_ls"], **TINY)
    folder = tmp_path / "waveform_ls_synth"
    estimate, rate = soundfile.read(folder / "near_end_est.wav")
    echo_estimate, _ = soundfile.read(folder / "echo_est.wav")
    mic, _ = soundfile.read(folder / "mic.wav")
    assert rate == 16000
    np.testing.assert_allclose(mic, dataset["synth"].mic, atol=1e-6)  # float32 WAV
    np.testing.assert_allclose(estimate + echo_estimate, mic, atol=1e-6)
    metrics = json.loads((folder / "metrics.json").read_text())
    expected = oracle_metrics(mic, estimate, dataset["synth"].echo, dataset["synth"].near_end)
    assert metrics["snr_near_db"] == pytest.approx(expected["snr_near_db"], abs=1e-3)
    assert metrics["seconds"] > 0
    assert summary["rows"][0]["metrics"] == pytest.approx(metrics)
    # the real example has no truth: no oracle keys, and its log holds null for snr_near
    real = json.loads((tmp_path / "waveform_ls_real" / "metrics.json").read_text())
    assert "snr_near_db" not in real and "snr_echo_db" not in real
    assert json.loads((tmp_path / "waveform_ls_real" / "logs.json").read_text())[0]["snr_near"] is None


@pytest.mark.parametrize(
    ("dataset", "kwargs", "error", "match"),
    [
        ({}, {}, TypeError, "non-empty mapping"),
        ({"a/b": None}, {}, ValueError, "cannot be used as a folder name"),
        ({"x": SimpleNamespace(mic=np.ones(300))}, {}, TypeError, "lacks ref, sample_rate"),
        (None, {"methods": ["nlms"]}, ValueError, "unknown method 'nlms'"),
        (None, {"methods": []}, ValueError, "at least one method"),
        (None, {"methods": ["waveform_ls", "waveform_ls"]}, ValueError, "duplicates"),
        (None, {"lr": -1.0}, ValueError, "lr must be"),
        (None, {"kernel_seconds": 10.0}, ValueError, "longer than the signal"),
        (None, {"hop_length": 1000}, ValueError, "hop_length must be <= win_length"),
        (None, {"n_fft": 16384, "hop_length": 64}, ValueError, "mic has 4000 samples"),
    ],
)
def test_rejects_bad_input_before_writing_anything(scene, tmp_path, dataset, kwargs, error, match):
    with pytest.raises(error, match=match):
        run_seed_experiment({"synth": scene} if dataset is None else dataset, tmp_path / "out", **{**TINY, **kwargs})
    assert not (tmp_path / "out").exists()


def test_rejects_mixed_sample_rates(scene, tmp_path):
    other = SimpleNamespace(mic=scene.mic, ref=scene.ref, sample_rate=8000)
    with pytest.raises(ValueError, match="one sample_rate"):
        run_seed_experiment({"a": scene, "b": other}, tmp_path, **TINY)


def test_fit_method_refuses_an_unknown_method():
    from echoless.experiment import fit_method

    with pytest.raises(ValueError, match="unknown method 'bogus'"):
        fit_method("bogus", np.ones(4096), np.ones(4096))
