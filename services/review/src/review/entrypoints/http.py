"""Review's HTTP API, for triage coordinators and clinicians."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, status
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from corroborate.auth import Principal, Role
from corroborate.events.contracts import ClinicalFindings, DocumentReference
from corroborate.evidence import ContentRefused
from corroborate.http import (
    ErrorAnswers,
    FieldError,
    InvalidFields,
    answering,
    problem_responses,
    require_roles,
)
from corroborate.mongo import ConcurrencyConflict
from corroborate.uploads import UploadTooLarge
from review.adapters.repository import CaseErasedError
from review.domain.assessment import ConsentRecord, ReviewerVerdict
from review.domain.case import (
    AssessmentRuleBroken,
    CaseStatus,
    DraftIncomplete,
    Eligibility,
    IneligibleForAcceptance,
    InvalidTransition,
    NotAssigned,
    Outcome,
    PhotographyRefused,
    RemitBasis,
    ReviewCase,
)
from review.domain.roster import Clinician as RosterClinician
from review.domain.roster import Discipline
from review.service import NotFound, NotOnRoster, PhotographRefused, Review

Coordinator = Annotated[Principal, Depends(require_roles(Role.COORDINATOR))]
Clinician = Annotated[Principal, Depends(require_roles(Role.CLINICIAN))]
CaseReader = Annotated[
    Principal, Depends(require_roles(Role.COORDINATOR, Role.CLINICIAN, Role.SENIOR_CLINICIAN))
]
Senior = Annotated[Principal, Depends(require_roles(Role.SENIOR_CLINICIAN))]
RosterKeeper = Annotated[Principal, Depends(require_roles(Role.COORDINATOR, Role.ADMIN))]


class RosterEntry(BaseModel):
    """A roster entry as sent; the clinician id is in the path."""

    model_config = ConfigDict(extra="forbid")

    name: str
    qualifications: str = ""
    disciplines: list[Discipline]
    languages: list[str] = []
    capacity: int
    senior: bool = False
    active: bool = True
    unavailable_from: date | None = None
    unavailable_until: date | None = None


def _review(request: Request) -> Review:
    review: Review = request.app.state.review
    return review


ReviewService = Annotated[Review, Depends(_review)]


ERRORS: ErrorAnswers = {
    NotFound: (status.HTTP_404_NOT_FOUND, "no such case"),
    NotAssigned: (status.HTTP_404_NOT_FOUND, "no such case"),
    InvalidTransition: (status.HTTP_409_CONFLICT, None),
    ConcurrencyConflict: (status.HTTP_409_CONFLICT, "the case changed; reload and retry"),
    PhotographyRefused: (status.HTTP_409_CONFLICT, None),
    CaseErasedError: (status.HTTP_410_GONE, "the case was erased; its contents are gone"),
    PhotographRefused: (status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, None),
    ContentRefused: (status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, None),
    UploadTooLarge: (status.HTTP_413_CONTENT_TOO_LARGE, None),
}


class TriageItem(BaseModel):
    case_id: uuid.UUID
    reference: str
    service_requested: str
    received_at: datetime
    response_due: datetime
    urgency: int
    reasons: list[str]


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


class AppointmentRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    on: date
    remote: bool = Field(description="Remote needs a safe, private space for the survivor.")
    interpreter_language: (
        Annotated[str, Field(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$", description="BCP 47")]
        | None
    ) = Field(default=None, description="The language of the interpreter booked, if any.")


class ConsentRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    examination: bool | None = Field(default=None, description="Consent to the examination.")
    photography: bool | None = Field(default=None, description="Consent, separately, to photos.")


class PeerReviewRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    verdict: Literal["approve", "return"]
    comments: Annotated[str, Field(max_length=5000)] = ""


class DecisionView(BaseModel):
    outcome: Outcome
    by: str
    at: datetime
    eligibility: EligibilityChecklist | None


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
        return Eligibility(
            within_remit=self.within_remit,
            remit_basis=self.remit_basis,
            material_to_claim=self.material_to_claim,
            documents_sufficient=self.documents_sufficient,
        )


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


class SuggestionView(BaseModel):
    clinician_id: str
    name: str
    score: int
    eligible: bool
    reasons: list[str]


def _view(case: ReviewCase, review: Review) -> CaseView:
    return CaseView(
        case_id=case.case_id,
        reference=case.reference,
        status=case.status.value,
        service_requested=case.service_requested,
        risk_flags=[f.value for f in case.risk_flags],
        received_at=case.received_at,
        response_due=case.response_due,
        report_due=case.report_due,
        clinician_id=case.clinician_id,
        assignments=[
            AssignmentView(
                clinician_id=a.clinician_id,
                assigned_by=a.assigned_by,
                assigned_at=a.assigned_at,
                reason=a.reason,
            )
            for a in case.assignments
        ],
        findings=case.findings,
        documents=case.documents,
        decisions=[
            DecisionView(
                outcome=d.outcome,
                by=d.by,
                at=d.at,
                eligibility=None
                if d.eligibility is None
                else EligibilityChecklist(
                    within_remit=d.eligibility.within_remit,
                    remit_basis=d.eligibility.remit_basis,
                    material_to_claim=d.eligibility.material_to_claim,
                    documents_sufficient=d.eligibility.documents_sufficient,
                ),
            )
            for d in case.decisions
        ],
        open_request=case.open_request,
        question_count=case.question_count,
        appointments=[
            AppointmentView(
                appointment_id=a.appointment_id,
                on=a.on,
                remote=a.remote,
                interpreter_language=a.interpreter_language,
                booked_by=a.booked_by,
                examination_consent=_consent(a.examination_consent),
                photography_consent=_consent(a.photography_consent),
            )
            for a in case.appointments
        ],
        photographs=[
            PhotographReceipt(
                photograph_id=p.photograph_id,
                content_type=p.content_type,
                size=p.size,
                sha256=p.sha256,
            )
            for p in case.photographs
        ],
        versions=[
            VersionView(
                number=v.number, saved_by=v.saved_by, saved_at=v.saved_at, changed=v.changed
            )
            for v in case.versions
        ],
        notes=[
            NoteView(
                verdict=n.verdict.value,
                by=n.by,
                at=n.at,
                draft_version=n.draft_version,
                comments=review.open_legal_comments(case, n.comments)
                if n.verdict is ReviewerVerdict.LEGAL_CHANGES
                else n.comments,
            )
            for n in case.notes
        ],
        approved_by=case.approved_by,
    )


def _consent(record: ConsentRecord | None) -> ConsentView | None:
    if record is None:
        return None
    return ConsentView(
        given=record.given, recorded_by=record.recorded_by, recorded_at=record.recorded_at
    )


@contextmanager
def answering_review() -> Iterator[None]:
    """Review's refusals as HTTP answers; a broken rule of the record names its field."""
    try:
        with answering(ERRORS):
            yield
    except AssessmentRuleBroken as exc:
        field, _, message = str(exc).partition(": ")
        raise InvalidFields(
            message, [FieldError(field=field, rule="assessment_rule", message=message)]
        ) from exc
    except DraftIncomplete as exc:
        raise InvalidFields(
            "the draft is not ready for peer review",
            [
                FieldError(field=m.split(":")[0], rule="required_for_peer_review", message=m)
                for m in exc.missing
            ],
        ) from exc


async def _run(review: Review, call: Callable[[], Coroutine[Any, Any, ReviewCase]]) -> CaseView:
    with answering_review():
        return _view(await call(), review)


def build_router() -> APIRouter:
    router = APIRouter()

    @router.get(
        "/triage",
        tags=["triage"],
        responses=problem_responses(401, 403),
        summary="Referrals awaiting triage, most urgent first",
    )
    async def triage_queue(
        caller: Coordinator,
        review: ReviewService,
        status_is: Annotated[
            Literal["awaiting_triage", "waitlisted", "information_requested"],
            Query(alias="status", description="Which undecided cases to list."),
        ] = "awaiting_triage",
    ) -> list[TriageItem]:
        return [
            TriageItem(
                case_id=q.case.case_id,
                reference=q.case.reference,
                service_requested=q.case.service_requested,
                received_at=q.case.received_at,
                response_due=q.case.response_due,
                urgency=q.urgency.score,
                reasons=q.urgency.reasons,
            )
            for q in await review.triage_queue(status=CaseStatus(status_is))
        ]

    @router.post(
        "/cases/{case_id}/decision",
        tags=["triage"],
        responses=problem_responses(401, 403, 404, 409, 422),
        summary="Record the panel's decision",
    )
    async def decide(
        case_id: uuid.UUID, decision: Decision, caller: Coordinator, review: ReviewService
    ) -> CaseView:
        eligibility = getattr(decision, "eligibility", None)
        message = getattr(decision, "reason", None) or getattr(decision, "question", None)
        try:
            return await _run(
                review,
                lambda: review.decide(
                    caller=caller,
                    case_id=case_id,
                    outcome=Outcome(decision.outcome),
                    eligibility=eligibility.domain() if eligibility else None,
                    message=message,
                ),
            )
        except IneligibleForAcceptance as exc:
            raise InvalidFields(
                "the eligibility checklist does not allow acceptance",
                [
                    FieldError(field=item.split(":")[0], rule="not_met", message=item)
                    for item in exc.unmet
                ],
            ) from exc

    @router.post(
        "/cases/{case_id}/assignment",
        tags=["assignment"],
        responses=problem_responses(401, 403, 404, 409, 422),
        summary="Assign (or reassign) a clinician",
    )
    async def assign(
        case_id: uuid.UUID, body: AssignmentRequest, caller: Coordinator, review: ReviewService
    ) -> CaseView:
        try:
            return await _run(
                review,
                lambda: review.assign(
                    caller=caller,
                    case_id=case_id,
                    clinician_id=body.clinician_id,
                    reason=body.reason,
                ),
            )
        except NotOnRoster as exc:
            raise InvalidFields(
                "no such clinician",
                [FieldError(field="clinician_id", rule="not_on_roster", message=str(exc))],
            ) from exc

    @router.get(
        "/cases/{case_id}/suggestions",
        tags=["assignment"],
        responses=problem_responses(401, 403, 404),
        summary="Clinicians for this case, best fit first, each with the reasons",
    )
    async def suggestions(
        case_id: uuid.UUID, caller: Coordinator, review: ReviewService
    ) -> list[SuggestionView]:
        with answering(ERRORS):
            found = await review.suggestions(caller=caller, case_id=case_id)
        return [
            SuggestionView(
                clinician_id=s.clinician_id,
                name=s.name,
                score=s.score,
                eligible=s.eligible,
                reasons=s.reasons,
            )
            for s in found
        ]

    @router.put(
        "/roster/{clinician_id}",
        tags=["roster"],
        responses=problem_responses(401, 403, 422),
        summary="Add a clinician to the roster or change their entry (leave, capacity, leaving)",
    )
    async def put_clinician(
        clinician_id: str, body: RosterEntry, caller: RosterKeeper, review: ReviewService
    ) -> RosterClinician:
        try:
            clinician = RosterClinician.model_validate(
                {"clinician_id": clinician_id, **body.model_dump()}
            )
        except ValidationError as exc:
            raise InvalidFields(
                f"{exc.error_count()} field(s) invalid",
                [
                    FieldError(
                        field=".".join(str(p) for p in e["loc"]),
                        rule=e["type"],
                        message=e["msg"],
                    )
                    for e in exc.errors(include_input=False)
                ],
            ) from exc
        return await review.put_clinician(caller=caller, clinician=clinician)

    @router.get(
        "/roster",
        tags=["roster"],
        responses=problem_responses(401, 403),
        summary="Every clinician on the roster",
    )
    async def roster(caller: RosterKeeper, review: ReviewService) -> list[RosterClinician]:
        return await review.roster()

    @router.get(
        "/cases/mine",
        tags=["assessment"],
        responses=problem_responses(401, 403),
        summary="The cases assigned to the calling clinician",
    )
    async def my_cases(caller: Clinician, review: ReviewService) -> list[CaseView]:
        return [_view(c, review) for c in await review.my_cases(caller=caller)]

    @router.get(
        "/cases/{case_id}",
        tags=["assessment"],
        responses=problem_responses(401, 403, 404),
        summary="One case",
    )
    async def get_case(case_id: uuid.UUID, caller: CaseReader, review: ReviewService) -> CaseView:
        async def load() -> ReviewCase:
            return (await review.get(caller=caller, case_id=case_id)).case

        return await _run(review, load)

    @router.put(
        "/cases/{case_id}/findings",
        tags=["assessment"],
        responses=problem_responses(401, 403, 404, 409, 422),
        summary="Record the clinician's findings (Istanbul Protocol)",
    )
    async def record_findings(
        case_id: uuid.UUID, findings: ClinicalFindings, caller: Clinician, review: ReviewService
    ) -> CaseView:
        return await _run(
            review,
            lambda: review.record_findings(caller=caller, case_id=case_id, findings=findings),
        )

    @router.post(
        "/cases/{case_id}/findings/submit",
        tags=["assessment"],
        responses=problem_responses(401, 403, 404, 409, 422),
        summary="Send the draft to clinical peer review (every missing item listed if not ready)",
    )
    async def submit_findings(
        case_id: uuid.UUID, caller: Clinician, review: ReviewService
    ) -> CaseView:
        return await _run(review, lambda: review.submit(caller=caller, case_id=case_id))

    @router.post(
        "/cases/{case_id}/appointments",
        tags=["assessment"],
        status_code=status.HTTP_201_CREATED,
        responses=problem_responses(401, 403, 404, 409, 422),
        summary="Book an appointment (tells the partner the date)",
    )
    async def book_appointment(
        case_id: uuid.UUID, body: AppointmentRequest, caller: CaseReader, review: ReviewService
    ) -> CaseView:
        return await _run(
            review,
            lambda: review.book_appointment(
                caller=caller,
                case_id=case_id,
                on=body.on,
                remote=body.remote,
                interpreter_language=body.interpreter_language,
            ),
        )

    @router.put(
        "/cases/{case_id}/appointments/{appointment_id}/consent",
        tags=["assessment"],
        responses=problem_responses(401, 403, 404, 409, 422),
        summary="Record consent to the examination and, separately, to photography",
    )
    async def record_consent(
        case_id: uuid.UUID,
        appointment_id: uuid.UUID,
        body: ConsentRequest,
        caller: Clinician,
        review: ReviewService,
    ) -> CaseView:
        return await _run(
            review,
            lambda: review.record_consent(
                caller=caller,
                case_id=case_id,
                appointment_id=appointment_id,
                examination=body.examination,
                photography=body.photography,
            ),
        )

    @router.post(
        "/cases/{case_id}/photographs",
        tags=["assessment"],
        status_code=status.HTTP_201_CREATED,
        responses={
            **problem_responses(401, 403, 404, 409, 422),
            413: {"description": "larger than the limit; nothing stored"},
            415: {"description": "not a photograph, judged from its bytes; nothing stored"},
        },
        summary="Attach a photograph taken at an appointment with consent to photography",
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
                },
            }
        },
    )
    async def add_photograph(
        case_id: uuid.UUID,
        request: Request,
        caller: Clinician,
        review: ReviewService,
        appointment_id: Annotated[uuid.UUID, Query(description="Where it was taken.")],
    ) -> PhotographReceipt:
        with answering_review():
            photo = await review.add_photograph(
                caller=caller,
                case_id=case_id,
                appointment_id=appointment_id,
                body=request.stream(),
            )
        return PhotographReceipt(
            photograph_id=photo.photograph_id,
            content_type=photo.content_type,
            size=photo.size,
            sha256=photo.sha256,
        )

    @router.get(
        "/at-risk",
        tags=["triage"],
        responses=problem_responses(401, 403),
        summary="Cases with a deadline at risk or missed, most overdue first",
    )
    async def at_risk(caller: Coordinator, review: ReviewService) -> list[AtRiskItem]:
        return [
            AtRiskItem(
                case_id=case.case_id,
                reference=case.reference,
                status=case.status.value,
                clinician_id=case.clinician_id,
                risks=[RiskView(kind=r.kind.value, due=r.due) for r in risks],
                escalated=case.escalations,
            )
            for case, risks in await review.at_risk()
        ]

    @router.get(
        "/peer-review",
        tags=["peer review"],
        responses=problem_responses(401, 403),
        summary="Drafts awaiting clinical peer review (never the caller's own)",
    )
    async def peer_review_queue(caller: Senior, review: ReviewService) -> list[CaseView]:
        return [_view(c, review) for c in await review.peer_review_queue(caller=caller)]

    @router.post(
        "/cases/{case_id}/peer-review",
        tags=["peer review"],
        responses=problem_responses(401, 403, 404, 409, 422),
        summary="Approve the draft (it goes to legal review) or return it with comments",
    )
    async def peer_review(
        case_id: uuid.UUID, body: PeerReviewRequest, caller: Senior, review: ReviewService
    ) -> CaseView:
        return await _run(
            review,
            lambda: review.peer_review(
                caller=caller,
                case_id=case_id,
                approve=body.verdict == "approve",
                comments=body.comments,
            ),
        )

    return router
