"""Intake's HTTP API, for referral partners."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Header, Query, Request, Response, status
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field
from starlette.requests import ClientDisconnect

from corroborate.auth import Principal, Role
from corroborate.crypto import DecryptionError
from corroborate.events.contracts import ErasureReason
from corroborate.evidence import ContentRefused
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
from corroborate.storage import IntegrityError
from corroborate.uploads import UploadTooLarge
from intake.adapters.repository import CaseErasedError, InvalidCursor
from intake.domain.referral import (
    DocumentKind,
    DocumentRecord,
    InvalidTransition,
    LegalHoldSet,
    Referral,
    ReferralStatus,
    SubmissionIncomplete,
)
from intake.service import (
    DocumentTypeRefused,
    DocumentUnreadable,
    DraftInvalid,
    IdempotencyKeyReused,
    Intake,
    NotFound,
    ReferralRead,
    Replayed,
    UploadInterrupted,
)

Partner = Annotated[Principal, Depends(require_roles(Role.PARTNER))]
Admin = Annotated[Principal, Depends(require_roles(Role.ADMIN))]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        pattern=r"^[A-Za-z0-9._:-]{8,100}$",
        description="Retrying with the same key repeats nothing: one referral, one document.",
    ),
]
REPLAYED_HEADER = "Idempotent-Replayed"

ERRORS: ErrorAnswers = {
    NotFound: (status.HTTP_404_NOT_FOUND, "no such referral"),
    InvalidTransition: (status.HTTP_409_CONFLICT, None),
    ConcurrencyConflict: (status.HTTP_409_CONFLICT, "the referral changed; reload and retry"),
    DocumentTypeRefused: (status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, None),
    UploadTooLarge: (status.HTTP_413_CONTENT_TOO_LARGE, None),
    ContentRefused: (status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, None),
    UploadInterrupted: (status.HTTP_400_BAD_REQUEST, None),
    CaseErasedError: (status.HTTP_410_GONE, "the case was erased; its contents are gone"),
    LegalHoldSet: (status.HTTP_409_CONFLICT, None),
    IntegrityError: (
        status.HTTP_500_INTERNAL_SERVER_ERROR,
        "the stored document failed its integrity check; it was not sent",
    ),
    DecryptionError: (
        status.HTTP_500_INTERNAL_SERVER_ERROR,
        "the stored document failed its integrity check; it was not sent",
    ),
}


@contextmanager
def answering_partner() -> Iterator[None]:
    """Intake's refusals as HTTP answers; field-level ones as a 422 naming field and rule."""
    try:
        with answering(ERRORS):
            yield
    except DraftInvalid as exc:
        raise InvalidFields(
            f"{len(exc.errors)} field(s) invalid",
            [
                FieldError(
                    field=".".join(str(p) for p in e["loc"]) or "(body)",
                    rule=e["type"],
                    message=e["msg"],
                )
                for e in exc.errors
            ],
        ) from exc
    except SubmissionIncomplete as exc:
        raise InvalidFields(
            "the referral is incomplete",
            [
                FieldError(field=m.split(":")[0], rule="required_for_submission", message=m)
                for m in exc.missing
            ],
        ) from exc
    except IdempotencyKeyReused as exc:
        raise InvalidFields(
            "Idempotency-Key already used",
            [
                FieldError(
                    field="Idempotency-Key",
                    rule="reused_for_a_different_request",
                    message="this key was used for a different request; use a new key",
                )
            ],
        ) from exc
    except (InvalidCursor, DocumentUnreadable) as exc:
        field, _, message = str(exc).partition(": ")
        rule = "invalid_cursor" if isinstance(exc, InvalidCursor) else "unreadable_content"
        raise InvalidFields(message, [FieldError(field=field, rule=rule, message=message)]) from exc


def _intake(request: Request) -> Intake:
    intake: Intake = request.app.state.intake
    return intake


IntakeService = Annotated[Intake, Depends(_intake)]


class WorkingCopyReceipt(BaseModel):
    content_type: str
    size: int
    sha256: str


class DocumentReceipt(BaseModel):
    """Proof of what was received: the hash is the evidence's fingerprint from that moment."""

    document_id: uuid.UUID
    kind: DocumentKind
    content_type: str
    size: int
    sha256: str
    received_at: datetime
    working_copy: WorkingCopyReceipt | None = Field(
        description="For images: a copy without EXIF/GPS metadata, made for clinicians."
    )


class StatusChangeView(BaseModel):
    status: ReferralStatus
    at: datetime
    deadline: date | None
    note: str | None = Field(
        description="The question asked, the reason given, or the answer sent, if any."
    )


class IssuedReport(BaseModel):
    report_id: uuid.UUID
    version: int
    sha256: str
    size: int
    issued_at: datetime


class ReferralSummary(BaseModel):
    """A referral in a list: no identity, only where it stands."""

    case_id: uuid.UUID
    reference: str
    status: ReferralStatus
    created_at: datetime
    submitted_at: datetime | None
    updated_at: datetime
    deadline: date | None


class ReferralPage(BaseModel):
    items: list[ReferralSummary]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page.")


class ReferralView(ReferralSummary):
    """One referral as its partner sees it: the form, the evidence, the timeline."""

    details: dict[str, Any] = Field(description="The referral form as given so far.")
    missing: list[str] = Field(description="What a draft still needs before it can be submitted.")
    documents: list[DocumentReceipt]
    timeline: list[StatusChangeView]
    open_request: uuid.UUID | None = Field(description="The triage question awaiting an answer.")
    report: IssuedReport | None
    report_versions: list[IssuedReport]


class Withdrawal(BaseModel):
    reason: Annotated[str, Field(min_length=3, max_length=2000)]


class InformationAnswer(BaseModel):
    request_id: uuid.UUID
    answer: Annotated[str, Field(min_length=1, max_length=20_000)]
    document_ids: list[uuid.UUID] = Field(
        default=[], description="Documents uploaded to answer the question."
    )


class ReportLinkView(BaseModel):
    report_id: uuid.UUID
    version: int
    sha256: str
    url: str = Field(description="Reporting's download endpoint, signed for this organisation.")
    expires_at: datetime


def _receipt(d: DocumentRecord) -> DocumentReceipt:
    working = d.working_copy
    return DocumentReceipt(
        document_id=d.document_id,
        kind=d.kind,
        content_type=d.content_type,
        size=d.size,
        sha256=d.sha256,
        received_at=d.received_at,
        working_copy=None
        if working is None
        else WorkingCopyReceipt(
            content_type=working.content_type, size=working.size, sha256=working.sha256
        ),
    )


def _summary(referral: Referral) -> ReferralSummary:
    return ReferralSummary(
        case_id=referral.case_id,
        reference=referral.reference,
        status=referral.status,
        created_at=referral.created_at,
        submitted_at=referral.submitted_at,
        updated_at=referral.timeline[-1].at if referral.timeline else referral.created_at,
        deadline=referral.deadline,
    )


def _issued(entry: dict[str, Any]) -> IssuedReport:
    return IssuedReport.model_validate(entry)


def _view(read: ReferralRead) -> ReferralView:
    referral = read.referral
    return ReferralView(
        **_summary(referral).model_dump(),
        details=read.details,
        missing=read.missing,
        documents=[_receipt(d) for d in referral.documents],
        timeline=[
            StatusChangeView(
                status=c.status, at=c.at, deadline=c.deadline, note=read.notes.get(c.change_id)
            )
            for c in referral.timeline
        ],
        open_request=referral.open_request,
        report=None if referral.report is None else _issued(referral.report),
        report_versions=[_issued(r) for r in referral.reports],
    )


def _replayed(response: Response, result: Replayed[Any], *, created: bool = False) -> None:
    if result.replayed:
        response.headers[REPLAYED_HEADER] = "true"
        response.status_code = status.HTTP_200_OK
    elif created:
        response.status_code = status.HTTP_201_CREATED


class HoldRequest(BaseModel):
    reason: Annotated[str, Field(min_length=3, max_length=500)]


class ErasureRequest(BaseModel):
    reason: ErasureReason = Field(description="Why (no names: the audit log keeps it).")


class RetentionView(BaseModel):
    case_id: uuid.UUID
    status: ReferralStatus
    legal_hold: bool


def _retention(referral: Referral) -> RetentionView:
    return RetentionView(
        case_id=referral.case_id, status=referral.status, legal_hold=referral.legal_hold is not None
    )


def build_retention_router() -> APIRouter:
    """Admins: legal-claims holds, and erasure by destroying the case's data key."""
    router = APIRouter(prefix="/cases", tags=["retention"])

    @router.put(
        "/{case_id}/legal-hold",
        responses=problem_responses(401, 403, 404, 422),
        summary="Set a legal-claims hold (erasure is refused while it is set)",
    )
    async def set_hold(
        case_id: uuid.UUID, body: HoldRequest, caller: Admin, intake: IntakeService
    ) -> RetentionView:
        with answering_partner():
            return _retention(
                await intake.set_hold(caller=caller, case_id=case_id, reason=body.reason)
            )

    @router.delete(
        "/{case_id}/legal-hold",
        responses=problem_responses(401, 403, 404),
        summary="Lift the legal-claims hold",
    )
    async def lift_hold(case_id: uuid.UUID, caller: Admin, intake: IntakeService) -> RetentionView:
        with answering_partner():
            return _retention(await intake.set_hold(caller=caller, case_id=case_id, reason=None))

    @router.post(
        "/{case_id}/erasure",
        responses=problem_responses(401, 403, 404, 409, 422),
        summary="Erase the case: its data key is destroyed here and in every service",
    )
    async def erase(
        case_id: uuid.UUID,
        body: ErasureRequest,
        caller: Admin,
        intake: IntakeService,
        correlation: CorrelationId,
    ) -> RetentionView:
        with answering_partner():
            referral = await intake.erase(
                caller=caller, case_id=case_id, reason=body.reason, correlation_id=correlation
            )
        return _retention(referral)

    return router


def build_router() -> APIRouter:
    router = APIRouter(prefix="/referrals", tags=["referrals"])

    @router.post(
        "",
        status_code=status.HTTP_201_CREATED,
        responses={
            **problem_responses(401, 403, 422),
            200: {
                "model": ReferralView,
                "description": "a retry with the same Idempotency-Key: the first answer again",
            },
        },
        summary="Start a referral: a draft, complete or not, until it is submitted",
    )
    async def create_referral(
        caller: Partner,
        intake: IntakeService,
        response: Response,
        form: Annotated[dict[str, Any], Body(description="The referral form, or part of it.")],
        idempotency_key: IdempotencyKey = None,
    ) -> ReferralView:
        with answering_partner():
            result = await intake.create_draft(
                caller=caller, data=form, idempotency_key=idempotency_key
            )
            _replayed(response, result, created=True)
            return _view(await intake.read(caller=caller, case_id=result.value.case_id))

    @router.patch(
        "/{case_id}",
        responses=problem_responses(401, 403, 404, 409, 422),
        summary="Complete or correct a draft (JSON merge patch: null removes a field)",
    )
    async def update_referral(
        case_id: uuid.UUID,
        caller: Partner,
        intake: IntakeService,
        patch: Annotated[dict[str, Any], Body(description="The fields to change.")],
    ) -> ReferralView:
        with answering_partner():
            await intake.update_draft(caller=caller, case_id=case_id, patch=patch)
            return _view(await intake.read(caller=caller, case_id=case_id))

    @router.get(
        "",
        responses=problem_responses(401, 403, 422),
        summary="This organisation's referrals, newest first, a page at a time",
    )
    async def list_referrals(
        caller: Partner,
        intake: IntakeService,
        status_in: Annotated[
            list[ReferralStatus], Query(alias="status", description="Any of these statuses.")
        ] = [],  # noqa: B006 - FastAPI copies defaults per request
        created_from: Annotated[datetime | None, Query(description="Created at or after.")] = None,
        created_to: Annotated[datetime | None, Query(description="Created before.")] = None,
        home_office_reference: Annotated[
            str | None,
            Query(max_length=40, description="Find by Home Office reference (exact match)."),
        ] = None,
        cursor: Annotated[str | None, Query(max_length=200)] = None,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
    ) -> ReferralPage:
        with answering_partner():
            items, following = await intake.list_referrals(
                caller=caller,
                statuses=status_in,
                created_from=created_from,
                created_to=created_to,
                home_office_reference=home_office_reference,
                cursor=cursor,
                limit=limit,
            )
        return ReferralPage(items=[_summary(r) for r in items], next_cursor=following)

    @router.get(
        "/{case_id}",
        responses=problem_responses(401, 403, 404),
        summary="One referral: the form, the evidence and the timeline",
    )
    async def get_referral(
        case_id: uuid.UUID, caller: Partner, intake: IntakeService
    ) -> ReferralView:
        with answering_partner():
            return _view(await intake.read(caller=caller, case_id=case_id))

    @router.post(
        "/{case_id}/documents",
        status_code=status.HTTP_201_CREATED,
        responses={
            **problem_responses(401, 403, 404, 409, 422),
            200: {
                "model": DocumentReceipt,
                "description": "a retry with the same Idempotency-Key: the first receipt again",
            },
            400: {"description": "the upload ended before the whole file arrived"},
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
        response: Response,
        caller: Partner,
        intake: IntakeService,
        kind: Annotated[DocumentKind, Query(description="What the document is.")],
        idempotency_key: IdempotencyKey = None,
    ) -> DocumentReceipt:
        with answering_partner():
            result = await intake.add_document(
                caller=caller,
                case_id=case_id,
                kind=kind,
                body=_body(request),
                idempotency_key=idempotency_key,
            )
        _replayed(response, result, created=True)
        return _receipt(result.value)

    @router.get(
        "/{case_id}/documents/{document_id}",
        responses={
            **problem_responses(401, 403, 404),
            200: {"content": {"application/octet-stream": {}}, "description": "the document"},
        },
        response_class=StreamingResponse,
        summary="Download a document, decrypted and checked against its receipt's SHA-256",
    )
    async def download_document(
        case_id: uuid.UUID,
        document_id: uuid.UUID,
        caller: Partner,
        intake: IntakeService,
        copy: Annotated[
            str, Query(pattern="^(original|working)$", description="The original or the copy.")
        ] = "original",
    ) -> StreamingResponse:
        with answering_partner():
            record, content_type, stream = await intake.read_document(
                caller=caller, case_id=case_id, document_id=document_id, working=copy == "working"
            )
            head, done = await _buffered(stream)
        return StreamingResponse(
            _rest(head, None if done else stream),
            media_type=content_type,
            headers={
                "X-Content-SHA256": record.sha256
                if copy == "original" or record.working_copy is None
                else record.working_copy.sha256,
                "Content-Disposition": f'attachment; filename="{record.document_id}"',
            },
        )

    @router.post(
        "/{case_id}/submit",
        responses=problem_responses(401, 403, 404, 409, 422),
        summary="Submit a complete referral for triage (every missing item listed if not)",
    )
    async def submit_referral(
        case_id: uuid.UUID,
        caller: Partner,
        intake: IntakeService,
        correlation: CorrelationId,
        response: Response,
        idempotency_key: IdempotencyKey = None,
    ) -> ReferralView:
        with answering_partner():
            result = await intake.submit(
                caller=caller,
                case_id=case_id,
                correlation_id=correlation,
                idempotency_key=idempotency_key,
            )
            _replayed(response, result)
            return _view(await intake.read(caller=caller, case_id=case_id))

    @router.post(
        "/{case_id}/withdraw",
        responses=problem_responses(401, 403, 404, 409, 422),
        summary="Withdraw a referral, with a reason; every service stops work on it",
    )
    async def withdraw_referral(
        case_id: uuid.UUID,
        body: Withdrawal,
        caller: Partner,
        intake: IntakeService,
        correlation: CorrelationId,
        response: Response,
        idempotency_key: IdempotencyKey = None,
    ) -> ReferralView:
        with answering_partner():
            result = await intake.withdraw(
                caller=caller,
                case_id=case_id,
                reason=body.reason,
                correlation_id=correlation,
                idempotency_key=idempotency_key,
            )
            _replayed(response, result)
            return _view(await intake.read(caller=caller, case_id=case_id))

    @router.post(
        "/{case_id}/information",
        responses=problem_responses(401, 403, 404, 409, 422),
        summary="Answer triage's request for more information; the case returns to triage",
    )
    async def answer_request(
        case_id: uuid.UUID,
        body: InformationAnswer,
        caller: Partner,
        intake: IntakeService,
        correlation: CorrelationId,
        response: Response,
        idempotency_key: IdempotencyKey = None,
    ) -> ReferralView:
        with answering_partner():
            result = await intake.provide_information(
                caller=caller,
                case_id=case_id,
                request_id=body.request_id,
                answer=body.answer,
                document_ids=body.document_ids,
                correlation_id=correlation,
                idempotency_key=idempotency_key,
            )
            _replayed(response, result)
            return _view(await intake.read(caller=caller, case_id=case_id))

    @router.get(
        "/{case_id}/report",
        responses=problem_responses(401, 403, 404),
        summary="The issued report: a short-lived signed link to download it from reporting",
    )
    async def report_link(
        case_id: uuid.UUID,
        caller: Partner,
        intake: IntakeService,
        version: Annotated[int | None, Query(ge=1, description="An earlier version.")] = None,
    ) -> ReportLinkView:
        with answering_partner():
            report, link = await intake.report_link(caller=caller, case_id=case_id, version=version)
        return ReportLinkView(
            report_id=report["report_id"],
            version=report["version"],
            sha256=report["sha256"],
            url=link.url,
            expires_at=link.expires_at,
        )

    return router


VERIFY_BEFORE_ANSWER = 8 * 1024 * 1024


async def _body(request: Request) -> AsyncIterator[bytes]:
    """The request body as it arrives; a client that goes away mid-file is a refusal."""
    try:
        async for piece in request.stream():
            yield piece
    except ClientDisconnect as exc:
        raise UploadInterrupted("file: the upload ended before the whole file arrived") from exc


async def _buffered(stream: AsyncIterator[bytes]) -> tuple[list[bytes], bool]:
    """Read up to 8 MiB before answering. A document that fits is decrypted and its SHA-256
    checked before the first byte goes out, so tampering is an error response; a larger one
    streams, and a failure cuts the transfer short (never a complete-looking altered file)."""
    head: list[bytes] = []
    size = 0
    while size < VERIFY_BEFORE_ANSWER:
        piece = await anext(stream, None)
        if piece is None:
            return head, True
        head.append(piece)
        size += len(piece)
    return head, False


async def _rest(head: list[bytes], rest: AsyncIterator[bytes] | None) -> AsyncIterator[bytes]:
    for piece in head:
        yield piece
    if rest is not None:
        async for piece in rest:
            yield piece
