"""download_seed_dataset against a local HTTP server on 127.0.0.1: no internet needed.

The server answers the disk API's JSON step (``/api?public_key=...`` ->
``{"href": ".../archive.zip"}``) and serves a small zip shaped like the real
one (``homework_2/real/{mic,ref}.wav``, ``homework_2/synth/{mic,ref,near}.wav``).
"""

import collections
import io
import json
import socket
import stat
import threading
import urllib.parse
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
import soundfile

from echoless.cli import main
from echoless.data import download_seed_dataset, load_seed_dataset
from echoless.data import seed as seed_module
from echoless.data.seed import DATA_DIR_VARIABLE, SEED_PUBLIC_KEY, seed_data_dir, seed_or_path

SR = 16000
FILES = ("real/mic", "real/ref", "synth/mic", "synth/ref", "synth/near")


def _wav(rate=SR, channels=1, seconds=0.1, seed=0):
    """A short random WAV file (16-bit PCM, as the seed's), as bytes."""
    signal = np.random.default_rng(seed).uniform(-0.5, 0.5, (int(seconds * rate), channels))
    buffer = io.BytesIO()
    soundfile.write(buffer, signal, rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def _seed_files(**replace):
    """``{"homework_2/real/mic.wav": bytes, ...}``; ``replace={"synth/near": None}`` drops a file."""
    files = {name: _wav(seed=index) for index, name in enumerate(FILES)}
    files.update(replace)
    return {f"homework_2/{name}.wav": data for name, data in files.items() if data is not None}


def _zip(files, extra=()):
    """A zip of ``files`` (name -> bytes) plus ``extra`` (ZipInfo, bytes) members."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
        for info, data in extra:
            archive.writestr(info, data)
    return buffer.getvalue()


def _closed_port_url():
    """An http URL on 127.0.0.1 where nothing listens: a connection is refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/api"


class _DiskServer:
    """What the local server answers; ``hits`` counts requests per path."""

    def __init__(self):
        self.archive = _zip(_seed_files())
        self.truncate = False  # announce the whole archive, send half of it
        self.before_archive = None  # called before the archive is sent
        self.hits = collections.Counter()
        self.keys = []
        self.url = ""

    @property
    def api(self):
        return f"{self.url}/api"


@pytest.fixture
def disk(monkeypatch):
    monkeypatch.setenv("no_proxy", "127.0.0.1")  # a developer's proxy must not see the local server
    state = _DiskServer()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            url = urllib.parse.urlsplit(self.path)
            state.hits[url.path] += 1
            if url.path == "/api":
                state.keys.append(urllib.parse.parse_qs(url.query)["public_key"][0])
                self._send(json.dumps({"href": f"{state.url}/archive.zip"}).encode())
            elif url.path == "/no-link":
                self._send(b'{"error": "DiskNotFoundError"}')
            elif url.path == "/archive.zip":
                if state.before_archive:
                    state.before_archive()
                self._send(state.archive, truncate=state.truncate)
            else:
                self.send_error(404)

        def _send(self, body, truncate=False):
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2] if truncate else body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
    thread.join()


def test_first_call_downloads_and_second_call_reads_the_cache_offline(disk, tmp_path):
    cache = tmp_path / "cache"
    folder = download_seed_dataset(cache, api_url=disk.api, progress=False)
    assert folder == cache / "homework_2"
    assert disk.keys == [SEED_PUBLIC_KEY]  # the assignment's folder by default
    assert disk.hits == {"/api": 1, "/archive.zip": 1}
    for name, data in _seed_files().items():
        assert (cache / name).read_bytes() == data
    assert [path.name for path in cache.iterdir()] == ["homework_2"]  # no staging folder left
    data = load_seed_dataset(folder)
    assert set(data) == {"real", "synth"} and data["synth"].near_end is not None

    # the second call must not touch the network: the API URL now refuses connections
    assert download_seed_dataset(cache, api_url=_closed_port_url(), progress=False) == folder
    assert disk.hits == {"/api": 1, "/archive.zip": 1}


def test_cache_folder_from_argument_then_environment(disk, tmp_path, monkeypatch):
    monkeypatch.setenv(DATA_DIR_VARIABLE, str(tmp_path / "from_env"))
    assert seed_data_dir() == tmp_path / "from_env"
    assert seed_data_dir(tmp_path / "argument") == tmp_path / "argument"
    folder = download_seed_dataset(api_url=disk.api, public_key="https://disk.yandex.ru/d/other", progress=False)
    assert folder == tmp_path / "from_env" / "homework_2"
    assert disk.keys == ["https://disk.yandex.ru/d/other"]
    monkeypatch.delenv(DATA_DIR_VARIABLE)
    assert seed_data_dir().name in ("echoless", "Cache")  # the per-user cache of platformdirs


def _refused(disk, tmp_path, match):
    """download_seed_dataset raises ValueError matching ``match`` and leaves an empty cache."""
    cache = tmp_path / "cache"
    with pytest.raises(ValueError, match=match):
        download_seed_dataset(cache, api_url=disk.api, progress=False)
    assert list(cache.iterdir()) == []


def test_corrupt_zip_is_refused_and_leaves_no_cache(disk, tmp_path):
    whole = disk.archive
    disk.archive = whole[: len(whole) // 2]  # sent whole, but not a zip: its directory is cut off
    _refused(disk, tmp_path, "the download of https://disk.yandex.ru/d/C-o9WtGaLt8xow is not a valid zip archive")
    # a damaged byte inside a member's compressed data
    start = whole.index(b"homework_2/real/mic.wav") + len("homework_2/real/mic.wav") + 200
    disk.archive = whole[:start] + bytes([whole[start] ^ 0xFF]) + whole[start + 1 :]
    _refused(disk, tmp_path, "is not a valid zip archive")


def _link(name):
    info = zipfile.ZipInfo(name)
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info


@pytest.mark.parametrize(
    ("member", "match"),
    [
        (zipfile.ZipInfo("../evil.txt"), "holds '../evil.txt', which climbs out of the folder: refused"),
        (zipfile.ZipInfo("homework_2/../../evil.txt"), "holds 'homework_2/../../evil.txt', which climbs out"),
        (zipfile.ZipInfo("..\\evil.txt"), "which climbs out of the folder"),
        (zipfile.ZipInfo("/tmp/evil.txt"), "holds an absolute path '/tmp/evil.txt': refused"),
        (zipfile.ZipInfo("C:/evil.txt"), "holds an absolute path 'C:/evil.txt': refused"),
        (_link("homework_2/real/evil"), "holds a symbolic link 'homework_2/real/evil': refused"),
    ],
)
def test_member_that_could_land_outside_the_folder_is_refused(disk, tmp_path, member, match):
    disk.archive = _zip(_seed_files(), extra=[(member, b"evil")])
    _refused(disk, tmp_path, match)
    assert not any(path.name == "evil.txt" or path.name == "evil" for path in tmp_path.rglob("*"))


def test_missing_file_is_named(disk, tmp_path):
    disk.archive = _zip(_seed_files(**{"synth/near": None}))
    _refused(disk, tmp_path, "is not the seed data set: synth/near.wav is missing")
    disk.archive = _zip({"readme.txt": b"nothing useful"})
    _refused(disk, tmp_path, "is not the seed data set: no homework_2/real or homework_2/synth folder")


@pytest.mark.parametrize(
    ("replace", "match"),
    [
        ({"real/ref": _wav(rate=8000)}, "real/ref.wav is at 8000 Hz, expected 16000 Hz"),
        ({"synth/mic": _wav(channels=2)}, "synth/mic.wav has 2 channels, expected mono"),
        ({"real/mic": b"not audio"}, "real/mic.wav is not readable audio"),
    ],
)
def test_wrong_rate_channels_or_format_is_named(disk, tmp_path, replace, match):
    disk.archive = _zip(_seed_files(**replace))
    _refused(disk, tmp_path, match)


def test_no_network_says_what_to_download_and_where_in_one_line(tmp_path):
    cache = tmp_path / "cache"
    with pytest.raises(ConnectionError) as error:
        download_seed_dataset(cache, api_url=_closed_port_url(), progress=False)
    message = str(error.value)
    assert "\n" not in message
    assert message.startswith("cannot reach 127.0.0.1:")
    assert message.endswith(f"download {SEED_PUBLIC_KEY} by hand and unzip it into {cache} (it holds homework_2/)")
    assert list(cache.iterdir()) == []


def test_broken_download_or_api_answer_is_a_connection_error(disk, tmp_path):
    cache = tmp_path / "cache"
    disk.truncate = True
    with pytest.raises(ConnectionError, match=r"was interrupted after \d+ of \d+ bytes: download .* by hand"):
        download_seed_dataset(cache, api_url=disk.api, progress=False)
    with pytest.raises(ConnectionError, match="answered without a download link"):
        download_seed_dataset(cache, api_url=f"{disk.url}/no-link", progress=False)
    with pytest.raises(ConnectionError, match=r"127.0.0.1:\d+ answered HTTP 404"):
        download_seed_dataset(cache, api_url=f"{disk.url}/gone", progress=False)
    assert list(cache.iterdir()) == []


def test_incomplete_cache_is_reported_and_left_alone(tmp_path):
    folder = tmp_path / "homework_2"
    for name, data in _seed_files(**{"real/ref": None}).items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(data)
    before = sorted(path.relative_to(tmp_path) for path in tmp_path.rglob("*"))
    with pytest.raises(ValueError, match=f"the seed data set in {folder} is not usable: real/ref.wav is missing; delete"):
        download_seed_dataset(tmp_path, api_url=_closed_port_url(), progress=False)
    assert sorted(path.relative_to(tmp_path) for path in tmp_path.rglob("*")) == before


def test_concurrent_first_use_keeps_the_copy_that_arrived_first(disk, tmp_path):
    cache = tmp_path / "cache"
    winner = _seed_files(**{"synth/near": _wav(seed=99)})

    def other_process_finishes_first():
        for name, data in winner.items():
            (cache / name).parent.mkdir(parents=True, exist_ok=True)
            (cache / name).write_bytes(data)

    disk.before_archive = other_process_finishes_first
    assert download_seed_dataset(cache, api_url=disk.api, progress=False) == cache / "homework_2"
    assert (cache / "homework_2/synth/near.wav").read_bytes() == winner["homework_2/synth/near.wav"]
    assert [path.name for path in cache.iterdir()] == ["homework_2"]


def test_seed_keyword_and_paths(disk, tmp_path, monkeypatch):
    monkeypatch.setenv(DATA_DIR_VARIABLE, str(tmp_path / "cache"))
    monkeypatch.setattr(seed_module, "DISK_API", disk.api)
    assert seed_or_path("seed", progress=False) == tmp_path / "cache" / "homework_2"
    # a folder named seed is written as a path: no download
    assert seed_or_path("./seed") == Path("seed") and seed_or_path(Path("seed")) == Path("seed")
    assert seed_or_path(str(tmp_path)) == tmp_path
    assert disk.hits["/archive.zip"] == 1


def test_cli_eval_seed_downloads_once_then_reads_the_cache(disk, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(DATA_DIR_VARIABLE, str(tmp_path / "cache"))
    monkeypatch.setattr(seed_module, "DISK_API", disk.api)
    stem = tmp_path / "table"
    arguments = ["eval", "seed", "--methods", "nlms", "--filter-ms", "4", "-o", str(stem)]
    assert main(arguments) == 0
    assert {line.split("|")[1].strip() for line in capsys.readouterr().out.splitlines()[2:-1]} == {"real", "synth"}
    monkeypatch.setattr(seed_module, "DISK_API", _closed_port_url())
    assert main(arguments) == 0
    assert disk.hits == {"/api": 1, "/archive.zip": 1}


def test_cli_demo_seed_without_network_fails_in_one_line(tmp_path, monkeypatch, capsys):
    cache = tmp_path / "cache"
    monkeypatch.setenv(DATA_DIR_VARIABLE, str(cache))
    monkeypatch.setattr(seed_module, "DISK_API", _closed_port_url())
    assert main(["demo", "--data", "seed", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err
    assert err.startswith("echoless demo: error: cannot reach 127.0.0.1:")
    assert err.endswith(f"download {SEED_PUBLIC_KEY} by hand and unzip it into {cache} (it holds homework_2/)")
    assert not (tmp_path / "out").exists()
