"""Streaming echo cancellation: echoless NLMS / PBFDAF / PFDKF against speexdsp and WebRTC AEC3.

Run on demand (not part of the test suite)::

    .venv/bin/python benchmarks/bench_aec.py [--duration 20] [--quick]

Scenes come from :func:`echoless.data.make_scene` (shipped speech and music,
pyroomacoustics rooms): RT60 0.2-0.8 s, signal-to-echo ratio -10..+5 dB, one
echo-path change, one loudspeaker nonlinearity, one 40 ms bulk delay and one
music far end. Every canceller runs on the same scenes in the same process,
single-threaded (``OMP_NUM_THREADS=1`` is set before numpy is imported),
with 160-sample (10 ms) frames unless stated:

* echoless ``NLMS``, ``PBFDAF``, ``PFDKF`` (250 ms filters, ``delay="auto"``),
  the last two also with the residual-echo postfilter (``postfilter=1``), and
  PFDKF with the postfilter on 512-sample (32 ms) frames, to show what larger
  frames buy in speed;
* ``speexdsp`` (Speex MDF, frame 160, filter 4000) and ``aec-audio-processing``
  (WebRTC audio processing with AEC3 only: noise suppression, gain control
  and VAD off). Both are optional (``pip install echoless[peers]``; speexdsp
  needs Debian ``libspeexdsp-dev`` and ``swig``); a peer that cannot be
  imported is reported and skipped. They take 16-bit integer audio.

Metrics, per scene, from the scene timeline:

* ``ERLE`` — echo return loss enhancement over the far-end single-talk
  segment, whole and its last 3 s (dB);
* ``DT SI-SNR`` — SI-SNR of the output against the true near end (plus noise)
  over the double-talk segment (dB);
* ``NE SNR`` — SNR of the output against the near end over the near-end
  single-talk segment (dB; how much a canceller damages a lone talker);
* ``DT SDR`` and ``NE SDR`` — the same two segments scored with
  :func:`echoless.metrics.sdr` (BSS Eval's signal-to-distortion ratio, which
  forgives a fixed 512-tap filter). Both peers high-pass their input (Speex's
  DC notch, WebRTC's high-pass filter): measured on a lone near-end talker,
  Speex's output matches a 60 Hz 2nd-order high-pass of its input to 33 dB,
  yet its SNR is only about 10 dB, from the filter's phase shift. SI-SNR and
  SNR count that as damage, SDR does not;
* ``worst frame ms`` — the longest time one ``process`` call took (a real-time
  audio callback must always finish within the frame, 10 ms here): echoless
  with ``delay="auto"`` spends a few ms on the frame that re-estimates the
  delay;
* ``RTF`` — real-time factor, audio seconds per processing second, one core,
  in steady state: each canceller first processes 1 s of noise, so that
  echoless's compiled kernels are loaded (or, on a fresh machine, compiled)
  before the clock starts; that one-time cost is printed separately.

Before scoring, each output is advanced by its constant latency (the lag,
0-128 ms, that best aligns it with the true near end), so that a canceller
with a one-frame delay is not scored as distortion; the last ``lag`` samples,
which such a canceller had not yet emitted when the stream ended, are left
out of the segment they fall in (scored as zeros, they cost PFDKF+post, 10 ms
late, 11 dB of median near-end single-talk SNR: that segment comes last).
Markdown tables: the median over scenes, then every scene.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import time
from collections.abc import Callable

import numpy as np

from echoless.aec import NLMS, PBFDAF, PFDKF
from echoless.metrics import erle, sdr, si_snr, snr
from peers import available_peers

SAMPLE_RATE = 16_000
FRAME = 160
MAX_LATENCY = 2048  # samples searched when aligning an output with the near end

SCENES = {
    "rt0.2 ser0": {"rt60": 0.2, "ser_db": 0.0},
    "rt0.4 ser-5": {"rt60": 0.4, "ser_db": -5.0},
    "rt0.6 ser+5": {"rt60": 0.6, "ser_db": 5.0},
    "rt0.8 ser-10": {"rt60": 0.8, "ser_db": -10.0},
    "path change": {"rt60": 0.4, "ser_db": 0.0, "path_change_at": 4.0},
    "nonlinear": {"rt60": 0.4, "ser_db": 0.0, "nonlinearity": 2.0},
    "delay 40 ms": {"rt60": 0.4, "ser_db": 0.0, "delay_ms": 40.0},
    "music": {"rt60": 0.5, "ser_db": 0.0, "far_end": "music"},
}


def contenders() -> tuple[dict[str, Callable[[], object]], list[str]]:
    """Constructors of every canceller to run, and a note per peer that cannot be imported."""
    ours = {"delay": "auto", "sample_rate": SAMPLE_RATE, "frame_size": FRAME, "filter_ms": 250.0}
    makers: dict[str, Callable[[], object]] = {
        "echoless NLMS": lambda: NLMS(**ours),
        "echoless PBFDAF": lambda: PBFDAF(**ours),
        "echoless PBFDAF+post": lambda: PBFDAF(**ours, postfilter=1.0),
        "echoless PFDKF": lambda: PFDKF(**ours),
        "echoless PFDKF+post": lambda: PFDKF(**ours, postfilter=1.0),
        # the same with 32 ms frames: Python's per-frame overhead is shared by 3.2x more samples
        "echoless PFDKF+post 512": lambda: PFDKF(**{**ours, "frame_size": 512}, postfilter=1.0),
    }
    peers, missing = available_peers(SAMPLE_RATE, FRAME, filter_ms=250.0)
    makers.update(peers)
    return makers, missing


def run(canceller, mic: np.ndarray, ref: np.ndarray) -> tuple[np.ndarray, float, float]:
    """Stream whole frames through ``canceller``; return the output, the processing seconds
    and the longest time one frame took (seconds)."""
    size = getattr(canceller, "frame_size", FRAME)
    n = len(mic) // size * size
    out = np.zeros(len(mic))
    times = np.empty(n // size)
    clock = time.perf_counter
    for frame, i in enumerate(range(0, n, size)):
        start = clock()
        out[i : i + size] = canceller.process(mic[i : i + size], ref[i : i + size])
        times[frame] = clock() - start
    return out, float(times.sum()), float(times.max())


def latency(out: np.ndarray, near_end: np.ndarray) -> int:
    """Lag in [0, MAX_LATENCY) samples at which ``out`` best matches ``near_end`` (cross-correlation)."""
    n = 1 << int(np.ceil(np.log2(2 * len(out))))
    correlation = np.fft.irfft(np.fft.rfft(out, n) * np.conj(np.fft.rfft(near_end, n)), n)[:MAX_LATENCY]
    return int(np.argmax(correlation))


def score(scene, out: np.ndarray) -> dict[str, float]:
    near_end = scene.near + scene.noise
    lag = latency(out, near_end)
    # the last `lag` samples of the scene were never emitted (the stream ended): not scored
    aligned = out[lag:]
    sample_rate = scene.sample_rate
    segments = {
        s["label"]: (int(s["start"] * sample_rate), min(len(aligned), int(s["end"] * sample_rate)))
        for s in scene.meta["timeline"]
    }
    a, b = segments["far_end_single_talk"]
    c, d = segments["double_talk"]
    e, f = segments["near_end_single_talk"]
    last = max(a, b - 3 * sample_rate)
    return {
        "ERLE": erle(scene.mic[a:b], aligned[a:b]),
        "ERLE last 3 s": erle(scene.mic[last:b], aligned[last:b]),
        "DT SI-SNR": si_snr(near_end[c:d], aligned[c:d]),
        "NE SNR": snr(near_end[e:f], aligned[e:f]),
        "DT SDR": sdr(near_end[c:d], aligned[c:d]),
        "NE SDR": sdr(near_end[e:f], aligned[e:f]),
        "latency ms": 1000.0 * lag / sample_rate,
    }


def table(rows: dict[str, dict[str, float]], columns: list[str]) -> str:
    lines = ["| | " + " | ".join(columns) + " |", "|---|" + "---:|" * len(columns)]
    for name, values in rows.items():
        cells = [f"{values[c]:.1f}" if abs(values[c]) < 1e4 else f"{values[c]:.0f}" for c in columns]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per scene (default 20)")
    parser.add_argument("--quick", action="store_true", help="3 scenes of 12 s, for a smoke test")
    args = parser.parse_args()
    from echoless.data import make_scene

    scenes = dict(list(SCENES.items())[:3]) if args.quick else SCENES
    duration = 12.0 if args.quick else args.duration
    makers, missing = contenders()
    for note in missing:
        print(f"> peer {note}")
    noise = 0.1 * np.random.default_rng(0).standard_normal(SAMPLE_RATE)
    for name, make in makers.items():
        _, seconds, _ = run(make(), noise, noise)
        print(f"warm-up {name}: first second of audio took {seconds:.2f} s", flush=True)
    results: dict[str, dict[str, dict[str, float]]] = {name: {} for name in makers}
    for seed, (scene_name, options) in enumerate(scenes.items()):
        scene = make_scene(duration, seed=seed, sample_rate=SAMPLE_RATE, **options)
        for name, make in makers.items():
            out, seconds, worst = run(make(), scene.mic, scene.ref)
            metrics = score(scene, out)
            metrics["RTF"] = len(scene.mic) / SAMPLE_RATE / seconds
            metrics["worst frame ms"] = 1000.0 * worst
            results[name][scene_name] = metrics
        print(f"scene {scene_name!r} done", flush=True)
    columns = ["ERLE", "ERLE last 3 s", "DT SI-SNR", "NE SNR", "DT SDR", "NE SDR", "RTF", "worst frame ms", "latency ms"]
    medians = {
        name: {c: float(np.median([m[c] for m in per_scene.values()])) for c in columns}
        for name, per_scene in results.items()
    }
    print(f"\n## Median over {len(scenes)} scenes ({duration:.0f} s each, 16 kHz, 10 ms frames unless stated, one core)\n")
    print(table(medians, columns))
    for column in columns[:-1]:
        print(f"\n### {column} per scene\n")
        per_scene = {scene_name: {n: results[n][scene_name][column] for n in makers} for scene_name in scenes}
        print(table(per_scene, list(makers)))
    for note in missing:
        print(f"\n> peer {note}")


if __name__ == "__main__":
    main()
