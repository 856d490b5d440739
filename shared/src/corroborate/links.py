"""Short-lived signed download links for issued reports.

Reporting verifies them at its download endpoint; intake signs them too, so the partner gets
a link from the page where they follow their case. Both read the secret from settings.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta


class LinkRejected(Exception):
    """The link is expired, altered, or for another organisation."""


@dataclass(frozen=True)
class SignedLink:
    url: str
    expires_at: datetime


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

    def link(
        self, *, base_url: str, report_id: uuid.UUID, organisation: str, now: datetime
    ) -> SignedLink:
        """The full URL of reporting's download endpoint for this report, signed."""
        expires, signature = self.sign(report_id=report_id, organisation=organisation, now=now)
        return SignedLink(
            url=f"{base_url}/reports/{report_id}/download?expires={expires}&signature={signature}",
            expires_at=datetime.fromtimestamp(expires, tz=UTC),
        )

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
