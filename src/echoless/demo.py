"""The demo: the whole assignment on built-in (or the seed's) data, with a report.

:func:`run_demo` runs :func:`echoless.experiment.run_seed_experiment` (every
offline method of the assignment: waveform and time-frequency LMS by gradient
descent, and their exact least-squares optima) on the built-in ``synth`` and
``real`` examples (:func:`echoless.data.default_dataset`) or on the seed's
``homework_2/`` recordings (downloaded into the cache on first use with
``data_root="seed"``), adds the streaming cancellers for comparison
(same results layout, rows appended to ``summary.json``), writes the scene
timeline of each example that has one (``timeline_<data>.json``), and builds
``report.html``.
"""

from __future__ import annotations

import os
import pathlib
from collections.abc import Sequence

from echoless._validation import check_positive_int
from echoless.aec.methods import STREAMING_METHODS
from echoless.evaluation import timed_cancel

# Adam steps per gradient-descent fit. Measured: the whole demo (2 x 20 s of
# audio, 5 offline methods + PBFDAF, report) took 2 min 5 s on a shared 2-core
# machine with this value (PFDKF, added later, costs ~0.3 s per data set); the seed used 1500.
DEMO_STEPS = 300
# echo-path length of every method, in seconds (the seed's 4000 taps at 16 kHz)
KERNEL_SECONDS = 0.25


def run_demo(
    out_dir: str | os.PathLike,
    data_root: str | os.PathLike | None = None,
    *,
    n_steps: int = DEMO_STEPS,
    streaming: Sequence[str] = ("pbfdaf", "pfdkf"),
    progress: bool = True,
) -> tuple[pathlib.Path, dict]:
    """Run the assignment end to end and write the results and ``report.html``.

    Parameters
    ----------
    out_dir : path-like
        Results folder (created if needed; see ``RESULTS_LAYOUT``).
    data_root : path-like or "seed", optional
        Folder holding the seed's ``homework_2/{real,synth}``, or ``"seed"``:
        the assignment's recordings, downloaded on first use into the cache
        (:func:`echoless.data.seed.download_seed_dataset`). Default: the
        built-in data, no download.
    n_steps : int
        Adam steps of each gradient-descent fit.
    streaming : sequence of str
        Streaming cancellers run after the offline ones.
    progress : bool
        Progress bars on stderr (quiet when stderr is not a terminal).

    Returns
    -------
    report : pathlib.Path
        The report's path.
    summary : dict
        The content of ``summary.json`` (``rows`` of method, data, seconds, metrics).

    Raises
    ------
    ConnectionError
        If ``data_root="seed"`` is not cached yet and the download fails.
    """
    from echoless.data import default_dataset, load_seed_dataset
    from echoless.data.seed import seed_or_path

    n_steps = check_positive_int(n_steps, "n_steps")
    unknown = [method for method in streaming if method not in STREAMING_METHODS]
    if unknown:
        raise ValueError(f"unknown streaming method(s) {unknown}: expected some of {STREAMING_METHODS}")
    dataset = default_dataset() if data_root is None else load_seed_dataset(seed_or_path(data_root, progress=progress))
    # imported once the data is there, so a failed download is reported before torch loads
    from echoless.experiment import example_timeline, run_seed_experiment, save_run, write_json
    from echoless.report import build_report

    out = pathlib.Path(out_dir)
    summary = run_seed_experiment(dataset, out, n_steps=n_steps, kernel_seconds=KERNEL_SECONDS, progress=progress)
    for data, example in dataset.items():
        # the scene's timeline (who talks when) lets the report shade its ERLE-over-time plot
        timeline = example_timeline(example)
        if timeline:
            write_json(out / f"timeline_{data}.json", timeline)
        for method in streaming:
            result = timed_cancel(example.mic, example.ref, method, example.sample_rate, filter_ms=1000 * KERNEL_SECONDS)
            metrics = save_run(
                out / f"{method}_{data}", example.mic, example.ref, result.near_end_estimate,
                example.sample_rate, result.seconds, example.echo, example.near_end, timeline,
            )
            summary["rows"].append({"method": method, "data": data, "seconds": result.seconds, "metrics": metrics})
    write_json(out / "summary.json", summary)
    return build_report(out), summary
