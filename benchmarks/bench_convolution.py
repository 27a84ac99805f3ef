"""Convolution speed: echoless.convolve against scipy's best, and streaming real-time factor.

Run on demand (not part of the test suite)::

    .venv/bin/python benchmarks/bench_convolution.py [--repeats 7] [--quick]

Prints markdown tables:

1. median wall time of ``echoless.conv.convolve`` (method="auto") and of
   ``scipy.signal.fftconvolve`` and ``scipy.signal.oaconvolve`` for signals of
   1, 10 and 60 s at 16 kHz and kernels of 16, 256, 4000 and 16000 taps, and
   the ratio ``echoless / best(scipy)`` (< 1: echoless is faster);
2. per method (direct, fft, partitioned) times, to check the ``auto`` choice;
3. ``PartitionedConvolver`` real-time factor (audio seconds per processing
   second) for a 4000-tap kernel with 160- and 512-sample blocks.

All timings run in one process, single-threaded (``OMP_NUM_THREADS=1`` is set
before numpy is imported), interleaved so that machine noise hits every
contender alike.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import platform
import time

import numpy as np
import scipy
import scipy.signal

from echoless.conv import PartitionedConvolver, choose_conv_method, convolve

SAMPLE_RATE = 16_000


def median_times(functions: dict, repeats: int) -> dict:
    """Median wall time of each function; rounds interleave the contenders in rotating order."""
    for function in functions.values():
        function()  # warm-up: FFT plans, caches
    times = {name: [] for name in functions}
    names = list(functions)
    for round_index in range(repeats):
        shift = round_index % len(names)
        for name in names[shift:] + names[:shift]:
            start = time.perf_counter()
            functions[name]()
            times[name].append(time.perf_counter() - start)
    return {name: float(np.median(values)) for name, values in times.items()}


def bench_offline(seconds_list, kernel_list, repeats: int) -> None:
    rng = np.random.default_rng(0)
    print("| signal | kernel | auto picks | echoless (ms) | fftconvolve (ms) | oaconvolve (ms) | ratio echoless/best scipy |")
    print("|---|---|---|---|---|---|---|")
    ratios = []
    for seconds in seconds_list:
        x = rng.standard_normal(int(seconds * SAMPLE_RATE))
        for taps in kernel_list:
            h = rng.standard_normal(taps)
            timed = median_times(
                {
                    "echoless": lambda: convolve(x, h),
                    "fftconvolve": lambda: scipy.signal.fftconvolve(x, h),
                    "oaconvolve": lambda: scipy.signal.oaconvolve(x, h),
                },
                repeats,
            )
            ours, fft, oa = timed["echoless"], timed["fftconvolve"], timed["oaconvolve"]
            ratio = ours / min(fft, oa)
            ratios.append(ratio)
            print(
                f"| {seconds:g} s | {taps} | {choose_conv_method(x, h)} | {ours * 1e3:.2f} | {fft * 1e3:.2f} "
                f"| {oa * 1e3:.2f} | {ratio:.2f} |"
            )
    print(f"\nworst ratio: {max(ratios):.2f}, median ratio: {np.median(ratios):.2f}\n")


def bench_methods(seconds_list, kernel_list, repeats: int) -> None:
    rng = np.random.default_rng(1)
    print("| signal | kernel | direct (ms) | fft (ms) | partitioned (ms) | auto picks |")
    print("|---|---|---|---|---|---|")
    for seconds in seconds_list:
        x = rng.standard_normal(int(seconds * SAMPLE_RATE))
        for taps in kernel_list:
            h = rng.standard_normal(taps)
            methods = ("direct", "fft", "partitioned") if len(x) * taps <= 2e9 else ("fft", "partitioned")
            timed = median_times({m: (lambda m=m: convolve(x, h, method=m)) for m in methods}, repeats)
            cells = [f"{timed[m] * 1e3:.2f}" if m in timed else "(skipped: too slow)" for m in ("direct", "fft", "partitioned")]
            print(f"| {seconds:g} s | {taps} | " + " | ".join(cells) + f" | {choose_conv_method(x, h)} |")
    print()


def bench_streaming(seconds: float, taps: int, block_sizes) -> None:
    rng = np.random.default_rng(2)
    h = rng.standard_normal(taps)
    x = rng.standard_normal(int(seconds * SAMPLE_RATE))
    print("| kernel | block | latency (ms) | real-time factor |")
    print("|---|---|---|---|")
    for block in block_sizes:
        convolver = PartitionedConvolver(h, block)
        blocks = [x[i : i + block] for i in range(0, len(x) - block + 1, block)]
        PartitionedConvolver(h, block).process(blocks[0])  # loads (or compiles) the kernel first
        start = time.perf_counter()
        for chunk in blocks:
            convolver.process(chunk)
        elapsed = time.perf_counter() - start
        audio = len(blocks) * block / SAMPLE_RATE
        print(f"| {taps} | {block} | {1e3 * block / SAMPLE_RATE:.1f} | {audio / elapsed:.0f}x |")
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7, help="timed repetitions per cell (median)")
    parser.add_argument("--quick", action="store_true", help="fewer shapes, for a smoke run")
    args = parser.parse_args()
    seconds_list = [1, 10] if args.quick else [1, 10, 60]
    kernel_list = [16, 256, 4000, 16000]
    print(f"numpy {np.__version__}, scipy {scipy.__version__}, Python {platform.python_version()}, "
          f"{platform.processor() or platform.machine()}, OMP_NUM_THREADS={os.environ['OMP_NUM_THREADS']}\n")
    bench_offline(seconds_list, kernel_list, args.repeats)
    bench_methods(seconds_list, kernel_list, max(3, args.repeats // 2))
    bench_streaming(10 if args.quick else 30, 4000, [160, 512])


if __name__ == "__main__":
    main()
