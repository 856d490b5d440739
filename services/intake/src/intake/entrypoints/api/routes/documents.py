"""A referral's evidence: uploaded as the request body, downloaded decrypted and checked."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.responses import StreamingResponse
from starlette.requests import ClientDisconnect

from corroborate.downloads import download_headers, download_response
from corroborate.evidence import ContentType
from corroborate.http import Partner, binary_upload, problem_responses
from corroborate.images import WORKING_COPY_TYPE
from intake.domain.referral import DocumentKind
from intake.entrypoints.api.deps import IdempotencyKey, IntakeService
from intake.entrypoints.api.routes.replay import mark_replayed
from intake.entrypoints.api.schemas import DocumentReceipt
from intake.service.errors import UploadInterrupted

router = APIRouter(prefix="/referrals", tags=["referrals"])
UPLOAD = binary_upload(refused="not an allowed type")
VERIFY_BEFORE_ANSWER = 8 * 1024 * 1024


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
        **UPLOAD["responses"],
    },
    summary="Attach a document (the request body is the file)",
    openapi_extra=UPLOAD["openapi_extra"],
)
async def upload_document(
    *,
    case_id: uuid.UUID,
    request: Request,
    response: Response,
    caller: Partner,
    intake: IntakeService,
    kind: Annotated[DocumentKind, Query(description="What the document is.")],
    idempotency_key: IdempotencyKey = None,
) -> DocumentReceipt:
    result = await intake.documents.add(
        caller=caller,
        case_id=case_id,
        kind=kind,
        body=_body(request),
        idempotency_key=idempotency_key,
    )
    mark_replayed(response, result, created=True)
    return DocumentReceipt.model_validate(result.value)


@router.get(
    "/{case_id}/documents/{document_id}",
    responses={
        **problem_responses(401, 403, 404),
        200: download_response(
            sorted({*ContentType, *WORKING_COPY_TYPE.values()}),
            "the document, of the type its bytes showed on receipt (always an attachment)",
        ),
    },
    response_class=StreamingResponse,
    summary="Download a document, decrypted and checked against its receipt's SHA-256",
)
async def download_document(
    *,
    case_id: uuid.UUID,
    document_id: uuid.UUID,
    caller: Partner,
    intake: IntakeService,
    copy: Annotated[
        Literal["original", "working"], Query(description="The original or the copy.")
    ] = "original",
) -> StreamingResponse:
    record, content_type, stream = await intake.documents.read(
        caller=caller, case_id=case_id, document_id=document_id, working=copy == "working"
    )
    head, done = await _buffered(stream)
    sha256 = (
        record.working_copy.sha256 if copy == "working" and record.working_copy else record.sha256
    )
    return StreamingResponse(
        _rest(head, None if done else stream),
        media_type=content_type,
        headers=download_headers(filename=str(record.document_id), sha256=sha256),
    )


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
