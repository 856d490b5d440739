"""CaseEventConsumer on the real broker: park what can never work, retry what may, apply once."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any

import aio_pika
import pytest
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractQueue
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import AutoReconnect

from corroborate.events.contracts import CASE_EVENTS
from corroborate.events.envelope import EventEnvelope
from corroborate.events.errors import UnknownCase
from corroborate.messaging.handlers import EventHandler
from corroborate.messaging.rabbit import (
    CaseEventConsumer,
    RabbitEventPublisher,
    make_broker,
)
from corroborate.messaging.topology import Topology
from corroborate.mongo import Document, insert_aggregate, save_aggregate
from corroborate.settings import Settings

pytestmark = pytest.mark.integration

EventFactory = Callable[..., EventEnvelope]
Eventually = Callable[..., Awaitable[bool]]
NextMessage = Callable[..., Awaitable[AbstractIncomingMessage]]


@asynccontextmanager
async def consuming(
    settings: Settings,
    service: str,
    handlers: Mapping[str, EventHandler],
    *,
    delivery_limit: int = 10,
) -> AsyncIterator[RabbitEventPublisher]:
    """Run a consumer as ServiceRuntime.start does; give a publisher on the same exchange."""
    topology = Topology(settings.namespace, delivery_limit=delivery_limit)
    broker = make_broker(settings, service=service)
    consumer = CaseEventConsumer(
        broker=broker, topology=topology, registry=CASE_EVENTS, service=service
    )
    consumer.register(handlers)
    publisher = RabbitEventPublisher(broker, topology)
    await broker.connect()
    try:
        await publisher.declare()
        await consumer.declare_parking()
        await broker.start()
        yield publisher
    finally:
        await broker.stop()


async def parking(channel: AbstractChannel, settings: Settings, service: str) -> AbstractQueue:
    return await channel.declare_queue(f"{settings.namespace}.{service}.parking", passive=True)


async def waiting(channel: AbstractChannel, settings: Settings, service: str, queue: str) -> int:
    """Messages ready in ``<ns>.<service>.<queue>``: an unacknowledged one would be back there."""
    declared = await channel.declare_queue(f"{settings.namespace}.{service}.{queue}", passive=True)
    count = declared.declaration_result.message_count
    assert count is not None
    return count


def envelope_json(event: EventEnvelope, **changes: Any) -> bytes:
    return json.dumps({**json.loads(event.model_dump_json()), **changes}).encode()


UNREADABLE: dict[str, tuple[Callable[[EventEnvelope], bytes], str, str]] = {
    "malformed JSON": (lambda e: b'{"event_id": ', "malformed", "not JSON"),
    "not UTF-8": (lambda e: b"\xff\xfe\x00", "malformed", "not JSON"),
    "deeply nested JSON": (lambda e: b"[" * 100_000, "malformed", "not JSON"),
    "an integer too long to read": (lambda e: b"[" + b"9" * 5000 + b"]", "malformed", "JSON"),
    "bad envelope": (lambda e: envelope_json(e, case_id="nope"), "malformed", "case_id"),
    "unknown type": (
        lambda e: envelope_json(e, type="case.teleported"),
        "unknown-event-type",
        "case.teleported",
    ),
    "unsupported version": (
        lambda e: envelope_json(e, schema_version=7),
        "unsupported-schema-version",
        "version 7",
    ),
    "bad payload": (
        lambda e: envelope_json(e, payload={"assigned_by": "x"}),
        "malformed",
        "clinician_id",
    ),
}


@pytest.mark.parametrize("case", list(UNREADABLE), ids=list(UNREADABLE))
async def test_unreadable_message_is_parked_with_its_reason_and_consumer_carries_on(
    case: str,
    settings: Settings,
    service: str,
    channel: AbstractChannel,
    case_event: EventFactory,
    eventually: Eventually,
    next_message: NextMessage,
) -> None:
    make_body, reason, detail = UNREADABLE[case]
    body = make_body(case_event())
    handled: list[uuid.UUID] = []

    async def handle(envelope: EventEnvelope, _payload: Any) -> None:
        handled.append(envelope.event_id)

    async with consuming(settings, service, {"case.assigned": handle}) as publisher:
        queue_name = f"{settings.namespace}.{service}.case.assigned"
        await channel.default_exchange.publish(
            aio_pika.Message(body, message_id="poison-1"), routing_key=queue_name
        )
        parked = await next_message(await parking(channel, settings, service), seconds=5)
        good = case_event()
        await publisher.publish(good)
        assert await eventually(lambda: handled == [good.event_id], seconds=5)

    assert parked.body == body
    assert parked.message_id == "poison-1"
    assert parked.headers["x-parked-reason"] == reason
    assert detail in str(parked.headers["x-parked-detail"])
    assert parked.headers["x-parked-by"] == service
    assert parked.headers["x-parked-from-queue"] == queue_name
    # Parked means acknowledged: nothing waits in, or returns to, the consumer's queue.
    assert await waiting(channel, settings, service, "case.assigned") == 0


async def test_event_for_an_unknown_case_is_parked_once_and_not_retried(
    settings: Settings,
    service: str,
    channel: AbstractChannel,
    case_event: EventFactory,
    eventually: Eventually,
    next_message: NextMessage,
) -> None:
    known, unknown = uuid.uuid4(), uuid.uuid4()
    calls: list[uuid.UUID] = []

    async def handle(envelope: EventEnvelope, _payload: Any) -> None:
        calls.append(envelope.case_id)
        if envelope.case_id != known:
            raise UnknownCase(f"no case {envelope.case_id}")

    async with consuming(settings, service, {"case.assigned": handle}) as publisher:
        orphan = case_event(unknown)
        await publisher.publish(orphan)
        parked = await next_message(await parking(channel, settings, service), seconds=5)
        await publisher.publish(case_event(known))
        assert await eventually(lambda: known in calls, seconds=5)

    assert calls == [unknown, known]
    assert parked.headers["x-parked-reason"] == "unknown-case"
    assert str(unknown) in str(parked.headers["x-parked-detail"])
    assert parked.headers["x-original-routing-key"] == "case.assigned"
    assert parked.message_id == str(orphan.event_id)
    assert json.loads(parked.body)["event_id"] == str(orphan.event_id)


async def test_transient_failure_is_redelivered_and_then_succeeds(
    settings: Settings,
    service: str,
    channel: AbstractChannel,
    case_event: EventFactory,
    eventually: Eventually,
) -> None:
    attempts: list[uuid.UUID] = []
    done: list[uuid.UUID] = []

    async def flaky(envelope: EventEnvelope, _payload: Any) -> None:
        attempts.append(envelope.event_id)
        if len(attempts) == 1:
            raise ConnectionError("database briefly unavailable")
        done.append(envelope.event_id)

    event = case_event()
    async with consuming(settings, service, {"case.assigned": flaky}) as publisher:
        await publisher.publish(event)
        assert await eventually(lambda: done == [event.event_id], seconds=10)

    assert attempts == [event.event_id, event.event_id]
    assert await waiting(channel, settings, service, "case.assigned") == 0
    assert await waiting(channel, settings, service, "parking") == 0


async def test_message_that_always_fails_is_parked_by_the_broker_after_the_delivery_limit(
    settings: Settings,
    service: str,
    channel: AbstractChannel,
    case_event: EventFactory,
    next_message: NextMessage,
) -> None:
    attempts: list[uuid.UUID] = []

    async def broken(envelope: EventEnvelope, _payload: Any) -> None:
        attempts.append(envelope.event_id)
        raise RuntimeError("bug in the handler")

    event = case_event()
    async with consuming(settings, service, {"case.assigned": broken}, delivery_limit=1) as pub:
        await pub.publish(event)
        parked = await next_message(await parking(channel, settings, service), seconds=10)

    assert parked.message_id == str(event.event_id)
    assert parked.headers["x-first-death-reason"] == "delivery_limit"
    assert parked.headers["x-first-death-queue"] == f"{settings.namespace}.{service}.case.assigned"
    assert attempts == [event.event_id, event.event_id]  # first delivery + one redelivery
    assert set(attempts) == {event.event_id}


async def test_duplicate_delivery_of_an_event_is_applied_once(
    settings: Settings,
    service: str,
    channel: AbstractChannel,
    collection: AsyncCollection[Document],
    case_event: EventFactory,
    eventually: Eventually,
) -> None:
    case_id = uuid.uuid4()
    await insert_aggregate(collection, document={"_id": case_id, "assignments": 0}, events=[])
    deliveries: list[str] = []

    async def assign(envelope: EventEnvelope, payload: Any) -> None:
        deliveries.append(str(envelope.event_id))
        current = await collection.find_one({"_id": envelope.case_id})
        assert current is not None
        await save_aggregate(
            collection,
            aggregate_id=envelope.case_id,
            expected_version=current["version"],
            changes={"assignments": current["assignments"] + 1, "clinician": payload.clinician_id},
            events=[],
            processed_event=envelope.event_id,
        )

    event = case_event(case_id)
    async with consuming(settings, service, {"case.assigned": assign}) as publisher:
        await publisher.publish(event)
        await publisher.publish(event)  # the same event_id again, as after a relay crash
        assert await eventually(lambda: len(deliveries) == 2, seconds=10)

    # Both deliveries were acknowledged (an unacknowledged one would be back in the queue).
    assert await waiting(channel, settings, service, "case.assigned") == 0
    stored = await collection.find_one({"_id": case_id})
    assert stored is not None
    assert stored["assignments"] == 1
    assert stored["version"] == 2
    assert stored["processed_events"] == [str(event.event_id)]
    assert await waiting(channel, settings, service, "parking") == 0


async def test_stopping_waits_for_in_flight_handlers_and_loses_nothing(
    settings: Settings,
    service: str,
    channel: AbstractChannel,
    case_event: EventFactory,
    eventually: Eventually,
) -> None:
    started: list[uuid.UUID] = []
    finished: list[uuid.UUID] = []

    async def slow(envelope: EventEnvelope, _payload: Any) -> None:
        started.append(envelope.event_id)
        await asyncio.sleep(1.0)  # a database write that takes a while
        finished.append(envelope.event_id)

    events = [case_event() for _ in range(3)]
    async with consuming(settings, service, {"case.assigned": slow}) as publisher:
        for event in events:
            await publisher.publish(event)
        assert await eventually(lambda: len(started) == 3, seconds=10)
        # Leaving the block stops the broker client while all three handlers are mid-write.

    assert sorted(finished) == sorted(e.event_id for e in events)
    assert (
        await waiting(channel, settings, service, "case.assigned") == 0
    )  # each was acknowledged, none redelivered


async def test_a_database_outage_does_not_use_up_the_delivery_limit(
    settings: Settings,
    service: str,
    channel: AbstractChannel,
    case_event: EventFactory,
    eventually: Eventually,
) -> None:
    attempts: list[uuid.UUID] = []
    done: list[uuid.UUID] = []

    async def during_outage(envelope: EventEnvelope, _payload: Any) -> None:
        attempts.append(envelope.event_id)
        if len(attempts) <= 4:
            raise AutoReconnect("connection to the database was lost")
        done.append(envelope.event_id)

    event = case_event()
    async with consuming(
        settings, service, {"case.assigned": during_outage}, delivery_limit=1
    ) as pub:
        await pub.publish(event)
        assert await eventually(lambda: done == [event.event_id], seconds=15)

    assert len(attempts) == 5  # waited out in the handler, not redelivered
    assert await waiting(channel, settings, service, "parking") == 0
