"""Downloads against a loopback HTTP server on 127.0.0.1 (never the real network)."""

from __future__ import annotations

import functools
import hashlib
import re
import shutil
import socket
import subprocess
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

from genms.cli import main
from genms.data.download import (
    UPSTREAM,
    DownloadError,
    RemoteFile,
    download_dataset,
    fetch,
    git_blob_sha,
)

COMMIT = "0" * 40


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep test output clean
        pass


@pytest.fixture
def server(tmp_path):
    """Serves tmp_path/www on 127.0.0.1 (a free port); yields the base URL."""
    www = tmp_path / "www"
    www.mkdir()
    httpd = ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(www))
    )
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", www
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


def _publish(www, fixture, repo="me/repo", path="data/perov_5/test.csv", commit=COMMIT):
    dest = www / repo / commit / path
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(fixture, dest)
    return dest


def test_git_blob_sha_matches_git_hash_object(tmp_path, fixtures_dir):
    data = (fixtures_dir / "perov5_sample.csv").read_bytes()
    expected = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
    assert git_blob_sha(fixtures_dir / "perov5_sample.csv") == expected
    git = shutil.which("git")
    if git:
        out = subprocess.run([git, "hash-object", str(fixtures_dir / "perov5_sample.csv")],
                             capture_output=True, text=True, check=True).stdout.strip()
        assert out == expected


def test_download_verifies_the_sha_and_writes_atomically(server, tmp_path, fixtures_dir):
    base, www = server
    fixture = fixtures_dir / "perov5_sample.csv"
    _publish(www, fixture)
    manifest = (
        RemoteFile(
            "perov_5", "test", "me/repo", COMMIT, "data/perov_5/test.csv", git_blob_sha(fixture)
        ),
    )
    dest_root = tmp_path / "userdata"
    out = download_dataset("perov_5", dest_root, [], base, timeout=10, manifest=manifest)
    assert out == [
        {
            "file": "perov_5/test.csv",
            "status": "downloaded",
            "path": str(dest_root / "perov_5/test.csv"),
        }
    ]
    assert (dest_root / "perov_5" / "test.csv").read_bytes() == fixture.read_bytes()
    assert [p.name for p in (dest_root / "perov_5").iterdir()] == ["test.csv"]  # no temp file left
    again = download_dataset("perov_5", dest_root, [], base, timeout=10, manifest=manifest)
    assert again[0]["status"] == "present"


def test_sha_mismatch_saves_nothing(server, tmp_path, fixtures_dir):
    base, www = server
    _publish(www, fixtures_dir / "perov5_sample.csv")
    manifest = (
        RemoteFile(
            "perov_5", "test", "me/repo", COMMIT, "data/perov_5/test.csv", "d3c5d5af" + "0" * 32
        ),
    )
    with pytest.raises(DownloadError, match="does not match the expected"):
        download_dataset("perov_5", tmp_path / "userdata", [], base, timeout=10, manifest=manifest)
    assert not any((tmp_path / "userdata" / "perov_5").iterdir())


def test_missing_file_and_unreachable_server_give_clear_errors(server, tmp_path):
    base, _ = server
    with pytest.raises(DownloadError, match="HTTP 404"):
        fetch(f"{base}/nothing/here.csv", tmp_path / "x.csv", "0" * 40, timeout=10)
    with socket.socket() as s:  # a port with nobody listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(DownloadError, match="cannot fetch .*data.download_base_url"):
        fetch(f"http://127.0.0.1:{port}/a.csv", tmp_path / "x.csv", "0" * 40, timeout=5)
    assert not (tmp_path / "x.csv").exists()
    with pytest.raises(DownloadError, match="downloadable: carbon_24, mp_20, mpts_52, perov_5"):
        download_dataset("wbm", tmp_path, [], base)


def test_cli_download_against_a_mirror(server, tmp_path, fixtures_dir, monkeypatch, capsys):
    """The real manifest's perov_5/train URL is served with other content: the command fails
    with a one-line message and writes nothing."""
    base, www = server
    entry = next(f for f in UPSTREAM if f.relpath == "perov_5/train.csv")  # the first perov_5 file
    _publish(www, fixtures_dir / "perov5_sample.csv", entry.repo, entry.path, entry.commit)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exc:
        main(
            [
                "data",
                "download",
                "perov_5",
                f"paths.data_dir={tmp_path / 'd'}",
                f"data.download_base_url={base}",
                "data.progress=false",
                f"hydra.run.dir={tmp_path / 'h'}",
            ]
        )
    err = capsys.readouterr().err
    assert exc.value.code == 2 and re.search(
        "genms data download: .*perov_5/train.csv: git blob SHA", err
    )
    assert not (tmp_path / "d" / "perov_5" / "train.csv").exists()
