"""Review's use cases over an in-memory repository: the queue, access, and emitted events."""

from __future__ import annotations

import base64
import os
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from corroborate.auth import Principal, Role
from corroborate.crypto import DataKey, KeyRing, WrappedKey
from corroborate.events.contracts import (
    RiskFlag,
    SealedDetails,
)
from corroborate.events.envelope import EventEnvelope
from corroborate.mongo import StoredAggregate
from corroborate.storage import StoredObject
from corroborate_testing.fakes import MemoryAudit
from review.domain.case import (
    CaseStatus,
    Eligibility,
    InvalidTransition,
    Outcome,
    RemitBasis,
    ReviewCase,
)
from review.domain.roster import Clinician, Discipline
from review.ports import StoredCase
from review.service import NotFound, Review, ReviewPolicy

SEALED = SealedDetails(
    wrapped_key=WrappedKey(key_id="k1", ciphertext="d3JhcHBlZA=="), ciphertext="c2VhbGVk"
)
COORDINATOR = Principal(subject="coordinator-1", role=Role.COORDINATOR)


class FakeCases:
    """Stands in for the Mongo repository: keeps cases and the events each save queued."""

    def __init__(self) -> None:
        self.cases: dict[uuid.UUID, ReviewCase] = {}
        self.events: list[EventEnvelope] = []

    async def ensure_indexes(self) -> None:
        pass

    async def add_received(
        self,
        case: ReviewCase,
        *,
        protected: SealedDetails,
        caused_by: uuid.UUID,
        events: list[EventEnvelope],
    ) -> None:
        self.cases.setdefault(case.case_id, case)
        self.events.extend(events)

    async def triage_queue(self, *, status: CaseStatus, limit: int) -> list[ReviewCase]:
        return [c for c in self.cases.values() if c.status is status][:limit]

    async def get(self, case_id: uuid.UUID) -> StoredCase | None:
        case = self.cases.get(case_id)
        return None if case is None else StoredAggregate(case, case_id=case_id, protected=SEALED)

    async def active(self, *, limit: int) -> list[ReviewCase]:
        return list(self.cases.values())[:limit]

    async def in_status(self, status: CaseStatus, *, limit: int) -> list[ReviewCase]:
        return [c for c in self.cases.values() if c.status is status][:limit]

    async def assigned_to(self, clinician_id: str, *, limit: int) -> list[ReviewCase]:
        return [c for c in self.cases.values() if c.clinician_id == clinician_id][:limit]

    async def save(
        self,
        case: ReviewCase,
        *,
        events: list[EventEnvelope],
        processed_event: uuid.UUID | None = None,
    ) -> None:
        self.cases[case.case_id] = case
        self.events.extend(events)

    async def erase(self, case: ReviewCase, *, processed_event: uuid.UUID) -> None:
        self.cases[case.case_id] = case


class FakeRoster:
    """Stands in for the roster collection: everyone asked about works here."""

    async def put(self, clinician: Clinician) -> None:
        pass

    async def all(self) -> list[Clinician]:
        return []

    async def caseloads(self) -> Counter[str]:
        return Counter()

    async def get(self, clinician_id: str) -> Clinician:
        return Clinician(
            clinician_id=clinician_id,
            name=clinician_id,
            disciplines={Discipline.PHYSICAL},
            languages=[],
            capacity=5,
        )


class NoStore:
    """Stands in for object storage in steps that store no object."""

    async def ensure_bucket(
        self, bucket: str, *, versioned: bool = False, object_lock: bool = False
    ) -> None:
        pass

    async def put_encrypted_from(
        self, *, bucket: str, key: str, chunks: AsyncIterator[bytes], data_key: DataKey
    ) -> StoredObject:
        raise AssertionError("these steps store no object")

    async def remove(self, *, bucket: str, key: str, version_id: str | None = None) -> None:
        raise AssertionError("these steps store no object")


@pytest.fixture
def cases() -> FakeCases:
    return FakeCases()


@pytest.fixture
def review(cases: FakeCases) -> Review:
    keyring = KeyRing(base64.b64encode(os.urandom(32)).decode())
    return Review(
        cases=cases,
        roster=FakeRoster(),
        policy=ReviewPolicy(),
        keyring=keyring,
        store=NoStore(),
        photographs_bucket="unused",
        audit=MemoryAudit(),
    )


ELIGIBLE = Eligibility(
    within_remit=True,
    remit_basis=RemitBasis.UN_CONVENTION_AGAINST_TORTURE,
    material_to_claim=True,
    documents_sufficient=True,
)


async def _accept(review: Review, case: ReviewCase) -> None:
    await review.decide(
        caller=COORDINATOR, case_id=case.case_id, outcome=Outcome.ACCEPT, eligibility=ELIGIBLE
    )


def _add(cases: FakeCases, *flags: RiskFlag, days_ago: float = 0) -> ReviewCase:
    case = ReviewCase.received(
        case_id=uuid.uuid4(),
        reference="CRB-2025-QWERTY",
        organisation="org-a",
        service_requested="full_report",
        risk_flags=list(flags),
        documents=[],
        received_at=datetime.now(UTC) - timedelta(days=days_ago),
        response_days=7,
        correlation_id=uuid.uuid4(),
    )
    cases.cases[case.case_id] = case
    return case


async def test_the_queue_is_most_urgent_first_then_oldest(review: Review, cases: FakeCases) -> None:
    plain_new = _add(cases)
    detained = _add(cases, RiskFlag.DETAINED)
    plain_old = _add(cases, days_ago=0.5)
    suicide = _add(cases, RiskFlag.SUICIDE_OR_SELF_HARM_RISK)
    overdue = _add(cases, days_ago=40)

    queue = await review.triage_queue()

    assert [q.case.case_id for q in queue] == [
        overdue.case_id,
        suicide.case_id,
        detained.case_id,
        plain_old.case_id,
        plain_new.case_id,
    ]
    assert "triage response overdue" in queue[0].urgency.reasons


async def test_a_clinician_sees_only_the_cases_assigned_to_them(
    review: Review, cases: FakeCases
) -> None:
    case = _add(cases)
    await _accept(review, case)
    await review.assign(caller=COORDINATOR, case_id=case.case_id, clinician_id="dr-1")
    mine = Principal(subject="dr-1", role=Role.CLINICIAN)
    other = Principal(subject="dr-2", role=Role.CLINICIAN)

    assert (await review.get(caller=mine, case_id=case.case_id)).aggregate is case
    with pytest.raises(NotFound):
        await review.get(caller=other, case_id=case.case_id)
    with pytest.raises(NotFound):
        await review.get(caller=COORDINATOR, case_id=uuid.uuid4())
    assert [c.case_id for c in await review.my_cases(caller=mine)] == [case.case_id]
    assert await review.my_cases(caller=other) == []


async def test_each_step_emits_its_event_with_the_referral_correlation_id(
    review: Review, cases: FakeCases
) -> None:
    case = _add(cases)

    await _accept(review, case)
    await review.assign(caller=COORDINATOR, case_id=case.case_id, clinician_id="dr-1")
    await review.book_appointment(
        caller=COORDINATOR,
        case_id=case.case_id,
        on=datetime.now(UTC).date(),
        remote=True,
        interpreter_language="ti",
    )

    assert [e.type for e in cases.events] == [
        "referral.accepted",
        "case.assigned",
        "appointment.booked",
    ]
    assert {e.correlation_id for e in cases.events} == {case.correlation_id}
    assert {e.case_id for e in cases.events} == {case.case_id}
    assert cases.events[0].payload["report_due"] == str(case.report_due)
    booked: dict[str, Any] = cases.events[-1].payload
    assert booked["remote"] is True
    assert booked["appointment_id"] == str(case.appointments[0].appointment_id)


async def test_a_refused_step_emits_nothing(review: Review, cases: FakeCases) -> None:
    case = _add(cases)
    with pytest.raises(InvalidTransition):
        await review.assign(caller=COORDINATOR, case_id=case.case_id, clinician_id="dr-1")
    assert cases.events == []
