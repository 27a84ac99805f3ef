"""The echoless command line, run in-process through main([...]) on tiny real inputs."""

import csv
import json
import re

import numpy as np
import pytest
import soundfile

from echoless.cli import main
from echoless.io import read_audio, write_audio

SAMPLE_RATE = 16000


def _scene(seconds=1.0, seed=0):
    """White-noise far end through a short decaying echo path, plus a quiet tone as near end."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SAMPLE_RATE)
    ref = 0.2 * rng.standard_normal(n)
    path = 0.5 * rng.standard_normal(64) * np.exp(-np.arange(64) / 10.0)
    echo = np.convolve(ref, path)[:n]
    near = np.zeros(n)
    near[n // 2 :] = 0.05 * np.sin(2 * np.pi * 300 * np.arange(n - n // 2) / SAMPLE_RATE)
    return ref, echo, near


@pytest.fixture
def recording(tmp_path):
    ref, echo, near = _scene()
    mic_path = write_audio(tmp_path / "mic.wav", echo + near, SAMPLE_RATE)
    ref_path = write_audio(tmp_path / "ref.wav", ref, SAMPLE_RATE)
    return mic_path, ref_path


def _one_line_error(capsys):
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def test_help_reads_like_a_manual(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for word in ("cancel", "eval", "demo", "report", "examples:", "echoless cancel mic.wav ref.wav -o near.wav"):
        assert word in out
    for command in ("cancel", "eval", "demo", "report"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        assert "usage: echoless " + command in capsys.readouterr().out


def test_cancel_streaming_writes_the_near_end_and_prints_erle_and_speed(recording, tmp_path, capsys):
    mic_path, ref_path = recording
    out = tmp_path / "out" / "near.wav"
    assert main(["cancel", str(mic_path), str(ref_path), "-o", str(out), "--filter-ms", "20"]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""  # progress bars stay quiet when stderr is not a terminal
    erle_db = float(re.search(r"ERLE (-?[\d.]+) dB", captured.out).group(1))
    assert erle_db > 5.0
    assert re.search(r"\d+x real time", captured.out)
    estimate = read_audio(out)
    assert len(estimate) == len(read_audio(mic_path))


def test_cancel_highpass_and_low_cut_options_reach_the_canceller(recording, tmp_path, capsys):
    # --highpass 0 --low-cut 0: the full-band pipeline, as the library runs it with those options
    from echoless.aec import cancel

    mic_path, ref_path = recording
    out = tmp_path / "full_band.wav"
    args = ["cancel", str(mic_path), str(ref_path), "-o", str(out), "--float", "--highpass", "0", "--low-cut", "0"]
    assert main(args) == 0
    mic, ref = read_audio(mic_path), read_audio(ref_path)
    expected = cancel(mic, ref, sample_rate=SAMPLE_RATE, highpass_hz=0, low_cut_hz=0)
    np.testing.assert_allclose(read_audio(out), expected, rtol=0, atol=1e-6)  # float32 file
    assert np.max(np.abs(expected - cancel(mic, ref, sample_rate=SAMPLE_RATE))) > 1e-3  # not the default


def test_cancel_offline_least_squares_with_echo_out(recording, tmp_path, capsys):
    mic_path, ref_path = recording
    near_path, echo_path = tmp_path / "near.wav", tmp_path / "echo.wav"
    args = ["cancel", str(mic_path), str(ref_path), "-o", str(near_path), "--method", "waveform_ls",
            "--filter-ms", "10", "--echo-out", str(echo_path), "--float"]
    assert main(args) == 0
    mic = read_audio(mic_path)
    near, echo = read_audio(near_path), read_audio(echo_path)
    np.testing.assert_allclose(near + echo, mic, atol=1e-6)  # float WAV round trip
    # the echo path is 64 taps (4 ms): a 10 ms least-squares filter removes the echo almost entirely
    ref, true_echo, true_near = _scene()
    assert np.sum((echo - true_echo) ** 2) < 1e-3 * np.sum(true_echo**2)
    assert "wrote" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("make_bad", "message"),
    [
        (lambda tmp: (tmp / "missing.wav", None), "missing.wav"),
        (lambda tmp: (write_audio(tmp / "short.wav", np.zeros(100), SAMPLE_RATE), None), "same length"),
        (lambda tmp: (write_audio(tmp / "rate.wav", np.zeros(8000), 8000), None), "8000"),
        (lambda tmp: (_stereo(tmp / "stereo.wav"), ["--method", "nlms"]), "no multichannel version"),
        (lambda tmp: (None, ["--postfilter", "1", "--method", "waveform_ls"]), "streaming"),
        (lambda tmp: (None, ["--filter-ms", "-3"]), "filter_ms"),
        (lambda tmp: (None, ["--low-cut", "-1"]), "low_cut_hz"),
        (lambda tmp: (None, ["--highpass", "9000"]), "highpass_hz=9000"),
    ],
)
def test_cancel_bad_input_exits_2_with_one_line(recording, tmp_path, capsys, make_bad, message):
    mic_path, ref_path = recording
    bad_mic, extra = make_bad(tmp_path)
    args = ["cancel", str(bad_mic or mic_path), str(ref_path), "-o", str(tmp_path / "o.wav"), *(extra or [])]
    assert main(args) == 2
    line = _one_line_error(capsys)
    assert line.startswith("echoless cancel: error:") and message in line
    assert not (tmp_path / "o.wav").exists()


@pytest.mark.parametrize(
    ("outputs", "message"),
    [
        (lambda tmp, mic: ["-o", str(tmp / "o.wav"), "--echo-out", str(tmp / "o.wav")], "--echo-out and --out are the same file"),
        (lambda tmp, mic: ["-o", str(mic)], "--out and MIC are the same file"),
    ],
)
def test_cancel_refuses_colliding_paths_before_any_work(recording, tmp_path, capsys, outputs, message):
    mic_path, ref_path = recording
    before = mic_path.read_bytes()
    assert main(["cancel", str(mic_path), str(ref_path), *outputs(tmp_path, mic_path)]) == 2
    assert message in _one_line_error(capsys)
    assert mic_path.read_bytes() == before
    assert not (tmp_path / "o.wav").exists()


def test_cancel_filter_longer_than_the_recording_is_one_line(recording, tmp_path, capsys):
    mic_path, ref_path = recording
    assert main(["cancel", str(mic_path), str(ref_path), "-o", str(tmp_path / "o.wav"), "--filter-ms", "1e9"]) == 2
    assert "s of echo path" in _one_line_error(capsys)


def test_cancel_channel_picks_one_channel_of_a_stereo_mic(recording, tmp_path, capsys):
    mic_path, ref_path = recording
    mic, rate = soundfile.read(str(mic_path))
    stereo = tmp_path / "stereo.wav"
    soundfile.write(str(stereo), np.stack([mic, np.zeros_like(mic)], axis=1), rate)
    assert main(["cancel", str(stereo), str(ref_path), "-o", str(tmp_path / "o.wav"), "--mic-channel", "0"]) == 0
    assert (tmp_path / "o.wav").exists()


def test_cancel_each_input_has_its_own_channel(recording, tmp_path, capsys):
    """A mono microphone with a stereo reference: --ref-channel picks the reference's channel only."""
    mic_path, ref_path = recording
    ref, rate = soundfile.read(str(ref_path))
    stereo_ref = tmp_path / "stereo_ref.wav"
    soundfile.write(str(stereo_ref), np.stack([np.zeros_like(ref), ref], axis=1), rate, subtype="FLOAT")
    mono_out, stereo_out = tmp_path / "mono.wav", tmp_path / "stereo.wav"
    assert main(["cancel", str(mic_path), str(ref_path), "-o", str(mono_out), "--float"]) == 0
    assert main(["cancel", str(mic_path), str(stereo_ref), "-o", str(stereo_out), "--ref-channel", "1", "--float"]) == 0
    np.testing.assert_array_equal(read_audio(stereo_out), read_audio(mono_out))


def test_cancel_multichannel_files_give_a_multichannel_output(recording, tmp_path, capsys):
    """Neither --mic-channel nor --ref-channel: a 2-channel MIC and a 2-channel REF run the
    multichannel canceller; OUT has one channel per microphone and echo + near = MIC."""
    mic_path, ref_path = recording
    mic, rate = soundfile.read(str(mic_path))
    ref, _ = soundfile.read(str(ref_path))
    array_mic, stereo_ref = tmp_path / "array.wav", tmp_path / "stereo_ref.wav"
    soundfile.write(str(array_mic), np.stack([mic, 0.5 * mic], axis=1), rate, subtype="FLOAT")
    soundfile.write(str(stereo_ref), np.stack([ref, ref], axis=1), rate, subtype="FLOAT")
    near, echo = tmp_path / "near.wav", tmp_path / "echo.wav"
    args = ["cancel", str(array_mic), str(stereo_ref), "-o", str(near), "--echo-out", str(echo), "--float"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "(mic channel 0)" in out and "(mic channel 1)" in out
    written_near, written_echo = soundfile.read(str(near))[0], soundfile.read(str(echo))[0]
    assert written_near.shape == (len(mic), 2)
    np.testing.assert_allclose(written_near + written_echo, np.stack([mic, 0.5 * mic], axis=1), atol=1e-6)


@pytest.mark.parametrize("suffix", [".mp4", ".txt", ""])
def test_cancel_refuses_an_unwritable_output_format_before_processing(recording, tmp_path, capsys, monkeypatch, suffix):
    import echoless.io

    mic_path, ref_path = recording
    monkeypatch.setattr(echoless.io, "AudioReader", lambda *a, **k: pytest.fail("read before refusing"))
    monkeypatch.setattr(echoless.io, "read_audio", lambda *a, **k: pytest.fail("read before refusing"))
    assert main(["cancel", str(mic_path), str(ref_path), "-o", str(tmp_path / f"o{suffix}")]) == 2
    assert "unknown audio format" in _one_line_error(capsys)


def _stereo(path):
    soundfile.write(str(path), np.zeros((16000, 2)), SAMPLE_RATE)
    return path


@pytest.mark.parametrize("option", [["--method", "magic"], ["--delay", "soon"], ["--delay", "-1"]])
def test_bad_options_are_usage_errors(recording, tmp_path, capsys, option):
    mic_path, ref_path = recording
    with pytest.raises(SystemExit) as exit_info:
        main(["cancel", str(mic_path), str(ref_path), "-o", str(tmp_path / "o.wav"), *option])
    assert exit_info.value.code == 2
    assert "Traceback" not in capsys.readouterr().err


def test_eval_prints_a_table_and_writes_csv_and_markdown(tmp_path, capsys):
    from echoless.data import EchoExample, save_scene

    for seed in (0, 1):
        ref, echo, near = _scene(seconds=0.5, seed=seed)
        example = EchoExample(mic=echo + near, ref=ref, sample_rate=SAMPLE_RATE, near_end=near, name=f"scene{seed}")
        save_scene(example, tmp_path / "scenes" / f"scene{seed}")
    stem = tmp_path / "results" / "table"
    args = ["eval", str(tmp_path / "scenes"), "--methods", "nlms,waveform_ls", "--filter-ms", "10", "-o", str(stem),
            "--workers", "1"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert out.startswith("| example | method |")
    with (stem.with_suffix(".csv")).open() as handle:
        rows = list(csv.DictReader(handle))
    assert [(row["method"]) for row in rows] == ["nlms", "waveform_ls"] * 2
    # the exact least-squares fit recovers the 4 ms echo path; the streaming one adapts from zero (finite numbers)
    assert all(float(row["snr_near_db"]) > 10 for row in rows if row["method"] == "waveform_ls")
    assert all(np.isfinite(float(row["erle_db"])) and float(row["real_time_factor"]) > 0 for row in rows)
    assert stem.with_suffix(".md").read_text() in out


def test_eval_bad_folder_exits_2(tmp_path, capsys):
    assert main(["eval", str(tmp_path)]) == 2
    assert "neither a scene folder" in _one_line_error(capsys)


def test_demo_on_a_tiny_seed_dataset_writes_the_results_and_the_report(tmp_path, capsys):
    root = tmp_path / "homework_2"
    ref, echo, near = _scene(seconds=1.0)
    for data in ("real", "synth"):
        write_audio(root / data / "mic.wav", echo + near, SAMPLE_RATE)
        write_audio(root / data / "ref.wav", ref, SAMPLE_RATE)
    write_audio(root / "synth" / "near.wav", near, SAMPLE_RATE)
    out = tmp_path / "out"
    assert main(["demo", "--out", str(out), "--data", str(root), "--steps", "2"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    methods = {row["method"] for row in summary["rows"]}
    assert {"waveform_lms", "waveform_ls", "spectral_ls", "pbfdaf"} <= methods
    for row in summary["rows"]:
        assert (out / f"{row['method']}_{row['data']}" / "near_end_est.wav").exists()
    assert (out / "report.html").exists()
    assert "report.html" in capsys.readouterr().out


def test_report_command(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    assert "holds no results" in _one_line_error(capsys)
    folder = tmp_path / "pbfdaf_synth"
    ref, echo, near = _scene(seconds=0.5)
    for name, x in (("mic", echo + near), ("ref", ref), ("near_end_est", near)):
        write_audio(folder / f"{name}.wav", x, SAMPLE_RATE, subtype="FLOAT")
    assert main(["report", str(tmp_path)]) == 0
    assert (tmp_path / "report.html").exists()


def test_eval_reads_an_aec_challenge_folder(tmp_path, capsys):
    root = tmp_path / "synthetic"
    for file_id in (3, 7):
        ref, echo, near = _scene(seconds=0.5, seed=file_id)
        for folder, prefix, x in (("farend_speech", "farend_speech", ref), ("nearend_mic_signal", "nearend_mic", echo + near),
                                  ("echo_signal", "echo", echo), ("nearend_speech", "nearend_speech", near)):
            write_audio(root / folder / f"{prefix}_fileid_{file_id}.wav", x, SAMPLE_RATE, subtype="FLOAT")
    stem = tmp_path / "table"
    assert main(["eval", str(root), "--methods", "waveform_ls", "--filter-ms", "10", "-o", str(stem), "--workers", "1"]) == 0
    with stem.with_suffix(".csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [row["example"] for row in rows] == ["fileid_3", "fileid_7"]
    assert all(float(row["snr_near_db"]) > 10 for row in rows)  # the truth folders were read


def test_cancel_mono_mic_with_stereo_reference(recording, tmp_path, capsys):
    """A mono microphone and a stereo reference, no channel picked: the stereo canceller, a mono output."""
    mic_path, ref_path = recording
    ref = read_audio(ref_path)
    stereo_ref = tmp_path / "stereo_ref.wav"
    soundfile.write(str(stereo_ref), np.stack([ref, 0.5 * ref], axis=1), SAMPLE_RATE)
    out = tmp_path / "near.wav"
    assert main(["cancel", str(mic_path), str(stereo_ref), "-o", str(out)]) == 0
    assert soundfile.info(str(out)).channels == 1 and len(read_audio(out)) == len(read_audio(mic_path))
    assert "ERLE" in capsys.readouterr().out


def test_cancel_keeps_int16_valued_float_input_unclipped(tmp_path, capsys):
    """Float WAVs holding int16-valued samples (x 32768): the output is float too, not clipped to [-1, 1]."""
    ref, echo, near = _scene()
    mic_path, ref_path = tmp_path / "mic.wav", tmp_path / "ref.wav"
    write_audio(mic_path, 32768 * (echo + near), SAMPLE_RATE, subtype="FLOAT")
    write_audio(ref_path, 32768 * ref, SAMPLE_RATE, subtype="FLOAT")
    assert main(["cancel", str(mic_path), str(ref_path), "-o", str(tmp_path / "near.wav")]) == 0
    captured = capsys.readouterr()
    assert soundfile.info(str(tmp_path / "near.wav")).subtype == "FLOAT" and "clipped" not in captured.err
    estimate = read_audio(tmp_path / "near.wav")
    assert np.max(np.abs(estimate)) > 1.0  # still at the input's scale
    assert main(["cancel", str(mic_path), str(ref_path), "-o", str(tmp_path / "near.flac")]) == 0  # FLAC: no float
    assert soundfile.info(str(tmp_path / "near.flac")).subtype == "PCM_16"
