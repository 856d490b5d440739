"""Short-lived signed download links for issued reports."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta


class LinkRejected(Exception):
    """The link is expired, altered, or for another organisation."""


@dataclass(frozen=True)
class DownloadLinks:
    secret: bytes
    ttl: timedelta

    def _signature(self, report_id: uuid.UUID, organisation: str, expires: int) -> str:
        message = f"{report_id}|{organisation}|{expires}".encode()
        return hmac.new(self.secret, message, hashlib.sha256).hexdigest()

    def sign(self, *, report_id: uuid.UUID, organisation: str, now: datetime) -> tuple[int, str]:
        expires = int((now + self.ttl).timestamp())
        return expires, self._signature(report_id, organisation, expires)

    def verify(
        self,
        *,
        report_id: uuid.UUID,
        organisation: str,
        expires: int,
        signature: str,
        now: datetime,
    ) -> None:
        expected = self._signature(report_id, organisation, expires)
        if not hmac.compare_digest(expected, signature):
            raise LinkRejected("the link's signature does not match")
        if now.timestamp() > expires:
            raise LinkRejected("the link has expired")
