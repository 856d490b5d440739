"""How large a request body may be: a JSON body or a form is refused with 413 before it is
parsed; a file upload streams under its own limit (``CORROBORATE_MAX_DOCUMENT_BYTES``), checked
as it arrives by the service that stores it."""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

UPLOAD_MEDIA_TYPES = frozenset({"application/octet-stream", "multipart/form-data"})
"""Request bodies documented as one of these are files, streamed, not held."""

MAX_ERRORS = 50
"""An error response lists at most this many problems, and says how many there were."""


def upload_paths(openapi: dict[str, Any]) -> list[tuple[str, re.Pattern[str]]]:
    """The operations whose request body is a file, by method and path, from the app's own
    OpenAPI document (as ``corroborate.http.binary_upload`` documents them)."""
    found: list[tuple[str, re.Pattern[str]]] = []
    for path, item in openapi.get("paths", {}).items():
        for method, operation in item.items():
            content = operation.get("requestBody", {}).get("content", {})
            if UPLOAD_MEDIA_TYPES & set(content):
                pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(path))
                found.append((method.upper(), re.compile(f"^{pattern}$")))
    return found


class BodyLimitMiddleware:
    """Refuse a body over ``limit`` bytes with 413 before the application reads any of it:
    by its ``Content-Length`` at once, otherwise while it arrives (chunked). At most ``limit``
    bytes are held; upload routes pass through untouched."""

    def __init__(self, app: ASGIApp, *, limit: int) -> None:
        self.app = app
        self.limit = limit
        self._uploads: list[tuple[str, re.Pattern[str]]] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self._upload(scope):
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._refuse(send)
            return
        held: list[Message] = []
        size = 0
        while True:
            message = await receive()
            held.append(message)
            if message["type"] != "http.request":
                break
            size += len(message.get("body", b""))
            if size > self.limit:
                await self._refuse(send)
                return
            if not message.get("more_body", False):
                break
        await self.app(scope, _replay(held, receive), send)

    def _upload(self, scope: Scope) -> bool:
        app = scope.get("app")
        if self._uploads is None:
            openapi = getattr(app, "openapi", None)
            self._uploads = upload_paths(openapi()) if callable(openapi) else []
        path = scope.get("path", "")
        return any(m == scope.get("method") and p.match(path) for m, p in self._uploads)

    async def _refuse(self, send: Send) -> None:
        body = json.dumps(
            {"detail": f"(body): larger than the limit of {self.limit} bytes; nothing was read"}
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _replay(held: list[Message], receive: Receive) -> Receive:
    """The messages read ahead, then whatever the client sends next (a disconnect)."""
    pending = list(held)

    async def replayed() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replayed
