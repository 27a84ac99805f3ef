"""Clock drift between loudspeaker and microphone: echoless with and without compensation, Speex, WebRTC AEC3.

Run on demand (not part of the test suite)::

    .venv/bin/python benchmarks/bench_drift.py [--seeds 0 1 2] [--out benchmarks/bench_drift_results.md]

Each scene is a 60 s far-end single-talk :func:`echoless.data.make_scene`
(16 kHz, 40 ms bulk delay, RT60 0.4 s, pink noise 50 dB below the echo)
whose microphone clock runs ``clock_drift_ppm`` fast (0, +-50, +-100, +-200
ppm; the echo is resampled by band-limited interpolation). Every canceller
runs on the same scenes, single-threaded, with 10 ms frames:

* ``echoless`` — :func:`echoless.aec.make_canceller` defaults (PFDKF, input
  high-pass, delay search, suppressor) with ``drift_compensation=True`` (what
  ``echoless cancel --drift`` and the live canceller run), and the default
  itself, which leaves drift compensation off;
* ``speexdsp MDF`` and ``WebRTC AEC3`` as driven by
  ``benchmarks/bench_aec.py`` (optional peers; one that cannot be imported
  is reported and skipped).

Columns: ERLE (dB) over 10-20 s and over 50-60 s, the median over the
seeds; for echoless, the median estimated drift (ppm) at the end. The
markdown is printed and written to ``--out``.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import pathlib
import sys

import numpy as np
from tqdm.auto import tqdm

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from bench_aec import FRAME, SAMPLE_RATE, run  # noqa: E402
from peers import available_peers  # noqa: E402

from echoless.aec import make_canceller  # noqa: E402
from echoless.data import make_scene  # noqa: E402
from echoless.metrics import erle  # noqa: E402

DRIFTS_PPM = (0.0, 50.0, -50.0, 100.0, -100.0, 200.0, -200.0)
DURATION = 60.0
WINDOWS = {"10-20 s": (10, 20), "50-60 s": (50, 60)}
SCENE = {"delay_ms": 40.0, "snr_db": 50.0, "rt60": 0.4, "timeline": [("far_end_single_talk", 1.0)]}


def contenders() -> tuple[dict, list[str]]:
    """Constructors by name (echoless with and without compensation, and the peers that can run
    here, ``benchmarks/peers.py``), and a note per peer that cannot."""
    peers, missing = available_peers(SAMPLE_RATE, FRAME)
    makers = {
        "echoless, drift_compensation=True": lambda: make_canceller(
            sample_rate=SAMPLE_RATE, frame_size=FRAME, drift_compensation=True
        ),
        "echoless default (no drift compensation)": lambda: make_canceller(
            sample_rate=SAMPLE_RATE, frame_size=FRAME
        ),
    }
    makers.update(peers)
    return makers, missing


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="scene seeds (default 0 1 2)")
    parser.add_argument("--out", type=pathlib.Path, default=pathlib.Path(__file__).with_name("bench_drift_results.md"))
    args = parser.parse_args()
    makers, missing = contenders()
    results = {(name, ppm): {"erle": [], "ppm": []} for name in makers for ppm in DRIFTS_PPM}
    jobs = [(seed, ppm) for seed in args.seeds for ppm in DRIFTS_PPM]
    for seed, ppm in tqdm(jobs, desc="scenes", disable=None):
        scene = make_scene(DURATION, seed=seed, sample_rate=SAMPLE_RATE, clock_drift_ppm=ppm, **SCENE)
        for name, make in makers.items():
            canceller = make()
            out, _, _ = run(canceller, scene.mic, scene.ref)
            cell = results[(name, ppm)]
            cell["erle"].append([erle(scene.mic[a * SAMPLE_RATE : b * SAMPLE_RATE], out[a * SAMPLE_RATE : b * SAMPLE_RATE])
                                 for a, b in WINDOWS.values()])  # fmt: skip
            estimate = getattr(canceller, "clock_drift_ppm", None)
            if estimate is not None:
                cell["ppm"].append(estimate)
    lines = [
        f"## ERLE (dB) under clock drift: median over seeds {', '.join(map(str, args.seeds))} "
        f"({DURATION:.0f} s far-end single talk, 16 kHz, 40 ms bulk delay)",
        "",
        "| canceller | drift ppm | " + " | ".join(f"ERLE {w}" for w in WINDOWS) + " | estimated ppm |",
        "|---|---:|" + "---:|" * (len(WINDOWS) + 1),
    ]
    for name in makers:
        for ppm in DRIFTS_PPM:
            cell = results[(name, ppm)]
            erles = np.median(np.array(cell["erle"]), axis=0)
            estimated = f"{np.median(cell['ppm']):+.1f}" if cell["ppm"] else ""
            lines.append(f"| {name} | {ppm:+g} | " + " | ".join(f"{v:.1f}" for v in erles) + f" | {estimated} |")
    lines += [f"\n> peer {note}" for note in missing]
    text = "\n".join(lines) + "\n"
    print(text)
    args.out.write_text(text)


if __name__ == "__main__":
    main()
