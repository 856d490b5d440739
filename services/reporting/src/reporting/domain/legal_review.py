"""Legal review of an approved draft, and the report versions it issues."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

from corroborate.events.contracts import ClinicalFindings, DocumentReference, findings_changes


class LegalReviewStatus(StrEnum):
    AWAITING_LEGAL_REVIEW = "awaiting_legal_review"
    CHANGES_REQUESTED = "changes_requested"  # back with the clinician
    SIGNED_OFF = "signed_off"  # approved; the report is being rendered and stored
    ISSUED = "issued"
    WITHDRAWN = "withdrawn"
    ERASED = "erased"


class InvalidTransition(Exception):
    """The legal review is not in a state that allows this; the message names the state."""

    def __init__(self, current: LegalReviewStatus, action: str) -> None:
        super().__init__(f"the case is {current.value}: it cannot be {action}")
        self.current = current


@dataclass(frozen=True)
class ChangeRequest:
    """Legal's request for changes; the comments are sealed (they may quote the case)."""

    by: str
    at: datetime
    sealed_comments: str


@dataclass(frozen=True)
class Download:
    """Every download of an issued report is recorded: who, from which organisation, when."""

    by: str
    organisation: str
    at: datetime


@dataclass(frozen=True)
class SignOff:
    """Legal approval: who, when, and the statement they made."""

    by: str
    at: datetime
    statement: str


@dataclass
class ReportVersion:
    report_id: uuid.UUID
    version: int
    object_key: str
    sha256: str
    size: int
    issued_at: datetime
    signed_off: SignOff | None = None
    version_id: str | None = None
    downloads: list[Download] = field(default_factory=list)


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
    change_requests: list[ChangeRequest] = field(default_factory=list)
    previous_findings: ClinicalFindings | None = None
    clinician_qualifications: str = ""

    @property
    def next_report_version(self) -> int:
        return len(self.reports) + 1

    @property
    def latest_report(self) -> ReportVersion | None:
        return self.reports[-1] if self.reports else None

    @property
    def changed(self) -> list[str]:
        """What the revised draft changed since legal sent it back (empty if new)."""
        if self.previous_findings is None:
            return []
        return findings_changes(self.previous_findings, self.findings)

    def sign(self, *, by: str, at: datetime, statement: str) -> SignOff:
        if self.status is not LegalReviewStatus.AWAITING_LEGAL_REVIEW:
            raise InvalidTransition(self.status, "signed off")
        self.sign_off = SignOff(by=by, at=at, statement=statement)
        self.status = LegalReviewStatus.SIGNED_OFF
        return self.sign_off

    def request_changes(self, *, by: str, at: datetime, sealed_comments: str) -> None:
        """Back to the clinician: before issue, or after it, for a correction or addendum (a
        new version follows; the issued ones stay)."""
        if self.status not in {LegalReviewStatus.AWAITING_LEGAL_REVIEW, LegalReviewStatus.ISSUED}:
            raise InvalidTransition(self.status, "sent back for changes")
        self.change_requests.append(ChangeRequest(by, at, sealed_comments))
        self.status = LegalReviewStatus.CHANGES_REQUESTED

    def resubmitted(
        self,
        *,
        findings: ClinicalFindings,
        approved_by: str | None,
        documents: list[DocumentReference],
        at: datetime,
    ) -> bool:
        """The revised draft is back from peer review: into the queue, the old one kept to show
        what changed. False if this case is not waiting for one."""
        if self.status is not LegalReviewStatus.CHANGES_REQUESTED:
            return False
        self.previous_findings = self.findings
        self.findings = findings
        self.approved_by = approved_by
        self.documents = documents
        self.received_at = at
        self.sign_off = None
        self.status = LegalReviewStatus.AWAITING_LEGAL_REVIEW
        return True

    def withdraw(self) -> bool:
        """Withdrawn by the partner: never issued from here on (issued versions stay)."""
        if self.status in {LegalReviewStatus.ISSUED, LegalReviewStatus.WITHDRAWN}:
            return False
        self.status = LegalReviewStatus.WITHDRAWN
        return True

    def record_download(self, report_id: uuid.UUID, download: Download) -> ReportVersion:
        report = next(r for r in self.reports if r.report_id == report_id)
        report.downloads.append(download)
        return report

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
            raise InvalidTransition(self.status, "issued before legal sign-off")
        if report.version != self.next_report_version:
            raise InvalidTransition(self.status, f"issued as version {report.version}")
        report.signed_off = self.sign_off
        self.reports.append(report)
        self.status = LegalReviewStatus.ISSUED
