"""Review's HTTP API, for triage coordinators and clinicians."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Coroutine
from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, status
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from corroborate.auth import Principal, Role
from corroborate.events.contracts import ClinicalFindings, DocumentReference
from corroborate.http import (
    ErrorAnswers,
    FieldError,
    InvalidFields,
    answering,
    problem_responses,
    require_roles,
)
from corroborate.mongo import ConcurrencyConflict
from review.domain.case import (
    CaseStatus,
    Eligibility,
    IneligibleForAcceptance,
    InvalidTransition,
    NotAssigned,
    Outcome,
    RemitBasis,
    ReviewCase,
)
from review.domain.roster import Clinician as RosterClinician
from review.domain.roster import Discipline
from review.service import NotFound, NotOnRoster, Review

Coordinator = Annotated[Principal, Depends(require_roles(Role.COORDINATOR))]
Clinician = Annotated[Principal, Depends(require_roles(Role.CLINICIAN))]
CaseReader = Annotated[Principal, Depends(require_roles(Role.COORDINATOR, Role.CLINICIAN))]
RosterKeeper = Annotated[Principal, Depends(require_roles(Role.COORDINATOR, Role.ADMIN))]


class RosterEntry(BaseModel):
    """A roster entry as sent; the clinician id is in the path."""

    model_config = ConfigDict(extra="forbid")

    name: str
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


def _view(case: ReviewCase) -> CaseView:
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
    )


async def _run(call: Callable[[], Coroutine[Any, Any, ReviewCase]]) -> CaseView:
    with answering(ERRORS):
        return _view(await call())


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
                lambda: review.decide(
                    caller=caller,
                    case_id=case_id,
                    outcome=Outcome(decision.outcome),
                    eligibility=eligibility.domain() if eligibility else None,
                    message=message,
                )
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
                lambda: review.assign(
                    caller=caller,
                    case_id=case_id,
                    clinician_id=body.clinician_id,
                    reason=body.reason,
                )
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
        return await review.put_clinician(clinician)

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
        return [_view(c) for c in await review.my_cases(caller=caller)]

    @router.get(
        "/cases/{case_id}",
        tags=["assessment"],
        responses=problem_responses(401, 403, 404),
        summary="One case",
    )
    async def get_case(case_id: uuid.UUID, caller: CaseReader, review: ReviewService) -> CaseView:
        async def load() -> ReviewCase:
            return (await review.get(caller=caller, case_id=case_id)).case

        return await _run(load)

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
            lambda: review.record_findings(caller=caller, case_id=case_id, findings=findings)
        )

    @router.post(
        "/cases/{case_id}/findings/submit",
        tags=["assessment"],
        responses=problem_responses(401, 403, 404, 409),
        summary="Submit the findings for the report",
    )
    async def submit_findings(
        case_id: uuid.UUID, caller: Clinician, review: ReviewService
    ) -> CaseView:
        return await _run(lambda: review.complete(caller=caller, case_id=case_id))

    return router
