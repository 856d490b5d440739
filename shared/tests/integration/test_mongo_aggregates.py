"""Aggregate saves with an outbox on the real database: versioned, atomic, idempotent."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable

import pytest
from pymongo.asynchronous.collection import AsyncCollection

from corroborate.events.envelope import EventEnvelope
from corroborate.mongo import (
    AlreadyProcessed,
    ConcurrencyConflict,
    Document,
    insert_aggregate,
    save_aggregate,
)

pytestmark = pytest.mark.integration

EventFactory = Callable[..., EventEnvelope]


async def load(collection: AsyncCollection[Document], aggregate_id: uuid.UUID) -> Document:
    document = await collection.find_one({"_id": aggregate_id})
    assert document is not None
    return document


def outbox_ids(document: Document) -> list[str]:
    return [entry["event_id"] for entry in document["outbox"]]


async def test_insert_starts_at_version_one_with_its_events_pending(
    collection: AsyncCollection[Document], case_event: EventFactory
) -> None:
    case_id = uuid.uuid4()
    event = case_event(case_id)

    await insert_aggregate(collection, document={"_id": case_id, "state": "new"}, events=[event])

    stored = await load(collection, case_id)
    assert stored["state"] == "new"
    assert stored["version"] == 1
    assert stored["outbox_pending"] is True
    assert stored["processed_events"] == []
    assert stored["outbox"] == [event.model_dump(mode="json")]


async def test_insert_without_events_has_nothing_pending(
    collection: AsyncCollection[Document],
) -> None:
    case_id = uuid.uuid4()
    await insert_aggregate(collection, document={"_id": case_id}, events=[])
    stored = await load(collection, case_id)
    assert stored["outbox"] == []
    assert stored["outbox_pending"] is False


async def test_save_applies_changes_bumps_version_and_appends_events_in_order(
    collection: AsyncCollection[Document], case_event: EventFactory
) -> None:
    case_id = uuid.uuid4()
    first, second, third = (case_event(case_id) for _ in range(3))
    await insert_aggregate(collection, document={"_id": case_id, "state": "new"}, events=[first])

    await save_aggregate(
        collection,
        aggregate_id=case_id,
        expected_version=1,
        changes={"state": "accepted"},
        events=[second, third],
    )

    stored = await load(collection, case_id)
    assert stored["state"] == "accepted"
    assert stored["version"] == 2
    assert stored["outbox_pending"] is True
    assert outbox_ids(stored) == [str(e.event_id) for e in (first, second, third)]


async def test_stale_version_raises_concurrency_conflict_and_changes_nothing(
    collection: AsyncCollection[Document], case_event: EventFactory
) -> None:
    case_id = uuid.uuid4()
    await insert_aggregate(collection, document={"_id": case_id, "state": "new"}, events=[])
    await save_aggregate(
        collection, aggregate_id=case_id, expected_version=1, changes={"state": "a"}, events=[]
    )

    with pytest.raises(ConcurrencyConflict, match="no longer at version 1"):
        await save_aggregate(
            collection,
            aggregate_id=case_id,
            expected_version=1,
            changes={"state": "b"},
            events=[case_event(case_id)],
        )

    stored = await load(collection, case_id)
    assert (stored["state"], stored["version"], stored["outbox"]) == ("a", 2, [])


async def test_saving_an_aggregate_that_does_not_exist_raises_concurrency_conflict(
    collection: AsyncCollection[Document],
) -> None:
    with pytest.raises(ConcurrencyConflict):
        await save_aggregate(
            collection, aggregate_id=uuid.uuid4(), expected_version=1, changes={}, events=[]
        )


async def test_event_already_processed_raises_and_changes_nothing(
    collection: AsyncCollection[Document], case_event: EventFactory
) -> None:
    case_id = uuid.uuid4()
    handled = case_event(case_id)
    await insert_aggregate(collection, document={"_id": case_id, "count": 0}, events=[])
    await save_aggregate(
        collection,
        aggregate_id=case_id,
        expected_version=1,
        changes={"count": 1},
        events=[],
        processed_event=handled.event_id,
    )

    with pytest.raises(AlreadyProcessed, match=str(handled.event_id)):
        await save_aggregate(
            collection,
            aggregate_id=case_id,
            expected_version=2,
            changes={"count": 2},
            events=[case_event(case_id)],
            processed_event=handled.event_id,
        )

    stored = await load(collection, case_id)
    assert (stored["count"], stored["version"], stored["outbox"]) == (1, 2, [])
    assert stored["processed_events"] == [str(handled.event_id)]


async def test_redelivery_read_at_a_stale_version_is_reported_as_already_processed(
    collection: AsyncCollection[Document], case_event: EventFactory
) -> None:
    """A consumer that read version 1 before the first delivery was saved must ack, not retry."""
    case_id = uuid.uuid4()
    handled = case_event(case_id)
    await insert_aggregate(collection, document={"_id": case_id}, events=[])
    await save_aggregate(
        collection,
        aggregate_id=case_id,
        expected_version=1,
        changes={},
        events=[],
        processed_event=handled.event_id,
    )

    with pytest.raises(AlreadyProcessed):
        await save_aggregate(
            collection,
            aggregate_id=case_id,
            expected_version=1,
            changes={},
            events=[],
            processed_event=handled.event_id,
        )


async def test_different_events_are_each_applied(
    collection: AsyncCollection[Document], case_event: EventFactory
) -> None:
    case_id = uuid.uuid4()
    first, second = case_event(case_id), case_event(case_id)
    await insert_aggregate(collection, document={"_id": case_id}, events=[])
    for version, event in enumerate((first, second), start=1):
        await save_aggregate(
            collection,
            aggregate_id=case_id,
            expected_version=version,
            changes={},
            events=[],
            processed_event=event.event_id,
        )
    stored = await load(collection, case_id)
    assert stored["version"] == 3
    assert stored["processed_events"] == [str(first.event_id), str(second.event_id)]


async def test_concurrent_saves_at_the_same_version_let_exactly_one_win(
    collection: AsyncCollection[Document],
) -> None:
    case_id = uuid.uuid4()
    await insert_aggregate(collection, document={"_id": case_id, "owner": None}, events=[])

    results = await asyncio.gather(
        *(
            save_aggregate(
                collection,
                aggregate_id=case_id,
                expected_version=1,
                changes={"owner": f"dr-{n}"},
                events=[],
            )
            for n in range(5)
        ),
        return_exceptions=True,
    )

    assert results.count(None) == 1
    assert all(isinstance(r, ConcurrencyConflict) for r in results if r is not None)
    stored = await load(collection, case_id)
    assert stored["version"] == 2
    assert stored["owner"] == f"dr-{results.index(None)}"


class AnswerLostOnce:
    """A collection whose first update is applied but answered as if it had not been: the
    server restarted before replying and the driver sent the write again, which the restarted
    server no longer recognised as a retry."""

    def __init__(self, real: AsyncCollection[Document]) -> None:
        self._real = real

    def __getattr__(self, name: str) -> object:
        return getattr(self._real, name)

    async def update_one(self, query: Document, update: Document) -> object:
        await self._real.update_one(query, update)
        return await self._real.update_one(query, update)


async def test_a_save_applied_by_an_attempt_whose_answer_was_lost_succeeds_once(
    collection: AsyncCollection[Document], case_event: EventFactory
) -> None:
    case_id = uuid.uuid4()
    event = case_event(case_id)
    await insert_aggregate(collection, document={"_id": case_id, "state": "new"}, events=[])

    await save_aggregate(
        AnswerLostOnce(collection),  # type: ignore[arg-type]
        aggregate_id=case_id,
        expected_version=1,
        changes={"state": "accepted"},
        events=[event],
    )

    stored = await load(collection, case_id)
    assert (stored["state"], stored["version"]) == ("accepted", 2)
    assert outbox_ids(stored) == [str(event.event_id)]  # queued once
    with pytest.raises(ConcurrencyConflict):  # another writer at the old version still loses
        await save_aggregate(
            collection, aggregate_id=case_id, expected_version=1, changes={}, events=[]
        )
