"""The legal queue's use cases against in-memory fakes of its ports."""

from __future__ import annotations

import base64
import copy
import secrets
import uuid
from datetime import UTC, date, datetime

import pytest

from corroborate.auth import Principal, Role
from corroborate.crypto import KeyRing
from corroborate.events.contracts import (
    CASE_EVENTS,
    CaseEscalated,
    ClinicalFindings,
    DocumentReference,
    ProtectedDetails,
    ReferralWithdrawn,
    ReviewCompleted,
    SealedDetails,
    SealedText,
    seal_details,
    seal_text,
)
from corroborate.events.envelope import EventEnvelope, new_event
from corroborate.mongo import CaseErasedError, StoredAggregate
from corroborate_testing.fakes import MemoryAudit
from reporting.domain.legal_review import InvalidTransition, LegalReview, LegalReviewStatus
from reporting.ports import StoredReview
from reporting.service.legal_review import LegalQueue, NotFound

AT = datetime(2025, 5, 2, 15, 30, tzinfo=UTC)


class FakeReviews:
    def __init__(self) -> None:
        self.reviews: dict[uuid.UUID, LegalReview] = {}
        self.protected: dict[uuid.UUID, SealedDetails | None] = {}
        self.events: list[EventEnvelope] = []

    async def ensure_indexes(self) -> None:
        return None

    async def add(
        self, review: LegalReview, *, protected: SealedDetails, caused_by: uuid.UUID
    ) -> None:
        review.version = 1
        self.reviews[review.case_id] = copy.deepcopy(review)
        self.protected[review.case_id] = protected

    async def get(self, case_id: uuid.UUID) -> StoredReview | None:
        if case_id not in self.reviews:
            return None
        review = copy.deepcopy(self.reviews[case_id])
        return StoredAggregate(review, case_id=case_id, protected=self.protected[case_id])

    async def by_report(self, report_id: uuid.UUID) -> StoredReview | None:
        return None

    async def queue(self, *, limit: int) -> list[LegalReview]:
        waiting = [
            r for r in self.reviews.values() if r.status is LegalReviewStatus.AWAITING_LEGAL_REVIEW
        ]
        return copy.deepcopy(waiting[:limit])

    async def erase(self, review: LegalReview, *, processed_event: uuid.UUID) -> None:
        await self.save(review, events=[], processed_event=processed_event)
        self.protected[review.case_id] = None

    async def save(
        self,
        review: LegalReview,
        *,
        events: list[EventEnvelope],
        processed_event: uuid.UUID | None = None,
    ) -> None:
        assert self.reviews[review.case_id].version == review.version
        review.version += 1
        self.reviews[review.case_id] = copy.deepcopy(review)
        self.events.extend(events)


class FakeEscalations:
    def __init__(self) -> None:
        self.recorded: list[CaseEscalated] = []

    async def record(self, envelope: EventEnvelope, escalated: CaseEscalated) -> None:
        self.recorded.append(escalated)


class FakeWithdrawn:
    def __init__(self) -> None:
        self.cases: set[uuid.UUID] = set()

    async def add(self, case_id: uuid.UUID, *, at: datetime) -> None:
        self.cases.add(case_id)

    async def contains(self, case_id: uuid.UUID) -> bool:
        return case_id in self.cases


@pytest.fixture
def keyring() -> KeyRing:
    return KeyRing(base64.b64encode(secrets.token_bytes(32)).decode())


@pytest.fixture
def reviews() -> FakeReviews:
    return FakeReviews()


@pytest.fixture
def withdrawn() -> FakeWithdrawn:
    return FakeWithdrawn()


@pytest.fixture
def audit() -> MemoryAudit:
    return MemoryAudit()


@pytest.fixture
def legal(
    reviews: FakeReviews, withdrawn: FakeWithdrawn, audit: MemoryAudit, keyring: KeyRing
) -> LegalQueue:
    return LegalQueue(
        reviews=reviews,
        keyring=keyring,
        deadlines=FakeEscalations(),
        withdrawn=withdrawn,
        audit=audit,
    )


@pytest.fixture
def completed(
    keyring: KeyRing,
    survivor: ProtectedDetails,
    findings: ClinicalFindings,
    documents: list[DocumentReference],
) -> tuple[EventEnvelope, ReviewCompleted]:
    case_id = uuid.uuid4()
    payload = ReviewCompleted(
        reference="CRB-2025-ABC123",
        organisation="solicitors-a",
        protected=seal_details(survivor, case_id=case_id, key=keyring.new_data_key()),
        clinician_id="dr-1",
        clinician_name="Dr Abeba Clinician",
        approved_by="Dr Senior Reviewer",
        completed_at=AT,
        report_due=date(2025, 8, 1),
        findings=findings,
        documents=documents,
    )
    envelope = new_event(
        payload=payload,
        case_id=case_id,
        producer="review",
        correlation_id=uuid.uuid4(),
        registry=CASE_EVENTS,
    )
    return envelope, payload


LEGAL = Principal(subject="legal-1", role=Role.LEGAL)


async def test_an_approved_draft_joins_the_queue(
    legal: LegalQueue, completed: tuple[EventEnvelope, ReviewCompleted]
) -> None:
    envelope, payload = completed
    await legal.on_review_completed(envelope, payload)

    [opened] = await legal.queue()
    assert opened.review.case_id == envelope.case_id
    assert opened.review.reference == payload.reference
    assert opened.review.correlation_id == envelope.correlation_id
    assert opened.review.changed == []
    assert opened.comments == []


async def test_a_withdrawn_case_never_joins_the_queue(
    legal: LegalQueue,
    withdrawn: FakeWithdrawn,
    completed: tuple[EventEnvelope, ReviewCompleted],
) -> None:
    envelope, payload = completed
    withdrawn.cases.add(envelope.case_id)
    await legal.on_review_completed(envelope, payload)
    assert await legal.queue() == []
    with pytest.raises(NotFound):
        await legal.get(envelope.case_id)


async def test_changes_are_sealed_announced_and_read_back_opened(
    legal: LegalQueue,
    reviews: FakeReviews,
    audit: MemoryAudit,
    completed: tuple[EventEnvelope, ReviewCompleted],
) -> None:
    envelope, payload = completed
    await legal.on_review_completed(envelope, payload)

    opened = await legal.request_changes(
        caller=LEGAL, case_id=envelope.case_id, comments="Please quote the account."
    )

    assert opened.review.status is LegalReviewStatus.CHANGES_REQUESTED
    assert opened.comments == ["Please quote the account."]
    stored = reviews.reviews[envelope.case_id]
    assert "quote the account" not in stored.change_requests[0].sealed_comments
    SealedText.model_validate_json(stored.change_requests[0].sealed_comments)
    [event] = reviews.events
    assert event.type == "report.changes_requested"
    assert audit.actions == ["report.changes_requested"]
    assert (await legal.get(envelope.case_id)).comments == ["Please quote the account."]


async def test_a_revision_replaces_the_draft_and_shows_what_changed(
    legal: LegalQueue,
    completed: tuple[EventEnvelope, ReviewCompleted],
) -> None:
    envelope, payload = completed
    await legal.on_review_completed(envelope, payload)
    await legal.request_changes(caller=LEGAL, case_id=envelope.case_id, comments="Revise it.")
    revised = payload.model_copy(
        update={"findings": payload.findings.model_copy(update={"conclusions": "Revised."})}
    )

    await legal.on_review_completed(envelope.model_copy(update={"event_id": uuid.uuid4()}), revised)

    opened = await legal.get(envelope.case_id)
    assert opened.review.status is LegalReviewStatus.AWAITING_LEGAL_REVIEW
    assert opened.review.findings.conclusions == "Revised."
    assert opened.review.changed != []


async def test_withdrawal_stops_the_review(
    legal: LegalQueue, completed: tuple[EventEnvelope, ReviewCompleted], keyring: KeyRing
) -> None:
    envelope, payload = completed
    await legal.on_review_completed(envelope, payload)
    reason = seal_text(
        "moved", case_id=envelope.case_id, key=keyring.new_data_key(), purpose="reason"
    )
    await legal.on_referral_withdrawn(
        envelope, ReferralWithdrawn(reason=reason, withdrawn_by="solicitor-1", withdrawn_at=AT)
    )
    assert (await legal.get(envelope.case_id)).review.status is LegalReviewStatus.WITHDRAWN
    with pytest.raises(InvalidTransition):
        await legal.request_changes(caller=LEGAL, case_id=envelope.case_id, comments="Too late.")


async def test_an_erased_case_refuses_new_comments(
    legal: LegalQueue,
    reviews: FakeReviews,
    completed: tuple[EventEnvelope, ReviewCompleted],
) -> None:
    envelope, payload = completed
    await legal.on_review_completed(envelope, payload)
    reviews.protected[envelope.case_id] = None
    with pytest.raises(CaseErasedError):
        await legal.request_changes(caller=LEGAL, case_id=envelope.case_id, comments="Anything.")
