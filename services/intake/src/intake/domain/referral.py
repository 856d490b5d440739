"""The referral as the partner sees it: what they send, and where the case has got to."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, cast

from pydantic import (
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    ModelWrapValidatorHandler,
    ValidationError,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from corroborate.events.contracts import CountryCode, RiskFlag, ServiceRequested
from corroborate.vocab import PerpetratorType, TortureMethod

ShortText = Annotated[str, Field(min_length=1, max_length=200)]


class ReferralStatus(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    IN_ASSESSMENT = "in_assessment"
    IN_LEGAL_REVIEW = "in_legal_review"
    ISSUED = "issued"


# A status only moves forward: an event that arrives late never moves a case back.
_PROGRESS = {status: rank for rank, status in enumerate(ReferralStatus)}


def advances(current: ReferralStatus, new: ReferralStatus) -> bool:
    return _PROGRESS[new] > _PROGRESS[current]


class Strict(BaseModel):
    # A validation error never repeats the input: it may be a survivor's details.
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, hide_input_in_errors=True)


class Representative(Strict):
    """The survivor's legal representative: the only person who may refer."""

    name: ShortText
    email: EmailStr
    phone: Annotated[str, Field(pattern=r"^\+?[0-9 ()-]{6,20}$")] | None = None


class Survivor(Strict):
    full_name: ShortText
    other_names: list[ShortText] = []
    date_of_birth: date | None = None
    approximate_age: Annotated[int, Field(ge=0, le=120)] | None = None
    gender: Annotated[str, Field(pattern=r"^(female|male|non_binary|other|not_stated)$")]
    nationality: CountryCode
    country_of_origin: CountryCode
    languages: Annotated[
        list[Annotated[str, Field(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")]],
        Field(min_length=1),
    ]
    interpreter_needed: bool

    @model_validator(mode="wrap")
    @classmethod
    def _age_known(cls, data: Any, handler: ModelWrapValidatorHandler[Survivor]) -> Survivor:
        """Date of birth or approximate age, reported beside any other field's error."""
        age_unknown = (
            isinstance(data, Mapping)
            and data.get("date_of_birth") is None
            and data.get("approximate_age") is None
        )
        rule: InitErrorDetails = {
            "type": PydanticCustomError("age_unknown", "give date_of_birth or approximate_age"),
            "loc": ("date_of_birth",),
            "input": None,
        }
        try:
            survivor = handler(data)
        except ValidationError as exc:
            if not age_unknown:
                raise
            others = cast(list[InitErrorDetails], exc.errors())
            raise ValidationError.from_exception_data(cls.__name__, [*others, rule]) from None
        if age_unknown:
            raise ValidationError.from_exception_data(cls.__name__, [rule])
        return survivor


class Allegations(Strict):
    countries: Annotated[list[CountryCode], Field(min_length=1)]
    methods: list[TortureMethod] = []
    perpetrators: list[PerpetratorType] = []
    account: Annotated[str, Field(min_length=1, max_length=20_000)]


class Consent(Strict):
    referral_consent_recorded_by: ShortText
    referral_consent_recorded_at: datetime
    anonymised_use: bool


class ReferralDetails(Strict):
    """What a partner sends to refer a survivor."""

    representative: Representative
    survivor: Survivor
    home_office_reference: Annotated[str, Field(max_length=40)] | None = None
    service_requested: ServiceRequested
    allegations: Allegations
    risk_flags: list[RiskFlag] = []
    consent: Consent
    questions: Annotated[
        list[Annotated[str, Field(min_length=3, max_length=2000)]],
        Field(min_length=1, description="The letter of instruction's questions."),
    ]


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


# Types are decided from the bytes, never from the name or the declared content type.
_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", "application/pdf"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
)


def detect_document_type(head: bytes) -> str | None:
    """The content type the leading bytes prove, if it is on the allow-list."""
    for signature, content_type in _SIGNATURES:
        if head.startswith(signature):
            return content_type
    return None


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
    """The referral is not in a state that allows this."""


@dataclass
class DocumentRecord:
    document_id: uuid.UUID
    kind: DocumentKind
    content_type: str
    size: int
    sha256: str
    received_at: datetime
    object_key: str


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
    status_history: list[tuple[ReferralStatus, datetime]] = field(default_factory=list)
    report: dict[str, object] | None = None

    def missing_for_submission(self, details: ReferralDetails) -> list[str]:
        """Everything triage needs that is not there yet, as one list."""
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

    def submit(self, details: ReferralDetails, *, at: datetime) -> None:
        if self.status is not ReferralStatus.DRAFT:
            raise InvalidTransition(f"a referral that is {self.status.value} cannot be submitted")
        missing = self.missing_for_submission(details)
        if missing:
            raise SubmissionIncomplete(missing)
        self.status = ReferralStatus.SUBMITTED
        self.submitted_at = at
        self.status_history.append((self.status, at))

    def ensure_accepts_documents(self) -> None:
        if self.status is not ReferralStatus.DRAFT:
            raise InvalidTransition("documents can be added only while the referral is a draft")

    def add_document(self, document: DocumentRecord) -> None:
        self.ensure_accepts_documents()
        self.documents.append(document)

    def progress_to(self, status: ReferralStatus, *, at: datetime) -> bool:
        """Move forward on news from another service; False if the news is stale."""
        if not advances(self.status, status):
            return False
        self.status = status
        self.status_history.append((status, at))
        return True
