"""What every use case of review shares: its ports, its policy, finding a case for a caller,
and the events a case emits."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from pydantic import BaseModel

from corroborate.audit import AuditTrail
from corroborate.auth import Principal, Role
from corroborate.crypto import KeyRing
from corroborate.events.contracts import CASE_EVENTS, SealedText, open_text, seal_text
from corroborate.events.envelope import EventEnvelope, new_event
from review.domain.case import CaseStatus, NotAssigned, ReviewCase
from review.ports import CaseRepository, PhotographStore, Roster, Staff, StoredCase

PRODUCER = "review"
PUBLISHES = (
    "case.escalated",
    "appointment.booked",
    "referral.acknowledged",
    "referral.accepted",
    "referral.declined",
    "referral.waitlisted",
    "referral.information_requested",
    "case.assigned",
    "review.completed",
)


class NotFound(Exception):
    """No such case for this caller (a clinician sees only the cases assigned to them)."""


@dataclass(frozen=True)
class ReviewPolicy:
    triage_response_days: int = 7
    delivery_days: int = 150  # the common five-month clock from acceptance
    no_appointment_days: int = 28
    report_due_soon_days: int = 14


class ReviewBase:
    """The ports and policy review's use cases work with."""

    def __init__(
        self,
        *,
        cases: CaseRepository,
        roster: Roster,
        policy: ReviewPolicy,
        keyring: KeyRing,
        store: PhotographStore,
        photographs_bucket: str,
        audit: AuditTrail,
        staff: Staff | None = None,
        max_photo_bytes: int = 50 * 1024 * 1024,
    ) -> None:
        self._audit = audit
        self._staff = staff
        self._cases = cases
        self._roster = roster
        self._policy = policy
        self._keyring = keyring
        self._store = store
        self._photographs = photographs_bucket
        self._max_photo_bytes = max_photo_bytes

    async def prepare(self) -> None:
        await self._cases.ensure_indexes()
        await self._store.ensure_bucket(self._photographs, versioned=True)

    async def get(self, *, caller: Principal, case_id: uuid.UUID) -> StoredCase:
        stored = await self._cases.get(case_id)
        if stored is None:
            raise NotFound(str(case_id))
        case = stored.aggregate
        if caller.role is Role.CLINICIAN:
            try:
                case.ensure_assigned_to(caller.subject)
            except NotAssigned as exc:
                raise NotFound(str(case_id)) from exc
        if caller.role is Role.SENIOR_CLINICIAN and not (
            case.status is CaseStatus.IN_PEER_REVIEW
            or any(note.by == caller.subject for note in case.notes)
        ):
            # A senior clinician sees a draft awaiting peer review, or one they reviewed.
            raise NotFound(str(case_id))
        return stored

    def open_legal_comments(self, case: ReviewCase, sealed: str) -> str:
        return open_text(
            SealedText.model_validate_json(sealed),
            case_id=case.case_id,
            keyring=self._keyring,
            purpose="legal-comments",
        )

    def _seal(self, stored: StoredCase, text: str, *, purpose: str) -> SealedText:
        key = self._keyring.unwrap(stored.protected.wrapped_key)
        return seal_text(text, case_id=stored.aggregate.case_id, key=key, purpose=purpose)

    @staticmethod
    def _event(
        payload: BaseModel, case: ReviewCase, *, caused_by: uuid.UUID | None = None
    ) -> EventEnvelope:
        # Every event of a case carries the correlation id its referral was submitted with.
        return new_event(
            payload=payload,
            case_id=case.case_id,
            producer=PRODUCER,
            correlation_id=case.correlation_id,
            causation_id=caused_by,
            registry=CASE_EVENTS,
        )
