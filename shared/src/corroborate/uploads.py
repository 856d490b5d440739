"""Streaming an upload in: its head for the type, a size limit and a content check as it flows.

A request body is never held whole: these wrap its chunks so that the store reading them stops
the moment the file is too large or stops being what its head claimed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from corroborate.evidence import ContentCheck


class UploadTooLarge(Exception):
    """The upload passed the size limit while streaming; the message names the field."""


async def read_head(body: AsyncIterator[bytes], size: int) -> tuple[bytes, AsyncIterator[bytes]]:
    """At least ``size`` leading bytes (fewer if the body is shorter), and the rest."""
    head = b""
    async for piece in body:
        head += piece
        if len(head) >= size:
            break
    return head, body


async def prepend(head: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    if head:
        yield head
    async for piece in rest:
        yield piece


async def limited(chunks: AsyncIterator[bytes], limit: int) -> AsyncIterator[bytes]:
    total = 0
    async for piece in chunks:
        total += len(piece)
        if total > limit:
            raise UploadTooLarge(f"file: larger than the limit of {limit} bytes")
        yield piece


async def checked_stream(
    chunks: AsyncIterator[bytes], check: ContentCheck, limit: int
) -> AsyncIterator[bytes]:
    """The body as it streams, refused (``UploadTooLarge``, ``ContentRefused``) the moment it
    is too large or is not what it claims."""
    async for piece in limited(chunks, limit):
        check.feed(piece)
        yield piece
    check.finish()
