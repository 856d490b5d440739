"""Reporting's HTTP API: legal reviewers sign off; partners fetch the issued report."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from corroborate.auth import Principal, Role
from corroborate.events.contracts import ClinicalFindings, DocumentReference, findings_changes
from corroborate.http import ErrorAnswers, answering, problem_responses, require_roles
from corroborate.links import LinkRejected
from corroborate.mongo import ConcurrencyConflict
from reporting.adapters.repository import CaseErasedError
from reporting.domain.legal_review import InvalidTransition, LegalReview
from reporting.service import NotFound, Reporting

Legal = Annotated[Principal, Depends(require_roles(Role.LEGAL))]
Partner = Annotated[Principal, Depends(require_roles(Role.PARTNER))]


def _reporting(request: Request) -> Reporting:
    reporting: Reporting = request.app.state.reporting
    return reporting


ReportingService = Annotated[Reporting, Depends(_reporting)]


ERRORS: ErrorAnswers = {
    NotFound: (status.HTTP_404_NOT_FOUND, "no such case or report"),
    InvalidTransition: (status.HTTP_409_CONFLICT, None),
    ConcurrencyConflict: (status.HTTP_409_CONFLICT, "the case changed; reload and retry"),
    LinkRejected: (status.HTTP_403_FORBIDDEN, None),
    CaseErasedError: (status.HTTP_410_GONE, "the case was erased; its reports are gone"),
}


class SignOffView(BaseModel):
    by: str
    at: datetime
    statement: str


class DownloadView(BaseModel):
    by: str
    organisation: str
    at: datetime


class ReportVersionView(BaseModel):
    report_id: uuid.UUID
    version: int
    sha256: str
    size: int
    issued_at: datetime
    signed_off: SignOffView | None
    downloads: list[DownloadView] = Field(description="Every download: who, when.")


class ChangeRequestView(BaseModel):
    by: str
    at: datetime
    comments: str


class LegalReviewView(BaseModel):
    case_id: uuid.UUID
    reference: str
    status: str
    report_due: date | None
    clinician_name: str
    approved_by: str | None
    findings: ClinicalFindings
    changed: list[str] = Field(
        description="What the revised draft changed since legal sent it back (empty if new)."
    )
    documents: list[DocumentReference]
    reports: list[ReportVersionView]
    change_requests: list[ChangeRequestView]


class ChangesRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    comments: Annotated[str, Field(min_length=3, max_length=5000)]


class SignOffRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    statement: Annotated[str, Field(min_length=10, max_length=2000)]


class ReportLinkView(BaseModel):
    report_id: uuid.UUID
    version: int
    url: str
    expires_at: datetime


def _view(review: LegalReview, reporting: Reporting) -> LegalReviewView:
    comments = reporting.comments(review)
    return LegalReviewView(
        case_id=review.case_id,
        reference=review.reference,
        status=review.status.value,
        report_due=review.report_due,
        clinician_name=review.clinician_name,
        approved_by=review.approved_by,
        findings=review.findings,
        changed=[]
        if review.previous_findings is None
        else findings_changes(review.previous_findings, review.findings),
        documents=review.documents,
        reports=[
            ReportVersionView(
                report_id=r.report_id,
                version=r.version,
                sha256=r.sha256,
                size=r.size,
                issued_at=r.issued_at,
                signed_off=None
                if r.signed_off is None
                else SignOffView(
                    by=r.signed_off.by, at=r.signed_off.at, statement=r.signed_off.statement
                ),
                downloads=[
                    DownloadView(by=d.by, organisation=d.organisation, at=d.at) for d in r.downloads
                ],
            )
            for r in review.reports
        ],
        change_requests=[
            ChangeRequestView(by=c.by, at=c.at, comments=text)
            for c, text in zip(review.change_requests, comments, strict=True)
        ],
    )


def build_router(*, public_url: str) -> APIRouter:
    router = APIRouter()

    @router.get(
        "/legal-reviews",
        tags=["legal review"],
        responses=problem_responses(401, 403),
        summary="Approved drafts awaiting legal review, by deadline",
    )
    async def legal_queue(caller: Legal, reporting: ReportingService) -> list[LegalReviewView]:
        return [_view(r, reporting) for r in await reporting.queue()]

    @router.get(
        "/legal-reviews/{case_id}",
        tags=["legal review"],
        responses=problem_responses(401, 403, 404),
        summary="One case in legal review",
    )
    async def legal_review(
        case_id: uuid.UUID, caller: Legal, reporting: ReportingService
    ) -> LegalReviewView:
        with answering(ERRORS):
            return _view((await reporting.get(case_id)).review, reporting)

    @router.post(
        "/legal-reviews/{case_id}/changes",
        tags=["legal review"],
        responses=problem_responses(401, 403, 404, 409, 422),
        summary="Send the draft back to the clinician with comments (after issue: a correction)",
    )
    async def request_changes(
        case_id: uuid.UUID, body: ChangesRequest, caller: Legal, reporting: ReportingService
    ) -> LegalReviewView:
        with answering(ERRORS):
            review = await reporting.request_changes(
                caller=caller, case_id=case_id, comments=body.comments
            )
        return _view(review, reporting)

    @router.post(
        "/legal-reviews/{case_id}/sign-off",
        tags=["legal review"],
        responses=problem_responses(401, 403, 404, 409, 422),
        summary="Sign off: the report is rendered, stored and issued",
    )
    async def sign_off(
        case_id: uuid.UUID, body: SignOffRequest, caller: Legal, reporting: ReportingService
    ) -> LegalReviewView:
        with answering(ERRORS):
            review = await reporting.sign_off(
                caller=caller, case_id=case_id, statement=body.statement
            )
        return _view(review, reporting)

    @router.post(
        "/cases/{case_id}/report/link",
        tags=["issued reports"],
        responses=problem_responses(401, 403, 404),
        summary="A short-lived signed link to the latest issued report",
    )
    async def report_link(
        case_id: uuid.UUID,
        caller: Partner,
        reporting: ReportingService,
        version: Annotated[int | None, Query(ge=1, description="An earlier version.")] = None,
    ) -> ReportLinkView:
        with answering(ERRORS):
            link = await reporting.link_for_partner(
                caller=caller, case_id=case_id, base_url=public_url, version=version
            )
        return ReportLinkView(
            report_id=link.report_id,
            version=link.version,
            url=link.link.url,
            expires_at=link.link.expires_at,
        )

    @router.get(
        "/reports/{report_id}/download",
        tags=["issued reports"],
        responses={
            **problem_responses(401, 403, 404),
            200: {
                "content": {"application/pdf": {}},
                "description": "the report, decrypted and verified",
            },
        },
        response_class=Response,
        summary="Download an issued report through a signed link",
    )
    async def download(
        report_id: uuid.UUID,
        caller: Partner,
        reporting: ReportingService,
        expires: Annotated[int, Query()],
        signature: Annotated[str, Query(pattern=r"^[0-9a-f]{64}$")],
    ) -> Response:
        with answering(ERRORS):
            result = await reporting.download(
                caller=caller, report_id=report_id, expires=expires, signature=signature
            )
        return Response(
            content=result.content,
            media_type="application/pdf",
            headers={
                "Content-Disposition": (
                    f'attachment; filename="{result.reference}-v{result.report.version}.pdf"'
                ),
                "X-Content-SHA256": result.report.sha256,
                "Cache-Control": "no-store",
            },
        )

    return router
