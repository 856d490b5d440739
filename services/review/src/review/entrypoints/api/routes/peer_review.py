"""Clinical peer review of drafts, by senior clinicians."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from corroborate.http import SeniorClinician, problem_responses
from review.entrypoints.api.deps import ReviewService
from review.entrypoints.api.schemas import CaseView, PeerReviewRequest, case_view, case_views

router = APIRouter(tags=["peer review"])


@router.get(
    "/peer-review",
    responses=problem_responses(401, 403),
    summary="Drafts awaiting clinical peer review (never the caller's own)",
)
async def peer_review_queue(caller: SeniorClinician, review: ReviewService) -> list[CaseView]:
    return case_views(await review.peer_review_queue(caller=caller), review)


@router.post(
    "/cases/{case_id}/peer-review",
    responses=problem_responses(401, 403, 404, 409, 422),
    summary="Approve the draft (it goes to legal review) or return it with comments",
)
async def peer_review(
    case_id: uuid.UUID, body: PeerReviewRequest, caller: SeniorClinician, review: ReviewService
) -> CaseView:
    case = await review.peer_review(
        caller=caller, case_id=case_id, approve=body.verdict == "approve", comments=body.comments
    )
    return case_view(case, review)
