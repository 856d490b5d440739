"""OutboxRelay against the real database and broker: in order, nothing lost, at least once."""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import date

import pytest
from aio_pika.abc import AbstractIncomingMessage
from pymongo.asynchronous.collection import AsyncCollection

from corroborate.crypto import KeyRing
from corroborate.events.contracts import (
    ProtectedDetails,
    SealedDetails,
    open_details,
)
from corroborate.events.envelope import EventEnvelope
from corroborate.messaging.outbox import OutboxRelay, PublishFailed
from corroborate.messaging.rabbit import RabbitEventPublisher, make_broker
from corroborate.messaging.topology import Topology
from corroborate.mongo import Document, insert_aggregate, save_aggregate
from corroborate.settings import Settings
from corroborate_testing import referral_submitted

pytestmark = pytest.mark.integration

EventFactory = Callable[..., EventEnvelope]
Eventually = Callable[..., Awaitable[bool]]
Spy = list[AbstractIncomingMessage]
CANARY = "Zubeida Canary-Qorxoy"


@pytest.fixture
async def publisher(settings: Settings) -> AsyncIterator[RabbitEventPublisher]:
    broker = make_broker(settings, service="shared-tests")
    await broker.connect()
    publisher = RabbitEventPublisher(broker, Topology(settings.namespace))
    await publisher.declare()
    try:
        yield publisher
    finally:
        await broker.stop()


class FailsOnce:
    """Refuses the first publish (a broker hiccup); passes every later one through."""

    def __init__(self, real: RabbitEventPublisher, *, after_publishing: bool = False) -> None:
        self._real = real
        self._after = after_publishing
        self.failed = False

    async def publish(self, event: EventEnvelope) -> None:
        if not self.failed:
            self.failed = True
            if self._after:  # the broker took it, then the relay died before marking it sent
                await self._real.publish(event)
            raise PublishFailed("simulated")
        await self._real.publish(event)


class RefusesCase:
    """Can never publish one case's events (a poison event); publishes all others."""

    def __init__(self, real: RabbitEventPublisher, case_id: uuid.UUID) -> None:
        self._real = real
        self._case_id = case_id

    async def publish(self, event: EventEnvelope) -> None:
        if event.case_id == self._case_id:
            raise PublishFailed("refused for good")
        await self._real.publish(event)


class SavesDuringPublish:
    """While the first event is being published, another request saves one more event to the
    same aggregate."""

    def __init__(
        self,
        real: RabbitEventPublisher,
        collection: AsyncCollection[Document],
        later: EventEnvelope,
    ) -> None:
        self._real, self._collection, self._later = real, collection, later
        self.saved = False

    async def publish(self, event: EventEnvelope) -> None:
        await self._real.publish(event)
        if not self.saved:
            self.saved = True
            await save_aggregate(
                self._collection,
                aggregate_id=event.case_id,
                expected_version=1,
                changes={},
                events=[self._later],
            )


def ids_for(spy: Spy, case_id: uuid.UUID) -> list[str]:
    events = [json.loads(m.body) for m in spy]
    return [e["event_id"] for e in events if e["case_id"] == str(case_id)]


async def test_events_are_published_in_order_per_aggregate_and_leave_the_outbox(
    collection: AsyncCollection[Document],
    publisher: RabbitEventPublisher,
    spy: Spy,
    case_event: EventFactory,
    eventually: Eventually,
) -> None:
    first, second = uuid.uuid4(), uuid.uuid4()
    a = [case_event(first, clinician=f"dr-{n}") for n in range(3)]
    b = [case_event(second)]
    await insert_aggregate(collection, document={"_id": first}, events=a[:2])
    await insert_aggregate(collection, document={"_id": second}, events=b)
    await save_aggregate(
        collection, aggregate_id=first, expected_version=1, changes={}, events=a[2:]
    )
    relay = OutboxRelay(collections=[collection], publisher=publisher, poll_seconds=60)

    assert await relay.drain_once() == 4

    assert await eventually(lambda: len(spy) >= 4, seconds=5)
    assert ids_for(spy, first) == [str(e.event_id) for e in a]
    assert ids_for(spy, second) == [str(b[0].event_id)]
    async for document in collection.find({}):
        assert document["outbox"] == []
        assert document["outbox_pending"] is False
    assert await relay.drain_once() == 0  # nothing is sent twice


async def test_failed_publish_keeps_the_event_and_the_next_drain_sends_it(
    collection: AsyncCollection[Document],
    publisher: RabbitEventPublisher,
    spy: Spy,
    case_event: EventFactory,
    eventually: Eventually,
) -> None:
    case_id = uuid.uuid4()
    event = case_event(case_id)
    await insert_aggregate(collection, document={"_id": case_id}, events=[event])
    relay = OutboxRelay(collections=[collection], publisher=FailsOnce(publisher), poll_seconds=60)

    with pytest.raises(PublishFailed):
        await relay.drain_once()
    kept = await stored(collection, case_id)
    assert [e["event_id"] for e in kept["outbox"]] == [str(event.event_id)]
    assert kept["outbox_pending"] is True

    assert await relay.drain_once() == 1
    assert await eventually(lambda: ids_for(spy, case_id) == [str(event.event_id)], seconds=5)
    sent = await stored(collection, case_id)
    assert sent["outbox"] == []


async def stored(collection: AsyncCollection[Document], case_id: uuid.UUID) -> Document:
    document = await collection.find_one({"_id": case_id})
    assert document is not None
    return document


async def test_crash_after_publish_before_marking_sends_the_event_again(
    collection: AsyncCollection[Document],
    publisher: RabbitEventPublisher,
    spy: Spy,
    case_event: EventFactory,
    eventually: Eventually,
) -> None:
    case_id = uuid.uuid4()
    event = case_event(case_id)
    await insert_aggregate(collection, document={"_id": case_id}, events=[event])
    crashing = FailsOnce(publisher, after_publishing=True)
    relay = OutboxRelay(collections=[collection], publisher=crashing, poll_seconds=60)

    with pytest.raises(PublishFailed):
        await relay.drain_once()
    assert await relay.drain_once() == 1

    # At least once: the same event_id twice, which consumers drop by idempotency.
    twice = [str(event.event_id)] * 2
    assert await eventually(lambda: ids_for(spy, case_id) == twice, seconds=5)
    done = await stored(collection, case_id)
    assert done["outbox"] == []
    assert done["outbox_pending"] is False


async def test_running_relay_survives_a_failure_and_publishes_when_nudged(
    collection: AsyncCollection[Document],
    publisher: RabbitEventPublisher,
    spy: Spy,
    case_event: EventFactory,
    eventually: Eventually,
) -> None:
    case_id = uuid.uuid4()
    events = [case_event(case_id), case_event(case_id)]
    relay = OutboxRelay(collections=[collection], publisher=FailsOnce(publisher), poll_seconds=0.2)
    await relay.start()
    try:
        await insert_aggregate(collection, document={"_id": case_id}, events=events)
        relay.notify()
        expected = [str(e.event_id) for e in events]
        assert await eventually(lambda: ids_for(spy, case_id) == expected, seconds=5)
    finally:
        await relay.stop()
    assert (await stored(collection, case_id))["outbox"] == []


async def test_one_unpublishable_event_does_not_hold_back_other_cases(
    collection: AsyncCollection[Document],
    publisher: RabbitEventPublisher,
    spy: Spy,
    case_event: EventFactory,
    eventually: Eventually,
) -> None:
    stuck, healthy = uuid.uuid4(), uuid.uuid4()
    await insert_aggregate(collection, document={"_id": stuck}, events=[case_event(stuck)])
    waiting = case_event(healthy)
    await insert_aggregate(collection, document={"_id": healthy}, events=[waiting])
    relay = OutboxRelay(
        collections=[collection], publisher=RefusesCase(publisher, stuck), poll_seconds=60
    )

    for _ in range(3):  # what the running relay does on each poll
        with contextlib.suppress(PublishFailed):
            await relay.drain_once()

    assert await eventually(lambda: ids_for(spy, healthy) == [str(waiting.event_id)], seconds=2)
    assert ids_for(spy, stuck) == []


async def test_survivor_identity_is_sealed_in_the_outbox_and_on_the_bus(
    collection: AsyncCollection[Document],
    publisher: RabbitEventPublisher,
    keyring: KeyRing,
    spy: Spy,
    eventually: Eventually,
) -> None:
    case_id = uuid.uuid4()
    protected = ProtectedDetails(
        full_name=CANARY, date_of_birth=date(1990, 5, 17), home_office_reference="HO-998877"
    )
    event = referral_submitted(
        keyring=keyring, protected=protected, case_id=case_id, producer="shared-tests"
    )
    await insert_aggregate(collection, document={"_id": case_id}, events=[event])
    at_rest = await collection.find_one({"_id": case_id})
    assert CANARY not in str(at_rest)
    assert "HO-998877" not in str(at_rest)

    relay = OutboxRelay(collections=[collection], publisher=publisher, poll_seconds=60)
    await relay.drain_once()
    assert await eventually(lambda: len(ids_for(spy, case_id)) == 1, seconds=5)
    body = next(m.body for m in spy if json.loads(m.body)["case_id"] == str(case_id))
    assert CANARY.encode() not in body
    assert b"HO-998877" not in body
    # ...yet a service holding the master key recovers it from the message.
    sealed = SealedDetails.model_validate(json.loads(body)["payload"]["protected"])
    assert open_details(sealed, case_id=case_id, keyring=keyring).full_name == CANARY


async def test_an_event_saved_while_the_relay_publishes_waits_for_the_next_pass(
    collection: AsyncCollection[Document],
    publisher: RabbitEventPublisher,
    spy: Spy,
    case_event: EventFactory,
    eventually: Eventually,
) -> None:
    case = uuid.uuid4()
    first, later = case_event(case), case_event(case, clinician="dr-later")
    await insert_aggregate(collection, document={"_id": case}, events=[first])
    relay = OutboxRelay(
        collections=[collection],
        publisher=SavesDuringPublish(publisher, collection, later),
        poll_seconds=60,
    )

    assert await relay.drain_once() == 1
    stored = await collection.find_one({"_id": case})
    assert stored is not None
    assert [str(e["event_id"]) for e in stored["outbox"]] == [str(later.event_id)]
    assert stored["outbox_pending"] is True  # the later event is not forgotten

    assert await relay.drain_once() == 1
    assert await eventually(lambda: len(ids_for(spy, case)) >= 2, seconds=5)
    assert ids_for(spy, case) == [str(first.event_id), str(later.event_id)]
    stored = await collection.find_one({"_id": case})
    assert stored is not None
    assert stored["outbox"] == []
    assert stored["outbox_pending"] is False
