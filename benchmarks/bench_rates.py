"""Echo cancellation at 8, 16, 32, 44.1 and 48 kHz: echoless's default pipeline beside speexdsp and WebRTC AEC3.

Run on demand (not part of the test suite)::

    .venv/bin/python benchmarks/bench_rates.py [--duration 20] [--repeats 5] [--quick] [--markdown FILE]

At each rate, on the first three scenes of ``benchmarks/bench_aec.py``
(:func:`echoless.data.make_scene` at that rate) and on the same three with
content above 8 kHz added (:func:`echoless.data.with_upper_band`, -20 dB;
the shipped speech stops at 8 kHz), with 10 ms frames and a 250 ms echo path
for everyone:

* ``echoless``: ``make_canceller("pfdkf", rate, filter_ms=250)``, the
  default pipeline; above 16 kHz that is the band split of
  :mod:`echoless.aec.subband`;
* ``echoless full band`` (above 16 kHz): the same with ``band_split=False``;
* ``speexdsp MDF`` and ``WebRTC AEC3`` (:mod:`peers`), where installed and
  where they take the rate.

Quality columns are medians over the scenes, scored as in ``bench_aec.py``
(ERLE over the far-end single talk, SI-SNR over the double talk, SNR over the
near end alone, after aligning each output by its latency); ``upper`` columns
are the same on the scenes with an upper band, scored on the band above
9 kHz (rates above 18 kHz). Speed, one core, after a warm-up: ``RTF``, the
real-time factor (audio seconds per second of the thread's CPU time,
``time.thread_time``, so that other work on a shared machine does not count)
on one scene, the best of ``--repeats`` runs, the runs of all rows
interleaved so that a change of the machine's load hits every row alike; ``cost vs 16 kHz`` is echoless's
16 kHz RTF over the row's RTF (processing time per audio second, relative).
"""

from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("OMP_NUM_THREADS", "1")

import time
from collections.abc import Callable

import numpy as np
import scipy.signal
from bench_aec import TUNING_SCENES as SCENES
from bench_aec import run, table
from bench_aec import score_scene as score
from peers import available_peers
from tqdm.auto import tqdm

from echoless.aec import make_canceller
from echoless.aec.subband import LOW_BAND_RATE, default_frame_size
from echoless.data import make_scene, with_upper_band
from echoless.data.upper_band import UPPER_BAND_HZ
from echoless.metrics import erle, si_snr

RATES = (8000, 16000, 32000, 44100, 48000)
FILTER_MS = 250.0
UPPER_DB = -20.0


def contenders(rate: int) -> tuple[dict[str, Callable[[], object]], list[str]]:
    """Constructors of every canceller to run at ``rate``, and a note per peer that cannot."""
    makers: dict[str, Callable[[], object]] = {"echoless": lambda: make_canceller("pfdkf", rate, filter_ms=FILTER_MS)}
    if rate > LOW_BAND_RATE:
        makers["echoless full band"] = lambda: make_canceller("pfdkf", rate, filter_ms=FILTER_MS, band_split=False)
    peers, missing = available_peers(rate, default_frame_size(rate), FILTER_MS)
    return {**makers, **peers}, missing


def cpu_seconds(canceller, mic: np.ndarray, ref: np.ndarray) -> float:
    """CPU time of this thread for streaming the whole frames of ``mic`` and ``ref`` through ``canceller``."""
    size = canceller.frame_size
    start = time.thread_time()
    for i in range(0, len(mic) // size * size, size):
        canceller.process(mic[i : i + size], ref[i : i + size])
    return time.thread_time() - start


def upper_scores(scene, out: np.ndarray) -> dict[str, float]:
    """Above 9 kHz: ERLE of the far-end single talk, the level lost by a lone near end (dB), and the
    SI-SNR of the near end in double talk."""
    rate = scene.sample_rate
    highpass = scipy.signal.butter(8, UPPER_BAND_HZ, "highpass", fs=rate, output="sos")
    lag = score(scene, out)["latency ms"] * rate / 1000.0
    aligned = np.pad(out[round(lag) :], (0, round(lag)))
    mic, clean, near_end = (scipy.signal.sosfiltfilt(highpass, x) for x in (scene.mic, aligned, scene.near + scene.noise))
    segments = {s["label"]: slice(int(s["start"] * rate), int(s["end"] * rate) - round(lag)) for s in scene.meta["timeline"]}
    far, double, near = (segments[k] for k in ("far_end_single_talk", "double_talk", "near_end_single_talk"))
    return {
        "upper ERLE": erle(mic[far], clean[far]),
        "upper DT SI-SNR": si_snr(near_end[double], clean[double]),
        "upper NE loss": erle(mic[near], clean[near]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per scene (default 20)")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per row, best kept (default 5)")
    parser.add_argument("--quick", action="store_true", help="one scene of 8 s, 2 repeats, for a smoke test")
    parser.add_argument("--markdown", help="also write the tables to this file")
    args = parser.parse_args()
    scene_names = list(SCENES)[:1] if args.quick else list(SCENES)[:3]
    duration = 8.0 if args.quick else args.duration
    repeats = 2 if args.quick else args.repeats

    rows: dict[str, dict[str, float]] = {}
    timed: dict[str, tuple[Callable[[], object], np.ndarray, np.ndarray]] = {}
    notes: list[str] = []
    for rate in tqdm(RATES, desc="rates", disable=None):
        makers, missing = contenders(rate)
        notes += missing
        scenes = [make_scene(duration, sample_rate=rate, **SCENES[name]) for name in scene_names]  # seeds 0, 1, 2
        wide = [with_upper_band(scene, UPPER_DB) for scene in scenes] if rate > 2 * UPPER_BAND_HZ else []
        noise = 0.1 * np.random.default_rng(0).standard_normal(rate)
        for name, make in makers.items():
            run(make(), noise, noise)  # warm-up: compiled kernels loaded before any clock starts
            metrics = [score(scene, run(make(), scene.mic, scene.ref)[0]) for scene in scenes]
            metrics += [upper_scores(scene, run(make(), scene.mic, scene.ref)[0]) for scene in wide]
            label = f"{rate / 1000:g} kHz {name}"
            columns = {key for m in metrics for key in m}
            rows[label] = {key: float(np.median([m[key] for m in metrics if key in m])) for key in columns}
            timed[label] = (make, scenes[0].mic, scenes[0].ref)
    best = {label: np.inf for label in timed}
    for _ in tqdm(range(repeats), desc="timing", disable=None):
        for label, (make, mic, ref) in timed.items():
            best[label] = min(best[label], cpu_seconds(make(), mic, ref))
    reference = duration / best["16 kHz echoless"]
    for label, seconds in best.items():
        rows[label]["RTF"] = duration / seconds
        rows[label]["cost vs 16 kHz"] = reference / rows[label]["RTF"]

    columns = ["ERLE", "ERLE last 3 s", "DT SI-SNR", "NE SNR", "upper ERLE", "upper DT SI-SNR", "upper NE loss", "RTF", "cost vs 16 kHz",
               "latency ms"]  # fmt: skip
    for values in rows.values():
        for column in columns:
            values.setdefault(column, np.nan)
    lines = [
        f"## Median over {len(scene_names)} scenes ({duration:g} s each), 10 ms frames, 250 ms echo path, one core\n",
        table(rows, columns).replace("nan", "–"),
    ]
    at_48k = rows["48 kHz echoless"]
    lines.append(f"\n48 kHz echoless cost / 16 kHz echoless cost: {at_48k['cost vs 16 kHz']:.2f} (target <= 1.5)")
    if "48 kHz WebRTC AEC3" in rows:
        ratio = at_48k["RTF"] / rows["48 kHz WebRTC AEC3"]["RTF"]
        lines.append(f"48 kHz echoless RTF / WebRTC AEC3 RTF: {ratio:.2f} (target >= 1)")
    if "48 kHz speexdsp MDF" in rows:
        lines.append(f"48 kHz echoless RTF / speexdsp RTF: {at_48k['RTF'] / rows['48 kHz speexdsp MDF']['RTF']:.2f}")
    lines += [f"\n> peer {note}" for note in notes]
    text = "\n".join(lines)
    print("\n" + text)
    if args.markdown:
        with open(args.markdown, "w", encoding="utf-8") as handle:
            handle.write(f"# bench_rates.py results\n\n`python benchmarks/bench_rates.py {' '.join(sys.argv[1:])}`\n\n{text}\n")


if __name__ == "__main__":
    main()
