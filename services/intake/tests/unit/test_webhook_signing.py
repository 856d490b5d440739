"""Webhook signatures, the notification body, the retry schedule and which URLs are accepted."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from intake.domain.webhooks import (
    Attempt,
    DeliveryState,
    InvalidWebhookUrl,
    RetryPolicy,
    WebhookNotification,
    retry_delay,
    signature_header,
    validate_webhook_url,
    verify_signature,
)

SECRET = b"s" * 32
NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
T = int(NOW.timestamp())
BODY = b'{"delivery_id":"x","status":"accepted"}'


def test_the_header_is_the_timestamp_and_the_hmac_of_timestamp_dot_body() -> None:
    expected = hmac.new(SECRET, f"{T}.".encode() + BODY, hashlib.sha256).hexdigest()

    assert signature_header(SECRET, T, BODY) == f"t={T},v1={expected}"


def test_a_receiver_accepts_what_was_signed() -> None:
    header = signature_header(SECRET, T, BODY)

    assert verify_signature(SECRET, header, BODY, now=NOW)
    assert verify_signature(SECRET, header, BODY, now=NOW + timedelta(seconds=299))


@pytest.mark.parametrize(
    ("secret", "body", "now"),
    [
        (b"t" * 32, BODY, NOW),  # another organisation's secret
        (SECRET, BODY.replace(b"accepted", b"issued"), NOW),  # an altered body
        (SECRET, BODY, NOW + timedelta(seconds=301)),  # replayed too late
        (SECRET, BODY, NOW - timedelta(seconds=301)),  # timestamped in the future
    ],
    ids=["wrong-secret", "altered-body", "too-old", "too-new"],
)
def test_a_receiver_refuses_anything_else(secret: bytes, body: bytes, now: datetime) -> None:
    assert not verify_signature(secret, signature_header(SECRET, T, BODY), body, now=now)


@pytest.mark.parametrize(
    "header",
    ["", "garbage", f"t={T}", "v1=abc", "t=,v1=ab", f"t={T},t={T},v1=ab", f"t=-{T},v1=ab"],
)
def test_a_malformed_header_is_refused(header: str) -> None:
    assert not verify_signature(SECRET, header, BODY, now=NOW)


def test_any_of_several_signatures_may_match_while_a_secret_is_rotated() -> None:
    good = signature_header(SECRET, T, BODY).split(",")[1]

    assert verify_signature(SECRET, f"t={T},v1={'0' * 64},{good}", BODY, now=NOW)


def test_the_body_carries_exactly_the_reference_status_time_and_delivery_id() -> None:
    delivery_id = uuid.uuid4()
    notification = WebhookNotification(
        delivery_id=delivery_id,
        case_reference="CRB-2026-ABC234",
        status="accepted",
        occurred_at=NOW,
    )

    body = json.loads(notification.body())

    assert body == {
        "delivery_id": str(delivery_id),
        "case_reference": "CRB-2026-ABC234",
        "status": "accepted",
        "occurred_at": "2026-03-02T10:00:00Z",
    }
    with pytest.raises(ValidationError):
        WebhookNotification.model_validate(
            {**body, "survivor": {"full_name": "Someone"}}  # nothing else fits in it
        )


def test_backoff_doubles_from_five_seconds_and_is_capped() -> None:
    policy = RetryPolicy(first_delay=timedelta(seconds=5), max_delay=timedelta(minutes=1))

    delays = [policy.retry_delay(n) for n in range(1, 7)]

    assert delays == [timedelta(seconds=s) for s in (5, 10, 20, 40, 60, 60)]
    assert retry_delay(1) == timedelta(seconds=5)
    assert policy.retry_delay(10_000) == timedelta(minutes=1)


def test_a_delivery_fails_for_good_after_the_last_attempt_the_policy_allows() -> None:
    policy = RetryPolicy(first_delay=timedelta(seconds=1), max_attempts=3)
    refused = Attempt(at=NOW, status_code=503, error=None, duration_ms=4)
    unreachable = Attempt(at=NOW, status_code=None, error="timeout", duration_ms=10_000)
    accepted = Attempt(at=NOW, status_code=204, error=None, duration_ms=3)

    assert policy.after(refused, attempts_made=1) == (DeliveryState.PENDING, timedelta(seconds=1))
    assert policy.after(unreachable, attempts_made=2) == (
        DeliveryState.PENDING,
        timedelta(seconds=2),
    )
    assert policy.after(refused, attempts_made=3) == (DeliveryState.FAILED, None)
    assert policy.after(accepted, attempts_made=3) == (DeliveryState.DELIVERED, None)


@pytest.mark.parametrize(
    "policy",
    [
        {"first_delay": timedelta(0)},
        {"first_delay": timedelta(seconds=10), "max_delay": timedelta(seconds=5)},
        {"max_attempts": 0},
    ],
)
def test_a_policy_that_would_spin_or_never_try_is_refused(policy: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="must"):
        RetryPolicy(**policy)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.example.org/corroborate",
        "https://example.org:8443/h?key=v",
        "https://[2001:4860:4860::8888]/",
        "https://8.8.8.8/hook",
    ],
)
def test_https_urls_with_a_host_are_accepted(url: str) -> None:
    assert validate_webhook_url(url, allow_insecure=False) == url


@pytest.mark.parametrize(
    ("url", "rule"),
    [
        ("http://hooks.example.org/h", "https_required"),
        ("ftp://hooks.example.org/h", "scheme"),
        ("hooks.example.org/h", "scheme"),
        ("https:///path-only", "host_required"),
        ("https://user:pass@hooks.example.org/h", "credentials_in_url"),
        ("https://token@hooks.example.org/h", "credentials_in_url"),
        ("https://hooks.example.org:99999/h", "malformed"),
        ("https://hooks.example.org/h#frag", "fragment"),
        ("https://hooks.example.org/a b", "whitespace"),
        ("https://hooks.example.org/" + "a" * 2048, "too_long"),
        ("https://[::1]/", "public_address_required"),
        ("https://127.0.0.1:8443/h", "public_address_required"),
        ("https://internal.localhost/h", "public_address_required"),
        ("https://172.16.0.1/h", "public_address_required"),
        ("https://100.64.0.1/h", "public_address_required"),
        ("https://[fe80::1%25eth0]/h", "public_address_required"),
    ],
)
def test_other_urls_are_refused_naming_the_rule(url: str, rule: str) -> None:
    with pytest.raises(InvalidWebhookUrl) as refused:
        validate_webhook_url(url, allow_insecure=False)

    assert refused.value.rule == rule


def test_plain_http_is_allowed_only_when_insecure_urls_are() -> None:
    url = "http://127.0.0.1:8080/hook"

    assert validate_webhook_url(url, allow_insecure=True) == url
    with pytest.raises(InvalidWebhookUrl):
        validate_webhook_url("http://user:pw@127.0.0.1/", allow_insecure=True)
