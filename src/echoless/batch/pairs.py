"""Which recordings a corpus holds: (microphone, reference) file pairs, and where each output goes.

:func:`find_pairs` understands four ways of naming a corpus:

* a folder (searched recursively) of microphone files whose names end in
  ``mic``: ``x_mic.wav`` pairs with ``x_lpb.wav`` (the AEC Challenge's
  loopback) or ``x_ref.wav``, and a scene folder's ``mic.wav`` with
  ``ref.wav``; ``x_near.wav`` / ``near.wav`` and ``x_echo.wav`` /
  ``echo.wav`` beside them are the truth of simulated data
  (:func:`echoless.data.save_scene` writes such folders);
* a glob of microphone files, ``"corpus/**/*_mic.wav"`` (quote it, so that
  the shell does not expand it), or a folder with ``pattern``;
* an ICASSP AEC-Challenge synthetic folder (``nearend_mic_signal/``,
  ``farend_speech/``, optionally ``echo_signal/`` and ``nearend_speech/``:
  :func:`echoless.data.aec_challenge.aec_challenge_files`);
* a manifest CSV with the columns ``mic``, ``ref`` and optionally ``out``,
  ``near``, ``echo`` (paths relative to the manifest's folder; ``out``
  relative to the output folder).

Each output mirrors its microphone file's path below the corpus root, so
``corpus/a/x_mic.wav`` becomes ``OUT/a/x_mic.wav``, the name the AEC
Challenge expects of a processed clip.
"""

from __future__ import annotations

import csv
import glob
import os
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

__all__ = ["FilePair", "find_pairs"]

#: File suffixes searched in a folder (formats libsndfile reads losslessly).
AUDIO_SUFFIXES = (".wav", ".flac")
_MIC_STEM = re.compile(r"mic$", re.IGNORECASE)
_GLOB_MAGIC = re.compile(r"[*?[]")


@dataclass(frozen=True)
class FilePair:
    """One recording of a corpus.

    Attributes
    ----------
    name : str
        Its label in tables (``"scene03"``, ``"a/x"``, ``"fileid_7"``).
    mic : pathlib.Path
        Microphone file.
    ref : pathlib.Path or None
        Far-end reference file; None when none was found beside ``mic`` (the
        run reports that pair as failed).
    out : str
        Output path relative to the output folder, POSIX style.
    near, echo : pathlib.Path, optional
        True near end and echo, when the corpus is simulated.
    """

    name: str
    mic: Path
    ref: Path | None
    out: str
    near: Path | None = None
    echo: Path | None = None


def find_pairs(
    source: str | os.PathLike, pattern: str | None = None, *, exclude: str | os.PathLike | None = None
) -> list[FilePair]:
    """The recordings of a folder, glob, AEC-Challenge folder or manifest CSV (see the module notes).

    Parameters
    ----------
    source : str or os.PathLike
        Folder, glob, AEC-Challenge synthetic folder or ``.csv`` manifest.
    pattern : str, optional
        Glob of the microphone files below a folder ``source``
        (default: every ``*mic.wav`` and ``*mic.flac``, recursively).
    exclude : str or os.PathLike, optional
        A folder whose files are never inputs (the output folder, when it lies
        inside the corpus).

    Returns
    -------
    list of FilePair
        In sorted order of the microphone files (manifest: its row order).

    Raises
    ------
    FileNotFoundError
        If ``source`` does not exist.
    ValueError
        If it holds no recordings, a microphone file name does not end in
        ``mic`` (folder and glob), a manifest lacks a column or names an
        output outside the output folder, or two recordings would write the
        same output.
    """
    text = os.fspath(source)
    path = Path(text)
    if not path.exists() and _GLOB_MAGIC.search(text):
        root, pattern = _split_glob(text)
        pairs = _from_mic_files(root, pattern, exclude)
    elif not path.exists():
        raise FileNotFoundError(f"corpus not found: {path}")
    elif path.is_file():
        if path.suffix.lower() != ".csv":
            raise ValueError(f"{path} is a file but not a .csv manifest (columns mic, ref[, out, near, echo])")
        pairs = _from_manifest(path)
    elif pattern is None and (path / "nearend_mic_signal").is_dir():
        pairs = _from_aec_challenge(path)
    else:
        pairs = _from_mic_files(path, pattern, exclude)
    if not pairs:
        raise ValueError(
            f"{path} holds no recordings: it is neither a scene folder (mic.wav, ref.wav), an AEC-Challenge folder "
            "(*_mic.wav with *_lpb.wav, or nearend_mic_signal/ with farend_speech/) nor a folder of them"
            + (f" (pattern {pattern!r})" if pattern else "")
        )
    seen: dict[str, Path] = {}
    for pair in pairs:
        if pair.out in seen:
            raise ValueError(f"{seen[pair.out]} and {pair.mic} would both be written to {pair.out}")
        seen[pair.out] = pair.mic
    return pairs


def _split_glob(text: str) -> tuple[Path, str]:
    """``"data/a/**/*_mic.wav"`` -> (``data/a``, ``"**/*_mic.wav"``): the folder before the first wildcard."""
    parts = PurePosixPath(text.replace(os.sep, "/")).parts
    first = next(i for i, part in enumerate(parts) if _GLOB_MAGIC.search(part))
    return Path(*parts[:first]) if first else Path("."), "/".join(parts[first:])


def _from_mic_files(root: Path, pattern: str | None, exclude) -> list[FilePair]:
    excluded = None if exclude is None else Path(exclude).resolve()
    if pattern is None:
        candidates = (p for p in root.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES and _MIC_STEM.search(p.stem))
    else:
        candidates = (Path(p) for p in glob.glob(os.path.join(glob.escape(str(root)), pattern), recursive=True))
    mics = sorted(
        p for p in candidates
        if p.is_file() and not (excluded is not None and p.resolve().is_relative_to(excluded))
    )
    return [_pair_of(mic, root) for mic in mics]


def _pair_of(mic: Path, root: Path) -> FilePair:
    """The pair of a microphone file named ``<prefix>mic.<suffix>``, found by name beside it."""
    if not _MIC_STEM.search(mic.stem):
        raise ValueError(
            f"cannot tell the reference of {mic}: microphone file names end in 'mic' (x_mic.wav with x_lpb.wav "
            "or x_ref.wav; mic.wav with ref.wav); list other names in a manifest CSV (mic, ref, out)"
        )
    prefix = mic.stem[:-3]

    def beside(*roles: str) -> Path | None:
        for role in roles:
            candidate = mic.with_name(f"{prefix}{role}{mic.suffix}")
            if candidate.is_file():
                return candidate
        return None

    relative = mic.relative_to(root)
    name = (relative.parent / prefix).as_posix().rstrip("_-. /")
    if name in ("", "."):
        name = root.resolve().name
    return FilePair(name=name, mic=mic, ref=beside("lpb", "ref"), out=relative.as_posix(),
                    near=beside("near"), echo=beside("echo"))


def _from_aec_challenge(root: Path) -> list[FilePair]:
    from echoless.data.aec_challenge import aec_challenge_files

    return [
        FilePair(name=f"fileid_{file_id}", mic=paths["mic"], ref=paths["ref"],
                 out=paths["mic"].relative_to(root).as_posix(), near=paths.get("near_end"), echo=paths.get("echo"))
        for file_id, paths in aec_challenge_files(root)
    ]


def _from_manifest(manifest: Path) -> list[FilePair]:
    folder = manifest.parent
    with manifest.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    columns = set(rows[0]) if rows else set()
    if not {"mic", "ref"} <= columns:
        raise ValueError(f"{manifest} needs the columns mic and ref (optional: out, near, echo), got {sorted(columns)}")
    pairs = []
    for line, row in enumerate(rows, start=2):
        mic = folder / row["mic"]
        if row.get("out"):
            out = PurePosixPath(row["out"].replace(os.sep, "/"))
        else:  # mirror the microphone's path, or take its name when it lies outside the manifest's folder
            out = PurePosixPath(row["mic"].replace(os.sep, "/"))
            out = PurePosixPath(out.name) if out.is_absolute() or ".." in out.parts else out
        if out.is_absolute() or ".." in out.parts:
            raise ValueError(f"{manifest}, line {line}: out {str(out)!r} must be a path inside the output folder")
        optional = {key: folder / row[key] for key in ("near", "echo") if row.get(key)}
        pairs.append(FilePair(name=out.with_suffix("").as_posix(), mic=mic, ref=folder / row["ref"],
                              out=out.as_posix(), **optional))
    return pairs
