"""Publishing and consuming case events on RabbitMQ (faststream over aio-pika).

Publishing: persistent messages, publisher confirms, mandatory routing; an unroutable or
unconfirmed publish raises. Consuming: bounded prefetch, manual acknowledgement after the
handler's write, idempotency by ``event_id`` (in the handler's aggregate write), a parking queue
with the reason in the headers for what can never be processed, and redelivery with back-off
for what may succeed later (up to the queue's delivery limit, then parked by the broker).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import cache
from typing import Any

import structlog
from faststream import AckPolicy
from faststream.rabbit import Channel, RabbitBroker, RabbitMessage
from pydantic import BaseModel, create_model
from pymongo.errors import ConnectionFailure

from corroborate.events.envelope import EventEnvelope, read_event
from corroborate.events.errors import UnreadableEvent
from corroborate.events.registry import EventRegistry
from corroborate.logging import get_logger
from corroborate.messaging.handlers import EventHandler
from corroborate.messaging.outbox import PublishFailed
from corroborate.messaging.topology import Topology
from corroborate.mongo import AlreadyProcessed, ConcurrencyConflict
from corroborate.settings import Settings

log = get_logger("corroborate.messaging")


def make_broker(settings: Settings, *, service: str) -> RabbitBroker:
    """A broker client with confirms, returns-as-errors and bounded prefetch; not yet connected."""
    return RabbitBroker(
        settings.amqp_url.get_secret_value(),
        default_channel=Channel(
            prefetch_count=settings.prefetch, publisher_confirms=True, on_return_raises=True
        ),
        apply_types=False,
        logger=None,
        graceful_timeout=20.0,
        reconnect_interval=1.0,
        app_id=f"corroborate-{service}",
        # Pinned so the committed AsyncAPI document does not depend on where it was generated.
        specification_url="amqp://rabbitmq:5672/",
        description=f"Case events consumed by the {service} service.",
    )


class RabbitEventPublisher:
    """Publishes case events to the topic exchange; raises unless the broker took them."""

    def __init__(self, broker: RabbitBroker, topology: Topology) -> None:
        self._broker = broker
        self._topology = topology

    async def declare(self) -> None:
        await self._broker.declare_exchange(self._topology.case_events)

    async def publish(self, event: EventEnvelope) -> None:
        try:
            confirmation = await self._broker.publish(
                event.model_dump_json().encode(),
                exchange=self._topology.case_events,
                routing_key=event.type,
                mandatory=True,
                persist=True,
                message_id=str(event.event_id),
                correlation_id=str(event.correlation_id),
                message_type=event.type,
                content_type="application/json",
                timestamp=event.occurred_at,
                headers={"x-schema-version": event.schema_version, "x-producer": event.producer},
                timeout=10,
            )
        except Exception as exc:
            raise PublishFailed(f"{event.type} {event.event_id}: {exc}") from exc
        # With returns not raised by the channel, a returned message comes back as the result.
        delivery = getattr(confirmation, "delivery", None)
        if delivery is not None and type(delivery).__name__ == "Return":
            raise PublishFailed(f"{event.type} {event.event_id}: no queue is bound for it")


@cache
def envelope_model(event_type: str, version: int, payload: type[BaseModel]) -> type[BaseModel]:
    """The envelope with a typed payload, for the AsyncAPI document."""
    name = "".join(p.capitalize() for p in event_type.replace("_", ".").split(".")) + "Event"
    model: type[BaseModel] = create_model(
        name,
        __base__=EventEnvelope,
        __doc__=f"{event_type}, schema version {version}.",
        payload=(payload, ...),
    )
    return model


async def _raw(message: Any) -> Any:
    # The consumer reads the body itself, so it can park what it cannot parse, with the reason.
    return message


# Failures that say nothing about the message: the database is unreachable, or another
# write to the same aggregate won the race.
TRANSIENT: tuple[type[Exception], ...] = (ConnectionFailure, ConcurrencyConflict)


class CaseEventConsumer:
    """Registers one subscriber per handled event type, all sharing the parking logic."""

    MAX_TRANSIENT_WAIT_SECONDS = 600.0

    def __init__(
        self,
        *,
        broker: RabbitBroker,
        topology: Topology,
        registry: EventRegistry,
        service: str,
    ) -> None:
        self._broker = broker
        self._topology = topology
        self._registry = registry
        self._service = service
        self.handled_types: list[str] = []

    def register(self, handlers: Mapping[str, EventHandler]) -> None:
        for event_type, handler in handlers.items():
            self._subscribe(event_type, handler)

    def _subscribe(self, event_type: str, handler: EventHandler) -> None:
        version = max(self._registry.versions(event_type))
        payload = self._registry.model_for(event_type, version)
        queue = self._topology.consumer_queue(self._service, event_type)

        async def consume(message: RabbitMessage) -> None:
            await self._consume(message, queue.name, handler)

        consume.__annotations__ = {
            "message": envelope_model(event_type, version, payload),
            "return": None,
        }
        consume.__name__ = f"on_{event_type.replace('.', '_')}"
        self._broker.subscriber(
            queue,
            self._topology.case_events,
            ack_policy=AckPolicy.MANUAL,
            decoder=_raw,
            title=f"{queue.name}:consume",
            description=f"The {self._service} service consumes {event_type}.",
        )(consume)
        self.handled_types.append(event_type)

    async def declare_parking(self) -> None:
        """Declare the dead-letter exchange and this service's parking queue, bound."""
        exchange = await self._broker.declare_exchange(self._topology.dead_letter)
        parking = self._topology.parking_queue(self._service)
        queue = await self._broker.declare_queue(parking)
        await queue.bind(exchange, routing_key=parking.routing_key)

    async def _consume(self, message: RabbitMessage, queue: str, handler: EventHandler) -> None:
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(service=self._service, queue=queue)
        try:
            envelope, payload = read_event(message.body, registry=self._registry)
        except UnreadableEvent as exc:
            await self._park_or_return(message, queue, reason=exc.reason, detail=str(exc))
            return
        except Exception as exc:  # whatever else the parser meets, the message is unreadable
            detail = f"body could not be read: {type(exc).__name__}"
            await self._park_or_return(message, queue, reason="malformed", detail=detail)
            return
        structlog.contextvars.bind_contextvars(
            event_type=envelope.type,
            event_id=str(envelope.event_id),
            case_id=str(envelope.case_id),
            correlation_id=str(envelope.correlation_id),
        )
        await self._handle(message, queue, handler, envelope, payload)

    async def _handle(
        self,
        message: RabbitMessage,
        queue: str,
        handler: EventHandler,
        envelope: EventEnvelope,
        payload: BaseModel,
    ) -> None:
        """Apply the event; acknowledge, park, wait out a transient failure, or give it back."""
        waited = 0.0
        attempt = 0
        while True:
            try:
                await handler(envelope, payload)
            except AlreadyProcessed:
                await message.ack()
                log.info("event handled", outcome="duplicate")
                return
            except UnreadableEvent as exc:
                await self._park_or_return(message, queue, reason=exc.reason, detail=str(exc))
                return
            except TRANSIENT as exc:
                # The database is away, or a concurrent write won: waiting here, rather than
                # redelivering, keeps an outage from using up the message's delivery limit.
                if waited >= self.MAX_TRANSIENT_WAIT_SECONDS:
                    await self._return(message, exc)
                    return
                attempt += 1
                delay = min(0.1 * 2**attempt, 5.0)
                if attempt == 1 or attempt % 10 == 0:
                    log.warning("event waiting", outcome="waiting", error=type(exc).__name__)
                await asyncio.sleep(delay)
                waited += delay
                continue
            except Exception as exc:  # may be a bug: redelivered until the delivery limit
                await self._return(message, exc)
                return
            await message.ack()
            log.info("event handled", outcome="handled")
            return

    async def _return(self, message: RabbitMessage, exc: BaseException) -> None:
        """Give the message back for redelivery (each counts toward the delivery limit)."""
        attempt = int(message.headers.get("x-delivery-count", 0) or 0) + 1
        log.warning(
            "event failed; will be redelivered",
            outcome="retry",
            attempt=attempt,
            error=type(exc).__name__,
        )
        await asyncio.sleep(min(0.2 * 2**attempt, 10.0))
        await message.nack(requeue=True)

    async def _park_or_return(
        self, message: RabbitMessage, queue: str, *, reason: str, detail: str
    ) -> None:
        try:
            await self._park(message, queue, reason=reason, detail=detail)
        except Exception as exc:  # parking failed: the message must not sit unacknowledged
            await self._return(message, exc)

    async def _park(self, message: RabbitMessage, queue: str, *, reason: str, detail: str) -> None:
        headers: dict[str, Any] = {
            **{k: v for k, v in message.headers.items() if isinstance(v, str | int | float)},
            "x-parked-reason": reason,
            "x-parked-detail": detail[:500],
            "x-parked-by": self._service,
            "x-parked-from-queue": queue,
            "x-parked-at": datetime.now(UTC).isoformat(),
            "x-original-routing-key": message.raw_message.routing_key or "",
        }
        await self._broker.publish(
            message.body,
            exchange=self._topology.dead_letter,
            routing_key=self._topology.parking_key(self._service),
            mandatory=True,
            persist=True,
            headers=headers,
            message_id=message.message_id,
            correlation_id=message.correlation_id,
            content_type=message.content_type,
            timeout=10,
        )
        await message.ack()
        log.warning("event parked", outcome="parked", reason=reason)
