"""A scene (or your own recording) as a folder: WAV files plus ``meta.json``.

::

    folder/
      mic.wav    ref.wav      # always
      near.wav   echo.wav     # when the truth is known (near.wav = near end incl. noise)
      meta.json  # {"name": ..., "sample_rate": ..., "meta": {...}}

The WAV files are 32-bit float, so a round trip changes each sample by at
most float32 rounding (relative 6e-8) and never clips. To evaluate on your
own recordings, make a folder with ``mic.wav`` and ``ref.wav`` (any subtype;
``meta.json`` optional) and call :func:`load_scene`.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from echoless.data.example import EchoExample
from echoless.data.scenes import Scene
from echoless.io import read_audio, write_audio

__all__ = ["load_scene", "save_scene"]

# EchoExample field -> file name
_FILES = {"mic": "mic.wav", "ref": "ref.wav", "near_end": "near.wav", "echo": "echo.wav"}
_META = "meta.json"


def _json_safe(value: Any) -> Any:
    """Numpy scalars and arrays as plain Python; non-finite floats as strings ("inf")."""
    if isinstance(value, dict):
        return {str(key): _json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_json_safe(item) for item in (value.tolist() if isinstance(value, np.ndarray) else value)]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def save_scene(scene: Scene | EchoExample, folder: str | os.PathLike) -> Path:
    """Write a scene or example to ``folder`` (created if needed).

    Parameters
    ----------
    scene : Scene or EchoExample
        A :class:`Scene` is saved as its :meth:`Scene.to_example`.
    folder : str or os.PathLike
        Destination folder. Existing files of the same names are replaced,
        unless they were read as inputs in this run (see :mod:`echoless.io`).

    Returns
    -------
    pathlib.Path
        ``folder``.
    """
    if isinstance(scene, Scene):
        scene = scene.to_example()
    if not isinstance(scene, EchoExample):
        raise TypeError(f"scene must be a Scene or an EchoExample, got {type(scene).__name__}")
    folder = Path(folder)
    for field, file_name in _FILES.items():
        signal = getattr(scene, field)
        if signal is not None:
            write_audio(folder / file_name, signal, scene.sample_rate, subtype="FLOAT")
    document = {"name": scene.name, "sample_rate": scene.sample_rate, "meta": _json_safe(scene.meta)}
    (folder / _META).write_text(json.dumps(document, indent=2) + "\n")
    return folder


def scene_document(folder: str | os.PathLike) -> dict[str, Any]:
    """The content of a scene folder's ``meta.json`` (``name``, ``sample_rate``, ``meta``), or ``{}``
    when it has none.

    Raises
    ------
    ValueError
        If ``meta.json`` is not valid JSON.
    """
    path = Path(folder) / _META
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not valid JSON ({error})") from None


def load_scene(folder: str | os.PathLike, sample_rate: int | None = None) -> EchoExample:
    """Read a folder written by :func:`save_scene`, or one with your own recordings.

    Parameters
    ----------
    folder : str or os.PathLike
        Holds ``mic.wav`` and ``ref.wav``, optionally ``near.wav``,
        ``echo.wav`` and ``meta.json``.
    sample_rate : int, optional
        Expected sample rate in Hz. Default: the one in ``meta.json``, else 16000.

    Returns
    -------
    EchoExample
        Named after ``meta.json`` or, without it, after the folder.

    Raises
    ------
    FileNotFoundError
        If the folder, ``mic.wav`` or ``ref.wav`` is missing.
    ValueError
        If a file is not mono audio at the sample rate, or the lengths differ.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"scene folder not found: {folder}")
    document = scene_document(folder)
    if sample_rate is None:
        sample_rate = int(document.get("sample_rate", 16000))
    signals = {
        field: read_audio(folder / file_name, sample_rate)
        for field, file_name in _FILES.items()
        if field in ("mic", "ref") or (folder / file_name).is_file()
    }
    try:
        return EchoExample(
            sample_rate=sample_rate,
            name=str(document.get("name") or folder.resolve().name),  # resolve: Path(".").name is ""
            meta=document.get("meta", {}),
            **signals,
        )
    except ValueError as error:
        raise ValueError(f"{folder}: {error}") from None
