"""Triage: the queue of undecided referrals, most urgent first, and the panel's decision."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel

from corroborate.audit import actor_of
from corroborate.auth import Principal
from corroborate.clock import utc_now
from corroborate.events.contracts import (
    InformationRequested,
    ReferralAccepted,
    ReferralDeclined,
    ReferralWaitlisted,
)
from review.domain.case import CaseStatus, Eligibility, Outcome, ReviewCase, Urgency
from review.ports import StoredCase
from review.service.base import ReviewBase


@dataclass(frozen=True)
class QueuedCase:
    case: ReviewCase
    urgency: Urgency


class Triage(ReviewBase):
    async def triage_queue(
        self, *, status: CaseStatus = CaseStatus.AWAITING_TRIAGE, limit: int = 200
    ) -> list[QueuedCase]:
        now = utc_now()
        queued = [
            QueuedCase(c, c.urgency(now=now))
            for c in await self._cases.triage_queue(status=status, limit=limit)
        ]
        return sorted(queued, key=lambda q: (-q.urgency.score, q.case.received_at))

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
        case = stored.aggregate
        payload = self._decided(
            stored,
            outcome,
            by=caller.subject,
            at=utc_now(),
            eligibility=eligibility,
            message=message or "",
        )
        await self._cases.save(case, events=[self._event(payload, case)])
        await self._audit.record(
            "triage.decided",
            actor=actor_of(caller),
            case_id=case_id,
            details={"outcome": outcome.value},
        )
        return case

    def _decided(
        self,
        stored: StoredCase,
        outcome: Outcome,
        *,
        by: str,
        at: datetime,
        eligibility: Eligibility | None,
        message: str,
    ) -> BaseModel:
        """Apply the outcome to the case; the event that tells the partner."""
        case = stored.aggregate
        if outcome is Outcome.ACCEPT:
            due = case.accept(
                by=by, at=at, delivery_days=self._policy.delivery_days, eligibility=eligibility
            )
            return ReferralAccepted(accepted_by=by, accepted_at=at, report_due=due)
        if outcome is Outcome.DECLINE:
            case.decline(by=by, at=at, eligibility=eligibility)
            reason = self._seal(stored, message, purpose="decline-reason")
            return ReferralDeclined(reason=reason, declined_by=by, declined_at=at)
        if outcome is Outcome.WAITLIST:
            case.waitlist(by=by, at=at, eligibility=eligibility)
            return ReferralWaitlisted(waitlisted_by=by, waitlisted_at=at)
        request_id = uuid.uuid4()
        case.request_information(by=by, at=at, request_id=request_id)
        question = self._seal(stored, message, purpose="information-request")
        return InformationRequested(
            request_id=request_id, question=question, requested_by=by, requested_at=at
        )
