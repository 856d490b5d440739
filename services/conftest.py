"""Fixtures the three services' tests share."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aio_pika
import pytest

from corroborate.settings import Settings
from corroborate_testing import eventually

Spy = Callable[..., Awaitable[dict[str, bytes]]]


@pytest.fixture
async def spy(settings: Settings) -> AsyncIterator[Spy]:
    """Every case event on the exchange (bound '#'): ``await spy(case_id, {types})``."""
    connection = await aio_pika.connect(settings.amqp_url.get_secret_value())
    channel = await connection.channel()
    exchange = await channel.declare_exchange(
        f"{settings.namespace}.case-events", aio_pika.ExchangeType.TOPIC, durable=True
    )
    queue = await channel.declare_queue(exclusive=True, auto_delete=True)
    await queue.bind(exchange, routing_key="#")
    seen: list[bytes] = []

    async def collect(
        case_id: str,
        types: set[str],
        within: float = 20.0,
        where: Callable[[dict[str, Any]], bool] = lambda event: True,
    ) -> dict[str, bytes]:
        async def probe() -> dict[str, bytes] | None:
            while (message := await queue.get(fail=False)) is not None:
                await message.ack()
                seen.append(message.body)
            found = {}
            for body in seen:
                event = json.loads(body)
                if event["case_id"] == case_id and event["type"] in types and where(event):
                    found[event["type"]] = body
            return found if set(found) == types else None

        result: dict[str, bytes] = await eventually(probe, within=within, what=str(types))
        return result

    try:
        yield collect
    finally:
        await connection.close()
