"""Convolution in every flavour.

Teaching versions (:mod:`echoless.conv.teaching`) spell out the definition;
torch versions (:mod:`echoless.conv.torch_conv`, imported on first use) show
``conv1d`` and exact STFT-domain block convolution; the production paths are
:func:`convolve` (``scipy.signal.convolve`` semantics, automatic method) and
:class:`PartitionedConvolver` (streaming, one block at a time).
"""

from echoless.conv.fast import choose_conv_method, convolve, convolve_partitioned, estimate_costs
from echoless.conv.partitioned import PartitionedConvolver
from echoless.conv.teaching import (
    convolve_by_definition,
    convolve_dot_product,
    convolve_fft,
    convolve_operator_form,
    convolve_rfft,
)

_TORCH_FUNCTIONS = ("convolve_pt", "stft_domain_convolution")


def __getattr__(name: str):
    # torch is imported only when a torch function is first used.
    if name in _TORCH_FUNCTIONS:
        from echoless.conv import torch_conv

        return getattr(torch_conv, name)
    raise AttributeError(f"module 'echoless.conv' has no attribute {name!r}")


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
    *_TORCH_FUNCTIONS,
]
