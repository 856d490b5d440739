"""What reporting's API takes and answers, read from the domain objects by attribute."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from corroborate.events.contracts import ClinicalFindings, DocumentReference
from reporting.domain.statistics import Cell, Table
from reporting.service.issuing import ReportLink
from reporting.service.legal_review import OpenedReview

Dimension = Literal["country", "year", "method", "perpetrator", "gender", "age_band", "origin"]


class _FromAttributes(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class SignOffView(_FromAttributes):
    by: str
    at: datetime
    statement: str


class DownloadView(_FromAttributes):
    by: str
    organisation: str
    at: datetime


class ReportVersionView(_FromAttributes):
    report_id: uuid.UUID
    version: int
    sha256: str
    size: int
    issued_at: datetime
    signed_off: SignOffView | None
    downloads: list[DownloadView] = Field(description="Every download: who, when.")


class ChangeRequestView(_FromAttributes):
    by: str
    at: datetime
    comments: str


class LegalReviewView(_FromAttributes):
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

    @classmethod
    def of(cls, opened: OpenedReview) -> LegalReviewView:
        """The review as held, its change requests with their comments opened."""
        review = opened.review
        requests = [
            ChangeRequestView(by=c.by, at=c.at, comments=text)
            for c, text in zip(review.change_requests, opened.comments, strict=True)
        ]
        return cls.model_validate(
            {**vars(review), "changed": review.changed, "change_requests": requests},
            from_attributes=True,
        )


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

    @classmethod
    def of(cls, link: ReportLink) -> ReportLinkView:
        return cls(
            report_id=link.report_id,
            version=link.version,
            url=link.link.url,
            expires_at=link.link.expires_at,
        )


class CellView(BaseModel):
    key: dict[str, str]
    count: int | None = Field(description="Rounded; null when suppressed.")


class PatternTable(BaseModel):
    by: list[str]
    filters: dict[str, list[str]]
    threshold: int = Field(description="Counts below this are never shown.")
    rounded_to: int = Field(description="Every count shown is rounded to a multiple of this.")
    total: int | None
    cells: list[CellView]
    margins: dict[str, list[CellView]]

    @classmethod
    def of(cls, table: Table, filters: dict[str, set[str]]) -> PatternTable:
        return cls(
            by=list(table.by),
            filters={d: sorted(v) for d, v in filters.items()},
            threshold=table.threshold,
            rounded_to=table.base,
            total=table.total.count,
            cells=_cells(table.by, table.cells),
            margins={d: _cells((d,), cells) for d, cells in table.margins.items()},
        )


def _cells(by: tuple[str, ...], cells: list[Cell]) -> list[CellView]:
    return [CellView(key=dict(zip(by, c.key, strict=True)), count=c.count) for c in cells]


class MonthView(_FromAttributes):
    month: str
    received: int
    accepted: int
    declined: int


class OperationsView(_FromAttributes):
    months: list[MonthView]
    median_days_acceptance_to_issue: float | None
    issued: int
    issued_within_deadline: int
    share_within_deadline: float | None
    backlog: dict[str, int] = Field(description="Open cases by stage.")
