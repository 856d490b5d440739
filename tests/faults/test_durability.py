"""An acknowledged write survives the database being killed: the services' client waits for the
journal (``w="majority", j=true``). Without it, SecantusDB killed with SIGKILL lost its last
ten or so acknowledged writes, so a state change whose events were already published could
vanish."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from pydantic import SecretStr

from corroborate.mongo import mongo_client
from corroborate.settings import Settings
from corroborate_testing.servers import SecantusServer

pytestmark = pytest.mark.faults


async def test_every_acknowledged_write_survives_a_sigkill_of_the_database(
    settings: Settings, tmp_path: Path
) -> None:
    server = SecantusServer(tmp_path / "secantusdb")
    own = settings.model_copy(update={"mongo_url": SecretStr(server.url)})
    acknowledged = 0
    try:
        server.spawn()
        await server.wait_ready(within=60)
        client = mongo_client(own)
        collection = client["durability"]["writes"]
        killed_at = time.monotonic() + 1.5
        try:
            while True:
                # Two documents per step, like a record and the head that points at it.
                await collection.insert_one({"_id": acknowledged + 1})
                await collection.update_one(
                    {"_id": "head"}, {"$set": {"last": acknowledged + 1}}, upsert=True
                )
                acknowledged += 1
                if time.monotonic() > killed_at:
                    await asyncio.to_thread(server.kill)
                    break
        finally:
            await client.close()
        assert acknowledged > 50

        server.spawn()
        await server.wait_ready(within=60)
        client = mongo_client(own)
        try:
            collection = client["durability"]["writes"]
            kept = await collection.count_documents({"_id": {"$ne": "head"}})
            head = await collection.find_one({"_id": "head"})
        finally:
            await client.close()
        assert kept == acknowledged
        assert head is not None
        assert head["last"] == acknowledged
    finally:
        await asyncio.to_thread(server.stop, within=30.0)
