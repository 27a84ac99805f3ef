"""echoless.batch: discovery, resumable runs, per-file errors, and Dask runs identical to the serial one."""

import csv
import functools
import json
import os
import sys

import numpy as np
import pytest
import soundfile

from echoless.batch import FilePair, cancel_corpus, find_pairs, map_tasks
from echoless.batch.corpus import Task, run_task
from echoless.cli import main
from echoless.data import make_scene, save_scene
from echoless.io import write_audio

SAMPLE_RATE = 16000
FAST = {"filter_ms": 16.0, "delay": 0, "postfilter": 1.0}  # postfilter: the stream's latency is compensated too
N_SCENES = 20
TIMING = ("seconds", "real_time_factor", "status")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """20 simulated scenes of 1-2 s (mic.wav, ref.wav, near.wav, echo.wav, meta.json per folder)."""
    root = tmp_path_factory.mktemp("corpus")
    for seed in range(N_SCENES):
        save_scene(make_scene(1.0 + (seed % 3) / 2, seed=seed, rt60=0.2, ser_db=-5.0), root / f"scene{seed:02d}")
    return root


@pytest.fixture(scope="module")
def clean_run(corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("clean")
    return out, cancel_corpus(corpus, out, "pfdkf", **FAST)


def _outputs(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*.wav"))}


def _without_timing(rows):
    return [{key: value for key, value in row.items() if key not in TIMING} for row in rows]


def _rows(csv_path):
    with open(csv_path, newline="") as handle:
        return list(csv.DictReader(handle))


# ------------------------------------------------------------------ discovery
def test_folder_of_scene_folders_pairs_by_name_and_mirrors_outputs(corpus):
    pairs = find_pairs(corpus)
    assert len(pairs) == N_SCENES
    first = pairs[0]
    assert (first.name, first.out) == ("scene00", "scene00/mic.wav")
    assert (first.ref.name, first.near.name, first.echo.name) == ("ref.wav", "near.wav", "echo.wav")


def test_aec_challenge_blind_layout_glob_and_pattern(tmp_path):
    x = np.full(1600, 0.1)
    for name in ("a/clip1_doubletalk", "a/clip2_farend-singletalk", "b/clip3_nearend-singletalk"):
        for role in ("mic", "lpb"):
            write_audio(tmp_path / "blind" / f"{name}_{role}.wav", x, SAMPLE_RATE)
    pairs = find_pairs(tmp_path / "blind")
    assert [p.name for p in pairs] == ["a/clip1_doubletalk", "a/clip2_farend-singletalk", "b/clip3_nearend-singletalk"]
    assert pairs[0].out == "a/clip1_doubletalk_mic.wav" and pairs[0].ref.name == "clip1_doubletalk_lpb.wav"
    assert pairs[0].near is None
    globbed = find_pairs(str(tmp_path / "blind" / "a" / "*_mic.wav"))
    assert [p.out for p in globbed] == ["clip1_doubletalk_mic.wav", "clip2_farend-singletalk_mic.wav"]
    assert [p.out for p in find_pairs(tmp_path / "blind", "b/*_mic.wav")] == ["b/clip3_nearend-singletalk_mic.wav"]
    with pytest.raises(ValueError, match="cannot tell the reference of .*lpb.wav"):
        find_pairs(tmp_path / "blind", "**/*_lpb.wav")


def test_aec_challenge_synthetic_folder_brings_its_truth(tmp_path):
    for folder, prefix in (("farend_speech", "farend_speech"), ("nearend_mic_signal", "nearend_mic"),
                           ("echo_signal", "echo"), ("nearend_speech", "nearend_speech")):
        for file_id in (2, 10):
            write_audio(tmp_path / folder / f"{prefix}_fileid_{file_id}.wav", np.zeros(100), SAMPLE_RATE)
    pairs = find_pairs(tmp_path)
    assert [(p.name, p.out) for p in pairs] == [("fileid_2", "nearend_mic_signal/nearend_mic_fileid_2.wav"),
                                                ("fileid_10", "nearend_mic_signal/nearend_mic_fileid_10.wav")]
    assert pairs[1].echo.name == "echo_fileid_10.wav" and pairs[1].near.name == "nearend_speech_fileid_10.wav"


def test_manifest_paths_are_relative_to_it_and_outputs_stay_inside(tmp_path):
    (tmp_path / "list.csv").write_text("mic,ref,out\nrec/one.wav,rec/one_far.wav,\n/abs/two.wav,/abs/two_far.wav,x/2.wav\n")
    one, two = find_pairs(tmp_path / "list.csv")
    assert (one.mic, one.ref, one.out, one.name) == (tmp_path / "rec/one.wav", tmp_path / "rec/one_far.wav",
                                                     "rec/one.wav", "rec/one")
    assert two.out == "x/2.wav"
    (tmp_path / "bad.csv").write_text("mic,ref,out\na.wav,b.wav,../escape.wav\n")
    with pytest.raises(ValueError, match="must be a path inside the output folder"):
        find_pairs(tmp_path / "bad.csv")
    (tmp_path / "dup.csv").write_text("mic,ref,out\na.wav,b.wav,o.wav\nc.wav,d.wav,o.wav\n")
    with pytest.raises(ValueError, match="would both be written to o.wav"):
        find_pairs(tmp_path / "dup.csv")
    (tmp_path / "cols.csv").write_text("microphone,ref\n")
    with pytest.raises(ValueError, match="needs the columns mic and ref"):
        find_pairs(tmp_path / "cols.csv")


def test_empty_folder_and_outputs_inside_the_corpus(tmp_path):
    with pytest.raises(ValueError, match="holds no recordings"):
        find_pairs(tmp_path)
    write_audio(tmp_path / "s" / "mic.wav", np.zeros(100), SAMPLE_RATE)
    write_audio(tmp_path / "out" / "s" / "mic.wav", np.zeros(100), SAMPLE_RATE)  # a previous run's output
    assert [p.out for p in find_pairs(tmp_path, exclude=tmp_path / "out")] == ["s/mic.wav"]
    with pytest.raises(ValueError, match="would replace an input"):
        cancel_corpus(find_pairs(tmp_path / "s"), tmp_path / "s", **FAST)


# ------------------------------------------------------------------ one run
def test_run_writes_mirrored_outputs_equal_to_cancel_and_a_summary(corpus, clean_run):
    from echoless.aec import cancel
    from echoless.io import read_audio

    out, rows = clean_run
    assert [row["status"] for row in rows] == ["done"] * N_SCENES
    assert sorted(_outputs(out)) == [f"scene{i:02d}/mic.wav" for i in range(N_SCENES)]
    mic, ref = read_audio(corpus / "scene03" / "mic.wav"), read_audio(corpus / "scene03" / "ref.wav")
    expected = write_audio(out.parent / "expected.wav", cancel(mic, ref, "pfdkf", **FAST), SAMPLE_RATE)
    assert (out / "scene03" / "mic.wav").read_bytes() == expected.read_bytes()
    summary = _rows(out / "summary.csv")
    assert [row["example"] for row in summary] == [f"scene{i:02d}" for i in range(N_SCENES)]
    for row in summary:  # the truth files were read: oracle metrics; the far-end-only stretch from meta.json
        assert float(row["erle_oracle_db"]) > 3 and float(row["far_end_seconds"]) > 0
        timeline = json.loads((corpus / row["example"] / "meta.json").read_text())["meta"]["timeline"]
        expected = sum(s["end"] - s["start"] for s in timeline if s["label"] == "far_end_single_talk")
        assert float(row["far_end_seconds"]) == pytest.approx(expected, abs=1 / SAMPLE_RATE)
        assert np.isfinite(float(row["erle_far_end_db"])) and row["error"] == ""
        assert 1.0 <= float(row["aecmos_echo"]) <= 5.0 and 1.0 <= float(row["aecmos_other"]) <= 5.0  # [mos] is in dev
    assert "| example | method |" in (out / "summary.md").read_text()


def test_long_recordings_are_streamed_to_the_same_bytes(corpus, clean_run, tmp_path):
    out, _ = clean_run
    pairs = find_pairs(corpus)[:3]
    rows = cancel_corpus(pairs, tmp_path, "pfdkf", metrics_max_seconds=0.5, **FAST)
    assert all("streamed, not scored" in row["note"] and "erle_db" not in row for row in rows)
    assert _outputs(tmp_path) == {key: value for key, value in _outputs(out).items() if key in _outputs(tmp_path)}


def test_bad_files_are_one_failed_row_each_and_the_rest_is_done(corpus, tmp_path):
    bad = tmp_path / "corpus"
    for i in range(4):
        save_scene(make_scene(1.0, seed=i, rt60=0.2), bad / f"good{i}")
    (bad / "corrupt").mkdir()
    (bad / "corrupt" / "mic.wav").write_bytes(b"RIFF not really a wave file")
    write_audio(bad / "corrupt" / "ref.wav", np.zeros(1600), SAMPLE_RATE)
    write_audio(bad / "rate" / "mic.wav", np.zeros(800), 8000)
    write_audio(bad / "rate" / "ref.wav", np.zeros(800), 8000)
    write_audio(bad / "stereo" / "ref.wav", np.zeros(1600), SAMPLE_RATE)
    soundfile.write(bad / "stereo" / "mic.wav", np.zeros((1600, 2)), SAMPLE_RATE)
    write_audio(bad / "alone" / "x_mic.wav", np.zeros(1600), SAMPLE_RATE)  # no x_lpb.wav / x_ref.wav
    rows = cancel_corpus(bad, tmp_path / "out", "pfdkf", **FAST)
    errors = {row["example"]: row.get("error", "") for row in rows}
    assert all(row["status"] == "done" for row in rows if row["example"].startswith("good"))
    assert "cannot read" in errors["corrupt"]
    assert "sample rate 8000 Hz, expected 16000 Hz" in errors["rate"]
    assert "2 channels" in errors["stereo"]
    assert "no reference beside" in errors["alone/x"]
    assert sum(row["status"] == "failed" for row in rows) == 4
    summary = _rows(tmp_path / "out" / "summary.csv")
    assert [row["status"] for row in summary].count("failed") == 4


def test_interrupted_run_continues_where_it_stopped(corpus, clean_run, tmp_path, monkeypatch):
    import echoless.io

    out, clean_rows = clean_run
    real_write, calls = echoless.io.write_audio, []

    def interrupted_write(*args, **kwargs):  # the user presses Ctrl-C during the 11th file
        calls.append(args[0])
        if len(calls) == 11:
            raise KeyboardInterrupt
        return real_write(*args, **kwargs)

    monkeypatch.setattr(echoless.io, "write_audio", interrupted_write)
    with pytest.raises(KeyboardInterrupt):
        cancel_corpus(corpus, tmp_path, "pfdkf", **FAST)
    monkeypatch.undo()
    assert len(_outputs(tmp_path)) == 10
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp")]
    rows = cancel_corpus(corpus, tmp_path, "pfdkf", **FAST)
    assert [row["status"] for row in rows] == ["skipped"] * 10 + ["done"] * 10
    assert _outputs(tmp_path) == _outputs(out)
    assert _without_timing(rows) == _without_timing(clean_rows)  # the skipped files keep their metrics
    assert len(_rows(tmp_path / "summary.csv")) == N_SCENES


def test_other_settings_are_not_skipped_silently(corpus, tmp_path):
    pairs = find_pairs(corpus)[:2]
    cancel_corpus(pairs, tmp_path, "pfdkf", **FAST)
    rows = cancel_corpus(pairs, tmp_path, "nlms", **FAST)
    assert all(row["status"] == "failed" and "other settings" in row["error"] for row in rows)
    rows = cancel_corpus(pairs, tmp_path, "nlms", overwrite=True, **FAST)
    assert [row["status"] for row in rows] == ["done", "done"]


def test_bad_options_are_refused_before_any_file(corpus, tmp_path):
    with pytest.raises(ValueError, match="filter_ms"):
        cancel_corpus(corpus, tmp_path, "pfdkf", filter_ms=-1.0)
    with pytest.raises(TypeError, match="postfilter: not an option of the offline method"):
        cancel_corpus(corpus, tmp_path, "waveform_ls", postfilter=1.0)
    assert not list(tmp_path.iterdir())


# ------------------------------------------------------------------ Dask
@pytest.fixture(scope="module")
def dask_client():
    pytest.importorskip("distributed")
    from echoless.batch._dask import local_client

    with local_client(2) as client:
        yield client


def test_two_local_workers_give_the_serial_bytes(corpus, clean_run, dask_client, tmp_path):
    out, clean_rows = clean_run
    rows = cancel_corpus(corpus, tmp_path, "pfdkf", client=dask_client, **FAST)
    assert _outputs(tmp_path) == _outputs(out)
    assert _without_timing(rows) == _without_timing(clean_rows)
    pids = dask_client.run(os.getpid)
    assert len(set(pids.values())) == 2 and os.getpid() not in pids.values()


def _dies_once(marker, victim, task):
    """Kill this worker process (as the OOM killer would) the first time it meets ``victim``."""
    if task.pair.name == victim and not os.path.exists(marker):
        open(marker, "w").close()
        os._exit(1)
    return run_task(task)


def test_a_killed_worker_does_not_lose_a_file(corpus, clean_run, dask_client, tmp_path):
    import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the workers cannot import this test module
    out, clean_rows = clean_run
    tasks = [Task(pair, "pfdkf", SAMPLE_RATE, FAST, tmp_path / "out") for pair in find_pairs(corpus)]
    marker = tmp_path / "killed"
    rows = map_tasks(functools.partial(_dies_once, str(marker), "scene07"), tasks, client=dask_client)
    assert marker.exists()  # a worker did die
    # results held by the dead worker are recomputed by Dask: those files are found finished and skipped
    assert {row["status"] for row in rows} <= {"done", "skipped"}
    assert _without_timing(rows) == _without_timing(clean_rows)
    assert _outputs(tmp_path / "out") == _outputs(out)


# ------------------------------------------------------------------ command line
def test_batch_command_reports_and_resumes(corpus, clean_run, tmp_path, capsys):
    out, _ = clean_run
    args = ["batch", str(corpus), "-o", str(tmp_path), "--workers", "1", "--filter-ms", "16", "--delay", "0",
            "--postfilter", "1"]
    assert main(args) == 0
    assert f"{N_SCENES} recordings: {N_SCENES} done, 0 finished earlier (skipped), 0 failed" in capsys.readouterr().out
    assert _outputs(tmp_path) == _outputs(out)
    assert main(args) == 0
    assert f"0 done, {N_SCENES} finished earlier (skipped)" in capsys.readouterr().out


def test_batch_command_bad_arguments_exit_2(tmp_path, capsys):
    assert main(["batch", str(tmp_path / "nowhere"), "-o", str(tmp_path / "o")]) == 2
    assert "corpus not found" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["batch", str(tmp_path), "-o", str(tmp_path / "o"), "--workers", "0"])
    assert exit_info.value.code == 2


def test_filepair_is_what_workers_receive():
    import pickle

    pair = FilePair("x", mic=__import__("pathlib").Path("m.wav"), ref=None, out="m.wav")
    assert pickle.loads(pickle.dumps(Task(pair, "pfdkf", SAMPLE_RATE))).pair == pair


def test_without_dask_the_command_runs_in_one_process_or_says_what_to_install(corpus, tmp_path, capsys, monkeypatch):
    import echoless.batch.runner

    monkeypatch.setattr(echoless.batch.runner, "dask_available", lambda: False)
    pairs = [str(corpus / "scene00"), "-o", str(tmp_path)]
    assert main(["batch", *pairs, "--workers", "2"]) == 2
    assert "needs Dask: pip install 'echoless[batch]'" in capsys.readouterr().err
    monkeypatch.setattr(echoless.batch.runner, "default_workers", lambda: 2)
    assert main(["batch", *pairs, "--filter-ms", "16"]) == 0
    captured = capsys.readouterr()
    assert "Dask is not installed" in captured.err and "1 done" in captured.out
