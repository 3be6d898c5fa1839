"""Webhook bodies as stored: compressed with zstd, decompressed to the very bytes received.

A delivery's body is the evidence of what GitHub sent (the bytes its signature covers),
so it is kept whole; but a 20-100 KB body written as text made every commit of the intake
write it twice (to the WAL, then to the table) and wait for the disk. zstd at level 1
leaves about a tenth of a pull request's body in tens of microseconds
(docs/performance.md, "Webhook intake"). Each frame records its content size, so it
decompresses in one call, and nothing but the body itself is stored: any zstd tool reads
the column (``zstd -d``).
"""

from __future__ import annotations

import threading

import zstandard

#: Fast, and most of what a higher level would save: a webhook body repeats its URLs.
LEVEL = 1

_local = threading.local()  # python-zstandard's (de)compressors are not thread-safe


def compress_body(body: bytes) -> bytes:
    """``body`` as stored (a zstd frame that records its size)."""
    compressor: zstandard.ZstdCompressor | None = getattr(_local, "compressor", None)
    if compressor is None:
        compressor = _local.compressor = zstandard.ZstdCompressor(level=LEVEL)
    return compressor.compress(body)


def decompress_body(stored: bytes) -> bytes:
    """The body exactly as received, from what :func:`compress_body` made of it;
    :class:`ValueError` when ``stored`` is not such a frame."""
    decompressor: zstandard.ZstdDecompressor | None = getattr(_local, "decompressor", None)
    if decompressor is None:
        decompressor = _local.decompressor = zstandard.ZstdDecompressor()
    try:
        return decompressor.decompress(stored)
    except zstandard.ZstdError as exc:
        raise ValueError(f"not a stored body: {exc}") from None
