"""echoless: acoustic echo cancellation and fast convolution.

A loudspeaker plays the far-end *reference* ``s``; the microphone records the
echo ``e = s * h`` plus the near-end talker ``n``: ``y = e + n``. echoless
estimates ``h`` and returns the near-end estimate ``y - s * h_hat``.

Subpackages
-----------
conv
    Convolution in every flavour: teaching versions, torch, STFT-domain, and
    the fast paths :func:`echoless.conv.convolve` and
    :class:`echoless.conv.PartitionedConvolver`.
metrics
    SNR, SI-SNR, MSE, ERLE and their oracle variants.
io
    Reading and writing mono audio files with clear errors; atomic writes.
data
    Examples and data sets: the built-in ``synth`` and ``real``, simulated
    echo scenes, the seed's and the AEC Challenge's layouts.
"""

__version__ = "0.1.0"
