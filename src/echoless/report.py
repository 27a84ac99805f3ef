"""A self-contained HTML report of a results folder.

The folder has the layout :func:`echoless.experiment.run_seed_experiment` and
``echoless demo`` write (``summary.json``, ``<method>_<data>/`` with
``near_end_est.wav``, ``mic.wav``, ``ref.wav``, ``metrics.json`` and optional
``loss.png`` / ``impulse_response.png``, ``comparison_<data>.png``, and
optionally ``timeline_<data>.json``, the scene's talk segments).
:func:`build_report` reads it and writes ``report.html`` with everything
embedded as ``data:`` URIs (PNG figures, FLAC audio), so the one file can be
mailed or opened offline:

* a metrics table per data set (one row per method);
* the saved figures (comparison, loss curves, impulse responses);
* new figures computed from the audio: segmental ERLE of every method and
  spectrograms of mic, reference and every near-end estimate;
* ``<audio>`` players for mic, reference and every near-end estimate.
"""

from __future__ import annotations

import base64
import datetime
import html
import io
import json
import pathlib
from dataclasses import dataclass, field

import numpy as np
import soundfile

import echoless
from echoless.io import read_audio
from echoless.plots import plot_erle_over_time, plot_spectrograms

REPORT_NAME = "report.html"

# metric key -> (column title, format); the keys of echoless.evaluation.blind_metrics and
# echoless.metrics.oracle_metrics, plus "seconds"
COLUMNS = {
    "seconds": ("time (s)", "{:.2f}"),
    "erle_far_end_db": ("ERLE where the far end talks alone (dB)", "{:.2f}"),
    "aecmos_echo": ("AECMOS echo", "{:.2f}"),
    "aecmos_other": ("AECMOS other", "{:.2f}"),
    "erle_db": ("ERLE, whole file (dB)", "{:.2f}"),
    "erle_oracle_db": ("oracle ERLE (dB)", "{:.2f}"),
    "snr_near_db": ("near-end SNR (dB)", "{:.2f}"),
    "si_snr_near_db": ("near-end SI-SNR (dB)", "{:.2f}"),
    "snr_echo_db": ("echo SNR (dB)", "{:.2f}"),
    "mse": ("MSE", "{:.3e}"),
    "mse_oracle": ("oracle MSE", "{:.3e}"),
}


@dataclass
class _Run:
    """One ``<method>_<data>/`` folder."""

    method: str
    data: str
    folder: pathlib.Path
    metrics: dict = field(default_factory=dict)


def _load_json(path: pathlib.Path) -> dict:
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not valid JSON ({error})") from None


def _find_runs(results_dir: pathlib.Path) -> list[_Run]:
    """The runs of ``summary.json`` (in its order), else every folder with a near-end estimate."""
    summary_path = results_dir / "summary.json"
    runs = []
    if summary_path.exists():
        for row in _load_json(summary_path).get("rows", []):
            metrics = dict(row.get("metrics", {}))
            if "seconds" in row:
                metrics["seconds"] = row["seconds"]
            folder = results_dir / f"{row['method']}_{row['data']}"
            runs.append(_Run(row["method"], row["data"], folder, metrics))
        return runs
    for folder in sorted(path for path in results_dir.iterdir() if (path / "near_end_est.wav").exists()):
        method, _, data = folder.name.rpartition("_")
        metrics_path = folder / "metrics.json"
        metrics = _load_json(metrics_path) if metrics_path.exists() else {}
        runs.append(_Run(method or folder.name, data if method else "", folder, metrics))
    return runs


def _png_uri(figure_or_path) -> str:
    if isinstance(figure_or_path, pathlib.Path):
        payload = figure_or_path.read_bytes()
    else:
        buffer = io.BytesIO()
        figure_or_path.savefig(buffer, format="png", dpi=90)
        payload = buffer.getvalue()
    return "data:image/png;base64," + base64.b64encode(payload).decode("ascii")


def _audio_uri(x: np.ndarray, sample_rate: int) -> str:
    # 16-bit FLAC: lossless at CD depth and about a quarter of a float WAV, which
    # keeps a report of a dozen 20-second signals to a few MB
    buffer = io.BytesIO()
    soundfile.write(buffer, np.clip(x, -1.0, 1.0), sample_rate, format="FLAC", subtype="PCM_16")
    return "data:audio/flac;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _image(uri: str, caption: str) -> str:
    caption = html.escape(caption)
    return f'<figure><img src="{uri}" alt="{caption}"><figcaption>{caption}</figcaption></figure>'


def _player(name: str, x: np.ndarray, sample_rate: int) -> str:
    peak = float(np.max(np.abs(x)))
    note = f" (peak {peak:.2f}: clipped to ±1 for listening)" if peak > 1.0 else ""
    return (
        f'<div class="player"><span>{html.escape(name)}{note}</span>'
        f'<audio controls preload="none" data-name="{html.escape(name)}" src="{_audio_uri(x, sample_rate)}"></audio></div>'
    )


def _metrics_table(runs: list[_Run]) -> str:
    keys = [key for key in COLUMNS if any(key in run.metrics for run in runs)]
    head = "".join(f"<th>{html.escape(COLUMNS[key][0])}</th>" for key in keys)
    rows = []
    for run in runs:
        cells = []
        for key in keys:
            value = run.metrics.get(key)
            text = "–" if value is None else COLUMNS[key][1].format(float(value))
            cells.append(f"<td>{text}</td>")
        rows.append(f"<tr><th>{html.escape(run.method)}</th>{''.join(cells)}</tr>")
    return f'<table><thead><tr><th>method</th>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def _data_section(results_dir: pathlib.Path, data: str, runs: list[_Run], sample_rate: int) -> str:
    parts = [f'<section id="data-{html.escape(data)}"><h2>data: {html.escape(data)}</h2>', _metrics_table(runs)]
    comparison = results_dir / f"comparison_{data}.png"
    if comparison.exists():
        parts.append(_image(_png_uri(comparison), f"{data}: waveform vs time-frequency LMS"))

    present = [run for run in runs if (run.folder / "near_end_est.wav").exists()]
    if present:
        first = present[0].folder
        # these are results the experiment wrote, not inputs: a re-run may overwrite them
        mic = read_audio(first / "mic.wav", sample_rate, protect=False)
        ref = read_audio(first / "ref.wav", sample_rate, protect=False)
        outputs = {
            run.method: read_audio(run.folder / "near_end_est.wav", sample_rate, protect=False) for run in present
        }
        parts.append("<h3>listen</h3>")
        parts.append(_player("mic", mic, sample_rate) + _player("ref", ref, sample_rate))
        parts.extend(_player(f"{method}: near-end estimate", x, sample_rate) for method, x in outputs.items())
        timeline_path = results_dir / f"timeline_{data}.json"
        timeline = _load_json(timeline_path) if timeline_path.exists() else None
        parts.append("<h3>echo removal over time</h3>")
        figure = plot_erle_over_time(mic, outputs, sample_rate, timeline=timeline)
        parts.append(_image(_png_uri(figure), f"{data}: segmental ERLE"))
        parts.append("<h3>spectrograms</h3>")
        panels = {"mic": mic, "ref": ref, **{f"{method} (near-end estimate)": x for method, x in outputs.items()}}
        parts.append(_image(_png_uri(plot_spectrograms(panels, sample_rate)), f"{data}: spectrograms"))

    figures = []
    for run in runs:
        for name, what in (("loss.png", "loss curves"), ("impulse_response.png", "impulse response")):
            if (run.folder / name).exists():
                figures.append(_image(_png_uri(run.folder / name), f"{run.method} on {data}: {what}"))
    if figures:
        parts.append(f'<h3>per-method figures</h3><div class="grid">{"".join(figures)}</div>')
    parts.append("</section>")
    return "\n".join(parts)


_STYLE = """
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:0.9em}
th,td{border:1px solid #ccc;padding:0.3em 0.6em;text-align:right;white-space:nowrap}
thead th{background:#f3f3f3;white-space:normal}
tbody th{text-align:left;font-weight:600}
figure{margin:1em 0} img{max-width:100%} figcaption{font-size:0.85em;color:#555}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(480px,1fr));gap:0.5em}
.player{display:flex;align-items:center;gap:1em;margin:0.3em 0}
.player span{min-width:22em;font-size:0.9em}
"""


def build_report(results_dir: str | pathlib.Path, output: str | pathlib.Path | None = None) -> pathlib.Path:
    """Write a self-contained HTML report of a results folder.

    Parameters
    ----------
    results_dir : str or pathlib.Path
        Folder in the results layout (see the module docstring).
    output : str or pathlib.Path, optional
        Where to write the report; default ``results_dir / "report.html"``.

    Returns
    -------
    pathlib.Path
        The report's path.

    Raises
    ------
    FileNotFoundError
        If ``results_dir`` does not exist.
    ValueError
        If it holds no run (neither ``summary.json`` rows nor a folder with a
        ``near_end_est.wav``), or a JSON file is malformed.
    """
    results_dir = pathlib.Path(results_dir)
    if not results_dir.is_dir():
        raise FileNotFoundError(f"results_dir {str(results_dir)!r} is not a folder")
    runs = _find_runs(results_dir)
    if not runs:
        raise ValueError(
            f"results_dir {str(results_dir)!r} holds no results: expected summary.json "
            "or <method>_<data>/near_end_est.wav folders"
        )
    summary_path = results_dir / "summary.json"
    sample_rate = int(_load_json(summary_path).get("sample_rate", 16000)) if summary_path.exists() else 16000

    by_data: dict[str, list[_Run]] = {}
    for run in runs:
        by_data.setdefault(run.data, []).append(run)
    sections = [_data_section(results_dir, data, data_runs, sample_rate) for data, data_runs in by_data.items()]
    toc = " · ".join(f'<a href="#data-{html.escape(data)}">{html.escape(data)}</a>' for data in by_data)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    page = (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>echoless report: {html.escape(results_dir.name)}</title><style>{_STYLE}</style></head><body>"
        f"<h1>echoless report</h1><p>Results in <code>{html.escape(str(results_dir))}</code>, "
        f"built {stamp} by echoless {echoless.__version__}. Data: {toc}.</p>"
        "<p>ERLE (mic over output energy) counts echo removal only where the mic holds echo alone: "
        "the first column measures it where the far end talks alone (from the timeline where one is "
        "known, else detected from the reference and the mic); the whole-file ERLE mostly measures the "
        "near-end talker that a good canceller keeps. AECMOS (1 to 5, the AEC Challenge's model) "
        "predicts how much echo and how much other degradation a listener hears. Oracle metrics "
        "compare with the true echo and near end, which only synthetic data has.</p>"
        + "\n".join(sections)
        + "</body></html>\n"
    )
    path = pathlib.Path(output) if output is not None else results_dir / REPORT_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(page, encoding="utf-8")
    temporary.replace(path)  # atomic: a reader never sees half a report
    return path
