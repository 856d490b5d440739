"""Review's use cases: triage, acceptance, assignment, findings, completion."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from corroborate.auth import Principal, Role
from corroborate.clock import utc_now
from corroborate.crypto import KeyRing
from corroborate.events.contracts import (
    CASE_EVENTS,
    CaseAssigned,
    ClinicalFindings,
    InformationProvided,
    InformationRequested,
    ReferralAccepted,
    ReferralAcknowledged,
    ReferralDeclined,
    ReferralSubmitted,
    ReferralWaitlisted,
    ReferralWithdrawn,
    ReviewCompleted,
    seal_text,
)
from corroborate.events.envelope import EventEnvelope, new_event
from corroborate.events.errors import UnknownCase
from review.adapters.repository import CaseRepository, StoredCase
from review.adapters.roster import Roster
from review.domain.case import CaseStatus, Eligibility, NotAssigned, Outcome, ReviewCase, Urgency
from review.domain.roster import CaseNeeds, Clinician, Suggestion, disciplines_needed, suggest

PRODUCER = "review"
PUBLISHES = (
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


class NotOnRoster(Exception):
    """The clinician named is not on the roster, or has left."""


@dataclass(frozen=True)
class ReviewPolicy:
    triage_response_days: int = 7
    delivery_days: int = 150  # the common five-month clock from acceptance


@dataclass(frozen=True)
class QueuedCase:
    case: ReviewCase
    urgency: Urgency


class Review:
    def __init__(
        self, *, cases: CaseRepository, roster: Roster, policy: ReviewPolicy, keyring: KeyRing
    ) -> None:
        self._cases = cases
        self._roster = roster
        self._policy = policy
        self._keyring = keyring

    async def prepare(self) -> None:
        await self._cases.ensure_indexes()

    async def on_referral_submitted(self, envelope: EventEnvelope, payload: object) -> None:
        """Open the triage item and acknowledge it, with the date a response is due."""
        assert isinstance(payload, ReferralSubmitted)
        dates = payload.key_dates
        urgent_dates = {
            label: day
            for label, day in (
                ("appeal_hearing", dates.appeal_hearing),
                ("removal_directions", dates.removal_directions),
            )
            if day is not None
        }
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
            urgent_dates=urgent_dates,
            rule_35_report=payload.detention.rule_35_report,
            languages=list(payload.needs.languages) if payload.needs else [],
            interpreter_needed=payload.needs.interpreter_needed if payload.needs else False,
        )
        acknowledged = self._event(
            ReferralAcknowledged(acknowledged_at=utc_now(), response_due=case.response_due.date()),
            case,
            caused_by=envelope.event_id,
        )
        await self._cases.add_received(
            case, protected=payload.protected, caused_by=envelope.event_id, events=[acknowledged]
        )

    async def on_referral_withdrawn(self, envelope: EventEnvelope, payload: object) -> None:
        """Every queue drops the case and no further work is accepted on it."""
        assert isinstance(payload, ReferralWithdrawn)
        stored = await self._cases.get(envelope.case_id)
        if stored is None:
            raise UnknownCase(f"no case {envelope.case_id}")
        stored.case.withdraw(at=payload.withdrawn_at)
        await self._cases.save(stored.case, events=[], processed_event=envelope.event_id)

    async def on_information_provided(self, envelope: EventEnvelope, payload: object) -> None:
        """The partner answered: back to the triage queue, its clock moved by the wait."""
        assert isinstance(payload, InformationProvided)
        stored = await self._cases.get(envelope.case_id)
        if stored is None:
            raise UnknownCase(f"no case {envelope.case_id}")
        stored.case.information_provided(
            request_id=payload.request_id, at=payload.provided_at, documents=payload.documents
        )
        await self._cases.save(stored.case, events=[], processed_event=envelope.event_id)

    async def triage_queue(
        self, *, status: CaseStatus = CaseStatus.AWAITING_TRIAGE, limit: int = 200
    ) -> list[QueuedCase]:
        now = utc_now()
        queued = [
            QueuedCase(c, c.urgency(now=now))
            for c in await self._cases.triage_queue(status=status, limit=limit)
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

    async def decide(
        self,
        *,
        caller: Principal,
        case_id: uuid.UUID,
        outcome: Outcome,
        eligibility: Eligibility | None,
        message: str | None = None,
    ) -> ReviewCase:
        """The panel's outcome: accept, decline (the reason goes to the partner), waitlist, or
        a question for the partner (the triage clock pauses until the answer)."""
        stored = await self.get(caller=caller, case_id=case_id)
        case = stored.case
        now = utc_now()
        by = caller.subject
        payload: BaseModel
        if outcome is Outcome.ACCEPT:
            due = case.accept(
                by=by, at=now, delivery_days=self._policy.delivery_days, eligibility=eligibility
            )
            payload = ReferralAccepted(accepted_by=by, accepted_at=now, report_due=due)
        elif outcome is Outcome.DECLINE:
            case.decline(by=by, at=now, eligibility=eligibility)
            reason = self._seal(stored, message or "", purpose="decline-reason")
            payload = ReferralDeclined(reason=reason, declined_by=by, declined_at=now)
        elif outcome is Outcome.WAITLIST:
            case.waitlist(by=by, at=now, eligibility=eligibility)
            payload = ReferralWaitlisted(waitlisted_by=by, waitlisted_at=now)
        else:
            request_id = uuid.uuid4()
            case.request_information(by=by, at=now, request_id=request_id)
            question = self._seal(stored, message or "", purpose="information-request")
            payload = InformationRequested(
                request_id=request_id, question=question, requested_by=by, requested_at=now
            )
        await self._cases.save(case, events=[self._event(payload, case)])
        return case

    def _seal(self, stored: StoredCase, text: str, *, purpose: str) -> Any:
        key = self._keyring.unwrap(stored.protected.wrapped_key)
        return seal_text(text, case_id=stored.case.case_id, key=key, purpose=purpose)

    async def put_clinician(self, clinician: Clinician) -> Clinician:
        await self._roster.put(clinician)
        return clinician

    async def roster(self) -> list[Clinician]:
        return await self._roster.all()

    async def suggestions(self, *, caller: Principal, case_id: uuid.UUID) -> list[Suggestion]:
        """Every clinician still working, best fit first, with the reasons."""
        case = (await self.get(caller=caller, case_id=case_id)).case
        needs = CaseNeeds(
            disciplines=disciplines_needed(case.service_requested),
            languages=case.languages,
            interpreter_needed=case.interpreter_needed,
            report_due=case.report_due,
        )
        return suggest(
            await self._roster.all(),
            needs,
            caseloads=await self._roster.caseloads(),
            today=utc_now().date(),
        )

    async def assign(
        self,
        *,
        caller: Principal,
        case_id: uuid.UUID,
        clinician_id: str,
        reason: str | None = None,
    ) -> ReviewCase:
        case = (await self.get(caller=caller, case_id=case_id)).case
        now = utc_now()
        case.assign(clinician_id=clinician_id, by=caller.subject, at=now, reason=reason)
        clinician = await self._roster.get(clinician_id)
        if clinician is None or not clinician.active:
            raise NotOnRoster(f"clinician_id: {clinician_id} is not a working clinician")
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
