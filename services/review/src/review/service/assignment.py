"""The roster, suggestions for a case, and assigning (or reassigning) its clinician."""

from __future__ import annotations

import uuid

from corroborate.audit import SYSTEM, actor_of
from corroborate.auth import Principal, Role
from corroborate.clock import utc_now
from corroborate.events.contracts import CaseAssigned, PersonChanged
from corroborate.events.envelope import EventEnvelope
from corroborate.web.signin import Member
from review.domain.case import ReviewCase
from review.domain.roster import CaseNeeds, Clinician, Suggestion, disciplines_needed, suggest
from review.service.base import ReviewBase


class NotOnRoster(Exception):
    """The clinician named is not on the roster, or has left."""


CLINICAL_ROLES = frozenset({Role.CLINICIAN, Role.SENIOR_CLINICIAN})


def _working(member: Member) -> bool:
    return member.active and bool(CLINICAL_ROLES & set(member.roles))


def _followed(entry: Clinician, member: Member, *, active: bool) -> Clinician:
    return entry.model_copy(
        update={
            "name": member.name,
            "senior": Role.SENIOR_CLINICIAN in member.roles,
            "active": active,
        }
    )


class Assigning(ReviewBase):
    """A roster entry for someone the directory knows follows it: their name, whether they may
    peer-review (a senior clinician), and whether they still work here. An entry for someone it
    does not know (made before the directory, or for a token's subject) is kept as entered."""

    async def _member(self, clinician_id: str) -> Member | None:
        return await self._staff.member(clinician_id) if self._staff else None

    async def on_person_changed(self, envelope: EventEnvelope, changed: PersonChanged) -> None:
        """The directory changed a person (review's copy already holds the change): their
        roster entry, if they have one, follows. A deactivated clinician gets no new cases, and
        their open cases show as at risk."""
        entry = await self._roster.get(str(changed.person_id))
        member = await self._member(str(changed.person_id))
        if entry is None or member is None:
            return
        followed = _followed(entry, member, active=_working(member))
        if followed == entry:
            return
        await self._roster.put(followed)
        await self._audit.record(
            "roster.followed_directory",
            actor=SYSTEM,
            details={"clinician_id": entry.clinician_id, "active": followed.active},
        )

    async def put_clinician(self, *, caller: Principal, clinician: Clinician) -> Clinician:
        member = await self._member(clinician.clinician_id)
        if member is not None:
            clinician = _followed(clinician, member, active=clinician.active and _working(member))
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
