"""Least privilege: each service's own credentials reach what it owns and nothing else.

Every service under test already runs with these credentials (see conftest.py), so a service
reaching beyond its rights fails the suite; this file shows the limits themselves, service by
service, on the real broker, database and object store.
"""

from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime, timedelta

import aio_pika
import pytest
from aiormq.exceptions import ChannelAccessRefused
from minio.commonconfig import GOVERNANCE
from minio.error import S3Error
from minio.retention import Retention
from pymongo.errors import OperationFailure

from corroborate.access import BUCKETS, SERVICES, service_settings
from corroborate.mongo import mongo_client
from corroborate.settings import Settings
from corroborate.storage import minio_client
from intake.bootstrap import DOCUMENTS
from reporting.bootstrap import REPORTS
from review.bootstrap import PHOTOGRAPHS

pytestmark = pytest.mark.integration

OTHERS = [(own, other) for own in SERVICES for other in SERVICES if other != own]


def test_each_service_owns_the_bucket_it_uses() -> None:
    assert {s: b.purpose for s, b in BUCKETS.items()} == {
        "intake": DOCUMENTS,
        "review": PHOTOGRAPHS,
        "reporting": REPORTS,
    }


# Broker --------------------------------------------------------------------------------------


async def _ignore(message: aio_pika.abc.AbstractIncomingMessage) -> None:
    """A consumer that is never meant to receive anything."""


async def _refused(settings: Settings, action: str, queue_name: str) -> bool:
    """Try one action on a queue with a service's credentials; True if the broker refused."""
    connection = await aio_pika.connect(settings.amqp_url.get_secret_value())
    async with connection:
        channel = await connection.channel()
        try:
            if action == "declare":
                await channel.declare_queue(
                    queue_name, durable=True, arguments={"x-queue-type": "quorum"}
                )
            else:
                queue = await channel.declare_queue(queue_name, passive=True)
                await queue.consume(_ignore)
        except ChannelAccessRefused:
            return True
        return False


@pytest.mark.parametrize(("own", "other"), OTHERS)
async def test_a_service_cannot_declare_or_read_another_services_queue(
    settings: Settings, own: str, other: str
) -> None:
    mine = service_settings(settings, own)
    theirs = f"{settings.namespace}.{other}.lp-{uuid.uuid4().hex[:8]}"
    assert await _refused(mine, "declare", theirs)
    # The owner may declare it; the other service still may not consume from it.
    assert not await _refused(service_settings(settings, other), "declare", theirs)
    try:
        assert await _refused(mine, "consume", theirs)
    finally:
        connection = await aio_pika.connect(settings.amqp_url.get_secret_value())
        async with connection:
            await (await connection.channel()).queue_delete(theirs)


@pytest.mark.parametrize("own", SERVICES)
async def test_a_service_publishes_case_events_but_declares_no_other_exchange(
    settings: Settings, own: str
) -> None:
    mine = service_settings(settings, own)
    connection = await aio_pika.connect(mine.amqp_url.get_secret_value())
    async with connection:
        channel = await connection.channel()
        exchange = await channel.declare_exchange(
            f"{settings.namespace}.case-events", aio_pika.ExchangeType.TOPIC, durable=True
        )
        await exchange.publish(aio_pika.Message(b"{}"), routing_key="least-privilege.probe")
        with pytest.raises(ChannelAccessRefused):
            await channel.declare_exchange(
                f"{settings.namespace}.elsewhere", aio_pika.ExchangeType.TOPIC
            )


# Database ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("own", "other"), OTHERS)
async def test_a_service_cannot_read_or_write_another_services_database(
    settings: Settings, own: str, other: str
) -> None:
    client = mongo_client(service_settings(settings, own))
    try:
        await client[settings.database_name(own)]["least_privilege"].insert_one({"ok": True})
        for attempt in (
            client[settings.database_name(other)]["least_privilege"].find_one(),
            client[settings.database_name(other)]["least_privilege"].insert_one({"x": 1}),
            client["admin"].command("createUser", "intruder", pwd="x", roles=[]),
        ):
            with pytest.raises(OperationFailure) as refused:
                await attempt
            assert refused.value.code == 13  # Unauthorized
    finally:
        await client.close()


async def test_the_database_refuses_a_client_without_credentials(settings: Settings) -> None:
    url = settings.mongo_url.get_secret_value()
    anonymous = settings.model_copy(
        update={"mongo_url": type(settings.mongo_url)("mongodb://" + url.split("@", 1)[1])}
    )
    client = mongo_client(anonymous)
    try:
        with pytest.raises(OperationFailure) as refused:
            await client[settings.database_name("intake")]["referrals"].find_one()
        assert refused.value.code == 13
    finally:
        await client.close()


# Object storage ------------------------------------------------------------------------------


@pytest.mark.parametrize(("own", "other"), OTHERS)
def test_a_service_cannot_touch_another_services_bucket(
    settings: Settings, own: str, other: str
) -> None:
    mine = minio_client(service_settings(settings, own))
    operator = minio_client(settings)
    theirs = settings.bucket_name(BUCKETS[other].purpose)
    key = f"least-privilege/{uuid.uuid4().hex}"
    operator.put_object(bucket_name=theirs, object_name=key, data=io.BytesIO(b"x"), length=1)
    for attempt in (
        lambda: mine.get_object(bucket_name=theirs, object_name=key).read(),
        lambda: mine.put_object(
            bucket_name=theirs, object_name=key, data=io.BytesIO(b"y"), length=1
        ),
        lambda: list(mine.list_objects(bucket_name=theirs)),
    ):
        with pytest.raises(S3Error) as refused:
            attempt()
        assert refused.value.code == "AccessDenied"


@pytest.mark.parametrize("own", SERVICES)
def test_a_service_writes_its_bucket_but_cannot_create_buckets_or_lift_a_lock(
    settings: Settings, own: str
) -> None:
    mine = minio_client(service_settings(settings, own))
    bucket = settings.bucket_name(BUCKETS[own].purpose)
    key = f"least-privilege/{uuid.uuid4().hex}"
    written = mine.put_object(bucket_name=bucket, object_name=key, data=io.BytesIO(b"x"), length=1)
    assert mine.get_object(bucket_name=bucket, object_name=key).read() == b"x"
    with pytest.raises(S3Error) as refused:
        mine.make_bucket(bucket_name=f"{BUCKETS[own].purpose}-lp{uuid.uuid4().hex[:6]}")
    assert refused.value.code == "AccessDenied"
    if BUCKETS[own].object_lock:
        until = datetime.now(UTC) + timedelta(days=1)
        mine.set_object_retention(
            bucket_name=bucket,
            object_name=key,
            version_id=written.version_id,
            config=Retention(GOVERNANCE, until),
        )
        with pytest.raises(S3Error) as refused:
            mine.remove_object(bucket_name=bucket, object_name=key, version_id=written.version_id)
        assert refused.value.code == "AccessDenied"
