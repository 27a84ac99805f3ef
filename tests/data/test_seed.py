"""load_seed_dataset on files the test writes; download_seed_dataset against a local fake server."""

import io
import json
import os
import urllib.error
import urllib.request
import zipfile

import numpy as np
import pytest
import soundfile

from echoless.data import download_seed_dataset, load_seed_dataset

SR = 16000


def _seed_files(root, rng):
    signals = {}
    for kind, names in {"real": ("mic", "ref"), "synth": ("mic", "ref", "near")}.items():
        (root / "homework_2" / kind).mkdir(parents=True)
        for name in names:
            signal = rng.uniform(-0.5, 0.5, 800).astype(np.float32)
            soundfile.write(root / "homework_2" / kind / f"{name}.wav", signal, SR, subtype="FLOAT")
            signals[kind, name] = signal.astype(np.float64)
    return signals


def test_load_seed_dataset_builds_echo_as_the_seed(tmp_path):
    signals = _seed_files(tmp_path, np.random.default_rng(0))
    data = load_seed_dataset(tmp_path)
    assert set(data) == {"real", "synth"}
    synth, real = data["synth"], data["real"]
    np.testing.assert_array_equal(synth.mic, signals["synth", "mic"])
    np.testing.assert_array_equal(synth.ref, signals["synth", "ref"])
    np.testing.assert_array_equal(synth.near_end, signals["synth", "near"])
    np.testing.assert_array_equal(synth.echo, signals["synth", "mic"] - signals["synth", "near"])
    np.testing.assert_array_equal(real.mic, signals["real", "mic"])
    assert real.near_end is None and real.echo is None and real.name == "real"
    # the homework_2 folder itself works as root too
    assert set(load_seed_dataset(tmp_path / "homework_2")) == {"real", "synth"}


def test_load_seed_dataset_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no seed data set under .*homework_2/real"):
        load_seed_dataset(tmp_path)
    (tmp_path / "homework_2" / "synth").mkdir(parents=True)
    soundfile.write(tmp_path / "homework_2" / "synth" / "mic.wav", np.zeros(10), SR)
    soundfile.write(tmp_path / "homework_2" / "synth" / "ref.wav", np.zeros(12), SR)
    with pytest.raises(FileNotFoundError, match="audio file not found: .*near.wav"):
        load_seed_dataset(tmp_path)
    soundfile.write(tmp_path / "homework_2" / "synth" / "near.wav", np.zeros(10), SR)
    with pytest.raises(ValueError, match="synth: mic and ref must have the same length, got 10 and 12"):
        load_seed_dataset(tmp_path)


def _zip_of(tmp_path):
    source = tmp_path / "source"
    _seed_files(source, np.random.default_rng(1))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(source.rglob("*.wav")):
            archive.write(path, path.relative_to(source).as_posix())
    return buffer.getvalue()


class _Response(io.BytesIO):
    def __init__(self, payload):
        super().__init__(payload)
        self.headers = {"Content-Length": str(len(payload))}


def _fake_server(monkeypatch, answers):
    """Serve ``answers[url prefix]`` (bytes or an exception) instead of the network; record the URLs."""
    requested = []

    def urlopen(url, timeout):
        requested.append(url)
        for prefix, answer in answers.items():
            if url.startswith(prefix):
                if isinstance(answer, Exception):
                    raise answer
                return _Response(answer)
        raise AssertionError(f"unexpected URL {url}")

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    return requested


API = "https://cloud-api.yandex.net/v1/disk/public/resources/download"


def test_download_follows_the_api_link_and_unpacks(tmp_path, monkeypatch):
    payload = _zip_of(tmp_path)
    requested = _fake_server(
        monkeypatch,
        {API: json.dumps({"href": "https://downloader.example/archive.zip"}).encode(), "https://downloader.example/": payload},
    )
    dest = download_seed_dataset(tmp_path / "seed", "https://disk.yandex.ru/d/abc", progress=False)
    assert requested[0] == f"{API}?public_key=https%3A%2F%2Fdisk.yandex.ru%2Fd%2Fabc"
    assert requested[1] == "https://downloader.example/archive.zip"
    assert set(load_seed_dataset(dest)) == {"real", "synth"}
    assert sorted(os.listdir(tmp_path)) == ["seed", "source"]  # no staging folder left


def test_no_network_is_a_clear_connection_error_and_leaves_nothing(tmp_path, monkeypatch):
    _fake_server(monkeypatch, {API: urllib.error.URLError("Name or service not known")})
    with pytest.raises(ConnectionError, match="cannot reach cloud-api.yandex.net .*no network"):
        download_seed_dataset(tmp_path / "seed", "https://disk.yandex.ru/d/abc", progress=False)
    assert os.listdir(tmp_path) == []


def test_interrupted_or_bad_archive_leaves_no_half_extracted_folder(tmp_path, monkeypatch):
    payload = _zip_of(tmp_path)
    link = json.dumps({"href": "https://downloader.example/archive.zip"}).encode()
    _fake_server(monkeypatch, {API: link, "https://downloader.example/": payload[: len(payload) // 2]})
    with pytest.raises(ValueError, match="is not a zip archive"):
        download_seed_dataset(tmp_path / "seed", "https://disk.yandex.ru/d/abc", progress=False)
    assert sorted(os.listdir(tmp_path)) == ["source"]

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("readme.txt", "nothing useful")
    _fake_server(monkeypatch, {API: link, "https://downloader.example/": buffer.getvalue()})
    with pytest.raises(ValueError, match="holds no homework_2/real or homework_2/synth folder"):
        download_seed_dataset(tmp_path / "seed", "https://disk.yandex.ru/d/abc", progress=False)
    assert sorted(os.listdir(tmp_path)) == ["source"]


def test_connection_lost_during_download(tmp_path, monkeypatch):
    class Broken(_Response):
        def read(self, size=-1):
            if self.tell() > 0:
                raise TimeoutError("timed out")
            return super().read(10)

    link = json.dumps({"href": "https://downloader.example/archive.zip"}).encode()
    _fake_server(monkeypatch, {API: link})
    original = urllib.request.urlopen
    monkeypatch.setattr(
        urllib.request, "urlopen", lambda url, timeout: Broken(b"x" * 100) if "downloader" in url else original(url, timeout)
    )
    with pytest.raises(ConnectionError, match="the download from .* was interrupted \\(timed out\\)"):
        download_seed_dataset(tmp_path / "seed", "https://disk.yandex.ru/d/abc", progress=False)
    assert os.listdir(tmp_path) == []


def test_download_argument_and_api_errors(tmp_path, monkeypatch):
    monkeypatch.delenv("ECHOLESS_SEED_PUBLIC_KEY", raising=False)
    with pytest.raises(ValueError, match="public_key is needed"):
        download_seed_dataset(tmp_path / "seed")
    (tmp_path / "exists").mkdir()
    with pytest.raises(ValueError, match="already exists"):
        download_seed_dataset(tmp_path / "exists", "https://disk.yandex.ru/d/abc")
    _fake_server(monkeypatch, {API: b'{"error": "DiskNotFoundError"}'})
    with pytest.raises(ConnectionError, match="answered without a download link"):
        download_seed_dataset(tmp_path / "seed", "https://disk.yandex.ru/d/abc", progress=False)
    _fake_server(monkeypatch, {API: urllib.error.HTTPError(API, 404, "Not Found", {}, None)})
    with pytest.raises(ConnectionError, match="answered HTTP 404"):
        download_seed_dataset(tmp_path / "seed", "https://disk.yandex.ru/d/abc", progress=False)
