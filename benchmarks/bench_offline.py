"""Offline echo cancellers on a 20 s scene: time and oracle quality, gradient descent vs least squares.

Run on demand (not part of the test suite)::

    .venv/bin/python benchmarks/bench_offline.py [--steps 1500] [--seed-steps 10]

The scene is the built-in ``synth`` one (:func:`echoless.data.make_scene`,
20 s at 16 kHz, seed 0). Contenders, all single-threaded:

* the seed's recipe: Adam on a 4000-tap ``conv1d`` (``method="direct"``).
  Only ``--seed-steps`` steps are run and the time is extrapolated to
  ``--steps``: it follows the same trajectory as the FFT fit (tested to
  float32 rounding), so its quality is the FFT fit's;
* the same fit with the FFT convolution;
* the exact waveform least squares (:func:`echoless.aec.fit_waveform_ls`);
* time-frequency Adam on the spectral loss, and its exact optimum
  (:func:`echoless.aec.fit_spectral_ls`).

Prints a markdown table (wall time, echo-estimate SNR against the true echo,
near-end SNR) and the issue's target: how much faster least squares reaches
the optimum than the seed's recipe gets within 0.5 dB of it.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import platform
import time

import torch

from echoless.aec import fit_spectral_lms, fit_spectral_ls, fit_waveform_lms, fit_waveform_ls
from echoless.data import make_scene
from echoless.metrics import oracle_metrics

KERNEL_SECONDS = 0.25


def timed(function):
    start = time.perf_counter()
    result = function()
    return result, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1500, help="Adam steps of the FFT and TF fits")
    parser.add_argument("--seed-steps", type=int, default=10, help="steps actually run with the direct conv1d")
    args = parser.parse_args()
    torch.set_num_threads(1)
    example = make_scene(20.0, seed=0).to_example("synth")
    mic, ref, echo, near_end = example.mic, example.ref, example.echo, example.near_end
    sample_rate = example.sample_rate
    taps = int(KERNEL_SECONDS * sample_rate)
    rows = []

    def add(name, steps, seconds, echo_estimate, note=""):
        metrics = oracle_metrics(mic, mic - echo_estimate, echo, near_end)
        rows.append((name, steps, seconds, metrics["snr_echo_db"], metrics["snr_near_db"], note))
        return metrics

    waveform = {"kernel_seconds": KERNEL_SECONDS, "sample_rate": sample_rate, "progress": False}
    (_, _), direct_seconds = timed(
        lambda: fit_waveform_lms(mic, ref, echo, near_end, n_steps=args.seed_steps, method="direct", **waveform)
    )
    direct_per_step = direct_seconds / args.seed_steps
    (fft_model, fft_logs), fft_seconds = timed(
        lambda: fit_waveform_lms(mic, ref, echo, near_end, n_steps=args.steps, method="fft", **waveform)
    )
    fft_metrics = add("waveform GD, FFT conv", args.steps, fft_seconds, fft_model.apply(ref))
    rows.insert(
        0,
        (
            "waveform GD, direct conv1d (seed recipe)", args.steps, direct_per_step * args.steps,
            fft_metrics["snr_echo_db"], fft_metrics["snr_near_db"],
            f"extrapolated from {args.seed_steps} steps; quality = FFT path (same trajectory)",
        ),
    )
    ls_model, ls_seconds = timed(lambda: fit_waveform_ls(mic, ref, taps))
    ls_metrics = add("waveform least squares", "-", ls_seconds, ls_model.apply(ref))
    spectral = {"kernel_size": 15, "n_fft": 2048, "hop_length": 512}
    (tf_model, _), tf_seconds = timed(
        lambda: fit_spectral_lms(mic, ref, echo, near_end, n_steps=args.steps, progress=False, **spectral)
    )
    add("TF GD, spectral loss", args.steps, tf_seconds, tf_model.apply(ref))
    tf_ls_model, tf_ls_seconds = timed(lambda: fit_spectral_ls(mic, ref, **spectral))
    add("TF least squares", "-", tf_ls_seconds, tf_ls_model.apply(ref))

    print(f"20 s synth scene, 16 kHz, {taps} taps; {platform.processor() or platform.machine()}, 1 thread, torch {torch.__version__}\n")
    print("| method | Adam steps | time (s) | echo SNR vs true echo (dB) | near-end SNR (dB) | note |")
    print("|---|---|---|---|---|---|")
    for name, steps, seconds, snr_echo, snr_near, note in rows:
        print(f"| {name} | {steps} | {seconds:.2f} | {snr_echo:.2f} | {snr_near:.2f} | {note} |")

    target = ls_metrics["snr_echo_db"] - 0.5
    reached = next((step for step, row in enumerate(fft_logs) if row["snr_echo"] >= target), None)
    print(f"\nFFT / direct time per step: {fft_seconds / args.steps * 1e3:.1f} ms / {direct_per_step * 1e3:.0f} ms "
          f"({direct_per_step / (fft_seconds / args.steps):.0f}x)")
    if reached is None:
        print(f"gradient descent did not get within 0.5 dB of the LS echo SNR ({ls_metrics['snr_echo_db']:.2f} dB) "
              f"in {args.steps} steps: the seed's recipe needs > {direct_per_step * args.steps:.0f} s, "
              f"least squares {ls_seconds:.2f} s (> {direct_per_step * args.steps / ls_seconds:.0f}x)")
    else:
        seed_time = reached * direct_per_step
        print(f"gradient descent first within 0.5 dB of the LS echo SNR ({ls_metrics['snr_echo_db']:.2f} dB) at step "
              f"{reached}: the seed's recipe needs {seed_time:.0f} s, least squares {ls_seconds:.2f} s "
              f"({seed_time / ls_seconds:.0f}x faster)")


if __name__ == "__main__":
    main()
