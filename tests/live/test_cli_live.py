"""``echoless live`` without a sound card: a fake sounddevice module, a missing one, and the real one with no device."""

import json
import pathlib
import sys
import re
import threading
import time
import types

import numpy as np
import pytest

from echoless.cli import main
from echoless.metrics import erle
from echoless.io import read_audio

RATE = 16000
MAX_SECONDS = 30  # of a fake stream


def _one_line_error(capsys):
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [line for line in err.strip().splitlines() if not line.startswith("preparing")]
    assert len(lines) == 1, err
    return lines[0]


class FakeStream:
    """A duplex stream on a fake card: its microphone hears its own output through a short echo path.

    Input sample ``m`` is the output ``OFFSET`` samples earlier, through
    ``PATH``: PortAudio-style reported latencies (20 + 40 ms) with the true
    offset 5 ms beyond them, as a real card may have.
    """

    OFFSET = round(0.065 * RATE)
    samples_run = 0  # by the last stream, for the fake sounddevice.sleep
    mic = np.zeros(0)  # what the last stream's microphone heard
    PATH = 0.6 * np.exp(-np.arange(64) / 12.0) * np.random.default_rng(0).choice([-1.0, 1.0], 64)

    def __init__(self, samplerate, channels, callback, blocksize=0, device=None, dtype="float32"):
        self.block = blocksize or 256
        self.callback = callback
        self.latency = (0.02, 0.04)
        self.device = device
        self._running = threading.Event()
        self._thread = threading.Thread(target=self._run)

    def __enter__(self):
        FakeStream.samples_run = 0
        self._running.set()
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._running.clear()
        self._thread.join()

    def close(self):
        pass

    def _run(self):
        played = np.zeros(MAX_SECONDS * RATE)
        FakeStream.mic = np.zeros(MAX_SECONDS * RATE)
        noise = np.random.default_rng(1)
        taps = np.arange(len(self.PATH))
        for start in range(0, len(played) - self.block, self.block):
            if not self._running.is_set():
                break
            source = np.arange(start, start + self.block)[:, None] - self.OFFSET - taps  # (block, taps)
            heard = np.where(source >= 0, played[np.clip(source, 0, None)], 0.0)
            indata = (heard @ self.PATH + 1e-4 * noise.standard_normal(self.block)).astype(np.float32)[:, None]
            outdata = np.empty((self.block, 1), np.float32)
            self.callback(indata, outdata, self.block, None, False)
            played[start : start + self.block] = outdata[:, 0]
            FakeStream.mic[start : start + self.block] = indata[:, 0]
            FakeStream.samples_run = start + self.block


def _fake_sounddevice(devices=("fake card",)):
    module = types.ModuleType("sounddevice")
    module.PortAudioError = type("PortAudioError", (Exception,), {})
    module.query_devices = lambda: "\n".join(f"  {i} {name}" for i, name in enumerate(devices)) if devices else []
    module.check_input_settings = module.check_output_settings = lambda **settings: None
    module.Stream = FakeStream

    def sleep(milliseconds):  # until the fake card has run that long (it runs faster than real time)
        deadline = time.monotonic() + 60
        while FakeStream.samples_run < milliseconds * RATE // 1000 and time.monotonic() < deadline:
            time.sleep(0.001)

    module.sleep = sleep
    return module


@pytest.fixture
def fake_card(monkeypatch):
    monkeypatch.setitem(sys.modules, "sounddevice", _fake_sounddevice())


def test_live_session_on_a_fake_card_writes_wavs_and_a_report(fake_card, tmp_path, capsys):
    out = tmp_path / "take"
    assert main(["live", "--duration", "3", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    mic, ref, cleaned = (read_audio(out / f"{name}.wav") for name in ("mic", "ref", "out"))
    assert len(mic) == len(ref) == len(cleaned) == 3 * RATE
    report = json.loads((out / "report.json").read_text())
    assert report["complete"] and report["glitches"] == 0 and report["device_xruns"] == 0
    assert report["device_latency_ms"] == pytest.approx(50.0)  # 20 + 40 ms reported, less the 10 ms margin
    assert report["added_latency_ms"] == pytest.approx(319 / 16)
    # the 15 ms the card hid (5 ms beyond its report, the 10 ms margin) found by the delay search, less its 5 ms margin
    assert report["canceller_delay_ms"] == pytest.approx(10.0, abs=1.0)
    assert report["erle_db"] > 18.0  # measured 24.0 dB over the whole 3 s, the delay search locking after 2 s
    assert f"ERLE {report['erle_db']:.1f} dB" in printed and "underruns 0, overruns 0" in printed
    np.testing.assert_allclose(mic[FakeStream.OFFSET + 64 :], np.convolve(ref, FakeStream.PATH)[64 : len(ref) - FakeStream.OFFSET],
                               atol=1e-3)  # the card heard what was played


def test_list_devices_prints_the_table(fake_card, capsys):
    assert main(["live", "--list-devices"]) == 0
    assert "0 fake card" in capsys.readouterr().out


def test_no_device_is_a_one_line_error_and_list_devices_says_so(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "sounddevice", _fake_sounddevice(devices=()))
    assert main(["live", "--list-devices"]) == 0
    assert "no audio devices found" in capsys.readouterr().out
    assert main(["live", "--duration", "1"]) == 2
    assert "no audio devices found" in _one_line_error(capsys)


def test_missing_sounddevice_names_the_extra_and_portaudio(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "sounddevice", None)  # import sounddevice -> ImportError
    assert main(["live", "--list-devices"]) == 2
    line = _one_line_error(capsys)
    assert "echoless[live]" in line and "libportaudio2" in line


def test_missing_portaudio_names_libportaudio2(monkeypatch, tmp_path, capsys):
    (tmp_path / "sounddevice.py").write_text("raise OSError('PortAudio library not found')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "sounddevice", raising=False)
    assert main(["live", "--duration", "1"]) == 2
    line = _one_line_error(capsys)
    assert "PortAudio library not found" in line and "libportaudio2" in line


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--tone", "9000"], "tone must be below half the sample rate (8000 Hz)"),
        (["--duration", "-1"], "duration must be finite and > 0"),
        (["--duration", "1e9"], "duration must be at most 600 s"),
        (["--sample-rate", "0"], "sample_rate must be >= 1"),
        (["--play", "no/such.wav"], "no/such.wav"),
    ],
)
def test_bad_options_are_one_line_errors_before_any_audio(fake_card, arguments, message, capsys):
    assert main(["live", *arguments]) == 2
    assert message in _one_line_error(capsys)


def test_play_and_tone_are_exclusive(capsys):
    with pytest.raises(SystemExit) as info:
        main(["live", "--play", "a.wav", "--tone", "440"])
    assert info.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err


def test_device_ids_are_numbers_and_names_are_text(monkeypatch, tmp_path, capsys):
    opened = {}

    class Recording(FakeStream):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            opened["device"] = self.device

    module = _fake_sounddevice()
    module.Stream = Recording
    monkeypatch.setitem(sys.modules, "sounddevice", module)
    assert main(["live", "--tone", "440", "--duration", "0.2", "--input", "2", "--output", "USB", "--out", str(tmp_path)]) == 0
    assert opened["device"] == (2, "USB")


def test_real_sounddevice_without_a_sound_card(capsys):
    try:
        import sounddevice
    except (ImportError, OSError) as error:
        pytest.skip(f"sounddevice or PortAudio not installed ({error})")
    if len(sounddevice.query_devices()):
        pytest.skip("this machine has a sound card")
    assert main(["live", "--list-devices"]) == 0
    assert "no audio devices found" in capsys.readouterr().out
    assert main(["live", "--duration", "1"]) == 2
    assert "no audio devices found" in _one_line_error(capsys)


def test_readme_live_example_runs_and_cancels(fake_card):
    readme = (pathlib.Path(__file__).parents[2] / "README.md").read_text()
    section = readme[readme.index("## Live audio") :]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    assert len([line for line in code.splitlines() if line.strip()]) <= 15  # the 15 lines
    namespace = {}
    exec(compile(code, "README.md", "exec"), namespace)
    live = namespace["live"]
    out = np.concatenate(namespace["cleaned"])
    stats = live.stats
    assert stats.glitches == 0 and live.device_latency == 800
    assert stats.captured_samples == len(out) >= 20 * RATE
    lag = live.latency
    mic = FakeStream.mic[: len(out) - lag]
    assert erle(mic[-10 * RATE :], out[lag:][-10 * RATE :]) > 25.0
