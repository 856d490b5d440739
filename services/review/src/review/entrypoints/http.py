"""Review's HTTP API, for triage coordinators and clinicians."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Coroutine
from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request, status
from pydantic import BaseModel, ConfigDict, Field

from corroborate.auth import Principal, Role
from corroborate.events.contracts import ClinicalFindings
from corroborate.http import ErrorAnswers, answering, problem_responses, require_roles
from corroborate.mongo import ConcurrencyConflict
from review.domain.case import InvalidTransition, NotAssigned, ReviewCase
from review.service import NotFound, Review

Coordinator = Annotated[Principal, Depends(require_roles(Role.COORDINATOR))]
Clinician = Annotated[Principal, Depends(require_roles(Role.CLINICIAN))]
CaseReader = Annotated[Principal, Depends(require_roles(Role.COORDINATOR, Role.CLINICIAN))]


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


class CaseView(BaseModel):
    case_id: uuid.UUID
    reference: str
    status: str
    service_requested: str
    risk_flags: list[str]
    received_at: datetime
    report_due: date | None
    clinician_id: str | None
    assignments: list[AssignmentView]
    findings: ClinicalFindings | None


class Decision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: Literal["accept"] = Field(description="The panel's outcome for the referral.")


class AssignmentRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    clinician_id: Annotated[str, Field(min_length=1, max_length=200)]


def _view(case: ReviewCase) -> CaseView:
    return CaseView(
        case_id=case.case_id,
        reference=case.reference,
        status=case.status.value,
        service_requested=case.service_requested,
        risk_flags=[f.value for f in case.risk_flags],
        received_at=case.received_at,
        report_due=case.report_due,
        clinician_id=case.clinician_id,
        assignments=[
            AssignmentView(
                clinician_id=a.clinician_id, assigned_by=a.assigned_by, assigned_at=a.assigned_at
            )
            for a in case.assignments
        ],
        findings=case.findings,
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
    async def triage_queue(caller: Coordinator, review: ReviewService) -> list[TriageItem]:
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
            for q in await review.triage_queue()
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
        return await _run(lambda: review.accept(caller=caller, case_id=case_id))

    @router.post(
        "/cases/{case_id}/assignment",
        tags=["assignment"],
        responses=problem_responses(401, 403, 404, 409, 422),
        summary="Assign (or reassign) a clinician",
    )
    async def assign(
        case_id: uuid.UUID, body: AssignmentRequest, caller: Coordinator, review: ReviewService
    ) -> CaseView:
        return await _run(
            lambda: review.assign(caller=caller, case_id=case_id, clinician_id=body.clinician_id)
        )

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
