"""``genms data download``: fetch the upstream CDVAE/DiffCSP CSVs and verify their git blob SHAs.

Each file is fetched from ``{base_url}/{repo}/{commit}/{path}`` (``base_url`` defaults to
raw.githubusercontent.com; ``data.download_base_url`` points it at a mirror), written to a
temporary file beside its destination, checked against the git blob SHA of the upstream
file (``sha1(b"blob <size>\\0" + content)``, what ``git hash-object`` prints) and only then
moved into place with ``os.replace`` (:func:`genms.io.atomic_path`). A file already present (in
any data root) with the right SHA is not fetched again.
"""

from __future__ import annotations

import hashlib
import http.client
import ipaddress
import logging
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from genms.io import atomic_path

log = logging.getLogger(__name__)

CDVAE = ("txie-93/cdvae", "f857f598d6f6cca5dc1ea0582d228f12dcc2c2ea")
DIFFCSP = ("jiaor17/DiffCSP", "7121d159826efa2ba9500bf299250d96da37f146")


class DownloadError(RuntimeError):
    """A download failed or its content does not match the expected SHA (nothing was saved)."""


@dataclass(frozen=True)
class RemoteFile:
    """One upstream file: ``blob_sha`` is its git blob SHA (a prefix of >= 8 hex digits is
    accepted where only a prefix is published)."""

    dataset: str
    split: str
    repo: str
    commit: str
    path: str
    blob_sha: str

    @property
    def relpath(self) -> str:
        """Where it goes under a data root."""
        return f"{self.dataset}/{self.split}.csv"

    def url(self, base_url: str) -> str:
        return f"{base_url.rstrip('/')}/{self.repo}/{self.commit}/{self.path}"


def _cdvae(dataset: str, split: str, sha: str) -> RemoteFile:
    return RemoteFile(dataset, split, *CDVAE, f"data/{dataset}/{split}.csv", sha)


def _diffcsp(dataset: str, split: str, sha: str) -> RemoteFile:
    return RemoteFile(dataset, split, *DIFFCSP, f"data/{dataset}/{split}.csv", sha)


#: The upstream files and their git blob SHAs (from the data folder's README).
UPSTREAM: tuple[RemoteFile, ...] = (
    _cdvae("mp_20", "train", "b1c9d498565ac2fd8d075a51ff2ef5e51ba6c21f"),
    _cdvae("mp_20", "val", "7efe4d7ebeb4f460ceaad35e5326c42111d9c9a1"),
    _cdvae("mp_20", "test", "5dc643041df53f5ce4970a79930ad262b4f07acd"),
    _cdvae("perov_5", "train", "0769074b5d51d293b765c4371b8f55c468c9c9f2"),
    _cdvae("perov_5", "val", "4a2c8dde98347dd0e01fa83dcf3982c2abe98f9f"),
    _cdvae("perov_5", "test", "d3c5d5af4b27a2a139149f2bb73c8a3dba9d8ac1"),
    _cdvae("carbon_24", "train", "5e7ae970fbad8ddc46b6963e8cd6e425f11783a6"),
    _cdvae("carbon_24", "val", "b3e29b927883642426ca1d9632d00359b412742b"),
    _cdvae("carbon_24", "test", "9beca843fde489de1fe288b32f9e3ff710d42803"),
    # Only the first 8 hex digits of the MPTS-52 train blob are published.
    _diffcsp("mpts_52", "train", "28c53b0a"),
    _diffcsp("mpts_52", "val", "a377ba0ca7bee37ee69d9f50f8362eaa35d9f690"),
    _diffcsp("mpts_52", "test", "2e8af159618f63be346b6527f155514323964423"),
)


def git_blob_sha(path: str | Path) -> str:
    """``git hash-object`` of a file: sha1 over ``b"blob <size>\\0"`` + the bytes."""
    path = Path(path)
    h = hashlib.sha1(b"blob %d\0" % path.stat().st_size)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def sha_matches(actual: str, expected: str) -> bool:
    expected = expected.lower()
    return len(expected) >= 8 and actual.lower().startswith(expected)


def _is_loopback(url: str) -> bool:
    host = urllib.parse.urlparse(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def fetch(
    url: str, dest: Path, expected_sha: str, timeout: float = 60.0, progress: bool = False
) -> Path:
    """Download ``url`` to ``dest`` atomically, after checking its git blob SHA."""
    # A loopback mirror (tests, local caches) is reached directly, never through a proxy.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({})) if _is_loopback(url) \
        else urllib.request.build_opener()
    try:
        with atomic_path(dest) as tmp:
            with open(tmp, "wb") as fh, opener.open(url, timeout=timeout) as resp:
                total = int(resp.headers.get("Content-Length") or 0) or None
                with tqdm(
                    total=total, unit="B", unit_scale=True, desc=dest.name, disable=not progress
                ) as bar:
                    for block in iter(lambda: resp.read(1 << 20), b""):
                        fh.write(block)
                        bar.update(len(block))
            actual = git_blob_sha(tmp)
            if not sha_matches(actual, expected_sha):
                raise DownloadError(
                    f"{url}: git blob SHA {actual} does not match the expected {expected_sha}; "
                    "the file was not saved (wrong commit, a changed mirror or a corrupted "
                    "transfer)"
                )
    except urllib.error.HTTPError as exc:
        raise DownloadError(f"{url}: HTTP {exc.code} {exc.reason}") from exc
    except (urllib.error.URLError, http.client.HTTPException, TimeoutError, ConnectionError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DownloadError(
            f"cannot fetch {url} ({reason}); check the network, or set data.download_base_url to a "
            "mirror"
        ) from exc
    except OSError as exc:  # the folder cannot be created or written
        raise DownloadError(
            f"cannot write to {dest.parent} ({exc}); choose a writable folder with "
            "paths.data_dir=/path"
        ) from exc
    return dest


def download_dataset(name: str, dest_root: Path, search_roots: list[Path], base_url: str,
                     timeout: float = 60.0, manifest: tuple[RemoteFile, ...] = UPSTREAM,
                     progress: bool = False) -> list[dict]:
    """Fetch every upstream file of ``name`` that no data root holds with the right SHA.

    Returns one dict per file: ``file``, ``status`` (``present`` or ``downloaded``), ``path``.
    """
    files = [f for f in manifest if f.dataset == name]
    if not files:
        known = sorted({f.dataset for f in manifest})
        raise DownloadError(
            f"no upstream files for {name!r}; downloadable: {', '.join(known)} (or 'all')"
        )
    out = []
    for f in files:
        present = next(
            (
                r / f.relpath
                for r in [dest_root, *search_roots]
                if (r / f.relpath).is_file()
                and sha_matches(git_blob_sha(r / f.relpath), f.blob_sha)
            ),
            None,
        )
        if present is not None:
            out.append({"file": f.relpath, "status": "present", "path": str(present)})
            continue
        dest = dest_root / f.relpath
        if dest.is_file():
            log.warning("%s has the wrong git blob SHA; fetching it again", dest)
        log.info("fetching %s", f.url(base_url))
        fetch(f.url(base_url), dest, f.blob_sha, timeout, progress)
        out.append({"file": f.relpath, "status": "downloaded", "path": str(dest)})
    return out
