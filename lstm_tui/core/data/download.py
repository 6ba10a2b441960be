"""Streamed, size-limited, checksum-verified HTTP downloads that never leave partial files.

The file is written to a temporary name in the destination folder, flushed to disk and checked
(length, SHA-1) before one atomic ``os.replace`` puts it in place. Any failure removes the
temporary file and raises :class:`CorpusError`; a raw ``requests`` traceback never escapes.
This module does not import torch (the CLI can fetch the corpus without it).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO
from urllib.parse import urljoin, urlsplit

import requests

from .errors import CorpusError

Progress = Callable[[int, int | None], None]

DEFAULT_MAX_BYTES = 200 * 2**20
CHUNK_BYTES = 64 * 1024
MAX_REDIRECTS = 10
HTTP_SCHEMES = ("http", "https")


def sha1_of_file(path: str | Path) -> str:
    """Hex SHA-1 of a file, read in chunks (cheap for the 180 KB corpus, bounded for big ones)."""
    digest = hashlib.sha1()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def download(
    url: str,
    dest: str | Path,
    *,
    sha1: str | None = None,
    progress: Progress | None = None,
    timeout: float = 30.0,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> Path:
    """Download ``url`` to ``dest`` atomically; return ``dest`` as a Path.

    ``progress(done_bytes, total_bytes_or_None)`` is called after every chunk. With ``sha1``
    the content must match it or nothing is written. ``dest``'s folder is created only once
    the server has answered, so a failed connection leaves no empty folder behind.
    """
    dest = Path(dest)
    _check_scheme(url, url)
    with _requests_errors(url, timeout), _open(url, timeout) as response:
        total = _content_length(response)
        if total is not None and total > max_bytes:
            raise CorpusError(f"{url} is {total} bytes, over the limit of {max_bytes} bytes")
        _make_folder(dest.parent)
        tmp = _temp_file(dest)
        try:
            with tmp:
                digest = _copy_body(url, response, tmp, progress, total, max_bytes)
                tmp.flush()
                os.fsync(tmp.fileno())
            if sha1 is not None and digest != sha1.lower():
                raise CorpusError(f"SHA-1 mismatch for {url}: expected {sha1.lower()}, got {digest}", "the server sent a different file; try again or download it by hand")
            os.replace(tmp.name, dest)
        except BaseException as exc:
            _remove(tmp.name)
            if isinstance(exc, OSError) and not isinstance(exc, requests.RequestException):
                raise CorpusError(f"cannot save {url} to {dest}: {exc.strerror or exc}") from None
            raise
    return dest


@contextlib.contextmanager
def _requests_errors(url: str, timeout: float) -> Iterator[None]:
    """Turn any requests/urllib3 failure (connect, read, timeout) into a one-line CorpusError."""
    try:
        yield
    except requests.Timeout:
        raise CorpusError(f"timed out after {timeout:g} s downloading {url}", "check the network or try again") from None
    except requests.exceptions.ChunkedEncodingError:
        raise CorpusError(f"download of {url} was cut short: the connection broke during the transfer", "try again") from None
    except requests.RequestException as exc:
        raise CorpusError(f"could not download {url}: {_describe(exc)}", "check the network or the URL") from None


def _temp_file(dest: Path) -> IO[bytes]:
    try:
        return tempfile.NamedTemporaryFile(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part", delete=False)
    except OSError as exc:
        raise CorpusError(f"cannot write to {dest.parent}: {exc.strerror or exc}", "choose a writable data directory") from None


def _open(url: str, timeout: float) -> requests.Response:
    """GET ``url`` following redirects by hand, so each hop's scheme can be checked."""
    current = url
    for _ in range(MAX_REDIRECTS + 1):
        response = requests.get(current, stream=True, timeout=timeout, allow_redirects=False)
        if not response.is_redirect:
            break
        target = urljoin(current, response.headers["location"])
        response.close()
        _check_scheme(target, url)
        current = target
    else:
        raise CorpusError(f"too many redirects downloading {url}")
    if response.status_code >= 400:
        response.close()
        raise CorpusError(f"could not download {url}: the server answered {response.status_code} {response.reason or ''}".rstrip(), "check the URL")
    return response


def _copy_body(url: str, response: requests.Response, out: IO[bytes], progress: Progress | None, total: int | None, max_bytes: int) -> str:
    """Stream the body to ``out`` enforcing ``max_bytes`` and the announced length."""
    digest, done = hashlib.sha1(), 0
    for chunk in response.iter_content(CHUNK_BYTES):
        done += len(chunk)
        if done > max_bytes:
            raise CorpusError(f"{url} is larger than the limit of {max_bytes} bytes")
        digest.update(chunk)
        out.write(chunk)
        if progress is not None:
            progress(done, total)
    if total is not None and done < total:
        raise CorpusError(f"download of {url} was cut short: got {done} of {total} bytes", "try again")
    return digest.hexdigest()


def _content_length(response: requests.Response) -> int | None:
    """The body length in bytes, or None when unknown or compressed (then it is not the size)."""
    if response.headers.get("content-encoding", "identity").lower() not in ("identity", ""):
        return None
    try:
        value = int(response.headers.get("content-length", ""))
    except ValueError:
        return None
    return value if value >= 0 else None


def _check_scheme(target: str, original: str) -> None:
    scheme = urlsplit(target).scheme.lower()
    if scheme in HTTP_SCHEMES:
        return
    if target == original:
        raise CorpusError(f"cannot download {target}: only http and https URLs are supported", "for a local file pass its path")
    raise CorpusError(f"{original} redirected to {target}, which is not an http(s) URL", "download the file by hand and pass its path")


def _make_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CorpusError(f"cannot create the folder {folder}: {exc.strerror or exc}", "choose a writable data directory") from None


def _describe(exc: BaseException) -> str:
    """A one-line cause ('Connection refused') instead of urllib3's nested repr."""
    text = str(exc)
    found = re.search(r"\[Errno -?\d+\] ([^'\")\]]+)", text)
    if found:
        return found.group(1).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__


def _remove(name: str) -> None:
    try:
        os.unlink(name)
    except FileNotFoundError:
        pass
