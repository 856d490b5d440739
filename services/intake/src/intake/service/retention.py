"""Retention, for admins: legal-claims holds, and erasure by destroying the case's data key."""

from __future__ import annotations

import uuid

from corroborate.audit import actor_of
from corroborate.auth import Principal
from corroborate.clock import utc_now
from corroborate.events.contracts import CaseErased, ErasureReason
from intake.domain.referral import Referral, ReferralStatus
from intake.service.cases import Cases, case_event


class Retention:
    def __init__(self, *, cases: Cases) -> None:
        self._cases = cases

    async def set_hold(
        self, *, caller: Principal, case_id: uuid.UUID, reason: str | None
    ) -> Referral:
        """Set (with a reason) or lift (None) a legal-claims hold, which forbids erasure."""
        stored = await self._cases.get_any(case_id=case_id)
        stored.referral.legal_hold = reason
        await self._cases.referrals.save(stored.referral, events=[])
        await self._cases.audit.record(
            "legal_hold.set" if reason else "legal_hold.lifted",
            actor=actor_of(caller),
            case_id=case_id,
        )
        return stored.referral

    async def erase(
        self,
        *,
        caller: Principal,
        case_id: uuid.UUID,
        reason: ErasureReason,
        correlation_id: uuid.UUID,
    ) -> Referral:
        """Destroy the case's data key here and, through ``case.erased``, in every service: its
        identity, notes and documents (every stored version) can no longer be read anywhere.
        The anonymised statistics keep their counts; the audit log keeps the act, not who."""
        stored = await self._cases.get_any(case_id=case_id)
        referral = stored.referral
        if referral.status is ReferralStatus.ERASED:
            return referral
        now = utc_now()
        event = case_event(
            CaseErased(reason=reason, erased_by=caller.subject, erased_at=now),
            case_id=case_id,
            correlation_id=correlation_id,
            at=now,
        )
        referral.erase(change_id=event.event_id, at=now)
        await self._cases.referrals.erase(referral, events=[event])
        await self._cases.audit.record(
            "case.erased", actor=actor_of(caller), case_id=case_id, details={"reason": reason.value}
        )
        return referral
