"""Webhooks to referral partners: what is sent, how it is signed, and when a failure is retried.

A notification names the case by its reference and carries its new status, nothing more: a
partner's endpoint, its logs and anyone watching them learn no survivor's identity. Each one
is signed with the organisation's secret over the timestamp and the body, so a receiver can
tell it came from Corroborate, unaltered and recently; the delivery id lets it drop repeats.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from urllib.parse import urlsplit

from pydantic import AwareDatetime, BaseModel, ConfigDict

from corroborate.crypto import WrappedKey

SIGNATURE_HEADER = "Corroborate-Signature"
DELIVERY_HEADER = "Corroborate-Delivery"
SIGNATURE_VERSION = "v1"
MIN_SECRET_LENGTH = 32
MAX_SECRET_LENGTH = 256
MAX_URL_LENGTH = 2048


class WebhookNotification(BaseModel):
    """The body POSTed to a partner: these four fields and never anything else."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    delivery_id: uuid.UUID
    case_reference: str
    status: str
    occurred_at: AwareDatetime

    def body(self) -> bytes:
        """The exact bytes sent and signed."""
        return self.model_dump_json().encode()


class DeliveryState(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"  # every attempt the policy allows was made, none accepted
    NO_ENDPOINT = "no_endpoint"  # the organisation had no webhook when the status changed


@dataclass(frozen=True)
class Attempt:
    """One POST: what came back (a status code, or a short error) and how long it took."""

    at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int

    @property
    def accepted(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class WebhookNotRegistered(Exception):
    """The organisation has no webhook endpoint."""


class SendFailed(Exception):
    """A POST got no answer; the message is a short reason that holds no URL, header or body."""


@dataclass(frozen=True)
class RegisteredEndpoint:
    """Where an organisation's notifications go; the secret is never part of it."""

    organisation: str
    url: str
    registered_by: str
    registered_at: datetime


@dataclass(frozen=True)
class SealedEndpoint:
    url: str
    wrapped_key: WrappedKey
    sealed_secret: str


@dataclass(frozen=True)
class DeliveryRecord:
    """One notification as its organisation sees it in the delivery history."""

    delivery_id: str
    case_reference: str
    status: str
    occurred_at: datetime
    state: DeliveryState
    attempts: list[Attempt]
    next_attempt_at: datetime | None


@dataclass(frozen=True)
class DeliveryPage:
    deliveries: list[DeliveryRecord]
    next_cursor: str | None


@dataclass(frozen=True)
class ClaimedDelivery:
    """A due delivery this process holds the lease on until it records the attempt."""

    delivery_id: str
    organisation: str
    case_reference: str
    status: str
    occurred_at: datetime
    attempts_made: int
    lease_id: str


@dataclass(frozen=True)
class StatusChangeNotice:
    """A pending notification as the referral holds it."""

    case_id: str
    organisation: str
    case_reference: str
    change_id: str
    status: str
    at: datetime


def signature_header(secret: bytes, timestamp: int, body: bytes) -> str:
    """``t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>." + body>``."""
    return f"t={timestamp},{SIGNATURE_VERSION}={_digest(secret, timestamp, body)}"


def verify_signature(
    secret: bytes,
    header: str,
    body: bytes,
    *,
    now: datetime,
    tolerance_seconds: int = 300,
) -> bool:
    """True if ``header`` signs ``body`` with ``secret`` within ``tolerance_seconds`` of now.

    For receivers (and tests). Several ``v1`` values are accepted, so a sender may sign with an
    old and a new secret while they are rotated; comparisons take constant time.
    """
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            return False
        if key == "t":
            if timestamp is not None or not value.isdigit():
                return False
            timestamp = int(value)
        elif key == SIGNATURE_VERSION:
            signatures.append(value)
    if timestamp is None or not signatures:
        return False
    if abs(now.timestamp() - timestamp) > tolerance_seconds:
        return False
    expected = _digest(secret, timestamp, body)
    matched = False
    for candidate in signatures:
        # Every candidate is compared, so the time taken does not say which one matched.
        matched |= hmac.compare_digest(expected.encode(), candidate.encode())
    return matched


def _digest(secret: bytes, timestamp: int, body: bytes) -> str:
    return hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff: ``first_delay`` after the first failure, doubling, up to ``max_delay``.

    After ``max_attempts`` refused or failed POSTs the delivery is given up as failed; the
    defaults keep trying for about six and a half hours (5 s, 10 s, ... then hourly).
    """

    first_delay: timedelta = timedelta(seconds=5)
    max_delay: timedelta = timedelta(hours=1)
    max_attempts: int = 16

    def __post_init__(self) -> None:
        # At least a millisecond (what MongoDB stores): a retry is never due in the same pass.
        if self.first_delay < timedelta(milliseconds=1):
            raise ValueError("first_delay must be at least one millisecond")
        if self.max_delay < self.first_delay:
            raise ValueError("max_delay must not be shorter than first_delay")
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")

    def retry_delay(self, attempt: int) -> timedelta:
        """How long to wait after failed attempt number ``attempt`` (1 for the first)."""
        if attempt < 1:
            raise ValueError("attempts are numbered from 1")
        # Doubling past the cap is pointless; bounding the exponent keeps the number small.
        exponent = min(attempt - 1, 40)
        return min(self.first_delay * (1 << exponent), self.max_delay)

    def after(
        self, attempt: Attempt, *, attempts_made: int
    ) -> tuple[DeliveryState, timedelta | None]:
        """The state after an attempt, and how long to wait before the next one (if any)."""
        if attempt.accepted:
            return DeliveryState.DELIVERED, None
        if attempts_made >= self.max_attempts:
            return DeliveryState.FAILED, None
        return DeliveryState.PENDING, self.retry_delay(attempts_made)


DEFAULT_RETRY_POLICY = RetryPolicy()


def retry_delay(attempt: int, policy: RetryPolicy = DEFAULT_RETRY_POLICY) -> timedelta:
    """The wait after failed attempt number ``attempt`` under ``policy``."""
    return policy.retry_delay(attempt)


class InvalidWebhookUrl(ValueError):
    """A URL Corroborate will not POST to; ``rule`` names which check refused it."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule


def is_public_address(address: str) -> bool:
    """Whether an IP address is on the public internet: not loopback, private, link-local
    (cloud metadata), shared, reserved, multicast or unspecified. IPv4 inside IPv6 counts as
    the IPv4 address it carries."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    return True


def validate_webhook_url(url: str, *, allow_insecure: bool) -> str:
    """Return ``url`` if it is an http(s) URL with a host and no credentials.

    ``https`` and a public destination are required unless ``allow_insecure`` (local stacks and
    tests, on loopback): a partner's webhook must not reach into Corroborate's own network.
    Names are checked again, resolved, before every delivery.
    """
    if len(url) > MAX_URL_LENGTH:
        raise InvalidWebhookUrl("too_long", f"the URL is longer than {MAX_URL_LENGTH} characters")
    if url != url.strip() or any(c.isspace() or ord(c) < 0x20 for c in url):
        raise InvalidWebhookUrl("whitespace", "the URL contains whitespace or control characters")
    try:
        parts = urlsplit(url)
        _ = parts.port  # a malformed port raises here
    except ValueError as exc:
        raise InvalidWebhookUrl("malformed", "the URL cannot be parsed") from exc
    if parts.scheme not in {"http", "https"}:
        expected = "http:// or https://" if allow_insecure else "https://"
        raise InvalidWebhookUrl("scheme", f"the URL must start with {expected}")
    if parts.scheme == "http" and not allow_insecure:
        raise InvalidWebhookUrl("https_required", "the URL must use https")
    if parts.username is not None or parts.password is not None:
        raise InvalidWebhookUrl(
            "credentials_in_url", "the URL must not carry a user name or password"
        )
    if not parts.hostname:
        raise InvalidWebhookUrl("host_required", "the URL must name a host")
    if parts.fragment:
        raise InvalidWebhookUrl("fragment", "the URL must not have a #fragment")
    host = parts.hostname.rstrip(".").lower()
    if not allow_insecure and (
        host == "localhost"
        or host.endswith(".localhost")
        or (_is_ip(host) and not is_public_address(host))
    ):
        raise InvalidWebhookUrl(
            "public_address_required",
            "the URL must name a host on the public internet, not a loopback, private or "
            "link-local address",
        )
    return url


def endpoint_host(url: str) -> str:
    """What a log line may say about an endpoint: its host, never its path or query string."""
    try:
        return urlsplit(url).hostname or "(none)"
    except ValueError:
        return "(unparseable)"
