"""What intake's API takes and answers, each answer built from the use case's result."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, TypeAdapter, WithJsonSchema

from corroborate.auth import Role
from corroborate.events.contracts import ErasureReason
from corroborate.links import SignedLink
from corroborate.openapi import component, model_components, partial_components
from intake.domain.details import ReferralDetails
from intake.domain.referral import DocumentKind, Referral, ReferralStatus
from intake.domain.webhooks import (
    MAX_SECRET_LENGTH,
    MAX_URL_LENGTH,
    MIN_SECRET_LENGTH,
    DeliveryRecord,
    DeliveryState,
)
from intake.service import ReferralRead

REFERRAL_FORM = model_components(ReferralDetails, name="ReferralForm")
"""The referral form, section by section, as submission needs it (the model intake checks)."""
REFERRAL_COMPONENTS = {**REFERRAL_FORM, **partial_components(REFERRAL_FORM, suffix="Draft")}
"""The form and its draft (the same sections, any part still missing), for the API document."""

ReferralFormDraft = Annotated[
    dict[str, Any],
    WithJsonSchema(
        {
            **component("ReferralFormDraft"),
            "description": "The referral form, or part of it: a draft may lack any field but "
            "nothing in it may break a rule; `missing` says what submission still needs "
            "(the whole form is `ReferralForm`).",
        }
    ),
]

REFERRAL_EXAMPLE: dict[str, Any] = {
    "representative": {
        "organisation_name": "Example Immigration Law LLP",
        "name": "A. Solicitor",
        "email": "referrals@example.org",
        "phone": "+44 20 7946 0000",
    },
    "survivor": {
        "full_name": "A Made-up Name",
        "date_of_birth": "1991-04-12",
        "gender": "male",
        "nationality": "ER",
        "country_of_origin": "ER",
        "languages": ["ti"],
        "interpreter_needed": True,
        "interpreter_gender": "male",
    },
    "immigration": {
        "stage": "refused",
        "home_office_reference": "HO-EXAMPLE-0001",
        "decision_date": "2026-09-30",
    },
    "detention": {"detained": False},
    "service_requested": "full_report",
    "allegations": {
        "countries": ["ER"],
        "period": {"start": "2023-02", "end": "2023-06"},
        "methods": ["beating"],
        "perpetrators": ["military"],
        "account": "Detained for four months in 2023 and beaten with sticks on the back.",
    },
    "consent": {
        "referral_and_assessment": True,
        "referral_consent_recorded_by": "A. Solicitor",
        "referral_consent_recorded_at": "2026-10-01T10:00:00Z",
        "anonymised_use": True,
    },
    "questions": ["Are the scars on the back consistent with the account of beatings?"],
}
"""A complete referral, made up, as the documents' example."""


class View(BaseModel):
    """An answer read from the attributes of what the use case returned."""

    model_config = ConfigDict(from_attributes=True)


class WorkingCopyReceipt(View):
    content_type: str
    size: int
    sha256: str


class DocumentReceipt(View):
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


class ReferralSummary(View):
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

    details: dict[str, Any] = Field(
        description="The referral form as given so far, as it was sent (see ReferralFormDraft)."
    )
    missing: list[str] = Field(description="What a draft still needs before it can be submitted.")
    documents: list[DocumentReceipt]
    timeline: list[StatusChangeView]
    open_request: uuid.UUID | None = Field(description="The triage question awaiting an answer.")
    report: IssuedReport | None
    report_versions: list[IssuedReport]

    @classmethod
    def of(cls, read: ReferralRead) -> ReferralView:
        """The referral as read, each timeline entry with its note opened (if it has one)."""
        referral = read.referral
        return cls.model_validate(
            {
                **ReferralSummary.model_validate(referral).model_dump(),
                "details": read.details,
                "missing": read.missing,
                "documents": _RECEIPTS.validate_python(referral.documents),
                "timeline": [
                    StatusChangeView(
                        status=c.status,
                        at=c.at,
                        deadline=c.deadline,
                        note=read.notes.get(c.change_id),
                    )
                    for c in referral.timeline
                ],
                "open_request": referral.open_request,
                "report": referral.report,
                "report_versions": referral.reports,
            }
        )


_RECEIPTS = TypeAdapter(list[DocumentReceipt])


class Withdrawal(BaseModel):
    reason: Annotated[str, Field(min_length=3, max_length=2000)]


class InformationAnswer(BaseModel):
    request_id: uuid.UUID
    answer: Annotated[str, Field(min_length=1, max_length=20_000)]
    document_ids: list[uuid.UUID] = Field(
        default=[], max_length=50, description="Documents uploaded to answer the question."
    )


class ReportLinkView(BaseModel):
    report_id: uuid.UUID
    version: int
    sha256: str
    url: str = Field(description="Reporting's download endpoint, signed for this organisation.")
    expires_at: datetime

    @classmethod
    def of(cls, report: dict[str, Any], link: SignedLink) -> ReportLinkView:
        return cls.model_validate({**report, "url": link.url, "expires_at": link.expires_at})


class HoldRequest(BaseModel):
    reason: Annotated[str, Field(min_length=3, max_length=500)]


class ErasureRequest(BaseModel):
    reason: ErasureReason = Field(description="Why (no names: the audit log keeps it).")


class RetentionView(BaseModel):
    case_id: uuid.UUID
    status: ReferralStatus
    legal_hold: bool

    @classmethod
    def of(cls, referral: Referral) -> RetentionView:
        return cls(
            case_id=referral.case_id,
            status=referral.status,
            legal_hold=referral.legal_hold is not None,
        )


class WebhookRegistration(BaseModel):
    """Where to POST an organisation's status changes, and the secret that signs them."""

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    url: Annotated[str, Field(min_length=1, max_length=MAX_URL_LENGTH)]
    secret: Annotated[
        SecretStr,
        Field(
            min_length=MIN_SECRET_LENGTH,
            max_length=MAX_SECRET_LENGTH,
            description="HMAC-SHA256 key (its UTF-8 bytes); stored sealed, never shown again.",
        ),
    ]


class RegisteredWebhook(View):
    organisation: str
    url: str
    registered_at: datetime
    registered_by: str


class PartnerWebhook(View):
    url: str
    registered_at: datetime


class AttemptView(View):
    at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int


class DeliveryView(View):
    delivery_id: uuid.UUID
    case_reference: str
    status: str
    occurred_at: datetime
    state: str
    attempts: list[AttemptView]
    next_attempt_at: datetime | None

    @classmethod
    def of(cls, record: DeliveryRecord) -> DeliveryView:
        """A delivery as its organisation sees it: a next attempt only while one is due."""
        view = cls.model_validate(record)
        if record.state is DeliveryState.PENDING:
            return view
        return view.model_copy(update={"next_attempt_at": None})


class DeliveryHistory(BaseModel):
    deliveries: list[DeliveryView]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next (older) page.")


# --- the directory ------------------------------------------------------------------------


class NewOrganisation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=2, max_length=200)]
    organisation_id: Annotated[str, Field(min_length=2, max_length=60)] | None = Field(
        default=None, description="Defaults to a slug of the name."
    )
    contact_email: Annotated[str, Field(max_length=254)] | None = None


class OrganisationChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    active: bool


class OrganisationView(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    organisation_id: str
    name: str
    kind: str
    contact_email: str | None
    active: bool
    created_at: datetime


class NewApiClient(BaseModel):
    model_config = ConfigDict(extra="forbid")

    client_id: Annotated[str, Field(min_length=1, max_length=200)] = Field(
        description="The client's id at the identity provider (its client-credentials "
        "tokens name it in client_id or azp)."
    )


class ApiClientView(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    client_id: str
    organisation_id: str
    added_at: datetime
    added_by: str


class Invitation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Annotated[str, Field(min_length=3, max_length=254)]
    name: Annotated[str, Field(min_length=1, max_length=200)]
    roles: Annotated[list[Role], Field(min_length=1, max_length=8)]
    organisation_id: Annotated[str, Field(max_length=60)] | None = None


class PersonChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    roles: Annotated[list[Role], Field(min_length=1, max_length=8)] | None = None
    active: bool | None = None


class PersonView(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    person_id: str
    email: str
    name: str
    roles: list[Role]
    organisation_id: str | None
    active: bool
    invitation_open: bool = Field(description="Not yet signed in: the invitation is unused.")
    invited_at: datetime
    last_sign_in_at: datetime | None
