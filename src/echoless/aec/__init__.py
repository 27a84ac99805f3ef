"""Echo cancellers: offline (fitted on whole signals) and streaming (frame by frame).

Offline, in the waveform domain
    :mod:`~echoless.aec.waveform_lms` (gradient descent in PyTorch) and
    :mod:`~echoless.aec.least_squares` (its exact closed-form optimum).
Offline, in the time-frequency (STFT) domain
    :mod:`~echoless.aec.tf_lms` (gradient descent in PyTorch) and
    :mod:`~echoless.aec.least_squares`.
Streaming (one protocol: ``process(mic_frame, ref_frame) -> out_frame``, ``reset()``)
    NLMS, PBFDAF, PFDKF; :func:`make_canceller` builds one by name, wrapped
    above 16 kHz in :class:`~echoless.aec.subband.BandSplitCanceller`.
    :class:`~echoless.aec.multichannel.MultichannelPFDKF` takes ``n_ref``
    loudspeakers and ``n_mic`` microphones (frames ``(frame_size, channels)``).
The front door
    :func:`cancel` runs any method of the one registry :data:`METHODS`
    (:mod:`~echoless.aec.methods`) over whole arrays; with no options it runs
    the recommended pipeline (PFDKF, input high-pass, delay search, suppressor).
    :func:`cancel_file` does the same from files to files, block by block.

Names are imported on first use, so ``import echoless.aec`` never imports torch.
"""

from __future__ import annotations

import importlib

# public name -> module (relative to echoless.aec) that defines it
_EXPORTS: dict[str, str] = {
    # offline, PyTorch (issue 4)
    "Convolution": "waveform_lms",
    "fit_waveform_lms": "waveform_lms",
    "SpectralConvolution": "tf_lms",
    "EndToEndSpectralConvolution": "tf_lms",
    "ComplexMse": "tf_lms",
    "fit_spectral_lms": "tf_lms",
    # offline, closed form (issue 4)
    "fit_waveform_ls": "least_squares",
    "fit_spectral_ls": "least_squares",
    # streaming (issue 5)
    "StreamingCanceller": "base",
    "NLMS": "nlms",
    "PBFDAF": "pbfdaf",
    "PFDKF": "pfdkf",
    "estimate_delay": "delay",
    "ResidualEchoSuppressor": "postfilter",
    # above 16 kHz: adapt on the low band, suppress the band above (issue 13)
    "BandSplitCanceller": "subband",
    # multichannel: n_ref loudspeakers, n_mic microphones (issue 13)
    "MultichannelPFDKF": "multichannel",
    "half_wave_decorrelate": "decorrelation",
    # the front door: one registry of every method (issue 11)
    "cancel": "methods",
    "make_canceller": "methods",
    "METHODS": "methods",
    "DEFAULT_METHOD": "methods",
    "STREAMING_METHODS": "methods",
    "OFFLINE_METHODS": "methods",
    # files to files in blocks (issue 14)
    "cancel_file": "files",
}


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'echoless.aec' has no attribute {name!r}")
    return getattr(importlib.import_module(f"echoless.aec.{module}"), name)


def __dir__() -> list[str]:
    return sorted(_EXPORTS)


__all__ = sorted(_EXPORTS)
