"""PBFDAF: one partition equals the textbook constrained FDAF; convergence on a known FIR."""

import numpy as np
import pytest
import scipy.signal

from echoless.aec import PBFDAF
from echoless.aec.pbfdaf import POWER_FLOOR_DB


def _stream(canceller, mic, ref):
    size = canceller.frame_size
    return np.concatenate([canceller.process(mic[i : i + size], ref[i : i + size]) for i in range(0, len(mic), size)])


def textbook_fdaf(mic, ref, block, step, regularizations):
    """Constrained overlap-save FDAF (Shynk 1992), one block of ``block`` taps, written out."""
    weights = np.zeros(block + 1, dtype=complex)
    previous = np.zeros(block)
    out = []
    for start, regularization in zip(range(0, len(mic), block), regularizations):
        current = ref[start : start + block]
        spectrum = np.fft.rfft(np.concatenate([previous, current]))
        previous = current
        error = mic[start : start + block] - np.fft.irfft(weights * spectrum)[block:]
        error_spectrum = np.fft.rfft(np.concatenate([np.zeros(block), error]))
        normalised = step * np.conj(spectrum) * error_spectrum / (np.abs(spectrum) ** 2 + regularization)
        gradient = np.fft.irfft(normalised)[:block]
        weights = weights + np.fft.rfft(np.concatenate([gradient, np.zeros(block)]))
        out.append(error)
    return np.concatenate(out)


@pytest.mark.parametrize("step", [0.1, 0.7])
def test_one_partition_equals_textbook_fdaf(step, linear, running_levels):
    rng = np.random.default_rng(0)
    block = 64
    ref = rng.standard_normal(block * 60)
    mic = scipy.signal.lfilter(rng.standard_normal(40) * np.exp(-np.arange(40) / 8), 1, ref)
    mic += 0.01 * rng.standard_normal(len(mic))
    canceller = PBFDAF(
        frame_size=block, filter_length=block, step_size=step, adaptive_step=False, two_path=False, constraint="full",
        **linear,
    )
    # regularised POWER_FLOOR_DB below the input's running level
    regularizations = [2 * block * level * 10 ** (-POWER_FLOOR_DB / 10) for level, _ in running_levels(mic, ref, block)]
    expected = textbook_fdaf(mic, ref, block, step, regularizations)
    np.testing.assert_allclose(_stream(canceller, mic, ref), expected, rtol=0, atol=1e-10)


def _erle_db(mic, out):
    return 10 * np.log10(np.sum(mic**2) / np.sum(out**2))


@pytest.mark.parametrize("constraint", ["alternating", "full"])
def test_converges_on_a_known_fir(constraint):
    rng = np.random.default_rng(1)
    h = rng.standard_normal(200) * np.exp(-np.arange(200) / 40)
    ref = rng.standard_normal(16000 * 3)
    mic = scipy.signal.lfilter(h, 1, ref)
    canceller = PBFDAF(frame_size=64, filter_length=256, constraint=constraint)
    out = _stream(canceller, mic, ref)
    assert _erle_db(mic[-8000:], out[-8000:]) > 40
    misalignment = np.sum((canceller.filter[:200] - h) ** 2) / np.sum(h**2)
    assert 10 * np.log10(misalignment) < -40


def test_fixed_step_converges_and_is_stable():
    rng = np.random.default_rng(2)
    h = rng.standard_normal(100) * np.exp(-np.arange(100) / 20)
    ref = rng.standard_normal(16000)
    mic = scipy.signal.lfilter(h, 1, ref)
    canceller = PBFDAF(frame_size=32, filter_length=128, step_size=0.5, adaptive_step=False)
    out = _stream(canceller, mic, ref)
    assert _erle_db(mic[-4000:], out[-4000:]) > 60
    assert canceller.n_resets == 0


def _double_talk_drift_db(**options):
    """How far 1 s of double talk (white near end at 0 dB) drags a converged filter, dB."""
    rng = np.random.default_rng(3)
    h = rng.standard_normal(100) * np.exp(-np.arange(100) / 20)
    ref = rng.standard_normal(16000 * 3)
    echo = scipy.signal.lfilter(h, 1, ref)
    near = np.zeros_like(echo)
    near[32000:] = rng.standard_normal(16000) * np.std(echo)
    canceller = PBFDAF(frame_size=64, filter_length=128, **options)
    _stream(canceller, echo[:32000], ref[:32000])
    before = canceller.filter.copy()
    _stream(canceller, echo[32000:] + near[32000:], ref[32000:])
    assert canceller.n_resets == 0
    return 10 * np.log10(np.sum((canceller.filter - before) ** 2) / np.sum(h**2) + 1e-30)  # 1e-30: no change


def test_adaptive_step_shrinks_in_double_talk():
    # one path, so that the drift measures the adapted filter itself
    adaptive = _double_talk_drift_db(two_path=False)
    fixed = _double_talk_drift_db(step_size=0.5, adaptive_step=False, two_path=False)
    print(f"double-talk drift: adaptive {adaptive:.1f} dB, fixed {fixed:.1f} dB")
    assert adaptive < -15
    assert adaptive < fixed - 10


def test_two_path_keeps_the_output_filter_through_double_talk():
    # with a fixed, double-talk-blind step the adapted filter is dragged away, but the
    # foreground (output) filter is only replaced by a better one
    assert _double_talk_drift_db(step_size=0.5, adaptive_step=False) < -30


def test_echo_path_change_is_retracked_within_two_seconds():
    rng = np.random.default_rng(2)
    first, second = (rng.standard_normal(200) * np.exp(-np.arange(200) / 40) for _ in range(2))
    ref = rng.standard_normal(16000 * 4)
    echo = np.concatenate([scipy.signal.lfilter(first, 1, ref)[:32000], scipy.signal.lfilter(second, 1, ref)[32000:]])
    mic = echo + 1e-4 * rng.standard_normal(len(ref))
    canceller = PBFDAF(frame_size=64, filter_length=256)
    out = _stream(canceller, mic, ref)
    assert _erle_db(mic[24000:32000], out[24000:32000]) > 30  # converged before the change
    assert _erle_db(mic[32000:33000], out[32000:33000]) < 10  # the change hurts
    assert _erle_db(mic[-8000:], out[-8000:]) > 25  # and is re-learned within 2 s
