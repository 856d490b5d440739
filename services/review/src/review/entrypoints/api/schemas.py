"""What review's routes take and answer with. Views read the domain's objects by attribute."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from corroborate.events.contracts import ClinicalFindings, DocumentReference, LanguageTag
from review.domain.assessment import ReviewerVerdict
from review.domain.case import Eligibility, Outcome, RemitBasis, ReviewCase, Risk
from review.domain.roster import Clinician as RosterClinician
from review.domain.roster import Discipline
from review.service import QueuedCase, Review

# --- requests ---------------------------------------------------------------------------------


class RosterEntryInvalid(Exception):
    """A roster entry that breaks the roster's rules (say, a leave that ends before it starts)."""

    def __init__(self, error: ValidationError) -> None:
        super().__init__(f"{error.error_count()} field(s) invalid")
        self.error = error


class RosterEntry(BaseModel):
    """A roster entry as sent; the clinician id is in the path."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=200)]
    qualifications: Annotated[str, Field(max_length=1000)] = ""
    disciplines: Annotated[list[Discipline], Field(min_length=1, max_length=len(Discipline))]
    languages: Annotated[list[LanguageTag], Field(max_length=30)] = []
    capacity: int
    senior: bool = False
    active: bool = True
    unavailable_from: date | None = None
    unavailable_until: date | None = None

    def clinician(self, clinician_id: str) -> RosterClinician:
        """The entry checked against the roster's rules."""
        try:
            return RosterClinician.model_validate(
                {"clinician_id": clinician_id, **self.model_dump()}
            )
        except ValidationError as exc:
            raise RosterEntryInvalid(exc) from exc


class AppointmentRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    on: date
    remote: bool = Field(description="Remote needs a safe, private space for the survivor.")
    interpreter_language: LanguageTag | None = Field(
        default=None, description="The language of the interpreter booked, if any."
    )


class ConsentRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    examination: bool | None = Field(default=None, description="Consent to the examination.")
    photography: bool | None = Field(default=None, description="Consent, separately, to photos.")


class PeerReviewRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    verdict: Literal["approve", "return"]
    comments: Annotated[str, Field(max_length=5000)] = ""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, hide_input_in_errors=True)


class EligibilityChecklist(Strict):
    within_remit: bool = Field(
        description="Within remit: torture as the UN Convention defines it, or organised "
        "group violence."
    )
    remit_basis: RemitBasis | None = None
    material_to_claim: bool = Field(description="A report would be material to the claim.")
    documents_sufficient: bool

    def domain(self) -> Eligibility:
        return Eligibility(**self.model_dump())


class Accept(Strict):
    outcome: Literal["accept"]
    eligibility: EligibilityChecklist


class Decline(Strict):
    outcome: Literal["decline"]
    eligibility: EligibilityChecklist | None = None
    reason: Annotated[str, Field(min_length=3, max_length=2000, description="For the partner.")]


class Waitlist(Strict):
    outcome: Literal["waitlist"]
    eligibility: EligibilityChecklist | None = None


class RequestInformation(Strict):
    outcome: Literal["request_information"]
    question: Annotated[str, Field(min_length=3, max_length=2000, description="For the partner.")]


Decision = Annotated[
    Accept | Decline | Waitlist | RequestInformation, Field(discriminator="outcome")
]


class AssignmentRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    clinician_id: Annotated[str, Field(min_length=1, max_length=200)]
    reason: Annotated[str, Field(min_length=3, max_length=500)] | None = Field(
        default=None, description="Why, when reassigning (say, the clinician has left)."
    )


# --- views ------------------------------------------------------------------------------------


class TriageItem(BaseModel):
    case_id: uuid.UUID
    reference: str
    service_requested: str
    received_at: datetime
    response_due: datetime
    urgency: int
    reasons: list[str]

    @classmethod
    def of(cls, queued: QueuedCase) -> TriageItem:
        case = queued.case
        return cls(
            case_id=case.case_id,
            reference=case.reference,
            service_requested=case.service_requested,
            received_at=case.received_at,
            response_due=case.response_due,
            urgency=queued.urgency.score,
            reasons=queued.urgency.reasons,
        )


class AssignmentView(BaseModel):
    clinician_id: str
    assigned_by: str
    assigned_at: datetime
    reason: str | None


class CaseView(BaseModel):
    case_id: uuid.UUID
    reference: str
    status: str
    service_requested: str
    risk_flags: list[str]
    received_at: datetime
    response_due: datetime
    report_due: date | None
    clinician_id: str | None
    assignments: list[AssignmentView]
    findings: ClinicalFindings | None
    documents: list[DocumentReference]
    decisions: list[DecisionView]
    open_request: uuid.UUID | None
    question_count: int = Field(description="How many questions the letter of instruction asks.")
    appointments: list[AppointmentView]
    photographs: list[PhotographReceipt]
    versions: list[VersionView] = Field(description="Every saved draft, with what changed.")
    notes: list[NoteView] = Field(description="Peer review verdicts and legal's requests.")
    approved_by: str | None


def case_view(case: ReviewCase, review: Review) -> CaseView:
    """The case as its readers see it; legal's comments, sealed on the case, opened."""
    view = CaseView.model_validate(case, from_attributes=True)
    for note, shown in zip(case.notes, view.notes, strict=True):
        if note.verdict is ReviewerVerdict.LEGAL_CHANGES:
            shown.comments = review.open_legal_comments(case, note.comments)
    return view


def case_views(cases: list[ReviewCase], review: Review) -> list[CaseView]:
    return [case_view(case, review) for case in cases]


class RiskView(BaseModel):
    kind: str
    due: date


class AtRiskItem(BaseModel):
    case_id: uuid.UUID
    reference: str
    status: str
    clinician_id: str | None
    risks: list[RiskView]
    escalated: list[str] = Field(description="The kinds already raised as case.escalated.")

    @classmethod
    def of(cls, case: ReviewCase, risks: list[Risk]) -> AtRiskItem:
        return cls(
            case_id=case.case_id,
            reference=case.reference,
            status=case.status,
            clinician_id=case.clinician_id,
            risks=[RiskView.model_validate(r, from_attributes=True) for r in risks],
            escalated=case.escalations,
        )


class ConsentView(BaseModel):
    given: bool
    recorded_by: str
    recorded_at: datetime


class AppointmentView(BaseModel):
    appointment_id: uuid.UUID
    on: date
    remote: bool
    interpreter_language: str | None
    booked_by: str
    examination_consent: ConsentView | None
    photography_consent: ConsentView | None


class PhotographReceipt(BaseModel):
    photograph_id: uuid.UUID
    content_type: str
    size: int
    sha256: str


class VersionView(BaseModel):
    number: int
    saved_by: str
    saved_at: datetime
    changed: list[str]


class NoteView(BaseModel):
    verdict: str
    by: str
    at: datetime
    draft_version: int
    comments: str


class DecisionView(BaseModel):
    outcome: Outcome
    by: str
    at: datetime
    eligibility: EligibilityChecklist | None


class SuggestionView(BaseModel):
    clinician_id: str
    name: str
    score: int
    eligible: bool
    reasons: list[str]
