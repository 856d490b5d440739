"""The signed POST of a webhook notification, to a public address only, bounded in time."""

from __future__ import annotations

import asyncio
import socket
from urllib.parse import urlsplit

import httpx

from corroborate.clock import utc_now
from intake.domain.webhooks import (
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    SendFailed,
    WebhookNotification,
    is_public_address,
    signature_header,
)

USER_AGENT = "Corroborate-Webhooks/1"


class PrivateDestination(Exception):
    """The endpoint's name resolves to an address that is not on the public internet."""


class HttpWebhookSender:
    """POSTs one signed notification; the response body is never read, nor kept."""

    def __init__(
        self,
        *,
        timeout_seconds: float = 10.0,
        allow_private_addresses: bool = False,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        if timeout_seconds <= 0:
            raise ValueError("timeout_seconds must be positive")
        self._timeout = timeout_seconds
        self._allow_private = allow_private_addresses
        self._http = http
        self._owns_http = http is None

    @property
    def timeout_seconds(self) -> float:
        return self._timeout

    async def post(self, notification: WebhookNotification, *, url: str, secret: bytes) -> int:
        body = notification.body()
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: signature_header(secret, int(utc_now().timestamp()), body),
            DELIVERY_HEADER: str(notification.delivery_id),
        }
        try:
            # The whole exchange is bounded, not each phase: the lease must outlast it.
            async with asyncio.timeout(self._timeout):
                if not self._allow_private:
                    await _ensure_public(url)
                async with self._client().stream(
                    "POST", url, content=body, headers=headers
                ) as response:
                    return response.status_code
        except PrivateDestination as exc:
            raise SendFailed("address not public") from exc
        except (httpx.HTTPError, TimeoutError, OSError) as exc:
            raise SendFailed(_short_error(exc)) from exc

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            # No redirects (a 3xx is a failure) and no proxy or .netrc from the environment:
            # nothing but the signed body goes to the registered URL.
            self._http = httpx.AsyncClient(
                timeout=self._timeout,
                follow_redirects=False,
                trust_env=False,
                headers={"User-Agent": USER_AGENT},
            )
        return self._http

    async def close(self) -> None:
        """Close the client this sender made (one it was given belongs to its giver)."""
        if self._owns_http and self._http is not None:
            await self._http.aclose()
            self._http = None


async def _ensure_public(url: str) -> None:
    """Resolve the endpoint's host and refuse any loopback, private or link-local address, so
    that a name pointed at Corroborate's own network after registration is not POSTed to."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    if not infos or not all(is_public_address(str(info[4][0])) for info in infos):
        raise PrivateDestination(host)


def _short_error(exc: BaseException) -> str:
    """What went wrong, in words that never hold a URL, a header or a response body."""
    if isinstance(exc, TimeoutError | httpx.TimeoutException):
        return "timeout"
    if isinstance(exc, httpx.ConnectError):
        text = str(exc)
        if "CERTIFICATE_VERIFY_FAILED" in text:
            return "tls certificate not trusted"
        return "tls handshake failed" if "SSL" in text else "connection failed"
    if isinstance(exc, httpx.RemoteProtocolError):
        return "invalid http response"
    if isinstance(exc, httpx.HTTPError):
        return f"http error ({type(exc).__name__})"
    return f"network error ({type(exc).__name__})"
