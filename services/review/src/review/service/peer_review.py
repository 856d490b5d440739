"""Clinical peer review: a senior clinician approves the draft or returns it."""

from __future__ import annotations

import uuid

from corroborate.audit import actor_of
from corroborate.auth import Principal
from corroborate.clock import utc_now
from corroborate.events.contracts import ReviewCompleted
from corroborate.events.envelope import EventEnvelope
from review.domain.case import CaseStatus, ReviewCase
from review.service.base import ReviewBase


class PeerReview(ReviewBase):
    async def peer_review_queue(self, *, caller: Principal) -> list[ReviewCase]:
        """Drafts awaiting a senior clinician, oldest first; never the caller's own."""
        waiting = await self._cases.in_status(CaseStatus.IN_PEER_REVIEW, limit=500)
        return [c for c in waiting if c.clinician_id != caller.subject]

    async def peer_review(
        self, *, caller: Principal, case_id: uuid.UUID, approve: bool, comments: str
    ) -> ReviewCase:
        """Approval emits ``review.completed`` with what the report needs; a return sends the
        draft back to its clinician with the comments."""
        stored = await self.get(caller=caller, case_id=case_id)
        case = stored.aggregate
        now = utc_now()
        findings = case.peer_review(approve=approve, by=caller.subject, at=now, comments=comments)
        events: list[EventEnvelope] = []
        if findings is not None:
            assert case.clinician_id is not None
            author = await self._roster.get(case.clinician_id)
            reviewer = await self._roster.get(caller.subject)
            completed = ReviewCompleted(
                reference=case.reference,
                organisation=case.organisation,
                protected=stored.protected,
                clinician_id=case.clinician_id,
                clinician_name=author.name if author else case.clinician_id,
                clinician_qualifications=author.qualifications if author else "",
                approved_by=reviewer.name if reviewer else caller.display_name,
                completed_at=now,
                report_due=case.report_due,
                findings=findings,
                documents=case.documents,
            )
            events.append(self._event(completed, case))
        await self._cases.save(case, events=events)
        await self._audit.record(
            "peer_review.decided",
            actor=actor_of(caller),
            case_id=case_id,
            details={"approved": approve},
        )
        return case
