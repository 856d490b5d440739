"""Webhooks in MongoDB and on the wire: endpoints, the delivery log, and the dispatcher.

A status change is written to the referral with a pending notification (one write, by the
referral's own save). The dispatcher copies each into ``webhook_deliveries`` under its
change id (an upsert that inserts at most once) and only then removes it from the referral,
so a crash between the two steps repeats the copy harmlessly and never duplicates a
delivery. Delivery is at least once: a receiver drops repeats by the delivery id.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import socket
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from corroborate.clock import utc_now
from corroborate.crypto import DecryptionError, KeyRing, WrappedKey
from corroborate.logging import get_logger
from corroborate.mongo import Document
from intake.domain.webhooks import (
    DEFAULT_RETRY_POLICY,
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    Attempt,
    DeliveryState,
    RetryPolicy,
    WebhookNotification,
    endpoint_host,
    is_public_address,
    signature_header,
    validate_webhook_url,
)

ENDPOINTS = "webhook_endpoints"
DELIVERIES = "webhook_deliveries"
USER_AGENT = "Corroborate-Webhooks/1"
CLAIM_CANDIDATES = 16  # due deliveries read at a time when claiming one

log = get_logger(__name__)


class WebhookNotRegistered(Exception):
    """The organisation has no webhook endpoint."""


class InvalidCursor(ValueError):
    """A history cursor this service did not hand out (or that was altered)."""


def _secret_context(organisation: str) -> str:
    return f"webhook:{organisation}"


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


class WebhookEndpoints:
    """``webhook_endpoints``: one per organisation (``_id``), its secret sealed at rest."""

    def __init__(self, collection: AsyncCollection[Document]) -> None:
        self._collection = collection

    async def save(
        self, endpoint: RegisteredEndpoint, *, wrapped_key: WrappedKey, sealed_secret: str
    ) -> None:
        """Register or replace the organisation's endpoint."""
        await self._collection.replace_one(
            {"_id": endpoint.organisation},
            {
                "url": endpoint.url,
                "wrapped_key": wrapped_key.model_dump(),
                "sealed_secret": sealed_secret,
                "registered_by": endpoint.registered_by,
                "registered_at": endpoint.registered_at,
            },
            upsert=True,
        )

    async def get(self, organisation: str) -> RegisteredEndpoint | None:
        raw = await self._collection.find_one(
            {"_id": organisation}, {"wrapped_key": 0, "sealed_secret": 0}
        )
        if raw is None:
            return None
        return RegisteredEndpoint(
            organisation=raw["_id"],
            url=raw["url"],
            registered_by=raw["registered_by"],
            registered_at=raw["registered_at"],
        )

    async def sealed(self, organisation: str) -> SealedEndpoint | None:
        raw = await self._collection.find_one({"_id": organisation})
        if raw is None:
            return None
        return SealedEndpoint(
            url=raw["url"],
            wrapped_key=WrappedKey.model_validate(raw["wrapped_key"]),
            sealed_secret=raw["sealed_secret"],
        )

    async def exists(self, organisation: str) -> bool:
        return bool(await self._collection.count_documents({"_id": organisation}, limit=1))

    async def remove(self, organisation: str) -> bool:
        result = await self._collection.delete_one({"_id": organisation})
        return result.deleted_count == 1


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


def _attempt_to_mongo(attempt: Attempt) -> Document:
    return {
        "at": attempt.at,
        "status_code": attempt.status_code,
        "error": attempt.error,
        "duration_ms": attempt.duration_ms,
    }


def _attempt_from_mongo(raw: Document) -> Attempt:
    return Attempt(
        at=raw["at"],
        status_code=raw.get("status_code"),
        error=raw.get("error"),
        duration_ms=raw.get("duration_ms", 0),
    )


def _encode_cursor(occurred_at: datetime, delivery_id: str) -> str:
    raw = json.dumps({"t": occurred_at.isoformat(), "id": delivery_id}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        position = json.loads(raw)
        occurred_at = datetime.fromisoformat(position["t"])
        delivery_id = position["id"]
    except (binascii.Error, ValueError, KeyError, TypeError) as exc:
        raise InvalidCursor("the cursor is not one this service handed out") from exc
    if not isinstance(delivery_id, str) or occurred_at.tzinfo is None:
        raise InvalidCursor("the cursor is not one this service handed out")
    return occurred_at, delivery_id


class WebhookDeliveries:
    """``webhook_deliveries``: one document per status change (``_id`` = its change id)."""

    def __init__(self, collection: AsyncCollection[Document]) -> None:
        self._collection = collection

    async def ensure_indexes(self) -> None:
        await self._collection.create_index([("state", ASCENDING), ("next_attempt_at", ASCENDING)])
        await self._collection.create_index(
            [("organisation", ASCENDING), ("occurred_at", DESCENDING), ("_id", DESCENDING)]
        )

    async def record(self, notice: StatusChangeNotice, *, has_endpoint: bool) -> bool:
        """Record a status change for delivery once; False if it was recorded before."""
        state = DeliveryState.PENDING if has_endpoint else DeliveryState.NO_ENDPOINT
        now = utc_now()
        try:
            result = await self._collection.update_one(
                {"_id": notice.change_id},
                {
                    "$setOnInsert": {
                        "organisation": notice.organisation,
                        "case_id": notice.case_id,
                        "case_reference": notice.case_reference,
                        "status": notice.status,
                        "occurred_at": notice.at,
                        "state": state.value,
                        "attempts": [],
                        "next_attempt_at": now if has_endpoint else None,
                        "recorded_at": now,
                    }
                },
                upsert=True,
            )
        except DuplicateKeyError:  # another replica inserted it between our match and insert
            return False
        return result.upserted_id is not None

    async def any_due(self, *, due_by: datetime) -> bool:
        """Whether a delivery is due: a plain read, so that a pass with nothing to deliver
        (the usual case) takes no lease, each a find-and-modify, which on SecantusDB scans."""
        found = await self._collection.find_one(
            {"state": DeliveryState.PENDING.value, "next_attempt_at": {"$lte": due_by}},
            {"_id": 1},
        )
        return found is not None

    async def claim_due(self, *, due_by: datetime, lease_until: datetime) -> ClaimedDelivery | None:
        """Take the oldest due delivery, hiding it from other replicas until ``lease_until``.

        Read the oldest due deliveries, then claim one with a write conditional on it being
        unchanged since it was read; another replica that claimed it first makes that write
        match nothing, and the next is tried. (A find-and-modify would claim in one call, but on
        SecantusDB it scans the whole collection, which grows with every status change.)"""
        due = {"state": DeliveryState.PENDING.value, "next_attempt_at": {"$lte": due_by}}
        while True:
            candidates = await self._collection.find(
                due, sort=[("next_attempt_at", ASCENDING)], limit=CLAIM_CANDIDATES
            ).to_list()
            if not candidates:
                return None
            for raw in candidates:
                lease_id = str(uuid.uuid4())
                taken = await self._collection.update_one(
                    {
                        "_id": raw["_id"],
                        "state": DeliveryState.PENDING.value,
                        "next_attempt_at": raw["next_attempt_at"],
                    },
                    {"$set": {"next_attempt_at": lease_until, "lease_id": lease_id}},
                )
                if taken.matched_count == 1:
                    return ClaimedDelivery(
                        delivery_id=raw["_id"],
                        organisation=raw["organisation"],
                        case_reference=raw["case_reference"],
                        status=raw["status"],
                        occurred_at=raw["occurred_at"],
                        attempts_made=len(raw.get("attempts", [])),
                        lease_id=lease_id,
                    )
            # Every candidate was claimed by someone else meanwhile: read again.

    async def complete(
        self,
        claim: ClaimedDelivery,
        *,
        attempt: Attempt | None,
        state: DeliveryState,
        next_attempt_at: datetime | None,
    ) -> bool:
        """Record the outcome of a claimed attempt; False if the lease was lost meanwhile."""
        update: dict[str, Any] = {
            "$set": {"state": state.value, "next_attempt_at": next_attempt_at},
            "$unset": {"lease_id": ""},
        }
        if attempt is not None:
            update["$push"] = {"attempts": _attempt_to_mongo(attempt)}
        result = await self._collection.update_one(
            {"_id": claim.delivery_id, "lease_id": claim.lease_id}, update
        )
        return result.matched_count == 1

    async def history(
        self, organisation: str, *, limit: int, cursor: str | None = None
    ) -> DeliveryPage:
        """The organisation's deliveries, newest status change first, a page at a time."""
        query: dict[str, Any] = {"organisation": organisation}
        if cursor is not None:
            occurred_at, delivery_id = _decode_cursor(cursor)
            query["$or"] = [
                {"occurred_at": {"$lt": occurred_at}},
                {"occurred_at": occurred_at, "_id": {"$lt": delivery_id}},
            ]
        found = (
            self._collection.find(query, {"lease_id": 0})
            .sort([("occurred_at", DESCENDING), ("_id", DESCENDING)])
            .limit(limit + 1)
        )
        records = [self._record(raw) async for raw in found]
        page = records[:limit]
        next_cursor = None
        if len(records) > limit:
            last = page[-1]
            next_cursor = _encode_cursor(last.occurred_at, last.delivery_id)
        return DeliveryPage(deliveries=page, next_cursor=next_cursor)

    @staticmethod
    def _record(raw: Document) -> DeliveryRecord:
        return DeliveryRecord(
            delivery_id=raw["_id"],
            case_reference=raw["case_reference"],
            status=raw["status"],
            occurred_at=raw["occurred_at"],
            state=DeliveryState(raw["state"]),
            attempts=[_attempt_from_mongo(a) for a in raw.get("attempts", [])],
            next_attempt_at=raw.get("next_attempt_at"),
        )


class PendingNotifications:
    """The notifications waiting on referrals (the other half of each status change's write)."""

    def __init__(self, referrals: AsyncCollection[Document]) -> None:
        self._referrals = referrals

    async def waiting(self) -> AsyncIterator[StatusChangeNotice]:
        """Every pending notice, oldest first within each referral; unreadable ones are logged."""
        found = self._referrals.find(
            {"notifications_pending": True},
            {"organisation": 1, "reference": 1, "pending_notifications": 1},
        )
        async for raw in found:
            notices: list[StatusChangeNotice] = []
            for entry in raw.get("pending_notifications", []):
                try:
                    notices.append(
                        StatusChangeNotice(
                            case_id=str(raw["_id"]),
                            organisation=str(raw["organisation"]),
                            case_reference=str(raw["reference"]),
                            change_id=str(uuid.UUID(str(entry["change_id"]))),
                            status=str(entry["status"]),
                            at=entry["at"],
                        )
                    )
                except (KeyError, TypeError, ValueError):
                    # Left in place, and logged on every pass, until someone looks.
                    log.error(
                        "pending notification unreadable",
                        case_id=str(raw["_id"]),
                        outcome="skipped",
                    )
            for notice in sorted(notices, key=lambda n: n.at):
                yield notice

    async def acknowledge(self, notice: StatusChangeNotice) -> None:
        await self._referrals.update_one(
            {"_id": notice.case_id},
            {"$pull": {"pending_notifications": {"change_id": notice.change_id}}},
        )

    async def settle(self, case_id: str) -> None:
        """Clear a referral's flag once nothing waits on it; a notification queued meanwhile
        keeps the array non-empty, so the flag stays."""
        await self._referrals.update_one(
            {"_id": case_id, "pending_notifications": {"$size": 0}},
            {"$set": {"notifications_pending": False}},
        )


class Webhooks:
    """What the HTTP layer needs: register and remove endpoints, read delivery history."""

    def __init__(
        self,
        *,
        endpoints: WebhookEndpoints,
        deliveries: WebhookDeliveries,
        keyring: KeyRing,
        allow_insecure: bool = False,
    ) -> None:
        self.endpoints = endpoints
        self.deliveries = deliveries
        self._keyring = keyring
        self._allow_insecure = allow_insecure

    async def register(
        self, *, organisation: str, url: str, secret: str, registered_by: str
    ) -> RegisteredEndpoint:
        """Register (or replace) the endpoint; raises ``InvalidWebhookUrl`` for a refused URL."""
        validate_webhook_url(url, allow_insecure=self._allow_insecure)
        key = self._keyring.new_data_key()
        endpoint = RegisteredEndpoint(
            organisation=organisation,
            url=url,
            registered_by=registered_by,
            registered_at=utc_now(),
        )
        await self.endpoints.save(
            endpoint,
            wrapped_key=key.wrapped,
            sealed_secret=key.seal(secret.encode(), context=_secret_context(organisation)),
        )
        log.info(
            "webhook registered",
            organisation=organisation,
            endpoint_host=endpoint_host(url),
            outcome="ok",
        )
        return endpoint

    async def endpoint(self, organisation: str) -> RegisteredEndpoint:
        endpoint = await self.endpoints.get(organisation)
        if endpoint is None:
            raise WebhookNotRegistered(organisation)
        return endpoint

    async def unregister(self, organisation: str) -> None:
        if not await self.endpoints.remove(organisation):
            raise WebhookNotRegistered(organisation)
        log.info("webhook removed", organisation=organisation, outcome="ok")

    async def history(
        self, *, organisation: str, limit: int, cursor: str | None = None
    ) -> DeliveryPage:
        return await self.deliveries.history(organisation, limit=limit, cursor=cursor)


class PrivateDestination(Exception):
    """The endpoint's name resolves to an address that is not on the public internet."""


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


class WebhookDispatcher:
    """Moves pending notifications into the delivery log and POSTs every due delivery.

    Runs on a poll and whenever nudged. Replicas may run side by side: a delivery is claimed
    with a lease before it is POSTed, so no two POST the same attempt.
    """

    def __init__(
        self,
        *,
        referrals: AsyncCollection[Document],
        endpoints: WebhookEndpoints,
        deliveries: WebhookDeliveries,
        keyring: KeyRing,
        policy: RetryPolicy = DEFAULT_RETRY_POLICY,
        http: httpx.AsyncClient | None = None,
        poll_seconds: float = 5.0,
        timeout_seconds: float = 10.0,
        concurrency: int = 8,
        stop_grace_seconds: float = 5.0,
        allow_private_addresses: bool = False,
    ) -> None:
        if concurrency < 1 or timeout_seconds <= 0 or poll_seconds <= 0:
            raise ValueError("concurrency, timeout_seconds and poll_seconds must be positive")
        self._pending = PendingNotifications(referrals)
        self._endpoints = endpoints
        self._deliveries = deliveries
        self._keyring = keyring
        self._policy = policy
        self._http = http
        self._owns_http = http is None
        self._poll_seconds = poll_seconds
        self._timeout = timeout_seconds
        self._concurrency = concurrency
        self._stop_grace = stop_grace_seconds
        self._allow_private = allow_private_addresses
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    def notify(self) -> None:
        """A status change was saved: deliver now rather than at the next poll."""
        self._wake.set()

    async def run_once(self) -> int:
        """Move every pending notification, then attempt each due delivery once; return attempts."""
        await self.move_pending()
        return await self.attempt_due()

    async def move_pending(self) -> int:
        """Copy pending notifications into the delivery log, then remove them from referrals."""
        moved = 0
        settled: set[str] = set()
        has_endpoint: dict[str, bool] = {}
        async for notice in self._pending.waiting():
            if notice.organisation not in has_endpoint:
                has_endpoint[notice.organisation] = await self._endpoints.exists(
                    notice.organisation
                )
            if await self._deliveries.record(
                notice, has_endpoint=has_endpoint[notice.organisation]
            ):
                moved += 1
                log.info(
                    "webhook delivery recorded",
                    delivery_id=notice.change_id,
                    case_id=notice.case_id,
                    organisation=notice.organisation,
                    outcome="pending" if has_endpoint[notice.organisation] else "no_endpoint",
                )
            await self._pending.acknowledge(notice)
            settled.add(notice.case_id)
        for case_id in settled:
            await self._pending.settle(case_id)
        return moved

    async def attempt_due(self) -> int:
        """POST every delivery due when the pass began, at most once each; return how many."""
        due_by = utc_now()
        made = 0
        if not await self._deliveries.any_due(due_by=due_by):
            return made

        async def worker() -> None:
            nonlocal made
            while not self._stopping:
                claim = await self._deliveries.claim_due(
                    due_by=due_by, lease_until=utc_now() + timedelta(seconds=self._timeout * 2)
                )
                if claim is None:
                    return
                if await self._attempt(claim):
                    made += 1

        async with asyncio.TaskGroup() as workers:
            for _ in range(self._concurrency):
                workers.create_task(worker())
        return made

    async def _attempt(self, claim: ClaimedDelivery) -> bool:
        sealed = await self._endpoints.sealed(claim.organisation)
        if sealed is None:  # removed since the status changed: nowhere to send it
            await self._deliveries.complete(
                claim, attempt=None, state=DeliveryState.NO_ENDPOINT, next_attempt_at=None
            )
            log.info(
                "webhook not sent",
                delivery_id=claim.delivery_id,
                organisation=claim.organisation,
                outcome="no_endpoint",
            )
            return False
        started = utc_now()
        clock = time.perf_counter()
        status_code: int | None = None
        error: str | None = None
        try:
            secret = self._keyring.unwrap(sealed.wrapped_key).open(
                sealed.sealed_secret, context=_secret_context(claim.organisation)
            )
            status_code = await self._post(claim, url=sealed.url, secret=secret)
        except PrivateDestination:
            error = "address not public"
        except DecryptionError:
            error = "signing secret unreadable"
            log.error(
                "webhook secret cannot be unsealed",
                delivery_id=claim.delivery_id,
                organisation=claim.organisation,
                outcome="error",
            )
        except (httpx.HTTPError, TimeoutError, OSError) as exc:
            error = _short_error(exc)
        except Exception:  # a bug must cost this delivery its attempts, not stall every pass
            error = "internal error"
            log.exception("webhook attempt broke", delivery_id=claim.delivery_id, outcome="error")
        attempt = Attempt(
            at=started,
            status_code=status_code,
            error=error,
            duration_ms=round((time.perf_counter() - clock) * 1000),
        )
        attempts_made = claim.attempts_made + 1
        state, delay = self._policy.after(attempt, attempts_made=attempts_made)
        next_attempt_at = utc_now() + delay if delay is not None else None
        recorded = await self._deliveries.complete(
            claim, attempt=attempt, state=state, next_attempt_at=next_attempt_at
        )
        log.info(
            "webhook attempt",
            delivery_id=claim.delivery_id,
            organisation=claim.organisation,
            endpoint_host=endpoint_host(sealed.url),
            attempt=attempts_made,
            status_code=status_code,
            error=error,
            duration_ms=attempt.duration_ms,
            outcome=state.value if recorded else "lease_lost",
        )
        return True

    async def _post(self, claim: ClaimedDelivery, *, url: str, secret: bytes) -> int:
        body = WebhookNotification(
            delivery_id=uuid.UUID(claim.delivery_id),
            case_reference=claim.case_reference,
            status=claim.status,
            occurred_at=claim.occurred_at,
        ).body()
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: signature_header(secret, int(utc_now().timestamp()), body),
            DELIVERY_HEADER: claim.delivery_id,
        }
        # The whole exchange is bounded, not each phase: the lease must outlast it.
        async with asyncio.timeout(self._timeout):
            if not self._allow_private:
                await _ensure_public(url)
            async with self._client().stream(
                "POST", url, content=body, headers=headers
            ) as response:
                return response.status_code  # the body is never read, nor kept

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

    async def start(self) -> None:
        await self._deliveries.ensure_indexes()
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name="webhook-dispatcher")

    async def stop(self) -> None:
        """Finish the attempts in flight (up to the grace period), then stop."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            done, _ = await asyncio.wait({self._task}, timeout=self._stop_grace)
            if not done:
                # An interrupted attempt keeps its lease and is retried when the lease expires.
                self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._owns_http and self._http is not None:
            await self._http.aclose()
            self._http = None

    async def _run(self) -> None:
        delay = self._poll_seconds
        while not self._stopping:
            try:
                await self.run_once()
                delay = self._poll_seconds
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the dispatcher must outlive database outages
                while isinstance(exc, ExceptionGroup) and exc.exceptions:
                    exc = exc.exceptions[0]  # the workers' first failure says what went wrong
                log.warning(
                    "webhook pass failed; will retry", error=type(exc).__name__, outcome="error"
                )
                delay = min(delay * 2, 60.0)
            if self._stopping:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=delay)
            self._wake.clear()
