"""Handlers keyed by payload model: the event type comes from the contracts, order is kept."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from pydantic import BaseModel

from corroborate.events.contracts import CASE_EVENTS, ReferralWaitlisted, ReferralWithdrawn
from corroborate.events.envelope import EventEnvelope
from corroborate.events.errors import UnsupportedSchemaVersion
from corroborate.messaging.handlers import EventHandlers


def envelope(payload: BaseModel) -> EventEnvelope:
    event_type, version = CASE_EVENTS.identify(type(payload))
    return EventEnvelope(
        event_id=uuid.uuid4(),
        type=event_type,
        schema_version=version,
        occurred_at=datetime.now(UTC),
        case_id=uuid.uuid4(),
        correlation_id=uuid.uuid4(),
        causation_id=None,
        producer="test",
        payload=payload.model_dump(mode="json"),
    )


def waitlisted() -> ReferralWaitlisted:
    return ReferralWaitlisted(waitlisted_by="coordinator-1", waitlisted_at=datetime.now(UTC))


async def test_handlers_are_found_by_the_event_type_of_their_payload() -> None:
    heard: list[str] = []

    async def first(_envelope: EventEnvelope, payload: ReferralWaitlisted) -> None:
        heard.append(f"first:{payload.waitlisted_by}")

    async def second(_envelope: EventEnvelope, payload: ReferralWaitlisted) -> None:
        heard.append(f"second:{payload.waitlisted_by}")

    handlers = EventHandlers().on(ReferralWaitlisted, first, second)
    assert handlers.event_types == ["referral.waitlisted"]

    payload = waitlisted()
    await handlers.handler_for("referral.waitlisted")(envelope(payload), payload)
    assert heard == ["first:coordinator-1", "second:coordinator-1"]


async def test_a_payload_of_another_model_is_refused_as_unsupported() -> None:
    async def handler(_envelope: EventEnvelope, _payload: ReferralWaitlisted) -> None:
        raise AssertionError("must not run")

    handlers = EventHandlers().on(ReferralWaitlisted, handler)
    with pytest.raises(UnsupportedSchemaVersion):
        await handlers.handler_for("referral.waitlisted")(envelope(waitlisted()), object())


def test_a_model_that_is_no_event_payload_is_refused() -> None:
    class NotAnEvent(BaseModel):
        x: int

    async def handler(_envelope: EventEnvelope, _payload: NotAnEvent) -> None:
        return None

    with pytest.raises(LookupError, match="not a registered event payload"):
        EventHandlers().on(NotAnEvent, handler)


def test_each_event_type_is_listed_once() -> None:
    async def a(_envelope: EventEnvelope, _payload: ReferralWithdrawn) -> None:
        return None

    handlers = EventHandlers().on(ReferralWithdrawn, a).on(ReferralWithdrawn, a)
    assert handlers.event_types == ["referral.withdrawn"]
