"""cancel_file: block-wise files give the bytes that cancel() on whole arrays gives; memory stays flat."""

import tracemalloc

import numpy as np
import pytest
import soundfile

from echoless.aec import cancel, cancel_file
from echoless.aec.streaming import cancel_blocks, run_canceller
from echoless.aec.methods import make_canceller
from echoless.io import write_audio

SAMPLE_RATE = 16000
FAST = {"filter_ms": 8.0, "delay": 0}


def _pair(n, seed=0):
    rng = np.random.default_rng(seed)
    ref = 0.2 * rng.standard_normal(n)
    path = 0.5 * rng.standard_normal(48) * np.exp(-np.arange(48) / 8.0)
    near = np.zeros(n)
    near[n // 2 :] = 0.05 * rng.standard_normal(n - n // 2)
    return np.convolve(ref, path)[:n] + near, ref


def assert_same_audio(path, expected_path):
    """The same file: byte for byte for PCM; for float WAV, whose PEAK chunk holds the time of writing,
    the same format and the same float32 samples, bit for bit."""
    if soundfile.info(path).subtype != "FLOAT":
        assert path.read_bytes() == expected_path.read_bytes()
        return
    assert soundfile.info(path).__dict__.keys() == soundfile.info(expected_path).__dict__.keys()
    got, expected = (soundfile.read(p, dtype="float32")[0] for p in (path, expected_path))
    assert got.tobytes() == expected.tobytes()


@pytest.fixture
def files(tmp_path):
    mic, ref = _pair(7919)  # a prime: the last frame and the last block are partial
    write_audio(tmp_path / "mic.wav", mic, SAMPLE_RATE, subtype="FLOAT")
    write_audio(tmp_path / "ref.wav", ref, SAMPLE_RATE, subtype="FLOAT")
    mic, _ = soundfile.read(tmp_path / "mic.wav")
    ref, _ = soundfile.read(tmp_path / "ref.wav")
    return tmp_path, mic, ref


@pytest.mark.filterwarnings("ignore:writing .* samples are clipped")  # the same clipping both ways: covered
@pytest.mark.parametrize("method", ["pfdkf", "pbfdaf", "nlms"])
@pytest.mark.parametrize("postfilter", [0.0, 1.0])  # 1.0: the output lags one frame (latency)
@pytest.mark.parametrize("block_size", [7, 160, 100000])
def test_file_bytes_equal_whole_array_cancel(files, method, postfilter, block_size):
    folder, mic, ref = files
    options = {**FAST, "postfilter": postfilter}
    for subtype in ("FLOAT", "PCM_16"):
        expected = cancel(mic, ref, method, SAMPLE_RATE, **options)
        whole = write_audio(folder / f"whole_{subtype}.wav", expected, SAMPLE_RATE, subtype=subtype)
        whole_echo = write_audio(folder / f"whole_echo_{subtype}.wav", mic - expected, SAMPLE_RATE, subtype=subtype)
        result = cancel_file(folder / "mic.wav", folder / "ref.wav", folder / "near.wav", method, SAMPLE_RATE,
                             echo_path=folder / "echo.wav", subtype=subtype, block_size=block_size, **options)
        assert result.streamed and result.n_samples == len(mic)
        assert_same_audio(folder / "near.wav", whole)
        assert_same_audio(folder / "echo.wav", whole_echo)


def test_blocks_of_any_sizes_equal_the_one_block_run():
    mic, ref = _pair(3000, seed=3)
    expected = run_canceller(make_canceller("pfdkf", SAMPLE_RATE, postfilter=1.0, **FAST), mic, ref)
    cuts = [0, 1, 1, 159, 800, 801, 2500, 3000]  # empty blocks, one sample, frame-straddling blocks
    blocks = [(mic[a:b], ref[a:b]) for a, b in zip(cuts[:-1], cuts[1:])]
    pieces = list(cancel_blocks(make_canceller("pfdkf", SAMPLE_RATE, postfilter=1.0, **FAST), blocks))
    np.testing.assert_array_equal(np.concatenate(pieces), expected)


def test_offline_method_reads_the_pair_whole(files):
    folder, mic, ref = files
    result = cancel_file(folder / "mic.wav", folder / "ref.wav", folder / "near.wav", "waveform_ls", filter_ms=4.0)
    assert not result.streamed
    expected = write_audio(folder / "whole.wav", cancel(mic, ref, "waveform_ls", filter_ms=4.0), SAMPLE_RATE)
    assert (folder / "near.wav").read_bytes() == expected.read_bytes()


def test_length_mismatch_and_input_as_output_are_refused_before_writing(tmp_path):
    mic, ref = _pair(1600)
    write_audio(tmp_path / "mic.wav", mic, SAMPLE_RATE)
    write_audio(tmp_path / "short.wav", ref[:1000], SAMPLE_RATE)
    with pytest.raises(ValueError, match="must have the same length, got 1600 and 1000"):
        cancel_file(tmp_path / "mic.wav", tmp_path / "short.wav", tmp_path / "out.wav")
    write_audio(tmp_path / "ref.wav", ref, SAMPLE_RATE)
    before = (tmp_path / "mic.wav").read_bytes()
    with pytest.raises(ValueError, match="refusing to overwrite"):
        cancel_file(tmp_path / "mic.wav", tmp_path / "ref.wav", tmp_path / "mic.wav", **FAST)
    assert (tmp_path / "mic.wav").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mic.wav", "ref.wav", "short.wav"]  # no temporary left


def _write_long_pair(folder, seconds):
    """Noise far end through a short FIR echo, written a second at a time (never whole in memory)."""
    rng = np.random.default_rng(seconds)
    path = 0.4 * np.exp(-np.arange(32) / 6.0)
    with soundfile.SoundFile(folder / f"mic{seconds}.wav", "w", SAMPLE_RATE, 1, "PCM_16") as mic, \
            soundfile.SoundFile(folder / f"ref{seconds}.wav", "w", SAMPLE_RATE, 1, "PCM_16") as ref:
        tail = np.zeros(len(path) - 1)
        for _ in range(seconds):
            block = 0.2 * rng.standard_normal(SAMPLE_RATE)
            echo = np.convolve(np.concatenate((tail, block)), path, mode="valid")
            tail = block[-(len(path) - 1) :]
            ref.write(block)
            mic.write(echo + 0.01 * rng.standard_normal(SAMPLE_RATE))


def _peak_bytes(folder, seconds):
    tracemalloc.start()
    try:
        cancel_file(folder / f"mic{seconds}.wav", folder / f"ref{seconds}.wav", folder / f"out{seconds}.wav",
                    "pfdkf", SAMPLE_RATE, filter_ms=4.0, delay=0, postfilter=0.0)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_does_not_grow_with_duration(tmp_path):
    for seconds in (60, 600):
        _write_long_pair(tmp_path, seconds)
    _peak_bytes(tmp_path, 60)  # first call: imports and compiled kernels are not the stream's memory
    one_minute, ten_minutes = _peak_bytes(tmp_path, 60), _peak_bytes(tmp_path, 600)
    # a whole-array run would hold 10 x 1.9 MB per signal more; the stream holds a few 1 s blocks either way
    assert ten_minutes - one_minute < 2_000_000, (one_minute, ten_minutes)
    assert ten_minutes < 5_000_000


def _padded_loop(canceller, mic, ref):
    """The textbook run: pad to whole frames covering the latency by repeating the last sample,
    process, advance by the latency."""
    size, latency = canceller.frame_size, canceller.latency
    padded = -(-(len(mic) + latency) // size) * size
    mic_frames = np.pad(mic, (0, padded - len(mic)), mode="edge")
    ref_frames = np.pad(ref, (0, padded - len(ref)), mode="edge")
    out = np.concatenate([canceller.process(mic_frames[i : i + size], ref_frames[i : i + size])
                          for i in range(0, padded, size)])
    return out[latency : latency + len(mic)]


@pytest.mark.parametrize("n", [159, 160, 161, 1000])
@pytest.mark.parametrize("postfilter", [0.0, 1.0])
def test_run_canceller_equals_the_padded_frame_loop(n, postfilter):
    mic, ref = _pair(n, seed=n)
    make = lambda: make_canceller("pbfdaf", SAMPLE_RATE, postfilter=postfilter, **FAST)  # noqa: E731
    np.testing.assert_array_equal(run_canceller(make(), mic, ref), _padded_loop(make(), mic, ref))
