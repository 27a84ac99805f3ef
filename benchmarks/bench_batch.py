"""Many files: throughput at 1 and 2 workers, cost against corpus size, and peak memory against duration.

Run on demand (not part of the test suite), alone on the machine if you can::

    .venv/bin/python benchmarks/bench_batch.py [--files 48] [--seconds 10] [--minutes 1,10,60]

It writes ``benchmarks/bench_batch_results.md`` (``--out``) and prints the same tables.

1. **Throughput.** One corpus of ``--files`` simulated scenes of ``--seconds``
   s (:func:`echoless.data.make_scene`), cancelled with the recommended
   pipeline (``pfdkf`` with the library's defaults) by
   :func:`echoless.batch.cancel_corpus`: in this process (``workers=1``) and
   on a Dask LocalCluster of 2 single-threaded workers. "Warm" runs reuse a
   started cluster whose workers have loaded the compiled kernels (what a
   long corpus sees); "cold" includes starting the cluster. Each run writes
   every output and scores every file (far-end ERLE and oracle metrics).
2. **Corpus size.** The same, 2 warm workers, on the first quarter, half and
   all of the corpus: the cost per file should stay flat (no per-corpus
   overhead that grows).
3. **Memory.** ``echoless cancel`` (block-wise files, :func:`echoless.aec.files.cancel_file`)
   on noise pairs of ``--minutes`` minutes with a short echo path, in a
   fresh process under GNU ``/usr/bin/time -v`` (maximum resident set size),
   against the whole-array path it replaced (``read_audio``, ``cancel``,
   ``write_audio``) in the same run.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile

from echoless.batch import cancel_corpus, find_pairs
from echoless.data import make_scene, save_scene

SAMPLE_RATE = 16000
WHOLE_ARRAYS = """
import sys
from echoless.aec import cancel
from echoless.io import read_audio, write_audio
mic, ref, out = sys.argv[1:4]
write_audio(out, cancel(read_audio(mic), read_audio(ref)), 16000)
"""


def make_corpus(folder: Path, n_files: int, seconds: float) -> None:
    for seed in range(n_files):
        save_scene(make_scene(seconds, seed=seed, rt60=0.3, ser_db=-5.0), folder / f"scene{seed:03d}")


def timed_run(pairs, out: Path, **engine) -> float:
    start = time.perf_counter()
    rows = cancel_corpus(pairs, out, overwrite=True, **engine)
    seconds = time.perf_counter() - start
    failed = [row for row in rows if row["status"] != "done"]
    if failed:
        raise RuntimeError(f"{len(failed)} files failed: {failed[0]['error']}")
    return seconds


def throughput_row(label: str, n_files: int, audio_seconds: float, seconds: float) -> str:
    return (f"| {label} | {n_files} | {seconds:.2f} | {n_files / seconds:.2f} | "
            f"{audio_seconds / seconds:.0f} | {1000 * seconds / n_files:.1f} |")


def write_long_pair(folder: Path, minutes: int) -> tuple[Path, Path]:
    """White-noise far end through a 2 ms decaying echo path, plus quiet noise, written a second at a time."""
    rng = np.random.default_rng(minutes)
    path = 0.4 * np.exp(-np.arange(32) / 6.0)
    mic_path, ref_path = folder / f"mic_{minutes}min.wav", folder / f"ref_{minutes}min.wav"
    with soundfile.SoundFile(mic_path, "w", SAMPLE_RATE, 1, "PCM_16") as mic, \
            soundfile.SoundFile(ref_path, "w", SAMPLE_RATE, 1, "PCM_16") as ref:
        tail = np.zeros(len(path) - 1)
        for _ in range(60 * minutes):
            block = 0.2 * rng.standard_normal(SAMPLE_RATE)
            echo = np.convolve(np.concatenate((tail, block)), path, mode="valid")
            tail = block[-(len(path) - 1) :]
            ref.write(block)
            mic.write(echo + 0.01 * rng.standard_normal(SAMPLE_RATE))
    return mic_path, ref_path


def peak_rss(command: list[str]) -> tuple[float, float]:
    """(maximum resident set size in MB, wall seconds) of a command under GNU time -v."""
    result = subprocess.run(["/usr/bin/time", "-v", *command], capture_output=True, text=True, check=True)
    kilobytes = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", result.stderr).group(1))
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)", result.stderr).group(1)
    seconds = sum(float(part) * 60**i for i, part in enumerate(reversed(wall.split(":"))))
    return kilobytes / 1024, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=48, help="scenes in the corpus (default: %(default)s)")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each scene (default: %(default)s)")
    parser.add_argument("--minutes", default="1,10,60",
                        help="lengths of the long pairs, '' for none (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("bench_batch_results.md"))
    args = parser.parse_args()
    from echoless.batch._dask import local_client

    lines = [
        "# echoless batch: throughput, corpus size, memory",
        "",
        f"Generated by `benchmarks/bench_batch.py --files {args.files} --seconds {args.seconds:g} "
        f"--minutes {args.minutes}` on {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, load average {os.getloadavg()[0]:.2f} at the start (other jobs share "
        "the cores). Method: `pfdkf` with the library's defaults; every file written and scored.",
        "",
    ]
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        make_corpus(folder / "corpus", args.files, args.seconds)
        pairs = find_pairs(folder / "corpus")
        audio = args.files * args.seconds

        timed_run(pairs[:2], folder / "warm", workers=1)  # this process loads the kernels
        header = ["| engine | files | wall s | files/s | audio-hours per hour | ms per file |", "|---|---:|---:|---:|---:|---:|"]
        serial = timed_run(pairs, folder / "serial", workers=1)
        cold = timed_run(pairs, folder / "cold", workers=2)
        with local_client(2) as client:
            timed_run(pairs[:4], folder / "warm2", client=client)  # workers load the kernels
            warm = timed_run(pairs, folder / "parallel", client=client)
            sizes = [(n, timed_run(pairs[:n], folder / f"size{n}", client=client))
                     for n in (args.files // 4, args.files // 2, args.files)]
        lines += ["## Throughput", "", *header,
                  throughput_row("1 worker (in-process, no Dask)", args.files, audio, serial),
                  throughput_row("2 workers, LocalCluster, cold (start-up included)", args.files, audio, cold),
                  throughput_row("2 workers, LocalCluster, warm", args.files, audio, warm),
                  "", f"2 warm workers give {serial / warm:.2f}x the files/s of 1 "
                  f"({serial / cold:.2f}x with the cluster start-up).", ""]
        lines += ["## Corpus size (2 warm workers)", "", *header]
        lines += [throughput_row(f"first {n} files", n, n * args.seconds, seconds) for n, seconds in sizes]
        lines += [""]

        minutes = [int(m) for m in args.minutes.split(",") if m]
        lines += [] if not minutes else ["## Peak memory of `echoless cancel` against duration", "",
                  "| pair | block-wise (`echoless cancel`) MB | wall s | whole arrays (before) MB | wall s |",
                  "|---|---:|---:|---:|---:|"]
        for length in minutes:
            mic, ref = write_long_pair(folder, length)
            streamed = peak_rss([sys.executable, "-m", "echoless", "cancel", str(mic), str(ref),
                                 "-o", str(folder / "streamed.wav")])
            whole = peak_rss([sys.executable, "-c", WHOLE_ARRAYS, str(mic), str(ref), str(folder / "whole.wav")])
            if (folder / "streamed.wav").read_bytes() != (folder / "whole.wav").read_bytes():
                raise RuntimeError(f"the {length}-minute outputs differ")
            lines.append(f"| {length} min | {streamed[0]:.0f} | {streamed[1]:.1f} | {whole[0]:.0f} | {whole[1]:.1f} |")
            mic.unlink()
            ref.unlink()
        if minutes:
            lines += ["", "Both paths wrote the same bytes for every pair. Up to 5 minutes `echoless cancel` also "
                      "reads the pair whole to detect where the far end talks alone and print the ERLE there."]
    text = "\n".join(lines) + "\n"
    print(text)
    args.out.write_text(text)


if __name__ == "__main__":
    main()
