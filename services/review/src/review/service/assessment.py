"""The clinician's assessment: appointments, consents, photographs, findings, submission."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import date

from corroborate.audit import actor_of
from corroborate.auth import Principal
from corroborate.clock import utc_now
from corroborate.events.contracts import AppointmentBooked, ClinicalFindings, open_details
from corroborate.evidence import HEAD_BYTES, IMAGE_TYPES, content_check, detect_type
from corroborate.uploads import checked_stream, prepend, read_head
from review.domain.assessment import Photograph
from review.domain.case import AssessmentRuleBroken, ReviewCase
from review.ports import StoredCase
from review.service.base import ReviewBase


class PhotographRefused(Exception):
    """Not a photograph (judged from its bytes); nothing was stored."""


class Assessment(ReviewBase):
    async def my_cases(self, *, caller: Principal) -> list[ReviewCase]:
        return await self._cases.assigned_to(caller.subject, limit=500)

    async def book_appointment(
        self,
        *,
        caller: Principal,
        case_id: uuid.UUID,
        on: date,
        remote: bool,
        interpreter_language: str | None,
    ) -> ReviewCase:
        case = (await self.get(caller=caller, case_id=case_id)).aggregate
        now = utc_now()
        booked = len(case.appointments)
        appointment = case.book_appointment(
            on=on,
            remote=remote,
            interpreter_language=interpreter_language,
            by=caller.subject,
            at=now,
        )
        if len(case.appointments) == booked:
            return case  # already booked: a retried request books nothing more
        event = self._event(
            AppointmentBooked(
                appointment_id=appointment.appointment_id,
                appointment_on=on,
                remote=remote,
                booked_at=now,
            ),
            case,
        )
        await self._cases.save(case, events=[event])
        await self._audit.record("appointment.booked", actor=actor_of(caller), case_id=case_id)
        return case

    async def record_consent(
        self,
        *,
        caller: Principal,
        case_id: uuid.UUID,
        appointment_id: uuid.UUID,
        examination: bool | None,
        photography: bool | None,
    ) -> ReviewCase:
        case = (await self.get(caller=caller, case_id=case_id)).aggregate
        case.record_consent(
            appointment_id=appointment_id,
            examination=examination,
            photography=photography,
            by=caller.subject,
            at=utc_now(),
        )
        await self._cases.save(case, events=[])
        await self._audit.record(
            "consent.recorded",
            actor=actor_of(caller),
            case_id=case_id,
            details={"examination": examination, "photography": photography},
        )
        return case

    async def add_photograph(
        self,
        *,
        caller: Principal,
        case_id: uuid.UUID,
        appointment_id: uuid.UUID,
        body: AsyncIterator[bytes],
    ) -> Photograph:
        """Store a photograph, encrypted, only if the survivor consented to photography at that
        appointment; its type is decided from its bytes."""
        stored = await self.get(caller=caller, case_id=case_id)
        case = stored.aggregate
        case.ensure_photography_allowed(appointment_id=appointment_id, by=caller.subject)
        photograph, version_id = await self._store_photograph(
            stored, appointment_id=appointment_id, body=body, by=caller.subject
        )
        case.add_photograph(photograph)
        try:
            await self._cases.save(case, events=[])
        except BaseException:
            # Never recorded: no unreferenced evidence is left behind.
            await self._store.remove(
                bucket=self._photographs, key=photograph.object_key, version_id=version_id
            )
            raise
        await self._audit.record(
            "photograph.received",
            actor=actor_of(caller),
            case_id=case_id,
            details={"sha256": photograph.sha256},
        )
        return photograph

    async def _store_photograph(
        self,
        stored: StoredCase,
        *,
        appointment_id: uuid.UUID,
        body: AsyncIterator[bytes],
        by: str,
    ) -> tuple[Photograph, str | None]:
        """Check the bytes are an image and store them encrypted; the photograph, and the
        object version written."""
        head, rest = await read_head(body, HEAD_BYTES)
        content_type = detect_type(head)
        if content_type not in IMAGE_TYPES:
            raise PhotographRefused(
                "file: a photograph must be JPEG, PNG, HEIC/HEIF or TIFF, judged from its bytes"
            )
        photograph_id = uuid.uuid4()
        key = f"cases/{stored.aggregate.case_id}/photographs/{photograph_id}"
        written = await self._store.put_encrypted_from(
            bucket=self._photographs,
            key=key,
            chunks=checked_stream(
                prepend(head, rest), content_check(content_type), self._max_photo_bytes
            ),
            data_key=self._keyring.unwrap(stored.protected.wrapped_key),
        )
        photograph = Photograph(
            photograph_id=photograph_id,
            appointment_id=appointment_id,
            sha256=written.sha256,
            size=written.size,
            content_type=content_type.value,
            object_key=key,
            taken_by=by,
            received_at=utc_now(),
        )
        return photograph, written.version_id

    async def record_findings(
        self, *, caller: Principal, case_id: uuid.UUID, findings: ClinicalFindings
    ) -> ReviewCase:
        """Save the draft as a new version. Identity stays out of it: the report adds the
        survivor's details itself, so a draft that names them is refused."""
        stored = await self.get(caller=caller, case_id=case_id)
        case = stored.aggregate
        self._refuse_identity(stored, findings)
        saved = len(case.versions)
        case.record_findings(findings, by=caller.subject, at=utc_now())
        if len(case.versions) == saved:
            return case  # the same draft again (a retried request): no new version
        await self._cases.save(case, events=[])
        await self._audit.record(
            "findings.saved",
            actor=actor_of(caller),
            case_id=case_id,
            details={"version": len(case.versions)},
        )
        return case

    def _refuse_identity(self, stored: StoredCase, findings: ClinicalFindings) -> None:
        protected = open_details(
            stored.protected, case_id=stored.aggregate.case_id, keyring=self._keyring
        )
        identifying = [protected.full_name, *protected.other_names]
        identifying += [
            value
            for value in (
                protected.home_office_reference,
                protected.date_of_birth.isoformat() if protected.date_of_birth else None,
            )
            if value
        ]
        for path, text in findings.free_text():
            lowered = text.casefold()
            if any(value.casefold() in lowered for value in identifying if len(value) >= 3):
                raise AssessmentRuleBroken(
                    f"{path}: names the survivor or their reference; the report adds identity "
                    "itself, so findings must not"
                )

    async def submit(self, *, caller: Principal, case_id: uuid.UUID) -> ReviewCase:
        """The clinician sends the draft to clinical peer review."""
        case = (await self.get(caller=caller, case_id=case_id)).aggregate
        case.submit_for_peer_review(by=caller.subject, at=utc_now())
        await self._cases.save(case, events=[])
        await self._audit.record("draft.submitted", actor=actor_of(caller), case_id=case_id)
        return case
