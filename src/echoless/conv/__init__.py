"""Convolution in every flavour.

Teaching versions (:mod:`echoless.conv.teaching`) spell out the definition;
torch versions (:mod:`echoless.conv.torch_conv`, imported on first use) show
``conv1d`` and exact STFT-domain block convolution; the production paths are
:func:`convolve` (``scipy.signal.convolve`` semantics, automatic method) and
:class:`PartitionedConvolver` (streaming, one block at a time).
"""

import importlib

from echoless.conv.fast import choose_conv_method, convolve, convolve_partitioned, estimate_costs
from echoless.conv.teaching import (
    convolve_by_definition,
    convolve_dot_product,
    convolve_fft,
    convolve_operator_form,
    convolve_rfft,
)

# imported on first use: torch (about 2 s) and numba (about 0.5 s, for the compiled streaming
# kernel) are costs only their users should pay
_LAZY = {
    "PartitionedConvolver": "partitioned",
    "convolve_pt": "torch_conv",
    "stft_domain_convolution": "torch_conv",
}


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'echoless.conv' has no attribute {name!r}")
    return getattr(importlib.import_module(f"echoless.conv.{module}"), name)


__all__ = [
    "PartitionedConvolver",
    "choose_conv_method",
    "convolve",
    "convolve_by_definition",
    "convolve_dot_product",
    "convolve_fft",
    "convolve_operator_form",
    "convolve_partitioned",
    "convolve_rfft",
    "estimate_costs",
    "convolve_pt",
    "stft_domain_convolution",
]
