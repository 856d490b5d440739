"""Assigning a clinician to a case, with suggestions of who fits best."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from corroborate.http import Coordinator, problem_responses
from review.entrypoints.api.deps import ReviewService
from review.entrypoints.api.schemas import AssignmentRequest, CaseView, SuggestionView, case_view

router = APIRouter(tags=["assignment"])


@router.post(
    "/cases/{case_id}/assignment",
    responses=problem_responses(401, 403, 404, 409, 422),
    summary="Assign (or reassign) a clinician",
)
async def assign(
    case_id: uuid.UUID, body: AssignmentRequest, caller: Coordinator, review: ReviewService
) -> CaseView:
    case = await review.assign(
        caller=caller, case_id=case_id, clinician_id=body.clinician_id, reason=body.reason
    )
    return case_view(case, review)


@router.get(
    "/cases/{case_id}/suggestions",
    responses=problem_responses(401, 403, 404),
    summary="Clinicians for this case, best fit first, each with the reasons",
)
async def suggestions(
    case_id: uuid.UUID, caller: Coordinator, review: ReviewService
) -> list[SuggestionView]:
    found = await review.suggestions(caller=caller, case_id=case_id)
    return [SuggestionView.model_validate(s, from_attributes=True) for s in found]
