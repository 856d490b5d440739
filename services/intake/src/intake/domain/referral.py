"""The referral as the partner sees it: where the case has got to, and its evidence."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

from corroborate.events.contracts import ServiceRequested
from intake.domain.details import ReferralDetails


class ReferralStatus(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    ACKNOWLEDGED = "acknowledged"
    INFORMATION_REQUESTED = "information_requested"
    INFORMATION_PROVIDED = "information_provided"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    WAITLISTED = "waitlisted"
    IN_ASSESSMENT = "in_assessment"
    APPOINTMENT_BOOKED = "appointment_booked"
    IN_LEGAL_REVIEW = "in_legal_review"
    ISSUED = "issued"
    WITHDRAWN = "withdrawn"
    ERASED = "erased"


# Nothing moves a referral out of these (a new report version keeps it issued).
TERMINAL = frozenset(
    {
        ReferralStatus.DECLINED,
        ReferralStatus.ISSUED,
        ReferralStatus.WITHDRAWN,
        ReferralStatus.ERASED,
    }
)


class LegalHoldSet(Exception):
    """A legal-claims hold forbids erasing the case until it is lifted."""


class DocumentKind(StrEnum):
    IDENTITY_DOCUMENT = "identity_document"
    HOME_OFFICE_DECISION = "home_office_decision"
    INTERVIEW_RECORD = "interview_record"
    WITNESS_STATEMENT = "witness_statement"
    MEDICAL_RECORDS = "medical_records"
    GP_LETTER = "gp_letter"
    PHOTOGRAPH = "photograph"
    PREVIOUS_REPORT = "previous_report"
    LETTER_OF_INSTRUCTION = "letter_of_instruction"
    OTHER = "other"


def new_reference(year: int) -> str:
    """A case reference that says nothing about the survivor."""
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return f"CRB-{year}-" + "".join(secrets.choice(alphabet) for _ in range(6))


class SubmissionIncomplete(Exception):
    """The referral lacks what triage needs; ``missing`` lists every item."""

    def __init__(self, missing: list[str]) -> None:
        super().__init__("; ".join(missing))
        self.missing = missing


class InvalidTransition(Exception):
    """The referral is not in a state that allows this; the message names the state."""

    def __init__(self, current: ReferralStatus, action: str) -> None:
        super().__init__(f"the referral is {current.value}: it cannot be {action}")
        self.current = current


@dataclass
class DocumentRecord:
    document_id: uuid.UUID
    kind: DocumentKind
    content_type: str
    size: int
    sha256: str
    received_at: datetime
    object_key: str
    version_id: str | None = None
    working_copy: WorkingCopy | None = None
    idempotency_key: str | None = None


@dataclass(frozen=True)
class WorkingCopy:
    """An image with its EXIF and GPS metadata removed, made for clinicians; the original
    stays as received."""

    object_key: str
    content_type: str
    size: int
    sha256: str
    version_id: str | None = None


@dataclass
class StatusChange:
    """One entry of the partner's timeline. ``note`` is sealed (it may name people)."""

    change_id: uuid.UUID
    status: ReferralStatus
    at: datetime
    deadline: date | None = None
    note: str | None = None


@dataclass
class Referral:
    """The intake aggregate. Identity is held sealed; the domain never sees it in clear."""

    case_id: uuid.UUID
    reference: str
    organisation: str
    created_by: str
    status: ReferralStatus
    created_at: datetime
    version: int = 0
    documents: list[DocumentRecord] = field(default_factory=list)
    submitted_at: datetime | None = None
    timeline: list[StatusChange] = field(default_factory=list)
    reports: list[dict[str, object]] = field(default_factory=list)
    open_request: uuid.UUID | None = None
    applied_keys: dict[str, str] = field(default_factory=dict)
    new_changes: list[StatusChange] = field(default_factory=list)
    legal_hold: str | None = None

    def erase(self, *, change_id: uuid.UUID, at: datetime) -> None:
        """Erasure by destroying the case's data key; refused while a legal-claims hold is set.
        Whatever the status was, the referral ends erased."""
        if self.legal_hold is not None:
            raise LegalHoldSet("a legal-claims hold is set on this case; lift it first")
        if self.status is ReferralStatus.ERASED:
            return
        for change in self.timeline:
            change.note = None  # sealed with the key that is being destroyed
        self.timeline.append(StatusChange(change_id, ReferralStatus.ERASED, at))
        self.new_changes.append(self.timeline[-1])
        self.status = ReferralStatus.ERASED

    @property
    def report(self) -> dict[str, object] | None:
        """The latest issued version, if any."""
        return self.reports[-1] if self.reports else None

    @property
    def updated_at(self) -> datetime:
        """When the referral last changed status (its creation, until the first change)."""
        return self.timeline[-1].at if self.timeline else self.created_at

    @property
    def deadline(self) -> date | None:
        """The date the current stage is due by, if one applies."""
        for change in reversed(self.timeline):
            if change.deadline is not None:
                return change.deadline
        return None

    def missing_for_submission(self, details: ReferralDetails) -> list[str]:
        """Documents triage needs that are not there yet, as one list."""
        missing: list[str] = []
        kinds = {d.kind for d in self.documents}
        if not self.documents:
            missing.append("documents: at least one supporting document is required")
        if (
            details.service_requested is ServiceRequested.CLINICAL_RESPONSE_LETTER
            and DocumentKind.HOME_OFFICE_DECISION not in kinds
        ):
            missing.append("documents: a clinical response letter needs the Home Office decision")
        if details.service_requested is ServiceRequested.ADDENDUM and (
            DocumentKind.PREVIOUS_REPORT not in kinds
        ):
            missing.append("documents: an addendum needs the previous report")
        return missing

    def submit(self, *, change_id: uuid.UUID, at: datetime) -> None:
        if self.status is not ReferralStatus.DRAFT:
            raise InvalidTransition(self.status, "submitted")
        self.submitted_at = at
        self._record(StatusChange(change_id=change_id, status=ReferralStatus.SUBMITTED, at=at))

    def ensure_editable(self) -> None:
        if self.status is not ReferralStatus.DRAFT:
            raise InvalidTransition(self.status, "edited (only a draft can be)")

    def ensure_accepts_documents(self) -> None:
        if self.status not in {ReferralStatus.DRAFT, ReferralStatus.INFORMATION_REQUESTED}:
            raise InvalidTransition(
                self.status, "given documents (only a draft, or to answer a request, can be)"
            )

    def add_document(self, document: DocumentRecord) -> None:
        self.ensure_accepts_documents()
        self.documents.append(document)

    def withdraw(self, *, change_id: uuid.UUID, at: datetime, note: str) -> None:
        if self.status in TERMINAL:
            raise InvalidTransition(self.status, "withdrawn")
        self._record(
            StatusChange(change_id=change_id, status=ReferralStatus.WITHDRAWN, at=at, note=note)
        )

    def provide_information(
        self, *, request_id: uuid.UUID, change_id: uuid.UUID, at: datetime
    ) -> None:
        if self.status is not ReferralStatus.INFORMATION_REQUESTED or self.open_request is None:
            raise InvalidTransition(self.status, "answered (no question is open)")
        if request_id != self.open_request:
            raise InvalidTransition(self.status, "answered: that request is not the open one")
        self.open_request = None
        self._record(
            StatusChange(change_id=change_id, status=ReferralStatus.INFORMATION_PROVIDED, at=at)
        )

    def progress(self, change: StatusChange, *, request_id: uuid.UUID | None = None) -> bool:
        """Record news from another service; False if it changes nothing.

        Every change joins the timeline in time order; the current status is the latest one,
        so news that arrives late never moves a case back. Nothing leaves a terminal status,
        but news of what happened before the case became final still joins its history: the
        other services' events may arrive in any order (say, queued while this service was
        down), and the partner is told of each step.
        """
        if self.status in {ReferralStatus.DRAFT, ReferralStatus.ERASED}:
            return False  # an erased case keeps nothing new: its notes' key is gone
        if any(c.change_id == change.change_id for c in self.timeline):
            return False
        final = [c.at for c in self.timeline if c.status in TERMINAL]
        if final:
            if change.at >= min(final):
                return False
        elif request_id is not None:
            self.open_request = request_id
        self._record(change)
        return True

    def _record(self, change: StatusChange) -> None:
        self.timeline.append(change)
        self.timeline.sort(key=lambda c: c.at)
        self.new_changes.append(change)
        if self.status in TERMINAL:
            return  # news from before the end joins the history; the end stays the end
        latest = self.timeline[-1].status
        terminal = [c.status for c in self.timeline if c.status in TERMINAL]
        self.status = terminal[0] if terminal else latest
