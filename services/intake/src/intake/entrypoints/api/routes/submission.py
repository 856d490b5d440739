"""What happens to a referral after its draft: submission, withdrawal, answers to triage."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response

from corroborate.http import CorrelationId, Partner, problem_responses
from intake.entrypoints.api.deps import IdempotencyKey, IntakeService
from intake.entrypoints.api.routes.replay import mark_replayed
from intake.entrypoints.api.schemas import InformationAnswer, ReferralView, Withdrawal

router = APIRouter(prefix="/referrals", tags=["referrals"])


@router.post(
    "/{case_id}/submit",
    responses=problem_responses(401, 403, 404, 409, 422),
    summary="Submit a complete referral for triage (every missing item listed if not)",
)
async def submit_referral(
    *,
    case_id: uuid.UUID,
    caller: Partner,
    intake: IntakeService,
    correlation: CorrelationId,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> ReferralView:
    result = await intake.submission.submit(
        caller=caller,
        case_id=case_id,
        correlation_id=correlation,
        idempotency_key=idempotency_key,
    )
    mark_replayed(response, result)
    return ReferralView.of(result.value)


@router.post(
    "/{case_id}/withdraw",
    responses=problem_responses(401, 403, 404, 409, 422),
    summary="Withdraw a referral, with a reason; every service stops work on it",
)
async def withdraw_referral(
    *,
    case_id: uuid.UUID,
    body: Withdrawal,
    caller: Partner,
    intake: IntakeService,
    correlation: CorrelationId,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> ReferralView:
    result = await intake.submission.withdraw(
        caller=caller,
        case_id=case_id,
        reason=body.reason,
        correlation_id=correlation,
        idempotency_key=idempotency_key,
    )
    mark_replayed(response, result)
    return ReferralView.of(result.value)


@router.post(
    "/{case_id}/information",
    responses=problem_responses(401, 403, 404, 409, 422),
    summary="Answer triage's request for more information; the case returns to triage",
)
async def answer_request(
    *,
    case_id: uuid.UUID,
    body: InformationAnswer,
    caller: Partner,
    intake: IntakeService,
    correlation: CorrelationId,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> ReferralView:
    result = await intake.submission.provide_information(
        caller=caller,
        case_id=case_id,
        request_id=body.request_id,
        answer=body.answer,
        document_ids=body.document_ids,
        correlation_id=correlation,
        idempotency_key=idempotency_key,
    )
    mark_replayed(response, result)
    return ReferralView.of(result.value)
