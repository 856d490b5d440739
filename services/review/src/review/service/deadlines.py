"""Deadlines at risk or missed, and raising each once as ``case.escalated``."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from corroborate.clock import utc_now
from corroborate.events.contracts import CaseEscalated
from corroborate.mongo import ConcurrencyConflict
from review.domain.case import ReviewCase, Risk
from review.service.base import ReviewBase


class Deadlines(ReviewBase):
    def risks(self, case: ReviewCase, *, now: datetime, gone: Collection[str] = ()) -> list[Risk]:
        return case.risks(
            now=now,
            no_appointment_days=self._policy.no_appointment_days,
            due_soon_days=self._policy.report_due_soon_days,
            gone=gone,
        )

    async def _gone(self) -> set[str]:
        """Clinicians on the roster who no longer work here."""
        return {c.clinician_id for c in await self._roster.all() if not c.active}

    async def at_risk(self) -> list[tuple[ReviewCase, list[Risk]]]:
        """Every active case with a deadline at risk or missed, or whose clinician has left,
        most overdue first."""
        now = utc_now()
        gone = await self._gone()
        found = [
            (c, self.risks(c, now=now, gone=gone)) for c in await self._cases.active(limit=5000)
        ]
        at_risk = [(c, r) for c, r in found if r]
        return sorted(at_risk, key=lambda item: min(r.due for r in item[1]))

    async def escalate_due(self) -> int:
        """Emit ``case.escalated`` once per case and kind whose deadline is at risk or missed;
        the record of what was raised is saved with the event, so a restart raises nothing
        twice."""
        raised = 0
        now = utc_now()
        gone = await self._gone()
        for case in await self._cases.active(limit=5000):
            new = [risk for risk in self.risks(case, now=now, gone=gone) if case.escalate(risk)]
            if not new:
                continue
            events = [
                self._event(CaseEscalated(kind=r.kind, due=r.due, detected_at=now), case)
                for r in new
            ]
            try:
                await self._cases.save(case, events=events)
            except ConcurrencyConflict:
                continue  # changed meanwhile: the next pass looks again
            raised += len(new)
        return raised
