"""The outbox relay: publishes events saved with their aggregates, then marks them sent.

A crash after publishing and before marking resends the event on restart (consumers are
idempotent by ``event_id``); a crash before publishing loses nothing, because the event is
still in the aggregate's document.
"""

from __future__ import annotations

from typing import Any, Protocol

from pymongo.asynchronous.collection import AsyncCollection

from corroborate.events.envelope import EventEnvelope
from corroborate.logging import get_logger
from corroborate.loops import PollLoop

log = get_logger(__name__)


class PublishFailed(Exception):
    """The broker did not confirm the message, or could not route it to any queue."""


class EventPublisher(Protocol):
    async def publish(self, event: EventEnvelope) -> None:
        """Publish with confirmation; raise if the broker did not take it."""


class OutboxRelay(PollLoop):
    """Drains the outboxes of the given collections, on a poll and whenever nudged."""

    BATCH = 100
    name = "outbox-relay"

    def __init__(
        self,
        *,
        collections: list[AsyncCollection[dict[str, Any]]],
        publisher: EventPublisher,
        poll_seconds: float,
    ) -> None:
        super().__init__(poll_seconds=poll_seconds, max_backoff_seconds=10.0)
        self._collections = collections
        self._publisher = publisher

    async def run_once(self) -> int:
        return await self.drain_once()

    async def drain_once(self) -> int:
        """Publish every pending event once, in order per aggregate; return how many.

        One aggregate's stuck event (say, no queue bound yet) holds back only that aggregate's
        later events, never another case's; the first failure is raised after the pass.
        """
        published = 0
        first_failure: Exception | None = None
        for collection in self._collections:
            # Every pending aggregate is visited on each pass (in batches), so cases stuck behind
            # an unroutable event never starve the ones after them.
            cursor = collection.find(
                {"outbox_pending": True}, {"outbox": 1}, batch_size=self.BATCH
            ).sort("_id", 1)
            async for document in cursor:
                try:
                    published += await self._drain_document(collection, document)
                except Exception as exc:  # kept, and raised once every case had its turn
                    first_failure = first_failure or exc
        if first_failure is not None:
            raise first_failure
        return published

    async def _drain_document(
        self, collection: AsyncCollection[dict[str, Any]], document: dict[str, Any]
    ) -> int:
        published = 0
        for entry in document.get("outbox", []):
            event = EventEnvelope.model_validate(entry)
            await self._publisher.publish(event)
            # The usual case, the only event left: the outbox emptied and the flag cleared in one
            # write. If another event was saved meanwhile, this matches nothing, and the event
            # is pulled out alone; the flag stays set for the next pass.
            emptied = await collection.update_one(
                {
                    "_id": document["_id"],
                    "outbox": {"$size": 1},
                    "outbox.event_id": entry["event_id"],
                },
                {"$set": {"outbox": [], "outbox_pending": False}},
            )
            if emptied.matched_count == 0:
                await collection.update_one(
                    {"_id": document["_id"]},
                    {"$pull": {"outbox": {"event_id": entry["event_id"]}}},
                )
            published += 1
            log.info(
                "event published",
                event_type=event.type,
                event_id=str(event.event_id),
                case_id=str(event.case_id),
                correlation_id=str(event.correlation_id),
                outcome="published",
            )
            if emptied.matched_count == 1:
                return published
        await collection.update_one(
            {"_id": document["_id"], "outbox": {"$size": 0}},
            {"$set": {"outbox_pending": False}},
        )
        return published

    def failed(self, error: BaseException) -> None:
        log.warning("outbox events not published; will retry", error=str(error)[:300])
