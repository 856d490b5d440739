"""A clinician's cases and their findings: reading a case, saving the draft, submitting it."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from corroborate.events.contracts import ClinicalFindings
from corroborate.http import Clinician, problem_responses
from review.entrypoints.api.deps import CaseReader, ReviewService
from review.entrypoints.api.schemas import CaseView, case_view, case_views

router = APIRouter(tags=["assessment"])


# Before ``/cases/{case_id}``, which would otherwise take "mine" for a case id.
@router.get(
    "/cases/mine",
    responses=problem_responses(401, 403),
    summary="The cases assigned to the calling clinician",
)
async def my_cases(caller: Clinician, review: ReviewService) -> list[CaseView]:
    return case_views(await review.my_cases(caller=caller), review)


@router.get(
    "/cases/{case_id}",
    responses=problem_responses(401, 403, 404),
    summary="One case",
)
async def get_case(case_id: uuid.UUID, caller: CaseReader, review: ReviewService) -> CaseView:
    stored = await review.get(caller=caller, case_id=case_id)
    return case_view(stored.aggregate, review)


@router.put(
    "/cases/{case_id}/findings",
    responses=problem_responses(401, 403, 404, 409, 422),
    summary="Record the clinician's findings (Istanbul Protocol)",
)
async def record_findings(
    case_id: uuid.UUID, findings: ClinicalFindings, caller: Clinician, review: ReviewService
) -> CaseView:
    case = await review.record_findings(caller=caller, case_id=case_id, findings=findings)
    return case_view(case, review)


@router.post(
    "/cases/{case_id}/findings/submit",
    responses=problem_responses(401, 403, 404, 409, 422),
    summary="Send the draft to clinical peer review (every missing item listed if not ready)",
)
async def submit_findings(case_id: uuid.UUID, caller: Clinician, review: ReviewService) -> CaseView:
    return case_view(await review.submit(caller=caller, case_id=case_id), review)
