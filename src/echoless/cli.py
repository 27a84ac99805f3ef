"""The ``echoless`` command line: parse, call the library, print.

Subcommands: ``cancel`` (one recording), ``batch`` (a corpus, on local
processes or a Dask cluster), ``eval`` (methods compared on scene folders),
``demo`` (the whole assignment on built-in data, with a report), ``report``
and ``live`` (real time, on the sound card).
Errors in the input end with a one-line message on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import contextlib
import pathlib
import sys
import warnings
from collections.abc import Sequence

import echoless
from echoless.demo import DEMO_STEPS
from echoless.aec.methods import DEFAULT_METHOD, METHODS, OFFLINE_METHODS, STREAMING_METHODS

EXIT_BAD_INPUT = 2
#: ``batch``: every recording failed (each is in the summary with its error).
EXIT_NOTHING_DONE = 1

DESCRIPTION = """\
echoless removes the echo of a loudspeaker from a microphone recording.

The far-end reference REF plays through the loudspeaker; the microphone MIC
records its echo (REF through the room) plus the near-end talker. echoless
estimates the echo path and writes MIC minus the estimated echo: the near end.
"""

EXAMPLES = """\
examples:
  echoless cancel mic.wav ref.wav -o near.wav
      the recommended pipeline: streaming Kalman canceller (pfdkf), input
      high-pass, bulk delay found by GCC-PHAT, residual-echo suppressor;
      prints ERLE where the far end talks alone, and speed
  echoless cancel mic.wav ref.wav -o near.wav --postfilter 0 --delay 0
      the linear canceller alone, no delay search
  echoless cancel mic.wav stereo_ref.wav -o near.wav --ref-channel 0
      mono microphone, first channel of a stereo reference
  echoless cancel array_mic.wav stereo_ref.wav -o near.wav
      multichannel: every microphone channel against both loudspeaker channels
      (pfdkf's multichannel version); OUT has one channel per microphone
  echoless cancel mic.wav ref.wav -o near.wav --method waveform_ls --echo-out echo.wav
      exact least-squares echo path fitted on the whole file; also writes the echo
  echoless batch corpus/ -o out/
      every *_mic.wav with its *_lpb.wav (or mic.wav with ref.wav) below corpus/,
      on all cores; outputs mirror the input names, out/summary.csv holds the
      metrics; run it again to continue a stopped run
  echoless batch 'corpus/**/*_mic.wav' -o out/ --scheduler tcp://host:8786
      the same on a Dask cluster (corpus and out/ on storage every worker sees)
  echoless eval scenes/ --methods pfdkf,pbfdaf,nlms
      metrics of several methods on saved scene folders (table + CSV + markdown)
  echoless demo --out out
      every method of the assignment on the built-in data, figures, report.html
  echoless report out
      rebuild out/report.html from the results in out/

methods: streaming pfdkf (default), pbfdaf, nlms (frame by frame, real time);
offline waveform_ls, spectral_ls (exact least squares), waveform_lms,
spectral_lms_spectral, spectral_lms_waveform (the seed's gradient descent in
PyTorch, slow).
"""


BATCH_DESCRIPTION = """\
Cancel the echo of every recording of INPUT and write the near-end estimates
below OUTDIR, mirroring the input names, with OUTDIR/summary.csv and
summary.md: per file the ERLE where the far end talks alone, oracle metrics
where near/echo truth files exist, and the error of a file that failed.

INPUT is a folder (every *mic.wav / *mic.flac below it, with the *lpb or *ref
file beside it: the AEC Challenge's x_mic.wav with x_lpb.wav, or a scene
folder's mic.wav with ref.wav), a quoted glob of microphone files, an
AEC-Challenge synthetic folder (nearend_mic_signal/, farend_speech/, ...) or
a manifest CSV (columns mic, ref[, out, near, echo]).

Finished outputs are skipped: run the same command again to continue a
stopped run. A bad file is reported and the others go on (exit code 0).
Recordings longer than 5 min are streamed block by block and not scored.
"""


def _delay(text: str) -> str | float:
    if text == "auto":
        return text
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected 'auto' or milliseconds, got {text!r}") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"delay must be 'auto' or >= 0 ms, got {text!r}")
    return value


def _method_list(text: str) -> list[str]:
    methods = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in methods if name not in METHODS]
    if unknown or not methods:
        raise argparse.ArgumentTypeError(f"unknown method(s) {', '.join(unknown) or text!r}; choose from {', '.join(METHODS)}")
    return methods


def _workers(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number of processes >= 1, got {text!r}")
    return value


def _add_engine_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sample-rate", type=int, default=16000, metavar="HZ",
                        help="sample rate every file must have (default: %(default)s)")
    engine = parser.add_mutually_exclusive_group()
    engine.add_argument("--workers", type=_workers, metavar="N",
                        help="local processes, through a Dask LocalCluster; 1 runs in this process without Dask "
                        "(default: the number of cores)")
    engine.add_argument("--scheduler", metavar="ADDRESS",
                        help="run on the Dask cluster at ADDRESS (tcp://host:8786); its workers read and write "
                        "the paths given here, so put them on storage every worker sees")


def _add_canceller_options(parser: argparse.ArgumentParser) -> None:
    # None = the library's default, so the CLI and echoless.aec.cancel() run the same pipeline
    parser.add_argument("--filter-ms", type=float, metavar="MS",
                        help="echo-path length to model, in ms (default: 250)")
    parser.add_argument("--delay", type=_delay, metavar="auto|MS",
                        help="bulk delay of the reference: 'auto' (GCC-PHAT search) or milliseconds; "
                        "streaming methods only (default: auto)")
    parser.add_argument("--postfilter", type=float, metavar="STRENGTH",
                        help="residual-echo suppressor strength, 0 = off; more removes more echo and more near end; "
                        "streaming methods only (default: the canceller's, 1.5)")
    parser.add_argument("--highpass", type=float, metavar="HZ", dest="highpass_hz",
                        help="cut-off of the input high-pass on MIC and REF, 0 = off; streaming methods "
                        "(default: 20)")
    parser.add_argument("--low-cut", type=float, metavar="HZ", dest="low_cut_hz",
                        help="cut-off of the suppressor's zero-phase low cut, 0 = off (with --highpass 0: a "
                        "full-band output, for music); streaming methods (default: 80)")
    parser.add_argument("--drift", action="store_const", const=True, dest="drift_compensation",
                        help="estimate and follow clock drift between REF and MIC (two sound cards); "
                        "streaming methods, with the delay search")
    parser.add_argument("--steps", type=int, metavar="N",
                        help="Adam steps of the gradient-descent methods waveform_lms, spectral_lms_* (default: 300)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``echoless`` command."""
    parser = argparse.ArgumentParser(
        prog="echoless", description=DESCRIPTION, epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"echoless {echoless.__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    cancel = commands.add_parser(
        "cancel", help="remove the echo from one recording",
        description="Remove the echo of REF from MIC and write the near-end estimate to OUT.\n"
        "Both inputs must have the same length, at --sample-rate (or use --resample). Multichannel\n"
        "files (one channel per microphone, per loudspeaker) give a multichannel OUT, unless\n"
        "--mic-channel or --ref-channel picks one channel.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    cancel.add_argument("mic", type=pathlib.Path, metavar="MIC", help="microphone recording (echo + near end), WAV/FLAC")
    cancel.add_argument("ref", type=pathlib.Path, metavar="REF", help="far-end reference played by the loudspeaker")
    cancel.add_argument("-o", "--out", type=pathlib.Path, required=True, help="where to write the near-end estimate")
    cancel.add_argument("--method", choices=METHODS, default=DEFAULT_METHOD, help="canceller (default: %(default)s)")
    cancel.add_argument("--echo-out", type=pathlib.Path, metavar="PATH", help="also write the echo estimate MIC - OUT here")
    cancel.add_argument("--sample-rate", type=int, default=16000, metavar="HZ", help="expected sample rate (default: %(default)s)")
    cancel.add_argument("--resample", action="store_true", help="resample inputs at another rate instead of refusing them")
    cancel.add_argument("--mic-channel", type=int, metavar="N",
                        help="channel (from 0) to take from a multichannel MIC (default: every channel)")
    cancel.add_argument("--ref-channel", type=int, metavar="N",
                        help="channel (from 0) to take from a multichannel REF (default: every channel)")
    cancel.add_argument("--float", action="store_true", dest="float_output",
                        help="write 32-bit float (no rounding, no clipping) instead of 16-bit PCM; "
                        "the default when MIC is itself a float file")
    _add_canceller_options(cancel)

    batch = commands.add_parser(
        "batch", help="remove the echo from every recording of a corpus",
        description=BATCH_DESCRIPTION,
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    batch.add_argument("input", metavar="INPUT", help="folder, quoted glob, AEC-Challenge folder or manifest .csv")
    batch.add_argument("-o", "--out", type=pathlib.Path, required=True, metavar="OUTDIR", help="output folder")
    batch.add_argument("--method", choices=METHODS, default=DEFAULT_METHOD, help="canceller (default: %(default)s)")
    batch.add_argument("--pattern", metavar="GLOB",
                       help="glob of the microphone files below the INPUT folder (default: **/*mic.wav and .flac)")
    batch.add_argument("--overwrite", action="store_true", help="redo outputs that an earlier run finished")
    batch.add_argument("--float", action="store_true", dest="float_output",
                       help="write 32-bit float WAV (no rounding, no clipping) instead of 16-bit PCM")
    _add_engine_options(batch)
    _add_canceller_options(batch)

    evaluate = commands.add_parser(
        "eval", help="compare methods on saved scenes",
        description="Run methods on scene folders (mic.wav, ref.wav[, near.wav, echo.wav, meta.json], "
        "as echoless.data.save_scene writes), folders of them, or an ICASSP AEC-Challenge synthetic "
        "folder; print a table and write it as CSV and markdown. Oracle metrics appear when the "
        "true near end / echo is known.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    evaluate.add_argument("folders", nargs="+", metavar="DIR",
                          help="scene folder, folder of them, or AEC-Challenge folder (as for batch), or 'seed': "
                          "the assignment's recordings, downloaded into the cache on first use "
                          "($ECHOLESS_DATA_DIR, else ~/.cache/echoless)")
    evaluate.add_argument("--methods", type=_method_list, default=list(STREAMING_METHODS), metavar="M1,M2",
                          help=f"comma-separated methods (default: {','.join(STREAMING_METHODS)})")
    evaluate.add_argument("-o", "--out", type=pathlib.Path, default=pathlib.Path("echoless_eval"), metavar="STEM",
                          help="write STEM.csv and STEM.md (default: %(default)s)")
    _add_engine_options(evaluate)
    _add_canceller_options(evaluate)

    demo = commands.add_parser(
        "demo", help="the whole assignment on built-in data, with report.html",
        description="Run every method of the assignment (waveform and time-frequency LMS, their exact "
        "least-squares optima) and the streaming PBFDAF and PFDKF on the 'synth' and 'real' data sets, write "
        "<method>_<data>/ folders (near_end_est.wav, mic.wav, ref.wav, logs, figures), "
        "summary.json and a self-contained report.html.",
    )
    demo.add_argument("--out", type=pathlib.Path, default=pathlib.Path("out"), help="results folder (default: %(default)s)")
    demo.add_argument("--data", metavar="ROOT|seed",
                      help="use the seed's recordings ROOT/{real,synth}/ (e.g. homework_2/) instead of the built-in data; "
                      "'seed' downloads them into the cache on first use ($ECHOLESS_DATA_DIR, else ~/.cache/echoless)")
    demo.add_argument("--steps", type=int, default=DEMO_STEPS, metavar="N",
                      help="Adam steps of each gradient-descent fit (default: %(default)s; the seed used 1500)")

    report = commands.add_parser(
        "report", help="(re)build report.html of a results folder",
        description="Build a self-contained HTML report (metrics, figures, audio players) of a results folder.",
    )
    report.add_argument("results", type=pathlib.Path, metavar="RESULTS_DIR")
    report.add_argument("-o", "--out", type=pathlib.Path, help="report path (default: RESULTS_DIR/report.html)")
    _add_live_parser(commands)
    return parser


LIVE_EXAMPLES = """\
examples:
  echoless live --list-devices
  echoless live --duration 10                      plays the shipped talker, records, cancels
  echoless live --tone 440 --input 2 --output 3    device ids (or name parts) from --list-devices
  echoless live --play music.wav --out take1

Speakers, not headphones: with headphones there is no echo to cancel.
Needs sounddevice and PortAudio: pip install 'echoless[live]', apt-get install libportaudio2.
"""


def _device(text: str) -> int | str:
    return int(text) if text.isdigit() else text


def _add_live_parser(commands) -> None:
    live = commands.add_parser(
        "live", help="cancel the echo in real time on this computer's sound card",
        description="Play a file, a tone or the shipped talker through the output device, record the input "
        "device, cancel the echo in the audio callback (PFDKF, delay search, suppressor) and write "
        "mic.wav, ref.wav, out.wav and report.json to --out; print ERLE, underruns and callback time.",
        epilog=LIVE_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    live.add_argument("--list-devices", action="store_true", help="list the audio devices and exit")
    source = live.add_mutually_exclusive_group()
    source.add_argument("--play", type=pathlib.Path, metavar="FILE", help="audio file to play (default: the shipped talker)")
    source.add_argument("--tone", type=float, metavar="HZ", help="play a sine of this frequency instead")
    live.add_argument("--duration", type=float, metavar="S", help="seconds to run (default: the file's length, 10 s for a tone)")
    live.add_argument("--input", type=_device, metavar="DEVICE", help="input device id or name part (default: the system's)")
    live.add_argument("--output", type=_device, metavar="DEVICE", help="output device id or name part (default: the system's)")
    live.add_argument("--sample-rate", type=int, default=16000, metavar="HZ", help="stream rate (default: %(default)s)")
    live.add_argument("--latency", type=_delay, default="auto", metavar="auto|MS",
                      help="device latency: 'auto' (PortAudio's estimate, less 10 ms) or milliseconds (default: auto)")
    live.add_argument("--out", type=pathlib.Path, default=pathlib.Path("live_out"), metavar="DIR",
                      help="folder for mic.wav, ref.wav, out.wav, report.json (default: %(default)s)")


def _options(args: argparse.Namespace, sample_rate: int) -> dict:
    """The canceller options given on the command line (the others keep the library's defaults)."""
    options = {"filter_ms": args.filter_ms, "postfilter": args.postfilter, "n_steps": args.steps,
               "drift_compensation": args.drift_compensation, "highpass_hz": args.highpass_hz,
               "low_cut_hz": args.low_cut_hz}
    if args.delay is not None:
        options["delay"] = args.delay if args.delay == "auto" else round(args.delay * sample_rate / 1000.0)
    return {key: value for key, value in options.items() if value is not None}


def _check_distinct_paths(args: argparse.Namespace) -> None:
    """Refuse, before any work, an output that would replace an input or the other output."""
    paths = {"MIC": args.mic, "REF": args.ref, "--out": args.out}
    if args.echo_out is not None:
        paths["--echo-out"] = args.echo_out
    seen: dict[pathlib.Path, str] = {}
    for name, path in paths.items():
        resolved = path.resolve()
        if resolved in seen:
            raise ValueError(f"{name} and {seen[resolved]} are the same file ({path}): give each its own path")
        seen[resolved] = name


def _read_inputs(args: argparse.Namespace):
    """MIC and REF of a multichannel run, (samples, channels) each."""
    from echoless.aec.methods import METHODS
    from echoless.io import read_audio_channels

    mic = read_audio_channels(args.mic, args.sample_rate, resample=args.resample)
    ref = read_audio_channels(args.ref, args.sample_rate, resample=args.resample)
    if not METHODS[args.method].multichannel:
        several = args.mic if mic.shape[1] > 1 else args.ref
        raise ValueError(
            f"{several} has {max(mic.shape[1], ref.shape[1])} channels and --method {args.method} has no multichannel "
            f"version: use --method pfdkf, or pick one channel with --mic-channel/--ref-channel"
        )
    return mic, ref


def _run_cancel(args: argparse.Namespace) -> None:
    from echoless.aec.drift import DEADBAND_PPM
    from echoless.aec.files import cancel_file
    from echoless.batch import METRICS_MAX_SECONDS
    from echoless.io import check_output_format, read_audio
    from echoless.talk import far_end_erle

    _check_distinct_paths(args)
    subtype = _output_subtype(args)
    for path in (args.out, args.echo_out):  # refuse an unwritable output before any reading
        if path is not None:
            check_output_format(path, subtype)
    if _multichannel_inputs(args):
        _cancel_multichannel(args, subtype)
        return
    options = _options(args, args.sample_rate)
    if args.method in OFFLINE_METHODS:
        options["progress"] = True
    # streaming methods read and write in blocks: memory does not grow with the recording's length
    result = cancel_file(
        args.mic, args.ref, args.out, args.method, args.sample_rate, echo_path=args.echo_out,
        mic_channel=args.mic_channel, ref_channel=args.ref_channel, resample=args.resample,
        subtype=subtype, **options,
    )
    if result.duration <= METRICS_MAX_SECONDS:  # the far-end detection reads whole arrays
        read = {"sample_rate": args.sample_rate, "resample": args.resample}
        mic = read_audio(args.mic, channel=args.mic_channel, **read)
        ref = read_audio(args.ref, channel=args.ref_channel, **read)
        measured = far_end_erle(mic, read_audio(args.out, args.sample_rate, protect=False), ref, args.sample_rate)
        if measured.seconds > 0:
            print(f"{args.method}: ERLE {measured.erle_db:.2f} dB where the far end talks alone "
                  f"({measured.seconds:.1f} of {result.duration:.1f} s, detected from REF and MIC)")
        else:
            print(f"{args.method}: ERLE not measured: no stretch where the far end talks alone was found")
    else:
        print(f"{args.method}: ERLE not measured: the recording is longer than {METRICS_MAX_SECONDS / 60:g} min "
              "(the far-end detection reads it whole)")
    drift = result.clock_drift_ppm
    if drift is not None and abs(drift) >= DEADBAND_PPM:
        print(f"clock drift: MIC runs {drift:+.1f} ppm against REF (estimated; the reference was resampled to follow it)")
    print(f"time {result.seconds:.3f} s with reading and writing, {result.real_time_factor:.0f}x real time")
    print(f"wrote {args.out}" + (f" and {args.echo_out}" if args.echo_out is not None else ""))


def _output_subtype(args: argparse.Namespace) -> str:
    """32-bit float with --float, or when MIC is a float file (its samples may lie far outside
    [-1, 1], e.g. int16-valued floats, which 16-bit PCM would clip) and the output format holds
    float; else 16-bit PCM."""
    import soundfile

    from echoless.io import check_output_format

    if args.float_output:
        return "FLOAT"  # asked for: a format that cannot hold it is refused, with its error
    try:
        float_input = soundfile.info(str(args.mic)).subtype in ("FLOAT", "DOUBLE")
    except (RuntimeError, TypeError, soundfile.LibsndfileError):  # reading MIC says what is wrong
        float_input = False
    if float_input:
        try:
            check_output_format(args.out, "FLOAT")
            return "FLOAT"
        except ValueError:  # a format without float samples (FLAC): 16-bit, or the format's own error later
            pass
    return "PCM_16"


def _multichannel_inputs(args: argparse.Namespace) -> bool:
    """Whether MIC or REF has several channels and neither --mic-channel nor --ref-channel picks one."""
    from echoless.io import AudioReader

    if args.mic_channel is not None or args.ref_channel is not None:
        return False
    counts = []
    for path in (args.mic, args.ref):
        with AudioReader(path, all_channels=True) as reader:
            counts.append(reader.channels)
    return max(counts) > 1


def _cancel_multichannel(args: argparse.Namespace, subtype: str) -> None:
    """``cancel`` of multichannel files: read whole, one output channel per microphone."""
    from echoless.evaluation import timed_cancel
    from echoless.io import write_audio_channels
    from echoless.talk import far_end_erle

    mic, ref = _read_inputs(args)
    if len(mic) != len(ref):
        raise ValueError(f"{args.mic} and {args.ref} must have the same length, got {len(mic)} and {len(ref)} samples")
    options = _options(args, args.sample_rate)
    if args.method in OFFLINE_METHODS:
        options["progress"] = True
    result = timed_cancel(mic, ref, args.method, args.sample_rate, **options)
    write_audio_channels(args.out, result.near_end_estimate, args.sample_rate, subtype=subtype)
    if args.echo_out is not None:
        write_audio_channels(args.echo_out, result.echo_estimate, args.sample_rate, subtype=subtype)
    mix = ref.mean(axis=1)
    for m in range(mic.shape[1]):
        label = f" (mic channel {m})" if mic.shape[1] > 1 else ""
        measured = far_end_erle(mic[:, m], result.near_end_estimate[:, m], mix, args.sample_rate)
        if measured.seconds > 0:
            print(f"{args.method}{label}: ERLE {measured.erle_db:.2f} dB where the far end talks alone "
                  f"({measured.seconds:.1f} of {len(mic) / args.sample_rate:.1f} s, detected from REF and MIC)")
        else:
            print(f"{args.method}{label}: ERLE not measured: no stretch where the far end talks alone was found")
    print(f"time {result.seconds:.3f} s, {result.real_time_factor:.0f}x real time")
    print(f"wrote {args.out}" + (f" and {args.echo_out}" if args.echo_out is not None else ""))


def _engine(args: argparse.Namespace, stack: contextlib.ExitStack) -> dict:
    """``client`` or ``workers`` for echoless.batch, from --scheduler / --workers."""
    from echoless.batch.runner import dask_available, default_workers

    if args.scheduler is not None:
        if not dask_available():
            raise ValueError("--scheduler needs Dask: pip install 'echoless[batch]'")
        from distributed import Client

        return {"client": stack.enter_context(Client(args.scheduler, timeout="20s"))}
    workers = args.workers or default_workers()
    if workers > 1 and not dask_available():
        if args.workers is not None:
            raise ValueError(f"--workers {workers} needs Dask: pip install 'echoless[batch]', or pass --workers 1")
        print("echoless: Dask is not installed (pip install 'echoless[batch]'): running in one process",
              file=sys.stderr)
        workers = 1
    return {"workers": workers}


def _report_failures(rows: list[dict]) -> None:
    failed = [row for row in rows if row.get("status") == "failed"]
    for row in failed[:5]:
        print(f"failed: {row['example']}: {row['error']}")
    if len(failed) > 5:
        print(f"... and {len(failed) - 5} more")
    if failed:
        print(f"{len(failed)} of {len(rows)} failed (the others are done)")


def _run_batch(args: argparse.Namespace) -> int:
    from collections import Counter

    from echoless.batch import cancel_corpus, find_pairs

    pairs = find_pairs(args.input, args.pattern, exclude=args.out)
    with contextlib.ExitStack() as stack:
        rows = cancel_corpus(
            pairs, args.out, args.method, sample_rate=args.sample_rate, overwrite=args.overwrite,
            subtype="FLOAT" if args.float_output else "PCM_16", progress=True,
            **_engine(args, stack), **_options(args, args.sample_rate),
        )
    counts = Counter(row["status"] for row in rows)
    print(f"{len(rows)} recordings: {counts['done']} done, {counts['skipped']} finished earlier (skipped), "
          f"{counts['failed']} failed")
    _report_failures(rows)
    print(f"wrote {args.out / 'summary.csv'} and {args.out / 'summary.md'}")
    # some files failing is a result (in the summary); every file failing is a failed run
    return EXIT_NOTHING_DONE if rows and counts["failed"] == len(rows) else 0


def _run_eval(args: argparse.Namespace) -> None:
    from echoless.batch import evaluate_corpus, find_pairs
    from echoless.evaluation import format_markdown, write_tables

    from echoless.data.seed import seed_or_path

    folders = [seed_or_path(folder) for folder in args.folders]
    for folder in folders:
        if not folder.is_dir():
            raise FileNotFoundError(f"{str(folder)!r} is not a folder")
    pairs = [pair for folder in folders for pair in find_pairs(folder)]
    with contextlib.ExitStack() as stack:
        rows = evaluate_corpus(pairs, args.methods, sample_rate=args.sample_rate, progress=True,
                               **_engine(args, stack), **_options(args, args.sample_rate))
    print(format_markdown(rows), end="")
    _report_failures(rows)
    csv_path, md_path = write_tables(rows, args.out)
    print(f"wrote {csv_path} and {md_path}")


def _run_demo(args: argparse.Namespace) -> None:
    from echoless.demo import run_demo

    from echoless.evaluation import format_markdown

    report, summary = run_demo(args.out, data_root=args.data, n_steps=args.steps, progress=True)
    shown = ("erle_far_end_db", "aecmos_echo", "aecmos_other", "erle_oracle_db", "snr_near_db")
    rows = [
        {"data": row["data"], "method": row["method"], "seconds": row["seconds"],
         **{key: row["metrics"][key] for key in shown if row["metrics"].get(key) is not None}}
        for row in summary["rows"]
    ]
    print(format_markdown(rows), end="")
    print(f"wrote {report} (open it in a browser: metrics, figures, audio)")


def _run_report(args: argparse.Namespace) -> None:
    from echoless.report import build_report

    print(f"wrote {build_report(args.results, args.out)}")


def _run_live(args: argparse.Namespace) -> None:
    from echoless.live import LiveCanceller
    from echoless.live.device import (
        check_devices, format_summary, list_devices, playback_signal, run_duplex, save_session, summarize,
    )

    if args.list_devices:
        print(list_devices())
        return
    rate = args.sample_rate
    playback = playback_signal(rate, args.duration, path=args.play, tone=args.tone)
    check_devices(rate, args.input, args.output)
    print("preparing the canceller (the first run on a machine compiles it, about 10 s)...", file=sys.stderr)
    live = LiveCanceller(sample_rate=rate)
    latency = None if args.latency == "auto" else round(args.latency * rate / 1000.0)
    recording = run_duplex(live, playback, input_device=args.input, output_device=args.output, device_latency=latency)
    report = summarize(live, recording)
    print(format_summary(report))
    print(f"wrote {', '.join(str(path) for path in save_session(args.out, recording, report))}")


_COMMANDS = {
    "cancel": _run_cancel, "batch": _run_batch, "eval": _run_eval, "demo": _run_demo, "report": _run_report,
    "live": _run_live,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``echoless`` command; return the exit status (0 ok, 2 bad input, 1 when
    ``batch`` could do none of its recordings).

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments without the program name; default ``sys.argv[1:]``.
    """
    args = build_parser().parse_args(argv)
    # warnings (clipping, no delay found) as one line each, not with a line of source
    warnings.formatwarning = lambda message, category, *_, **__: f"echoless: warning: {message}\n"
    try:
        status = _COMMANDS[args.command](args)
    except (ValueError, TypeError, OSError) as error:
        # a user error (bad file, bad option value): one line, no traceback
        print(f"echoless {args.command}: error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("echoless: interrupted", file=sys.stderr)
        return 130
    return status or 0
