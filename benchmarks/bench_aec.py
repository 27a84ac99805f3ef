"""Streaming echo cancellation: echoless (the default pipeline and each linear canceller) against speexdsp and WebRTC AEC3.

Run on demand (not part of the test suite), from the repository root::

    .venv/bin/python benchmarks/bench_aec.py                 # writes benchmarks/bench_aec_results.md
    .venv/bin/python benchmarks/bench_aec.py --quick         # smoke test, prints only
    .venv/bin/python benchmarks/bench_aec.py --systems pfdkf,webrtc --sets real

Four sets of recordings, reported separately:

* **tuning** — the 8 simulated scenes the cancellers were developed on
  (:func:`echoless.data.make_scene`: shipped speech and music, pyroomacoustics
  rooms, pink noise 40 dB below the near end): RT60 0.2-0.8 s,
  signal-to-echo ratio -10..+5 dB, one echo-path change, one soft-clipping
  loudspeaker, one 40 ms bulk delay, one music far end;
* **held-out** — 4 device-like scenes from other seeds and settings that
  nobody tunes on: a small loudspeaker whose harmonic distortion grows with
  level (``distortion``), louder noise (20-30 dB), other rooms and delays;
* **random** — 10 scenes whose settings are drawn from ranges by a seeded
  generator (:func:`random_scenes`: RT60 0.2-0.9 s, SER -10..+5 dB, noise
  20-45 dB below, bulk delays 0-120 ms, other rooms; every fifth scene with
  distortion, with clipping, with a path change, with music; half of them
  with a clock drift of 20-40 ppm between the two clocks, as on real
  devices, which the default does not compensate); not tuned on either;
* **real** — the four device recordings of ``shared/data/real`` (found by
  looking up from the repository root, or ``--real DIR``; 8 and 16 kHz,
  no near-end truth), scored with AECMOS and with ERLE over the stretches
  where only the far end plays.

Every canceller runs on the same recordings in the same process,
single-threaded (``OMP_NUM_THREADS=1`` is set before numpy is imported),
with 10 ms frames unless stated:

* ``echoless default``: the library's default pipeline (PFDKF, input
  high-pass, ``delay="auto"``, suppressor ``postfilter=1.5``; 250 ms filter),
  also on 32 ms frames, to show what larger frames buy in speed; and the
  linear stages alone (``postfilter=0``, same input stage and delay search):
  ``NLMS``, ``PBFDAF``, ``PFDKF``, and PBFDAF with the suppressor.
  :func:`echoless_systems` is the one place that builds them;
* ``speexdsp`` (Speex MDF, 250 ms filter) and ``aec-audio-processing``
  (WebRTC audio processing with AEC3 only: noise suppression, gain control
  and VAD off). Both are optional (``pip install echoless[peers]``; speexdsp
  needs Debian ``libspeexdsp-dev`` and ``swig``); a peer that cannot be
  imported is reported and skipped. They take 16-bit integer audio;
* two anchors that bracket the opinion scores: the microphone passed through
  unchanged, and (simulated scenes only) the true near end (talker + noise),
  i.e. a perfect canceller.

Metrics, per simulated scene, from the scene timeline:

* ``ERLE`` — echo return loss enhancement over the far-end single-talk
  segment, whole and its last 3 s (dB);
* ``DT SI-SNR`` — SI-SNR of the output against the true near end (plus noise)
  over the double-talk segment (dB);
* ``NE SNR`` — SNR of the output against the near end over the near-end
  single-talk segment (dB; how much a canceller damages a lone talker);
* ``DT SDR`` and ``NE SDR`` — the same two segments scored with
  :func:`echoless.metrics.sdr` (BSS Eval's signal-to-distortion ratio, which
  forgives a fixed 512-tap filter). Both peers high-pass their input (Speex's
  DC notch, WebRTC's high-pass filter): SI-SNR and SNR count its phase shift
  as damage, SDR does not;
* ``st echo``, ``dt echo``, ``dt other``, ``nst other`` — AECMOS
  (:func:`echoless.metrics.aecmos_by_segment`, the AEC Challenge's model,
  1 = bad to 5 = excellent): echo MOS of the far-end single-talk and
  double-talk segments, "other degradation" MOS of the double-talk and
  near-end single-talk segments. The model sees the raw output (it was
  trained on outputs with their own latency). Other MOS also hears the room
  and the noise in the near end itself: the true-near-end anchor is its
  ceiling on each scene, not 5;
* ``worst frame ms`` — the longest time one ``process`` call took (a real-time
  audio callback must always finish within the frame, 10 ms here);
* ``RTF`` — real-time factor, audio seconds per processing second, one core,
  in steady state: each canceller first processes 1 s of noise, so that
  echoless's compiled kernels are loaded (or, on a fresh machine, compiled)
  before the clock starts; that one-time cost is printed separately.

Before the ERLE/SNR/SDR scores, each output is advanced by its constant
latency (the lag, 0-128 ms, that best aligns it with the true near end), so
that a canceller with a one-frame delay is not scored as distortion; the last
``lag`` samples, which such a canceller had not yet emitted when the stream
ended, are left out of the segment they fall in.

Real recordings: ``ERLE`` over the far-end-only stretch (the whole clip for
the three far-end-only recordings, the first 7.5 s of pyaec_record_render;
it includes the microphone's noise, so a suppressor that also removes noise
gains ERLE), ``st echo`` over the same stretch, and ``dt echo`` / ``dt other``
over the double talk of pyaec_record_render. A stretch longer than AECMOS's
20 s is scored in equal pieces and the scores averaged. The Mac recording's
reference is 0.44 s shorter than its microphone: it is padded with silence.

Tables: the median over scenes, then every scene, per set.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import datetime
import math
import platform
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

import numpy as np

from echoless.aec import DEFAULT_METHOD, make_canceller
from echoless.data import EchoExample
from echoless.metrics import aecmos_by_segment, erle, sdr, si_snr, snr
from peers import available_peers

SAMPLE_RATE = 16_000
FRAME_SECONDS = 0.01
FRAME = round(FRAME_SECONDS * SAMPLE_RATE)
FILTER_SECONDS = 0.25
MAX_LATENCY_SECONDS = 0.128  # searched when aligning an output with the near end
REPOSITORY = Path(__file__).resolve().parent.parent
RESULTS = REPOSITORY / "benchmarks" / "bench_aec_results.md"

# name -> make_scene options. The seed of a tuning scene is its position (as in every
# earlier run of this benchmark); held-out scenes carry their own seeds.
TUNING_SCENES = {
    "rt0.2 ser0": {"rt60": 0.2, "ser_db": 0.0},
    "rt0.4 ser-5": {"rt60": 0.4, "ser_db": -5.0},
    "rt0.6 ser+5": {"rt60": 0.6, "ser_db": 5.0},
    "rt0.8 ser-10": {"rt60": 0.8, "ser_db": -10.0},
    "path change": {"rt60": 0.4, "ser_db": 0.0, "path_change_at": 4.0},
    "nonlinear": {"rt60": 0.4, "ser_db": 0.0, "nonlinearity": 2.0},
    "delay 40 ms": {"rt60": 0.4, "ser_db": 0.0, "delay_ms": 40.0},
    "music": {"rt60": 0.5, "ser_db": 0.0, "far_end": "music"},
}
TUNING_SCENES = {name: {"seed": seed, **options} for seed, (name, options) in enumerate(TUNING_SCENES.items())}
HELD_OUT_SCENES = {
    "laptop": {
        "seed": 101, "room_dim": (4.0, 3.5, 2.7), "rt60": 0.3, "ser_db": -5.0, "snr_db": 25.0,
        "delay_ms": 30.0, "nonlinearity": 0.5, "distortion": 0.15,
    },
    "speakerphone": {
        "seed": 102, "room_dim": (7.0, 5.0, 3.0), "rt60": 0.6, "ser_db": -10.0, "snr_db": 30.0,
        "delay_ms": 10.0, "distortion": 0.1,
    },
    "music, noisy": {
        "seed": 103, "far_end": "music", "rt60": 0.4, "ser_db": 0.0, "snr_db": 20.0,
        "delay_ms": 60.0, "distortion": 0.2,
    },
    "moved, distorted": {
        "seed": 104, "room_dim": (6.0, 4.5, 2.8), "rt60": 0.5, "ser_db": -5.0, "snr_db": 25.0,
        "path_change_at": 6.0, "distortion": 0.15,
    },
}



def random_scenes(n_scenes: int = 10, seed: int = 2026) -> dict[str, dict]:
    """``make_scene`` options of ``n_scenes`` scenes drawn from the ranges in the module notes."""
    rng = np.random.default_rng(seed)
    scenes = {}
    for i in range(n_scenes):
        options = {
            "seed": 300 + i,
            "rt60": float(rng.choice([0.2, 0.3, 0.5, 0.7, 0.9])),
            "ser_db": float(rng.choice([-10, -5, 0, 5])),
            "snr_db": float(rng.choice([20, 30, 45])),
            "delay_ms": float(rng.choice([0, 20, 60, 120])),
            "room_dim": tuple(float(v) for v in rng.uniform([3, 3, 2.4], [8, 6, 3.2])),
        }
        kind = ("plain", "distortion", "clipping", "path change", "music")[i % 5]
        if kind == "distortion":
            # the loudspeaker model allows at most 2/7 (beyond, its curve folds over)
            options["distortion"] = float(rng.choice([0.1, 0.2, 0.25]))
        elif kind == "clipping":
            options["nonlinearity"] = float(rng.choice([1.0, 2.0, 3.0]))
        elif kind == "path change":
            options["path_change_at"] = float(rng.uniform(3, 7))
        elif kind == "music":
            options["far_end"] = "music"
        if i >= n_scenes // 2:
            options["clock_drift_ppm"] = float(rng.choice([-40, 20, 40]))
        drift = f", {options['clock_drift_ppm']:+g} ppm" if "clock_drift_ppm" in options else ""
        scenes[f"r{i} {kind}{drift}"] = options
    return scenes


# folder -> (label, start s, end s or None for the end of the clip): shared/data/real/README.md
REAL_TIMELINES = {
    "respeaker6mic_qingyinyue": [("far_end_single_talk", 0.0, None)],
    "respeaker6mic_zhoujielun": [("far_end_single_talk", 0.0, None)],
    "adamsro_mac_tts": [("far_end_single_talk", 0.0, None)],
    "pyaec_record_render": [("far_end_single_talk", 0.0, 7.5), ("double_talk", 7.5, None)],
}

SCENE_COLUMNS = [
    "ERLE", "ERLE last 3 s", "DT SI-SNR", "NE SNR", "DT SDR", "NE SDR",
    "st echo", "dt echo", "dt other", "nst other", "RTF", "worst frame ms", "latency ms",
]
REAL_COLUMNS = ["ERLE", "st echo", "dt echo", "dt other"]
MOS_COLUMNS = {"st echo": ("st", "echo_mos"), "dt echo": ("dt", "echo_mos"),
               "dt other": ("dt", "other_mos"), "nst other": ("nst", "other_mos")}
MIC_ANCHOR = "mic, unprocessed"
TRUTH_ANCHOR = "true near end"


# --- the systems ---------------------------------------------------------------------------


def echoless_systems(sample_rate: int) -> dict[str, Callable[[], object]]:
    """Constructors of every echoless canceller in the benchmark: the one place that builds them,
    through the library's one registry (``echoless.aec.make_canceller``).

    Each returns a fresh object with ``process(mic_frame, ref_frame)`` and
    ``frame_size``. ``echoless default`` is what ``echoless.aec.cancel(mic,
    ref)`` and ``echoless cancel`` run (PFDKF, input high-pass, delay search,
    suppressor); the other rows switch parts of it off to show what each buys.
    """
    frame = round(FRAME_SECONDS * sample_rate)
    ours = {"frame_size": frame, "filter_ms": 1000 * FILTER_SECONDS}
    linear = {**ours, "postfilter": 0.0}

    def build(method: str, **options) -> Callable[[], object]:
        return lambda: make_canceller(method, sample_rate, **options)

    return {
        "echoless default": build(DEFAULT_METHOD, frame_size=frame),
        "echoless NLMS": build("nlms", **linear),
        "echoless PBFDAF": build("pbfdaf", **linear),
        "echoless PBFDAF+post": build("pbfdaf", **ours),
        "echoless PFDKF": build("pfdkf", **linear),
        # 32 ms frames: Python's per-frame overhead is shared by 3.2x more samples
        "echoless default 32 ms": build(DEFAULT_METHOD, frame_size=round(0.032 * sample_rate)),
    }


class Unprocessed:
    """Anchor: the microphone, passed through."""

    frame_size = round(FRAME_SECONDS * SAMPLE_RATE)

    def process(self, mic: np.ndarray, ref: np.ndarray) -> np.ndarray:
        return mic.copy()


def systems(sample_rate: int, wanted: list[str] | None) -> tuple[dict[str, Callable[[], object]], list[str]]:
    """Constructors of every system to run at ``sample_rate`` (those whose name contains one of
    ``wanted``, case-insensitive, or all), and a note per peer that cannot be built."""
    makers = echoless_systems(sample_rate)
    peers, missing = available_peers(sample_rate, round(FRAME_SECONDS * sample_rate), filter_ms=1000 * FILTER_SECONDS)
    makers.update(peers)
    makers[MIC_ANCHOR] = Unprocessed
    if wanted:
        makers = {name: make for name, make in makers.items() if any(w.lower() in name.lower() for w in wanted)}
    return makers, missing


# --- running and scoring -------------------------------------------------------------------


def run(canceller, mic: np.ndarray, ref: np.ndarray) -> tuple[np.ndarray, float, float]:
    """Stream whole frames through ``canceller``; return the output, the processing seconds
    and the longest time one frame took (seconds). A last partial frame is left at zero."""
    size = canceller.frame_size
    n = len(mic) // size * size
    out = np.zeros(len(mic))
    times = np.empty(n // size)
    clock = time.perf_counter
    for frame, i in enumerate(range(0, n, size)):
        start = clock()
        out[i : i + size] = canceller.process(mic[i : i + size], ref[i : i + size])
        times[frame] = clock() - start
    return out, float(times.sum()), float(times.max())


def latency(out: np.ndarray, near_end: np.ndarray, sample_rate: int) -> int:
    """Lag in [0, 128 ms) samples at which ``out`` best matches ``near_end`` (cross-correlation)."""
    n = 1 << int(np.ceil(np.log2(2 * len(out))))
    correlation = np.fft.irfft(np.fft.rfft(out, n) * np.conj(np.fft.rfft(near_end, n)), n)
    return int(np.argmax(correlation[: round(MAX_LATENCY_SECONDS * sample_rate)]))


def mos_columns(example: EchoExample, out: np.ndarray) -> dict[str, float]:
    """AECMOS of each talk type, the mean over its scored pieces (NaN where none was scored)."""
    rows = aecmos_by_segment(example, out)
    columns = {}
    for column, (talk_type, key) in MOS_COLUMNS.items():
        values = [row[key] for row in rows if row["talk_type"] == talk_type]
        columns[column] = float(np.mean(values)) if values else math.nan
    return columns


def score_scene(scene, out: np.ndarray) -> dict[str, float]:
    near_end = scene.near + scene.noise
    rate = scene.sample_rate
    lag = latency(out, near_end, rate)
    # the last `lag` samples of the scene were never emitted (the stream ended): not scored
    aligned = out[lag:]
    segments = {
        s["label"]: (round(s["start"] * rate), min(len(aligned), round(s["end"] * rate)))
        for s in scene.meta["timeline"]
    }
    a, b = segments["far_end_single_talk"]
    c, d = segments["double_talk"]
    e, f = segments["near_end_single_talk"]
    last = max(a, b - 3 * rate)
    return {
        "ERLE": erle(scene.mic[a:b], aligned[a:b]),
        "ERLE last 3 s": erle(scene.mic[last:b], aligned[last:b]),
        "DT SI-SNR": si_snr(near_end[c:d], aligned[c:d]),
        "NE SNR": snr(near_end[e:f], aligned[e:f]),
        "DT SDR": sdr(near_end[c:d], aligned[c:d]),
        "NE SDR": sdr(near_end[e:f], aligned[e:f]),
        "latency ms": 1000.0 * lag / rate,
        **mos_columns(scene.to_example(), out),
    }


def clipped(name: str, where: str, out: np.ndarray, notes: list[str]) -> None:
    """Note an output that leaves [-1, 1] (AECMOS scores it clipped)."""
    peak = float(np.max(np.abs(out)))
    if peak > 1.0:
        notes.append(f"{name} on {where}: output peak {peak:.2f}, clipped to [-1, 1] for AECMOS")


def run_scenes(
    scenes: dict[str, dict], duration: float, makers: dict, notes: list[str]
) -> dict[str, dict[str, dict[str, float]]]:
    """``results[system][scene][column]`` for every system on every scene."""
    from echoless.data import make_scene

    results: dict[str, dict[str, dict[str, float]]] = {name: {} for name in [*makers, TRUTH_ANCHOR]}
    for scene_name, options in scenes.items():
        scene = make_scene(duration, sample_rate=SAMPLE_RATE, **options)
        for name, make in makers.items():
            out, seconds, worst = run(make(), scene.mic, scene.ref)
            clipped(name, repr(scene_name), out, notes)
            metrics = score_scene(scene, out)
            timed = name != MIC_ANCHOR  # the anchor's speed means nothing
            metrics["RTF"] = len(scene.mic) / SAMPLE_RATE / seconds if timed else math.nan
            metrics["worst frame ms"] = 1000.0 * worst if timed else math.nan
            results[name][scene_name] = metrics
        truth = score_scene(scene, scene.near + scene.noise)
        results[TRUTH_ANCHOR][scene_name] = {**truth, "RTF": math.nan, "worst frame ms": math.nan}
        print(f"scene {scene_name!r} done", flush=True)
    return results


def find_real_data(explicit: str | None) -> Path | None:
    if explicit:
        return Path(explicit)
    for folder in [REPOSITORY, *REPOSITORY.parents]:
        candidate = folder / "shared" / "data" / "real"
        if candidate.is_dir():
            return candidate
    return None


def load_real(folder: Path, timeline: list[tuple[str, float, float | None]]) -> EchoExample:
    import soundfile

    from echoless.io import read_audio

    rate = soundfile.info(folder / "mic.wav").samplerate
    mic = read_audio(folder / "mic.wav", rate)
    ref = read_audio(folder / "ref.wav", rate)
    ref = np.pad(ref, (0, max(0, len(mic) - len(ref))))[: len(mic)]  # the Mac clip's ref is shorter
    seconds = len(mic) / rate
    segments = [
        {"label": label, "start": start, "end": seconds if end is None else end} for label, start, end in timeline
    ]
    return EchoExample(mic=mic, ref=ref, sample_rate=rate, name=folder.name, meta={"timeline": segments})


def run_real(folder: Path, wanted: list[str] | None, notes: list[str]) -> dict[str, dict[str, dict[str, float]]]:
    """``results[system][recording][column]`` on every real recording, at its own rate."""
    results: dict[str, dict[str, dict[str, float]]] = {}
    for name, timeline in REAL_TIMELINES.items():
        example = load_real(folder / name, timeline)
        rate = example.sample_rate
        start, end = (round(t * rate) for t in (timeline[0][1], timeline[0][2] or example.duration))
        makers, _ = systems(rate, wanted)
        for system, make in makers.items():
            out, _, _ = run(make(), example.mic, example.ref)
            clipped(system, name, out, notes)
            row = mos_columns(example, out)
            row["ERLE"] = erle(example.mic[start:end], out[start:end])
            results.setdefault(system, {})[name] = row
        print(f"recording {name!r} ({rate} Hz) done", flush=True)
    return results


# --- tables --------------------------------------------------------------------------------


def _cell(value: float) -> str:
    if math.isnan(value):
        return "-"
    return f"{value:.1f}" if abs(value) < 1e4 else f"{value:.0f}"


def table(rows: dict[str, dict[str, float]], columns: list[str]) -> str:
    lines = ["| | " + " | ".join(columns) + " |", "|---|" + "---:|" * len(columns)]
    for name, values in rows.items():
        lines.append(f"| {name} | " + " | ".join(_cell(values[c]) for c in columns) + " |")
    return "\n".join(lines)


def median_table(results: dict[str, dict[str, dict[str, float]]], columns: list[str]) -> str:
    medians = {
        name: {c: float(np.median([m[c] for m in per_scene.values()])) for c in columns}
        for name, per_scene in results.items()
        if per_scene
    }
    return table(medians, columns)


def per_scene_tables(results: dict[str, dict[str, dict[str, float]]], columns: list[str], level: str) -> list[str]:
    systems_run = [name for name in results if results[name]]
    scenes = list(next(iter(results.values())))
    out = []
    for column in columns:
        per_scene = {scene: {n: results[n][scene][column] for n in systems_run} for scene in scenes}
        out += [f"\n{level} {column}\n", table(per_scene, systems_run)]
    return out


def real_tables(results: dict[str, dict[str, dict[str, float]]]) -> list[str]:
    """One table per column: a row per system, a column per recording that has the score, and their mean."""
    out = []
    for column in REAL_COLUMNS:
        recordings = [r for r in REAL_TIMELINES if any(not math.isnan(m[r][column]) for m in results.values())]
        rows = {}
        for system, per_recording in results.items():
            rows[system] = {r: per_recording[r][column] for r in recordings}
            if len(recordings) > 1:
                rows[system]["mean"] = float(np.mean(list(rows[system].values())))
        unit = " (dB, far-end-only stretch)" if column == "ERLE" else " (AECMOS)"
        out += [f"\n### {column}{unit}\n", table(rows, [*recordings, "mean"] if len(recordings) > 1 else recordings)]
    return out


def provenance(argv: list[str]) -> str:
    def git(*args: str) -> str:
        try:
            done = subprocess.run(["git", *args], cwd=REPOSITORY, capture_output=True, text=True, check=True)
            return done.stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return ""

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    results_file = f":!{RESULTS.relative_to(REPOSITORY)}"  # rewritten by every run
    if git("status", "--porcelain", "--untracked-files=no", "--", "src", "benchmarks", results_file):
        commit += " with uncommitted changes"
    versions = []
    for package in ("numpy", "speechmos", "onnxruntime", "librosa", "speexdsp", "aec-audio-processing"):
        try:
            versions.append(f"{package} {metadata.version(package)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{package} not installed")
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"Generated by `{' '.join(['python benchmarks/bench_aec.py', *argv])}` at commit {commit}, {now}, "
        f"on {platform.machine()} with {os.cpu_count()} CPUs (Python {platform.python_version()}; "
        f"{', '.join(versions)}). Do not edit: rerun the script."
    )


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per simulated scene (default 20)")
    parser.add_argument(
        "--quick", action="store_true", help="3 tuning, 2 held-out and 2 random scenes of 12 s; prints only"
    )
    parser.add_argument("--systems", help="comma-separated parts of system names to run (default: all)")
    parser.add_argument(
        "--sets", default="tuning,held-out,random,real", help="which of tuning,held-out,random,real to run"
    )
    parser.add_argument("--real", help="folder of the real recordings (default: shared/data/real above the repository)")
    parser.add_argument(
        "--out", help=f"markdown file to write (default: {RESULTS.relative_to(REPOSITORY)}, none with --quick)"
    )
    args = parser.parse_args(argv)
    wanted = [w.strip() for w in args.systems.split(",") if w.strip()] if args.systems else None
    sets = [s.strip() for s in args.sets.split(",")]
    unknown = set(sets) - {"tuning", "held-out", "random", "real"}
    if unknown:
        parser.error(f"unknown --sets {', '.join(sorted(unknown))}: expected tuning, held-out, random, real")
    duration = 12.0 if args.quick else args.duration
    out_path = Path(args.out) if args.out else (None if args.quick else RESULTS)

    makers, missing = systems(SAMPLE_RATE, wanted)
    if not makers:
        parser.error(f"--systems {args.systems!r} matches no system")
    for note in missing:
        print(f"> peer {note}")
    notes: list[str] = []
    warnings.filterwarnings("ignore", message="aecmos: .* clipped")  # listed in the report instead
    noise = 0.1 * np.random.default_rng(0).standard_normal(SAMPLE_RATE)
    warm_up = []
    for name, make in makers.items():
        _, seconds, _ = run(make(), noise, noise)
        warm_up.append(f"    warm-up {name}: first second of audio took {seconds:.2f} s")
        print(warm_up[-1], flush=True)

    report = ["# bench_aec.py results", "", provenance(argv), "", __doc__.split("\n\n", 1)[1].strip()]
    frames = f"{duration:g} s each, 16 kHz, 10 ms frames unless stated, one core"
    parts = {
        "tuning": ("Tuning set", dict(list(TUNING_SCENES.items())[:3]) if args.quick else TUNING_SCENES),
        "held-out": (
            "Held-out set (not tuned on)",
            dict(list(HELD_OUT_SCENES.items())[:2]) if args.quick else HELD_OUT_SCENES,
        ),
        "random": (
            "Random set (drawn from ranges, not tuned on)",
            dict(list(random_scenes().items())[:2]) if args.quick else random_scenes(),
        ),
    }
    for key, (title, scenes) in parts.items():
        if key not in sets:
            continue
        results = run_scenes(scenes, duration, makers, notes)
        report += [f"\n## {title}: median over {len(scenes)} scenes ({frames})\n", median_table(results, SCENE_COLUMNS)]
        report += per_scene_tables(results, SCENE_COLUMNS[:-1], "###")
    if "real" in sets:
        folder = find_real_data(args.real)
        if folder is None or not folder.is_dir():
            report.append(f"\n> real recordings: not run (no folder {args.real or 'shared/data/real'} found)")
        else:
            results = run_real(folder, wanted, notes)
            report.append("\n## Real recordings (10 ms frames at each file's rate)")
            report += real_tables(results)
    report += ["\n## Warm-up (one-time kernel loading or compiling)\n", *warm_up]
    report += [f"\n> peer {note}" for note in missing]
    if notes:
        report += ["\n## Outputs beyond full scale\n", *(f"* {note}" for note in notes)]
    text = "\n".join(report) + "\n"
    print(text)
    if out_path:
        out_path.write_text(text)
        print(f"wrote {out_path}")


if __name__ == "__main__":
    main()
