"""Figures render headless, save PNGs, and show what they are given."""

import numpy as np

from echoless.plots import plot_impulse_response, plot_loss_curves, plot_seed_comparison

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_loss_curves_log_scale_with_oracle_and_optimum(tmp_path):
    path = tmp_path / "loss.png"
    figure = plot_loss_curves([1.0, 0.1, 0.0, 0.01], [0.5, 0.05, 0.01, 0.001], optimum=0.005, path=path)
    axes = figure.axes[0]
    assert axes.get_yscale() == "log"
    assert len(axes.lines) == 3  # loss, oracle, optimum
    assert np.isnan(axes.lines[0].get_ydata()[2])  # a zero loss is a gap on a log axis, not an error
    assert path.read_bytes()[:8] == PNG_SIGNATURE


def test_impulse_response_in_milliseconds(tmp_path):
    figure = plot_impulse_response(np.ones(160), 16000, true=np.ones(320), path=tmp_path / "ir.png")
    lines = figure.axes[0].lines
    assert len(lines) == 2
    assert lines[1].get_xdata()[-1] == 159 / 16  # ms
    assert (tmp_path / "ir.png").read_bytes()[:8] == PNG_SIGNATURE


def test_seed_comparison_three_panels_and_unknown_near_end(tmp_path):
    curves = {
        "waveform": {"mse": [1.0, 0.5], "mse_oracle": [0.5, 0.2], "snr_near": [np.nan, np.nan]},
        "spectral": {"mse": [1.0, 0.6], "mse_oracle": [0.5, 0.3], "snr_near": [np.nan, np.nan]},
    }
    figure = plot_seed_comparison(curves, optima={"ls": {"mse": 0.4}}, echo_known=False, path=tmp_path / "c.png")
    assert len(figure.axes) == 3
    assert len(figure.axes[0].lines) == 3  # two curves and the optimum
    assert [text.get_text() for text in figure.axes[2].texts] == ["unknown on this data"]
    assert figure.axes[1].get_title() == "MSE vs mic (true echo unknown)"
    assert (tmp_path / "c.png").read_bytes()[:8] == PNG_SIGNATURE
