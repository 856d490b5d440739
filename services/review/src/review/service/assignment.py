"""The roster, suggestions for a case, and assigning (or reassigning) its clinician."""

from __future__ import annotations

import uuid

from corroborate.audit import actor_of
from corroborate.auth import Principal
from corroborate.clock import utc_now
from corroborate.events.contracts import CaseAssigned
from review.domain.case import ReviewCase
from review.domain.roster import CaseNeeds, Clinician, Suggestion, disciplines_needed, suggest
from review.service.base import ReviewBase


class NotOnRoster(Exception):
    """The clinician named is not on the roster, or has left."""


class Assigning(ReviewBase):
    async def put_clinician(self, *, caller: Principal, clinician: Clinician) -> Clinician:
        await self._roster.put(clinician)
        await self._audit.record(
            "roster.changed",
            actor=actor_of(caller),
            details={"clinician_id": clinician.clinician_id},
        )
        return clinician

    async def roster(self) -> list[Clinician]:
        return await self._roster.all()

    async def suggestions(self, *, caller: Principal, case_id: uuid.UUID) -> list[Suggestion]:
        """Every clinician still working, best fit first, with the reasons."""
        case = (await self.get(caller=caller, case_id=case_id)).aggregate
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
        case = (await self.get(caller=caller, case_id=case_id)).aggregate
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
        await self._audit.record(
            "case.assigned",
            actor=actor_of(caller),
            case_id=case_id,
            details={"clinician_id": clinician_id},
        )
        return case
