"""Legal review: the queue of approved drafts, sending one back, and signing it off."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from corroborate.http import Legal, problem_responses
from reporting.entrypoints.api.deps import IssuingService, LegalQueueService
from reporting.entrypoints.api.schemas import ChangesRequest, LegalReviewView, SignOffRequest

router = APIRouter(tags=["legal review"])


@router.get(
    "/legal-reviews",
    responses=problem_responses(401, 403),
    summary="Approved drafts awaiting legal review, by deadline",
)
async def legal_queue(caller: Legal, legal: LegalQueueService) -> list[LegalReviewView]:
    return [LegalReviewView.of(r) for r in await legal.queue()]


@router.get(
    "/legal-reviews/{case_id}",
    responses=problem_responses(401, 403, 404),
    summary="One case in legal review",
)
async def legal_review(
    case_id: uuid.UUID, caller: Legal, legal: LegalQueueService
) -> LegalReviewView:
    return LegalReviewView.of(await legal.get(case_id))


@router.post(
    "/legal-reviews/{case_id}/changes",
    responses=problem_responses(401, 403, 404, 409, 422),
    summary="Send the draft back to the clinician with comments (after issue: a correction)",
)
async def request_changes(
    case_id: uuid.UUID, body: ChangesRequest, caller: Legal, legal: LegalQueueService
) -> LegalReviewView:
    opened = await legal.request_changes(caller=caller, case_id=case_id, comments=body.comments)
    return LegalReviewView.of(opened)


@router.post(
    "/legal-reviews/{case_id}/sign-off",
    responses=problem_responses(401, 403, 404, 409, 422),
    summary="Sign off: the report is rendered, stored and issued",
)
async def sign_off(
    case_id: uuid.UUID, body: SignOffRequest, caller: Legal, issuing: IssuingService
) -> LegalReviewView:
    opened = await issuing.sign_off(caller=caller, case_id=case_id, statement=body.statement)
    return LegalReviewView.of(opened)
