"""The ``echoless`` command line: parse, call the library, print.

Subcommands: ``cancel`` (one recording), ``eval`` (scene folders), ``demo``
(the whole assignment on built-in data, with a report), ``report`` and
``live`` (real time, on the sound card).
Errors in the input end with a one-line message on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import pathlib
import sys
from collections.abc import Sequence

import echoless
from echoless.demo import DEMO_STEPS
from echoless.aec.methods import DEFAULT_METHOD, METHODS, OFFLINE_METHODS, STREAMING_METHODS

EXIT_BAD_INPUT = 2

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
  echoless cancel mic.wav ref.wav -o near.wav --method waveform_ls --echo-out echo.wav
      exact least-squares echo path fitted on the whole file; also writes the echo
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


def _add_canceller_options(parser: argparse.ArgumentParser) -> None:
    # None = the library's default, so the CLI and echoless.aec.cancel() run the same pipeline
    parser.add_argument("--filter-ms", type=float, metavar="MS",
                        help="echo-path length to model, in ms (default: 250)")
    parser.add_argument("--delay", type=_delay, metavar="auto|MS",
                        help="bulk delay of the reference: 'auto' (GCC-PHAT search) or milliseconds; "
                        "streaming methods only (default: auto)")
    parser.add_argument("--postfilter", type=float, metavar="STRENGTH",
                        help="residual-echo suppressor strength, 0 = off; more removes more echo and more near end; "
                        "streaming methods only (default: the canceller's, 2)")
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
        "Both inputs must be mono, of the same length, at --sample-rate (or use --resample).",
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
                        help="channel (from 0) to take from a multichannel MIC (default: MIC must be mono)")
    cancel.add_argument("--ref-channel", type=int, metavar="N",
                        help="channel (from 0) to take from a multichannel REF (default: REF must be mono)")
    cancel.add_argument("--float", action="store_true", dest="float_output",
                        help="write 32-bit float WAV (no rounding, no clipping) instead of 16-bit PCM")
    _add_canceller_options(cancel)

    evaluate = commands.add_parser(
        "eval", help="compare methods on saved scenes",
        description="Run methods on scene folders (mic.wav, ref.wav[, near.wav, echo.wav, meta.json], "
        "as echoless.data.save_scene writes), folders of them, or an ICASSP AEC-Challenge synthetic "
        "folder; print a table and write it as CSV and markdown. Oracle metrics appear when the "
        "true near end / echo is known.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    evaluate.add_argument("folders", nargs="+", metavar="DIR",
                          help="scene or AEC-Challenge folder, or 'seed': the assignment's recordings, "
                          "downloaded into the cache on first use ($ECHOLESS_DATA_DIR, else ~/.cache/echoless)")
    evaluate.add_argument("--methods", type=_method_list, default=list(STREAMING_METHODS), metavar="M1,M2",
                          help=f"comma-separated methods (default: {','.join(STREAMING_METHODS)})")
    evaluate.add_argument("-o", "--out", type=pathlib.Path, default=pathlib.Path("echoless_eval"), metavar="STEM",
                          help="write STEM.csv and STEM.md (default: %(default)s)")
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
    options = {"filter_ms": args.filter_ms, "postfilter": args.postfilter, "n_steps": args.steps}
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


def _run_cancel(args: argparse.Namespace) -> None:
    from echoless.evaluation import timed_cancel
    from echoless.io import check_output_format, read_audio, write_audio
    from echoless.talk import far_end_erle

    _check_distinct_paths(args)
    subtype = "FLOAT" if args.float_output else "PCM_16"
    for path in (args.out, args.echo_out):  # refuse an unwritable output before the work, not after
        if path is not None:
            check_output_format(path, subtype)
    mic = read_audio(args.mic, args.sample_rate, resample=args.resample, channel=args.mic_channel)
    ref = read_audio(args.ref, args.sample_rate, resample=args.resample, channel=args.ref_channel)
    if len(mic) != len(ref):
        raise ValueError(f"{args.mic} and {args.ref} must have the same length, got {len(mic)} and {len(ref)} samples")
    options = _options(args, args.sample_rate)
    if args.method in OFFLINE_METHODS:
        options["progress"] = True
    result = timed_cancel(mic, ref, args.method, args.sample_rate, **options)
    write_audio(args.out, result.near_end_estimate, args.sample_rate, subtype=subtype)
    if args.echo_out is not None:
        write_audio(args.echo_out, result.echo_estimate, args.sample_rate, subtype=subtype)
    measured = far_end_erle(mic, result.near_end_estimate, ref, args.sample_rate)
    if measured.seconds > 0:
        print(f"{args.method}: ERLE {measured.erle_db:.2f} dB where the far end talks alone "
              f"({measured.seconds:.1f} of {len(mic) / args.sample_rate:.1f} s, detected from REF and MIC)")
    else:
        print(f"{args.method}: ERLE not measured: no stretch where the far end talks alone was found")
    print(f"time {result.seconds:.3f} s, {result.real_time_factor:.0f}x real time")
    print(f"wrote {args.out}" + (f" and {args.echo_out}" if args.echo_out is not None else ""))


def _run_eval(args: argparse.Namespace) -> None:
    from echoless.data.seed import seed_or_path
    from echoless.evaluation import evaluate, format_markdown, load_examples, write_tables

    examples = load_examples(seed_or_path(folder) for folder in args.folders)
    rates = {example.sample_rate for example in examples}
    if len(rates) != 1:
        raise ValueError(f"the examples have different sample rates {sorted(rates)}; evaluate them separately")
    rows = evaluate(examples, args.methods, progress=True, **_options(args, rates.pop()))
    print(format_markdown(rows), end="")
    csv_path, md_path = write_tables(rows, args.out)
    print(f"wrote {csv_path} and {md_path}")


def _run_demo(args: argparse.Namespace) -> None:
    from echoless.demo import run_demo

    from echoless.evaluation import format_markdown

    report, summary = run_demo(args.out, data_root=args.data, n_steps=args.steps, progress=True)
    shown = ("erle_db", "erle_oracle_db", "snr_near_db")
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


_COMMANDS = {"cancel": _run_cancel, "eval": _run_eval, "demo": _run_demo, "report": _run_report, "live": _run_live}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``echoless`` command; return the exit status (0 ok, 2 bad input).

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments without the program name; default ``sys.argv[1:]``.
    """
    args = build_parser().parse_args(argv)
    try:
        _COMMANDS[args.command](args)
    except (ValueError, TypeError, OSError) as error:
        # a user error (bad file, bad option value): one line, no traceback
        print(f"echoless {args.command}: error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("echoless: interrupted", file=sys.stderr)
        return 130
    return 0
