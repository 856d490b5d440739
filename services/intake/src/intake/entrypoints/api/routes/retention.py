"""Admins: legal-claims holds, and erasure by destroying the case's data key."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from corroborate.http import Admin, CorrelationId, problem_responses
from intake.entrypoints.api.deps import IntakeService
from intake.entrypoints.api.schemas import ErasureRequest, HoldRequest, RetentionView

router = APIRouter(prefix="/cases", tags=["retention"])


@router.put(
    "/{case_id}/legal-hold",
    responses=problem_responses(401, 403, 404, 422),
    summary="Set a legal-claims hold (erasure is refused while it is set)",
)
async def set_hold(
    *, case_id: uuid.UUID, body: HoldRequest, caller: Admin, intake: IntakeService
) -> RetentionView:
    referral = await intake.retention.set_hold(caller=caller, case_id=case_id, reason=body.reason)
    return RetentionView.of(referral)


@router.delete(
    "/{case_id}/legal-hold",
    responses=problem_responses(401, 403, 404),
    summary="Lift the legal-claims hold",
)
async def lift_hold(*, case_id: uuid.UUID, caller: Admin, intake: IntakeService) -> RetentionView:
    referral = await intake.retention.set_hold(caller=caller, case_id=case_id, reason=None)
    return RetentionView.of(referral)


@router.post(
    "/{case_id}/erasure",
    responses=problem_responses(401, 403, 404, 409, 422),
    summary="Erase the case: its data key is destroyed here and in every service",
)
async def erase(
    *,
    case_id: uuid.UUID,
    body: ErasureRequest,
    caller: Admin,
    intake: IntakeService,
    correlation: CorrelationId,
) -> RetentionView:
    referral = await intake.retention.erase(
        caller=caller, case_id=case_id, reason=body.reason, correlation_id=correlation
    )
    return RetentionView.of(referral)
