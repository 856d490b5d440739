"""Drafts: a partner starts a referral, complete or not, and completes it over several requests."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from corroborate.audit import actor_of
from corroborate.auth import Principal
from corroborate.clock import utc_now
from intake.domain.details import check_draft, merge_patch
from intake.domain.referral import Referral, ReferralStatus, new_reference
from intake.ports import StoredReferral
from intake.service.cases import Cases, ReferralRead, Replayed
from intake.service.errors import DraftInvalid, IdempotencyKeyReused


class Drafts:
    def __init__(self, *, cases: Cases) -> None:
        self._cases = cases

    async def create(
        self, *, caller: Principal, data: Mapping[str, Any], idempotency_key: str | None = None
    ) -> Replayed[ReferralRead]:
        """A new draft; a retry with the same Idempotency-Key answers the first one again."""
        assert caller.organisation is not None
        check = check_draft(data)
        if check.errors:
            raise DraftInvalid(check.errors)
        cases = self._cases
        fingerprint = cases.fingerprint("create", data)
        if idempotency_key is not None:
            case_id = uuid.uuid5(uuid.NAMESPACE_URL, f"{caller.organisation}:{idempotency_key}")
            existing = await cases.referrals.get(case_id)
            if existing is not None:
                return await self._replay(existing, caller, idempotency_key, fingerprint)
        else:
            case_id = uuid.uuid4()
        now = utc_now()
        key = cases.keyring.new_data_key()
        referral = Referral(
            case_id=case_id,
            reference=new_reference(now.year),
            organisation=caller.organisation,
            created_by=caller.subject,
            status=ReferralStatus.DRAFT,
            created_at=now,
            applied_keys={idempotency_key: fingerprint} if idempotency_key else {},
        )
        sealed = cases.seal(data, case_id, key)
        created = await cases.referrals.add(
            referral,
            details=sealed,
            wrapped_key=key.wrapped,
            home_office_index=cases.home_office_index(data),
        )
        if not created:  # the same key, concurrently: the other request made it
            existing = await cases.referrals.get(case_id)
            assert existing is not None
            assert idempotency_key is not None
            return await self._replay(existing, caller, idempotency_key, fingerprint)
        await cases.audit.record("referral.created", actor=actor_of(caller), case_id=case_id)
        stored = StoredReferral(referral=referral, details=sealed, wrapped=key.wrapped)
        read = await cases.opened(stored, caller=caller, key=key, details=dict(data))
        return Replayed(read, False)

    async def _replay(
        self, stored: StoredReferral, caller: Principal, key: str, fingerprint: str
    ) -> Replayed[ReferralRead]:
        if stored.referral.applied_keys.get(key) != fingerprint:
            raise IdempotencyKeyReused(key)
        return Replayed(await self._cases.opened(stored, caller=caller), True)

    async def update(
        self, *, caller: Principal, case_id: uuid.UUID, patch: Mapping[str, Any]
    ) -> ReferralRead:
        """Apply a JSON merge patch to a draft; the whole result must still break no rule."""
        cases = self._cases
        stored = await cases.get(caller=caller, case_id=case_id)
        stored.referral.ensure_editable()
        key = cases.data_key(stored)
        merged = merge_patch(cases.open_details(stored, key), patch)
        check = check_draft(merged)
        if check.errors:
            raise DraftInvalid(check.errors)
        sealed = cases.seal(merged, case_id, key)
        await cases.referrals.save(
            stored.referral,
            events=[],
            details=sealed,
            home_office_index=cases.home_office_index(merged),
        )
        await cases.audit.record(
            "referral.edited",
            actor=actor_of(caller),
            case_id=case_id,
            details={"fields": sorted(patch)},
        )
        saved = StoredReferral(referral=stored.referral, details=sealed, wrapped=stored.wrapped)
        return await cases.opened(saved, caller=caller, key=key, details=merged)
