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
    PartitionedConvolver(h, block).process(blocks[0])  # loads (or compiles) its kernel before the clock starts
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


def _segments(timeline: list[dict], label: str, sample_rate: int) -> np.ndarray:
    """Boolean mask of the samples inside the timeline segments called ``label``."""
    n = int(round(timeline[-1]["end"] * sample_rate))
    mask = np.zeros(n, dtype=bool)
    for segment in timeline:
        if segment["label"] == label:
            mask[int(round(segment["start"] * sample_rate)) : int(round(segment["end"] * sample_rate))] = True
    return mask


def offline_cancellers(numbers: dict) -> None:
    """loss vs loss_oracle, learning-rate stability, waveform vs TF, and what the output contains.

    On the built-in 20 s ``synth`` example, with the seed's settings: 250 ms
    waveform filter; TF kernel of 15 frames, n_fft 2048, hop 512.
    """
    from echoless.aec import fit_spectral_lms, fit_spectral_ls, fit_waveform_lms, fit_waveform_ls
    from echoless.data import default_dataset
    from echoless.aec import cancel
    from echoless.metrics import erle, mse, snr
    from echoless.plots import plot_spectrograms

    example = default_dataset()["synth"]
    mic, ref, echo, near = example.mic, example.ref, example.echo, example.near_end
    sample_rate = example.sample_rate
    steps = 300
    taps = int(0.25 * sample_rate)
    result: dict = {"data": "built-in synth, 20 s", "steps": steps, "rt60": example.meta.get("rt60"),
                    "ser_db": example.meta.get("ser_db"), "nonlinearity": example.meta.get("nonlinearity")}

    # exact optima
    start = time.perf_counter()
    waveform_ls = fit_waveform_ls(mic, ref, taps)
    waveform_ls_seconds = time.perf_counter() - start
    start = time.perf_counter()
    spectral_ls = fit_spectral_ls(mic, ref, 15, 2048, 512)
    spectral_ls_seconds = time.perf_counter() - start
    echo_ls = waveform_ls.apply(ref)

    # (a) loss vs loss_oracle, the seed's learning rate
    runs = {}
    for name, fit in (
        ("waveform", lambda lr, n: fit_waveform_lms(mic, ref, echo, near, kernel_seconds=0.25, n_steps=n, lr=lr,
                                                    sample_rate=sample_rate, progress=False)),
        ("spectral", lambda lr, n: fit_spectral_lms(mic, ref, echo, near, loss_type="spectral", kernel_size=15,
                                                    n_fft=2048, hop_length=512, n_steps=n, lr=lr, progress=False)),
    ):
        start = time.perf_counter()
        model, logs = fit(1e-2, steps)
        runs[name] = (model, logs, time.perf_counter() - start, fit)
    model, logs, _, _ = runs["waveform"]
    echo_gd = model.apply(ref)
    power_near = float(np.mean(near**2))
    cross = float(2 * np.mean(near * (echo - echo_gd)))
    result["loss_decomposition"] = {
        "loss_final": logs[-1]["loss"], "loss_oracle_final": logs[-1]["loss_oracle"],
        "near_end_power": power_near, "cross_term": cross,
        "loss_recomputed": mse(mic, echo_gd), "oracle_plus_power_plus_cross": mse(echo, echo_gd) + power_near + cross,
        "least_squares_loss": mse(mic, echo_ls), "least_squares_loss_oracle": mse(echo, echo_ls),
        "steps_with_loss_oracle_below_loss": sum(row["loss_oracle"] < row["loss"] for row in logs),
        "spectral_steps_with_loss_oracle_below_loss": sum(row["loss_oracle"] < row["loss"] for row in runs["spectral"][1]),
    }

    # (b) stability over learning rates, and (c) speed/quality
    learning_rates = (1e-3, 1e-2, 1e-1)
    sweep_steps = 200
    optimum = {"waveform": mse(mic, echo_ls), "spectral": None}
    sweeps = {"waveform": {}, "spectral": {}}
    for name in sweeps:
        for lr in learning_rates:
            if lr == 1e-2:
                sweeps[name][lr] = runs[name][1][:sweep_steps]
            else:
                sweeps[name][lr] = runs[name][3](lr, sweep_steps)[1]
    figure = Figure(figsize=(10, 3.4), layout="constrained")
    axes = figure.subplots(1, 2)
    stability = {}
    for axis, (name, by_lr) in zip(axes, sweeps.items()):
        for lr, rows in by_lr.items():
            loss = np.array([row["loss"] for row in rows])
            axis.semilogy(loss / loss[0], label=f"lr {lr:g}")
            stability[f"{name}_lr_{lr:g}"] = {
                "final_over_initial": float(loss[-1] / loss[0]),
                "max_over_initial": float(loss.max() / loss[0]),
                "steps_where_loss_rose": int(np.sum(np.diff(loss) > 0)),
                "final_snr_near_db": rows[-1]["snr_near"],
            }
        axis.set(title=f"{name} LMS (Adam), loss / initial loss", xlabel="step")
        axis.grid(alpha=0.3, which="both")
        axis.legend(fontsize=8)
    result["stability"] = stability
    result["stability_figure"] = _save(figure, "lr_stability.png")

    ls_snr = {"waveform": snr(near, mic - echo_ls), "spectral": snr(near, mic - spectral_ls.apply(ref))}
    speed = {}
    for name, (model, logs, seconds, _) in runs.items():
        curve = np.array([row["snr_near"] for row in logs])
        within = np.flatnonzero(curve >= ls_snr[name] - 0.5)
        speed[name] = {
            "seconds_per_step": seconds / steps,
            "final_snr_near_db": snr(near, mic - model.apply(ref)),
            "least_squares_snr_near_db": ls_snr[name],
            "steps_to_within_0_5_db_of_least_squares": int(within[0]) + 1 if len(within) else None,
        }
    speed["waveform"]["least_squares_seconds"] = waveform_ls_seconds
    speed["spectral"]["least_squares_seconds"] = spectral_ls_seconds
    result["speed_quality"] = speed

    figure = Figure(figsize=(10, 3.4), layout="constrained")
    axes = figure.subplots(1, 2)
    for axis, (name, (_, logs, _, _)) in zip(axes, runs.items()):
        axis.semilogy([row["loss"] for row in logs], label="loss (vs mic)")
        axis.semilogy([row["loss_oracle"] for row in logs], label="loss_oracle (vs true echo)")
        if optimum[name] is not None:
            axis.axhline(optimum[name], color="k", ls="--", lw=1, label="least-squares optimum")
            axis.axhline(power_near, color="tab:green", ls=":", lw=1, label="near-end power")
        axis.set(title=f"{name} LMS, lr 1e-2", xlabel="step")
        axis.grid(alpha=0.3, which="both")
        axis.legend(fontsize=7)
    result["loss_figure"] = _save(figure, "loss_vs_oracle.png")

    # (d) what the output contains: per talk segment, and vs filter length
    timeline = example.meta["timeline"]
    outputs = {
        "waveform LS": mic - echo_ls,
        "TF LS": mic - spectral_ls.apply(ref),
        "waveform LMS": mic - runs["waveform"][0].apply(ref),
        "TF LMS": mic - runs["spectral"][0].apply(ref),
        "PBFDAF (streaming)": cancel(mic, ref, "pbfdaf", sample_rate, filter_ms=250, delay=0, postfilter=0),
    }
    far = _segments(timeline, "far_end_single_talk", sample_rate)[: len(mic)]
    double = _segments(timeline, "double_talk", sample_rate)[: len(mic)]
    near_only = _segments(timeline, "near_end_single_talk", sample_rate)[: len(mic)]
    result["segments"] = {
        name: {
            "erle_far_end_single_talk_db": erle(mic[far], out[far]),
            "erle_last_3_s_of_far_end_single_talk_db": erle(mic[far][-3 * sample_rate:], out[far][-3 * sample_rate:]),
            "snr_near_double_talk_db": snr(near[double], out[double]),
            "snr_near_near_end_single_talk_db": snr(near[near_only], out[near_only]),
        }
        for name, out in outputs.items()
    }
    result["echo_over_near_double_talk_db"] = 10 * np.log10(np.sum(echo[double] ** 2) / np.sum(near[double] ** 2))
    lengths = {}
    for seconds in (0.0625, 0.125, 0.25, 0.5):
        estimate = fit_waveform_ls(mic, ref, int(seconds * sample_rate)).apply(ref)
        lengths[f"{seconds * 1000:g} ms"] = {"erle_oracle_db": erle(echo, echo - estimate),
                                              "snr_near_db": snr(near, mic - estimate)}
    result["least_squares_vs_filter_length"] = lengths
    first = slice(0, 8 * sample_rate)
    panels = {"mic (far-end single talk, 0-8 s)": mic[first], **{k: outputs[k][first] for k in ("waveform LS", "TF LS", "PBFDAF (streaming)")}}
    result["residual_figure"] = _save(plot_spectrograms(panels, sample_rate), "residual_echo.png")
    numbers["offline"] = result


SECTIONS = {
    "conv": convolution_complexity,
    "stft": stft_isometry,
    "inconsistent": inconsistent_spectrogram,
    "offline": offline_cancellers,
}


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
