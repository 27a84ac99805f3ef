"""echoless.evaluation: methods by name, and the tables."""

import csv

import numpy as np
import pytest

from echoless.aec.methods import METHODS
from echoless.evaluation import format_markdown, timed_cancel as cancel_echo, write_tables


def _pair(n=8000, seed=0):
    rng = np.random.default_rng(seed)
    ref = rng.standard_normal(n)
    echo = np.convolve(ref, [0.0, 0.5, -0.25, 0.1])[:n]
    return echo, ref


@pytest.mark.parametrize("method", METHODS)
def test_every_method_returns_a_near_end_estimate_of_the_input_length(method):
    mic, ref = _pair()
    options = {"filter_ms": 2.0} if METHODS[method].streaming else {"filter_ms": 2.0, "n_steps": 3}
    result = cancel_echo(mic, ref, method, **options)
    assert result.near_end_estimate.shape == mic.shape
    np.testing.assert_allclose(result.near_end_estimate + result.echo_estimate, mic, atol=1e-12)
    assert result.seconds > 0 and result.real_time_factor > 0


def test_least_squares_removes_a_noise_free_echo():
    mic, ref = _pair()
    result = cancel_echo(mic, ref, "waveform_ls", filter_ms=1.0)  # 16 taps >= the 4-tap path
    assert np.sum(result.near_end_estimate**2) < 1e-16 * np.sum(mic**2)


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"method": "speex"}, "unknown method"),
        ({"method": "waveform_ls", "delay": "auto"}, "streaming"),
        ({"method": "spectral_ls", "postfilter": 1.0}, "streaming"),
        ({"delay": -1}, "delay"),
        ({"filter_ms": 0.0}, "filter_ms"),
        ({"n_steps": 0}, "n_steps"),
    ],
)
def test_bad_options_raise_naming_the_argument(options, match):
    mic, ref = _pair(1000)
    with pytest.raises((ValueError, TypeError), match=match):
        cancel_echo(mic, ref, **options)
    with pytest.raises(ValueError, match="same length"):
        cancel_echo(mic, ref[:-1])


def test_tables(tmp_path):
    rows = [
        {"example": "a", "method": "nlms", "erle_db": 12.345, "mse": 1.5e-5},
        {"example": "b", "method": "pbfdaf", "erle_db": float("inf"), "snr_near_db": 3.0},
    ]
    text = format_markdown(rows)
    assert text.splitlines()[0] == "| example | method | erle_db | mse | snr_near_db |"
    assert "| a | nlms | 12.35 | 1.5e-05 | – |" in text
    csv_path, md_path = write_tables(rows, tmp_path / "sub" / "table")
    assert md_path.read_text() == text
    with csv_path.open() as handle:
        read = list(csv.DictReader(handle))
    assert float(read[0]["erle_db"]) == 12.345 and read[0]["snr_near_db"] == ""
    with pytest.raises(ValueError, match="rows must not be empty"):
        format_markdown([])


def test_write_tables_keeps_a_dotted_stem(tmp_path):
    rows = [{"example": "a", "method": "nlms", "erle_db": 1.0}]
    csv_path, md_path = write_tables(rows, tmp_path / "run.v2")
    assert (csv_path.name, md_path.name) == ("run.v2.csv", "run.v2.md")
    assert csv_path.exists() and md_path.exists()
