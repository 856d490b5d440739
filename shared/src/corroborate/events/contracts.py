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

from corroborate.auth import Role
from corroborate.crypto import DataKey, KeyRing, WrappedKey
from corroborate.events.registry import EventRegistry
from corroborate.vocab import BodyRegion, ConsistencyLevel, LesionType

Sha256Hex = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$", max_length=64)]
CountryCode = Annotated[str, Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2")]
CaseReference = Annotated[str, Field(pattern=r"^CRB-[0-9]{4}-[0-9A-Z]{6}$", max_length=15)]
LanguageTag = Annotated[
    str,
    Field(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$", max_length=35, description="BCP 47"),
]


MAX_QUESTIONS = 50
"""Questions a letter of instruction may ask (and so answers a report may give)."""
MAX_LESIONS = 300
MAX_PHOTOGRAPHS = 300


class Contract(BaseModel):
    # A validation error never repeats the input: it may be a survivor's details.
    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)


class SealedDetails(Contract):
    """``ProtectedDetails`` encrypted with the case data key; only key holders can open it."""

    wrapped_key: WrappedKey
    ciphertext: str


class ContactDetails(Contract):
    """How to reach a person; personal data, so it travels only inside ``ProtectedDetails``."""

    name: str | None = None
    email: str | None = None
    phone: str | None = None
    address: str | None = None


class ProtectedDetails(Contract):
    """What identifies the survivor or may name people: never stored, logged or sent in clear."""

    full_name: str
    other_names: list[str] = []
    date_of_birth: date | None = None
    approximate_age: int | None = None
    home_office_reference: str | None = None
    account: str = ""
    questions: list[str] = []
    survivor_contact: ContactDetails | None = None
    representative: ContactDetails | None = None


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


class SealedText(Contract):
    """A short free text that may name people (a reason, a question, an answer), sealed with
    the case data key like ``SealedDetails``."""

    wrapped_key: WrappedKey
    ciphertext: str


def seal_text(text: str, *, case_id: uuid.UUID, key: DataKey, purpose: str) -> SealedText:
    return SealedText(
        wrapped_key=key.wrapped,
        ciphertext=key.seal(text.encode(), context=f"case:{case_id}:{purpose}"),
    )


def open_text(sealed: SealedText, *, case_id: uuid.UUID, keyring: KeyRing, purpose: str) -> str:
    key = keyring.unwrap(sealed.wrapped_key)
    return key.open(sealed.ciphertext, context=f"case:{case_id}:{purpose}").decode()


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


class ImmigrationStage(StrEnum):
    NOT_YET_CLAIMED = "not_yet_claimed"
    CLAIMED_AWAITING_DECISION = "claimed_awaiting_decision"
    REFUSED = "refused"
    APPEAL_PENDING = "appeal_pending"
    FRESH_CLAIM = "fresh_claim"


class InterpreterGender(StrEnum):
    FEMALE = "female"
    MALE = "male"
    NO_PREFERENCE = "no_preference"


YearMonth = Annotated[
    str, Field(pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])$", max_length=7, description="YYYY-MM")
]


class KeyDates(Contract):
    """Immigration dates that make a case urgent; dates of proceedings, not of the person."""

    decision: date | None = None
    appeal_hearing: date | None = None
    removal_directions: date | None = None


class DetentionStatus(Contract):
    detained: bool
    place: str | None = None
    rule_35_report: bool | None = None


class Needs(Contract):
    """What assignment needs to know: languages (BCP 47) and interpreting."""

    languages: list[str]
    interpreter_needed: bool
    interpreter_gender: InterpreterGender = InterpreterGender.NO_PREFERENCE


class AllegationSummary(Contract):
    """The allegations in controlled vocabulary, without the account (which stays sealed)."""

    countries: list[CountryCode]
    period_start: YearMonth | None = None
    period_end: YearMonth | None = None
    methods: list[str] = []
    perpetrators: list[str] = []
    vocabulary_version: str


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
    immigration_stage: ImmigrationStage | None = None
    key_dates: KeyDates = KeyDates()
    detention: DetentionStatus = DetentionStatus(detained=False)
    needs: Needs | None = None
    gender: str | None = None
    age_band: str | None = None
    allegations: AllegationSummary | None = None


class ReferralAcknowledged(Contract):
    """Triage has the referral; its response is due by ``response_due``."""

    acknowledged_at: datetime
    response_due: date


class InformationRequested(Contract):
    """Triage asks the partner a question; the triage clock pauses until the answer."""

    request_id: uuid.UUID
    question: SealedText
    requested_by: str
    requested_at: datetime


class InformationProvided(Contract):
    """The partner's answer to a request, with any documents attached for it."""

    request_id: uuid.UUID
    answer: SealedText
    documents: list[DocumentReference]
    provided_at: datetime


class ReferralDeclined(Contract):
    reason: SealedText
    declined_by: str
    declined_at: datetime


class ReferralWaitlisted(Contract):
    waitlisted_by: str
    waitlisted_at: datetime


class AppointmentBooked(Contract):
    appointment_id: uuid.UUID
    appointment_on: date
    remote: bool
    booked_at: datetime


class ReferralWithdrawn(Contract):
    """The partner withdrew the referral: every service stops work on it."""

    reason: SealedText
    withdrawn_by: str
    withdrawn_at: datetime


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


Icd11Code = Annotated[
    str,
    Field(
        pattern=r"^[1-9A-HJ-NP-Z][A-HJ-NP-Z][0-9A-HJ-NP-Z]{2}(\.[0-9A-HJ-NP-Z]{1,2})?$",
        max_length=7,
        description="An ICD-11 code, e.g. 6B40 (post-traumatic stress disorder)",
    ),
]
ClinicalText = Annotated[str, Field(max_length=20_000)]


class Diagnosis(Contract):
    code: Icd11Code
    label: Annotated[str, Field(min_length=1, max_length=300)]


class InstrumentScore(Contract):
    """A psychometric instrument and the score it gave (e.g. PCL-5: 58)."""

    instrument: Annotated[str, Field(min_length=1, max_length=100)]
    score: Annotated[float, Field(ge=0)]
    interpretation: Annotated[str, Field(max_length=500)] = ""


class PsychologicalFindings(Contract):
    symptoms: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=300)]], Field(max_length=100)
    ] = []
    diagnoses: Annotated[list[Diagnosis], Field(max_length=30)] = []
    instruments: Annotated[list[InstrumentScore], Field(max_length=30)] = []
    assessment: ClinicalText = ""


class QuestionAnswer(Contract):
    """The clinician's answer to one question of the letter of instruction, by its number."""

    question: Annotated[int, Field(ge=1, description="1 for the first question, and so on")]
    answer: Annotated[str, Field(min_length=1, max_length=5000)]


class PhotographReference(Contract):
    """A photograph taken with consent, stored encrypted by review, with its hash."""

    photograph_id: uuid.UUID
    sha256: Sha256Hex
    lesion: Annotated[int, Field(ge=1)] | None = Field(
        default=None, description="The lesion it shows, numbered from 1 as in the table."
    )
    caption: Annotated[str, Field(max_length=300)] = ""


class ClinicalFindings(Contract):
    """The clinician's draft, structured per the Istanbul Protocol."""

    lesions: Annotated[list[Lesion], Field(max_length=MAX_LESIONS)]
    overall_consistency: ConsistencyLevel
    interpretation: ClinicalText
    conclusions: ClinicalText
    history: ClinicalText = ""
    physical_symptoms: ClinicalText = ""
    psychological: PsychologicalFindings | None = None
    answers: Annotated[list[QuestionAnswer], Field(max_length=MAX_QUESTIONS)] = []
    photographs: Annotated[list[PhotographReference], Field(max_length=MAX_PHOTOGRAPHS)] = []

    def free_text(self) -> list[tuple[str, str]]:
        """Every free-text field with its path, to check what a draft says."""
        texts = [
            ("interpretation", self.interpretation),
            ("conclusions", self.conclusions),
            ("history", self.history),
            ("physical_symptoms", self.physical_symptoms),
        ]
        for i, lesion in enumerate(self.lesions):
            texts += [
                (f"lesions.{i}.description", lesion.description),
                (f"lesions.{i}.attributed_cause", lesion.attributed_cause),
            ]
        texts += [(f"answers.{i}.answer", a.answer) for i, a in enumerate(self.answers)]
        texts += [(f"photographs.{i}.caption", p.caption) for i, p in enumerate(self.photographs)]
        if self.psychological is not None:
            texts.append(("psychological.assessment", self.psychological.assessment))
            texts += [
                (f"psychological.symptoms.{i}", symptom)
                for i, symptom in enumerate(self.psychological.symptoms)
            ]
        return texts


def findings_changes(before: ClinicalFindings | None, after: ClinicalFindings) -> list[str]:
    """The parts of a draft that differ between two versions, named as a reader would."""
    if before is None:
        return ["(first version)"]
    old, new = before.model_dump(mode="json"), after.model_dump(mode="json")
    changed: list[str] = []
    for name in new:
        if name == "lesions":
            changed += _changed_items("lesions", old.get("lesions", []), new["lesions"])
        elif name == "answers":
            changed += _changed_items("answers", old.get("answers", []), new["answers"])
        elif old.get(name) != new[name]:
            changed.append(name)
    return changed


def _changed_items(name: str, old: list[object], new: list[object]) -> list[str]:
    changed = [
        f"{name}.{i + 1}"
        for i in range(max(len(old), len(new)))
        if (old[i] if i < len(old) else None) != (new[i] if i < len(new) else None)
    ]
    return changed


class ReviewCompleted(Contract):
    reference: CaseReference
    organisation: str
    protected: SealedDetails
    clinician_id: str
    clinician_name: str
    clinician_qualifications: str = ""
    approved_by: str | None = None  # the senior clinician who peer-reviewed, once there is one
    completed_at: datetime
    report_due: date | None
    findings: ClinicalFindings
    documents: list[DocumentReference]


class ReportChangesRequested(Contract):
    """Legal review sends the draft back to its clinician, with comments (sealed)."""

    comments: SealedText
    requested_by: str
    requested_at: datetime


class ErasureReason(StrEnum):
    RETENTION_EXPIRED = "retention_expired"
    DATA_SUBJECT_REQUEST = "data_subject_request"
    COURT_ORDER = "court_order"
    OTHER = "other"


class CaseErased(Contract):
    """The case's data key is destroyed: every service drops its copies, so the identity and
    documents it protected can no longer be read anywhere. Anonymised counts stay."""

    reason: ErasureReason
    erased_by: str
    erased_at: datetime


class EscalationKind(StrEnum):
    TRIAGE_OVERDUE = "triage_overdue"
    NO_APPOINTMENT = "no_appointment"
    REPORT_DUE_SOON = "report_due_soon"
    REPORT_OVERDUE = "report_overdue"
    CLINICIAN_LEFT = "clinician_left"
    """The assigned clinician no longer works here (deactivated in the directory)."""


class CaseEscalated(Contract):
    """A deadline is at risk or missed; emitted once per kind and case."""

    kind: EscalationKind
    due: date
    detected_at: datetime


class ReportIssued(Contract):
    report_id: uuid.UUID
    version: Annotated[int, Field(ge=1)]
    object_key: str
    sha256: Sha256Hex
    size: Annotated[int, Field(ge=0)]
    issued_at: datetime
    signed_off_by: str


class PersonChanged(Contract):
    """A person in the directory as they are now, after any change: invited, bound to the
    provider's subject at a first sign-in, roles changed, deactivated or reactivated. The
    envelope's ``case_id`` is the person's id. ``revision`` rises by one with each change, so a
    copy applies a snapshot only when it is newer than the one it holds, in whatever order the
    snapshots arrive. A person is staff data, not a survivor's: nothing here is sealed."""

    person_id: uuid.UUID
    revision: Annotated[int, Field(ge=1)]
    email: Annotated[str, Field(max_length=254)]
    name: Annotated[str, Field(max_length=200)]
    roles: Annotated[list[Role], Field(min_length=1, max_length=8)]
    organisation_id: str | None = None
    subject: str | None = None
    """The provider's subject, once the invitation is bound."""
    active: bool
    changed_at: datetime


def _build() -> EventRegistry:
    registry = EventRegistry()
    registry.register("referral.submitted", 1, ReferralSubmitted)
    registry.register("referral.accepted", 1, ReferralAccepted)
    registry.register("case.assigned", 1, CaseAssigned)
    registry.register("review.completed", 1, ReviewCompleted)
    registry.register("report.issued", 1, ReportIssued)
    registry.register("referral.acknowledged", 1, ReferralAcknowledged)
    registry.register("referral.information_requested", 1, InformationRequested)
    registry.register("referral.information_provided", 1, InformationProvided)
    registry.register("referral.declined", 1, ReferralDeclined)
    registry.register("referral.waitlisted", 1, ReferralWaitlisted)
    registry.register("referral.withdrawn", 1, ReferralWithdrawn)
    registry.register("appointment.booked", 1, AppointmentBooked)
    registry.register("report.changes_requested", 1, ReportChangesRequested)
    registry.register("case.escalated", 1, CaseEscalated)
    registry.register("case.erased", 1, CaseErased)
    registry.register("directory.person_changed", 1, PersonChanged)
    return registry


CASE_EVENTS = _build()
"""Every case event Corroborate publishes, by routing key (= type) and schema version."""
