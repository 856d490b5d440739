"""What review's use cases need from the world outside the domain, as ports.

The Mongo, object-storage and audit adapters satisfy them structurally; unit tests pass fakes.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import AsyncIterator
from typing import Protocol

from corroborate.crypto import DataKey
from corroborate.events.contracts import SealedDetails
from corroborate.events.envelope import EventEnvelope
from corroborate.mongo import StoredAggregate
from corroborate.storage import StoredObject
from corroborate.web.signin import Member
from review.domain.case import CaseStatus, ReviewCase
from review.domain.roster import Clinician

StoredCase = StoredAggregate[ReviewCase]
"""A case as loaded, with its sealed details unless it was erased."""


class CaseRepository(Protocol):
    """Review cases, each saved with the events it emits (an outbox), at a version."""

    async def ensure_indexes(self) -> None: ...

    async def add_received(
        self,
        case: ReviewCase,
        *,
        protected: SealedDetails,
        caused_by: uuid.UUID,
        events: list[EventEnvelope],
    ) -> None: ...

    async def get(self, case_id: uuid.UUID) -> StoredCase | None: ...

    async def triage_queue(self, *, status: CaseStatus, limit: int) -> list[ReviewCase]: ...

    async def active(self, *, limit: int) -> list[ReviewCase]: ...

    async def in_status(self, status: CaseStatus, *, limit: int) -> list[ReviewCase]: ...

    async def assigned_to(self, clinician_id: str, *, limit: int) -> list[ReviewCase]: ...

    async def erase(self, case: ReviewCase, *, processed_event: uuid.UUID) -> None: ...

    async def save(
        self,
        case: ReviewCase,
        *,
        events: list[EventEnvelope],
        processed_event: uuid.UUID | None = None,
    ) -> None: ...


class Roster(Protocol):
    """The clinicians on the roster, and each one's open caseload."""

    async def put(self, clinician: Clinician) -> None: ...

    async def get(self, clinician_id: str) -> Clinician | None: ...

    async def all(self) -> list[Clinician]: ...

    async def caseloads(self) -> Counter[str]: ...


class Staff(Protocol):
    """Who works here, as the directory says (review's copy of it)."""

    async def member(self, person_id: str) -> Member | None: ...


class PhotographStore(Protocol):
    """Encrypted object storage for photographs."""

    async def ensure_bucket(
        self, bucket: str, *, versioned: bool = False, object_lock: bool = False
    ) -> None: ...

    async def put_encrypted_from(
        self, *, bucket: str, key: str, chunks: AsyncIterator[bytes], data_key: DataKey
    ) -> StoredObject: ...

    async def remove(self, *, bucket: str, key: str, version_id: str | None = None) -> None: ...
