"""The input kinds that break echo cancellers, each as one figure per streaming method (issue 11).

Run on demand (not part of the test suite)::

    .venv/bin/python benchmarks/bench_robustness.py

Every scene is a 16 kHz :func:`echoless.data.make_scene`; each row is one
streaming method with its linear stage only (``delay=0, postfilter=0``)
unless stated, plus ``default``: :func:`echoless.aec.cancel` with no options
(the library's default pipeline). Columns:

* ``level 0.01`` / ``level 1``: ERLE over the last 5 s of a far-end-only
  scene at input scale 0.01 and 1 (dB); ``level dev``: the largest
  ``||cancel(a*mic, a*ref)/a - cancel(mic, ref)|| / ||cancel(mic, ref)||``
  over ``a`` in {1e-3, 0.01, 32768};
* ``DC cost``: ERLE lost (dB, last 5 s) when the microphone carries a DC
  offset of 0.05 (both outputs scored after the same zero-phase 100 Hz
  high-pass, so that the figure counts echo, not the DC itself);
* ``long delay``: ERLE over the last 5 s with ``delay="auto"`` on a 450 ms
  bulk delay, and ``right delay``: the same with the true delay given;
* ``DT residual``: residual echo in the output over the double talk of a
  loud-near-end scene, relative to the echo itself (dB; below 0 = removed),
  and ``above mic s``: the longest run (s) of frames whose output is more
  than 1 dB above the microphone;
* ``after pause``: ERLE after a far-end pause during which the near end talks.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
from scipy.signal import butter, sosfiltfilt

from echoless.aec import cancel
from echoless.data import make_scene
from echoless.metrics import erle

RATE = 16000
METHODS = ("nlms", "pbfdaf", "pfdkf")
LINEAR = {"delay": 0, "postfilter": 0}


def _run(method, mic, ref, **options):
    if method == "default":
        return cancel(mic, ref)
    return cancel(mic, ref, method, RATE, **{**LINEAR, **options})


def _last(seconds, *signals):
    return [signal[-int(seconds * RATE):] for signal in signals]


def _highpass(x):
    return sosfiltfilt(butter(4, 100.0, "highpass", fs=RATE, output="sos"), x)


def _longest_run(flags):
    best = run = 0
    for flag in flags:
        run = run + 1 if flag else 0
        best = max(best, run)
    return best


def main() -> None:
    level_scene = make_scene(10.0, seed=11, delay_ms=40, timeline=[("far_end_single_talk", 1.0)], snr_db=50)
    delay_scene = make_scene(14.0, seed=5, delay_ms=450, timeline=[("far_end_single_talk", 1.0)], snr_db=50)
    talk_scene = make_scene(13.0, seed=3, ser_db=5.0, snr_db=45, timeline=[
        ("far_end_single_talk", 4 / 13), ("double_talk", 4 / 13), ("far_end_single_talk", 3 / 13),
        ("near_end_single_talk", 2 / 13)])
    pause_scene = make_scene(16.0, seed=9, delay_ms=60, snr_db=50, timeline=[
        ("far_end_single_talk", 0.25), ("near_end_single_talk", 0.3125), ("far_end_single_talk", 0.4375)])
    right = round(0.45 * RATE) - round(0.005 * RATE)
    print("| method | level 0.01 | level 1 | level dev | DC cost | long delay | right delay | DT residual | above mic s | after pause |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for method in (*METHODS, "default"):
        mic, ref = level_scene.mic, level_scene.ref
        base = _run(method, mic, ref)
        erle_at = {}
        deviation = 0.0
        for scale in (1e-3, 0.01, 32768.0):
            scaled = _run(method, scale * mic, scale * ref) / scale
            deviation = max(deviation, float(np.linalg.norm(scaled - base) / np.linalg.norm(base)))
            erle_at[scale] = erle(*_last(5, mic, scaled))
        level_1 = erle(*_last(5, mic, base))
        # both outputs through the same zero-phase 100 Hz high-pass: the cost counts echo, not the DC itself
        dc_out = _run(method, mic + 0.05, ref)
        dc_cost = erle(*_last(5, mic, _highpass(base))) - erle(*_last(5, mic, _highpass(dc_out)))
        mic, ref = delay_scene.mic, delay_scene.ref
        long_delay = erle(*_last(5, mic, _run(method, mic, ref, delay="auto")))
        right_delay = erle(*_last(5, mic, _run(method, mic, ref, delay=right)))
        sc = talk_scene
        out = _run(method, sc.mic, sc.ref)
        segment = next(s for s in sc.meta["timeline"] if s["label"] == "double_talk")
        part = slice(round(segment["start"] * RATE), round(segment["end"] * RATE))
        residual = out[part] - sc.near[part] - sc.noise[part]
        dt_residual = 10 * np.log10(np.sum(residual**2) / np.sum(sc.echo[part] ** 2))
        frames = len(out) // 160
        out_power = np.sum(out[: frames * 160].reshape(frames, 160) ** 2, axis=1)
        mic_power = np.sum(sc.mic[: frames * 160].reshape(frames, 160) ** 2, axis=1)
        above = _longest_run(out_power > 10 ** 0.1 * mic_power) * 160 / RATE
        sc = pause_scene
        after = erle(*_last(0.4375 * 16 - 1, sc.mic, _run(method, sc.mic, sc.ref)))
        print(f"| {method} | {erle_at[0.01]:.1f} | {level_1:.1f} | {deviation:.1e} | {dc_cost:.1f} | {long_delay:.1f} | "
              f"{right_delay:.1f} | {dt_residual:.1f} | {above:.2f} | {after:.1f} |")


if __name__ == "__main__":
    main()
