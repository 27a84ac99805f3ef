r"""What every offline echo-canceller fit shares: input checks, the Adam loop, log rows.

The seed fits an echo path :math:`\hat h` by gradient descent (Adam) on the
mean squared error between the microphone and the predicted echo, and logs
at every step how close the prediction is to the truth. Both the waveform
fit (:mod:`echoless.aec.waveform_lms`) and the time-frequency fit
(:mod:`echoless.aec.tf_lms`) run :func:`run_adam`; only the model and the loss
differ.

Log rows use the seed's keys (linear MSEs, SNRs in dB):

``loss``
    the objective being minimised, at the parameters *before* the step;
``loss_oracle``
    the same objective with the true echo in place of the microphone
    (when the echo is unknown the seed compares with the microphone, so
    ``loss_oracle == loss`` there);
``mse``, ``mse_oracle``
    waveform MSE of the echo estimate against the microphone / the oracle target;
``snr_echo``
    SNR of the echo estimate against the oracle target;
``snr_near``
    SNR of the near-end estimate ``mic - echo_estimate`` against the true near
    end, NaN when the near end is unknown;
``lr``
    the learning rate used by the step.

The per-step metrics are computed in torch on the prediction the step already
made: converting 20 s of audio to numpy at every step would cost as much as
the step itself. The final metrics of a run come from :mod:`echoless.metrics`.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from echoless._validation import as_signal, check_positive_float, check_positive_int, check_same_length


def check_offline_inputs(
    mic: Any, ref: Any, echo: Any = None, near_end: Any = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Validate the signals of an offline fit: finite, 1-D, mono, all of one length.

    Returns
    -------
    mic, ref, echo, near_end : numpy.ndarray, shape (T,), float64 (``None`` stays ``None``)
    """
    mic, ref = as_signal(mic, "mic"), as_signal(ref, "ref")
    check_same_length(mic, ref, "mic", "ref")
    checked = []
    for value, name in ((echo, "echo"), (near_end, "near_end")):
        if value is not None:
            value = as_signal(value, name)
            check_same_length(mic, value, "mic", name)
        checked.append(value)
    return mic, ref, checked[0], checked[1]


def check_gd_options(n_steps: Any, lr: Any) -> tuple[int, float]:
    """Validate the number of Adam steps and the learning rate."""
    return check_positive_int(n_steps, "n_steps"), check_positive_float(lr, "lr")


class WaveformLogger:
    """Per-step waveform metrics of an echo estimate, in torch (see the module docstring).

    Parameters
    ----------
    mic, echo, near_end : numpy.ndarray, shape (T,)
        ``echo`` and ``near_end`` may be ``None``; a missing echo is replaced
        by the microphone, as in the seed.
    dtype : torch.dtype
        Dtype of the predictions that will be passed in.
    """

    def __init__(self, mic: np.ndarray, echo: np.ndarray | None, near_end: np.ndarray | None, dtype: torch.dtype):
        self.mic = torch.as_tensor(mic, dtype=dtype)
        self.oracle = self.mic if echo is None else torch.as_tensor(echo, dtype=dtype)
        self.near_end = None if near_end is None else torch.as_tensor(near_end, dtype=dtype)
        self._oracle_energy = float(np.sum((mic if echo is None else echo) ** 2))
        self._near_energy = None if near_end is None else float(np.sum(near_end**2))

    @staticmethod
    def _snr_db(energy: float, error_energy: float) -> float:
        if error_energy == 0.0:
            return math.inf
        return 10.0 * math.log10(energy / error_energy) if energy > 0 else -math.inf

    @torch.no_grad()
    def __call__(self, echo_estimate: torch.Tensor) -> dict[str, float]:
        """``mse``, ``mse_oracle``, ``snr_echo``, ``snr_near`` of a 1-D echo estimate."""
        n = echo_estimate.shape[-1]
        # float32 sums are accurate enough here: torch sums in cascades, not one running total
        mse = float((self.mic - echo_estimate).square().sum()) / n
        oracle_error = float((self.oracle - echo_estimate).square().sum())
        snr_near = math.nan
        if self.near_end is not None:
            near_error = float((self.near_end - (self.mic - echo_estimate)).square().sum())
            snr_near = self._snr_db(self._near_energy, near_error)
        return {
            "mse": mse,
            "mse_oracle": oracle_error / n,
            "snr_echo": self._snr_db(self._oracle_energy, oracle_error),
            "snr_near": snr_near,
        }


def run_adam(
    model: torch.nn.Module,
    step: Callable[[], tuple[torch.Tensor, dict[str, float]]],
    *,
    n_steps: int,
    lr: float,
    progress: bool,
    desc: str,
) -> list[dict[str, float]]:
    """Minimise ``step()``'s loss with Adam; keep and restore the best-loss parameters.

    Parameters
    ----------
    model : torch.nn.Module
        Its parameters are optimised in place; on return they hold the
        snapshot with the lowest loss seen.
    step : callable
        Computes ``(loss, values)`` at the current parameters: the scalar loss
        to differentiate and the other log values of this step (floats).
    n_steps : int
        Number of Adam steps.
    lr : float
        Adam learning rate.
    progress : bool
        Show a tqdm progress bar (``disable=None`` keeps non-TTY output quiet).
    desc : str
        Progress-bar label.

    Returns
    -------
    list of dict
        One row per step: ``loss``, then ``values``, then ``lr``.
    """
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    best_loss, best_state = math.inf, copy.deepcopy(model.state_dict())
    logs: list[dict[str, float]] = []
    bar = tqdm(range(n_steps), desc=desc, disable=None if progress else True, leave=False)
    for _ in bar:
        optimizer.zero_grad(set_to_none=True)
        loss, values = step()
        loss_value = float(loss.detach())
        if not math.isfinite(loss_value):
            raise FloatingPointError(f"{desc}: the loss became {loss_value}; lower lr (now {lr})")
        if loss_value < best_loss:  # these are the parameters that produced this loss
            best_loss, best_state = loss_value, copy.deepcopy(model.state_dict())
        logs.append({"loss": loss_value, **values, "lr": optimizer.param_groups[0]["lr"]})
        loss.backward()
        optimizer.step()
        bar.set_postfix(loss=f"{loss_value:.3e}", refresh=False)
    model.load_state_dict(best_state)
    return logs
