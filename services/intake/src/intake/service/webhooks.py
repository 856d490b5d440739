"""Webhooks: admins register an organisation's endpoint, partners read the delivery history,
and each dispatch pass moves queued notifications into the log and POSTs the due ones.

Delivery is at least once: a receiver drops repeats by the delivery id. Replicas may dispatch
side by side: a delivery is claimed with a lease before it is POSTed, so no two POST the same
attempt.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from datetime import timedelta

from corroborate.clock import utc_now
from corroborate.crypto import DecryptionError, KeyRing
from corroborate.logging import get_logger
from intake.domain.webhooks import (
    DEFAULT_RETRY_POLICY,
    Attempt,
    ClaimedDelivery,
    DeliveryPage,
    DeliveryState,
    RegisteredEndpoint,
    RetryPolicy,
    SealedEndpoint,
    SendFailed,
    WebhookNotification,
    WebhookNotRegistered,
    endpoint_host,
    validate_webhook_url,
)
from intake.ports import (
    PendingNotifications,
    WebhookDeliveries,
    WebhookEndpoints,
    WebhookSender,
)

log = get_logger(__name__)


def _secret_context(organisation: str) -> str:
    return f"webhook:{organisation}"


class Webhooks:
    """Register and remove endpoints, read delivery history."""

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

    async def endpoint(self, *, organisation: str) -> RegisteredEndpoint:
        endpoint = await self.endpoints.get(organisation)
        if endpoint is None:
            raise WebhookNotRegistered(organisation)
        return endpoint

    async def unregister(self, *, organisation: str) -> None:
        if not await self.endpoints.remove(organisation):
            raise WebhookNotRegistered(organisation)
        log.info("webhook removed", organisation=organisation, outcome="ok")

    async def history(
        self, *, organisation: str, limit: int, cursor: str | None = None
    ) -> DeliveryPage:
        return await self.deliveries.history(organisation, limit=limit, cursor=cursor)


class WebhookDispatch:
    """One dispatch pass: pending notifications into the delivery log, then each due POST."""

    def __init__(
        self,
        *,
        pending: PendingNotifications,
        endpoints: WebhookEndpoints,
        deliveries: WebhookDeliveries,
        keyring: KeyRing,
        sender: WebhookSender,
        policy: RetryPolicy = DEFAULT_RETRY_POLICY,
        concurrency: int = 8,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be positive")
        self._pending = pending
        self._endpoints = endpoints
        self._deliveries = deliveries
        self._keyring = keyring
        self._sender = sender
        self._policy = policy
        self._concurrency = concurrency

    async def prepare(self) -> None:
        await self._deliveries.ensure_indexes()

    async def close(self) -> None:
        await self._sender.close()

    async def run(self, *, stopping: Callable[[], bool] = lambda: False) -> int:
        """Move every pending notification, then attempt each due delivery once; return attempts."""
        await self.move_pending()
        return await self.attempt_due(stopping=stopping)

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

    async def attempt_due(self, *, stopping: Callable[[], bool] = lambda: False) -> int:
        """POST every delivery due when the pass began, at most once each; return how many."""
        due_by = utc_now()
        made = 0
        if not await self._deliveries.any_due(due_by=due_by):
            return made
        lease = timedelta(seconds=self._sender.timeout_seconds * 2)

        async def worker() -> None:
            nonlocal made
            while not stopping():
                claim = await self._deliveries.claim_due(
                    due_by=due_by, lease_until=utc_now() + lease
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
        attempt = await self._post(claim, sealed)
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
            status_code=attempt.status_code,
            error=attempt.error,
            duration_ms=attempt.duration_ms,
            outcome=state.value if recorded else "lease_lost",
        )
        return True

    async def _post(self, claim: ClaimedDelivery, sealed: SealedEndpoint) -> Attempt:
        """One POST of the claimed delivery, whatever happens, as the attempt to record."""
        started = utc_now()
        clock = time.perf_counter()
        status_code: int | None = None
        error: str | None = None
        try:
            secret = self._keyring.unwrap(sealed.wrapped_key).open(
                sealed.sealed_secret, context=_secret_context(claim.organisation)
            )
            notification = WebhookNotification(
                delivery_id=uuid.UUID(claim.delivery_id),
                case_reference=claim.case_reference,
                status=claim.status,
                occurred_at=claim.occurred_at,
            )
            status_code = await self._sender.post(notification, url=sealed.url, secret=secret)
        except SendFailed as exc:
            error = str(exc)
        except DecryptionError:
            error = "signing secret unreadable"
            log.error(
                "webhook secret cannot be unsealed",
                delivery_id=claim.delivery_id,
                organisation=claim.organisation,
                outcome="error",
            )
        except Exception:  # a bug must cost this delivery its attempts, not stall every pass
            error = "internal error"
            log.exception("webhook attempt broke", delivery_id=claim.delivery_id, outcome="error")
        return Attempt(
            at=started,
            status_code=status_code,
            error=error,
            duration_ms=round((time.perf_counter() - clock) * 1000),
        )
