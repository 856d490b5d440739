"""The event envelope and registry: what producers stamp and why consumers refuse a message."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import BaseModel

from corroborate.events.contracts import CASE_EVENTS, CaseAssigned, ReferralAccepted
from corroborate.events.envelope import EventEnvelope, new_event, read_event
from corroborate.events.errors import (
    MalformedEvent,
    UnknownEventType,
    UnreadableEvent,
    UnsupportedSchemaVersion,
)
from corroborate.events.registry import EventRegistry


def assigned(**overrides: Any) -> CaseAssigned:
    fields: dict[str, Any] = {
        "clinician_id": "dr-1",
        "assigned_by": "coordinator-1",
        "assigned_at": datetime(2026, 3, 1, 9, 30, tzinfo=UTC),
    } | overrides
    return CaseAssigned(**fields)


def event(payload: BaseModel | None = None) -> EventEnvelope:
    return new_event(
        payload=payload or assigned(),
        case_id=uuid.uuid4(),
        producer="review",
        correlation_id=uuid.uuid4(),
        registry=CASE_EVENTS,
    )


def body(**changes: Any) -> bytes:
    return json.dumps({**json.loads(event().model_dump_json()), **changes}).encode()


def test_new_event_takes_type_and_version_from_the_registry() -> None:
    causation = uuid.uuid4()
    made = new_event(
        payload=assigned(),
        case_id=uuid.uuid4(),
        producer="review",
        correlation_id=uuid.uuid4(),
        causation_id=causation,
        registry=CASE_EVENTS,
    )
    assert made.type == "case.assigned"
    assert made.schema_version == 1
    assert made.causation_id == causation
    assert made.occurred_at.tzinfo is not None
    assert made.payload["clinician_id"] == "dr-1"
    assert made.payload["assigned_at"] == "2026-03-01T09:30:00Z"


def test_each_new_event_has_its_own_id() -> None:
    assert len({event().event_id for _ in range(20)}) == 20


def test_event_reads_back_as_the_same_envelope_and_payload() -> None:
    sent = event()
    envelope, payload = read_event(sent.model_dump_json().encode(), registry=CASE_EVENTS)
    assert envelope == sent
    assert payload == assigned()


def test_new_event_refuses_an_unregistered_payload() -> None:
    class Gossip(BaseModel):
        text: str

    with pytest.raises(LookupError, match="Gossip is not a registered event payload"):
        new_event(
            payload=Gossip(text="x"),
            case_id=uuid.uuid4(),
            producer="review",
            correlation_id=uuid.uuid4(),
            registry=CASE_EVENTS,
        )


def test_registry_refuses_a_second_model_for_the_same_type_and_version() -> None:
    registry = EventRegistry()
    registry.register("case.assigned", 1, CaseAssigned)
    with pytest.raises(ValueError, match=r"case.assigned v1 is already registered"):
        registry.register("case.assigned", 1, ReferralAccepted)


def test_registry_knows_every_case_event_and_its_versions() -> None:
    assert CASE_EVENTS.event_types == [
        "appointment.booked",
        "case.assigned",
        "case.erased",
        "case.escalated",
        "directory.person_changed",
        "referral.accepted",
        "referral.acknowledged",
        "referral.declined",
        "referral.information_provided",
        "referral.information_requested",
        "referral.submitted",
        "referral.waitlisted",
        "referral.withdrawn",
        "report.changes_requested",
        "report.issued",
        "review.completed",
    ]
    assert all(CASE_EVENTS.versions(t) == [1] for t in CASE_EVENTS.event_types)
    assert CASE_EVENTS.versions("case.teleported") == []


UNREADABLE: dict[str, tuple[bytes, type[UnreadableEvent], str, str]] = {
    "not JSON": (b"{'event_id': 1", MalformedEvent, "malformed", "body is not JSON"),
    "not UTF-8": (b"\xff\xfe\xfa", MalformedEvent, "malformed", "body is not JSON"),
    "deeply nested": (b"[" * 100_000, MalformedEvent, "malformed", "body is not JSON"),
    "JSON but not an object": (b"[1, 2]", MalformedEvent, "malformed", "envelope invalid"),
    "event_id missing": (body(event_id=None), MalformedEvent, "malformed", "event_id"),
    "naive timestamp": (
        body(occurred_at="2026-03-01T09:30:00"),
        MalformedEvent,
        "malformed",
        "occurred_at",
    ),
    "unexpected field": (body(survivor="x"), MalformedEvent, "malformed", "survivor"),
    "unknown type": (
        body(type="case.teleported"),
        UnknownEventType,
        "unknown-event-type",
        "unknown event type 'case.teleported'",
    ),
    "unsupported version": (
        body(schema_version=2),
        UnsupportedSchemaVersion,
        "unsupported-schema-version",
        "case.assigned schema version 2 is not supported (supported: [1])",
    ),
    "bad payload": (
        body(payload={"assigned_by": "x", "assigned_at": "2026-03-01T09:30:00Z"}),
        MalformedEvent,
        "malformed",
        "case.assigned payload invalid: clinician_id: Field required",
    ),
}


@pytest.mark.parametrize("case", list(UNREADABLE), ids=list(UNREADABLE))
def test_unreadable_message_raises_an_error_naming_the_problem(case: str) -> None:
    raw, error, reason, message = UNREADABLE[case]
    with pytest.raises(error) as raised:
        read_event(raw, registry=CASE_EVENTS)
    assert raised.value.reason == reason  # recorded on the parked message as x-parked-reason
    assert message in str(raised.value)


def test_rejected_payload_values_are_not_echoed_in_the_reason() -> None:
    """The reason is written into message headers and logs: it must not carry inputs."""
    raw = body(payload={"clinician_id": "dr-1", "assigned_by": "x", "assigned_at": "Zubeida"})
    with pytest.raises(MalformedEvent) as raised:
        read_event(raw, registry=CASE_EVENTS)
    assert "assigned_at" in str(raised.value)
    assert "Zubeida" not in str(raised.value)


def test_reason_stays_short_whatever_the_number_of_errors() -> None:
    raw = body(payload={f"field_{n}": n for n in range(200)})
    with pytest.raises(MalformedEvent) as raised:
        read_event(raw, registry=CASE_EVENTS)
    assert len(str(raised.value)) <= 600
