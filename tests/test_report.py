"""echoless.report on a small results folder the test writes, checked as text and in headless Chromium."""

import base64
import html.parser
import io
import json
import shutil
import subprocess

import numpy as np
import pytest
import soundfile
from matplotlib.figure import Figure

from echoless.io import write_audio
from echoless.metrics import oracle_metrics
from echoless.report import build_report

SAMPLE_RATE = 16000
METHODS = ("waveform_ls", "pbfdaf")


def _write_results(root, with_summary=True):
    """Two data sets x two methods of 0.5 s signals; returns {(method, data): near_end_estimate}."""
    rng = np.random.default_rng(0)
    rows, estimates = [], {}
    for data in ("synth", "real"):
        ref = 0.2 * rng.standard_normal(SAMPLE_RATE // 2)
        echo = 0.5 * np.convolve(ref, [0.0, 0.6, 0.3])[: len(ref)]
        near = 0.1 * np.sin(2 * np.pi * 440 * np.arange(len(ref)) / SAMPLE_RATE)
        mic = echo + near
        for k, method in enumerate(METHODS):
            estimate = near + 0.1 * (k + 1) * echo
            folder = root / f"{method}_{data}"
            write_audio(folder / "mic.wav", mic, SAMPLE_RATE)
            write_audio(folder / "ref.wav", ref, SAMPLE_RATE)
            write_audio(folder / "near_end_est.wav", estimate, SAMPLE_RATE)
            write_audio(folder / "echo_est.wav", mic - estimate, SAMPLE_RATE)
            metrics = oracle_metrics(mic, estimate, echo, near) if data == "synth" else oracle_metrics(mic, estimate)
            (folder / "metrics.json").write_text(json.dumps({**metrics, "seconds": 0.25 * (k + 1)}))
            figure = Figure(figsize=(3, 2))
            figure.subplots().plot([1.0, 0.1, 0.01])
            figure.savefig(folder / "loss.png")
            rows.append({"method": method, "data": data, "seconds": 0.25 * (k + 1), "metrics": metrics})
            estimates[method, data] = estimate
    if with_summary:
        (root / "summary.json").write_text(json.dumps({"rows": rows, "sample_rate": SAMPLE_RATE}))
        timeline = [{"start": 0.0, "end": 0.3, "label": "far_end_single_talk"},
                    {"start": 0.3, "end": 0.5, "label": "double_talk"}]
        (root / "timeline_synth.json").write_text(json.dumps(timeline))
    return estimates, rows


class _Collector(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.audio, self.images, self.cells = [], [], []
        self._in_cell = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "audio":
            self.audio.append(attrs)
        elif tag == "img":
            self.images.append(attrs)
        self._in_cell = tag in ("td", "th")

    def handle_data(self, data):
        if self._in_cell:
            self.cells.append(data.strip())
            self._in_cell = False


def _collect(text):
    collector = _Collector()
    collector.feed(text)
    return collector


def _decode_audio(uri):
    prefix = "data:audio/flac;base64,"
    assert uri.startswith(prefix)
    x, sample_rate = soundfile.read(io.BytesIO(base64.b64decode(uri[len(prefix):])), dtype="float64")
    return x, sample_rate


def test_report_embeds_players_figures_and_metrics(tmp_path):
    estimates, rows = _write_results(tmp_path)
    path = build_report(tmp_path)
    assert path == tmp_path / "report.html"
    page = _collect(path.read_text())
    # mic + ref + one estimate per method, per data set
    names = [audio["data-name"] for audio in page.audio]
    assert len(names) == 2 * (2 + len(METHODS))
    assert names.count("mic") == 2 and names.count("ref") == 2
    for method in METHODS:
        assert names.count(f"{method}: near-end estimate") == 2
    # audio decodes to the written signal at 16-bit precision
    decoded, sample_rate = _decode_audio(page.audio[2]["src"])  # first method's estimate on synth
    assert sample_rate == SAMPLE_RATE
    np.testing.assert_allclose(decoded, estimates[METHODS[0], "synth"], atol=2.0 / 2**15)
    # per data set: ERLE plot + spectrograms + one loss figure per method
    assert len(page.images) == 2 * (2 + len(METHODS))
    for image in page.images:
        assert image["src"].startswith("data:image/png;base64,")
        assert base64.b64decode(image["src"].split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    # every metric of every row is in the table, formatted
    for row in rows:
        assert f"{row['metrics']['erle_db']:.2f}" in page.cells
    assert f"{rows[0]['metrics']['snr_near_db']:.2f}" in page.cells


def test_report_without_summary_finds_the_run_folders(tmp_path):
    _write_results(tmp_path, with_summary=False)
    page = _collect(build_report(tmp_path, tmp_path / "elsewhere" / "r.html").read_text())
    assert len(page.audio) == 2 * (2 + len(METHODS))
    assert "waveform_ls" in page.cells and "pbfdaf" in page.cells


def test_report_errors_are_clear(tmp_path):
    with pytest.raises(FileNotFoundError, match="is not a folder"):
        build_report(tmp_path / "missing")
    with pytest.raises(ValueError, match="holds no results"):
        build_report(tmp_path)
    (tmp_path / "summary.json").write_text("{not json")
    with pytest.raises(ValueError, match="summary.json is not valid JSON"):
        build_report(tmp_path)


def _chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


# Plays every <audio> to its metadata and writes what the browser decoded into the DOM.
_PROBE = """<script>
for (const audio of document.querySelectorAll("audio")) {
  audio.preload = "auto";
  audio.addEventListener("loadedmetadata", () => { audio.dataset.duration = audio.duration; });
  audio.addEventListener("error", () => { audio.dataset.error = String(audio.error && audio.error.code); });
  audio.load();
}
for (const img of document.querySelectorAll("img")) {
  const mark = () => { img.dataset.width = img.naturalWidth; };
  if (img.complete) { mark(); } else { img.addEventListener("load", mark); }
}
</script></body>"""


@pytest.mark.skipif(_chromium() is None, reason="no chromium on PATH (make test installs it with apt-get when run as root)")
def test_report_in_headless_chromium(tmp_path):
    _write_results(tmp_path)
    report = build_report(tmp_path)
    probe = tmp_path / "probe.html"
    probe.write_text(report.read_text().replace("</body>", _PROBE))
    result = subprocess.run(
        [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--autoplay-policy=no-user-gesture-required",
         "--virtual-time-budget=15000", "--dump-dom", probe.as_uri()],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    page = _collect(result.stdout)
    assert len(page.audio) == 2 * (2 + len(METHODS))
    for audio in page.audio:
        assert "data-error" not in audio, f"{audio['data-name']}: media error {audio['data-error']}"
        assert float(audio["data-duration"]) == pytest.approx(0.5, abs=0.01), audio["data-name"]
    assert len(page.images) == 2 * (2 + len(METHODS))
    for image in page.images:
        assert int(image["data-width"]) > 100, image["alt"]
