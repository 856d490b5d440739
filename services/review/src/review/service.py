"""Review's use cases: triage, acceptance, assignment, findings, completion."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from pydantic import BaseModel

from corroborate.auth import Principal, Role
from corroborate.clock import utc_now
from corroborate.events.contracts import (
    CASE_EVENTS,
    CaseAssigned,
    ClinicalFindings,
    ReferralAccepted,
    ReferralSubmitted,
    ReviewCompleted,
)
from corroborate.events.envelope import EventEnvelope, new_event
from review.adapters.repository import CaseRepository, StoredCase
from review.domain.case import NotAssigned, ReviewCase, Urgency

PRODUCER = "review"


class NotFound(Exception):
    """No such case for this caller (a clinician sees only the cases assigned to them)."""


@dataclass(frozen=True)
class ReviewPolicy:
    triage_response_days: int = 7
    delivery_days: int = 150  # the common five-month clock from acceptance


@dataclass(frozen=True)
class QueuedCase:
    case: ReviewCase
    urgency: Urgency


class Review:
    def __init__(self, *, cases: CaseRepository, policy: ReviewPolicy) -> None:
        self._cases = cases
        self._policy = policy

    async def prepare(self) -> None:
        await self._cases.ensure_indexes()

    async def on_referral_submitted(self, envelope: EventEnvelope, payload: object) -> None:
        assert isinstance(payload, ReferralSubmitted)
        case = ReviewCase.received(
            case_id=envelope.case_id,
            reference=payload.reference,
            organisation=payload.organisation,
            service_requested=payload.service_requested.value,
            risk_flags=list(payload.risk_flags),
            documents=list(payload.documents),
            received_at=payload.submitted_at,
            response_days=self._policy.triage_response_days,
            correlation_id=envelope.correlation_id,
        )
        await self._cases.add_received(
            case, protected=payload.protected, caused_by=envelope.event_id
        )

    async def triage_queue(self, *, limit: int = 200) -> list[QueuedCase]:
        now = utc_now()
        queued = [
            QueuedCase(c, c.urgency(now=now)) for c in await self._cases.triage_queue(limit=limit)
        ]
        return sorted(queued, key=lambda q: (-q.urgency.score, q.case.received_at))

    async def get(self, *, caller: Principal, case_id: uuid.UUID) -> StoredCase:
        stored = await self._cases.get(case_id)
        if stored is None:
            raise NotFound(str(case_id))
        if caller.role is Role.CLINICIAN:
            try:
                stored.case.ensure_assigned_to(caller.subject)
            except NotAssigned as exc:
                raise NotFound(str(case_id)) from exc
        return stored

    async def my_cases(self, *, caller: Principal) -> list[ReviewCase]:
        return await self._cases.assigned_to(caller.subject, limit=500)

    async def accept(self, *, caller: Principal, case_id: uuid.UUID) -> ReviewCase:
        case = (await self.get(caller=caller, case_id=case_id)).case
        now = utc_now()
        due = case.accept(by=caller.subject, at=now, delivery_days=self._policy.delivery_days)
        event = self._event(
            ReferralAccepted(accepted_by=caller.subject, accepted_at=now, report_due=due),
            case,
        )
        await self._cases.save(case, events=[event])
        return case

    async def assign(
        self, *, caller: Principal, case_id: uuid.UUID, clinician_id: str
    ) -> ReviewCase:
        case = (await self.get(caller=caller, case_id=case_id)).case
        now = utc_now()
        case.assign(clinician_id=clinician_id, by=caller.subject, at=now)
        event = self._event(
            CaseAssigned(clinician_id=clinician_id, assigned_by=caller.subject, assigned_at=now),
            case,
        )
        await self._cases.save(case, events=[event])
        return case

    async def record_findings(
        self, *, caller: Principal, case_id: uuid.UUID, findings: ClinicalFindings
    ) -> ReviewCase:
        case = (await self.get(caller=caller, case_id=case_id)).case
        case.record_findings(findings, by=caller.subject)
        await self._cases.save(case, events=[])
        return case

    async def complete(self, *, caller: Principal, case_id: uuid.UUID) -> ReviewCase:
        stored = await self.get(caller=caller, case_id=case_id)
        case = stored.case
        now = utc_now()
        findings = case.complete(by=caller.subject, at=now)
        event = self._event(
            ReviewCompleted(
                reference=case.reference,
                organisation=case.organisation,
                protected=stored.protected,
                clinician_id=caller.subject,
                clinician_name=caller.display_name,
                approved_by=None,  # clinical peer review is not yet part of the workflow
                completed_at=now,
                report_due=case.report_due,
                findings=findings,
                documents=case.documents,
            ),
            case,
        )
        await self._cases.save(case, events=[event])
        return case

    @staticmethod
    def _event(payload: BaseModel, case: ReviewCase) -> EventEnvelope:
        # Every event of a case carries the correlation id its referral was submitted with.
        return new_event(
            payload=payload,
            case_id=case.case_id,
            producer=PRODUCER,
            correlation_id=case.correlation_id,
            registry=CASE_EVENTS,
        )
