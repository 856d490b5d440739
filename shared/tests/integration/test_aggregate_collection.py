"""AggregateCollection, the repositories' shared writes, on the real database."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from corroborate.events.envelope import EventEnvelope
from corroborate.mongo import AggregateCollection, AlreadyProcessed, ConflictingEvent, Document

pytestmark = pytest.mark.integration

EventFactory = Callable[..., EventEnvelope]


class Nudges:
    """Counts how often the outbox relay was told there is something to send."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> None:
        self.count += 1


@pytest.fixture
def nudges() -> Nudges:
    return Nudges()


@pytest.fixture
def aggregates(collection: AsyncCollection[Document], nudges: Nudges) -> AggregateCollection:
    return AggregateCollection(collection, on_events=nudges)


async def test_writes_with_events_nudge_the_relay_and_writes_without_do_not(
    aggregates: AggregateCollection, nudges: Nudges, case_event: EventFactory
) -> None:
    case_id = str(uuid.uuid4())

    await aggregates.create(document={"_id": case_id}, events=[])
    assert nudges.count == 0
    await aggregates.save(aggregate_id=case_id, expected_version=1, changes={}, events=[])
    assert nudges.count == 0
    await aggregates.save(
        aggregate_id=case_id, expected_version=2, changes={}, events=[case_event()]
    )
    assert nudges.count == 1
    await aggregates.create(document={"_id": str(uuid.uuid4())}, events=[case_event()])
    assert nudges.count == 2


async def test_creating_again_from_the_same_event_is_already_processed(
    aggregates: AggregateCollection, nudges: Nudges, case_event: EventFactory
) -> None:
    case_id = str(uuid.uuid4())
    cause = uuid.uuid4()
    first = case_event()
    await aggregates.create(document={"_id": case_id}, events=[first], caused_by=cause)

    with pytest.raises(AlreadyProcessed, match=str(cause)):
        await aggregates.create(document={"_id": case_id}, events=[case_event()], caused_by=cause)

    stored = await aggregates.collection.find_one({"_id": case_id})
    assert stored is not None
    assert [e["event_id"] for e in stored["outbox"]] == [str(first.event_id)]
    assert nudges.count == 1


async def test_creating_a_duplicate_outside_an_event_is_a_plain_duplicate_key_error(
    aggregates: AggregateCollection,
) -> None:
    case_id = str(uuid.uuid4())
    await aggregates.create(document={"_id": case_id}, events=[])
    with pytest.raises(DuplicateKeyError):
        await aggregates.create(document={"_id": case_id}, events=[])


async def test_load_leaves_out_the_outbox_and_the_fields_asked_for(
    aggregates: AggregateCollection, case_event: EventFactory
) -> None:
    case_id = str(uuid.uuid4())
    await aggregates.create(
        document={"_id": case_id, "state": "new", "sealed": "ciphertext"}, events=[case_event()]
    )

    loaded = await aggregates.load(case_id, without=("sealed",))

    assert loaded is not None
    assert loaded["state"] == "new"
    assert loaded["version"] == 1
    assert "outbox" not in loaded
    assert "sealed" not in loaded
    assert await aggregates.load(str(uuid.uuid4())) is None


async def test_a_different_event_for_an_opened_case_is_a_conflict_not_a_duplicate(
    aggregates: AggregateCollection,
) -> None:
    case_id = str(uuid.uuid4())
    first, second = uuid.uuid4(), uuid.uuid4()
    await aggregates.create(document={"_id": case_id}, events=[], caused_by=first)

    with pytest.raises(AlreadyProcessed):
        await aggregates.create(document={"_id": case_id}, events=[], caused_by=first)
    with pytest.raises(ConflictingEvent) as conflict:
        await aggregates.create(document={"_id": case_id}, events=[], caused_by=second)
    assert conflict.value.reason == "conflicts-with-existing-case"  # parked, with that reason
