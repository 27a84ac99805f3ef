"""The ICASSP AEC-Challenge synthetic data set layout.

::

    root/
      farend_speech/       farend_speech_fileid_<N>.wav     -> ref
      nearend_mic_signal/  nearend_mic_fileid_<N>.wav       -> mic
      echo_signal/         echo_fileid_<N>.wav              -> echo      (optional)
      nearend_speech/      nearend_speech_fileid_<N>.wav    -> near_end  (optional)

Files are matched across folders by the ``fileid_<N>`` at the end of their
names (whatever comes before it). The two optional folders hold the truth of
synthetic examples; when present, every example must have its file there.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

from echoless._validation import check_positive_int
from echoless.data.example import EchoExample
from echoless.io import read_audio

__all__ = ["aec_challenge_files", "load_aec_challenge"]

# EchoExample field -> folder
_REQUIRED = {"ref": "farend_speech", "mic": "nearend_mic_signal"}
_OPTIONAL = {"echo": "echo_signal", "near_end": "nearend_speech"}
_FILE_ID = re.compile(r"fileid_(\d+)\.wav$", re.IGNORECASE)


def _index(folder: Path) -> dict[int, Path]:
    files: dict[int, Path] = {}
    for path in sorted(folder.iterdir()):
        match = _FILE_ID.search(path.name)
        if match is None:
            continue
        file_id = int(match.group(1))
        if file_id in files:
            raise ValueError(f"{folder} holds two files for fileid_{file_id}: {files[file_id].name} and {path.name}")
        files[file_id] = path
    return files


def _describe(ids: set[int]) -> str:
    listed = sorted(ids)
    shown = ", ".join(f"fileid_{i}" for i in listed[:5])
    return shown + (f" and {len(listed) - 5} more" if len(listed) > 5 else "")


def aec_challenge_files(root: str | os.PathLike) -> list[tuple[int, dict[str, Path]]]:
    """The matched files of an AEC-Challenge style folder, by increasing file id.

    Parameters
    ----------
    root : str or os.PathLike
        Folder holding ``farend_speech/`` and ``nearend_mic_signal/`` (and
        optionally ``echo_signal/`` and ``nearend_speech/``).

    Returns
    -------
    list of (int, dict)
        ``(file_id, {field: path})`` with the fields ``mic``, ``ref`` and,
        where their folders exist, ``echo`` and ``near_end``.

    Raises
    ------
    FileNotFoundError
        If ``root`` or a required folder is missing.
    ValueError
        If a folder holds no ``*_fileid_<N>.wav`` files, or a file id is not
        present in every folder that exists.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"AEC-Challenge folder not found: {root}")
    missing = [name for name in _REQUIRED.values() if not (root / name).is_dir()]
    if missing:
        raise FileNotFoundError(
            f"{root} lacks {', '.join(f'{name}/' for name in missing)}: an AEC-Challenge folder holds "
            f"{', '.join(f'{name}/' for name in (*_REQUIRED.values(), *_OPTIONAL.values()))} "
            "(the last two optional)"
        )
    folders = {field: name for field, name in {**_REQUIRED, **_OPTIONAL}.items() if (root / name).is_dir()}
    indices = {field: _index(root / name) for field, name in folders.items()}
    for field, files in indices.items():
        if not files:
            raise ValueError(f"{root / folders[field]} holds no *_fileid_<N>.wav files")
    all_ids = set().union(*indices.values())
    for field, files in indices.items():
        absent = all_ids - set(files)
        if absent:
            raise ValueError(f"unmatched file ids: {folders[field]}/ has no file for {_describe(absent)}")
    return [(file_id, {field: files[file_id] for field, files in indices.items()}) for file_id in sorted(all_ids)]


def load_aec_challenge(root: str | os.PathLike, sample_rate: int = 16000) -> Iterator[EchoExample]:
    """Iterate over the matched examples of an AEC-Challenge style folder.

    The folders are scanned and matched when this is called
    (:func:`aec_challenge_files`), so a missing folder or an unmatched file
    id raises at once; the audio is read lazily, one example per iteration
    step, in increasing file id.

    Parameters
    ----------
    root : str or os.PathLike
        Folder holding ``farend_speech/`` and ``nearend_mic_signal/`` (and
        optionally ``echo_signal/`` and ``nearend_speech/``).
    sample_rate : int
        Expected sample rate in Hz.

    Returns
    -------
    iterator of EchoExample
        Named ``"fileid_<N>"``; ``meta["files"]`` lists the paths read.

    Raises
    ------
    FileNotFoundError
        If ``root`` or a required folder is missing.
    ValueError
        If a folder holds no ``*_fileid_<N>.wav`` files, or a file id is not
        present in every folder that exists.
    """
    sample_rate = check_positive_int(sample_rate, "sample_rate")
    matched = aec_challenge_files(root)

    def examples() -> Iterator[EchoExample]:
        for file_id, paths in matched:
            signals = {field: read_audio(path, sample_rate) for field, path in paths.items()}
            yield EchoExample(
                sample_rate=sample_rate,
                name=f"fileid_{file_id}",
                meta={"files": {field: str(path) for field, path in paths.items()}},
                **signals,
            )

    return examples()
