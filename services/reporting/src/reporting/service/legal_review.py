"""The legal review queue: drafts approved in peer review arrive, legal sends them back or (see
``issuing``) signs them off; withdrawals and erasures stop them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from corroborate.audit import SYSTEM, AuditTrail, actor_of
from corroborate.auth import Principal
from corroborate.clock import utc_now
from corroborate.crypto import KeyRing
from corroborate.events.contracts import (
    CASE_EVENTS,
    CaseErased,
    CaseEscalated,
    ReferralWithdrawn,
    ReportChangesRequested,
    ReviewCompleted,
    SealedText,
    open_text,
    seal_text,
)
from corroborate.events.envelope import EventEnvelope, new_event
from reporting.domain.legal_review import LegalReview, LegalReviewStatus
from reporting.ports import EscalationLog, LegalReviews, StoredReview, WithdrawnLog

PRODUCER = "reporting"
QUEUE_LIMIT = 500


class NotFound(Exception):
    """No such case or report for this caller."""


@dataclass(frozen=True)
class OpenedReview:
    """A legal review as legal reads it: the comments of its change requests opened."""

    review: LegalReview
    comments: list[str]


def open_review(review: LegalReview, keyring: KeyRing) -> OpenedReview:
    """Open the sealed comments (an erased case's were destroyed: they read as empty)."""
    comments = [
        ""
        if not c.sealed_comments
        else open_text(
            SealedText.model_validate_json(c.sealed_comments),
            case_id=review.case_id,
            keyring=keyring,
            purpose="legal-comments",
        )
        for c in review.change_requests
    ]
    return OpenedReview(review, comments)


async def load(reviews: LegalReviews, case_id: uuid.UUID) -> StoredReview:
    stored = await reviews.get(case_id)
    if stored is None:
        raise NotFound(str(case_id))
    return stored


class LegalQueue:
    def __init__(
        self,
        *,
        reviews: LegalReviews,
        keyring: KeyRing,
        deadlines: EscalationLog,
        withdrawn: WithdrawnLog,
        audit: AuditTrail,
    ) -> None:
        self._reviews = reviews
        self._keyring = keyring
        self._deadlines = deadlines
        self._withdrawn = withdrawn
        self._audit = audit

    async def prepare(self) -> None:
        await self._reviews.ensure_indexes()

    async def on_case_escalated(self, envelope: EventEnvelope, payload: CaseEscalated) -> None:
        """Kept for the managers' operational statistics (deadlines at risk or missed)."""
        await self._deadlines.record(envelope, payload)

    async def on_review_completed(self, envelope: EventEnvelope, payload: ReviewCompleted) -> None:
        """A draft approved in peer review: a new case in the legal queue, or the revision of one
        legal sent back (the earlier findings kept, to show what changed)."""
        if await self._withdrawn.contains(envelope.case_id):
            return  # withdrawn meanwhile: nothing is issued for it
        existing = await self._reviews.get(envelope.case_id)
        if existing is not None and existing.aggregate.resubmitted(
            findings=payload.findings,
            approved_by=payload.approved_by,
            documents=list(payload.documents),
            at=payload.completed_at,
        ):
            await self._reviews.save(
                existing.aggregate, events=[], processed_event=envelope.event_id
            )
            return
        review = LegalReview(
            case_id=envelope.case_id,
            reference=payload.reference,
            organisation=payload.organisation,
            clinician_id=payload.clinician_id,
            clinician_name=payload.clinician_name,
            clinician_qualifications=payload.clinician_qualifications,
            approved_by=payload.approved_by,
            findings=payload.findings,
            documents=list(payload.documents),
            report_due=payload.report_due,
            received_at=payload.completed_at,
            correlation_id=envelope.correlation_id,
        )
        await self._reviews.add(review, protected=payload.protected, caused_by=envelope.event_id)

    async def on_referral_withdrawn(
        self, envelope: EventEnvelope, payload: ReferralWithdrawn
    ) -> None:
        """The partner withdrew: nothing more is issued (versions already issued stay)."""
        await self._withdrawn.add(envelope.case_id, at=payload.withdrawn_at)
        stored = await self._reviews.get(envelope.case_id)
        if stored is not None and stored.aggregate.withdraw():
            await self._reviews.save(stored.aggregate, events=[], processed_event=envelope.event_id)

    async def on_case_erased(self, envelope: EventEnvelope, payload: CaseErased) -> None:
        """Destroy this service's copy of the case's data key: its reports, every version, can
        no longer be decrypted, and nothing more is issued for it."""
        await self._withdrawn.add(envelope.case_id, at=payload.erased_at)
        stored = await self._reviews.get(envelope.case_id)
        if stored is None:
            return
        stored.aggregate.status = LegalReviewStatus.ERASED
        await self._reviews.erase(stored.aggregate, processed_event=envelope.event_id)
        await self._audit.record(
            "case.erased",
            actor=SYSTEM,
            case_id=envelope.case_id,
            details={"reason": payload.reason.value},
        )

    async def queue(self) -> list[OpenedReview]:
        """Drafts awaiting legal review (or signed, not yet issued), by deadline."""
        reviews = await self._reviews.queue(limit=QUEUE_LIMIT)
        return [open_review(r, self._keyring) for r in reviews]

    async def get(self, case_id: uuid.UUID) -> OpenedReview:
        return open_review((await load(self._reviews, case_id)).aggregate, self._keyring)

    async def request_changes(
        self, *, caller: Principal, case_id: uuid.UUID, comments: str
    ) -> OpenedReview:
        """Send the draft back to its clinician with comments (sealed on the way and at rest);
        after issue, this starts a corrected version."""
        stored = await load(self._reviews, case_id)
        review = stored.aggregate
        now = utc_now()
        key = self._keyring.unwrap(stored.protected.wrapped_key)
        sealed = seal_text(comments, case_id=case_id, key=key, purpose="legal-comments")
        review.request_changes(by=caller.subject, at=now, sealed_comments=sealed.model_dump_json())
        event = new_event(
            payload=ReportChangesRequested(
                comments=sealed, requested_by=caller.subject, requested_at=now
            ),
            case_id=case_id,
            producer=PRODUCER,
            correlation_id=review.correlation_id,
            registry=CASE_EVENTS,
        )
        await self._reviews.save(review, events=[event])
        await self._audit.record(
            "report.changes_requested", actor=actor_of(caller), case_id=case_id
        )
        return open_review(review, self._keyring)
