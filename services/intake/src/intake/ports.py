"""What intake's use cases need from storage and the network, as ports the adapters fill."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from corroborate.crypto import WrappedKey
from corroborate.events.envelope import EventEnvelope
from intake.domain.directory import ApiClient, Organisation, Person
from intake.domain.referral import DocumentRecord, Referral, ReferralStatus
from intake.domain.webhooks import (
    Attempt,
    ClaimedDelivery,
    DeliveryPage,
    DeliveryState,
    RegisteredEndpoint,
    SealedEndpoint,
    StatusChangeNotice,
    WebhookNotification,
)


class InvalidCursor(ValueError):
    """A page cursor this service did not hand out (or that was altered)."""


@dataclass(frozen=True)
class StoredReferral:
    """A referral as loaded: the aggregate, its details (identity fields sealed one by one),
    and its wrapped data key (None once the case is erased)."""

    referral: Referral
    details: dict[str, Any]
    wrapped: WrappedKey | None


@dataclass(frozen=True)
class ListFilter:
    organisation: str
    statuses: Sequence[ReferralStatus]
    created_from: datetime | None = None
    created_to: datetime | None = None
    home_office_index: str | None = None


class ReferralRepository(Protocol):
    """Referrals, each saved with the events it emits and the notifications it queues."""

    async def ensure_indexes(self) -> None: ...

    async def add(
        self,
        referral: Referral,
        *,
        details: dict[str, Any],
        wrapped_key: WrappedKey,
        home_office_index: str | None,
    ) -> bool:
        """Store a new draft; False if one with this id exists (a keyed retry raced us)."""
        ...

    async def get(self, case_id: uuid.UUID) -> StoredReferral | None: ...

    async def list_for_organisation(
        self, where: ListFilter, *, cursor: str | None, limit: int
    ) -> tuple[list[Referral], str | None]:
        """Newest first; raises ``InvalidCursor`` for a cursor not handed out."""
        ...

    async def append_document(self, case_id: uuid.UUID, document: DocumentRecord) -> bool | None:
        """True if attached, False if already there, None if documents are no longer taken."""
        ...

    async def save(
        self,
        referral: Referral,
        *,
        events: list[EventEnvelope],
        processed_event: uuid.UUID | None = None,
        details: dict[str, Any] | None = None,
        home_office_index: str | None = None,
    ) -> None: ...

    async def erase(self, referral: Referral, *, events: list[EventEnvelope]) -> None:
        """Save the erased referral and destroy its data key in the same write."""
        ...


class WebhookEndpoints(Protocol):
    """One endpoint per organisation, its signing secret sealed."""

    async def save(
        self, endpoint: RegisteredEndpoint, *, wrapped_key: WrappedKey, sealed_secret: str
    ) -> None: ...

    async def get(self, organisation: str) -> RegisteredEndpoint | None: ...

    async def sealed(self, organisation: str) -> SealedEndpoint | None: ...

    async def exists(self, organisation: str) -> bool: ...

    async def remove(self, organisation: str) -> bool: ...


class WebhookDeliveries(Protocol):
    """The delivery log: one delivery per status change, claimed with a lease to attempt."""

    async def ensure_indexes(self) -> None: ...

    async def record(self, notice: StatusChangeNotice, *, has_endpoint: bool) -> bool: ...

    async def any_due(self, *, due_by: datetime) -> bool: ...

    async def claim_due(
        self, *, due_by: datetime, lease_until: datetime
    ) -> ClaimedDelivery | None: ...

    async def complete(
        self,
        claim: ClaimedDelivery,
        *,
        attempt: Attempt | None,
        state: DeliveryState,
        next_attempt_at: datetime | None,
    ) -> bool: ...

    async def history(
        self, organisation: str, *, limit: int, cursor: str | None = None
    ) -> DeliveryPage: ...


class PendingNotifications(Protocol):
    """The notifications a referral's save queued, not yet in the delivery log."""

    def waiting(self) -> AsyncIterator[StatusChangeNotice]: ...

    async def acknowledge(self, notice: StatusChangeNotice) -> None: ...

    async def settle(self, case_id: str) -> None: ...


class WebhookSender(Protocol):
    """The signed POST of one notification."""

    @property
    def timeout_seconds(self) -> float:
        """The longest one POST may take, resolution included."""
        ...

    async def post(self, notification: WebhookNotification, *, url: str, secret: bytes) -> int:
        """POST and return the status code; raises ``SendFailed`` when no answer came."""
        ...

    async def close(self) -> None: ...


class DirectoryStore(Protocol):
    """The directory's organisations and people."""

    async def prepare(self) -> None: ...

    async def add_organisation(self, organisation: Organisation) -> None: ...

    async def organisation(self, organisation_id: str) -> Organisation | None: ...

    async def organisations(self) -> list[Organisation]: ...

    async def update_organisation(
        self, organisation_id: str, **changes: Any
    ) -> Organisation | None: ...

    async def add_person(self, person: Person, *, events: list[EventEnvelope]) -> None:
        """A new person, with the event that announces them, in one write."""
        ...

    async def person(self, person_id: str) -> Person | None: ...

    async def by_subject(self, subject: str) -> Person | None: ...

    async def by_email(self, email: str) -> Person | None: ...

    async def people(self, organisation_id: str | None = None) -> list[Person]: ...

    async def save_person(self, person: Person, *, events: list[EventEnvelope]) -> Person:
        """Write ``person`` (a changed copy of the one read at ``person.version``) and its
        events in one write, at the next version; ``ConcurrencyConflict`` if someone saved in
        between."""
        ...

    async def signed_in(self, person_id: str, at: datetime) -> None:
        """Note when the person last signed in (no event: it is not part of who they are)."""
        ...

    async def add_client(self, client: ApiClient) -> None:
        """Register a machine client; ``DirectoryRefused`` if its id is registered already."""
        ...

    async def client(self, client_id: str) -> ApiClient | None: ...

    async def clients(self, organisation_id: str) -> list[ApiClient]: ...

    async def remove_client(self, organisation_id: str, client_id: str) -> bool: ...
