"""Review's use cases: triage, acceptance, assignment, findings, completion."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel

from corroborate.audit import SYSTEM, AuditLog, actor_of
from corroborate.auth import Principal, Role
from corroborate.clock import utc_now
from corroborate.crypto import KeyRing
from corroborate.events.contracts import (
    CASE_EVENTS,
    AppointmentBooked,
    CaseAssigned,
    CaseErased,
    CaseEscalated,
    ClinicalFindings,
    InformationProvided,
    InformationRequested,
    ReferralAccepted,
    ReferralAcknowledged,
    ReferralDeclined,
    ReferralSubmitted,
    ReferralWaitlisted,
    ReferralWithdrawn,
    ReportChangesRequested,
    ReviewCompleted,
    SealedText,
    open_details,
    open_text,
    seal_text,
)
from corroborate.events.envelope import EventEnvelope, new_event
from corroborate.events.errors import UnknownCase
from corroborate.evidence import HEAD_BYTES, IMAGE_TYPES, content_check, detect_type
from corroborate.mongo import ConcurrencyConflict
from corroborate.storage import ObjectStore
from corroborate.uploads import checked_stream, prepend, read_head
from review.adapters.repository import CaseRepository, StoredCase
from review.adapters.roster import Roster
from review.domain.assessment import Photograph
from review.domain.case import (
    AssessmentRuleBroken,
    CaseStatus,
    Eligibility,
    NotAssigned,
    Outcome,
    ReviewCase,
    Risk,
    Urgency,
)
from review.domain.roster import CaseNeeds, Clinician, Suggestion, disciplines_needed, suggest

PRODUCER = "review"
PUBLISHES = (
    "case.escalated",
    "appointment.booked",
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


class PhotographRefused(Exception):
    """Not a photograph (judged from its bytes); nothing was stored."""


@dataclass(frozen=True)
class ReviewPolicy:
    triage_response_days: int = 7
    delivery_days: int = 150  # the common five-month clock from acceptance
    no_appointment_days: int = 28
    report_due_soon_days: int = 14


@dataclass(frozen=True)
class QueuedCase:
    case: ReviewCase
    urgency: Urgency


class Review:
    def __init__(
        self,
        *,
        cases: CaseRepository,
        roster: Roster,
        policy: ReviewPolicy,
        keyring: KeyRing,
        store: ObjectStore,
        photographs_bucket: str,
        audit: AuditLog,
        max_photo_bytes: int = 50 * 1024 * 1024,
    ) -> None:
        self._audit = audit
        self._cases = cases
        self._roster = roster
        self._policy = policy
        self._keyring = keyring
        self._store = store
        self._photographs = photographs_bucket
        self._max_photo_bytes = max_photo_bytes

    async def prepare(self) -> None:
        await self._cases.ensure_indexes()
        await self._store.ensure_bucket(self._photographs, versioned=True)

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

    async def on_referral_withdrawn(self, envelope: EventEnvelope, payload: object) -> None:
        """Every queue drops the case and no further work is accepted on it."""
        assert isinstance(payload, ReferralWithdrawn)
        stored = await self._cases.get(envelope.case_id)
        if stored is None:
            raise UnknownCase(f"no case {envelope.case_id}")
        stored.case.withdraw(at=payload.withdrawn_at)
        await self._cases.save(stored.case, events=[], processed_event=envelope.event_id)

    async def on_case_erased(self, envelope: EventEnvelope, payload: object) -> None:
        """Destroy this service's copy of the case's data key (and every sealed value with one)."""
        assert isinstance(payload, CaseErased)
        stored = await self._cases.get(envelope.case_id)
        if stored is None:
            return  # never reached review: nothing held here
        stored.case.erased()
        await self._cases.erase(stored.case, processed_event=envelope.event_id)
        await self._audit.record(
            "case.erased",
            actor=SYSTEM,
            case_id=envelope.case_id,
            details={"reason": payload.reason.value},
        )

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
        if caller.role is Role.SENIOR_CLINICIAN and not (
            stored.case.status is CaseStatus.IN_PEER_REVIEW
            or any(note.by == caller.subject for note in stored.case.notes)
        ):
            # A senior clinician sees a draft awaiting peer review, or one they reviewed.
            raise NotFound(str(case_id))
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
        await self._audit.record(
            "triage.decided",
            actor=actor_of(caller),
            case_id=case_id,
            details={"outcome": outcome.value},
        )
        return case

    def _seal(self, stored: StoredCase, text: str, *, purpose: str) -> Any:
        key = self._keyring.unwrap(stored.protected.wrapped_key)
        return seal_text(text, case_id=stored.case.case_id, key=key, purpose=purpose)

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
        await self._audit.record(
            "case.assigned",
            actor=actor_of(caller),
            case_id=case_id,
            details={"clinician_id": clinician_id},
        )
        return case

    # --- the assessment ------------------------------------------------------------------------

    async def book_appointment(
        self,
        *,
        caller: Principal,
        case_id: uuid.UUID,
        on: date,
        remote: bool,
        interpreter_language: str | None,
    ) -> ReviewCase:
        case = (await self.get(caller=caller, case_id=case_id)).case
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
        case = (await self.get(caller=caller, case_id=case_id)).case
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
        case = stored.case
        case.ensure_photography_allowed(appointment_id=appointment_id, by=caller.subject)
        head, rest = await read_head(body, HEAD_BYTES)
        content_type = detect_type(head)
        if content_type not in IMAGE_TYPES:
            raise PhotographRefused(
                "file: a photograph must be JPEG, PNG, HEIC/HEIF or TIFF, judged from its bytes"
            )
        photograph_id = uuid.uuid4()
        key = f"cases/{case_id}/photographs/{photograph_id}"
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
            taken_by=caller.subject,
            received_at=utc_now(),
        )
        case.add_photograph(photograph)
        try:
            await self._cases.save(case, events=[])
        except BaseException:
            await self._store.remove(
                bucket=self._photographs, key=key, version_id=written.version_id
            )
            raise
        await self._audit.record(
            "photograph.received",
            actor=actor_of(caller),
            case_id=case_id,
            details={"sha256": photograph.sha256},
        )
        return photograph

    async def record_findings(
        self, *, caller: Principal, case_id: uuid.UUID, findings: ClinicalFindings
    ) -> ReviewCase:
        """Save the draft as a new version. Identity stays out of it: the report adds the
        survivor's details itself, so a draft that names them is refused."""
        stored = await self.get(caller=caller, case_id=case_id)
        self._refuse_identity(stored, findings)
        saved = len(stored.case.versions)
        stored.case.record_findings(findings, by=caller.subject, at=utc_now())
        if len(stored.case.versions) == saved:
            return stored.case  # the same draft again (a retried request): no new version
        await self._cases.save(stored.case, events=[])
        await self._audit.record(
            "findings.saved",
            actor=actor_of(caller),
            case_id=case_id,
            details={"version": len(stored.case.versions)},
        )
        return stored.case

    def _refuse_identity(self, stored: StoredCase, findings: ClinicalFindings) -> None:
        protected = open_details(
            stored.protected, case_id=stored.case.case_id, keyring=self._keyring
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
        case = (await self.get(caller=caller, case_id=case_id)).case
        case.submit_for_peer_review(by=caller.subject, at=utc_now())
        await self._cases.save(case, events=[])
        await self._audit.record("draft.submitted", actor=actor_of(caller), case_id=case_id)
        return case

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
        case = stored.case
        now = utc_now()
        findings = case.peer_review(approve=approve, by=caller.subject, at=now, comments=comments)
        events: list[EventEnvelope] = []
        if findings is not None:
            assert case.clinician_id is not None
            author = await self._roster.get(case.clinician_id)
            reviewer = await self._roster.get(caller.subject)
            events.append(
                self._event(
                    ReviewCompleted(
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
                    ),
                    case,
                )
            )
        await self._cases.save(case, events=events)
        await self._audit.record(
            "peer_review.decided",
            actor=actor_of(caller),
            case_id=case_id,
            details={"approved": approve},
        )
        return case

    async def on_changes_requested(self, envelope: EventEnvelope, payload: object) -> None:
        """Legal review sends the draft back: the same clinician reopens it, with the comments."""
        assert isinstance(payload, ReportChangesRequested)
        stored = await self._cases.get(envelope.case_id)
        if stored is None:
            raise UnknownCase(f"no case {envelope.case_id}")
        stored.case.legal_changes_requested(
            by=payload.requested_by,
            at=payload.requested_at,
            sealed_comments=payload.comments.model_dump_json(),
        )
        await self._cases.save(stored.case, events=[], processed_event=envelope.event_id)

    def open_legal_comments(self, case: ReviewCase, sealed: str) -> str:
        return open_text(
            SealedText.model_validate_json(sealed),
            case_id=case.case_id,
            keyring=self._keyring,
            purpose="legal-comments",
        )

    # --- deadlines -------------------------------------------------------------------------------

    def risks(self, case: ReviewCase, *, now: datetime) -> list[Risk]:
        return case.risks(
            now=now,
            no_appointment_days=self._policy.no_appointment_days,
            due_soon_days=self._policy.report_due_soon_days,
        )

    async def at_risk(self) -> list[tuple[ReviewCase, list[Risk]]]:
        """Every active case with a deadline at risk or missed, most overdue first."""
        now = utc_now()
        found = [(c, self.risks(c, now=now)) for c in await self._cases.active(limit=5000)]
        at_risk = [(c, r) for c, r in found if r]
        return sorted(at_risk, key=lambda item: min(r.due for r in item[1]))

    async def escalate_due(self) -> int:
        """Emit ``case.escalated`` once per case and kind whose deadline is at risk or missed;
        the record of what was raised is saved with the event, so a restart raises nothing
        twice."""
        raised = 0
        now = utc_now()
        for case in await self._cases.active(limit=5000):
            new = [risk for risk in self.risks(case, now=now) if case.escalate(risk)]
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
