"""Request bodies: the content type, the content coding, and a size bound that holds after
decompression, so that a small gzip body cannot expand into gigabytes (a gzip bomb).

Pure functions and one small class fed chunk by chunk: nothing here knows about ASGI.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable

from shopstream.producers.collector.errors import (
    BodyTooLargeError,
    MalformedBatchError,
    UnsupportedMediaTypeError,
)

_GZIP_WBITS = 16 + zlib.MAX_WBITS  # a gzip header and trailer around deflate data


def check_content_type(content_type: str | None) -> None:
    """Accept ``application/json`` with any parameters (``charset=utf-8``); else raise 415."""
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type != "application/json":
        raise UnsupportedMediaTypeError("Content-Type must be application/json")


def check_content_length(content_length: str | None, limit: int) -> None:
    """Refuse a declared body over ``limit`` before reading any of it."""
    if content_length is None:
        return
    try:
        declared = int(content_length)
    except ValueError:
        raise MalformedBatchError("Content-Length is not a number") from None
    if declared > limit:
        raise BodyTooLargeError(f"body of {declared} bytes exceeds {limit}")


class BoundedBody:
    """Collects a body chunk by chunk, decoding gzip as it goes, never holding more than
    ``limit`` bytes of either the body as received or the decoded body."""

    def __init__(self, content_encoding: str | None, limit: int) -> None:
        coding = (content_encoding or "identity").strip().lower()
        if coding not in ("identity", "gzip", "x-gzip"):
            raise UnsupportedMediaTypeError("Content-Encoding must be gzip or absent")
        self.limit = limit
        self.received = 0
        self._gzip = coding != "identity"
        self._decoder = zlib.decompressobj(_GZIP_WBITS) if self._gzip else None
        self._parts: list[bytes] = []
        self._size = 0

    def feed(self, chunk: bytes) -> None:
        """Take the next chunk as received; raise 413 as soon as either bound is passed."""
        self.received += len(chunk)
        if self.received > self.limit:
            raise BodyTooLargeError(f"body exceeds {self.limit} bytes")
        if not self._gzip:
            self._keep(chunk)
            return
        data = chunk
        while data:
            if self._decoder is None or self._decoder.eof:
                # Concatenated gzip members are one valid gzip stream (RFC 1952 §2.2).
                data = self._next_member(data)
                if not data:
                    return
            assert self._decoder is not None
            try:
                # Ask for one byte more than the room left: getting it proves the bound passed.
                out = self._decoder.decompress(data, self.limit - self._size + 1)
            except zlib.error:
                raise MalformedBatchError("body is not valid gzip") from None
            self._keep(out)
            data = self._decoder.unconsumed_tail or self._decoder.unused_data

    def finish(self) -> bytes:
        """The whole decoded body; a gzip stream cut short is malformed."""
        if self._gzip and (self._decoder is None or not self._decoder.eof):
            raise MalformedBatchError("gzip body is truncated")
        return b"".join(self._parts)

    def _keep(self, data: bytes) -> None:
        self._size += len(data)
        if self._size > self.limit:
            raise BodyTooLargeError(f"decoded body exceeds {self.limit} bytes")
        if data:
            self._parts.append(data)

    def _next_member(self, data: bytes) -> bytes:
        """Start a new gzip member, or skip the zero padding some writers append."""
        if not data.strip(b"\0"):
            return b""
        self._decoder = zlib.decompressobj(_GZIP_WBITS)
        return data


def decode_body(
    chunks: Iterable[bytes], *, content_encoding: str | None = None, limit: int
) -> bytes:
    """Decode a body held in memory (for tests and tools): the same bounds as a request."""
    body = BoundedBody(content_encoding, limit)
    for chunk in chunks:
        body.feed(chunk)
    return body.finish()


__all__ = ["BoundedBody", "check_content_length", "check_content_type", "decode_body"]
