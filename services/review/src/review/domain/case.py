"""A case in review: triage, acceptance, assignment, and the clinician's findings."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum

from corroborate.events.contracts import (
    ClinicalFindings,
    DocumentReference,
    EscalationKind,
    RiskFlag,
    findings_changes,
)
from review.domain.assessment import (
    Appointment,
    ConsentRecord,
    DraftVersion,
    Photograph,
    ReviewerVerdict,
    ReviewNote,
)


class CaseStatus(StrEnum):
    AWAITING_TRIAGE = "awaiting_triage"
    INFORMATION_REQUESTED = "information_requested"
    WAITLISTED = "waitlisted"
    DECLINED = "declined"
    ACCEPTED = "accepted"
    ASSIGNED = "assigned"
    IN_PEER_REVIEW = "in_peer_review"
    REVIEW_COMPLETED = "review_completed"
    WITHDRAWN = "withdrawn"
    ERASED = "erased"


FINAL = frozenset({CaseStatus.DECLINED, CaseStatus.WITHDRAWN, CaseStatus.ERASED})
# The statuses in which a case counts against its clinician's capacity.
OPEN_CASELOAD = frozenset({CaseStatus.ASSIGNED, CaseStatus.IN_PEER_REVIEW})
# Accepted and not yet through clinical review: the report's clock is running here.
IN_DELIVERY = frozenset({CaseStatus.ACCEPTED, CaseStatus.ASSIGNED, CaseStatus.IN_PEER_REVIEW})
# Triage may decide a case that awaits it or waits for capacity.
UNDECIDED = frozenset({CaseStatus.AWAITING_TRIAGE, CaseStatus.WAITLISTED})


class InvalidTransition(Exception):
    """The case is not in a state that allows this; the message names the state."""

    def __init__(self, current: CaseStatus, action: str) -> None:
        super().__init__(f"the case is {current.value}: it cannot be {action}")
        self.current = current


class IneligibleForAcceptance(Exception):
    """The eligibility checklist does not allow acceptance; ``unmet`` names each item."""

    def __init__(self, unmet: list[str]) -> None:
        super().__init__("; ".join(unmet))
        self.unmet = unmet


class RemitBasis(StrEnum):
    """Why the harm falls within the organisation's remit."""

    UN_CONVENTION_AGAINST_TORTURE = "un_convention_against_torture"
    ORGANISED_GROUP_VIOLENCE = "organised_group_violence"


@dataclass(frozen=True)
class Eligibility:
    """The panel's checklist: all three must hold to accept."""

    within_remit: bool
    remit_basis: RemitBasis | None
    material_to_claim: bool
    documents_sufficient: bool

    def unmet(self) -> list[str]:
        unmet = []
        if not self.within_remit or self.remit_basis is None:
            unmet.append("eligibility.within_remit: not within remit (give the basis)")
        if not self.material_to_claim:
            unmet.append("eligibility.material_to_claim: a report would not be material")
        if not self.documents_sufficient:
            unmet.append("eligibility.documents_sufficient: the documents are not sufficient")
        return unmet


class Outcome(StrEnum):
    ACCEPT = "accept"
    DECLINE = "decline"
    WAITLIST = "waitlist"
    REQUEST_INFORMATION = "request_information"


@dataclass(frozen=True)
class TriageDecision:
    """One outcome the panel recorded (a case may be waitlisted, asked, then accepted)."""

    outcome: Outcome
    by: str
    at: datetime
    eligibility: Eligibility | None = None
    request_id: uuid.UUID | None = None


class NotAssigned(Exception):
    """Only the clinician assigned to a case may work on it."""


class AssessmentRuleBroken(Exception):
    """Input that breaks a rule of the assessment record; the message starts with the field."""


class PhotographyRefused(Exception):
    """No consent to photography is recorded for the appointment."""


class DraftIncomplete(Exception):
    """The draft cannot go to peer review yet; ``missing`` lists every item."""

    def __init__(self, missing: list[str]) -> None:
        super().__init__("; ".join(missing))
        self.missing = missing


# Weights for the triage queue; each flag also shows as a reason beside the case.
URGENCY_WEIGHTS: dict[RiskFlag, int] = {
    RiskFlag.SUICIDE_OR_SELF_HARM_RISK: 50,
    RiskFlag.IMMINENT_REMOVAL: 40,
    RiskFlag.DETAINED: 35,
    RiskFlag.HEALTH_EMERGENCY: 35,
    RiskFlag.UNDER_18: 30,
    RiskFlag.PREGNANCY: 25,
}
WAITING_POINTS_PER_DAY = 2
# A hearing or removal this close makes a case urgent: (within days, points).
DATE_PRESSURE = ((14, 40), (28, 20))


@dataclass(frozen=True)
class Risk:
    """A deadline at risk or missed: what kind, and the date it is (or was) due."""

    kind: EscalationKind
    due: date


@dataclass(frozen=True)
class Urgency:
    score: int
    reasons: list[str]


@dataclass
class Assignment:
    clinician_id: str
    assigned_by: str
    assigned_at: datetime
    reason: str | None = None


@dataclass
class ReviewCase:
    """The review aggregate. Identity stays sealed; the domain never opens it."""

    case_id: uuid.UUID
    reference: str
    organisation: str
    service_requested: str
    risk_flags: list[RiskFlag]
    documents: list[DocumentReference]
    received_at: datetime
    response_due: datetime
    correlation_id: uuid.UUID
    status: CaseStatus = CaseStatus.AWAITING_TRIAGE
    version: int = 0
    accepted_by: str | None = None
    accepted_at: datetime | None = None
    report_due: date | None = None
    assignments: list[Assignment] = field(default_factory=list)
    findings: ClinicalFindings | None = None
    completed_at: datetime | None = None
    urgent_dates: dict[str, date] = field(default_factory=dict)
    languages: list[str] = field(default_factory=list)
    interpreter_needed: bool = False
    rule_35_report: bool | None = None
    decisions: list[TriageDecision] = field(default_factory=list)
    open_request: uuid.UUID | None = None
    paused_at: datetime | None = None
    withdrawn_at: datetime | None = None
    question_count: int = 1
    appointments: list[Appointment] = field(default_factory=list)
    photographs: list[Photograph] = field(default_factory=list)
    versions: list[DraftVersion] = field(default_factory=list)
    notes: list[ReviewNote] = field(default_factory=list)
    submitted_at: datetime | None = None
    approved_by: str | None = None
    escalations: list[str] = field(default_factory=list)

    @classmethod
    def received(
        cls,
        *,
        case_id: uuid.UUID,
        reference: str,
        organisation: str,
        service_requested: str,
        risk_flags: list[RiskFlag],
        documents: list[DocumentReference],
        received_at: datetime,
        response_days: int,
        correlation_id: uuid.UUID,
        urgent_dates: dict[str, date] | None = None,
        rule_35_report: bool | None = None,
        languages: list[str] | None = None,
        interpreter_needed: bool = False,
        question_count: int = 1,
    ) -> ReviewCase:
        return cls(
            case_id=case_id,
            reference=reference,
            organisation=organisation,
            service_requested=service_requested,
            risk_flags=risk_flags,
            documents=documents,
            received_at=received_at,
            response_due=received_at + timedelta(days=response_days),
            correlation_id=correlation_id,
            urgent_dates=dict(urgent_dates or {}),
            rule_35_report=rule_35_report,
            languages=list(languages or []),
            interpreter_needed=interpreter_needed,
            question_count=question_count,
        )

    @property
    def clinician_id(self) -> str | None:
        return self.assignments[-1].clinician_id if self.assignments else None

    def urgency(self, *, now: datetime) -> Urgency:
        reasons = [flag.value.replace("_", " ") for flag in self.risk_flags]
        score = sum(URGENCY_WEIGHTS[flag] for flag in self.risk_flags)
        waiting_days = max(0, (now - self.received_at).days)
        if waiting_days:
            score += waiting_days * WAITING_POINTS_PER_DAY
            reasons.append(f"waiting {waiting_days} day(s)")
        if RiskFlag.DETAINED in self.risk_flags and self.rule_35_report is False:
            reasons.append("detained, no Rule 35 report made")
        for label, day in sorted(self.urgent_dates.items(), key=lambda item: item[1]):
            days_left = (day - now.date()).days
            for within, points in DATE_PRESSURE:
                if 0 <= days_left <= within:
                    score += points
                    reasons.append(f"{label.replace('_', ' ')} in {days_left} day(s)")
                    break
        if now > self.response_due and self.status is CaseStatus.AWAITING_TRIAGE:
            reasons.append("triage response overdue")
        return Urgency(score=score, reasons=reasons)

    def risks(
        self,
        *,
        now: datetime,
        no_appointment_days: int,
        due_soon_days: int,
        gone: Collection[str] = (),
    ) -> list[Risk]:
        """The deadlines at risk or missed now: computed from the case's own data (and
        ``gone``, the clinicians who no longer work here), so they survive a restart and need
        no sleeping timer."""
        today = now.date()
        risks: list[Risk] = []
        if self.status in OPEN_CASELOAD and self.clinician_id in gone:
            risks.append(Risk(EscalationKind.CLINICIAN_LEFT, today))
        if self.status is CaseStatus.AWAITING_TRIAGE and now > self.response_due:
            risks.append(Risk(EscalationKind.TRIAGE_OVERDUE, self.response_due.date()))
        if self.status in {CaseStatus.ACCEPTED, CaseStatus.ASSIGNED} and not self.appointments:
            assert self.accepted_at is not None
            deadline = self.accepted_at + timedelta(days=no_appointment_days)
            if now > deadline:
                risks.append(Risk(EscalationKind.NO_APPOINTMENT, deadline.date()))
        if self.status in IN_DELIVERY and self.report_due is not None:
            if today > self.report_due:
                risks.append(Risk(EscalationKind.REPORT_OVERDUE, self.report_due))
            elif today >= self.report_due - timedelta(days=due_soon_days):
                risks.append(Risk(EscalationKind.REPORT_DUE_SOON, self.report_due))
        return risks

    def escalate(self, risk: Risk) -> bool:
        """Record that a risk was raised; False if it was raised before (each kind once)."""
        if risk.kind.value in self.escalations:
            return False
        self.escalations.append(risk.kind.value)
        return True

    def _decide(self, decision: TriageDecision, *, allowed: frozenset[CaseStatus]) -> None:
        if self.status not in allowed:
            raise InvalidTransition(self.status, f"given the outcome {decision.outcome.value}")
        self.decisions.append(decision)

    def accept(
        self, *, by: str, at: datetime, delivery_days: int, eligibility: Eligibility | None = None
    ) -> date:
        if self.status not in UNDECIDED:
            raise InvalidTransition(self.status, "accepted")
        if eligibility is not None and (unmet := eligibility.unmet()):
            raise IneligibleForAcceptance(unmet)
        self._decide(
            TriageDecision(Outcome.ACCEPT, by, at, eligibility=eligibility), allowed=UNDECIDED
        )
        self.status = CaseStatus.ACCEPTED
        self.accepted_by = by
        self.accepted_at = at
        self.report_due = (at + timedelta(days=delivery_days)).date()
        return self.report_due

    def decline(self, *, by: str, at: datetime, eligibility: Eligibility | None) -> None:
        self._decide(
            TriageDecision(Outcome.DECLINE, by, at, eligibility=eligibility), allowed=UNDECIDED
        )
        self.status = CaseStatus.DECLINED

    def waitlist(self, *, by: str, at: datetime, eligibility: Eligibility | None) -> None:
        allowed = frozenset({CaseStatus.AWAITING_TRIAGE})
        self._decide(
            TriageDecision(Outcome.WAITLIST, by, at, eligibility=eligibility), allowed=allowed
        )
        self.status = CaseStatus.WAITLISTED

    def request_information(self, *, by: str, at: datetime, request_id: uuid.UUID) -> None:
        """Ask the partner; the triage clock stops until the answer comes back."""
        self._decide(
            TriageDecision(Outcome.REQUEST_INFORMATION, by, at, request_id=request_id),
            allowed=UNDECIDED,
        )
        self.status = CaseStatus.INFORMATION_REQUESTED
        self.open_request = request_id
        self.paused_at = at

    def information_provided(
        self, *, request_id: uuid.UUID, at: datetime, documents: list[DocumentReference]
    ) -> bool:
        """The answer is back: triage resumes, its deadline moved by the time it waited."""
        if self.status is not CaseStatus.INFORMATION_REQUESTED or request_id != self.open_request:
            return False
        if self.paused_at is not None:
            self.response_due += max(at - self.paused_at, timedelta(0))
        self.status = CaseStatus.AWAITING_TRIAGE
        self.open_request = None
        self.paused_at = None
        known = {d.document_id for d in self.documents}
        self.documents += [d for d in documents if d.document_id not in known]
        return True

    def erased(self) -> None:
        """Its data key is gone: no work can go on, nothing sealed can be opened."""
        self.status = CaseStatus.ERASED
        for i, note in enumerate(self.notes):
            if note.verdict is ReviewerVerdict.LEGAL_CHANGES:
                self.notes[i] = ReviewNote(note.verdict, note.by, note.at, note.draft_version, "")

    def withdraw(self, *, at: datetime) -> bool:
        """The partner withdrew: the case leaves every queue and no work goes on."""
        if self.status in FINAL:
            return False
        self.status = CaseStatus.WITHDRAWN
        self.withdrawn_at = at
        return True

    def assign(
        self, *, clinician_id: str, by: str, at: datetime, reason: str | None = None
    ) -> None:
        """Assign, or reassign (say, when a clinician leaves); earlier assignments are kept."""
        if self.status not in {CaseStatus.ACCEPTED, CaseStatus.ASSIGNED}:
            raise InvalidTransition(self.status, "assigned")
        if self.clinician_id == clinician_id:
            raise InvalidTransition(self.status, f"assigned to {clinician_id} again")
        self.status = CaseStatus.ASSIGNED
        self.assignments.append(
            Assignment(clinician_id=clinician_id, assigned_by=by, assigned_at=at, reason=reason)
        )

    def ensure_assigned_to(self, clinician_id: str) -> None:
        if self.clinician_id != clinician_id:
            raise NotAssigned(str(self.case_id))

    # --- the assessment ------------------------------------------------------------------------

    def _ensure_drafting(self, by: str, action: str) -> None:
        self.ensure_assigned_to(by)
        if self.status is not CaseStatus.ASSIGNED:
            raise InvalidTransition(self.status, action)

    def book_appointment(
        self,
        *,
        on: date,
        remote: bool,
        interpreter_language: str | None,
        by: str,
        at: datetime,
    ) -> Appointment:
        if self.status is not CaseStatus.ASSIGNED:
            raise InvalidTransition(self.status, "given an appointment (assign a clinician first)")
        if on < at.date():
            raise AssessmentRuleBroken("on: the appointment date is in the past")
        same = next(
            (
                a
                for a in self.appointments
                if (a.on, a.remote, a.interpreter_language) == (on, remote, interpreter_language)
            ),
            None,
        )
        if same is not None:  # a repeated request (a retry), not a second appointment that day
            return same
        appointment = Appointment(
            appointment_id=uuid.uuid4(),
            on=on,
            remote=remote,
            interpreter_language=interpreter_language,
            booked_by=by,
            booked_at=at,
        )
        self.appointments.append(appointment)
        return appointment

    def appointment(self, appointment_id: uuid.UUID) -> Appointment:
        found = next((a for a in self.appointments if a.appointment_id == appointment_id), None)
        if found is None:
            raise AssessmentRuleBroken(f"appointment_id: no appointment {appointment_id}")
        return found

    def record_consent(
        self,
        *,
        appointment_id: uuid.UUID,
        examination: bool | None,
        photography: bool | None,
        by: str,
        at: datetime,
    ) -> Appointment:
        """Consent to the examination and, separately, to photography, at one appointment."""
        self._ensure_drafting(by, "given consents")
        appointment = self.appointment(appointment_id)
        if examination is not None:
            appointment.examination_consent = ConsentRecord(examination, by, at)
        if photography is not None:
            appointment.photography_consent = ConsentRecord(photography, by, at)
        return appointment

    def ensure_photography_allowed(self, *, appointment_id: uuid.UUID, by: str) -> None:
        self._ensure_drafting(by, "given photographs")
        if not self.appointment(appointment_id).photography_allowed:
            raise PhotographyRefused(
                "no consent to photography is recorded for this appointment; nothing stored"
            )

    def add_photograph(self, photograph: Photograph) -> None:
        self.ensure_photography_allowed(
            appointment_id=photograph.appointment_id, by=photograph.taken_by
        )
        self.photographs.append(photograph)

    def record_findings(self, findings: ClinicalFindings, *, by: str, at: datetime) -> DraftVersion:
        """Save the draft as a new version; earlier versions stay, with what changed. The same
        draft saved again (a retried request) makes no new version."""
        self._ensure_drafting(by, "given findings")
        known = {p.photograph_id: p for p in self.photographs}
        for i, photo in enumerate(findings.photographs):
            stored = known.get(photo.photograph_id)
            if stored is None or stored.sha256 != photo.sha256:
                raise AssessmentRuleBroken(
                    f"photographs.{i}: not a photograph taken for this case (or its hash differs)"
                )
            if photo.lesion is not None and photo.lesion > len(findings.lesions):
                raise AssessmentRuleBroken(f"photographs.{i}.lesion: no lesion {photo.lesion}")
        for i, answer in enumerate(findings.answers):
            if answer.question > self.question_count:
                raise AssessmentRuleBroken(
                    f"answers.{i}.question: the letter of instruction has "
                    f"{self.question_count} question(s)"
                )
        if self.versions and self.findings == findings:
            return self.versions[-1]
        version = DraftVersion(
            number=len(self.versions) + 1,
            findings=findings,
            saved_by=by,
            saved_at=at,
            changed=findings_changes(self.findings, findings),
        )
        self.versions.append(version)
        self.findings = findings
        return version

    def submit_for_peer_review(self, *, by: str, at: datetime) -> ClinicalFindings:
        """The clinician's draft goes to a senior clinician; it must be complete."""
        self._ensure_drafting(by, "submitted")
        findings = self.findings
        if findings is None:
            raise InvalidTransition(self.status, "submitted before findings are recorded")
        missing: list[str] = []
        if not findings.lesions and self.service_requested == "full_report":
            missing.append("lesions: a full report needs at least one documented lesion")
        answered = sorted(a.question for a in findings.answers)
        if answered != list(range(1, self.question_count + 1)):
            missing.append(
                f"answers: answer each of the {self.question_count} question(s) once, in turn"
            )
        if not any(
            a.examination_consent is not None and a.examination_consent.given
            for a in self.appointments
        ):
            missing.append("appointments: no consent to examination is recorded")
        if missing:
            raise DraftIncomplete(missing)
        self.status = CaseStatus.IN_PEER_REVIEW
        self.submitted_at = at
        return findings

    def peer_review(
        self, *, approve: bool, by: str, at: datetime, comments: str
    ) -> ClinicalFindings | None:
        """A senior clinician approves the draft or returns it with comments; never their own."""
        if self.status is not CaseStatus.IN_PEER_REVIEW:
            raise InvalidTransition(self.status, "peer-reviewed")
        if by == self.clinician_id:
            raise InvalidTransition(self.status, "peer-reviewed by its own author")
        verdict = ReviewerVerdict.APPROVED if approve else ReviewerVerdict.RETURNED
        self.notes.append(ReviewNote(verdict, by, at, len(self.versions), comments))
        if not approve:
            self.status = CaseStatus.ASSIGNED
            return None
        assert self.findings is not None
        self.status = CaseStatus.REVIEW_COMPLETED
        self.approved_by = by
        self.completed_at = at
        return self.findings

    def legal_changes_requested(self, *, by: str, at: datetime, sealed_comments: str) -> bool:
        """Legal sends the approved draft back to the same clinician; it goes through peer
        review again."""
        if self.status is not CaseStatus.REVIEW_COMPLETED:
            return False
        self.notes.append(
            ReviewNote(ReviewerVerdict.LEGAL_CHANGES, by, at, len(self.versions), sealed_comments)
        )
        self.status = CaseStatus.ASSIGNED
        self.approved_by = None
        return True
