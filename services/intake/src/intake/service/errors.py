"""Intake's refusals: what a caller asked for that the use cases will not do."""

from __future__ import annotations

from typing import Any


class NotFound(Exception):
    """No such referral for this caller (another organisation's case is not found either)."""


class DraftInvalid(Exception):
    """Some fields of the draft break a rule; ``errors`` names each field and rule."""

    def __init__(self, errors: list[Any]) -> None:
        super().__init__(f"{len(errors)} invalid field(s)")
        self.errors = errors


class IdempotencyKeyReused(Exception):
    """The Idempotency-Key was already used for a different request."""


class DocumentRejected(Exception):
    """The upload was refused; nothing was stored."""


class DocumentTypeRefused(DocumentRejected):
    """The bytes are not one of the allowed document types."""


class UploadInterrupted(DocumentRejected):
    """The upload ended before the whole file arrived (the client went away)."""


class DocumentUnreadable(DocumentRejected):
    """The bytes claim an allowed type but could not be read as one (say, a broken image)."""
