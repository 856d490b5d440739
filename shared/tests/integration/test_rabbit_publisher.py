"""RabbitEventPublisher against the real broker: persistent, confirmed, never silently dropped."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Callable

import aio_pika
import pytest
from aio_pika.abc import AbstractChannel
from faststream.rabbit import RabbitBroker

from corroborate.events.contracts import CASE_EVENTS
from corroborate.events.envelope import EventEnvelope, read_event
from corroborate.messaging.outbox import PublishFailed
from corroborate.messaging.rabbit import RabbitEventPublisher, make_broker
from corroborate.messaging.topology import Topology
from corroborate.settings import Settings

pytestmark = pytest.mark.integration

EventFactory = Callable[..., EventEnvelope]


@pytest.fixture
async def broker(settings: Settings) -> AsyncIterator[RabbitBroker]:
    broker = make_broker(settings, service="shared-tests")
    await broker.connect()
    try:
        yield broker
    finally:
        await broker.stop()


async def test_published_event_is_persistent_confirmed_and_reads_back_unchanged(
    settings: Settings,
    broker: RabbitBroker,
    channel: AbstractChannel,
    case_event: EventFactory,
) -> None:
    publisher = RabbitEventPublisher(broker, Topology(settings.namespace))
    await publisher.declare()
    exchange = await channel.get_exchange(f"{settings.namespace}.case-events")
    queue = await channel.declare_queue(exclusive=True)
    await queue.bind(exchange, routing_key="case.assigned")
    event = case_event()

    await publisher.publish(event)

    # Confirmed: once publish returns, the broker already holds the message (no waiting).
    message = await queue.get(no_ack=True, fail=False)
    assert message is not None, "publish returned before the broker had the message"
    assert message.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
    assert message.routing_key == "case.assigned"
    assert message.message_id == str(event.event_id)
    assert message.correlation_id == str(event.correlation_id)
    assert message.content_type == "application/json"
    assert message.headers["x-schema-version"] == 1
    assert message.headers["x-producer"] == "shared-tests"
    envelope, _payload = read_event(message.body, registry=CASE_EVENTS)
    assert envelope == event


async def test_exchange_is_a_durable_topic_that_routes_by_event_type(
    settings: Settings,
    broker: RabbitBroker,
    channel: AbstractChannel,
    case_event: EventFactory,
) -> None:
    publisher = RabbitEventPublisher(broker, Topology(settings.namespace))
    await publisher.declare()
    exchange = await channel.get_exchange(f"{settings.namespace}.case-events")
    assigned = await channel.declare_queue(exclusive=True)
    other = await channel.declare_queue(exclusive=True)
    await assigned.bind(exchange, routing_key="case.*")
    await other.bind(exchange, routing_key="report.issued")

    await publisher.publish(case_event())

    assert await assigned.get(no_ack=True, fail=False) is not None
    assert await other.get(no_ack=True, fail=False) is None
    # Redeclaring with the same shape passes: the exchange is durable and of type topic.
    await channel.declare_exchange(
        f"{settings.namespace}.case-events", aio_pika.ExchangeType.TOPIC, durable=True
    )


async def test_publish_with_no_queue_bound_raises_publish_failed(
    settings: Settings, broker: RabbitBroker, channel: AbstractChannel, case_event: EventFactory
) -> None:
    # An exchange of its own, so queues bound by other tests in the session cannot route it.
    topology = Topology(f"{settings.namespace}-unbound-{uuid.uuid4().hex[:6]}")
    publisher = RabbitEventPublisher(broker, topology)
    await publisher.declare()
    event = case_event()
    try:
        with pytest.raises(PublishFailed) as raised:
            await publisher.publish(event)
        assert str(event.event_id) in str(raised.value)
        assert "case.assigned" in str(raised.value)

        # The same publisher works once a consumer's queue is bound: nothing is left broken.
        exchange = await channel.get_exchange(topology.case_events.name)
        queue = await channel.declare_queue(exclusive=True)
        await queue.bind(exchange, routing_key="#")
        await publisher.publish(event)
        message = await queue.get(no_ack=True, fail=False)
        assert message is not None
        assert json.loads(message.body)["event_id"] == str(event.event_id)
    finally:
        await channel.exchange_delete(topology.case_events.name)


async def test_publish_on_a_broker_that_is_not_connected_raises_publish_failed(
    settings: Settings, case_event: EventFactory
) -> None:
    publisher = RabbitEventPublisher(
        make_broker(settings, service="shared-tests"), Topology(settings.namespace)
    )

    with pytest.raises(PublishFailed):
        await publisher.publish(case_event())
