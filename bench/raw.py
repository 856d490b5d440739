"""Raw limits of the servers, measured with their clients directly, before anything else.

RabbitMQ: persistent, publisher-confirmed publishes to a quorum queue, then consume-and-ack.
Database: single-document inserts, then conditional (version-checked) find-and-modify.
S3: puts and gets of whole objects. Each is measured with a window of operations in flight
(the pipeline's own bound) and, for the broker and database, also one at a time.
"""

from __future__ import annotations

import asyncio
import io
import os
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import Any

import aio_pika
from minio import Minio
from pymongo import AsyncMongoClient, ReturnDocument

from corroborate.settings import Settings

MIB = 1 << 20


@dataclass(frozen=True)
class Rate:
    """``operations`` done in ``seconds`` with ``concurrency`` in flight."""

    operations: int
    seconds: float
    concurrency: int

    @property
    def per_second(self) -> float:
        return self.operations / self.seconds if self.seconds else 0.0

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "per_second": round(self.per_second, 1)}


@dataclass(frozen=True)
class Throughput:
    """``objects`` of ``size`` bytes moved in ``seconds``, one at a time."""

    size: int
    objects: int
    seconds: float

    @property
    def mib_per_second(self) -> float:
        return self.size * self.objects / self.seconds / MIB if self.seconds else 0.0

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "mib_per_second": round(self.mib_per_second, 1)}


async def windowed(count: int, window: int, operation: Callable[[int], Awaitable[None]]) -> Rate:
    """Run ``operation(i)`` for i in range(count), ``window`` at a time; time the lot."""
    indices = iter(range(count))

    async def worker() -> None:
        for index in indices:  # shared: each index is taken by exactly one worker
            await operation(index)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(min(window, count))))
    return Rate(count, time.perf_counter() - started, window)


def _payload(size: int) -> str:
    return os.urandom(size // 2).hex()  # JSON-safe, incompressible, about the size of an event


# --- RabbitMQ -------------------------------------------------------------------------------


async def rabbit_limits(
    settings: Settings, *, messages: int, window: int, body_bytes: int = 2048
) -> dict[str, Rate]:
    """Publish (confirmed, persistent) into a quorum queue, then consume-and-ack it all."""
    body = _payload(body_bytes).encode()
    name = f"{settings.namespace}.bench.raw"
    connection = await aio_pika.connect(settings.amqp_url.get_secret_value())
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        await channel.declare_queue(name, durable=True, arguments={"x-queue-type": "quorum"})
        try:

            async def publish(index: int) -> None:
                await channel.default_exchange.publish(
                    aio_pika.Message(
                        body,
                        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                        message_id=str(index),
                        content_type="application/json",
                    ),
                    routing_key=name,
                    mandatory=True,
                )

            serial = await windowed(max(messages // 4, 1), 1, publish)
            published = await windowed(messages, window, publish)
            total = serial.operations + published.operations
            consumed = await _consume(connection, name, total=total, prefetch=window)
        finally:
            await channel.queue_delete(name)
    return {"publish": published, "publish_serial": serial, "consume_ack": consumed}


async def _consume(
    connection: aio_pika.abc.AbstractConnection, name: str, *, total: int, prefetch: int
) -> Rate:
    channel = await connection.channel()
    await channel.set_qos(prefetch_count=prefetch)
    queue = await channel.get_queue(name)
    done = asyncio.get_running_loop().create_future()
    count = 0
    started = time.perf_counter()

    async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
        nonlocal count
        await message.ack()
        count += 1
        if count == total and not done.done():
            done.set_result(time.perf_counter())

    tag = await queue.consume(on_message)
    try:
        finished = await asyncio.wait_for(done, timeout=300)
    finally:
        await queue.cancel(tag)
        await channel.close()
    return Rate(total, finished - started, prefetch)


# --- the database ---------------------------------------------------------------------------


async def mongo_limits(
    settings: Settings, *, documents: int, modified: int, window: int, document_bytes: int = 2048
) -> dict[str, Rate]:
    """Insert single documents; then change ``modified`` of them once each with a
    version-checked find-and-modify, and as many others with a version-checked update (the
    shape of every aggregate save in the services)."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        settings.mongo_url.get_secret_value(),
        tz_aware=True,
        uuidRepresentation="standard",
        serverSelectionTimeoutMS=10_000,
        timeoutMS=120_000,  # a server that stops answering fails the section, not the run
    )
    database = f"{settings.namespace.replace('-', '_')}_bench"
    try:
        collection = client[database]["raw"]
        ids = [str(uuid.uuid4()) for _ in range(documents + documents // 4)]
        serial_ids, window_ids = ids[documents:], ids[:documents]
        payload = _payload(document_bytes)

        def insert_into(chosen: list[str]) -> Callable[[int], Awaitable[None]]:
            async def insert(index: int) -> None:
                await collection.insert_one(
                    {"_id": chosen[index], "version": 1, "state": "new", "body": payload}
                )

            return insert

        async def find_and_modify(index: int) -> None:
            changed = await collection.find_one_and_update(
                {"_id": window_ids[index], "version": 1},
                {"$set": {"state": "changed"}, "$inc": {"version": 1}},
                projection={"version": 1},
                return_document=ReturnDocument.AFTER,
            )
            if changed is None:
                raise RuntimeError(f"document {window_ids[index]} was not at version 1")

        async def update(index: int) -> None:
            result = await collection.update_one(
                {"_id": window_ids[-1 - index], "version": 1},
                {"$set": {"state": "changed"}, "$inc": {"version": 1}},
            )
            if result.matched_count != 1:
                raise RuntimeError(f"document {window_ids[-1 - index]} was not at version 1")

        serial = await windowed(len(serial_ids), 1, insert_into(serial_ids))
        inserted = await windowed(documents, window, insert_into(window_ids))
        count = min(modified, documents // 2)
        fam = await windowed(count, window, find_and_modify)
        updated = await windowed(count, window, update)
    finally:
        await client.drop_database(database)
        await client.close()
    return {
        "insert": inserted,
        "insert_serial": serial,
        "find_and_modify": fam,
        "conditional_update": updated,
    }


# --- S3 -------------------------------------------------------------------------------------


def s3_client(settings: Settings) -> Minio:
    return Minio(
        endpoint=settings.s3_endpoint,
        access_key=settings.s3_access_key.get_secret_value(),
        secret_key=settings.s3_secret_key.get_secret_value(),
        secure=settings.s3_secure,
        region=settings.s3_region,
    )


def s3_limits(settings: Settings, *, sizes: dict[int, int]) -> dict[str, Throughput]:
    """For each object size (bytes) the given number of puts, then as many gets, one at a time
    with the SDK's defaults (multipart, three parts in parallel, above 5 MiB)."""
    client = s3_client(settings)
    bucket = f"{settings.namespace}-bench-raw"
    if not client.bucket_exists(bucket_name=bucket):
        client.make_bucket(bucket_name=bucket)
    data = os.urandom(max(sizes))
    results: dict[str, Throughput] = {}
    try:
        for size, count in sizes.items():
            view = memoryview(data)[:size]
            label = f"{size // MIB}MiB"
            started = time.perf_counter()
            for index in range(count):
                client.put_object(
                    bucket_name=bucket,
                    object_name=f"raw/{label}/{index}",
                    data=io.BytesIO(view),
                    length=size,
                )
            results[f"put_{label}"] = Throughput(size, count, time.perf_counter() - started)
            started = time.perf_counter()
            for index in range(count):
                response = client.get_object(bucket_name=bucket, object_name=f"raw/{label}/{index}")
                try:
                    received = sum(len(piece) for piece in response.stream(MIB))
                finally:
                    response.close()
                    response.release_conn()
                if received != size:
                    raise RuntimeError(f"got {received} bytes back for a {size}-byte object")
            results[f"get_{label}"] = Throughput(size, count, time.perf_counter() - started)
            for index in range(count):
                client.remove_object(bucket_name=bucket, object_name=f"raw/{label}/{index}")
    finally:
        for leftover in client.list_objects(bucket_name=bucket, recursive=True):
            client.remove_object(bucket_name=bucket, object_name=leftover.object_name or "")
        client.remove_bucket(bucket_name=bucket)
    return results
