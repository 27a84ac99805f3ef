r"""Residual-echo suppressor: a spectral Wiener-type gain driven by the linear echo estimate.

A linear canceller leaves residual echo: while it converges, after an
echo-path change, from a loudspeaker nonlinearity or a reverberation tail
longer than the filter. The residual is still *correlated* with the linear
echo estimate :math:`\hat e`, while the near end is not. In the short-time
spectrum (window ``2 * frame_size``, hop ``frame_size``, square-root Hann
analysis and synthesis), with recursively smoothed auto- and cross-spectra
:math:`\Phi_{oo}, \Phi_{\hat e\hat e}, \Phi_{o\hat e}` of the canceller output
:math:`o` and of :math:`\hat e`, the residual echo power in bin ``k`` is the
power of :math:`o` that :math:`\hat e` predicts linearly,

.. math:: \hat\Phi_{rr}(k) = \frac{|\Phi_{o\hat e}(k)|^2}{\Phi_{\hat e\hat e}(k)}
          = \gamma^2(k)\, \Phi_{oo}(k),

:math:`\gamma^2` being the magnitude-squared coherence. Estimated from about
ten frames, the coherence of *unrelated* signals is biased upwards (its mean
is :math:`(1-a)/(1+a) \approx 0.05` for forgetting factor :math:`a = 0.9`,
with a long tail): taken at face value it attenuates the near end in double
talk by a few dB for no echo removed. So only the part above a detection
threshold :math:`\gamma_0^2 = 0.3` counts (for stationary unrelated signals,
about 19 effective averages, it is exceeded with probability
:math:`0.7^{18} \approx 0.2\,\%`):

.. math:: c(k) = \max\Big(0,\ \frac{\gamma^2(k) - \gamma_0^2}{1 - \gamma_0^2}\Big),
          \qquad G(k) = \max\big(G_{\min},\ 1 - \beta\,\min(c(k), 1)\big),
          \qquad G_{\min} = 10^{-\beta \cdot 30 / 20},

with ``strength`` :math:`\beta` the one knob (1: Wiener gain, floor -30 dB).
A canceller that knows its own residual-echo spectrum (the Kalman filter:
:math:`\tfrac{R}{M}\sum_p \Phi_p |X_p|^2`, from its state uncertainty and the
current reference spectra) passes it in, and :math:`c` becomes
:math:`\max(c, \hat\Phi_{rr}^{\text{model}} / \Phi_{oo})`: large while the
filter is still uncertain (the first seconds, after a path change), small
once it has converged, so double talk is spared; zero once the reference has
been silent for a filter length, so a lone near-end talker passes unchanged.

Leakage: residual echo the coherence misses
-------------------------------------------
A small loudspeaker driven hard adds harmonics and intermodulation that no
linear filter models, and a filter still converging leaves a misadjustment
that changes faster than the coherence can follow: residual echo that is
not (or no longer) coherent with :math:`\hat e`, so the coherence above
misses it. Its *power*, though, follows the echo's: it comes and goes with
the syllables the loudspeaker plays. So each bin's output power is
regressed on the same bin's echo-estimate power (recursive least squares on
exponentially weighted moments, forgetting factor
:data:`LEAKAGE_SMOOTHING`), and the fitted part is the leakage estimate:

.. math:: \lambda(k) = \frac{\operatorname{cov}\big(\Phi_{oo}(k), \Phi_{\hat e\hat e}(k)\big)}
          {\operatorname{var}\big(\Phi_{\hat e\hat e}(k)\big)},
          \qquad \hat\Phi^{\lambda}_{rr}(k) = \lambda(k)\,\Phi_{\hat e\hat e}(k),

and :math:`c` becomes :math:`\max(c, \mu\,\hat\Phi^{\lambda}_{rr} / \Phi_{oo})`,
with the overestimate :math:`\mu` = :data:`LEAKAGE_OVERESTIMATE` (8) where
the far end is shown to talk alone and :data:`LEAKAGE_OVERESTIMATE_NEAR_END`
(1) elsewhere (see the near-end detector below). Noise and the near end are uncorrelated with the
echo's power and drop out of the covariance. As with the coherence, only
evidence above chance counts: :math:`\lambda` is used where the squared
correlation of the two powers reaches :data:`CORRELATION_THRESHOLD` and
where the echo estimate's power varies (squared coefficient of variation at
least :data:`VARIATION_MIN`: speech varies far more; a steady far end, such
as noise, gives no way to tell its echo from a steady near end, whose power
would otherwise be fitted as leakage). A bin's leakage is at most
:data:`LEAKAGE_MAX` (12 dB) above its echo-estimate power: more is not that
echo's leakage (the window sidelobes of a cadenced tone, a ringback, rise and
fall with the cadence, and a talker's power in a far bin can follow them by
chance; measured on a 425 Hz ringback with a talker: the suppressor cost the
talker 6.5 dB of SNR without the bound, 2.3 dB with it). The estimate is
Speex's "leak" (``mdf.c`` correlates the power spectra of error and echo
estimate, but broadband), made per bin; AEC3 scales its echo estimate by a learnt
per-band ERLE for the same purpose. The regression learns only in frames
the near end does not dominate: a talker would otherwise be taught to it.
The per-bin regressor was measured against the broadband echo power
(squared correlation with the output power over far-end single talk on the
loudspeaker-nonlinearity scene: 0.42 against 0.22; on a linear one 0.36
against 0.09).

Near-end detector
~~~~~~~~~~~~~~~~~
A frame is *near-end dominated* when the output power exceeds
:data:`NEAR_END_THRESHOLD` (9 dB) times what echo and noise explain: the
noise floor, the coherent part :math:`\sum_k c(k)\Phi_{oo}(k)`, and
:math:`\rho_{\min} \sum_k \Phi_{\hat e\hat e}(k)`, with :math:`\rho_{\min}`
the smallest ratio of output to echo-estimate power seen so far (it falls
at once and rises by at most :data:`NEAR_END_RATIO_RISE_DB_PER_SECOND`:
the least echo the canceller leaves). A decision lasts
:data:`NEAR_END_HANGOVER_SECONDS`, counting the frame that made it (at least
that frame: with 32 ms frames, only it). While the near end dominates, the
coherent share counts at :data:`NEAR_END_COHERENCE_WEIGHT` and the
regression does not learn: AEC3 likewise switches its suppressor between a
"normal" and a "near-end" tuning with a dominant-near-end detector.

The far-end overestimate of the leakage needs more: positive evidence that
the far end talks alone, the output power within
:data:`FAR_END_ONLY_THRESHOLD` (3 dB) of what the leakage, the coherent echo
and the noise floor explain; otherwise the leakage counts at the near-end
overestimate. The detector alone is blind to a talker who is there from the
first sample (barge-in on a first prompt): :math:`\rho_{\min}` is then learnt
from frames that hold the talker. There, measured on two such scenes after
3 s, the suppressor cost the talker 2.6 and 3.7 dB of SI-SNR against the
linear filter alone with the detector only, and 1.8 and 2.5 dB with the
evidence rule: better, not solved (0.4 and 1.4 dB before the leakage
estimate existed; over the whole 12 s clips the double-talk echo MOS is 4.45
and 4.50 now against 4.20 and 4.47 then, over the same 3-12 s it is about
equal). The evidence counts the leakage itself, so a talker learnt as
leakage from the first sample vouches for itself.

Every quantity is a power ratio (the squared correlation is formed as a
product of two ratios, not from 8th powers of the level), so the output
scales exactly with the input at powers of two from :math:`2^{-126}` to
:math:`2^{200}` (measured).

Low cut
-------
Every bin of both spectra is first scaled by a fixed real gain, the
magnitude of a 2nd-order Butterworth high-pass at ``low_cut_hz``
(:data:`LOW_CUT_HZ`, 80 Hz: :math:`(f/f_c)^2 / \sqrt{1 + (f/f_c)^4}`,
:func:`low_cut_gains`). Below the voice band the microphone holds rumble, hum
and the bottom of the room's noise, which listeners (and AECMOS's *other*
degradations model) count against the call; WebRTC's audio processing
high-passes its capture at about 80 Hz for the same reason. A real gain in
the short-time spectrum has no phase: the near end comes out in phase, so
SI-SNR counts only the low end that was removed, not a phase shift across
the lower voice band (a causal 2nd-order high-pass at 80 Hz cost the tuning
scenes' double-talk SI-SNR 10 dB; this low cut, 0.1 dB). Scaling both spectra
before any estimate means what the cut removes is neither output nor echo to
the coherence, the leakage regression, the noise floor or the near-end
detector, and the comfort noise is shaped by the cut too (scaling the
output after the gain instead measured the same on the tuning scenes, but
left a third more of 10 Hz rumble in the output: 0.0012 against 0.0009 rms
from amplitude 0.05 with ``highpass_hz=60``). :class:`~echoless.aec.base.StreamingCanceller` undoes its input
high-pass on the output before the suppressor when both are on
(:class:`~echoless.aec.highpass.HighPassUndo`), since the low cut now
shapes the low end. With 50 Hz bins (10 ms frames) the cut follows the
Butterworth magnitude to within 0.7 dB at 80 Hz and 0.02 dB at 200 Hz
(tested on tones). Wider bins follow it less closely, and bins more than
:data:`LOW_CUT_RESOLUTION` (2) times the cut-off apart cannot shape it at
all: zeroing the DC bin takes its whole main lobe (16-sample frames at
16 kHz, 500 Hz bins, cut a 200 Hz tone by 7.9 dB and a lone talker's SI-SNR
from 19.7 to 8.8 dB). There the low cut is off, and with it the undone
high-pass: at 16 kHz, frames under 50 samples run as before the low cut
existed (tested bit for bit). Measured on one scene at 16 kHz (seed 8060),
from 50 to 512 samples the pipeline gained 0.6-1.4 dB of double-talk SI-SNR
and 2.4-6.3 dB on the lone talker. Measured on the eight tuning scenes of
``benchmarks/bench_aec.py`` (medians; "worst st" the lowest scene's st echo
MOS; "real st" the median over the four real recordings; "undone to 5 Hz",
the default, leaves the input high-pass as a DC blocker at 5 Hz on the output):

=================================  ====  ======  ====  ====  =====  =====  =====  ====
output stage                       ERLE  DT      st    dt    dt     nst    worst  real
                                         SI-SNR  echo  echo  other  other  st     st
=================================  ====  ======  ====  ====  =====  =====  =====  ====
no low cut, input high-pass 20 Hz  32.5  15.1    4.66  4.57  4.13   3.58   4.01   4.03
low cut 80 Hz                      32.7  15.0    4.68  4.57  4.14   3.64   4.05   4.00
low cut 100 Hz                     32.8  14.7    4.69  4.57  4.13   3.67   4.05   4.01
low cut 80 Hz, input at 10 Hz      32.6  16.5    4.67  4.57  4.14   3.64   4.02   4.03
**low cut 80 Hz, undone to 5 Hz**  32.7  16.7    4.68  4.56  4.14   3.64   4.06   4.01
low cut 80 Hz, undone to 3 Hz      32.5  16.9    4.68  4.56  4.14   3.64   4.05   4.01
WebRTC AEC3 (same scenes)          27.5  -0.5    4.35  4.56  2.13   3.60   3.70   3.83
=================================  ====  ======  ====  ====  =====  =====  =====  ====

Lowering the input high-pass to 10 Hz instead, without undoing it, gains
the same SI-SNR but lets rumble reach the filter (10 Hz rumble of amplitude
0.05, on the scene of ``test_rumble_on_the_mic``: 7.8 dB of ERLE lost,
against none with the 20 Hz high-pass undone).

Comfort noise
-------------
A gain alone leaves silent holes where it removes echo, and pulls the
near end's background noise down whenever the far end plays: the noise
floor pumps with the far end. Listeners hear those gaps and patches as echo
(so does AECMOS, which was trained on their ratings: with the gain alone
the echo-path-change and loudspeaker-distortion scenes scored 2.4 and 1.7
on single-talk echo, 4.3 and 3.6 with full comfort noise at strength 2). So
what the gain removes is refilled with noise shaped like the estimated
noise floor :math:`\hat N(k)`, with a random phase :math:`\varphi(k)` per
bin and frame:

.. math:: S(k) = G(k)\,O(k) + \sqrt{1 - G(k)^2}\,\sqrt{\kappa\,\hat N(k)}\;e^{j\varphi(k)},

so in a bin holding only noise of power :math:`\hat N` the output keeps
:math:`G^2 \hat N + (1 - G^2)\hat N = \hat N` whatever the gain does (with
:data:`COMFORT_LEVEL` 1; the default quarter refills less, see below) (the
mixing rule of WebRTC AEC3's comfort noise generator and suppressor;
Hänsler & Schmidt, *Acoustic Echo and Noise Control*, Wiley 2004, ch. on
comfort noise). :math:`\kappa = L / \sum w^2 = 2` undoes the window's
power loss, so the resynthesised noise, analysed again, has power
:math:`\hat N` (tested). Where :math:`G = 1` nothing is added, bit for bit:
a residual-echo share below :data:`SHARE_DEADZONE` (-30 dB) counts as none,
since the sqrt law turns even a 0.005 dB gain into audible noise. The phases
come from a seeded xorshift64 generator owned by the suppressor (a look-up
among :data:`PHASE_STEPS` phasors: no trig, no numpy call per frame) and restarted by
:meth:`ResidualEchoSuppressor.reset`: runs are reproducible, and the noise
does not depend on the signal level, so the output still scales exactly
with the input.

The noise floor is tracked by minimum statistics in its simplest form
(Martin, "Noise power spectral density estimation based on optimal
smoothing and minimum statistics", IEEE Trans. Speech Audio Process. 9(5),
2001; AEC3 and Speex's ``preprocess.c`` use variants): the output power,
smoothed over a few frames (:data:`FLOOR_SMOOTHING`), is followed down at
once and up by at most :data:`NOISE_RISE_DB_PER_SECOND`, and only in bins
where less than half the power is echo; learning starts after
:data:`NOISE_WARM_UP` frames. A minimum sits below the mean of the power it
tracks (for stationary white noise -5.8 dB with 10 ms frames): the comfort
noise is that much quieter than the true floor, never louder, which is what
keeps the residual echo the floor learnt before the filter converged from
costing ERLE.

.. warning::
   A minimum tracker cannot tell stationary echo that is present from the
   very first frame from background noise: until a pause or a converged
   filter shows a lower floor, such echo is refilled as comfort noise (the
   estimate then falls at once). Pass ``comfort_noise=False`` for a plain
   spectral gain.

Trade-off: more strength removes more residual echo (higher ERLE, a real gain
in the first seconds and after path changes), but in double talk the near end
shares bins with the echo, so its spectrum is attenuated too (lower near-end
SI-SNR). The suppressor adds one frame of latency. Measured with the library's
default pipeline (:func:`echoless.aec.cancel`: PFDKF, input high-pass at
20 Hz, delay search) on the eight tuning scenes of ``benchmarks/bench_aec.py``
(medians; dB, and AECMOS from 1 to 5; "worst st" is the lowest scene's st
echo MOS), before the nonlinear estimate and the near-end detector existed:

==================================  ====  ======  ======  ======  =======  =======  ========  =========  ========
suppressor                          ERLE  DT      DT SDR  NE SDR  st echo  dt echo  dt other  nst other  worst st
                                          SI-SNR                                                         echo
==================================  ====  ======  ======  ======  =======  =======  ========  =========  ========
strength 1, no comfort noise        35.5  15.4    19.5    38.4    4.4      4.5      4.0       3.5        1.8
strength 1.5, no comfort noise      39.8  14.6    18.1    36.8    4.4      4.5      4.1       3.6        2.2
strength 1, comfort noise 1         25.6  15.4    19.5    38.3    4.5      4.4      4.1       3.6        3.4
strength 1.5, comfort noise 1       25.9  14.6    18.1    36.7    4.6      4.5      4.1       3.6        3.5
strength 2, comfort noise 1         26.7  14.0    16.8    35.3    4.6      4.5      4.1       3.6        3.6
strength 1, comfort noise 1/4       30.6  15.4    19.5    38.3    4.4      4.4      4.0       3.6        2.9
strength 1.5, comfort noise 1/4     31.3  14.6    18.1    36.7    4.5      4.5      4.1       3.6        3.3
strength 1.5, comfort noise 1/16    35.8  14.6    18.1    36.8    4.5      4.5      4.1       3.6        3.1
WebRTC AEC3 (same benchmark)        27.5  -0.5    2.8     22.9    4.3      4.6      2.1       3.6        3.7
==================================  ====  ======  ======  ======  =======  =======  ========  =========  ========

"Comfort noise 1/4" is :data:`COMFORT_LEVEL`: the noise refilled at a
quarter of the floor estimate's power. Comfort noise trades ERLE (the noise
it adds is counted as echo left) for the single-talk opinion scores, most of
all where residual echo leaves gaps (the echo-path change: 2.6 -> 4.3; the
loudspeaker-nonlinearity scene: 2.2 -> 3.3). The floor's faster
smoothing (:data:`FLOOR_SMOOTHING` 0.7 rather than 0.9) keeps ERLE up (at
strength 2 and full comfort noise: 27.1 against 22.5 dB) at some cost to the
distortion scene. Tried and not kept, for no gain on these scenes: a fixed
leakage of the echo estimate's power into the residual (1 % and 3 %),
comfort noise louder than the floor estimate (bias
compensated: ERLE fell to 20 dB), a floor learnt only where the echo share
is small or weighted by :math:`1 - c` (holes came back), Martin's windowed
minimum (windows of 0.75-4 s follow continuous near-end speech upwards), a
lower coherence threshold (0.2: no change), and spreading each bin's echo
share to its neighbours (at strength 2: st echo 4.71 and dt echo 4.53, the
distortion scene's st echo 4.0, but DT SDR 8.6 dB).

The comfort level was measured again with the leakage estimate and the
near-end detector, on 70 simulated scenes (bench_aec's three sets and 48
more from its generator: seeds 777 and 4242, 20 scenes each, and 8 echo-path
changes, seeds 900-907). Refilling the whole floor estimate everywhere
raised the mean st echo MOS by 0.11, but mostly by masking echo with hiss: a
floor learnt while the far end talks is residual echo (``make_scene(20.0,
seed=1002, rt60=0.8, ser_db=-10.0)``: the far-end single-talk output 40
falling to 21 dB above the room's noise, against 34 to 18 at a quarter), and
it cost 0.08 of dt other, 0.05 of nst other and 3.9 dB of ERLE. Refilling
the whole floor only where it had been confirmed (by a frame with a small
echo share, or by 0.3 s without echo estimate in the bin), and none while
the near end dominates, gave st +0.04, dt other +0.03 and nst other +0.04;
but floors 20-30 dB above the room's noise still got confirmed in
reverberant, loud-echo rooms, and the detector's false alarms (8-12 % of
far-end single-talk frames on two such scenes) made the comfort noise
flutter, even faded over 0.1 s. Not kept: the quarter stays.

The leakage estimate and the near-end detector, at strength 1.5 with
comfort noise 1/4, on the same tuning scenes, with the median st echo MOS
of the four real recordings ("real st"); :math:`\mu` is the far-end
overestimate, and a row changes only what it names from the default
(correlation threshold 0.1, variation 1, :math:`\mu` 8 and 1, detector
threshold 8, coherence weight 0.5, far-end evidence within 3 dB, leakage at
most 12 dB above the echo estimate); the rows above the last two were
measured without the evidence rule and the bound:

=============================  ====  ======  ====  ====  =====  =====  =====  ====
variant                        ERLE  DT      st    dt    dt     nst    worst  real
                                     SI-SNR  echo  echo  other  other  st     st
=============================  ====  ======  ====  ====  =====  =====  =====  ====
without them (1.5, 1/4 above)  30.5  14.6    4.57  4.48  4.11   3.57   3.35   4.02
broadband regressor, ungated   32.5  14.4    4.63  4.56  4.10   3.58   4.33   4.09
per bin, ungated               32.6  14.4    4.65  4.57  4.12   3.58   3.76   4.37
:math:`\mu` 4                  32.5  15.0    4.66  4.55  4.12   3.58   3.79   4.12
:math:`\mu` 6                  32.5  15.0    4.66  4.55  4.12   3.58   3.96   4.11
coherence weight 1             32.6  14.6    4.67  4.57  4.13   3.58   4.01   4.12
threshold 16 (12 dB)           32.5  14.4    4.66  4.54  4.12   3.58   4.01   4.13
threshold 4 (6 dB)             32.5  15.1    4.66  4.54  4.13   3.60   4.02   4.09
no evidence rule, no bound     32.5  15.1    4.66  4.56  4.13   3.58   4.01   4.10
**default**                    32.5  15.1    4.66  4.57  4.13   3.58   4.01   4.03
WebRTC AEC3 (same scenes)      27.5  -0.5    4.35  4.56  2.13   3.60   3.70   3.83
=============================  ====  ======  ====  ====  =====  =====  =====  ====

Without the gates the regression fits chance correlations of unrelated
signals (a steady, unrelated near end lost most of its power in the unit
tests): the ungated rows are faster to suppress, and wrong. Without the
detector the regression learns the near end's power in double talk
(measured with an earlier, broadband regressor: DT SI-SNR 7-9 dB). With
both, the loudspeaker-nonlinearity scene's st echo rises from 3.35 to 4.0.
The evidence rule and the bound change nothing on the tuning medians; the
bound costs the real recordings' median st echo 0.07 (4.10 -> 4.03), the
price of not taking a talker for a ringback's leakage.
The held-out scenes of ``bench_aec.py``, not tuned on, are reported there.
"""

from __future__ import annotations

import numpy as np

from echoless._jit import kernel
from echoless._frames import all_finite, check_frame
from echoless._validation import check_positive_float, check_positive_int
from echoless.aec.base import NUMERICAL_FLOOR

#: Forgetting factor of the spectral estimates (about 10 frames: fewer bias the coherence of
#: unrelated signals upwards, which would attenuate the near end in double talk).
SMOOTHING = 0.9
#: Suppression floor, dB, at strength 1.
FLOOR_DB = -30.0
#: Coherence below which output and echo estimate count as unrelated (see the module notes).
COHERENCE_THRESHOLD = 0.3
#: How fast the noise-floor estimate may rise, dB per second (it falls at once).
NOISE_RISE_DB_PER_SECOND = 0.5
#: The noise floor rises only in bins where less than this share of the power is echo.
NOISE_UPDATE_SHARE = 0.5
#: Forgetting factor of the output power the noise floor tracks (faster than :data:`SMOOTHING`:
#: a minimum tracker then falls further into the gaps of speech and residual echo).
FLOOR_SMOOTHING = 0.7
#: Power of the comfort noise relative to the noise-floor estimate (1: the floor itself). A
#: quarter (-6 dB) keeps the ERLE (measured on bench_aec's tuning set at strength 1.5: 31.3 dB
#: against 25.9 at 1) with the same single-talk echo MOS (4.5), see the module notes.
COMFORT_LEVEL = 0.25
#: Frames before the noise floor learns anything (fewer average too few periodograms, and a
#: minimum tracker keeps their low outliers).
NOISE_WARM_UP = 20
#: A residual-echo share below this (-30 dB) counts as none: gain exactly 1, no comfort noise.
SHARE_DEADZONE = 1e-3
#: Forgetting factor of the power regression behind the leakage estimate, per frame like
#: :data:`SMOOTHING` (about 100 frames: 1 s with 10 ms frames, 3.2 s with 32 ms ones).
LEAKAGE_SMOOTHING = 0.99
#: Squared correlation of a bin's output power with its echo-estimate power below which the two
#: count as unrelated (the regression's counterpart of :data:`COHERENCE_THRESHOLD`).
CORRELATION_THRESHOLD = 0.1
#: Least squared coefficient of variation of a bin's echo-estimate power for the regression to
#: count: a steady far end (noise, a held tone) leaves nothing to tell its echo from a steady near end.
VARIATION_MIN = 1.0
#: Overestimation of the leakage estimate while the far end dominates a frame, and while the near
#: end does (measured on bench_aec's tuning scenes, see the module notes).
LEAKAGE_OVERESTIMATE = 8.0
LEAKAGE_OVERESTIMATE_NEAR_END = 1.0
#: The near end dominates a frame when the output power exceeds this times what the echo and the
#: noise floor explain (9 dB).
NEAR_END_THRESHOLD = 8.0
#: How fast the smallest output-to-echo-estimate power ratio may rise, dB per second (it falls at once).
NEAR_END_RATIO_RISE_DB_PER_SECOND = 1.0
#: How long a near-end decision lasts, seconds, counting the frame that made it (at least that frame).
NEAR_END_HANGOVER_SECONDS = 0.03
#: The far-end overestimate of the leakage needs evidence that the far end talks alone: the output
#: power within this factor (3 dB) of what the leakage, the coherent echo and the noise floor explain.
FAR_END_ONLY_THRESHOLD = 2.0
#: Largest leakage of a bin, relative to its echo-estimate power (12 dB): more is not that echo's
#: leakage (the window sidelobes of a cadenced tone otherwise correlate with a talker by chance).
LEAKAGE_MAX = 16.0
#: Default cut-off of the suppressor's low cut, Hz (-3 dB; zero phase; see the module notes).
LOW_CUT_HZ = 80.0
#: The low cut is applied only where the bins are at most this many times its cut-off apart.
LOW_CUT_RESOLUTION = 2.0
#: Weight of the coherent residual-echo share while the near end dominates.
NEAR_END_COHERENCE_WEIGHT = 0.5


class ResidualEchoSuppressor:
    """Spectral postfilter for the output of a linear echo canceller.

    Parameters
    ----------
    frame_size : int
        Samples per frame (hop); the analysis window is twice as long.
    strength : float
        :math:`\\beta > 0`: overestimation of the residual echo and depth of
        the floor (see the module notes). 1 is a Wiener gain; the default 1.5
        keeps the ERLE with comfort noise (module notes).
    sample_rate : int
        Hz; sets how fast the noise-floor estimate may rise per frame
        (:data:`NOISE_RISE_DB_PER_SECOND`).
    comfort_noise : bool
        Fill what the gain removes with noise shaped like the estimated noise
        floor (see the module notes). Off: a plain spectral gain.
    seed : int
        Seed (>= 0) of the comfort noise's random phases; :meth:`reset`
        restarts it, so a run is reproducible and independent of the signal
        level.
    low_cut_hz : float
        -3 dB cut-off of the zero-phase low cut on the output, default
        :data:`LOW_CUT_HZ` (80 Hz); 0 turns it off (see the module notes).

    Raises
    ------
    TypeError, ValueError
        For a non-integer or non-positive ``frame_size`` or ``sample_rate``,
        a ``strength`` that is not finite and > 0, a negative ``seed``, or a
        ``low_cut_hz`` that is negative or not below ``sample_rate / 2``.

    Examples
    --------
    >>> import numpy as np
    >>> suppressor = ResidualEchoSuppressor(160, strength=1.0)
    >>> suppressor.process(np.zeros(160), np.zeros(160)).shape
    (160,)
    """

    def __init__(
        self,
        frame_size: int,
        strength: float = 1.5,
        *,
        sample_rate: int = 16000,
        comfort_noise: bool = True,
        seed: int = 0,
        low_cut_hz: float = LOW_CUT_HZ,
    ) -> None:
        self.frame_size = check_positive_int(frame_size, "frame_size")
        self.strength = check_positive_float(strength, "strength")
        self.sample_rate = check_positive_int(sample_rate, "sample_rate")
        self.comfort_noise = bool(comfort_noise)
        self.seed = check_positive_int(seed, "seed", minimum=0)
        self.low_cut_hz = check_low_cut(low_cut_hz, self.sample_rate)
        self._low_cut = low_cut_gains(self.frame_size, self.sample_rate, self.low_cut_hz)
        #: Whether the low cut shapes anything: off for ``low_cut_hz=0`` and for bins too wide
        #: to resolve it (see :func:`low_cut_gains`).
        self.low_cut_active = bool(np.any(self._low_cut < 1.0))
        self.floor = 10.0 ** (self.strength * FLOOR_DB / 20.0)
        size = self.frame_size
        self._window = np.sqrt(0.5 - 0.5 * np.cos(2 * np.pi * np.arange(2 * size) / (2 * size)))
        self._buffers = np.zeros((2, 2 * size))  # analysis windows of output and echo estimate
        self._tail = np.zeros(size)  # overlap-add tail
        self._powers = np.zeros((2, size + 1))  # smoothed |O|^2 and |E_hat|^2
        self._cross = np.zeros(size + 1, dtype=np.complex128)
        self._residual = np.zeros(size + 1)  # smoothed model residual power
        self._no_residual = np.empty(0)
        self._coherent = np.empty(size + 1)  # per frame: each bin's coherent residual-echo share
        self._rise = 10.0 ** (NOISE_RISE_DB_PER_SECOND * size / self.sample_rate / 10.0)
        self._ratio_rise = 10.0 ** (NEAR_END_RATIO_RISE_DB_PER_SECOND * size / self.sample_rate / 10.0)
        self._hangover = max(1, round(NEAR_END_HANGOVER_SECONDS * self.sample_rate / size))
        # noise injected with power P per bin, resynthesised (the synthesis windows' w^2 overlap-add
        # to 1) and analysed again, has P * sum(w^2) / len(w) per bin: undo that factor
        self._comfort = COMFORT_LEVEL * len(self._window) / np.sum(self._window**2) if self.comfort_noise else 0.0
        self._phasors = np.exp(2j * np.pi * np.arange(PHASE_STEPS) / PHASE_STEPS)
        self._rng_state = np.zeros(1, dtype=np.uint64)
        self.reset()

    def reset(self) -> None:
        """Forget the signal history, the spectral estimates, the noise floor, the near-end
        detector and the leakage regression; restart the comfort noise's generator from ``seed``."""
        self.forget_signal()
        self._noise = np.full(self.frame_size + 1, np.inf)  # noise floor per bin; inf: not seen yet
        self._floor_power = np.zeros(self.frame_size + 1)  # |O|^2 smoothed by FLOOR_SMOOTHING
        # near-end detector: smallest output / echo-estimate power ratio (inf: no echo estimate yet),
        # and frames left in the current near-end decision
        self._detector = np.array([np.inf, 0.0])
        # leakage regression: the moments E[|O|^2 P], E[|O|^2], E[|O|^4], E[P], E[P^2] per bin (P the
        # echo estimate's power), the weight they have gathered (unbiases their zero start), and
        # the frame's leakage estimate per bin
        self._leakage_moments = np.zeros((5, self.frame_size + 1))
        self._leakage_weight = np.zeros(1)
        self._leakage = np.zeros(self.frame_size + 1)
        self._rng_state[0] = seed_state(self.seed)
        self._frames = 0

    def forget_signal(self) -> None:
        """Forget the last frames' signal (analysis windows, overlap-add tail) and the short-time
        spectra smoothed from them, keeping what was learnt over seconds (noise floor, near-end
        detector, leakage regression).

        For a canceller whose safety watch has just reset a diverged filter: the diverged output
        must not reach the next frames through the window or the smoothed spectra (measured with
        a full :meth:`reset` instead, on an AM-tone far end that trips the watch six times in
        20 s: 4 dB of ERLE lost with the learnt noise floor and leakage).
        """
        self._buffers[:] = 0.0
        self._tail[:] = 0.0
        self._powers[:] = 0.0
        self._cross[:] = 0.0
        self._residual[:] = 0.0

    def process(
        self, output: np.ndarray, echo_estimate: np.ndarray, residual_power: np.ndarray | None = None
    ) -> np.ndarray:
        """Suppress the residual echo in one frame.

        Parameters
        ----------
        output : numpy.ndarray, shape (frame_size,)
            Linear canceller output (near end + residual echo).
        echo_estimate : numpy.ndarray, shape (frame_size,)
            The canceller's echo estimate for the same frame.
        residual_power : numpy.ndarray, shape (frame_size + 1,), optional
            The canceller's own prediction of the residual-echo power per bin
            (a Kalman filter knows it from its state uncertainty), on the scale
            of ``|FFT_2N([0, output])|^2``; used when it exceeds the coherent part.

        Returns
        -------
        numpy.ndarray, shape (frame_size,)
            The enhanced output, one frame late (a new array).
        """
        output = check_frame(output, self.frame_size, "output")
        echo_estimate = check_frame(echo_estimate, self.frame_size, "echo_estimate")
        if residual_power is not None:
            residual_power = check_frame(residual_power, self.frame_size + 1, "residual_power", "frame_size + 1")
        return self._process(output, echo_estimate, residual_power)[0]

    def _correction(self) -> float:
        """Factor that unbiases the floor's smoothed power for its zero start, :math:`1 / (1 - a^n)`
        after ``n`` frames; 0 (nothing learnt) for the first :data:`NOISE_WARM_UP` frames."""
        if self._frames < NOISE_WARM_UP:
            return 0.0
        # a^n underflows past 1e-16 of 1 after ~100 frames: no pow per frame from then on
        return 1.0 / (1.0 - FLOOR_SMOOTHING**self._frames) if self._frames < 200 else 1.0

    def _process(
        self, output: np.ndarray, echo_estimate: np.ndarray, residual_power: np.ndarray | None
    ) -> tuple[np.ndarray, bool]:
        """:meth:`process` without the argument checks, for a canceller that made the frames itself.

        Also returns whether the frame is finite (False when the spectra
        overflowed, for inputs near 1e150: the caller then resets).
        """
        result = np.empty(self.frame_size)
        self._frames += 1
        finite = suppress_frame(
            output,
            echo_estimate,
            self._no_residual if residual_power is None else residual_power,
            residual_power is not None,
            self._window,
            self._buffers,
            self._powers,
            self._cross,
            self._residual,
            self._tail,
            self._noise,
            self._floor_power,
            self._coherent,
            self._detector,
            self._leakage_moments,
            self._leakage_weight,
            self._leakage,
            self._rng_state,
            self._phasors,
            self._low_cut,
            (
                self.strength, self.floor, self._rise, self._correction(), self._comfort,
                self._ratio_rise, self._hangover,
            ),
            result,
        )
        return result, finite


def check_low_cut(low_cut_hz: float, sample_rate: int) -> float:
    """``low_cut_hz`` as a float, checked: finite, >= 0 and below the Nyquist frequency of the
    band the suppressor works on (a band-split canceller's is its 16 kHz low band's).

    Raises
    ------
    ValueError
        Naming the value and the limit.
    """
    low_cut_hz = check_positive_float(low_cut_hz, "low_cut_hz", allow_zero=True)
    if low_cut_hz >= sample_rate / 2:
        raise ValueError(
            f"low_cut_hz={low_cut_hz:g} must be below {sample_rate / 2:g} Hz, the Nyquist frequency of the "
            f"{sample_rate:g} Hz band the suppressor works on"
        )
    return low_cut_hz


def low_cut_gains(frame_size: int, sample_rate: int, cutoff_hz: float) -> np.ndarray:
    r"""The low cut's real gain per bin of the suppressor's spectrum (see the module notes).

    Parameters
    ----------
    frame_size : int
        Hop ``B``; the spectrum has ``B + 1`` bins, ``sample_rate / (2 B)`` Hz apart.
    sample_rate : int
        Hz.
    cutoff_hz : float
        -3 dB cut-off in Hz, >= 0; 0 for no low cut.

    Returns
    -------
    numpy.ndarray, shape (frame_size + 1,)
        :math:`|H(f_k)|` of the 2nd-order Butterworth high-pass,
        :math:`(f/f_c)^2 / \sqrt{1 + (f/f_c)^4}`: its magnitude, without its
        phase. All ones for ``cutoff_hz=0``, and where the bins are more than
        :data:`LOW_CUT_RESOLUTION` times the cut-off apart: such bins cannot
        shape the cut, and zeroing the DC bin would remove its whole main
        lobe (see the module notes).

    Raises
    ------
    ValueError
        If ``cutoff_hz`` is negative or not finite.
    """
    cutoff_hz = check_positive_float(cutoff_hz, "low_cut_hz", allow_zero=True)
    spacing = sample_rate / (2 * frame_size)
    if cutoff_hz == 0 or spacing > LOW_CUT_RESOLUTION * cutoff_hz:
        return np.ones(frame_size + 1)
    ratio = (np.arange(frame_size + 1) * spacing / cutoff_hz) ** 2
    return ratio / np.sqrt(1.0 + ratio**2)


#: Comfort-noise phases are drawn from this many steps of the circle (a table look-up, no trig per bin).
PHASE_STEPS = 1024
_PHASE_SHIFT = 64 - 10  # the top 10 bits of a draw index the table


def seed_state(seed: int) -> int:
    """A non-zero xorshift64 state from ``seed`` (SplitMix64's finaliser, so nearby seeds differ)."""
    mask = (1 << 64) - 1
    z = (seed + 0x9E3779B97F4A7C15) & mask
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
    return (z ^ (z >> 31)) or 1


@kernel
def next_phase(state):  # pragma: no cover - compiled
    """Advance the xorshift64 generator (Marsaglia 2003) in ``state`` (1,) uint64; return a phase
    index in ``[0, PHASE_STEPS)`` from its top bits. Deterministic, and no numpy RNG call per frame."""
    x = state[0]
    x ^= x << np.uint64(13)
    x ^= x >> np.uint64(7)
    x ^= x << np.uint64(17)
    state[0] = x
    return x >> np.uint64(_PHASE_SHIFT)


@kernel
def suppress_frame(
    output, echo_estimate, residual_power, use_residual, window, buffers, powers, cross, residual, tail, noise,
    floor_power, coherent, detector, leakage_moments, leakage_weight, leakage, rng_state, phasors, low_cut, settings,
    result,
):  # pragma: no cover - compiled
    """One frame of the suppressor (see the module notes); ``result`` (B,) receives the output.

    Returns whether ``result`` is finite.

    State, updated in place: ``buffers`` (2, 2B) the analysis windows of output
    and echo estimate; ``powers`` (2, B + 1) and ``cross`` (B + 1,) the smoothed
    auto- and cross-spectra; ``residual`` (B + 1,) the smoothed model residual
    power (read only if ``use_residual``); ``tail`` (B,) the overlap-add tail;
    ``noise`` (B + 1,) the noise-floor estimate (``inf``: none yet) and
    ``floor_power`` (B + 1,) the output power it tracks; ``coherent`` (B + 1,)
    receives the frame's coherent shares; ``detector`` (2,) is the near-end
    detector's state (:func:`near_end_dominates`); ``leakage_moments``
    (5, B + 1) and ``leakage_weight`` (1,) the leakage regression's
    (:func:`learn_leakage`), and ``leakage`` (B + 1,) receives its estimate
    (:func:`predict_leakage`). ``rng_state`` (1,)
    is the comfort noise's xorshift64 state (:func:`next_phase`, one draw per
    bin and frame), ``phasors`` the :data:`PHASE_STEPS` unit phasors it picks from.
    ``settings`` is (strength, gain floor, largest rise factor of the noise
    floor per frame, start-up correction of ``floor_power`` (0: learn
    nothing yet), comfort-noise power factor (0: no comfort noise), largest
    rise factor of the detector's power ratio per frame, hangover in frames).
    """
    size = output.shape[0]
    a = SMOOTHING
    strength, floor, rise, correction, comfort, ratio_rise, hangover = settings
    buffers[:, :size] = buffers[:, size:]
    buffers[0, size:] = output
    buffers[1, size:] = echo_estimate
    # the low cut first: what it removes (rumble, hum) is then neither output nor echo to the estimates
    out_spectrum = np.fft.rfft(buffers[0] * window) * low_cut
    echo_spectrum = np.fft.rfft(buffers[1] * window) * low_cut
    out_total = 0.0  # broadband smoothed powers of the output and of the echo estimate
    echo_total = 0.0
    noise_total = 0.0
    coherent_total = 0.0
    for k in range(size + 1):
        out_bin, echo_bin = out_spectrum[k], echo_spectrum[k]
        powers[0, k] = a * powers[0, k] + (1 - a) * (out_bin.real**2 + out_bin.imag**2)
        powers[1, k] = a * powers[1, k] + (1 - a) * (echo_bin.real**2 + echo_bin.imag**2)
        cross[k] = a * cross[k] + (1 - a) * out_bin * np.conj(echo_bin)
        coherence = (cross[k].real ** 2 + cross[k].imag ** 2) / (powers[0, k] * powers[1, k] + NUMERICAL_FLOOR)
        # c = max(0, (coherence - threshold) / (1 - threshold)): only coherence above chance counts
        coherent[k] = max(0.0, (coherence - COHERENCE_THRESHOLD) / (1.0 - COHERENCE_THRESHOLD))
        out_total += powers[0, k]
        echo_total += powers[1, k]
        coherent_total += coherent[k] * powers[0, k]
        if noise[k] < np.inf:
            noise_total += noise[k]
    # what the echo (its coherent part, and the least the echo estimate has left so far) and the
    # noise floor explain; a near-end talker adds power that none of them predicts
    near_end = near_end_dominates(out_total, echo_total, noise_total + coherent_total, detector, ratio_rise, hangover)
    if not near_end:  # the near end would teach the regression its own power
        learn_leakage(powers[0], powers[1], leakage_moments, leakage_weight)
    leakage_total = predict_leakage(powers[1], leakage_moments, leakage_weight, leakage)
    # the far-end tuning needs positive evidence: the output no louder than what is known to be there
    far_end_only = out_total <= FAR_END_ONLY_THRESHOLD * (leakage_total + noise_total + coherent_total)
    overestimate = LEAKAGE_OVERESTIMATE if far_end_only and not near_end else LEAKAGE_OVERESTIMATE_NEAR_END
    coherence_weight = NEAR_END_COHERENCE_WEIGHT if near_end else 1.0
    for k in range(size + 1):
        out_bin = out_spectrum[k]
        share = coherence_weight * coherent[k]
        if use_residual:
            residual[k] = a * residual[k] + (1 - a) * residual_power[k]
            share = max(share, residual[k] / (powers[0, k] + NUMERICAL_FLOOR))
        share = max(share, overestimate * leakage[k] / (powers[0, k] + NUMERICAL_FLOOR))
        if share < SHARE_DEADZONE:
            # a gain within 0.005 dB of 1 removes nothing audible, but its comfort noise
            # (amplitude sqrt(1 - G^2) ~ sqrt(2 share)) would be heard
            share = 0.0
        gain = max(floor, 1.0 - strength * min(share, 1.0))
        value = out_bin * gain
        # noise floor (minimum tracking): follows the power down at once, may rise at most by
        # `rise` a frame and only where the power is mostly not echo. The power is unbiased for
        # its zero start; exact zero says nothing (a floor of 0 could never rise): a bin with no
        # floor yet (inf) gets no comfort noise
        floor_power[k] = FLOOR_SMOOTHING * floor_power[k] + (1 - FLOOR_SMOOTHING) * (
            out_bin.real**2 + out_bin.imag**2
        )
        level = floor_power[k] * correction
        if share < NOISE_UPDATE_SHARE:
            noise[k] *= rise
        if 0.0 < level < noise[k]:
            noise[k] = level
        phase = next_phase(rng_state)  # drawn in every bin, so the sequence does not depend on the gains
        if comfort > 0.0 and gain < 1.0 and noise[k] < np.inf:
            # what the gain removes from a noise-only bin, refilled with random phase
            magnitude = np.sqrt((1.0 - gain * gain) * comfort * noise[k])
            value += magnitude * phasors[phase]
        out_spectrum[k] = value
    synthesis = np.fft.irfft(out_spectrum, 2 * size) * window
    result[:] = synthesis[:size] + tail
    tail[:] = synthesis[size:]
    return all_finite(result)


@kernel
def near_end_dominates(
    out_total, echo_total, noise_total, detector, ratio_rise, hangover
):  # pragma: no cover - compiled
    """Near-end dominance detector (see the module notes); ``detector`` (2,) holds the smallest
    output / echo-estimate power ratio seen (rising by at most ``ratio_rise`` a frame) and the
    frames left in the current decision (``hangover``, counting the frame that made it)."""
    if echo_total > 0.0:
        detector[0] = min(detector[0] * ratio_rise, out_total / echo_total)
    explained = noise_total + (detector[0] * echo_total if detector[0] < np.inf else 0.0)
    if out_total > NEAR_END_THRESHOLD * explained:
        detector[1] = hangover
    elif detector[1] > 0.0:
        detector[1] -= 1.0
    return detector[1] > 0.0


@kernel
def learn_leakage(out_powers, echo_powers, moments, weight):  # pragma: no cover - compiled
    """One step of the recursive fit of each bin's output power on its echo-estimate power: the
    exponentially weighted moments (forgetting factor :data:`LEAKAGE_SMOOTHING`) E[O P], E[O],
    E[O^2], E[P], E[P^2] in ``moments`` (5, B + 1), and their total weight in ``weight`` (1,)."""
    b = 1.0 - LEAKAGE_SMOOTHING
    weight[0] += b * (1.0 - weight[0])
    for k in range(out_powers.shape[0]):
        o, p = out_powers[k], echo_powers[k]
        moments[0, k] += b * (o * p - moments[0, k])
        moments[1, k] += b * (o - moments[1, k])
        moments[2, k] += b * (o * o - moments[2, k])
        moments[3, k] += b * (p - moments[3, k])
        moments[4, k] += b * (p * p - moments[4, k])


@kernel
def predict_leakage(echo_powers, moments, weight, leakage):  # pragma: no cover - compiled
    """Each bin's residual-echo power that follows its echo-estimate power ``echo_powers`` (B + 1,):
    the regression slope cov(O, P) / var(P), at most :data:`LEAKAGE_MAX`, times ``echo_powers``,
    into ``leakage``; returns its sum over the bins. Zero where the covariance is not positive, the
    squared correlation is below :data:`CORRELATION_THRESHOLD` or P's squared coefficient of
    variation below :data:`VARIATION_MIN`; everywhere until the regression has learnt anything."""
    leakage[:] = 0.0
    if weight[0] <= 0.0:
        return 0.0
    total = 0.0
    norm = 1.0 / weight[0]  # unbiases the moments for their zero start
    for k in range(leakage.shape[0]):
        out_mean = moments[1, k] * norm
        echo_mean = moments[3, k] * norm
        covariance = moments[0, k] * norm - out_mean * echo_mean
        out_variance = moments[2, k] * norm - out_mean * out_mean
        echo_variance = moments[4, k] * norm - echo_mean * echo_mean
        steady = echo_variance <= 0.0 or echo_variance < VARIATION_MIN * echo_mean * echo_mean
        if covariance <= 0.0 or out_variance <= 0.0 or steady:
            continue
        slope = covariance / echo_variance
        # squared correlation as a product of two ratios: no 8th powers of the signal level
        if slope * (covariance / out_variance) >= CORRELATION_THRESHOLD:
            leakage[k] = min(LEAKAGE_MAX, slope) * echo_powers[k]
            total += leakage[k]
    return total
