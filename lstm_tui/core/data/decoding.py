"""Bytes of one corpus file -> UTF-8 bytes: the encoding, a BOM, NUL bytes, undecodable bytes.

UTF-8 input (the default) is only checked, never copied, unless it starts with a BOM; other
encodings (and ``errors="replace"``) are decoded and re-encoded to UTF-8 in chunks, so the
rest of the pipeline always sees UTF-8. An undecodable byte is an error naming the file and
the byte's offset in it, unless ``errors="replace"`` asks for U+FFFD instead.
"""

from __future__ import annotations

import codecs

from .errors import CorpusError
from .hooks import NO_HOOKS, LoadHooks

#: A corpus in memory: ``bytes``, or the ``bytearray`` a file was read into (never copied).
Buffer = bytes | bytearray

DECODE_CHUNK = 1 << 24
ERRORS = ("strict", "replace")
#: Codecs whose text legitimately holds NUL bytes (no "looks binary" test for them).
_WIDE_CODECS = ("utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be")


def codec_name(encoding: str) -> str:
    """Python's canonical name of ``encoding`` ('latin-1' -> 'iso8859-1'); LookupError if unknown."""
    return codecs.lookup(encoding).name


def to_utf8(
    data: Buffer, name: str, encoding: str = "utf-8", errors: str = "strict", hooks: LoadHooks = NO_HOOKS
) -> Buffer:
    """``data`` (one file, called ``name`` in errors) as UTF-8 without a BOM."""
    if not data:
        raise CorpusError(f"the corpus file {name} is empty", "pass a text file with some content")
    codec = codec_name(encoding)
    if codec not in _WIDE_CODECS:
        nul = data.find(b"\x00")
        if nul >= 0:
            raise CorpusError(f"{name} looks binary: NUL byte at offset {nul}", "pass a plain text file")
    if codec not in ("utf-8", "utf-8-sig"):
        return _transcode(data, 0, name, encoding, errors, hooks)
    bom = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    body = data[bom:] if bom else data
    if body.isascii():
        return body
    if errors == "strict":
        _decode_chunks(body, bom, name, "utf-8", "strict", None, hooks)
        return body
    return _transcode(body, bom, name, "utf-8", errors, hooks)


def _transcode(data: Buffer, base: int, name: str, encoding: str, errors: str, hooks: LoadHooks) -> bytes:
    pieces: list[bytes] = []
    _decode_chunks(data, base, name, encoding, errors, pieces, hooks)
    return b"".join(pieces)


def _decode_chunks(
    data: Buffer, base: int, name: str, encoding: str, errors: str, pieces: list[bytes] | None, hooks: LoadHooks
) -> None:
    """Decode ``data`` in chunks (UTF-8 pieces appended to ``pieces`` unless None); an error
    names the offset in the file (``base``: bytes before ``data``, e.g. a BOM)."""
    decoder = codecs.getincrementaldecoder(encoding)(errors)
    view, total = memoryview(data), len(data)
    try:
        for start in range(0, total + 1, DECODE_CHUNK):
            pending = len(decoder.getstate()[0])
            chunk = view[start : start + DECODE_CHUNK]
            try:
                text = decoder.decode(chunk, final=start + DECODE_CHUNK > total)
            except UnicodeDecodeError as exc:
                offset = start - pending + exc.start
                raise _undecodable(name, encoding, data[offset] if offset < total else None, base + offset) from None
            if pieces is not None:
                pieces.append(text.encode("utf-8"))
            hooks.step("decoding", min(total, start + DECODE_CHUNK), total)
    finally:
        view.release()


def _undecodable(name: str, encoding: str, byte: int | None, offset: int) -> CorpusError:
    what = f"byte 0x{byte:02x}" if byte is not None else "an unfinished character"
    label = "UTF-8" if codec_name(encoding) in ("utf-8", "utf-8-sig") else encoding
    return CorpusError(
        f"{name} is not {label} text: {what} at offset {offset} cannot be decoded",
        "pass its encoding with --encoding (e.g. --encoding latin-1), convert it to UTF-8 "
        "(e.g. iconv -t utf-8), or use --errors replace to replace undecodable bytes",
    )
