"""Intake's HTTP API, for referral partners."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, status
from pydantic import BaseModel

from corroborate.auth import Principal, Role
from corroborate.http import (
    CorrelationId,
    ErrorAnswers,
    FieldError,
    InvalidFields,
    answering,
    problem_responses,
    require_roles,
)
from corroborate.mongo import ConcurrencyConflict
from intake.domain.referral import (
    DocumentKind,
    DocumentRecord,
    InvalidTransition,
    Referral,
    ReferralDetails,
    SubmissionIncomplete,
)
from intake.service import DocumentTooLarge, DocumentTypeRefused, Intake, NotFound

Partner = Annotated[Principal, Depends(require_roles(Role.PARTNER))]

ERRORS: ErrorAnswers = {
    NotFound: (status.HTTP_404_NOT_FOUND, "no such referral"),
    InvalidTransition: (status.HTTP_409_CONFLICT, None),
    ConcurrencyConflict: (status.HTTP_409_CONFLICT, "the referral changed; reload and retry"),
    DocumentTypeRefused: (status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, None),
    DocumentTooLarge: (status.HTTP_413_CONTENT_TOO_LARGE, None),
}


def _intake(request: Request) -> Intake:
    intake: Intake = request.app.state.intake
    return intake


IntakeService = Annotated[Intake, Depends(_intake)]


class DocumentReceipt(BaseModel):
    """Proof of what was received: the hash is the evidence's fingerprint from that moment."""

    document_id: uuid.UUID
    kind: DocumentKind
    content_type: str
    size: int
    sha256: str
    received_at: datetime


class StatusChange(BaseModel):
    status: str
    at: datetime


class IssuedReport(BaseModel):
    report_id: uuid.UUID
    version: int
    sha256: str
    size: int
    issued_at: datetime
    link_endpoint: str


class ReferralView(BaseModel):
    """What the partner sees of their referral (identity stays sealed at rest)."""

    case_id: uuid.UUID
    reference: str
    status: str
    created_at: datetime
    submitted_at: datetime | None
    documents: list[DocumentReceipt]
    history: list[StatusChange]
    report: IssuedReport | None


def _receipt(d: DocumentRecord) -> DocumentReceipt:
    return DocumentReceipt(
        document_id=d.document_id,
        kind=d.kind,
        content_type=d.content_type,
        size=d.size,
        sha256=d.sha256,
        received_at=d.received_at,
    )


def _view(referral: Referral, reporting_url: str) -> ReferralView:
    report: IssuedReport | None = None
    if referral.report:
        info: dict[str, Any] = referral.report
        report = IssuedReport(
            report_id=info["report_id"],
            version=info["version"],
            sha256=info["sha256"],
            size=info["size"],
            issued_at=info["issued_at"],
            link_endpoint=f"{reporting_url}/cases/{referral.case_id}/report/link",
        )
    return ReferralView(
        case_id=referral.case_id,
        reference=referral.reference,
        status=referral.status.value,
        created_at=referral.created_at,
        submitted_at=referral.submitted_at,
        documents=[_receipt(d) for d in referral.documents],
        history=[StatusChange(status=s.value, at=at) for s, at in referral.status_history],
        report=report,
    )


def build_router(*, reporting_url: str) -> APIRouter:
    router = APIRouter(prefix="/referrals", tags=["referrals"])

    @router.post(
        "",
        status_code=status.HTTP_201_CREATED,
        responses=problem_responses(401, 403, 422),
        summary="Start a referral (a draft until submitted)",
    )
    async def create_referral(
        details: ReferralDetails, caller: Partner, intake: IntakeService
    ) -> ReferralView:
        return _view(await intake.create_draft(caller=caller, details=details), reporting_url)

    @router.get("", responses=problem_responses(401, 403), summary="This organisation's referrals")
    async def list_referrals(
        caller: Partner,
        intake: IntakeService,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
    ) -> list[ReferralView]:
        return [_view(r, reporting_url) for r in await intake.list(caller=caller, limit=limit)]

    @router.get("/{case_id}", responses=problem_responses(401, 403, 404), summary="One referral")
    async def get_referral(
        case_id: uuid.UUID, caller: Partner, intake: IntakeService
    ) -> ReferralView:
        with answering(ERRORS):
            stored = await intake.get(caller=caller, case_id=case_id)
        return _view(stored.referral, reporting_url)

    @router.post(
        "/{case_id}/documents",
        status_code=status.HTTP_201_CREATED,
        responses={
            **problem_responses(401, 403, 404, 409),
            413: {"description": "larger than the configured limit; nothing stored"},
            415: {"description": "not an allowed type, judged from the bytes; nothing stored"},
        },
        summary="Attach a document (the request body is the file)",
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
                },
            }
        },
    )
    async def upload_document(
        case_id: uuid.UUID,
        request: Request,
        caller: Partner,
        intake: IntakeService,
        kind: Annotated[DocumentKind, Query(description="What the document is.")],
    ) -> DocumentReceipt:
        with answering(ERRORS):
            record = await intake.add_document(
                caller=caller, case_id=case_id, kind=kind, body=request.stream()
            )
        return _receipt(record)

    @router.post(
        "/{case_id}/submit",
        responses=problem_responses(401, 403, 404, 409, 422),
        summary="Submit a complete referral for triage",
    )
    async def submit_referral(
        case_id: uuid.UUID, caller: Partner, intake: IntakeService, correlation: CorrelationId
    ) -> ReferralView:
        try:
            with answering(ERRORS):
                referral = await intake.submit(
                    caller=caller, case_id=case_id, correlation_id=correlation
                )
        except SubmissionIncomplete as exc:
            raise InvalidFields(
                "the referral is incomplete",
                [
                    FieldError(field=m.split(":")[0], rule="required_for_submission", message=m)
                    for m in exc.missing
                ],
            ) from exc
        return _view(referral, reporting_url)

    return router
