"""The triage queue and the panel's decision."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from corroborate.http import Coordinator, problem_responses
from review.domain.case import CaseStatus, Outcome
from review.entrypoints.api.deps import ReviewService
from review.entrypoints.api.schemas import CaseView, Decision, TriageItem, case_view

router = APIRouter(tags=["triage"])


@router.get(
    "/triage",
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
    return [TriageItem.of(q) for q in await review.triage_queue(status=CaseStatus(status_is))]


@router.post(
    "/cases/{case_id}/decision",
    responses=problem_responses(401, 403, 404, 409, 422),
    summary="Record the panel's decision",
)
async def decide(
    case_id: uuid.UUID, decision: Decision, caller: Coordinator, review: ReviewService
) -> CaseView:
    eligibility = getattr(decision, "eligibility", None)
    message = getattr(decision, "reason", None) or getattr(decision, "question", None)
    case = await review.decide(
        caller=caller,
        case_id=case_id,
        outcome=Outcome(decision.outcome),
        eligibility=eligibility.domain() if eligibility else None,
        message=message,
    )
    return case_view(case, review)
