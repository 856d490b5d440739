"""The assessment record: appointments with their consents, draft versions, and peer review."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from corroborate.events.contracts import ClinicalFindings


@dataclass(frozen=True)
class ConsentRecord:
    """A consent as the clinician recorded it at the appointment: given or not, by whom, when."""

    given: bool
    recorded_by: str
    recorded_at: datetime


@dataclass
class Appointment:
    appointment_id: uuid.UUID
    on: date
    remote: bool
    interpreter_language: str | None
    booked_by: str
    booked_at: datetime
    examination_consent: ConsentRecord | None = None
    photography_consent: ConsentRecord | None = None

    @property
    def photography_allowed(self) -> bool:
        return self.photography_consent is not None and self.photography_consent.given


@dataclass(frozen=True)
class Photograph:
    """A photograph taken at an appointment with photo consent, stored encrypted."""

    photograph_id: uuid.UUID
    appointment_id: uuid.UUID
    sha256: str
    size: int
    content_type: str
    object_key: str
    taken_by: str
    received_at: datetime


@dataclass(frozen=True)
class DraftVersion:
    """One saved version of the findings, and what changed from the one before."""

    number: int
    findings: ClinicalFindings
    saved_by: str
    saved_at: datetime
    changed: list[str]


class ReviewerVerdict(StrEnum):
    APPROVED = "approved"
    RETURNED = "returned"
    LEGAL_CHANGES = "legal_changes_requested"


@dataclass(frozen=True)
class ReviewNote:
    """A verdict on a draft version: the senior clinician's, or legal's request for changes.

    ``comments`` from legal are sealed (they may quote the case); a senior clinician's are
    clinical and kept as written.
    """

    verdict: ReviewerVerdict
    by: str
    at: datetime
    draft_version: int
    comments: str
