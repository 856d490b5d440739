"""What review does when another service's case event arrives; each handler is idempotent."""

from __future__ import annotations

import uuid

from corroborate.audit import SYSTEM
from corroborate.clock import utc_now
from corroborate.events.contracts import (
    CaseErased,
    InformationProvided,
    ReferralAcknowledged,
    ReferralSubmitted,
    ReferralWithdrawn,
    ReportChangesRequested,
    open_details,
)
from corroborate.events.envelope import EventEnvelope
from corroborate.events.errors import UnknownCase
from review.domain.case import ReviewCase
from review.ports import StoredCase
from review.service.base import ReviewBase


class CaseEvents(ReviewBase):
    async def on_referral_submitted(
        self, envelope: EventEnvelope, payload: ReferralSubmitted
    ) -> None:
        """Open the triage item and acknowledge it, with the date a response is due."""
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
            question_count=len(
                open_details(
                    payload.protected, case_id=envelope.case_id, keyring=self._keyring
                ).questions
            ),
        )
        acknowledged = self._event(
            ReferralAcknowledged(acknowledged_at=utc_now(), response_due=case.response_due.date()),
            case,
            caused_by=envelope.event_id,
        )
        await self._cases.add_received(
            case, protected=payload.protected, caused_by=envelope.event_id, events=[acknowledged]
        )

    async def on_referral_withdrawn(
        self, envelope: EventEnvelope, payload: ReferralWithdrawn
    ) -> None:
        """Every queue drops the case and no further work is accepted on it."""
        case = (await self._known(envelope.case_id)).aggregate
        case.withdraw(at=payload.withdrawn_at)
        await self._cases.save(case, events=[], processed_event=envelope.event_id)

    async def on_case_erased(self, envelope: EventEnvelope, payload: CaseErased) -> None:
        """Destroy this service's copy of the case's data key (and every sealed value with one)."""
        stored = await self._cases.get(envelope.case_id)
        if stored is None:
            return  # never reached review: nothing held here
        stored.aggregate.erased()
        await self._cases.erase(stored.aggregate, processed_event=envelope.event_id)
        await self._audit.record(
            "case.erased",
            actor=SYSTEM,
            case_id=envelope.case_id,
            details={"reason": payload.reason.value},
        )

    async def on_information_provided(
        self, envelope: EventEnvelope, payload: InformationProvided
    ) -> None:
        """The partner answered: back to the triage queue, its clock moved by the wait."""
        case = (await self._known(envelope.case_id)).aggregate
        case.information_provided(
            request_id=payload.request_id, at=payload.provided_at, documents=payload.documents
        )
        await self._cases.save(case, events=[], processed_event=envelope.event_id)

    async def on_changes_requested(
        self, envelope: EventEnvelope, payload: ReportChangesRequested
    ) -> None:
        """Legal review sends the draft back: the same clinician reopens it, with the comments."""
        case = (await self._known(envelope.case_id)).aggregate
        case.legal_changes_requested(
            by=payload.requested_by,
            at=payload.requested_at,
            sealed_comments=payload.comments.model_dump_json(),
        )
        await self._cases.save(case, events=[], processed_event=envelope.event_id)

    async def _known(self, case_id: uuid.UUID) -> StoredCase:
        stored = await self._cases.get(case_id)
        if stored is None:
            raise UnknownCase(f"no case {case_id}")
        return stored
