"""Multichannel echo cancellation: echoless MultichannelPFDKF against speexdsp and WebRTC AEC3.

Run on demand (not part of the test suite)::

    .venv/bin/python benchmarks/bench_multichannel.py [--duration 20] [--seeds 2] [--out benchmarks/bench_multichannel_results.md]

Cases, each on scenes of :func:`echoless.data.make_scene` (default timeline:
far-end single talk, double talk at 0 dB, near-end single talk; 40 ms bulk
delay; one scene per seed):

* ``stereo``: two loudspeakers playing a stereo far end (the talker recorded
  by a spaced pair in a far-end room), one microphone;
* ``4-mic``: one loudspeaker, a 4-microphone circular array;
* ``stereo 4-mic``: both;
* ``mono on 2 ch``: the stereo scene's geometry with both loudspeakers playing
  the same (mono) signal: the case of AEC3's stereo detection.

Contenders, all at 160-sample (10 ms) frames, one core:

* ``echoless joint``: :class:`~echoless.aec.multichannel.MultichannelPFDKF`
  with the default pipeline (high-pass, ``delay="auto"``, postfilter), and
  ``echoless joint linear`` without the postfilter;
* ``echoless per channel``: one single-channel PFDKF per microphone, each
  fed the mono mix of the references (what a mono canceller can do with
  stereo playback);
* ``speexdsp MDF`` (multichannel: ``EchoCanceller.create(frame, 4000, rate,
  mics, speakers)``) and ``WebRTC AEC3`` (``aec-audio-processing`` with
  ``set_stream_format(rate, mics)`` and ``set_reverse_stream_format(rate,
  speakers)``, AEC only). Both take interleaved 16-bit audio. A peer that
  cannot be imported is reported and skipped. The AEC3 binding
  (aec-audio-processing 1.x) writes the render stream's output with the
  *capture* channel count into a buffer sized for the render channels
  (``ProcessReverseStream(..., *stream_config_out_, ...)`` in
  ``audio_processing_module.cpp``), which corrupts the heap (``free():
  corrupted unsorted chunks``) whenever there are more microphones than
  loudspeakers; so AEC3 runs only where ``n_mic <= n_ref`` (the stereo
  cases), which AEC3 itself has no trouble with.

Metrics (mean over microphones, then median over scenes): ``ERLE`` over the
far-end single talk and its last 3 s, ``DT SI-SNR`` against the true near end
plus noise over the double talk (dB), after advancing each output by the
latency that best aligns it; ``RTF``, audio seconds per second of processing.
The cost table times each contender per frame with 1 and ``M`` = 4
microphones (AEC3: 2, with two references only; one and two references) on noise and gives the cost
of each extra microphone as a share of the first: ``(t(M) - t(1)) / ((M - 1) t(1))``.
"""

from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("OMP_NUM_THREADS", "1")

import time
from collections.abc import Callable

import numpy as np
from tqdm import tqdm

from echoless.aec import PFDKF, MultichannelPFDKF
from echoless.conv import convolve
from echoless.data import make_scene
from echoless.metrics import erle, si_snr

SAMPLE_RATE = 16_000
FRAME = 160
MAX_LATENCY = 2048
CASES = {
    "stereo": {"n_loudspeakers": 2, "n_mics": 1},
    "4-mic": {"n_loudspeakers": 1, "n_mics": 4},
    "stereo 4-mic": {"n_loudspeakers": 2, "n_mics": 4},
    "mono on 2 ch": {"n_loudspeakers": 2, "n_mics": 1, "mono": True},
}

def runs(name: str, n_mic: int, n_ref: int) -> bool:
    """Whether contender ``name`` can run this channel layout (see the module notes on AEC3)."""
    return name != "WebRTC AEC3" or n_mic <= n_ref


def _int16(x: np.ndarray) -> bytes:
    """Interleaved 16-bit samples of a (frames, channels) array."""
    return (np.clip(x, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()


class Speex:
    """speexdsp's multichannel MDF behind the multichannel frame protocol."""

    def __init__(self, n_mic: int, n_ref: int) -> None:
        import speexdsp

        self.n_mic = n_mic
        self._state = speexdsp.EchoCanceller.create(FRAME, 4000, SAMPLE_RATE, n_mic, n_ref)

    def process(self, mic: np.ndarray, ref: np.ndarray) -> np.ndarray:
        out = np.frombuffer(self._state.process(_int16(mic), _int16(ref)), dtype="<i2")
        return out.reshape(-1, self.n_mic) / 32767.0


class WebRtcAec3:
    """WebRTC audio processing (AEC3 only) with ``n_mic`` capture and ``n_ref`` render channels."""

    def __init__(self, n_mic: int, n_ref: int) -> None:
        from aec_audio_processing import AudioProcessor

        processor = AudioProcessor(enable_aec=True, enable_ns=False, enable_agc=False, enable_vad=False)
        processor.set_stream_format(SAMPLE_RATE, n_mic, SAMPLE_RATE, n_mic)
        processor.set_reverse_stream_format(SAMPLE_RATE, n_ref)
        processor.set_stream_delay(0)
        self.n_mic = n_mic
        self._processor = processor

    def process(self, mic: np.ndarray, ref: np.ndarray) -> np.ndarray:
        self._processor.process_reverse_stream(_int16(ref))
        out = np.frombuffer(self._processor.process_stream(_int16(mic)), dtype="<i2")
        return out.reshape(-1, self.n_mic) / 32767.0


class PerChannel:
    """One single-channel PFDKF per microphone, each on the mono mix of the references."""

    def __init__(self, n_mic: int, n_ref: int) -> None:
        self._cancellers = [PFDKF(SAMPLE_RATE, FRAME) for _ in range(n_mic)]

    def process(self, mic: np.ndarray, ref: np.ndarray) -> np.ndarray:
        mix = np.ascontiguousarray(ref.mean(axis=1))
        return np.stack([c.process(np.ascontiguousarray(mic[:, m]), mix) for m, c in enumerate(self._cancellers)], 1)


def contenders() -> tuple[dict[str, Callable[[int, int], object]], list[str]]:
    """Constructors ``(n_mic, n_ref) -> canceller``, and a note per peer that cannot be built."""
    makers: dict[str, Callable[[int, int], object]] = {
        "echoless joint": lambda m, r: MultichannelPFDKF(SAMPLE_RATE, FRAME, n_mic=m, n_ref=r),
        "echoless joint linear": lambda m, r: MultichannelPFDKF(SAMPLE_RATE, FRAME, n_mic=m, n_ref=r, postfilter=0),
        "echoless per channel": PerChannel,
    }
    missing = []
    for name, peer in (("speexdsp MDF", Speex), ("WebRTC AEC3", WebRtcAec3)):
        try:
            peer(2, 2)
        except Exception as error:  # ImportError, or a broken native build
            missing.append(f"{name}: not run ({type(error).__name__}: {error})")
        else:
            makers[name] = peer
    return makers, missing


def scene_for(case: dict, duration: float, seed: int):
    """The case's scene; ``mono`` replays the stereo scene with the mono mix on both loudspeakers."""
    options = {key: value for key, value in case.items() if key != "mono"}
    scene = make_scene(duration, seed=seed, delay_ms=40.0, **options)
    if case.get("mono"):
        mix = scene.ref.mean(axis=1)
        echo = sum(convolve(mix, scene.rir[0, r])[: len(mix)] for r in range(2))
        scene.ref = np.stack([mix, mix], axis=1)
        scene.echo = echo
        scene.mic = echo + scene.near + scene.noise
    return scene


def run(canceller, mic: np.ndarray, ref: np.ndarray) -> tuple[np.ndarray, float]:
    """Stream whole frames through ``canceller``; the output (T, n_mic) and the processing seconds."""
    n = len(mic) // FRAME * FRAME
    out = np.zeros(mic.shape)
    start = time.perf_counter()
    for i in range(0, n, FRAME):
        out[i : i + FRAME] = canceller.process(mic[i : i + FRAME], ref[i : i + FRAME])
    return out, time.perf_counter() - start


def score(scene, out: np.ndarray) -> dict[str, float]:
    """ERLE (far-end single talk, whole and last 3 s) and DT SI-SNR, averaged over microphones."""
    mic, near_end = scene.mic.reshape(len(out), -1), (scene.near + scene.noise).reshape(len(out), -1)
    rate = scene.sample_rate
    segments = {s["label"]: (int(s["start"] * rate), int(s["end"] * rate)) for s in scene.meta["timeline"]}
    rows = []
    for m in range(out.shape[1]):
        n = 1 << int(np.ceil(np.log2(2 * len(out))))
        correlation = np.fft.irfft(np.fft.rfft(out[:, m], n) * np.conj(np.fft.rfft(near_end[:, m], n)), n)
        lag = int(np.argmax(correlation[:MAX_LATENCY]))
        aligned = out[lag:, m]
        a, b = segments["far_end_single_talk"]
        c, d = segments["double_talk"]
        b, d = min(b, len(aligned)), min(d, len(aligned))
        last = max(a, b - 3 * rate)
        rows.append(
            (
                erle(mic[a:b, m], aligned[a:b]),
                erle(mic[last:b, m], aligned[last:b]),
                si_snr(near_end[c:d, m], aligned[c:d]),
            )
        )
    values = np.mean(rows, axis=0)
    return {"ERLE": values[0], "ERLE last 3 s": values[1], "DT SI-SNR": values[2]}


def frame_cost(make: Callable[[int, int], object], n_mic: int, n_ref: int, frames: int = 500) -> float:
    """Seconds per frame on noise (best of three runs), after a warm-up."""
    rng = np.random.default_rng(0)
    ref = rng.standard_normal((frames, FRAME, n_ref)) * 0.1
    if n_ref > 1:  # correlated, not identical: the joint (stereo) path
        ref[..., 1] += 0.5 * ref[..., 0]
    mic = rng.standard_normal((frames, FRAME, n_mic)) * 0.1
    canceller = make(n_mic, n_ref)
    for i in range(50):
        canceller.process(mic[i], ref[i])
    best = np.inf
    for _ in range(3):
        start = time.perf_counter()
        for i in range(frames):
            canceller.process(mic[i], ref[i])
        best = min(best, (time.perf_counter() - start) / frames)
    return best


def table(rows: dict[str, dict[str, float]], columns: list[str]) -> str:
    lines = ["| | " + " | ".join(columns) + " |", "|---|" + "---:|" * len(columns)]
    for name, values in rows.items():
        lines.append(f"| {name} | " + " | ".join(f"{values[c]:.2f}" if c == "extra mic / first" else f"{values[c]:.0f}" if c == "M" else f"{values[c]:.1f}" for c in columns) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per scene (default 20)")
    parser.add_argument("--seeds", type=int, default=2, help="scenes per case (default 2)")
    parser.add_argument("--out", help="also write the markdown here")
    args = parser.parse_args()
    import warnings

    warnings.simplefilter("ignore")  # DelayWarning on the noise of the cost table
    makers, missing = contenders()
    quality: dict[str, dict[str, float]] = {}
    for case_name, case in tqdm(CASES.items(), desc="cases", disable=None):
        per_contender: dict[str, list[dict[str, float]]] = {name: [] for name in makers}
        for seed in range(args.seeds):
            scene = scene_for(case, args.duration, seed)
            mic = scene.mic.reshape(len(scene.mic), -1)
            ref = scene.ref.reshape(len(scene.ref), -1)
            for name, make in makers.items():
                if not runs(name, mic.shape[1], ref.shape[1]):
                    continue
                out, seconds = run(make(mic.shape[1], ref.shape[1]), mic, ref)
                per_contender[name].append({**score(scene, out), "RTF": args.duration / seconds})
        for name, rows in per_contender.items():
            if not rows:
                continue
            quality[f"{case_name}: {name}"] = {key: float(np.median([row[key] for row in rows])) for key in rows[0]}
    cost: dict[str, dict[str, float]] = {}
    for name, make in tqdm(makers.items(), desc="cost", disable=None):
        for n_ref in (1, 2):
            most = max(m for m in (1, 2, 4) if runs(name, m, n_ref))
            if most == 1:
                continue
            one, more = frame_cost(make, 1, n_ref), frame_cost(make, most, n_ref)
            cost[f"{name}, {n_ref} ref"] = {
                "us/frame 1 mic": 1e6 * one,
                "us/frame M mics": 1e6 * more,
                "M": most,
                "extra mic / first": (more - one) / ((most - 1) * one),
            }
    text = "\n".join(
        [
            f"Quality: median over {args.seeds} scenes of {args.duration:g} s (dB; RTF = audio s per processing s)",
            "",
            table(quality, ["ERLE", "ERLE last 3 s", "DT SI-SNR", "RTF"]),
            "",
            "Cost per frame (10 ms) on noise, and each extra microphone as a share of the first",
            "",
            table(cost, ["us/frame 1 mic", "M", "us/frame M mics", "extra mic / first"]),
            "",
            *missing,
        ]
    )
    print(text)
    if args.out:
        with open(args.out, "w") as handle:
            handle.write("# bench_multichannel.py results\n\n```\n" + " ".join(["python benchmarks/bench_multichannel.py", *sys.argv[1:]]) + "\n```\n\n" + text + "\n")


if __name__ == "__main__":
    main()
