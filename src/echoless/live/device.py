"""A live session on a real sound card: play, record and cancel through sounddevice.

One full-duplex PortAudio stream (`sounddevice.Stream
<https://python-sounddevice.readthedocs.io/en/latest/api/streams.html>`_)
plays a signal on the output device and records the input device. Its
callback gets the input block and fills the output block of the same period,
so it pushes the output block to a :class:`~echoless.live.LiveCanceller`
as reference and cancels the input block. Input sample ``m`` and output
sample ``m`` belong to the same period; the output one reaches the
loudspeaker about ``input + output`` latency later than the input one was
captured, which is the device latency (PortAudio's own estimate, less
:data:`LATENCY_MARGIN_SECONDS`; the canceller's delay search finds the rest).

sounddevice is an optional dependency (``pip install echoless[live]``) that
loads the PortAudio library (Debian ``libportaudio2``); it is imported only
here, on first use.
"""

from __future__ import annotations

import json
import threading
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

#: How to get what ``echoless live`` needs.
INSTALL_HINT = "pip install 'echoless[live]' and the PortAudio library (Debian: apt-get install libportaudio2)"
#: Taken off PortAudio's latency estimate: a reference that arrives after its echo cannot be
#: cancelled, while one that arrives early only uses some of the delay search's range.
LATENCY_MARGIN_SECONDS = 0.01
#: Longest session, seconds: its signals are kept in memory.
MAX_SECONDS = 600


def import_sounddevice():
    """The ``sounddevice`` module, or an ``OSError`` saying how to install it."""
    try:
        import sounddevice
    except ImportError:
        raise OSError(f"the live mode needs the sounddevice package: {INSTALL_HINT}") from None
    except OSError as error:  # sounddevice found, the PortAudio library not
        raise OSError(f"sounddevice cannot load PortAudio ({error}): {INSTALL_HINT}") from None
    return sounddevice


def list_devices() -> str:
    """A table of the audio devices PortAudio sees (``>`` default input, ``<`` default output).

    Raises
    ------
    OSError
        If sounddevice or PortAudio is missing.
    """
    devices = import_sounddevice().query_devices()
    if len(devices) == 0:
        return "no audio devices found: PortAudio sees no sound card (none in a container or on a server)"
    return str(devices)


def check_devices(sample_rate: int, input_device=None, output_device=None) -> None:
    """Raise ``OSError`` unless both devices can run a mono float stream at ``sample_rate``.

    Cheap, unlike warming a canceller up: check first, fail fast.
    """
    sd = import_sounddevice()
    if len(sd.query_devices()) == 0:
        raise OSError("no audio devices found: PortAudio sees no sound card (none in a container or on a server)")
    settings = {"channels": 1, "dtype": "float32", "samplerate": sample_rate}
    try:
        sd.check_input_settings(device=input_device, **settings)
        sd.check_output_settings(device=output_device, **settings)
    except (sd.PortAudioError, ValueError) as error:
        raise OSError(f"cannot use the audio devices at {sample_rate} Hz ({error}); "
                      "see 'echoless live --list-devices'") from None


@dataclass(frozen=True)
class LiveRecording:
    """What :func:`run_duplex` recorded (signals shape (T,), float64, at the session's rate).

    Attributes
    ----------
    mic, ref, out : numpy.ndarray
        The input device's signal, what the output device played, the cleaned signal
        (``live.latency`` samples behind ``mic``).
    device_latency : int
        Samples the canceller was told (see the module notes).
    device_xruns : int
        Callbacks in which PortAudio reported an input overflow or output underflow.
    complete : bool
        Whether the stream ran to the end (``False``: it stopped early, the signals end in zeros).
    """

    mic: np.ndarray
    ref: np.ndarray
    out: np.ndarray
    device_latency: int
    device_xruns: int
    complete: bool


def run_duplex(live, playback: np.ndarray, *, input_device=None, output_device=None,
               block_size: int = 0, device_latency: int | None = None) -> LiveRecording:
    """Play ``playback``, record as long, and cancel the echo with ``live`` in the stream's callback.

    Parameters
    ----------
    live : LiveCanceller
        Warm already (its constructor compiles the canceller); its ``sample_rate`` is the stream's.
    playback : numpy.ndarray, shape (T,)
        What to play, in [-1, 1].
    input_device, output_device : int or str, optional
        sounddevice device ids or name substrings (default: the system's defaults).
    block_size : int
        Samples per callback; 0 lets PortAudio choose (possibly varying).
    device_latency : int, optional
        Samples; default PortAudio's input + output latency less :data:`LATENCY_MARGIN_SECONDS`.

    Raises
    ------
    OSError
        If sounddevice is missing or the devices cannot be opened.
    """
    sd = import_sounddevice()
    n = len(playback)
    mic, ref, out = np.zeros(n), np.zeros(n), np.zeros(n)
    state = {"position": 0, "xruns": 0}
    done = threading.Event()

    def callback(indata, outdata, frames, time_info, status) -> None:
        start = state["position"]
        outdata.fill(0)
        if start == n:  # done: silence until the stream stops, the recording and counters left as they are
            return
        stop = min(start + frames, n)
        outdata[: stop - start, 0] = playback[start:stop]
        live.push_reference(outdata[:, 0])
        cleaned = live.process(indata[:, 0])
        mic[start:stop] = indata[: stop - start, 0]
        ref[start:stop] = outdata[: stop - start, 0]
        out[start:stop] = cleaned[: stop - start]
        state["xruns"] += bool(status)
        state["position"] = stop
        if stop == n:
            done.set()

    try:
        stream = sd.Stream(samplerate=live.sample_rate, blocksize=block_size, device=(input_device, output_device),
                           channels=1, dtype="float32", callback=callback)
    except (sd.PortAudioError, ValueError) as error:
        raise OSError(f"cannot open the audio devices ({error}); see 'echoless live --list-devices'") from None
    try:
        if device_latency is None:  # PortAudio knows its latencies once the stream is open, before it starts
            reported = sum(stream.latency) - LATENCY_MARGIN_SECONDS
            device_latency = max(0, round(reported * live.sample_rate))
        live.device_latency = device_latency
    except BaseException:
        stream.close()
        raise
    with stream:  # started here, stopped and closed on the way out
        complete = done.wait(timeout=n / live.sample_rate + 5.0)
    return LiveRecording(mic=mic, ref=ref, out=out, device_latency=device_latency,
                         device_xruns=state["xruns"], complete=complete)


def playback_signal(sample_rate: int, duration: float | None = None, *, path=None, tone: float | None = None) -> np.ndarray:
    """What ``echoless live`` plays: a file, a tone, or the shipped far-end talker, looped to ``duration``.

    Parameters
    ----------
    sample_rate : int
        Hz (a file at another rate is resampled).
    duration : float, optional
        Seconds, at most :data:`MAX_SECONDS`; default the file's or talker's length, 10 s for a tone.
    path : path-like, optional
        A mono audio file.
    tone : float, optional
        Frequency of a sine at -10 dBFS, Hz (below ``sample_rate / 2``).

    Raises
    ------
    ValueError, OSError
        On a bad rate, duration or frequency, or an unreadable file.
    """
    from echoless._validation import check_positive_float, check_positive_int

    sample_rate = check_positive_int(sample_rate, "sample_rate")
    if duration is not None:
        duration = check_positive_float(duration, "duration")
        if duration > MAX_SECONDS:
            raise ValueError(f"duration must be at most {MAX_SECONDS} s (a session is kept in memory), got {duration:g}")
    if tone is not None:
        tone = check_positive_float(tone, "tone")
        if tone >= sample_rate / 2:
            raise ValueError(f"tone must be below half the sample rate ({sample_rate / 2:g} Hz), got {tone:g} Hz")
        return 0.3 * np.sin(2 * np.pi * tone * np.arange(round((duration or 10.0) * sample_rate)) / sample_rate)
    if path is not None:
        from echoless.io import read_audio

        signal = read_audio(path, sample_rate, resample=True)
    else:
        from echoless.data.talkers import TALKERS, load_recording
        from echoless.io import resample_signal

        signal = resample_signal(load_recording(TALKERS[0]), 16000, sample_rate)
    if duration is None:
        return signal[: MAX_SECONDS * sample_rate]
    return np.resize(signal, round(duration * sample_rate))  # loops


def summarize(live, recording: LiveRecording) -> dict:
    """The report of a session: ERLE, latencies, counters, callback time (JSON-ready).

    The ERLE (:func:`echoless.metrics.erle` of ``mic`` and the aligned
    ``out``) measures echo removal only where nobody spoke near the microphone.
    """
    from echoless.metrics import erle

    rate = live.sample_rate
    lag = live.latency
    stats = live.stats
    heard = len(recording.mic) > lag and np.any(recording.mic[: len(recording.mic) - lag])
    return {
        "sample_rate": rate,
        "seconds": len(recording.mic) / rate,
        "complete": recording.complete,
        "erle_db": erle(recording.mic[: len(recording.mic) - lag], recording.out[lag:]) if heard else None,
        "device_latency_ms": 1000 * recording.device_latency / rate,
        "canceller_delay_ms": 1000 * getattr(live.canceller, "delay", 0) / rate,
        "added_latency_ms": 1000 * lag / rate,
        "device_xruns": recording.device_xruns,
        **asdict(stats),
        "glitches": stats.glitches,
    }


def format_summary(report: dict) -> str:
    """The few lines ``echoless live`` prints about a session (from :func:`summarize`)."""
    erle_text = "n/a (silent input)" if report["erle_db"] is None else f"{report['erle_db']:.1f} dB"
    stopped = "" if report["complete"] else " (the stream stopped early)"
    return "\n".join([
        f"{report['seconds']:.1f} s at {report['sample_rate']} Hz{stopped}: ERLE {erle_text} "
        "(counts echo only while nobody spoke near the microphone)",
        f"latency: device {report['device_latency_ms']:.1f} ms, delay found by the canceller "
        f"{report['canceller_delay_ms']:.1f} ms, added by echoless {report['added_latency_ms']:.1f} ms",
        f"underruns {report['underruns']}, overruns {report['overruns']}, device xruns {report['device_xruns']}, "
        f"canceller resets {report['canceller_resets']}, errors {report['canceller_errors']}",
        f"callback time: mean {1000 * report['mean_callback_seconds']:.2f} ms, "
        f"max {1000 * report['max_callback_seconds']:.2f} ms",
    ])


def save_session(folder, recording: LiveRecording, report: dict) -> list[Path]:
    """Write ``mic.wav``, ``ref.wav``, ``out.wav`` (32-bit float) and ``report.json`` into ``folder``.

    Returns
    -------
    list of pathlib.Path
        The files written.
    """
    from echoless.io import write_audio

    folder = Path(folder)
    paths = [write_audio(folder / f"{name}.wav", getattr(recording, name), report["sample_rate"], subtype="FLOAT")
             for name in ("mic", "ref", "out")]
    paths.append(folder / "report.json")
    paths[-1].write_text(json.dumps(report, indent=2) + "\n")
    return paths
