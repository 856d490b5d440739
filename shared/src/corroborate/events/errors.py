"""Why a message can never be processed; each reason is recorded on the parked message."""


class UnreadableEvent(Exception):
    """A message that no retry will make readable; it belongs in the parking queue."""

    reason = "unreadable"


class MalformedEvent(UnreadableEvent):
    reason = "malformed"


class UnknownEventType(UnreadableEvent):
    reason = "unknown-event-type"


class UnsupportedSchemaVersion(UnreadableEvent):
    reason = "unsupported-schema-version"


class UnknownCase(UnreadableEvent):
    reason = "unknown-case"
