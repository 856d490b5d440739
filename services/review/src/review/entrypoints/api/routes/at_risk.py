"""Cases whose deadlines are at risk or missed."""

from __future__ import annotations

from fastapi import APIRouter

from corroborate.http import Coordinator, problem_responses
from review.entrypoints.api.deps import ReviewService
from review.entrypoints.api.schemas import AtRiskItem

router = APIRouter(tags=["triage"])


@router.get(
    "/at-risk",
    responses=problem_responses(401, 403),
    summary="Cases with a deadline at risk or missed, most overdue first",
)
async def at_risk(caller: Coordinator, review: ReviewService) -> list[AtRiskItem]:
    return [AtRiskItem.of(case, risks) for case, risks in await review.at_risk()]
