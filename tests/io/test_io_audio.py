"""read_audio / write_audio: every error message, PCM scaling, resampling, atomic writes."""

import os
import warnings

import numpy as np
import pytest
import scipy.signal
import soundfile

from echoless.io import read_audio, resample_signal, write_audio


def _write(path, data, rate=16000, subtype="PCM_16"):
    soundfile.write(path, data, rate, subtype=subtype)
    return path


def test_missing_file_names_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="audio file not found: .*nothing.wav"):
        read_audio(tmp_path / "nothing.wav")


def test_folder_is_not_audio(tmp_path):
    with pytest.raises(ValueError, match="is a folder"):
        read_audio(tmp_path)


def test_unreadable_format(tmp_path):
    path = tmp_path / "notes.wav"
    path.write_text("not audio at all")
    with pytest.raises(ValueError, match="cannot read .*notes.wav as audio.*WAV or FLAC"):
        read_audio(path)


def test_wrong_sample_rate_says_both_rates_and_the_fix(tmp_path):
    path = _write(tmp_path / "a.wav", np.zeros(800), rate=8000)
    with pytest.raises(ValueError, match=r"sample rate 8000 Hz, expected 16000 Hz; pass resample=True \(echoless cancel: --resample\) to convert it, or expect 8000 Hz \(--sample-rate 8000\)"):
        read_audio(path)


def test_multichannel_says_how_many_and_how_to_pick(tmp_path):
    path = _write(tmp_path / "stereo.wav", np.zeros((100, 2)))
    with pytest.raises(ValueError, match=r"has 2 channels, echoless needs mono: pick one with channel=0 \(command line: --mic-channel 0 / --ref-channel 0\)"):
        read_audio(path)


def test_channel_picks_one(tmp_path):
    data = np.stack([np.full(100, 0.25), np.full(100, -0.5)], axis=1)
    path = _write(tmp_path / "stereo.wav", data)
    np.testing.assert_array_equal(read_audio(path, channel=1), np.full(100, -0.5))
    with pytest.raises(ValueError, match="channel=2 is out of range: .* has 2 channel"):
        read_audio(path, channel=2)


def test_empty_file(tmp_path):
    path = _write(tmp_path / "empty.wav", np.zeros(0))
    with pytest.raises(ValueError, match="holds no samples"):
        read_audio(path)


def test_nan_and_inf_samples(tmp_path):
    data = np.array([0.1, np.nan, np.inf, 0.2], dtype=np.float32)
    path = _write(tmp_path / "bad.wav", data, subtype="FLOAT")
    with pytest.raises(ValueError, match="contains 2 NaN or Inf sample"):
        read_audio(path)


def test_bad_argument_types(tmp_path):
    with pytest.raises(TypeError, match="path must be a str or os.PathLike"):
        read_audio(3)
    with pytest.raises(ValueError, match="sample_rate must be >= 1"):
        read_audio(tmp_path / "x.wav", sample_rate=0)


def test_integer_pcm_is_scaled_to_minus_one_one(tmp_path):
    data = np.array([-32768, -16384, 0, 1, 32767], dtype=np.int16)
    path = _write(tmp_path / "pcm.wav", data)
    x = read_audio(path)
    assert x.dtype == np.float64
    np.testing.assert_array_equal(x, data / 32768.0)
    assert x.min() == -1.0 and x.max() < 1.0


def test_resample_matches_resample_poly(tmp_path):
    rng = np.random.default_rng(0)
    data = rng.uniform(-0.5, 0.5, 4410).astype(np.float32)
    path = _write(tmp_path / "cd.wav", data, rate=44100, subtype="FLOAT")
    x = read_audio(path, resample=True)
    expected = scipy.signal.resample_poly(data.astype(np.float64), 160, 441)  # 16000/44100 in lowest terms
    np.testing.assert_allclose(x, expected, rtol=0, atol=1e-12)
    assert len(x) == 1600


def test_resample_preserves_a_low_tone():
    t = np.arange(8000) / 8000
    tone = np.sin(2 * np.pi * 200 * t)
    up = resample_signal(tone, 8000, 16000)
    expected = np.sin(2 * np.pi * 200 * np.arange(16000) / 16000)
    np.testing.assert_allclose(up[200:-200], expected[200:-200], atol=2e-3)
    np.testing.assert_array_equal(resample_signal(tone, 8000, 8000), tone)


def test_write_then_read_round_trip_is_16_bit_pcm(tmp_path):
    x = np.linspace(-0.9, 0.9, 1000)
    path = write_audio(tmp_path / "out.wav", x, 16000)
    info = soundfile.info(path)
    assert (info.subtype, info.samplerate, info.channels) == ("PCM_16", 16000, 1)
    np.testing.assert_allclose(read_audio(path), x, atol=1 / 32768)


def test_write_float_subtype_is_near_exact(tmp_path):
    x = np.random.default_rng(1).uniform(-2, 2, 500)  # float files need no clipping
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        path = write_audio(tmp_path / "f.wav", x, 16000, subtype="FLOAT")
    np.testing.assert_allclose(read_audio(path), x, rtol=6e-8)


def test_write_creates_parent_folders_and_leaves_no_temporary(tmp_path):
    path = write_audio(tmp_path / "a" / "b" / "out.flac", np.zeros(10), 16000)
    assert path.is_file()
    assert os.listdir(path.parent) == ["out.flac"]
    assert soundfile.info(path).format == "FLAC"


def test_write_is_atomic_when_writing_fails(tmp_path, monkeypatch):
    path = tmp_path / "keep.wav"
    write_audio(path, np.full(10, 0.5), 16000)

    def failing_write(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(soundfile.SoundFile, "write", failing_write)
    with pytest.raises(OSError, match="disk full"):
        write_audio(path, np.zeros(10), 16000)
    assert os.listdir(tmp_path) == ["keep.wav"]  # no temporary left, old content intact
    monkeypatch.undo()
    np.testing.assert_allclose(read_audio(path), 0.5, atol=1 / 32768)


def test_write_refuses_to_overwrite_an_input_of_this_run(tmp_path):
    path = _write(tmp_path / "input.wav", np.zeros(10))
    read_audio(path)
    with pytest.raises(ValueError, match="refusing to overwrite .*input.wav: it was read as an input"):
        write_audio(path, np.ones(10) * 0.1, 16000)
    # the same file reached through another spelling of its path is refused too
    with pytest.raises(ValueError, match="refusing to overwrite"):
        write_audio(tmp_path / "sub" / ".." / "input.wav", np.zeros(10), 16000)


def test_results_read_back_unprotected_can_be_rewritten(tmp_path):
    path = write_audio(tmp_path / "result.wav", np.zeros(10), 16000)
    np.testing.assert_array_equal(read_audio(path, protect=False), np.zeros(10))
    write_audio(path, np.full(10, 0.25), 16000)  # a re-run overwrites its own result
    np.testing.assert_allclose(read_audio(path, protect=False), 0.25, atol=1 / 32768)


def test_write_warns_when_it_must_clip(tmp_path):
    with pytest.warns(UserWarning, match="peak 1.5 exceeds 1.0; samples are clipped"):
        path = write_audio(tmp_path / "loud.wav", np.array([0.0, 1.5, -1.2]), 16000)
    np.testing.assert_allclose(read_audio(path), [0.0, 32767 / 32768, -1.0])


def test_write_rejects_bad_signals_and_formats(tmp_path):
    with pytest.raises(ValueError, match="x contains 1 NaN"):
        write_audio(tmp_path / "n.wav", np.array([0.0, np.nan]), 16000)
    with pytest.raises(ValueError, match="x must be 1-D.*pick one channel"):
        write_audio(tmp_path / "s.wav", np.zeros((10, 2)), 16000)
    with pytest.raises(ValueError, match="unknown audio format '.xyz'"):
        write_audio(tmp_path / "a.xyz", np.zeros(10), 16000)
    with pytest.raises(ValueError, match="subtype 'VORBIS' cannot be written in the WAV format"):
        write_audio(tmp_path / "a.wav", np.zeros(10), 16000, subtype="VORBIS")
    with pytest.raises(TypeError, match="sample_rate must be an integer"):
        write_audio(tmp_path / "a.wav", np.zeros(10), 16000.0)


def test_written_files_get_the_mode_the_umask_gives(tmp_path):
    """Atomic writes go through a private temporary file (mode 0600): the result must not keep that."""
    import os
    import stat

    umask = os.umask(0o022)
    try:
        path = write_audio(tmp_path / "out.wav", np.zeros(100), 16000)
    finally:
        os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
