"""Parked messages: what a service could not process, why, and putting them back after a fix.

A consumer parks what it can never process (with ``x-parked-*`` headers naming the reason);
the broker dead-letters what failed past the delivery limit (its ``x-death`` header says from
where). ``list_parked`` reads a parking queue without consuming it; ``replay_parked`` publishes
chosen messages back to the case-events exchange under their original routing key, confirmed,
and only then removes them from the parking queue. ``discard_parked`` removes a case's parked
messages after it is erased: each may carry the case's sealed details with a wrapped copy of its
data key, which erasure must leave nowhere.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aio_pika
from aio_pika.abc import AbstractIncomingMessage

from corroborate.settings import Settings

PARKING_HEADERS = (
    "x-parked-reason",
    "x-parked-detail",
    "x-parked-by",
    "x-parked-from-queue",
    "x-parked-at",
    "x-original-routing-key",
    "x-death",
    "x-delivery-count",
    "x-first-death-exchange",
    "x-first-death-queue",
    "x-first-death-reason",
    "x-last-death-exchange",
    "x-last-death-queue",
    "x-last-death-reason",
)


@dataclass(frozen=True)
class ParkedMessage:
    """A parked message as an operator sees it: never its body (it may hold sealed data)."""

    message_id: str | None
    event_type: str
    event_id: str | None
    case_id: str | None
    reason: str
    detail: str
    parked_by: str
    parked_at: str
    from_queue: str


def _original_routing_key(message: AbstractIncomingMessage) -> str:
    headers = message.headers or {}
    key = headers.get("x-original-routing-key")
    if isinstance(key, str) and key:
        return key
    deaths = headers.get("x-death")
    if isinstance(deaths, list) and deaths:
        keys = deaths[0].get("routing-keys") if isinstance(deaths[0], dict) else None
        if isinstance(keys, list) and keys:
            return str(keys[0])
    return message.routing_key or ""


def _text(value: object) -> str:
    if value is None:
        return ""
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def describe(message: AbstractIncomingMessage) -> ParkedMessage:
    headers = message.headers or {}
    event_id = case_id = None
    try:
        body = json.loads(message.body)
        if isinstance(body, dict):
            event_id, case_id = body.get("event_id"), body.get("case_id")
    except ValueError:
        pass
    deaths = headers.get("x-death")
    died = deaths[0] if isinstance(deaths, list) and deaths and isinstance(deaths[0], dict) else {}
    return ParkedMessage(
        message_id=message.message_id,
        event_type=_original_routing_key(message),
        event_id=str(event_id) if event_id else None,
        case_id=str(case_id) if case_id else None,
        reason=_text(headers.get("x-parked-reason"))
        or f"dead-lettered ({_text(died.get('reason')) or '?'})",
        detail=_text(headers.get("x-parked-detail"))
        or f"{_text(died.get('count')) or '?'} deliveries",
        parked_by=str(headers.get("x-parked-by") or ""),
        parked_at=str(headers.get("x-parked-at") or ""),
        from_queue=str(headers.get("x-parked-from-queue") or died.get("queue", "")),
    )


async def _drain(
    settings: Settings,
    service: str,
    limit: int,
    act: Callable[[aio_pika.abc.AbstractChannel, AbstractIncomingMessage], Any],
) -> list[ParkedMessage]:
    """Take up to ``limit`` parked messages, let ``act`` decide each (True: handled and to be
    acknowledged), and return every message not handled to the parking queue."""
    connection = await aio_pika.connect(settings.amqp_url.get_secret_value())
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        queue = await channel.declare_queue(f"{settings.namespace}.{service}.parking", passive=True)
        taken: list[AbstractIncomingMessage] = []
        handled: list[ParkedMessage] = []
        try:
            while len(taken) < limit:
                message = await queue.get(no_ack=False, fail=False)
                if message is None:
                    break
                taken.append(message)
                if await act(channel, message):
                    handled.append(describe(message))
                    await message.ack()
        finally:
            for message in taken:
                if not message.processed:
                    await message.nack(requeue=True)
        return handled


async def list_parked(
    settings: Settings, service: str, *, limit: int = 1000
) -> list[ParkedMessage]:
    """The parked messages of a service, left where they are."""
    seen: list[ParkedMessage] = []

    async def look(
        _channel: aio_pika.abc.AbstractChannel, message: AbstractIncomingMessage
    ) -> bool:
        seen.append(describe(message))
        return False

    await _drain(settings, service, limit, look)
    return seen


async def replay_parked(
    settings: Settings,
    service: str,
    *,
    reason: str | None = None,
    event_id: str | None = None,
    limit: int = 1000,
) -> list[ParkedMessage]:
    """Publish matching parked messages back to the case-events exchange (confirmed, routed to
    at least one queue) and remove them from parking; the others stay."""

    async def replay(
        channel: aio_pika.abc.AbstractChannel, message: AbstractIncomingMessage
    ) -> bool:
        parked = describe(message)
        if reason is not None and parked.reason != reason:
            return False
        if event_id is not None and parked.event_id != event_id:
            return False
        exchange = await channel.get_exchange(f"{settings.namespace}.case-events", ensure=True)
        headers = {k: v for k, v in (message.headers or {}).items() if k not in PARKING_HEADERS}
        await exchange.publish(
            aio_pika.Message(
                message.body,
                headers=headers,
                message_id=message.message_id,
                correlation_id=message.correlation_id,
                content_type=message.content_type,
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            ),
            routing_key=parked.event_type,
            mandatory=True,
        )
        return True

    return await _drain(settings, service, limit, replay)


async def discard_parked(
    settings: Settings, service: str, *, case_id: str, limit: int = 10_000
) -> list[ParkedMessage]:
    """Remove every parked message about one case (after its erasure); the others stay."""

    async def drop(
        _channel: aio_pika.abc.AbstractChannel, message: AbstractIncomingMessage
    ) -> bool:
        return describe(message).case_id == case_id

    return await _drain(settings, service, limit, drop)
