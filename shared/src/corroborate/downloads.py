"""How evidence and reports leave a service: always as an attachment, never sniffed, never
rendered on the service's own origin (an uploaded HTML page or an SVG with a script is bytes
to save, not a page to run), and never cached."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

DOWNLOAD_POLICY = "default-src 'none'; sandbox; frame-ancestors 'none'"
"""Should a browser render a download anyway, it runs nothing and loads nothing."""


def download_headers(*, filename: str, sha256: str) -> dict[str, str]:
    """The headers of every document or report download. ``filename`` must hold no identity
    (a document id, a case reference)."""
    safe = "".join(c for c in filename if c.isalnum() or c in "-._") or "download"
    return {
        "Content-Disposition": f'attachment; filename="{safe}"',
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": DOWNLOAD_POLICY,
        "Cache-Control": "no-store",
        "X-Content-SHA256": sha256,
    }


def download_response(media_types: Iterable[str], description: str) -> dict[str, Any]:
    """The OpenAPI entry of a 200 that is a file of one of ``media_types``, with its headers."""
    binary = {"schema": {"type": "string", "format": "binary"}}
    return {
        "description": description,
        "content": dict.fromkeys(media_types, binary),
        "headers": {
            "X-Content-SHA256": {
                "description": "The SHA-256 of the bytes sent, as recorded on receipt.",
                "schema": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
            },
            "Content-Disposition": {
                "description": "Always an attachment.",
                "schema": {"type": "string"},
            },
        },
    }
