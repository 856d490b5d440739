"""Fixtures for the shared kernel's tests against the real broker, database and object store.

Everything a test creates lives in the session's namespace; queues of the throwaway services
named here are deleted when their test ends (the namespace clean-up knows only the real ones).
"""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import suppress
from datetime import UTC, datetime

import aio_pika
import pytest
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractQueue
from minio import Minio
from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection

from corroborate.events.contracts import CASE_EVENTS, CaseAssigned
from corroborate.events.envelope import EventEnvelope, new_event
from corroborate.mongo import Document, mongo_client
from corroborate.settings import Settings
from corroborate.storage import ObjectStore, minio_client

EventFactory = Callable[..., EventEnvelope]


@pytest.fixture
def case_event() -> EventFactory:
    """``case_event(case_id)``: a fresh, valid ``case.assigned`` event for that case."""

    def make(case_id: uuid.UUID | None = None, *, clinician: str = "dr-1") -> EventEnvelope:
        return new_event(
            payload=CaseAssigned(
                clinician_id=clinician, assigned_by="coordinator-1", assigned_at=datetime.now(UTC)
            ),
            case_id=case_id or uuid.uuid4(),
            producer="shared-tests",
            correlation_id=uuid.uuid4(),
            registry=CASE_EVENTS,
        )

    return make


@pytest.fixture
async def channel(settings: Settings) -> AsyncIterator[AbstractChannel]:
    """A plain AMQP channel, to look at the broker the way an operator's tools do."""
    connection = await aio_pika.connect(settings.amqp_url.get_secret_value())
    async with connection:
        yield await connection.channel()


@pytest.fixture
async def service(settings: Settings) -> AsyncIterator[str]:
    """A service name of this test's own; its queues are deleted when the test ends."""
    name = f"svc{secrets.token_hex(3)}"
    yield name
    connection = await aio_pika.connect(settings.amqp_url.get_secret_value())
    async with connection:
        channel = await connection.channel()
        for suffix in (*CASE_EVENTS.event_types, "parking"):
            with suppress(Exception):
                await channel.queue_delete(f"{settings.namespace}.{name}.{suffix}")
            if channel.is_closed:
                channel = await connection.channel()


@pytest.fixture
async def spy(
    settings: Settings, channel: AbstractChannel
) -> AsyncIterator[list[AbstractIncomingMessage]]:
    """Every case event the namespace's exchange routes while the test runs, in order."""
    exchange = await channel.declare_exchange(
        f"{settings.namespace}.case-events", aio_pika.ExchangeType.TOPIC, durable=True
    )
    queue = await channel.declare_queue(exclusive=True)
    await queue.bind(exchange, routing_key="#")
    seen: list[AbstractIncomingMessage] = []

    async def collect(message: AbstractIncomingMessage) -> None:
        seen.append(message)
        await message.ack()

    tag = await queue.consume(collect)
    yield seen
    await queue.cancel(tag)


async def wait_until(condition: Callable[[], bool], *, seconds: float = 10.0) -> bool:
    """Poll ``condition`` every 50 ms for at most ``seconds``; return whether it came true."""
    deadline = asyncio.get_running_loop().time() + seconds
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


@pytest.fixture
def eventually() -> Callable[..., Awaitable[bool]]:
    """``await eventually(lambda: ..., seconds=5)``: short bounded polling."""
    return wait_until


async def get_one(queue: AbstractQueue, *, seconds: float = 10.0) -> AbstractIncomingMessage:
    """The next message on ``queue``, waiting at most ``seconds``."""
    deadline = asyncio.get_running_loop().time() + seconds
    while (message := await queue.get(no_ack=False, fail=False)) is None:
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"nothing arrived on {queue.name} within {seconds} s")
        await asyncio.sleep(0.05)
    await message.ack()
    return message


@pytest.fixture
def next_message() -> Callable[..., Awaitable[AbstractIncomingMessage]]:
    """``await next_message(queue, seconds=5)``: the next message on a queue, acknowledged."""
    return get_one


@pytest.fixture
async def collection(settings: Settings) -> AsyncIterator[AsyncCollection[Document]]:
    """An empty collection of this test's own in the namespace's database."""
    client: AsyncMongoClient[Document] = mongo_client(settings)
    try:
        yield client[settings.database_name("shared")][f"aggregates_{uuid.uuid4().hex[:10]}"]
    finally:
        await client.close()


@pytest.fixture(scope="session")
def s3(settings: Settings) -> Minio:
    """The S3 API directly, to see and alter what is at rest."""
    return minio_client(settings)


@pytest.fixture(scope="session")
def bucket(settings: Settings, s3: Minio) -> str:
    """One bucket for the session (creating one takes ~200 ms); tests separate by key."""
    name = settings.bucket_name("shared-tests")
    if not s3.bucket_exists(bucket_name=name):
        s3.make_bucket(bucket_name=name)
    return name


@pytest.fixture
def store(settings: Settings) -> ObjectStore:
    return ObjectStore(settings)
