"""What every service process wires up: database, broker, outbox relay, storage, keys, auth.

Each service's composition root builds one ``ServiceRuntime``, registers its own event
handlers and collections, and calls ``start``/``stop`` from its FastAPI lifespan. Nothing here
connects at import time.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

from aio_pika.abc import AbstractRobustConnection
from fastapi import APIRouter, FastAPI
from faststream import FastStream
from faststream.rabbit import RabbitBroker
from faststream.specification import AsyncAPI
from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from corroborate.audit import COLLECTION as AUDIT_COLLECTION
from corroborate.audit import AuditLog
from corroborate.auth import SERVICE_AUDIENCES, TokenVerifier
from corroborate.crypto import KeyRing
from corroborate.events.contracts import CASE_EVENTS
from corroborate.events.envelope import EventEnvelope
from corroborate.http import COMMON_RESPONSES, ReadinessCheck, install_common, install_health
from corroborate.logging import get_logger
from corroborate.messaging.handlers import EventHandlers
from corroborate.messaging.outbox import OutboxRelay
from corroborate.messaging.parked import discard_parked
from corroborate.messaging.rabbit import (
    CaseEventConsumer,
    RabbitEventPublisher,
    envelope_model,
    make_broker,
)
from corroborate.messaging.topology import Topology
from corroborate.mongo import Document, mongo_client
from corroborate.settings import Settings
from corroborate.storage import ObjectStore
from corroborate.web import api_docs

log = get_logger("corroborate.runtime")

CASE_ERASED = "case.erased"


class Worker(Protocol):
    """A background task of a service, started and stopped with it."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


@dataclass
class ServiceRuntime:
    """The infrastructure clients of one service process."""

    service: str
    settings: Settings
    buckets: tuple[str, ...] = ()
    outbox_collections: tuple[str, ...] = ()
    mongo: AsyncMongoClient[Document] = field(init=False)
    database: AsyncDatabase[Document] = field(init=False)
    keyring: KeyRing = field(init=False)
    store: ObjectStore = field(init=False)
    verifier: TokenVerifier = field(init=False)
    topology: Topology = field(init=False)
    broker: RabbitBroker = field(init=False)
    publisher: RabbitEventPublisher = field(init=False)
    consumer: CaseEventConsumer = field(init=False)
    relay: OutboxRelay = field(init=False)
    audit: AuditLog = field(init=False)

    def __post_init__(self) -> None:
        settings = self.settings
        self.mongo = mongo_client(settings)
        self.database = self.mongo[settings.database_name(self.service)]
        self.keyring = settings.keyring()
        self.store = ObjectStore(settings)
        self.verifier = TokenVerifier(
            public_key_pem=settings.public_key_pem,
            issuer=settings.auth_issuer,
            audience=SERVICE_AUDIENCES[self.service],
        )
        self.topology = Topology(settings.namespace, delivery_limit=settings.delivery_limit)
        self.broker = make_broker(settings, service=self.service)
        self.publisher = RabbitEventPublisher(self.broker, self.topology)
        self.consumer = CaseEventConsumer(
            broker=self.broker, topology=self.topology, registry=CASE_EVENTS, service=self.service
        )
        self.audit = AuditLog(self.collection(AUDIT_COLLECTION), service=self.service)
        self.relay = OutboxRelay(
            collections=[self.collection(name) for name in self.outbox_collections],
            publisher=self.publisher,
            poll_seconds=settings.outbox_poll_seconds,
        )

    def collection(self, name: str) -> AsyncCollection[Document]:
        return self.database[name]

    def bucket(self, purpose: str) -> str:
        return self.settings.bucket_name(purpose)

    def subscribe(self, handlers: EventHandlers) -> None:
        """Register event handlers; must happen before ``start``.

        Every service hears ``case.erased``, after its own handler if it has one: the case's
        messages are then removed from this service's parking queue too, since each may carry
        the case's sealed details with a wrapped copy of its data key."""
        registered = {t: handlers.handler_for(t) for t in handlers.event_types}
        own = registered.get(CASE_ERASED)

        async def erased(envelope: EventEnvelope, payload: object) -> None:
            if own is not None:
                await own(envelope, payload)
            forgotten = await discard_parked(
                self.settings, self.service, case_id=str(envelope.case_id)
            )
            if forgotten:
                log.info("parked messages of an erased case removed", count=len(forgotten))

        registered[CASE_ERASED] = erased
        self.consumer.register(registered)

    def publishes(self, *event_types: str) -> None:
        """Declare the events this service emits (through its outbox), for the AsyncAPI document."""
        for event_type in event_types:
            version = max(CASE_EVENTS.versions(event_type))
            self.broker.publisher(
                exchange=self.topology.case_events,
                routing_key=event_type,
                persist=True,
                title=f"{self.topology.case_events.name}:{event_type}",
                description=f"The {self.service} service publishes {event_type}.",
                schema=envelope_model(
                    event_type, version, CASE_EVENTS.model_for(event_type, version)
                ),
            )

    def asyncapi(self, *, title: str, version: str) -> AsyncAPI:
        return AsyncAPI(
            self.broker,
            title=title,
            version=version,
            schema_version="3.0.0",
            description=f"Case events the {self.service} service publishes and consumes.",
        )

    def asyncapi_app(self, *, title: str, version: str) -> FastStream:
        """A FastStream app for ``faststream docs gen``/``serve``; it connects to nothing."""
        return FastStream(self.broker, specification=self.asyncapi(title=title, version=version))

    async def start(self) -> None:
        await self.audit.ensure_indexes()
        for name in self.outbox_collections:
            await self.collection(name).create_index("outbox_pending")
        for bucket in self.buckets:
            await self.store.ensure_bucket(bucket)
        await self.broker.connect()
        await self.publisher.declare()
        await self.consumer.declare_parking()
        await self.broker.start()
        await self.relay.start()
        log.info("service started", outcome="ok", consumes=self.consumer.handled_types)

    async def stop(self) -> None:
        await self.relay.stop()
        # In-flight handlers finish (or their messages return to the queue) before this returns.
        # Stopping waits for the broker to confirm each consumer's cancellation; a broker that
        # does not answer must not keep the service from stopping. Dropping the connection
        # instead returns every unacknowledged message to its queue, and consumers drop
        # redelivered events they have already handled.
        connection = self.broker._connection
        try:
            await asyncio.wait_for(self.broker.stop(), timeout=self.settings.stop_timeout_seconds)
        except TimeoutError:
            log.warning(
                "the broker did not confirm the consumers' cancellation in time; "
                "the connection is dropped",
                outcome="degraded",
                within_seconds=self.settings.stop_timeout_seconds,
            )
            await _drop(connection)
        await self.mongo.close()
        log.info("service stopped", outcome="ok")

    def readiness_checks(self) -> Iterable[tuple[str, ReadinessCheck]]:
        async def broker() -> None:
            if not await self.broker.ping(timeout=2.0):
                raise ConnectionError("broker does not answer")

        async def database() -> None:
            await self.mongo.admin.command("ping")

        async def storage() -> None:
            await self.store.ping(self.buckets[0] if self.buckets else "corroborate-ping")

        return [("broker", broker), ("database", database), ("storage", storage)]


async def _drop(connection: AbstractRobustConnection | None) -> None:
    """Close a broker connection without waiting on the broker for more than a few seconds."""
    if connection is None or connection.is_closed:
        return
    try:
        await asyncio.wait_for(connection.close(), timeout=5.0)
    except Exception as error:  # stopping goes on regardless
        log.warning("broker connection not closed cleanly", error=type(error).__name__)


def service_app(
    *,
    runtime: ServiceRuntime,
    title: str,
    version: str,
    summary: str,
    prepare: Callable[[], Awaitable[None]],
    router: APIRouter | Sequence[APIRouter],
    state: Mapping[str, Any],
    workers: Sequence[Worker] = (),
) -> FastAPI:
    """The FastAPI app of one service: lifespan, auth, logging, health, and its routes.

    ``workers`` run beside the service (say, a webhook dispatcher): started after the runtime,
    stopped before it, so they can use the database until the end.
    """

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await prepare()
        await runtime.start()
        started: list[Worker] = []
        try:
            for worker in workers:
                await worker.start()
                started.append(worker)
            yield
        finally:
            for worker in reversed(started):
                await worker.stop()
            await runtime.stop()

    # FastAPI's own /docs and /redoc load their scripts from a CDN, one inline: the kernel's
    # serve the same viewers from this service, under the pages' security headers.
    app = FastAPI(
        title=title,
        version=version,
        summary=summary,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.token_verifier = runtime.verifier
    app.state.runtime = runtime
    for name, value in state.items():
        setattr(app.state, name, value)
    install_common(app, max_body_bytes=runtime.settings.max_body_bytes)
    install_health(app, runtime.readiness_checks)
    app.include_router(api_docs.router)
    for routes in [router] if isinstance(router, APIRouter) else router:
        app.include_router(routes, responses=COMMON_RESPONSES)
    return app
