"""AECMOS wrapper: the real model on a short scene, its segmenting, and its errors.

The first AECMOS call on a fresh machine also compiles librosa's numba kernels
(about 15 s, once; cached next to librosa afterwards).
"""

import subprocess
import sys

import numpy as np
import pytest

from echoless import metrics
from echoless.data import EchoExample, make_scene
from echoless.metrics import AecMos, aecmos, aecmos_by_segment

SR = 16000


@pytest.fixture(scope="module")
def scene():
    # 3.2 s far-end single talk, 3.2 s double talk, 1.6 s near-end single talk (the default shares)
    return make_scene(8.0, seed=3, rt60=0.3, ser_db=0.0, snr_db=30.0)


def _far_end_only(scene):
    end = int(scene.meta["timeline"][0]["end"] * SR)
    return scene.ref[:end], scene.mic[:end], (scene.near + scene.noise)[:end]


def test_unprocessed_mic_scores_more_echo_than_a_perfect_canceller(scene):
    ref, mic, near_end = _far_end_only(scene)
    untouched = aecmos(ref, mic, mic, SR, "st")
    perfect = aecmos(ref, mic, near_end, SR, "st")  # the truth: everything but the echo
    assert isinstance(untouched, AecMos) and untouched.model == "aecmos_16kHz" and untouched.talk_type == "st"
    # measured 1.5 and 4.8 (1 = bad, 5 = excellent)
    assert untouched.echo_mos < 2.5
    assert perfect.echo_mos > 4.0
    # the scenario-less model (talk_type=None) agrees
    assert aecmos(ref, mic, mic, SR).echo_mos < 2.5 < 4.0 < aecmos(ref, mic, near_end, SR).echo_mos


def test_scores_ignore_the_gain_of_the_output(scene):
    # each signal's log-mel spectrogram is taken relative to its own maximum
    ref, mic, near_end = _far_end_only(scene)
    loud, quiet = aecmos(ref, mic, mic, SR, "st"), aecmos(ref, mic, 0.01 * mic, SR, "st")
    assert quiet.echo_mos == pytest.approx(loud.echo_mos, abs=0.02)


@pytest.mark.parametrize(("rate", "model_rate"), [(8000, 16000), (48000, 48000)])
def test_other_rates_are_resampled_to_the_model(scene, rate, model_rate):
    from echoless.io import resample_signal

    ref, mic, near_end = (resample_signal(x, SR, rate) for x in _far_end_only(scene))
    untouched = aecmos(ref, mic, mic, rate, "st", model_rate=model_rate)
    perfect = aecmos(ref, mic, near_end, rate, "st", model_rate=model_rate)
    assert untouched.model == f"aecmos_{model_rate // 1000}kHz"
    assert untouched.echo_mos + 1.5 < perfect.echo_mos


def test_by_segment_scores_each_talk_type(scene):
    example = scene.to_example()
    rows = aecmos_by_segment(example, example.near_end, min_seconds=1.5)
    assert [(row["label"], row["talk_type"]) for row in rows] == [
        ("far_end_single_talk", "st"),
        ("double_talk", "dt"),
        ("near_end_single_talk", "nst"),
    ]
    assert [(row["start"], row["end"]) for row in rows] == [(0.0, 3.2), (3.2, 6.4), (6.4, 8.0)]
    st, dt, nst = rows
    assert st["echo_mos"] > 4.0 and dt["echo_mos"] > 4.0
    # other MOS also hears the room and the noise in the near end itself: the truth scored 4.0
    # in double talk, 3.4 alone; a canceller that mutes every other 100 ms scored 2.1 and 1.6
    muted = example.near_end * (np.arange(len(example.mic)) // 1600 % 2)
    _, chopped_dt, chopped_nst = aecmos_by_segment(example, muted, min_seconds=1.5)
    assert chopped_dt["other_mos"] + 1.0 < dt["other_mos"] and chopped_nst["other_mos"] + 1.0 < nst["other_mos"]
    # the 1.6 s near-end single talk is too short for the default min_seconds=2
    untouched = aecmos_by_segment(example, example.mic)
    assert [row["talk_type"] for row in untouched] == ["st", "dt"]
    assert untouched[0]["echo_mos"] < 2.5 and untouched[1]["echo_mos"] < 3.0


def test_by_segment_cuts_segments_longer_than_the_model_into_equal_pieces(monkeypatch):
    calls = []

    def recorder(ref, mic, enhanced, sample_rate, talk_type, *, model_rate):
        calls.append((len(ref), talk_type))
        return AecMos(1.0, 5.0, talk_type, "fake")

    monkeypatch.setattr(metrics, "aecmos", recorder)
    rate = 100
    timeline = [
        {"start": 0.0, "end": 45.0, "label": "far_end_single_talk"},  # 3 pieces of 15 s
        {"start": 45.0, "end": 46.0, "label": "silence"},
        {"start": 46.0, "end": 47.5, "label": "double_talk"},  # 1.5 s < min_seconds
        {"start": 47.5, "end": 50.0, "label": "near_end_single_talk"},
    ]
    signal = np.ones(50 * rate)
    example = EchoExample(mic=signal, ref=signal, sample_rate=rate, meta={"timeline": timeline})
    rows = aecmos_by_segment(example, signal, min_seconds=2.0)
    assert calls == [(1500, "st")] * 3 + [(250, "nst")]
    assert [(row["start"], row["end"]) for row in rows] == [(0.0, 15.0), (15.0, 30.0), (30.0, 45.0), (47.5, 50.0)]


def test_clipping_warns_and_scores(scene):
    ref, mic, _ = _far_end_only(scene)
    with pytest.warns(UserWarning, match=r"enhanced \(peak 4.00\) exceeds \[-1, 1\]; clipped"):
        score = aecmos(ref, mic, 4.0 * mic / np.max(np.abs(mic)), SR, "st")
    assert 1.0 <= score.echo_mos <= 5.0


def test_bad_input_errors(scene):
    ref, mic, _ = _far_end_only(scene)
    with pytest.raises(ValueError, match="enhanced must be 1-D"):
        aecmos(ref, mic, np.stack([mic, mic], axis=1), SR, "st")
    with pytest.raises(ValueError, match="ref and enhanced must have the same length"):
        aecmos(ref, mic, mic[:-1], SR, "st")
    with pytest.raises(ValueError, match="AECMOS needs at least 1 s of audio, got 0.50 s"):
        aecmos(ref[:8000], mic[:8000], mic[:8000], SR, "st")
    with pytest.raises(ValueError, match="unknown talk_type 'fst'"):
        aecmos(ref, mic, mic, SR, "fst")
    with pytest.raises(ValueError, match="model_rate must be 16000 or 48000"):
        aecmos(ref, mic, mic, SR, "st", model_rate=8000)
    with pytest.raises(ValueError, match="48 kHz AECMOS model needs a talk_type"):
        aecmos(ref, mic, mic, SR, model_rate=48000)
    with pytest.raises(TypeError, match="sample_rate must be an integer"):
        aecmos(ref, mic, mic, 16000.0, "st")
    example = EchoExample(mic=mic, ref=ref, sample_rate=SR)
    with pytest.raises(ValueError, match="example.meta has no 'timeline'"):
        aecmos_by_segment(example, mic)
    with pytest.raises(ValueError, match="min_seconds must be >= 1"):
        aecmos_by_segment(scene.to_example(), scene.mic, min_seconds=0.5)


@pytest.mark.parametrize("missing", ["speechmos", "speechmos.aecmos", "onnxruntime"])
def test_missing_extra_names_the_install_command(scene, monkeypatch, missing):
    ref, mic, _ = _far_end_only(scene)
    aecmos(ref, mic, mic, SR, "st")  # a model already cached must not hide the missing package
    monkeypatch.delitem(sys.modules, "speechmos.aecmos", raising=False)
    monkeypatch.setitem(sys.modules, missing, None)  # makes `import missing` fail
    with pytest.raises(ModuleNotFoundError, match=r"optional packages .* pip install echoless\[mos\]"):
        aecmos(ref, mic, mic, SR, "st")


def test_importing_metrics_loads_no_model_packages():
    code = (
        "import sys, echoless.metrics; "
        "print(sorted(m for m in ('speechmos', 'onnxruntime', 'librosa') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
