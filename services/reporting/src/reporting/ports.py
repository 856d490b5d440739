"""What reporting's use cases need from storage, as ports the adapters fill.

The Mongo adapters satisfy them structurally; unit tests pass fakes.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from corroborate.events.contracts import CaseEscalated, SealedDetails
from corroborate.events.envelope import EventEnvelope
from corroborate.mongo import StoredAggregate
from reporting.domain.legal_review import LegalReview
from reporting.domain.statistics import CaseFacts, Counts

StoredReview = StoredAggregate[LegalReview]
"""A legal review as loaded, with its case's sealed details unless the case was erased."""


class LegalReviews(Protocol):
    """Legal reviews, each saved with the events it emits (an outbox), at a version."""

    async def ensure_indexes(self) -> None: ...

    async def add(
        self, review: LegalReview, *, protected: SealedDetails, caused_by: uuid.UUID
    ) -> None: ...

    async def get(self, case_id: uuid.UUID) -> StoredReview | None: ...

    async def by_report(self, report_id: uuid.UUID) -> StoredReview | None: ...

    async def queue(self, *, limit: int) -> list[LegalReview]: ...

    async def erase(self, review: LegalReview, *, processed_event: uuid.UUID) -> None: ...

    async def save(
        self,
        review: LegalReview,
        *,
        events: list[EventEnvelope],
        processed_event: uuid.UUID | None = None,
    ) -> None: ...


class EscalationLog(Protocol):
    """Deadlines escalated, kept for the managers' operational statistics."""

    async def record(self, envelope: EventEnvelope, escalated: CaseEscalated) -> None: ...


class WithdrawnLog(Protocol):
    """Cases withdrawn or erased, known even before their legal review exists."""

    async def add(self, case_id: uuid.UUID, *, at: datetime) -> None: ...

    async def contains(self, case_id: uuid.UUID) -> bool: ...


class PatternStore(Protocol):
    """The consenting cases' anonymised facts, and the raw counts of the tables asked of them."""

    async def ensure_indexes(self) -> None: ...

    async def record(self, key: str, facts: CaseFacts) -> None: ...

    async def counts(self, *, by: Sequence[str], filters: Mapping[str, set[str]]) -> Counts: ...


class OperationsStore(Protocol):
    """Where each case stands and when it got there, under its keyed hash."""

    async def ensure_indexes(self) -> None: ...

    async def update(self, key: str, **fields: Any) -> None: ...

    async def all(self) -> list[dict[str, Any]]: ...
