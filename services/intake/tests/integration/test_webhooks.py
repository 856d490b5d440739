"""Webhooks against the real database and a real loopback receiver.

Every status change reaches the partner's endpoint once, signed, carrying the case reference
and the status and nothing else; failures are retried with backoff until the policy gives up;
the history shows each attempt to its own organisation only.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import socket
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import pytest
import structlog
from fastapi import FastAPI
from pymongo.asynchronous.database import AsyncDatabase

from corroborate.auth import SERVICE_AUDIENCES, Role, TokenVerifier
from corroborate.clock import utc_now
from corroborate.crypto import KeyRing, WrappedKey
from corroborate.http import answer_errors, install_common
from corroborate.mongo import Document, mongo_client
from corroborate.settings import Settings
from corroborate_testing import Receiver, eventually
from intake.adapters.webhook_store import (
    DELIVERIES,
    ENDPOINTS,
    MongoWebhookDeliveries,
    MongoWebhookEndpoints,
)
from intake.bootstrap import webhook_dispatcher
from intake.domain.webhooks import RetryPolicy, verify_signature
from intake.entrypoints.api import ERRORS
from intake.entrypoints.api.routes import webhooks as webhook_routes
from intake.entrypoints.loops import WebhookDispatcher
from intake.service.webhooks import Webhooks

pytestmark = pytest.mark.integration

Headers = dict[str, str]
Bearer = Callable[..., Headers]
QUICK = RetryPolicy(
    first_delay=timedelta(milliseconds=20), max_delay=timedelta(milliseconds=40), max_attempts=3
)


@dataclass
class Harness:
    """Webhooks wired as intake's composition root wires them, on a database of this test's own."""

    settings: Settings
    keyring: KeyRing
    database: AsyncDatabase[Document]
    webhooks: Webhooks
    dispatchers: list[WebhookDispatcher] = field(default_factory=list)

    @property
    def referrals(self) -> Any:
        return self.database["referrals"]

    @property
    def deliveries(self) -> Any:
        return self.database[DELIVERIES]

    def dispatcher(self, **options: Any) -> WebhookDispatcher:
        arguments: dict[str, Any] = {
            "policy": QUICK,
            "poll_seconds": 0.2,
            "allow_private_addresses": True,  # the receiver listens on loopback
            **options,
        }
        dispatcher = webhook_dispatcher(
            referrals=self.database["referrals"],
            endpoints=self.webhooks.endpoints,
            deliveries=self.webhooks.deliveries,
            keyring=self.keyring,
            **arguments,
        )
        self.dispatchers.append(dispatcher)
        return dispatcher

    def api(self, *, allow_insecure: bool = True) -> httpx.AsyncClient:
        webhooks = Webhooks(
            endpoints=self.webhooks.endpoints,
            deliveries=self.webhooks.deliveries,
            keyring=self.keyring,
            allow_insecure=allow_insecure,
        )
        app = FastAPI()
        app.state.token_verifier = TokenVerifier(
            public_key_pem=self.settings.public_key_pem,
            issuer=self.settings.auth_issuer,
            audience=SERVICE_AUDIENCES["intake"],
        )
        app.state.webhooks = webhooks
        install_common(app)
        answer_errors(app, ERRORS)
        app.include_router(webhook_routes.router)
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")

    async def add_referral(self, organisation: str, *statuses: str) -> tuple[str, list[str]]:
        """A referral whose status changed ``statuses`` times, the notifications still pending."""
        reference = f"CRB-2026-{secrets.token_hex(3).upper()}"
        start = utc_now()
        changes: list[dict[str, Any]] = [
            {"change_id": str(uuid.uuid4()), "status": status, "at": start + timedelta(seconds=i)}
            for i, status in enumerate(statuses)
        ]
        await self.referrals.insert_one(
            {
                "_id": str(uuid.uuid4()),
                "organisation": organisation,
                "reference": reference,
                "status": statuses[-1],
                "created_by": "solicitor-1",
                "sealed_details": "c2VhbGVk",
                "pending_notifications": changes,
                "notifications_pending": True,
            }
        )
        return reference, [c["change_id"] for c in changes]

    async def delivery(self, delivery_id: str) -> Document:
        found: Document | None = await self.deliveries.find_one({"_id": delivery_id})
        assert found is not None
        return found


@pytest.fixture
async def harness(settings: Settings, keyring: KeyRing) -> AsyncIterator[Harness]:
    client = mongo_client(settings)
    name = settings.database_name(f"webhooks_{secrets.token_hex(3)}")
    database = client[name]
    webhooks = Webhooks(
        endpoints=MongoWebhookEndpoints(database[ENDPOINTS]),
        deliveries=MongoWebhookDeliveries(database[DELIVERIES]),
        keyring=keyring,
        allow_insecure=True,
    )
    await webhooks.deliveries.ensure_indexes()
    built = Harness(settings=settings, keyring=keyring, database=database, webhooks=webhooks)
    try:
        yield built
    finally:
        for dispatcher in built.dispatchers:
            await dispatcher.stop()
        await client.drop_database(name)
        await client.close()


@pytest.fixture
async def api(harness: Harness) -> AsyncIterator[httpx.AsyncClient]:
    async with harness.api() as client:
        yield client


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    endpoint = Receiver()
    await endpoint.start()
    try:
        yield endpoint
    finally:
        await endpoint.stop()


@pytest.fixture
def org() -> str:
    return f"solicitors-{secrets.token_hex(3)}"


@pytest.fixture
def secret() -> str:
    return secrets.token_urlsafe(32)


@pytest.fixture
def register(
    api: httpx.AsyncClient, bearer: Bearer, secret: str
) -> Callable[..., Awaitable[httpx.Response]]:
    async def put(organisation: str, url: str) -> httpx.Response:
        response = await api.put(
            f"/organisations/{organisation}/webhook",
            json={"url": url, "secret": secret},
            headers=bearer(Role.ADMIN, sub="admin-1"),
        )
        assert response.status_code == 200, response.text
        return response

    return put


async def _history(api: httpx.AsyncClient, headers: Headers, **params: Any) -> dict[str, Any]:
    response = await api.get("/webhook/deliveries", params=params, headers=headers)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


async def test_a_status_change_is_delivered_once_signed_with_only_reference_and_status(
    harness: Harness,
    api: httpx.AsyncClient,
    receiver: Receiver,
    register: Callable[..., Awaitable[httpx.Response]],
    bearer: Bearer,
    org: str,
    secret: str,
) -> None:
    await register(org, receiver.url)
    reference, (change_id,) = await harness.add_referral(org, "accepted")
    dispatcher = harness.dispatcher()

    assert await dispatcher.run_once() == 1
    assert await dispatcher.run_once() == 0  # delivered: never sent again

    (request,) = receiver.requests
    assert request.path == "/hooks/corroborate?token=query-token-xyz"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["corroborate-delivery"] == change_id
    assert verify_signature(
        secret.encode(), request.headers["corroborate-signature"], request.body, now=utc_now()
    )
    assert set(request.json) == {"delivery_id", "case_reference", "status", "occurred_at"}
    assert request.json["delivery_id"] == change_id
    assert request.json["case_reference"] == reference
    assert request.json["status"] == "accepted"
    stored = await harness.referrals.find_one({"pending_notifications.change_id": change_id})
    assert stored is None  # moved off the referral

    page = await _history(api, bearer(Role.PARTNER, org=org))
    (delivery,) = page["deliveries"]
    assert delivery["delivery_id"] == change_id
    assert delivery["case_reference"] == reference
    assert delivery["state"] == "delivered"
    assert delivery["next_attempt_at"] is None
    (attempt,) = delivery["attempts"]
    assert attempt["status_code"] == 200
    assert attempt["error"] is None


async def test_a_refusing_receiver_is_retried_with_backoff_until_it_accepts(
    harness: Harness,
    api: httpx.AsyncClient,
    receiver: Receiver,
    register: Callable[..., Awaitable[httpx.Response]],
    bearer: Bearer,
    org: str,
    secret: str,
) -> None:
    receiver.fail_first = 2
    await register(org, receiver.url)
    _, (change_id,) = await harness.add_referral(org, "submitted")
    policy = RetryPolicy(
        first_delay=timedelta(milliseconds=400),
        max_delay=timedelta(seconds=5),
        max_attempts=5,
    )
    dispatcher = harness.dispatcher(policy=policy)

    assert await dispatcher.run_once() == 1
    assert await dispatcher.run_once() == 0  # not due again yet
    first = await harness.delivery(change_id)
    assert first["state"] == "pending"
    assert [a["status_code"] for a in first["attempts"]] == [503]
    assert first["next_attempt_at"] - first["attempts"][0]["at"] >= timedelta(milliseconds=400)

    async def delivered() -> bool:
        await dispatcher.run_once()
        return bool((await harness.delivery(change_id))["state"] == "delivered")

    await eventually(delivered, within=15, what="delivery after two refusals")

    done = await harness.delivery(change_id)
    attempts = done["attempts"]
    assert [a["status_code"] for a in attempts] == [503, 503, 200]
    assert attempts[1]["at"] - attempts[0]["at"] >= timedelta(milliseconds=400)
    assert attempts[2]["at"] - attempts[1]["at"] >= timedelta(milliseconds=800)  # doubled
    assert [r.headers["corroborate-delivery"] for r in receiver.requests] == [change_id] * 3
    for request in receiver.requests:
        assert verify_signature(
            secret.encode(), request.headers["corroborate-signature"], request.body, now=utc_now()
        )
    (shown,) = (await _history(api, bearer(Role.PARTNER, org=org)))["deliveries"]
    assert [a["status_code"] for a in shown["attempts"]] == [503, 503, 200]
    assert shown["state"] == "delivered"


async def test_after_the_last_attempt_the_delivery_is_failed_and_left_alone(
    harness: Harness,
    receiver: Receiver,
    register: Callable[..., Awaitable[httpx.Response]],
    org: str,
) -> None:
    receiver.fail_first = 1_000
    receiver.failure_status = 500
    await register(org, receiver.url)
    _, (change_id,) = await harness.add_referral(org, "in_assessment")
    dispatcher = harness.dispatcher(policy=QUICK)

    async def given_up() -> bool:
        await dispatcher.run_once()
        return bool((await harness.delivery(change_id))["state"] == "failed")

    await eventually(given_up, within=15, what="delivery given up")

    failed = await harness.delivery(change_id)
    assert [a["status_code"] for a in failed["attempts"]] == [500, 500, 500]
    assert failed["next_attempt_at"] is None
    await asyncio.sleep(0.1)
    assert await dispatcher.run_once() == 0
    assert len(receiver.requests) == QUICK.max_attempts


async def test_an_unreachable_or_slow_endpoint_records_a_short_error_and_no_status(
    harness: Harness,
    receiver: Receiver,
    register: Callable[..., Awaitable[httpx.Response]],
    org: str,
) -> None:
    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    once = RetryPolicy(first_delay=timedelta(seconds=1), max_attempts=1)
    await register(org, f"http://127.0.0.1:{closed_port}/hook")
    _, (unreachable,) = await harness.add_referral(org, "accepted")
    assert await harness.dispatcher(policy=once).run_once() == 1

    slow_org = f"{org}-slow"
    receiver.stall_seconds = 1.0
    await register(slow_org, receiver.url)
    _, (slow,) = await harness.add_referral(slow_org, "accepted")
    started = time.perf_counter()
    assert await harness.dispatcher(policy=once, timeout_seconds=0.2).run_once() == 1
    assert time.perf_counter() - started < 1.0  # the timeout, not the receiver, ended it

    for delivery_id, error in ((unreachable, "connection failed"), (slow, "timeout")):
        (attempt,) = (await harness.delivery(delivery_id))["attempts"]
        assert (attempt["status_code"], attempt["error"]) == (None, error)
        assert (await harness.delivery(delivery_id))["state"] == "failed"


async def test_a_crash_between_recording_and_removing_a_notification_never_duplicates_it(
    harness: Harness,
    receiver: Receiver,
    register: Callable[..., Awaitable[httpx.Response]],
    org: str,
) -> None:
    await register(org, receiver.url)
    _, (change_id,) = await harness.add_referral(org, "accepted")
    dispatcher = harness.dispatcher()
    pending = await harness.referrals.find_one({"pending_notifications.change_id": change_id})
    (entry,) = pending["pending_notifications"]

    assert await dispatcher.dispatch.move_pending() == 1
    # The crash: the notification was recorded, but is still on the referral.
    await harness.referrals.update_one(
        {"_id": pending["_id"]},
        {"$push": {"pending_notifications": entry}, "$set": {"notifications_pending": True}},
    )
    assert await dispatcher.run_once() == 1

    # And once more after it was delivered: the record is not reset, nothing is resent.
    await harness.referrals.update_one(
        {"_id": pending["_id"]},
        {"$push": {"pending_notifications": entry}, "$set": {"notifications_pending": True}},
    )
    assert await dispatcher.run_once() == 0

    assert len(receiver.requests) == 1
    assert await harness.deliveries.count_documents({}) == 1
    assert (await harness.delivery(change_id))["state"] == "delivered"
    settled = await harness.referrals.find_one({"_id": pending["_id"]})
    assert settled["pending_notifications"] == []
    assert settled["notifications_pending"] is False


async def test_two_replicas_post_each_status_change_once(
    harness: Harness,
    receiver: Receiver,
    register: Callable[..., Awaitable[httpx.Response]],
    org: str,
) -> None:
    receiver.stall_seconds = 0.05
    await register(org, receiver.url)
    expected: set[str] = set()
    for _ in range(4):
        _, changes = await harness.add_referral(org, "submitted", "accepted", "in_assessment")
        expected |= set(changes)
    first = harness.dispatcher(concurrency=3)
    second = harness.dispatcher(concurrency=3)

    made = await asyncio.gather(first.run_once(), second.run_once())

    assert sum(made) == len(expected)
    sent = [r.headers["corroborate-delivery"] for r in receiver.requests]
    assert sorted(sent) == sorted(expected)
    assert await harness.deliveries.count_documents({"state": "delivered"}) == len(expected)


async def test_without_an_endpoint_the_change_is_recorded_as_such_and_never_sent(
    harness: Harness,
    api: httpx.AsyncClient,
    receiver: Receiver,
    register: Callable[..., Awaitable[httpx.Response]],
    bearer: Bearer,
    org: str,
) -> None:
    reference, (change_id,) = await harness.add_referral(org, "accepted")
    dispatcher = harness.dispatcher()

    assert await dispatcher.run_once() == 0
    await register(org, receiver.url)  # registering later does not resend the past
    assert await dispatcher.run_once() == 0

    assert receiver.requests == []
    (delivery,) = (await _history(api, bearer(Role.PARTNER, org=org)))["deliveries"]
    assert delivery["delivery_id"] == change_id
    assert delivery["case_reference"] == reference
    assert delivery["state"] == "no_endpoint"
    assert delivery["attempts"] == []
    assert delivery["next_attempt_at"] is None


async def test_an_endpoint_removed_before_the_attempt_sends_nothing(
    harness: Harness,
    api: httpx.AsyncClient,
    receiver: Receiver,
    register: Callable[..., Awaitable[httpx.Response]],
    bearer: Bearer,
    org: str,
) -> None:
    await register(org, receiver.url)
    _, (change_id,) = await harness.add_referral(org, "accepted")
    dispatcher = harness.dispatcher()
    assert await dispatcher.dispatch.move_pending() == 1

    removed = await api.delete(f"/organisations/{org}/webhook", headers=bearer(Role.ADMIN))
    assert removed.status_code == 204
    assert await dispatcher.dispatch.attempt_due() == 0

    assert receiver.requests == []
    assert (await harness.delivery(change_id))["state"] == "no_endpoint"


async def test_the_secret_is_sealed_at_rest_and_never_shown_again(
    harness: Harness,
    api: httpx.AsyncClient,
    receiver: Receiver,
    register: Callable[..., Awaitable[httpx.Response]],
    bearer: Bearer,
    keyring: KeyRing,
    org: str,
    secret: str,
) -> None:
    registered = await register(org, receiver.url)
    shown = await api.get("/webhook", headers=bearer(Role.PARTNER, org=org))

    assert registered.json() == {
        "organisation": org,
        "url": receiver.url,
        "registered_at": registered.json()["registered_at"],
        "registered_by": "admin-1",
    }
    assert shown.status_code == 200
    assert set(shown.json()) == {"url", "registered_at"}
    assert secret not in registered.text + shown.text
    stored = await harness.database[ENDPOINTS].find_one({"_id": org})
    assert stored is not None
    assert secret not in json.dumps(stored, default=str)
    assert secret.encode().hex() not in json.dumps(stored, default=str)
    key = keyring.unwrap(WrappedKey.model_validate(stored["wrapped_key"]))
    assert key.open(stored["sealed_secret"], context=f"webhook:{org}") == secret.encode()


async def test_a_partner_sees_only_its_own_organisations_webhook_and_deliveries(
    harness: Harness,
    api: httpx.AsyncClient,
    receiver: Receiver,
    register: Callable[..., Awaitable[httpx.Response]],
    bearer: Bearer,
    org: str,
) -> None:
    other = f"{org}-b"
    await register(org, receiver.url)
    await harness.add_referral(org, "accepted")
    await harness.dispatcher().run_once()

    outsider = bearer(Role.PARTNER, org=other)
    assert (await _history(api, outsider))["deliveries"] == []
    assert (await api.get("/webhook", headers=outsider)).status_code == 404
    assert len((await _history(api, bearer(Role.PARTNER, org=org)))["deliveries"]) == 1


async def test_only_an_admin_registers_or_removes_a_webhook(
    api: httpx.AsyncClient, receiver: Receiver, bearer: Bearer, org: str, secret: str
) -> None:
    path = f"/organisations/{org}/webhook"
    body = {"url": receiver.url, "secret": secret}
    partner = bearer(Role.PARTNER, org=org)

    assert (await api.put(path, json=body)).status_code == 401
    assert (await api.put(path, json=body, headers=partner)).status_code == 403
    assert (await api.put(path, json=body, headers=bearer(Role.COORDINATOR))).status_code == 403
    assert (await api.put(path, json=body, headers=bearer(Role.ADMIN))).status_code == 200
    assert (await api.delete(path, headers=partner)).status_code == 403
    assert (await api.get("/webhook/deliveries", headers=bearer(Role.ADMIN))).status_code == 403
    assert (await api.delete(path, headers=bearer(Role.ADMIN))).status_code == 204
    assert (await api.delete(path, headers=bearer(Role.ADMIN))).status_code == 404
    assert (await api.get("/webhook", headers=partner)).status_code == 404


async def test_plain_http_and_short_secrets_are_refused_outside_local_stacks(
    harness: Harness, bearer: Bearer, org: str, secret: str
) -> None:
    admin = bearer(Role.ADMIN)
    path = f"/organisations/{org}/webhook"
    async with harness.api(allow_insecure=False) as strict:
        insecure = await strict.put(
            path, json={"url": "http://hooks.example.org/h", "secret": secret}, headers=admin
        )
        short = await strict.put(
            path,
            json={"url": "https://hooks.example.org/h", "secret": "short-secret-0123"},
            headers=admin,
        )
        accepted = await strict.put(
            path, json={"url": "https://hooks.example.org/h", "secret": secret}, headers=admin
        )

    assert insecure.status_code == 422
    assert [(e["field"], e["rule"]) for e in insecure.json()["errors"]] == [
        ("url", "https_required")
    ]
    assert short.status_code == 422
    assert [e["field"] for e in short.json()["errors"]] == ["secret"]
    assert "short-secret-0123" not in short.text
    assert accepted.status_code == 200
    assert await harness.database[ENDPOINTS].count_documents({"_id": org}) == 1


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/hook",
        "https://localhost:8443/hook",
        "https://10.1.2.3/hook",
        "https://192.168.0.10/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/hook",
        "https://[::ffff:127.0.0.1]/hook",
        "https://[fd00::1]/hook",
        "https://0.0.0.0/hook",
    ],
)
async def test_a_webhook_may_not_point_into_a_private_network(
    harness: Harness, bearer: Bearer, org: str, secret: str, url: str
) -> None:
    async with harness.api(allow_insecure=False) as strict:
        refused = await strict.put(
            f"/organisations/{org}/webhook",
            json={"url": url, "secret": secret},
            headers=bearer(Role.ADMIN),
        )
    assert refused.status_code == 422
    assert [(e["field"], e["rule"]) for e in refused.json()["errors"]] == [
        ("url", "public_address_required")
    ]
    assert await harness.database[ENDPOINTS].count_documents({"_id": org}) == 0


async def test_a_name_resolving_to_a_private_address_is_never_posted_to(
    harness: Harness,
    receiver: Receiver,
    register: Callable[..., Awaitable[httpx.Response]],
    org: str,
) -> None:
    # Registered while local addresses were allowed; delivered by a dispatcher that refuses
    # them, as a name re-pointed at the internal network after registration would be.
    await register(org, receiver.url.replace("127.0.0.1", "localhost"))
    _, (delivery_id,) = await harness.add_referral(org, "accepted")
    once = RetryPolicy(first_delay=timedelta(seconds=1), max_attempts=1)
    assert await harness.dispatcher(policy=once, allow_private_addresses=False).run_once() == 1

    (attempt,) = (await harness.delivery(delivery_id))["attempts"]
    assert (attempt["status_code"], attempt["error"]) == (None, "address not public")
    assert receiver.requests == []


async def test_the_history_pages_newest_first_with_an_opaque_cursor(
    harness: Harness, api: httpx.AsyncClient, bearer: Bearer, org: str
) -> None:
    statuses = ["submitted", "accepted", "in_assessment", "in_legal_review", "issued"]
    await harness.add_referral(org, *statuses)
    await harness.dispatcher().run_once()
    partner = bearer(Role.PARTNER, org=org)

    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        page = await _history(api, partner, limit=2, **({"cursor": cursor} if cursor else {}))
        seen += [d["status"] for d in page["deliveries"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert seen == list(reversed(statuses))
    assert pages == 3
    tampered = await api.get(
        "/webhook/deliveries", params={"cursor": "not-a-cursor"}, headers=partner
    )
    assert tampered.status_code == 422
    assert [e["field"] for e in tampered.json()["errors"]] == ["cursor"]
    too_many = await api.get("/webhook/deliveries", params={"limit": 201}, headers=partner)
    assert too_many.status_code == 422


async def test_the_running_dispatcher_delivers_when_nudged_and_stops_promptly(
    harness: Harness,
    receiver: Receiver,
    register: Callable[..., Awaitable[httpx.Response]],
    org: str,
) -> None:
    await register(org, receiver.url)
    dispatcher = harness.dispatcher(poll_seconds=30.0)
    await dispatcher.start()
    await asyncio.sleep(0.1)  # the first pass, with nothing to do, is over

    _, (change_id,) = await harness.add_referral(org, "accepted")
    dispatcher.notify()

    async def received() -> bool:
        return len(receiver.requests) == 1

    await eventually(received, within=10, what="delivery after notify()")
    started = time.perf_counter()
    await dispatcher.stop()
    assert time.perf_counter() - started < 6.0
    assert receiver.requests[0].headers["corroborate-delivery"] == change_id


async def test_logs_name_neither_the_secret_nor_the_urls_query_string(
    harness: Harness,
    receiver: Receiver,
    register: Callable[..., Awaitable[httpx.Response]],
    org: str,
    secret: str,
) -> None:
    receiver.fail_first = 1
    with structlog.testing.capture_logs() as logs:
        await register(org, receiver.url)
        await harness.add_referral(org, "accepted")
        dispatcher = harness.dispatcher(policy=QUICK)
        await dispatcher.run_once()
        await asyncio.sleep(0.05)
        await dispatcher.run_once()

    attempts = [line for line in logs if line["event"] == "webhook attempt"]
    assert [line["outcome"] for line in attempts] == ["pending", "delivered"]
    assert attempts[0]["endpoint_host"] == "127.0.0.1"
    dumped = json.dumps(logs, default=str)
    assert "query-token-xyz" not in dumped
    assert "/hooks/corroborate" not in dumped
    assert secret not in dumped
