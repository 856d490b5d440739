"""ServiceRuntime: a service process wires the real servers together and says when it is ready."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage
from fastapi import APIRouter, FastAPI

from corroborate.events.envelope import EventEnvelope
from corroborate.http import install_health
from corroborate.mongo import insert_aggregate
from corroborate.runtime import ServiceRuntime, service_app
from corroborate.settings import Settings
from corroborate_testing import running

pytestmark = pytest.mark.integration

EventFactory = Callable[..., EventEnvelope]
Eventually = Callable[..., Awaitable[bool]]


@pytest.fixture
async def runtime(settings: Settings, bucket: str) -> AsyncIterator[ServiceRuntime]:
    # "review" because tokens are addressed to the three real services; no handlers are
    # subscribed, so no consumer queue is left bound to the session's exchange.
    runtime = ServiceRuntime(
        service="review",
        settings=settings,
        buckets=(bucket,),
        outbox_collections=(f"runtime_{uuid.uuid4().hex[:8]}",),
    )
    try:
        yield runtime
    finally:
        await runtime.relay.stop()
        await runtime.broker.stop()
        await runtime.mongo.close()


async def readyz(runtime: ServiceRuntime) -> httpx.Response:
    app = FastAPI()
    install_health(app, runtime.readiness_checks)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.get("/readyz")


async def test_not_ready_until_started_and_the_check_names_the_broker(
    runtime: ServiceRuntime,
) -> None:
    response = await readyz(runtime)

    assert response.status_code == 503
    assert response.json() == {
        "status": "not ready",
        "checks": {
            "broker": "unavailable: ConnectionError",
            "database": "ok",
            "storage": "ok",
        },
    }


async def test_service_app_starts_ready_declares_parking_and_relays_its_outbox(
    settings: Settings,
    runtime: ServiceRuntime,
    channel: AbstractChannel,
    spy: list[AbstractIncomingMessage],
    case_event: EventFactory,
    eventually: Eventually,
) -> None:
    prepared: list[str] = []

    async def prepare() -> None:
        prepared.append("indexes")

    app = service_app(
        runtime=runtime,
        title="Test service",
        version="0",
        summary="A service with no routes of its own.",
        prepare=prepare,
        router=APIRouter(),
        state={},
    )
    async with running(app) as client:
        assert prepared == ["indexes"]
        assert (await client.get("/healthz")).json() == {"status": "alive"}
        ready = await client.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["checks"] == {"broker": "ok", "database": "ok", "storage": "ok"}
        await channel.declare_queue(f"{settings.namespace}.review.parking", passive=True)

        event = case_event()
        collection = runtime.collection(runtime.outbox_collections[0])
        await insert_aggregate(collection, document={"_id": event.case_id}, events=[event])
        runtime.relay.notify()
        assert await eventually(
            lambda: [m.message_id for m in spy].count(str(event.event_id)) == 1, seconds=5
        )

    # The lifespan stopped the runtime: the broker connection is closed.
    assert not await runtime.broker.ping(timeout=0.5)
