"""What every use case shares: finding a caller's referral, opening its sealed details and
notes, and answering with what the caller may read."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from corroborate.audit import AuditTrail, actor_of
from corroborate.auth import Principal
from corroborate.crypto import DataKey, KeyRing, WrappedKey, open_fields, seal_fields
from corroborate.events.contracts import CASE_EVENTS, SealedText, open_text
from corroborate.events.envelope import EventEnvelope, new_event
from corroborate.mongo import CaseErasedError
from intake.domain.details import IDENTITY_PATHS, check_draft
from intake.domain.referral import Referral, ReferralStatus, StatusChange
from intake.ports import ListFilter, ReferralRepository, StoredReferral
from intake.service.errors import IdempotencyKeyReused, NotFound

PRODUCER = "intake"
T = TypeVar("T")

# What the sealed note on a timeline entry is, per status (it is bound to this purpose).
NOTE_PURPOSE = {
    ReferralStatus.INFORMATION_REQUESTED: "information-request",
    ReferralStatus.INFORMATION_PROVIDED: "information-answer",
    ReferralStatus.DECLINED: "decline-reason",
    ReferralStatus.WITHDRAWN: "withdrawal-reason",
}


@dataclass(frozen=True)
class ReferralRead:
    """A referral with its details opened for the partner who owns it."""

    referral: Referral
    details: dict[str, Any]
    missing: list[str]
    notes: dict[uuid.UUID, str]


@dataclass(frozen=True)
class Replayed(Generic[T]):
    """The result of a request, and whether it repeats an earlier one (same Idempotency-Key)."""

    value: T
    replayed: bool


def details_context(case_id: uuid.UUID) -> str:
    return f"case:{case_id}:referral-details"


def normalise_home_office_reference(value: str) -> str:
    return "".join(value.split()).upper()


def applied(referral: Referral, key: str | None, fingerprint: str) -> bool:
    """True if this keyed request was already carried out; raise if the key is reused."""
    if key is None or key not in referral.applied_keys:
        return False
    if referral.applied_keys[key] != fingerprint:
        raise IdempotencyKeyReused(key)
    return True


def case_event(
    payload: Any, *, case_id: uuid.UUID, correlation_id: uuid.UUID, at: datetime
) -> EventEnvelope:
    """An event intake emits about a case, dated when the change was made."""
    return new_event(
        payload=payload,
        case_id=case_id,
        producer=PRODUCER,
        correlation_id=correlation_id,
        registry=CASE_EVENTS,
        occurred_at=at,
    )


class Cases:
    """The referral repository, the keys and the audit log, as every use case needs them."""

    def __init__(
        self, *, referrals: ReferralRepository, keyring: KeyRing, audit: AuditTrail
    ) -> None:
        self.referrals = referrals
        self.keyring = keyring
        self.audit = audit

    async def get(self, *, caller: Principal, case_id: uuid.UUID) -> StoredReferral:
        """The caller's organisation's referral; any other is not found."""
        stored = await self.referrals.get(case_id)
        if stored is None or stored.referral.organisation != caller.organisation:
            raise NotFound(str(case_id))
        return stored

    async def get_any(self, *, case_id: uuid.UUID) -> StoredReferral:
        """Any organisation's referral (for admins)."""
        stored = await self.referrals.get(case_id)
        if stored is None:
            raise NotFound(str(case_id))
        return stored

    def data_key(self, stored: StoredReferral) -> DataKey:
        """The case's data key; an erased case has none, and its contents are gone."""
        return self.keyring.unwrap(self.wrapped_key(stored))

    @staticmethod
    def wrapped_key(stored: StoredReferral) -> WrappedKey:
        if stored.wrapped is None:
            raise CaseErasedError(f"case {stored.referral.case_id} was erased")
        return stored.wrapped

    def fingerprint(self, action: str, payload: Any) -> str:
        """What a request asked for, as a keyed hash (the body may hold identity)."""
        canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
        return self.keyring.blind_index(f"{action}:{canonical}", purpose="idempotency")

    def seal(self, data: Mapping[str, Any], case_id: uuid.UUID, key: DataKey) -> dict[str, Any]:
        return seal_fields(dict(data), IDENTITY_PATHS, key=key, context=details_context(case_id))

    def open_details(self, stored: StoredReferral, key: DataKey) -> dict[str, Any]:
        context = details_context(stored.referral.case_id)
        return open_fields(stored.details, IDENTITY_PATHS, key=key, context=context)

    def home_office_index(self, data: Mapping[str, Any]) -> str | None:
        reference = (data.get("immigration") or {}).get("home_office_reference")
        if not isinstance(reference, str) or not reference.strip():
            return None
        return self._blind_reference(reference)

    def _blind_reference(self, reference: str) -> str:
        return self.keyring.blind_index(
            normalise_home_office_reference(reference), purpose="home-office-reference"
        )

    async def read(self, *, caller: Principal, case_id: uuid.UUID) -> ReferralRead:
        """The referral with its details and notes opened, for the organisation that made it."""
        return await self.opened(await self.get(caller=caller, case_id=case_id), caller=caller)

    async def opened(
        self,
        stored: StoredReferral,
        *,
        caller: Principal,
        key: DataKey | None = None,
        details: dict[str, Any] | None = None,
    ) -> ReferralRead:
        """What the caller reads of a referral it has in hand (just loaded or just saved): its
        details (opened unless given) and notes; reading identity is audited."""
        referral = stored.referral
        if stored.wrapped is None:  # erased: only where the case stands remains
            return ReferralRead(referral=referral, details={}, missing=[], notes={})
        key = key or self.keyring.unwrap(stored.wrapped)
        details = self.open_details(stored, key) if details is None else details
        missing: list[str] = []
        if referral.status is ReferralStatus.DRAFT:
            check = check_draft(details)
            missing = check.missing
            if check.details is not None:
                missing += referral.missing_for_submission(check.details)
        notes = {
            change.change_id: self._open_note(referral.case_id, change)
            for change in referral.timeline
            if change.note is not None
        }
        await self.audit.record("identity.read", actor=actor_of(caller), case_id=referral.case_id)
        return ReferralRead(referral=referral, details=details, missing=missing, notes=notes)

    def _open_note(self, case_id: uuid.UUID, change: StatusChange) -> str:
        assert change.note is not None
        sealed = SealedText.model_validate_json(change.note)
        return open_text(
            sealed, case_id=case_id, keyring=self.keyring, purpose=NOTE_PURPOSE[change.status]
        )

    async def list_referrals(
        self,
        *,
        caller: Principal,
        statuses: Sequence[ReferralStatus],
        created_from: datetime | None,
        created_to: datetime | None,
        home_office_reference: str | None,
        cursor: str | None,
        limit: int,
    ) -> tuple[list[Referral], str | None]:
        """The caller's organisation's referrals, newest first, a page at a time."""
        assert caller.organisation is not None
        index = None
        if home_office_reference is not None:
            index = self._blind_reference(home_office_reference)
        return await self.referrals.list_for_organisation(
            ListFilter(
                organisation=caller.organisation,
                statuses=statuses,
                created_from=created_from,
                created_to=created_to,
                home_office_index=index,
            ),
            cursor=cursor,
            limit=limit,
        )
