"""Reachability checks for the three kinds of infrastructure."""

from __future__ import annotations

import aio_pika

from corroborate.mongo import mongo_client
from corroborate.settings import Settings
from corroborate.storage import ObjectStore


async def check(dependency: str, settings: Settings) -> None:
    if dependency == "amqp":
        connection = await aio_pika.connect(settings.amqp_url.get_secret_value(), timeout=3)
        await connection.close()
    elif dependency == "mongo":
        client = mongo_client(settings)
        try:
            await client.admin.command("ping")
        finally:
            await client.close()
    elif dependency == "s3":
        await ObjectStore(settings).ping("corroborate-ping")
    else:
        raise ValueError(dependency)
