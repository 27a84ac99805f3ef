"""load_aec_challenge on a small AEC-Challenge style folder the test writes."""

import numpy as np
import pytest
import soundfile

from echoless.data import load_aec_challenge

SR = 16000
FOLDERS = {
    "ref": ("farend_speech", "farend_speech"),
    "mic": ("nearend_mic_signal", "nearend_mic"),
    "echo": ("echo_signal", "echo"),
    "near_end": ("nearend_speech", "nearend_speech"),
}


def _write_layout(root, file_ids, fields=tuple(FOLDERS)):
    rng = np.random.default_rng(0)
    truth = {}
    for file_id in file_ids:
        echo, near = rng.uniform(-0.3, 0.3, (2, 320)).astype(np.float32)
        signals = {"ref": rng.uniform(-0.3, 0.3, 320).astype(np.float32), "echo": echo, "near_end": near, "mic": echo + near}
        for field in fields:
            folder, prefix = FOLDERS[field]
            (root / folder).mkdir(exist_ok=True)
            soundfile.write(root / folder / f"{prefix}_fileid_{file_id}.wav", signals[field], SR, subtype="FLOAT")
        truth[file_id] = {key: value.astype(np.float64) for key, value in signals.items()}
    return truth


def test_examples_are_matched_by_file_id_in_order(tmp_path):
    truth = _write_layout(tmp_path, [10, 2, 1])
    examples = list(load_aec_challenge(tmp_path))
    assert [example.name for example in examples] == ["fileid_1", "fileid_2", "fileid_10"]
    for example in examples:
        expected = truth[int(example.name.split("_")[1])]
        for field in ("mic", "ref", "echo", "near_end"):
            np.testing.assert_array_equal(getattr(example, field), expected[field])
        assert example.meta["files"]["mic"].endswith(f"nearend_mic_{example.name}.wav")


def test_truth_folders_are_optional(tmp_path):
    _write_layout(tmp_path, [0, 1], fields=("ref", "mic"))
    examples = list(load_aec_challenge(tmp_path))
    assert len(examples) == 2 and all(example.echo is None and example.near_end is None for example in examples)


def test_missing_folder_and_unmatched_ids_fail_at_once(tmp_path):
    with pytest.raises(FileNotFoundError, match="AEC-Challenge folder not found"):
        load_aec_challenge(tmp_path / "absent")
    _write_layout(tmp_path, [0, 1], fields=("ref",))
    with pytest.raises(FileNotFoundError, match="lacks nearend_mic_signal/"):
        load_aec_challenge(tmp_path)
    _write_layout(tmp_path, [0], fields=("mic",))
    with pytest.raises(ValueError, match="unmatched file ids: nearend_mic_signal/ has no file for fileid_1"):
        load_aec_challenge(tmp_path)


def test_empty_folder_and_duplicate_ids(tmp_path):
    (tmp_path / "farend_speech").mkdir()
    (tmp_path / "nearend_mic_signal").mkdir()
    with pytest.raises(ValueError, match="farend_speech holds no \\*_fileid_<N>.wav files"):
        load_aec_challenge(tmp_path)
    _write_layout(tmp_path, [3], fields=("ref", "mic"))
    soundfile.write(tmp_path / "farend_speech" / "other_fileid_3.wav", np.zeros(320), SR)
    with pytest.raises(ValueError, match="holds two files for fileid_3"):
        load_aec_challenge(tmp_path)
