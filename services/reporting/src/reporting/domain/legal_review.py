"""Legal review of an approved draft, and the report versions it issues."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

from corroborate.events.contracts import ClinicalFindings, DocumentReference


class LegalReviewStatus(StrEnum):
    AWAITING_LEGAL_REVIEW = "awaiting_legal_review"
    SIGNED_OFF = "signed_off"  # approved; the report is being rendered and stored
    ISSUED = "issued"


class InvalidTransition(Exception):
    """The legal review is not in a state that allows this."""


@dataclass(frozen=True)
class SignOff:
    """Legal approval: who, when, and the statement they made."""

    by: str
    at: datetime
    statement: str


@dataclass(frozen=True)
class ReportVersion:
    report_id: uuid.UUID
    version: int
    object_key: str
    sha256: str
    size: int
    issued_at: datetime


@dataclass
class LegalReview:
    case_id: uuid.UUID
    reference: str
    organisation: str
    clinician_id: str
    clinician_name: str
    approved_by: str | None
    findings: ClinicalFindings
    documents: list[DocumentReference]
    report_due: date | None
    received_at: datetime
    correlation_id: uuid.UUID
    status: LegalReviewStatus = LegalReviewStatus.AWAITING_LEGAL_REVIEW
    version: int = 0
    sign_off: SignOff | None = None
    reports: list[ReportVersion] = field(default_factory=list)

    @property
    def next_report_version(self) -> int:
        return len(self.reports) + 1

    @property
    def latest_report(self) -> ReportVersion | None:
        return self.reports[-1] if self.reports else None

    def sign(self, *, by: str, at: datetime, statement: str) -> SignOff:
        if self.status is not LegalReviewStatus.AWAITING_LEGAL_REVIEW:
            raise InvalidTransition(f"a case that is {self.status.value} cannot be signed off")
        self.sign_off = SignOff(by=by, at=at, statement=statement)
        self.status = LegalReviewStatus.SIGNED_OFF
        return self.sign_off

    @property
    def awaiting_issue(self) -> bool:
        """Signed off, but the report was not yet issued (say, the process stopped midway)."""
        return self.status is LegalReviewStatus.SIGNED_OFF

    def report_identity(self) -> tuple[uuid.UUID, int]:
        """The next report's id and version, the same on every attempt to issue it."""
        version = self.next_report_version
        return uuid.uuid5(self.case_id, f"report-v{version}"), version

    def issue(self, report: ReportVersion) -> None:
        if self.sign_off is None or self.status is not LegalReviewStatus.SIGNED_OFF:
            raise InvalidTransition("a report is issued only after legal sign-off")
        if report.version != self.next_report_version:
            raise InvalidTransition(f"expected report version {self.next_report_version}")
        self.reports.append(report)
        self.status = LegalReviewStatus.ISSUED
