"""Case event payloads, version 1. A breaking change adds a new version beside the old one.

Survivor identity never travels in clear: it rides as ``SealedDetails`` (encrypted with the
case's data key, which travels wrapped by the master key).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from corroborate.crypto import DataKey, KeyRing, WrappedKey
from corroborate.events.registry import EventRegistry
from corroborate.vocab import BodyRegion, ConsistencyLevel, LesionType

Sha256Hex = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
CountryCode = Annotated[str, Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2")]
CaseReference = Annotated[str, Field(pattern=r"^CRB-[0-9]{4}-[0-9A-Z]{6}$")]


class Contract(BaseModel):
    # A validation error never repeats the input: it may be a survivor's details.
    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)


class SealedDetails(Contract):
    """``ProtectedDetails`` encrypted with the case data key; only key holders can open it."""

    wrapped_key: WrappedKey
    ciphertext: str


class ProtectedDetails(Contract):
    """What identifies the survivor or may name people: never stored, logged or sent in clear."""

    full_name: str
    other_names: list[str] = []
    date_of_birth: date | None = None
    approximate_age: int | None = None
    home_office_reference: str | None = None
    account: str = ""
    questions: list[str] = []


def _context(case_id: uuid.UUID) -> str:
    return f"case:{case_id}:protected-details"


def seal_details(details: ProtectedDetails, *, case_id: uuid.UUID, key: DataKey) -> SealedDetails:
    return SealedDetails(
        wrapped_key=key.wrapped,
        ciphertext=key.seal(details.model_dump_json().encode(), context=_context(case_id)),
    )


def open_details(
    sealed: SealedDetails, *, case_id: uuid.UUID, keyring: KeyRing
) -> ProtectedDetails:
    key = keyring.unwrap(sealed.wrapped_key)
    return ProtectedDetails.model_validate_json(
        key.open(sealed.ciphertext, context=_context(case_id))
    )


class ServiceRequested(StrEnum):
    FULL_REPORT = "full_report"
    PSYCHOLOGICAL_REPORT = "psychological_report"
    CLINICAL_RESPONSE_LETTER = "clinical_response_letter"
    ADDENDUM = "addendum"


class RiskFlag(StrEnum):
    DETAINED = "detained"
    SUICIDE_OR_SELF_HARM_RISK = "suicide_or_self_harm_risk"
    UNDER_18 = "under_18"
    PREGNANCY = "pregnancy"
    IMMINENT_REMOVAL = "imminent_removal"
    HEALTH_EMERGENCY = "health_emergency"


class DocumentReference(Contract):
    """A stored document as evidence: what it is, and the hash taken when it was received."""

    document_id: uuid.UUID
    kind: str
    content_type: str
    size: Annotated[int, Field(ge=0)]
    sha256: Sha256Hex
    received_at: datetime


class ReferralSubmitted(Contract):
    reference: CaseReference
    organisation: str
    service_requested: ServiceRequested
    protected: SealedDetails
    country_of_origin: CountryCode
    countries_of_ill_treatment: list[CountryCode]
    risk_flags: list[RiskFlag]
    consent_to_anonymised_use: bool
    documents: list[DocumentReference]
    submitted_at: datetime


class ReferralAccepted(Contract):
    accepted_by: str
    accepted_at: datetime
    report_due: date


class CaseAssigned(Contract):
    clinician_id: str
    assigned_by: str
    assigned_at: datetime


class Lesion(Contract):
    """One lesion on the body map, with the Istanbul Protocol's level of consistency."""

    region: BodyRegion
    lesion_type: LesionType
    size_mm: Annotated[int, Field(gt=0, le=2000)] | None = None
    description: Annotated[str, Field(min_length=1, max_length=2000)]
    attributed_cause: Annotated[str, Field(min_length=1, max_length=500)]
    consistency: ConsistencyLevel


class ClinicalFindings(Contract):
    lesions: list[Lesion]
    overall_consistency: ConsistencyLevel
    interpretation: str
    conclusions: str


class ReviewCompleted(Contract):
    reference: CaseReference
    organisation: str
    protected: SealedDetails
    clinician_id: str
    clinician_name: str
    approved_by: str | None = None  # the senior clinician who peer-reviewed, once there is one
    completed_at: datetime
    report_due: date | None
    findings: ClinicalFindings
    documents: list[DocumentReference]


class ReportIssued(Contract):
    report_id: uuid.UUID
    version: Annotated[int, Field(ge=1)]
    object_key: str
    sha256: Sha256Hex
    size: Annotated[int, Field(ge=0)]
    issued_at: datetime
    signed_off_by: str


def _build() -> EventRegistry:
    registry = EventRegistry()
    registry.register("referral.submitted", 1, ReferralSubmitted)
    registry.register("referral.accepted", 1, ReferralAccepted)
    registry.register("case.assigned", 1, CaseAssigned)
    registry.register("review.completed", 1, ReviewCompleted)
    registry.register("report.issued", 1, ReportIssued)
    return registry


CASE_EVENTS = _build()
"""Every case event Corroborate publishes, by routing key (= type) and schema version."""
