"""Which use case hears which case event, keyed by the payload's model, not by a string.

A service lists its handlers as ``EventHandlers().on(ReferralSubmitted, review.on_submitted)``:
the event type and its queue come from the contract registry, and each handler is typed by the
payload it takes, so no handler narrows what it is given.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from pydantic import BaseModel

from corroborate.events.contracts import CASE_EVENTS
from corroborate.events.envelope import EventEnvelope
from corroborate.events.errors import UnsupportedSchemaVersion
from corroborate.events.registry import EventRegistry

PayloadT = TypeVar("PayloadT", bound=BaseModel)

EventHandler = Callable[[EventEnvelope, Any], Awaitable[None]]
"""What the consumer calls: the envelope and the payload it validated for that type."""

TypedHandler = Callable[[EventEnvelope, PayloadT], Awaitable[None]]


class EventHandlers:
    """A service's handlers, by event type; several for one event run in the order given."""

    def __init__(self, registry: EventRegistry = CASE_EVENTS) -> None:
        self._registry = registry
        self._handlers: dict[str, list[EventHandler]] = {}
        self._payloads: dict[str, type[BaseModel]] = {}

    def on(self, payload: type[PayloadT], *handlers: TypedHandler[PayloadT]) -> EventHandlers:
        """Hear the event whose payload is ``payload``; each handler is idempotent."""
        event_type, _ = self._registry.identify(payload)
        self._payloads[event_type] = payload
        self._handlers.setdefault(event_type, []).extend(handlers)
        return self

    @property
    def event_types(self) -> list[str]:
        return sorted(self._handlers)

    def handler_for(self, event_type: str) -> EventHandler:
        """One callable for the consumer: the payload checked against the model the handlers
        were written for (another version of the event is refused, to the parking queue), then
        every handler in turn."""
        handlers = tuple(self._handlers[event_type])
        model = self._payloads[event_type]

        async def handle(envelope: EventEnvelope, payload: Any) -> None:
            if not isinstance(payload, model):
                raise UnsupportedSchemaVersion(
                    f"{event_type} v{envelope.schema_version} has no handler here"
                )
            for handler in handlers:
                await handler(envelope, payload)

        return handle
