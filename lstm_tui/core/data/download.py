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
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING
from urllib.parse import urljoin, urlsplit

from .errors import CorpusError, LoadCancelled

if TYPE_CHECKING:  # (imported where a download happens: ~0.1 s every run would pay otherwise)
    import requests

Progress = Callable[[int, int | None], None]

DEFAULT_MAX_BYTES = 200 * 2**20
DEFAULT_DEADLINE_S = 600.0  # the whole download, however the bytes trickle in
WATCH_INTERVAL_S = 0.1
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
    deadline: float = DEFAULT_DEADLINE_S,
    cancel: Callable[[], bool] | None = None,
) -> Path:
    """Download ``url`` to ``dest`` atomically; return ``dest`` as a Path.

    ``progress(done_bytes, total_bytes_or_None)`` is called as bytes arrive. With ``sha1``
    the content must match it or nothing is written. ``dest``'s folder is created only once
    the server has answered, so a failed connection leaves no empty folder behind.
    ``timeout`` is the stall timeout (no byte for that long: an error), ``deadline`` bounds
    the whole download, and ``cancel()`` returning True stops it (:class:`LoadCancelled`);
    a watchdog thread cuts the connection for both, so neither waits for a slow server.
    """
    import requests

    dest = Path(dest)
    _check_scheme(url, url)
    watch = _Watchdog(url, deadline, cancel)
    with watch, _requests_errors(url, timeout, watch), _open(url, timeout) as response:
        watch.response = response
        total = _content_length(response)
        if total is not None and total > max_bytes:
            raise CorpusError(f"{url} is {total} bytes, over the limit of {max_bytes} bytes")
        _make_folder(dest.parent)
        tmp = _temp_file(dest)
        try:
            with tmp:
                digest = _copy_body(url, response, tmp, progress, total, max_bytes, watch)
                tmp.flush()
                os.fsync(tmp.fileno())
            if sha1 is not None and digest != sha1.lower():
                raise CorpusError(
                    f"SHA-1 mismatch for {url}: expected {sha1.lower()}, got {digest}",
                    "the server sent a different file; try again or download it by hand",
                )
            os.replace(tmp.name, dest)
        except BaseException as exc:
            _remove(tmp.name)
            if isinstance(exc, OSError) and not isinstance(exc, requests.RequestException):
                raise CorpusError(f"cannot save {url} to {dest}: {exc.strerror or exc}") from None
            raise
    return dest


class _Watchdog:
    """Cuts the connection when the deadline passes or a cancel is asked for: a read blocked on
    a trickling server returns at once, and :meth:`raise_if_fired` says which it was."""

    def __init__(self, url: str, deadline: float, cancel: Callable[[], bool] | None):
        self.url, self.deadline, self.cancel = url, deadline, cancel
        self.response: requests.Response | None = None
        self.fired = ""  # "deadline" or "cancel"
        self.done_bytes = 0
        self._end = time.monotonic() + deadline
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="download-watchdog", daemon=True)

    def __enter__(self) -> _Watchdog:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _watch(self) -> None:
        while not self._stop.wait(WATCH_INTERVAL_S):
            if self.cancel is not None and self.cancel():
                self._fire("cancel")
                return
            if time.monotonic() > self._end:
                self._fire("deadline")
                return

    def _fire(self, why: str) -> None:
        self.fired = why
        _cut(self.response)

    def raise_if_fired(self) -> None:
        if self.fired == "cancel":
            raise LoadCancelled()
        if self.fired == "deadline":
            raise CorpusError(
                f"the download of {self.url} took longer than {self.deadline:g} s "
                f"({self.done_bytes} bytes received); the server is too slow",
                "try again later, or download the file by hand and pass its path",
            )


def _cut(response: requests.Response | None) -> None:
    """Shut the response's socket down (a recv blocked in another thread returns), else close it."""
    if response is None:
        return
    sock = getattr(getattr(getattr(getattr(response.raw, "_fp", None), "fp", None), "raw", None), "_sock", None)
    try:
        if sock is not None:
            import socket

            sock.shutdown(socket.SHUT_RDWR)
        else:
            response.close()
    except OSError:
        pass


@contextlib.contextmanager
def _requests_errors(url: str, timeout: float, watch: _Watchdog) -> Iterator[None]:
    """Turn any requests/urllib3 failure (connect, read, timeout) into a one-line CorpusError;
    one the watchdog caused (it cut the connection) says why it did."""
    import requests
    import urllib3

    try:
        yield
    except LoadCancelled:
        raise
    except CorpusError:
        watch.raise_if_fired()
        raise
    except urllib3.exceptions.ReadTimeoutError:
        watch.raise_if_fired()
        raise CorpusError(
            f"the download of {url} stalled: no data for {timeout:g} s ({watch.done_bytes} bytes received)",
            "check the network or try again",
        ) from None
    except requests.Timeout:
        watch.raise_if_fired()
        raise CorpusError(
            f"timed out after {timeout:g} s downloading {url}", "check the network or try again"
        ) from None
    except (requests.exceptions.ChunkedEncodingError, urllib3.exceptions.ProtocolError, urllib3.exceptions.DecodeError):
        watch.raise_if_fired()
        raise CorpusError(
            f"download of {url} was cut short: the connection broke during the transfer", "try again"
        ) from None
    except requests.RequestException as exc:
        watch.raise_if_fired()
        raise CorpusError(f"could not download {url}: {_describe(exc)}", "check the network or the URL") from None


def _temp_file(dest: Path) -> IO[bytes]:
    try:
        return tempfile.NamedTemporaryFile(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part", delete=False)
    except OSError as exc:
        raise CorpusError(
            f"cannot write to {dest.parent}: {exc.strerror or exc}", "choose a writable data directory"
        ) from None


def _open(url: str, timeout: float) -> requests.Response:
    """GET ``url`` following redirects by hand, so each hop's scheme can be checked."""
    import requests

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
        raise CorpusError(
            f"could not download {url}: the server answered {response.status_code} {response.reason or ''}".rstrip(),
            "check the URL",
        )
    return response


def _chunks(response: requests.Response, watch: _Watchdog) -> Iterator[bytes]:
    """The body as it arrives: ``read1`` returns whatever one read got, so a trickle is seen
    byte by byte (progress, the deadline) and the read timeout is a stall timeout."""
    raw = response.raw
    while True:
        chunk = raw.read1(CHUNK_BYTES, decode_content=True)
        watch.raise_if_fired()
        if not chunk:
            return
        yield chunk


def _copy_body(
    url: str,
    response: requests.Response,
    out: IO[bytes],
    progress: Progress | None,
    total: int | None,
    max_bytes: int,
    watch: _Watchdog,
) -> str:
    """Stream the body to ``out`` enforcing ``max_bytes`` and the announced length."""
    digest, done = hashlib.sha1(), 0
    for chunk in _chunks(response, watch):
        done += len(chunk)
        watch.done_bytes = done
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
        raise CorpusError(
            f"cannot download {target}: only http and https URLs are supported", "for a local file pass its path"
        )
    raise CorpusError(
        f"{original} redirected to {target}, which is not an http(s) URL", "download the file by hand and pass its path"
    )


def _make_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CorpusError(
            f"cannot create the folder {folder}: {exc.strerror or exc}", "choose a writable data directory"
        ) from None


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
