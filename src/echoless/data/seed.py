"""The seed assignment's recordings: ``homework_2/real`` and ``homework_2/synth``.

Layout (16 kHz mono WAV)::

    homework_2/
      real/   mic.wav ref.wav            # a laptop recording, a phone video as near end: truth unknown
      synth/  mic.wav ref.wav near.wav   # real echo mixed with clean speech: the near end is known

As in the seed, the true echo of ``synth`` is ``mic - near``.

:func:`download_seed_dataset` fetches them once into a per-user cache folder
(:func:`seed_data_dir`) and reads the cache afterwards. The archive is the
assignment's public Yandex Disk folder (:data:`SEED_PUBLIC_KEY`), reached
through the disk's public-resources API: ``GET .../public/resources/download?public_key=<share link>``
answers JSON whose ``"href"`` is a direct link to a zip file. Only the
standard library talks to the network. The zip is unpacked into a staging
folder inside the cache and renamed into place only once every file checks
out, so an interrupted or damaged download never leaves a half-filled cache.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import stat
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile
import zlib
from pathlib import Path, PureWindowsPath

import platformdirs
import soundfile
from tqdm.auto import tqdm

from echoless._validation import check_positive_float
from echoless.data.example import EchoExample
from echoless.io import read_audio

__all__ = [
    "DATA_DIR_VARIABLE",
    "DISK_API",
    "SEED_KEYWORD",
    "SEED_PUBLIC_KEY",
    "download_seed_dataset",
    "load_seed_dataset",
    "seed_data_dir",
    "seed_or_path",
]

DISK_API = "https://cloud-api.yandex.net/v1/disk/public/resources/download"
# the assignment's public folder; it unzips to homework_2/
SEED_PUBLIC_KEY = "https://disk.yandex.ru/d/C-o9WtGaLt8xow"
# folder that holds homework_2/, instead of the per-user cache
DATA_DIR_VARIABLE = "ECHOLESS_DATA_DIR"
# the name that `echoless demo --data` and `echoless eval` read as "the seed's data set"
SEED_KEYWORD = "seed"
_SAMPLE_RATE = 16000
_LAYOUT = {"real": ("mic", "ref"), "synth": ("mic", "ref", "near")}
_CHUNK = 1 << 20


def _dataset_folder(root: Path) -> Path | None:
    """``root/homework_2`` if present, else ``root`` itself if it holds real/ or synth/."""
    for candidate in (root / "homework_2", root):
        if any((candidate / kind).is_dir() for kind in _LAYOUT):
            return candidate
    return None


def load_seed_dataset(root: str | os.PathLike, sample_rate: int = 16000) -> dict[str, EchoExample]:
    """Load the seed's ``real`` and ``synth`` recordings.

    Parameters
    ----------
    root : str or os.PathLike
        Folder that holds ``homework_2/`` (or the ``homework_2`` folder itself).
    sample_rate : int
        Expected sample rate in Hz.

    Returns
    -------
    dict of str to EchoExample
        One entry per data type found (``"real"``, ``"synth"``). ``synth`` has
        ``near_end = near`` and ``echo = mic - near``; ``real`` has neither.

    Raises
    ------
    FileNotFoundError
        If ``root`` holds neither ``real/`` nor ``synth/``, or a file is missing.
    ValueError
        If a file is not valid mono audio at ``sample_rate`` or the lengths differ.
    """
    root = Path(root)
    folder = _dataset_folder(root)
    if folder is None:
        raise FileNotFoundError(
            f"no seed data set under {root}: expected homework_2/real/{{mic,ref}}.wav "
            "and homework_2/synth/{mic,ref,near}.wav (download_seed_dataset fetches them)"
        )
    examples = {}
    for kind, names in _LAYOUT.items():
        if not (folder / kind).is_dir():
            continue
        signals = {name: read_audio(folder / kind / f"{name}.wav", sample_rate) for name in names}
        try:
            examples[kind] = EchoExample(
                mic=signals["mic"],
                ref=signals["ref"],
                sample_rate=sample_rate,
                near_end=signals.get("near"),
                name=kind,
                meta={"source": str(folder / kind)},
            )
        except ValueError as error:
            raise ValueError(f"{folder / kind}: {error}") from None
    return examples


def seed_data_dir(cache_dir: str | os.PathLike | None = None) -> Path:
    """The folder that holds (or will hold) the seed's ``homework_2/``.

    Parameters
    ----------
    cache_dir : str or os.PathLike, optional
        Use this folder. Default: the ``ECHOLESS_DATA_DIR`` environment
        variable when set, else the per-user cache folder of ``echoless``
        (:func:`platformdirs.user_cache_dir`: ``~/.cache/echoless`` on Linux,
        ``~/Library/Caches/echoless`` on macOS,
        ``%LOCALAPPDATA%\\echoless\\Cache`` on Windows).

    Returns
    -------
    pathlib.Path
    """
    if cache_dir is None:
        cache_dir = os.environ.get(DATA_DIR_VARIABLE) or platformdirs.user_cache_dir("echoless", appauthor=False)
    return Path(cache_dir).expanduser()


def _layout_problem(folder: Path) -> str | None:
    """What is wrong with the seed's files in ``folder`` (a ``homework_2``), or None."""
    for kind, names in _LAYOUT.items():
        for name in names:
            relative = f"{kind}/{name}.wav"
            path = folder / kind / f"{name}.wav"
            if not path.is_file():
                return f"{relative} is missing"
            try:
                info = soundfile.info(str(path))
            except (soundfile.LibsndfileError, RuntimeError):
                return f"{relative} is not readable audio"
            if info.samplerate != _SAMPLE_RATE:
                return f"{relative} is at {info.samplerate} Hz, expected {_SAMPLE_RATE} Hz"
            if info.channels != 1:
                return f"{relative} has {info.channels} channels, expected mono"
    return None


def _extract_safely(archive: Path, target: Path, source: str) -> None:
    """Unzip ``archive`` into ``target``, refusing any member that could land outside it.

    :mod:`zipfile` itself drops absolute and ``..`` parts, but silently,
    writing such a member somewhere else than its name says: it means a wrong
    or hostile archive, so it is refused by name before anything is written.
    A relative name without ``..`` parts stays inside ``target``. Symbolic
    links are refused too (zipfile would write the link text as a plain file).
    """
    try:
        with zipfile.ZipFile(archive) as zipped:
            for member in zipped.infolist():
                name = member.filename
                if stat.S_ISLNK(member.external_attr >> 16):
                    raise ValueError(f"the archive of {source} holds a symbolic link {name!r}: refused")
                posix = name.replace("\\", "/")  # Windows would read a backslash as a separator
                if posix.startswith("/") or PureWindowsPath(name).drive:
                    raise ValueError(f"the archive of {source} holds an absolute path {name!r}: refused")
                if ".." in posix.split("/"):
                    raise ValueError(f"the archive of {source} holds {name!r}, which climbs out of the folder: refused")
            zipped.extractall(target)
    except (zipfile.BadZipFile, zlib.error, EOFError) as error:
        raise ValueError(f"the download of {source} is not a valid zip archive ({error})") from None


def _open(url: str, timeout: float, by_hand: str):
    """``urllib.request.urlopen`` whose failures are one-line ConnectionErrors ending with ``by_hand``."""
    host = urllib.parse.urlsplit(url).netloc or url
    try:
        return urllib.request.urlopen(url, timeout=timeout)
    except urllib.error.HTTPError as error:
        raise ConnectionError(f"{host} answered HTTP {error.code} ({error.reason}): {by_hand}") from None
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise ConnectionError(f"cannot reach {host} ({reason}), no network? {by_hand}") from None


def _download(url: str, archive: Path, timeout: float, progress: bool, source: str, by_hand: str) -> None:
    """Save ``url`` to ``archive`` with a progress bar; a short or broken transfer is a ConnectionError."""
    with _open(url, timeout, by_hand) as response, open(archive, "wb") as file:
        length = response.headers.get("Content-Length")
        expected = int(length) if length else None
        received = 0
        bar = tqdm(total=expected, unit="B", unit_scale=True, desc="seed data set", disable=None if progress else True)
        with bar:
            try:
                while chunk := response.read(_CHUNK):
                    file.write(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
            except (OSError, http.client.HTTPException) as error:  # socket timeouts and resets included
                raise ConnectionError(f"the download of {source} was interrupted ({error}): {by_hand}") from None
    if expected is not None and received < expected:
        # http.client ends a read quietly when the server closes early
        raise ConnectionError(
            f"the download of {source} was interrupted after {received} of {expected} bytes: {by_hand}"
        )


def download_seed_dataset(
    cache_dir: str | os.PathLike | None = None,
    public_key: str = SEED_PUBLIC_KEY,
    *,
    api_url: str | None = None,
    timeout: float = 60.0,
    progress: bool = True,
) -> Path:
    """The seed's ``homework_2/`` folder, downloaded into the cache on first use.

    When ``cache_dir/homework_2`` already holds the data set, it is checked
    and returned without touching the network. Otherwise the archive is
    downloaded (with a progress bar), unzipped into a staging folder, checked
    and renamed into place.

    Parameters
    ----------
    cache_dir : str or os.PathLike, optional
        Folder that holds ``homework_2/``. Default: :func:`seed_data_dir`
        (``$ECHOLESS_DATA_DIR``, else the per-user cache, e.g. ``~/.cache/echoless``).
    public_key : str
        Public share link of the archive on Yandex Disk. Default: the
        assignment's folder, :data:`SEED_PUBLIC_KEY`.
    api_url : str, optional
        Public-resources download endpoint of the disk API. Default:
        :data:`DISK_API`.
    timeout : float
        Seconds to wait for the server on each request.
    progress : bool
        Show a download progress bar (quiet when stderr is not a terminal).

    Returns
    -------
    pathlib.Path
        ``cache_dir/homework_2``, holding ``real/{mic,ref}.wav`` and
        ``synth/{mic,ref,near}.wav``, all mono at 16 kHz;
        :func:`load_seed_dataset` reads it.

    Raises
    ------
    ValueError
        If the archive is not a valid zip, holds a member that would land
        outside the cache folder (``..``, an absolute path, a symbolic link),
        or lacks one of the files or has one at another rate or with several
        channels (the message names the file); also if an existing
        ``cache_dir/homework_2`` is not usable (it is left as it is).
    ConnectionError
        If the network or the server is unreachable, the API answers without
        a download link, or the download breaks off. The one-line message says
        which link to download by hand and where to unzip it.
    """
    cache = seed_data_dir(cache_dir)
    folder = cache / "homework_2"
    if folder.exists():
        problem = _layout_problem(folder)
        if problem:
            raise ValueError(
                f"the seed data set in {folder} is not usable: {problem}; delete the folder to download it again"
            )
        return folder
    if not isinstance(public_key, str) or not public_key:
        raise ValueError(f"public_key must be a share link such as {SEED_PUBLIC_KEY}, got {public_key!r}")
    timeout = check_positive_float(timeout, "timeout")
    by_hand = f"download {public_key} by hand and unzip it into {cache} (it holds homework_2/)"
    cache.mkdir(parents=True, exist_ok=True)

    query = urllib.parse.urlencode({"public_key": public_key})
    with _open(f"{api_url or DISK_API}?{query}", timeout, by_hand) as response:
        try:
            href = json.load(response)["href"]
        except (ValueError, KeyError, TypeError):
            raise ConnectionError(f"the disk API answered without a download link for {public_key}: {by_hand}") from None

    staging = Path(tempfile.mkdtemp(prefix=".homework_2.partial-", dir=cache))
    try:
        archive = staging / "archive.zip"
        _download(href, archive, timeout, progress, public_key, by_hand)
        unpacked = staging / "unpacked"
        _extract_safely(archive, unpacked, public_key)
        found = _dataset_folder(unpacked)
        problem = "no homework_2/real or homework_2/synth folder" if found is None else _layout_problem(found)
        if problem:
            raise ValueError(f"the archive of {public_key} is not the seed data set: {problem}")
        try:
            os.replace(found, folder)
        except OSError:
            # another process filled the cache first: keep its copy if it is whole
            if _layout_problem(folder) is not None:
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder


def seed_or_path(root: str | os.PathLike, *, progress: bool = True) -> Path:
    """``root`` as a path, or the seed's data set for the keyword ``"seed"``.

    Parameters
    ----------
    root : str or os.PathLike
        A folder, or the string ``"seed"`` (:data:`SEED_KEYWORD`): the
        folder :func:`download_seed_dataset` returns, downloaded on first
        use. A folder named ``seed`` is ``"./seed"`` or a ``pathlib.Path``.
    progress : bool
        Show the download's progress bar.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    ValueError, ConnectionError
        As :func:`download_seed_dataset`.
    """
    if isinstance(root, str) and root == SEED_KEYWORD:
        return download_seed_dataset(progress=progress)
    return Path(root)
