"""Bounded Content-Encoding decoding: raw response bytes -> decoded chunks no larger than a fixed size.

httpx decodes each network chunk in one ``zlib`` call, so a 64 KiB read of a gzip bomb can become 64 MB at once.
Decoding here with ``max_length`` keeps every output chunk small, so the size cap stops a bomb before it fills memory.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from typing import Protocol

__all__ = ["ACCEPT_ENCODING", "Decoder", "MAX_CODINGS", "UnsupportedEncoding", "make_decoder"]

_CHUNK = 64 * 1024
MAX_CODINGS = 4

try:  # brotli is optional: advertise "br" only when it is installed
    import brotli as _brotli  # type: ignore[import-not-found, unused-ignore]
except ImportError:  # pragma: no cover - depends on the environment
    _brotli = None

ACCEPT_ENCODING = "gzip, deflate, br" if _brotli is not None else "gzip, deflate"


class UnsupportedEncoding(Exception):
    """The server used a Content-Encoding we did not offer, or too many; ``str()`` says which (bounded)."""


class Decoder(Protocol):
    """Feeds raw bytes in, yields decoded chunks of at most 64 KiB each."""

    def feed(self, data: bytes) -> Iterator[bytes]: ...

    def flush(self) -> Iterator[bytes]: ...


class _Identity:
    def feed(self, data: bytes) -> Iterator[bytes]:
        for start in range(0, len(data), _CHUNK):
            yield data[start : start + _CHUNK]

    def flush(self) -> Iterator[bytes]:
        return iter(())


class _Zlib:
    """gzip (several members allowed) or deflate (zlib-wrapped, or raw as some servers send it)."""

    def __init__(self, gzip: bool) -> None:
        self._gzip = gzip
        self._obj = zlib.decompressobj(16 + zlib.MAX_WBITS if gzip else zlib.MAX_WBITS)
        self._started = False

    def feed(self, data: bytes) -> Iterator[bytes]:
        while data:
            if not self._started and not self._gzip:
                self._started = True
                try:
                    yield self._obj.decompress(data, _CHUNK)
                except zlib.error:  # raw deflate without the zlib header
                    self._obj = zlib.decompressobj(-zlib.MAX_WBITS)
                    yield self._obj.decompress(data, _CHUNK)
            else:
                yield self._obj.decompress(data, _CHUNK)
            while self._obj.unconsumed_tail:
                yield self._obj.decompress(self._obj.unconsumed_tail, _CHUNK)
            data = b""
            if self._gzip and self._obj.eof and self._obj.unused_data:
                data = self._obj.unused_data  # the next gzip member
                self._obj = zlib.decompressobj(16 + zlib.MAX_WBITS)

    def flush(self) -> Iterator[bytes]:
        yield self._obj.flush(_CHUNK)


class _Brotli:  # pragma: no cover - only with the optional brotli package
    def __init__(self) -> None:
        assert _brotli is not None
        self._obj = _brotli.Decompressor()

    def feed(self, data: bytes) -> Iterator[bytes]:
        # brotli's process() has no output limit; feeding small slices bounds each output chunk instead.
        for start in range(0, len(data), 1024):
            yield self._obj.process(data[start : start + 1024])

    def flush(self) -> Iterator[bytes]:
        return iter(())


class _Chain:
    """Several encodings, applied in the order listed (so decoded in reverse)."""

    def __init__(self, decoders: list[Decoder]) -> None:
        self._decoders = decoders

    def _through(self, chunks: Iterator[bytes], index: int) -> Iterator[bytes]:
        if index == len(self._decoders):
            yield from chunks
            return
        decoder = self._decoders[index]
        for chunk in chunks:
            yield from self._through(decoder.feed(chunk), index + 1)

    def feed(self, data: bytes) -> Iterator[bytes]:
        return self._through(iter((data,)), 0)

    def flush(self) -> Iterator[bytes]:
        for index, decoder in enumerate(self._decoders):
            yield from self._through(decoder.flush(), index + 1)


def _one(name: str) -> Decoder:
    if name in ("gzip", "x-gzip"):
        return _Zlib(gzip=True)
    if name == "deflate":
        return _Zlib(gzip=False)
    if name == "br" and _brotli is not None:
        return _Brotli()
    raise UnsupportedEncoding(f"{name[:40]!r} is not offered")


def make_decoder(content_encoding: str) -> Decoder:
    """A decoder for a Content-Encoding header value; raises ``UnsupportedEncoding``.

    At most ``MAX_CODINGS`` codings (``identity`` does not count): real servers send one, and each one more is a
    layer of decoders that a header listing thousands would nest past the recursion limit.
    """
    names = [n.strip().lower() for n in content_encoding.split(",")]
    names = [n for n in names if n not in ("", "identity")]
    if len(names) > MAX_CODINGS:
        raise UnsupportedEncoding(f"{len(names):,} codings listed (at most {MAX_CODINGS})")
    if not names:
        return _Identity()
    if len(names) == 1:
        return _one(names[0])
    return _Chain([_one(n) for n in reversed(names)])
