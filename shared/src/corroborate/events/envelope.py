"""The versioned envelope every case event travels in, and how consumers read it."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from corroborate.clock import utc_now
from corroborate.events.errors import MalformedEvent
from corroborate.events.registry import EventRegistry


class EventEnvelope(BaseModel):
    """Metadata common to every event; ``payload`` is validated against the registered model."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: uuid.UUID
    type: Annotated[str, Field(pattern=r"^[a-z]+(\.[a-z_]+)+$")]
    schema_version: Annotated[int, Field(ge=1)]
    occurred_at: AwareDatetime
    case_id: uuid.UUID
    correlation_id: uuid.UUID
    causation_id: uuid.UUID | None = None
    producer: str
    payload: dict[str, Any]


def new_event(
    *,
    payload: BaseModel,
    case_id: uuid.UUID,
    producer: str,
    correlation_id: uuid.UUID,
    causation_id: uuid.UUID | None = None,
    registry: EventRegistry,
    occurred_at: datetime | None = None,
) -> EventEnvelope:
    """Wrap a payload model in a fresh envelope; its type and version come from the registry."""
    event_type, version = registry.identify(type(payload))
    return EventEnvelope(
        event_id=uuid.uuid4(),
        type=event_type,
        schema_version=version,
        occurred_at=occurred_at or utc_now(),
        case_id=case_id,
        correlation_id=correlation_id,
        causation_id=causation_id,
        producer=producer,
        payload=payload.model_dump(mode="json"),
    )


def read_event(body: bytes, *, registry: EventRegistry) -> tuple[EventEnvelope, BaseModel]:
    """Parse and validate a message body, or raise the reason it can never be processed."""
    try:
        raw = json.loads(body)
    except ValueError as exc:  # not UTF-8, not JSON, or a number too long to read
        raise MalformedEvent(f"body is not JSON: {exc}") from exc
    except RecursionError as exc:
        raise MalformedEvent("body is not JSON: nested too deeply") from exc
    try:
        envelope = EventEnvelope.model_validate(raw)
    except ValidationError as exc:
        raise MalformedEvent(f"envelope invalid: {_summarise(exc)}") from exc
    model = registry.model_for(envelope.type, envelope.schema_version)
    try:
        payload = model.model_validate(envelope.payload)
    except ValidationError as exc:
        raise MalformedEvent(f"{envelope.type} payload invalid: {_summarise(exc)}") from exc
    return envelope, payload


def _summarise(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or '(root)'}: {err['msg']}"
        for err in exc.errors(include_input=False)
    )[:500]
