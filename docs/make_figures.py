"""Measure and draw everything docs/theory.md quotes. Run on demand from the repository root::

    OMP_NUM_THREADS=1 .venv/bin/python docs/make_figures.py [--only conv,stft,inconsistent,offline]

Writes small PNGs to docs/figures/ and every number quoted in the text to
docs/figures/numbers.json (timings are machine-dependent: the JSON records the
machine). Nothing here is a test: it is the measurement behind the prose.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import json
import pathlib
import platform
import sys
import time

import numpy as np
from matplotlib.figure import Figure

ROOT = pathlib.Path(__file__).resolve().parent.parent
FIGURES = ROOT / "docs" / "figures"
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_convolution import median_times  # noqa: E402  (one timing helper for all measurements)

from echoless.conv import (  # noqa: E402
    PartitionedConvolver,
    convolve,
    convolve_by_definition,
    convolve_dot_product,
    convolve_fft,
    convolve_operator_form,
    convolve_rfft,
)
from echoless.stft import (  # noqa: E402
    consistency_error,
    istft,
    make_inconsistent_spectrogram,
    spectrogram_energy,
    stft,
    stft_isometry_ratio,
)

SAMPLE_RATE = 16_000


def _save(figure: Figure, name: str) -> str:
    path = FIGURES / name
    figure.savefig(path, dpi=80)
    return str(path.relative_to(ROOT))


def convolution_complexity(numbers: dict) -> None:
    """Teaching versions on a short signal; production methods on 10 s; streaming per block."""
    rng = np.random.default_rng(0)
    x_short = rng.standard_normal(1000)
    teaching = {
        "by definition (double loop)": convolve_by_definition,
        "dot product": convolve_dot_product,
        "operator form (shifted copies)": convolve_operator_form,
        "complex FFT": convolve_fft,
        "real FFT": convolve_rfft,
    }
    kernels_short = [4, 16, 64, 256]
    teaching_times = {name: [] for name in teaching}
    for taps in kernels_short:
        h = rng.standard_normal(taps)
        timed = median_times({name: (lambda f=f: f(x_short, h)) for name, f in teaching.items()}, repeats=5)
        for name in teaching:
            teaching_times[name].append(timed[name])

    x_long = rng.standard_normal(10 * SAMPLE_RATE)
    kernels_long = [16, 64, 256, 1024, 4000, 16000]
    production = {method: [] for method in ("direct", "fft", "partitioned")}
    for taps in kernels_long:
        h = rng.standard_normal(taps)
        timed = median_times({m: (lambda m=m: convolve(x_long, h, method=m)) for m in production}, repeats=5)
        for method in production:
            production[method].append(timed[method])

    # streaming: 10 ms blocks through a 4000-tap (250 ms) echo path
    h = rng.standard_normal(4000)
    block = 160
    stream = PartitionedConvolver(h, block)
    blocks = x_long[: 2 * SAMPLE_RATE].reshape(-1, block)
    start = time.perf_counter()
    for b in blocks:
        stream.process(b)
    partitioned_per_block = (time.perf_counter() - start) / len(blocks)
    history = np.zeros(len(h) - 1 + block)
    start = time.perf_counter()
    for b in blocks:  # direct form: each block needs the last K-1 input samples
        history = np.concatenate([history[block:], b])
        np.convolve(history, h, mode="valid")
    direct_per_block = (time.perf_counter() - start) / len(blocks)

    figure = Figure(figsize=(10, 3.6), layout="constrained")
    left, right = figure.subplots(1, 2)
    for name, times in teaching_times.items():
        left.loglog(kernels_short, np.array(times) * 1e3, "o-", label=name)
    left.set(xlabel="kernel taps K", ylabel="time (ms)", title="teaching versions, N = 1000 samples")
    left.legend(fontsize=7)
    for method, times in production.items():
        left_label = {"direct": "direct  O(NK)", "fft": "one FFT  O(L log L)", "partitioned": "partitioned  O(N log B)"}
        right.loglog(kernels_long, np.array(times) * 1e3, "o-", label=left_label[method])
    right.set(xlabel="kernel taps K", ylabel="time (ms)", title="echoless.conv.convolve, N = 10 s at 16 kHz")
    right.legend(fontsize=7)
    for axis in (left, right):
        axis.grid(alpha=0.3, which="both")
    numbers["convolution"] = {
        "figure": _save(figure, "convolution_complexity.png"),
        "teaching_N": len(x_short),
        "teaching_kernels": kernels_short,
        "teaching_ms": {name: [round(t * 1e3, 3) for t in times] for name, times in teaching_times.items()},
        "production_N": len(x_long),
        "production_kernels": kernels_long,
        "production_ms": {m: [round(t * 1e3, 3) for t in times] for m, times in production.items()},
        "streaming_kernel": len(h),
        "streaming_block": block,
        "streaming_partitioned_us_per_block": round(partitioned_per_block * 1e6, 1),
        "streaming_direct_us_per_block": round(direct_per_block * 1e6, 1),
        "streaming_partitioned_real_time_factor": round(block / SAMPLE_RATE / partitioned_per_block),
        "streaming_direct_real_time_factor": round(block / SAMPLE_RATE / direct_per_block),
    }


def stft_isometry(numbers: dict) -> None:
    """Closed form vs measurement of the Parseval factor, and the squared-window envelope."""
    n_fft, win_length = 1024, 512
    x = np.zeros(16 * n_fft)
    x[n_fft:-n_fft] = np.random.default_rng(1).standard_normal(14 * n_fft)
    rows = []
    for hop in (64, 128, 256):
        measured = spectrogram_energy(stft(x, n_fft, hop, win_length), n_fft) / np.sum(x**2)
        rows.append({
            "hop_length": hop,
            "closed_form_3NL_over_8H": 3 * n_fft * win_length / (8 * hop),
            "stft_isometry_ratio": stft_isometry_ratio(n_fft, hop, win_length),
            "measured_on_noise": round(measured, 3),
        })
    figure = Figure(figsize=(8, 2.8), layout="constrained")
    axis = figure.subplots()
    w = np.hanning(win_length + 1)[:-1]  # periodic Hann
    for hop in (256, 128):
        envelope = np.zeros(4 * win_length)
        for start in range(0, len(envelope) - win_length + 1, hop):
            envelope[start : start + win_length] += w**2
        axis.plot(envelope[win_length : 3 * win_length], label=f"hop {hop} = L/{win_length // hop}")
    axis.set(xlabel="sample", ylabel=r"$\sum_m w^2[t - mH]$", title=f"overlap-added squared Hann windows, L = {win_length}")
    axis.legend(fontsize=8)
    axis.grid(alpha=0.3)
    numbers["isometry"] = {"n_fft": n_fft, "win_length": win_length, "rows": rows,
                           "figure": _save(figure, "stft_isometry.png")}


def inconsistent_spectrogram(numbers: dict) -> None:
    """Random phases on a speech magnitude: how far STFT(ISTFT(S)) lands from S."""
    from echoless.data.talkers import load_recording

    speech = load_recording("allison_en_f")[SAMPLE_RATE : 4 * SAMPLE_RATE]  # 3 s of the shipped speech
    n_fft, hop, win = 1024, 128, 512
    spec = make_inconsistent_spectrogram(speech, n_fft, hop, win)
    again = stft(istft(spec, n_fft, hop, win, length=len(speech)), n_fft, hop, win)
    tiny = 1e-12
    figure = Figure(figsize=(10, 3.2), layout="constrained")
    axes = figure.subplots(1, 3, sharey=True)
    panels = {"|STFT(speech)|": np.abs(stft(speech, n_fft, hop, win)), "|S| (random phase, same magnitude)": np.abs(spec),
              "|STFT(ISTFT(S))|": np.abs(again)}
    top = 20 * np.log10(max(p.max() for p in panels.values()))
    for axis, (title, panel) in zip(axes, panels.items()):
        axis.imshow(20 * np.log10(panel + tiny), origin="lower", aspect="auto", cmap="magma", vmin=top - 80, vmax=top,
                    extent=(0, panel.shape[1] * hop / SAMPLE_RATE, 0, SAMPLE_RATE / 2000))
        axis.set(title=title, xlabel="time (s)")
    axes[0].set_ylabel("kHz")
    numbers["inconsistent"] = {
        "n_fft": n_fft, "hop_length": hop, "win_length": win,
        "relative_difference_random_phase": round(consistency_error(spec, n_fft, hop, win), 4),
        "relative_difference_true_stft": float(f"{consistency_error(stft(speech, n_fft, hop, win), n_fft, hop, win):.2e}"),
        "energy_kept_by_projection": round(float(np.sum(np.abs(again) ** 2) / np.sum(np.abs(spec) ** 2)), 4),
        "redundancy_n_fft_over_hop": n_fft / hop,
        "figure": _save(figure, "inconsistent_spectrogram.png"),
    }


SECTIONS = {"conv": convolution_complexity, "stft": stft_isometry, "inconsistent": inconsistent_spectrogram}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default=",".join(SECTIONS), help="comma-separated sections: " + ",".join(SECTIONS))
    args = parser.parse_args()
    FIGURES.mkdir(parents=True, exist_ok=True)
    path = FIGURES / "numbers.json"
    numbers = json.loads(path.read_text()) if path.exists() else {}
    numbers["machine"] = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, OMP_NUM_THREADS=1"
    for name in args.only.split(","):
        start = time.perf_counter()
        SECTIONS[name](numbers)
        print(f"{name}: {time.perf_counter() - start:.1f} s", file=sys.stderr)
        path.write_text(json.dumps(numbers, indent=1) + "\n")


if __name__ == "__main__":
    main()
