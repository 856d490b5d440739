"""Intake's use cases against in-memory fakes of their ports: each command answers with what
its caller reads, from one load of the referral, and audits that reading once."""

from __future__ import annotations

import base64
import copy
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import pytest

from corroborate.auth import Principal, Role
from corroborate.crypto import KeyRing, WrappedKey
from corroborate.events.envelope import EventEnvelope
from corroborate_testing.fakes import MemoryAudit
from intake.domain.referral import DocumentRecord, Referral, SubmissionIncomplete
from intake.ports import ListFilter, StoredReferral
from intake.service.cases import Cases
from intake.service.drafts import Drafts
from intake.service.submission import Submission


@dataclass
class FakeReferrals:
    """The referral repository in memory; counts loads to show commands load once."""

    stored: dict[uuid.UUID, StoredReferral] = field(default_factory=dict)
    events: list[EventEnvelope] = field(default_factory=list)
    loads: int = 0

    async def ensure_indexes(self) -> None:
        return None

    async def add(
        self,
        referral: Referral,
        *,
        details: dict[str, Any],
        wrapped_key: WrappedKey,
        home_office_index: str | None,
    ) -> bool:
        if referral.case_id in self.stored:
            return False
        referral.version = 1
        self.stored[referral.case_id] = StoredReferral(
            referral=copy.deepcopy(referral), details=details, wrapped=wrapped_key
        )
        return True

    async def get(self, case_id: uuid.UUID) -> StoredReferral | None:
        self.loads += 1
        found = self.stored.get(case_id)
        return None if found is None else replace(found, referral=copy.deepcopy(found.referral))

    async def list_for_organisation(
        self, where: ListFilter, *, cursor: str | None, limit: int
    ) -> tuple[list[Referral], str | None]:
        mine = [
            s.referral
            for s in self.stored.values()
            if s.referral.organisation == where.organisation
        ]
        return mine[:limit], None

    async def append_document(self, case_id: uuid.UUID, document: DocumentRecord) -> bool | None:
        self.stored[case_id].referral.documents.append(document)
        return True

    async def save(
        self,
        referral: Referral,
        *,
        events: list[EventEnvelope],
        processed_event: uuid.UUID | None = None,
        details: dict[str, Any] | None = None,
        home_office_index: str | None = None,
    ) -> None:
        before = self.stored[referral.case_id]
        referral.version += 1
        referral.new_changes.clear()
        self.events.extend(events)
        self.stored[referral.case_id] = replace(
            before,
            referral=copy.deepcopy(referral),
            details=before.details if details is None else details,
        )

    async def erase(self, referral: Referral, *, events: list[EventEnvelope]) -> None:
        await self.save(referral, events=events)
        self.stored[referral.case_id] = replace(self.stored[referral.case_id], wrapped=None)


ReferralBody = Callable[..., dict[str, Any]]
PARTNER = Principal(subject="solicitor-1", role=Role.PARTNER, organisation="solicitors-a")


@pytest.fixture
def referrals() -> FakeReferrals:
    return FakeReferrals()


@pytest.fixture
def audit() -> MemoryAudit:
    return MemoryAudit()


@pytest.fixture
def cases(referrals: FakeReferrals, audit: MemoryAudit) -> Cases:
    keyring = KeyRing(base64.b64encode(os.urandom(32)).decode())
    return Cases(referrals=referrals, keyring=keyring, audit=audit)


async def test_a_new_draft_answers_with_its_details_and_audits_the_reading_once(
    cases: Cases, referrals: FakeReferrals, audit: MemoryAudit, referral_body: ReferralBody
) -> None:
    body = referral_body()
    result = await Drafts(cases=cases).create(caller=PARTNER, data=body)

    assert not result.replayed
    assert result.value.details == body
    assert result.value.missing == ["documents: at least one supporting document is required"]
    assert referrals.loads == 0  # nothing read back
    assert audit.recorded == [
        ("referral.created", "solicitor-1"),
        ("identity.read", "solicitor-1"),
    ]
    stored = referrals.stored[result.value.referral.case_id]
    name = body["survivor"]["full_name"]
    assert name not in str(stored.details)  # sealed at rest, open in the answer


async def test_a_keyed_retry_answers_the_first_draft_again(
    cases: Cases, audit: MemoryAudit, referral_body: ReferralBody
) -> None:
    drafts, body = Drafts(cases=cases), referral_body()
    first = await drafts.create(caller=PARTNER, data=body, idempotency_key="key-00001")
    again = await drafts.create(caller=PARTNER, data=body, idempotency_key="key-00001")

    assert again.replayed
    assert again.value.referral.case_id == first.value.referral.case_id
    assert again.value.details == first.value.details
    assert audit.actions.count("referral.created") == 1


async def test_an_update_loads_once_and_answers_with_the_merged_details(
    cases: Cases, referrals: FakeReferrals, audit: MemoryAudit, referral_body: ReferralBody
) -> None:
    drafts = Drafts(cases=cases)
    created = await drafts.create(caller=PARTNER, data=referral_body())
    case_id = created.value.referral.case_id
    audit.clear()
    referrals.loads = 0

    read = await drafts.update(
        caller=PARTNER, case_id=case_id, patch={"questions": ["Are the scars consistent?"]}
    )

    assert read.details["questions"] == ["Are the scars consistent?"]
    assert read.details["survivor"] == created.value.details["survivor"]
    assert referrals.loads == 1
    assert audit.actions == ["referral.edited", "identity.read"]
    reread = await cases.read(caller=PARTNER, case_id=case_id)
    assert reread.details == read.details


async def test_submission_without_evidence_names_what_is_missing_and_saves_nothing(
    cases: Cases, referrals: FakeReferrals, referral_body: ReferralBody
) -> None:
    created = await Drafts(cases=cases).create(caller=PARTNER, data=referral_body())
    case_id = created.value.referral.case_id

    with pytest.raises(SubmissionIncomplete) as refused:
        await Submission(cases=cases).submit(
            caller=PARTNER, case_id=case_id, correlation_id=uuid.uuid4()
        )

    assert refused.value.missing == ["documents: at least one supporting document is required"]
    assert referrals.events == []


async def test_a_withdrawal_answers_with_its_reason_opened_from_one_load(
    cases: Cases, referrals: FakeReferrals, audit: MemoryAudit, referral_body: ReferralBody
) -> None:
    created = await Drafts(cases=cases).create(caller=PARTNER, data=referral_body())
    case_id = created.value.referral.case_id
    audit.clear()
    referrals.loads = 0

    result = await Submission(cases=cases).withdraw(
        caller=PARTNER,
        case_id=case_id,
        reason="the survivor moved away",
        correlation_id=uuid.uuid4(),
    )

    change = result.value.referral.timeline[-1]
    assert result.value.notes[change.change_id] == "the survivor moved away"
    assert "the survivor moved away" not in str(referrals.stored[case_id].referral.timeline)
    assert referrals.loads == 1
    assert referrals.events == []  # a draft was never seen downstream
    assert audit.actions == ["referral.withdrawn", "identity.read"]
    assert result.value.referral.updated_at == change.at
    assert change.at <= datetime.now(UTC)
