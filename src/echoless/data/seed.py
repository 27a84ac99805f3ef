"""The seed assignment's recordings: ``homework_2/real`` and ``homework_2/synth``.

Layout (16 kHz mono WAV)::

    homework_2/
      real/   mic.wav ref.wav            # a real recording: truth unknown
      synth/  mic.wav ref.wav near.wav   # synthetic: the near end is known

As in the seed, the true echo of ``synth`` is ``mic - near``.

The seed fetched the archive from a public cloud-disk share through the
Yandex Disk public-resources API: ``GET .../public/resources/download?public_key=<share link>``
answers JSON whose ``"href"`` is a direct link to a zip file.
:func:`download_seed_dataset` does the same with the standard library only,
and unpacks into a temporary folder next to the destination that is renamed
into place at the end, so an interrupted download never leaves a
half-extracted data set behind.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path

from tqdm.auto import tqdm

from echoless._validation import check_positive_float
from echoless.data.example import EchoExample
from echoless.io import read_audio

__all__ = ["DISK_API", "download_seed_dataset", "load_seed_dataset"]

DISK_API = "https://cloud-api.yandex.net/v1/disk/public/resources/download"
# The seed's share link is not bundled; users pass it or set this variable.
PUBLIC_KEY_VARIABLE = "ECHOLESS_SEED_PUBLIC_KEY"
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


def _open(url: str, timeout: float):
    """``urllib.request.urlopen`` whose failures are ConnectionErrors that say what to do."""
    host = urllib.parse.urlsplit(url).netloc or url
    try:
        return urllib.request.urlopen(url, timeout=timeout)
    except urllib.error.HTTPError as error:
        raise ConnectionError(f"{host} answered HTTP {error.code} ({error.reason}) for {url}") from None
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise ConnectionError(
            f"cannot reach {host} ({reason}): no network? Check the connection, "
            "or download the archive by hand and unzip it"
        ) from None


def download_seed_dataset(
    dest: str | os.PathLike,
    public_key: str | None = None,
    *,
    api_url: str = DISK_API,
    timeout: float = 60.0,
    progress: bool = True,
) -> Path:
    """Download and unpack the seed's data set into ``dest``.

    Parameters
    ----------
    dest : str or os.PathLike
        Folder to create; afterwards ``load_seed_dataset(dest)`` reads it. It
        must not exist yet.
    public_key : str, optional
        Public share link of the archive (the seed's Yandex Disk link).
        Default: the ``ECHOLESS_SEED_PUBLIC_KEY`` environment variable.
    api_url : str
        Public-resources download endpoint of the disk API.
    timeout : float
        Seconds to wait for the server on each request.
    progress : bool
        Show a download progress bar.

    Returns
    -------
    pathlib.Path
        ``dest``.

    Raises
    ------
    ValueError
        If no ``public_key`` is known, ``dest`` exists, or the archive is not
        a zip holding the seed's layout.
    ConnectionError
        If the network or the server is unreachable, the API answers without
        a download link, or the download breaks off.
    """
    dest = Path(dest)
    public_key = public_key or os.environ.get(PUBLIC_KEY_VARIABLE)
    if not public_key:
        raise ValueError(
            f"public_key is needed: pass the seed's share link (https://disk.yandex.ru/d/...) "
            f"or set {PUBLIC_KEY_VARIABLE}"
        )
    timeout = check_positive_float(timeout, "timeout")
    if dest.exists():
        raise ValueError(f"dest {dest} already exists: remove it or choose another folder")
    dest.parent.mkdir(parents=True, exist_ok=True)

    query = urllib.parse.urlencode({"public_key": public_key})
    with _open(f"{api_url}?{query}", timeout) as response:
        try:
            href = json.load(response)["href"]
        except (ValueError, KeyError, TypeError):
            raise ConnectionError(f"the disk API at {api_url} answered without a download link") from None

    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.partial-", dir=dest.parent))
    try:
        archive = staging / "archive.zip"
        with _open(href, timeout) as response, open(archive, "wb") as file:
            total = response.headers.get("Content-Length")
            with tqdm(
                total=int(total) if total else None,
                unit="B",
                unit_scale=True,
                desc="seed data set",
                disable=None if progress else True,
            ) as bar:
                try:
                    while chunk := response.read(_CHUNK):
                        file.write(chunk)
                        bar.update(len(chunk))
                except OSError as error:  # includes socket timeouts and resets
                    raise ConnectionError(f"the download from {href} was interrupted ({error})") from None
        unpacked = staging / "unpacked"
        try:
            with zipfile.ZipFile(archive) as zipped:
                zipped.extractall(unpacked)  # zipfile drops absolute paths and ".." parts
        except zipfile.BadZipFile:
            raise ValueError(f"the download from {href} is not a zip archive") from None
        if _dataset_folder(unpacked) is None:
            raise ValueError(f"the archive from {href} holds no homework_2/real or homework_2/synth folder")
        os.replace(unpacked, dest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return dest

