"""The fault suite's own world: a RabbitMQ node and a SecantusDB that only it uses (so killing
them disturbs nothing else on the machine), the test command's S3, and the three services as
processes that a supervisor starts again whenever they exit."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import aio_pika
import pytest
from pydantic import SecretStr

from corroborate.messaging.topology import Topology
from corroborate.settings import Settings
from corroborate_testing import new_namespace, remove_buckets
from corroborate_testing.servers import (
    SERVICES,
    FaultWorld,
    RabbitNode,
    SecantusServer,
    ServiceProcess,
    Supervisor,
)

SPY_QUEUE = "test.spy"


def _service_environment(
    settings: Settings, rabbit: RabbitNode, mongo: SecantusServer
) -> dict[str, str]:
    return {
        "CORROBORATE_NAMESPACE": settings.namespace,
        "CORROBORATE_AMQP_URL": rabbit.url,
        "CORROBORATE_MONGO_URL": mongo.url,
        # Evidence locked in governance mode so the run can delete what it stored.
        "CORROBORATE_EVIDENCE_RETENTION_MODE": "GOVERNANCE",
        "CORROBORATE_EVIDENCE_RETENTION_DAYS": "1",
        "CORROBORATE_WEBHOOK_ALLOW_INSECURE": "true",
        "CORROBORATE_WEBHOOK_POLL_SECONDS": "1",
        "CORROBORATE_WEBHOOK_TIMEOUT_SECONDS": "3",
        "CORROBORATE_WEBHOOK_FIRST_RETRY_SECONDS": "1",
        "CORROBORATE_WEBHOOK_MAX_RETRY_SECONDS": "5",
        "CORROBORATE_WEBHOOK_MAX_ATTEMPTS": "100",
    }


async def _declare_spy(settings: Settings, url: str) -> str:
    """A durable queue bound to every routing key, declared before anything is published."""
    topology = Topology(settings.namespace)
    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel()
        exchange = await channel.declare_exchange(
            topology.case_events.name, aio_pika.ExchangeType.TOPIC, durable=True
        )
        name = f"{settings.namespace}.{SPY_QUEUE}"
        queue = await channel.declare_queue(
            name, durable=True, arguments={"x-queue-type": "quorum"}
        )
        await queue.bind(exchange, routing_key="#")
    return name


@pytest.fixture
async def fault_world(settings: Settings, tmp_path: Path) -> AsyncIterator[FaultWorld]:
    """Everything started, ready, and stopped (by PID group) on the way out, pass or fail."""
    rabbit = RabbitNode(tmp_path / "rabbitmq")
    mongo = SecantusServer(tmp_path / "secantusdb")
    configured = settings.model_copy(
        update={
            "namespace": new_namespace(),
            "amqp_url": SecretStr(rabbit.url),
            "mongo_url": SecretStr(mongo.url),
        }
    )
    services = {
        name: ServiceProcess(name, environment={}, log=tmp_path / "logs" / f"{name}.log")
        for name in SERVICES
    }
    configured = configured.model_copy(
        update={f"{name}_url": service.url for name, service in services.items()}
    )
    environment = _service_environment(configured, rabbit, mongo) | {
        f"CORROBORATE_{name.upper()}_URL": service.url for name, service in services.items()
    }
    for service in services.values():
        service.environment.update(environment)
    supervisor = Supervisor(services)
    try:
        rabbit.spawn()
        mongo.spawn()
        await asyncio.gather(rabbit.wait_ready(within=120), mongo.wait_ready(within=60))
        spy = await _declare_spy(configured, rabbit.url)
        supervisor.start()
        for service in services.values():
            await service.wait_ready(within=90)
        yield FaultWorld(
            settings=configured,
            rabbit=rabbit,
            mongo=mongo,
            supervisor=supervisor,
            spy_queue=spy,
            logs=tmp_path / "logs",
        )
    finally:
        try:
            await supervisor.stop()
            # The S3 server is the test command's: empty and remove this suite's buckets.
            await asyncio.wait_for(remove_buckets(configured), timeout=120)
        finally:
            await asyncio.to_thread(rabbit.stop, within=30.0)
            await asyncio.to_thread(mongo.stop, within=30.0)
            rabbit.release_epmd()
    for data in (rabbit.directory, mongo.directory):
        shutil.rmtree(data, ignore_errors=True)
