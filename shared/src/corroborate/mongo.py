"""MongoDB access shared by every service: the client, and aggregate saves with an outbox.

An aggregate's document carries its own pending events (``outbox``). A state change and the
events it emits are therefore one single-document write, atomic on any MongoDB-compatible
server without a transaction; the relay publishes and then removes them.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from corroborate.events.contracts import SealedDetails
from corroborate.events.envelope import EventEnvelope
from corroborate.events.errors import UnreadableEvent
from corroborate.settings import Settings

Document = dict[str, Any]


class ConcurrencyConflict(Exception):
    """Someone else changed the aggregate since it was read; reload and decide again."""


class ConflictingEvent(UnreadableEvent):
    """An event would open an aggregate that a different event already opened."""

    reason = "conflicts-with-existing-case"


class CaseErasedError(Exception):
    """The case was erased: its data key is gone here too, and its contents unreadable."""


AggregateT = TypeVar("AggregateT")


class StoredAggregate(Generic[AggregateT]):
    """An aggregate as loaded, with its case's sealed details unless the case was erased."""

    def __init__(
        self, aggregate: AggregateT, *, case_id: uuid.UUID, protected: SealedDetails | None
    ) -> None:
        self.aggregate = aggregate
        self._case_id = case_id
        self._protected = protected

    @property
    def protected(self) -> SealedDetails:
        """The sealed details; raises ``CaseErasedError`` once the case was erased."""
        if self._protected is None:
            raise CaseErasedError(f"case {self._case_id} was erased")
        return self._protected


class AlreadyProcessed(Exception):
    """This event already changed the aggregate; a redelivery changes nothing."""


def mongo_client(settings: Settings) -> AsyncMongoClient[Document]:
    """A client for one service process; it connects lazily, never at import time.

    Every write waits until it is in the journal of a majority (``w="majority", j=true``): an
    acknowledged write must survive the database being killed, or a state change whose events
    were already published could vanish (SecantusDB killed with SIGKILL lost the last ten or
    so acknowledged writes without it; none with it)."""
    return AsyncMongoClient(
        settings.mongo_url.get_secret_value(),
        w="majority",
        journal=True,
        tz_aware=True,
        uuidRepresentation="standard",
        serverSelectionTimeoutMS=10_000,
        appname=f"corroborate-{settings.namespace}",
    )


def outbox_entries(events: list[EventEnvelope]) -> list[Document]:
    return [event.model_dump(mode="json") for event in events]


async def insert_aggregate(
    collection: AsyncCollection[Document],
    *,
    document: Mapping[str, Any],
    events: list[EventEnvelope],
) -> None:
    """Insert a new aggregate at version 1 together with the events its creation emits."""
    await collection.insert_one(
        {
            **document,
            "version": 1,
            "outbox": outbox_entries(events),
            "outbox_pending": bool(events),
            "processed_events": [],
        }
    )


async def save_aggregate(
    collection: AsyncCollection[Document],
    *,
    aggregate_id: Any,
    expected_version: int,
    changes: Mapping[str, Any],
    events: list[EventEnvelope],
    processed_event: uuid.UUID | None = None,
    appends: Mapping[str, list[Any]] | None = None,
) -> None:
    """Apply ``changes`` and queue ``events`` in one write, if nobody saved in between.

    With ``processed_event``, the write also records that event as handled, and is refused
    if it was handled before (the consumer's idempotency check, atomic with the change).
    ``appends`` adds items to array fields that something else drains concurrently (a
    ``$push``, so an item removed meanwhile is never written back).
    """
    query: dict[str, Any] = {"_id": aggregate_id, "version": expected_version}
    # Marks this write, so that a write applied by an attempt whose answer was lost is known
    # as ours (a driver's retry after the server restarted finds the version already moved).
    write_id = uuid.uuid4().hex
    push: dict[str, Any] = {
        field: {"$each": items} for field, items in (appends or {}).items() if items
    }
    if events:
        push["outbox"] = {"$each": outbox_entries(events)}
    if processed_event is not None:
        query["processed_events"] = {"$ne": str(processed_event)}
        push["processed_events"] = str(processed_event)
    update: dict[str, Any] = {
        "$set": {**changes, "version": expected_version + 1, "last_write": write_id}
        | ({"outbox_pending": True} if events else {})
    }
    if push:
        update["$push"] = push
    result = await collection.update_one(query, update)
    if result.matched_count == 1:
        return
    if await collection.count_documents(
        {"_id": aggregate_id, "version": expected_version + 1, "last_write": write_id}, limit=1
    ):
        return  # applied by an earlier attempt of this same write
    if processed_event is not None and await collection.count_documents(
        {"_id": aggregate_id, "processed_events": str(processed_event)}, limit=1
    ):
        raise AlreadyProcessed(str(processed_event))
    raise ConcurrencyConflict(
        f"aggregate {aggregate_id} is no longer at version {expected_version}"
    )


class AggregateCollection:
    """The writes every repository makes: create (once per event), load, save with the outbox.

    ``on_events`` nudges the outbox relay whenever a write queued events.
    """

    def __init__(
        self, collection: AsyncCollection[Document], *, on_events: Callable[[], None]
    ) -> None:
        self.collection = collection
        self._on_events = on_events

    async def create(
        self,
        *,
        document: Mapping[str, Any],
        events: list[EventEnvelope],
        caused_by: uuid.UUID | None = None,
    ) -> None:
        """Insert a new aggregate, recording the event that opened it.

        If that same event opened it before, raise ``AlreadyProcessed`` (a redelivery). If a
        different event already opened it, raise ``ConflictingEvent``: the message is parked
        for someone to look at, never silently dropped.
        """
        opened: dict[str, Any] = {"opened_by_event": str(caused_by)} if caused_by else {}
        try:
            await insert_aggregate(self.collection, document={**document, **opened}, events=events)
        except DuplicateKeyError as exc:
            if caused_by is None:
                raise
            existing = await self.collection.find_one(
                {"_id": document["_id"]}, {"opened_by_event": 1}
            )
            if existing is not None and existing.get("opened_by_event") == str(caused_by):
                raise AlreadyProcessed(str(caused_by)) from exc
            raise ConflictingEvent(
                f"case {document['_id']} was already opened by another event"
            ) from exc
        if events:
            self._on_events()

    async def load(self, aggregate_id: str, *, without: tuple[str, ...] = ()) -> Document | None:
        projection = dict.fromkeys(("outbox", *without), 0)
        return await self.collection.find_one({"_id": aggregate_id}, projection)

    async def save(
        self,
        *,
        aggregate_id: str,
        expected_version: int,
        changes: Mapping[str, Any],
        events: list[EventEnvelope],
        processed_event: uuid.UUID | None = None,
        appends: Mapping[str, list[Any]] | None = None,
    ) -> None:
        await save_aggregate(
            self.collection,
            aggregate_id=aggregate_id,
            expected_version=expected_version,
            changes=changes,
            events=events,
            processed_event=processed_event,
            appends=appends,
        )
        if events:
            self._on_events()
