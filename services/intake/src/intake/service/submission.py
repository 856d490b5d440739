"""Submission and after: a complete referral goes to triage; the partner may withdraw it, or
answer triage's question. Each saves its event with the referral, in one write."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from corroborate.audit import actor_of
from corroborate.auth import Principal
from corroborate.clock import utc_now
from corroborate.crypto import DataKey
from corroborate.events.contracts import (
    AllegationSummary,
    ContactDetails,
    DetentionStatus,
    DocumentReference,
    InformationProvided,
    KeyDates,
    Needs,
    ProtectedDetails,
    ReferralSubmitted,
    ReferralWithdrawn,
    seal_details,
    seal_text,
)
from corroborate.vocab import vocabulary
from intake.domain.details import ReferralDetails, age_band, check_draft
from intake.domain.referral import (
    DocumentRecord,
    InvalidTransition,
    Referral,
    ReferralStatus,
    SubmissionIncomplete,
)
from intake.service.cases import Cases, ReferralRead, Replayed, applied, case_event
from intake.service.errors import NotFound

PUBLISHES = (
    "referral.submitted",
    "referral.withdrawn",
    "referral.information_provided",
    "case.erased",
)


class Submission:
    def __init__(self, *, cases: Cases) -> None:
        self._cases = cases

    async def submit(
        self,
        *,
        caller: Principal,
        case_id: uuid.UUID,
        correlation_id: uuid.UUID,
        idempotency_key: str | None = None,
    ) -> Replayed[ReferralRead]:
        """Send a complete draft to triage; every missing item is named if it is not."""
        cases = self._cases
        stored = await cases.get(caller=caller, case_id=case_id)
        referral = stored.referral
        fingerprint = cases.fingerprint("submit", str(case_id))
        if applied(referral, idempotency_key, fingerprint):
            return Replayed(await cases.opened(stored, caller=caller), True)
        if referral.status is not ReferralStatus.DRAFT:
            raise InvalidTransition(referral.status, "submitted")
        key = cases.data_key(stored)
        data = cases.open_details(stored, key)
        details = _complete(referral, data)
        now = utc_now()
        event = case_event(
            _submitted(referral, details, key=key, now=now),
            case_id=case_id,
            correlation_id=correlation_id,
            at=now,
        )
        referral.submit(change_id=event.event_id, at=now)
        if idempotency_key is not None:
            referral.applied_keys[idempotency_key] = fingerprint
        await cases.referrals.save(referral, events=[event])
        await cases.audit.record("referral.submitted", actor=actor_of(caller), case_id=case_id)
        return Replayed(await cases.opened(stored, caller=caller, key=key, details=data), False)

    async def withdraw(
        self,
        *,
        caller: Principal,
        case_id: uuid.UUID,
        reason: str,
        correlation_id: uuid.UUID,
        idempotency_key: str | None = None,
    ) -> Replayed[ReferralRead]:
        """Withdraw with a reason; every service that has the case stops work on it."""
        cases = self._cases
        stored = await cases.get(caller=caller, case_id=case_id)
        referral = stored.referral
        fingerprint = cases.fingerprint("withdraw", [str(case_id), reason])
        if applied(referral, idempotency_key, fingerprint):
            return Replayed(await cases.opened(stored, caller=caller), True)
        key = cases.data_key(stored)
        now = utc_now()
        sealed = seal_text(reason, case_id=case_id, key=key, purpose="withdrawal-reason")
        was_draft = referral.status is ReferralStatus.DRAFT
        event = case_event(
            ReferralWithdrawn(reason=sealed, withdrawn_by=caller.subject, withdrawn_at=now),
            case_id=case_id,
            correlation_id=correlation_id,
            at=now,
        )
        referral.withdraw(change_id=event.event_id, at=now, note=sealed.model_dump_json())
        if idempotency_key is not None:
            referral.applied_keys[idempotency_key] = fingerprint
        # A draft was never seen downstream: there is nobody to tell.
        await cases.referrals.save(referral, events=[] if was_draft else [event])
        await cases.audit.record("referral.withdrawn", actor=actor_of(caller), case_id=case_id)
        return Replayed(await cases.opened(stored, caller=caller, key=key), False)

    async def provide_information(
        self,
        *,
        caller: Principal,
        case_id: uuid.UUID,
        request_id: uuid.UUID,
        answer: str,
        document_ids: list[uuid.UUID],
        correlation_id: uuid.UUID,
        idempotency_key: str | None = None,
    ) -> Replayed[ReferralRead]:
        """The partner answers triage's question; the case goes back to triage."""
        cases = self._cases
        stored = await cases.get(caller=caller, case_id=case_id)
        referral = stored.referral
        fingerprint = cases.fingerprint(
            "answer", [str(request_id), answer, sorted(map(str, document_ids))]
        )
        if applied(referral, idempotency_key, fingerprint):
            return Replayed(await cases.opened(stored, caller=caller), True)
        documents = {d.document_id: d for d in referral.documents}
        unknown = [str(d) for d in document_ids if d not in documents]
        if unknown:
            raise NotFound(f"documents {', '.join(unknown)}")
        key = cases.data_key(stored)
        now = utc_now()
        sealed = seal_text(answer, case_id=case_id, key=key, purpose="information-answer")
        event = case_event(
            InformationProvided(
                request_id=request_id,
                answer=sealed,
                documents=[document_reference(documents[d]) for d in document_ids],
                provided_at=now,
            ),
            case_id=case_id,
            correlation_id=correlation_id,
            at=now,
        )
        referral.provide_information(request_id=request_id, change_id=event.event_id, at=now)
        referral.timeline[-1].note = sealed.model_dump_json()
        if idempotency_key is not None:
            referral.applied_keys[idempotency_key] = fingerprint
        await cases.referrals.save(referral, events=[event])
        await cases.audit.record("information.provided", actor=actor_of(caller), case_id=case_id)
        return Replayed(await cases.opened(stored, caller=caller, key=key), False)


def _complete(referral: Referral, data: dict[str, Any]) -> ReferralDetails:
    """The referral's details, if complete for triage; otherwise every missing item, raised."""
    check = check_draft(data)
    missing = list(check.missing)
    if check.details is not None:
        missing += referral.missing_for_submission(check.details)
    if check.errors or check.details is None or missing:
        raise SubmissionIncomplete(missing)
    return check.details


def _protected(details: ReferralDetails) -> ProtectedDetails:
    """What identifies the survivor or names people: it travels sealed."""
    survivor = details.survivor
    contact = survivor.contact
    return ProtectedDetails(
        full_name=survivor.full_name,
        other_names=list(survivor.other_names),
        date_of_birth=survivor.date_of_birth,
        approximate_age=survivor.approximate_age,
        home_office_reference=details.immigration.home_office_reference,
        account=details.allegations.account,
        questions=list(details.questions),
        survivor_contact=None
        if contact is None
        else ContactDetails.model_validate(contact, from_attributes=True),
        representative=ContactDetails.model_validate(details.representative, from_attributes=True),
    )


def _allegations(details: ReferralDetails) -> AllegationSummary:
    allegations = details.allegations
    return AllegationSummary(
        countries=list(allegations.countries),
        period_start=allegations.period.start if allegations.period else None,
        period_end=allegations.period.end if allegations.period else None,
        methods=list(allegations.methods),
        perpetrators=list(allegations.perpetrators),
        vocabulary_version=_vocabulary_version(),
    )


def _submitted(
    referral: Referral, details: ReferralDetails, *, key: DataKey, now: datetime
) -> ReferralSubmitted:
    survivor, immigration = details.survivor, details.immigration
    return ReferralSubmitted(
        reference=referral.reference,
        organisation=referral.organisation,
        service_requested=details.service_requested,
        protected=seal_details(_protected(details), case_id=referral.case_id, key=key),
        country_of_origin=survivor.country_of_origin,
        countries_of_ill_treatment=list(details.allegations.countries),
        risk_flags=list(details.risk_flags),
        consent_to_anonymised_use=details.consent.anonymised_use,
        documents=[document_reference(d) for d in referral.documents],
        submitted_at=now,
        immigration_stage=immigration.stage,
        key_dates=KeyDates(
            decision=immigration.decision_date,
            appeal_hearing=immigration.appeal_hearing_date,
            removal_directions=immigration.removal_directions_date,
        ),
        detention=DetentionStatus.model_validate(details.detention, from_attributes=True),
        needs=Needs.model_validate(survivor, from_attributes=True),
        gender=survivor.gender,
        age_band=age_band(details, on=now.date()),
        allegations=_allegations(details),
    )


def _vocabulary_version() -> str:
    return ",".join(
        f"{name}@{vocabulary(name).version}" for name in ("torture_methods", "perpetrator_types")
    )


def document_reference(d: DocumentRecord) -> DocumentReference:
    """A document as the events name it: what it is and its fingerprint, never where it is."""
    return DocumentReference.model_validate(d, from_attributes=True)
