"""A service's copy of the directory in the real database: snapshots applied only when newer
(redelivered or reordered ones change nothing), an invitation bound once by email, the owner's
binding winning, and partners never admitted."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from corroborate.auth import Role
from corroborate.events.contracts import CASE_EVENTS, PersonChanged
from corroborate.events.envelope import EventEnvelope, new_event
from corroborate.oidc import SignedIn
from corroborate.settings import Settings
from corroborate.web.directory_copy import DirectoryCopy

pytestmark = pytest.mark.integration


@pytest.fixture
async def copy(settings: Settings) -> AsyncIterator[DirectoryCopy]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        settings.mongo_url.get_secret_value(), tz_aware=True
    )
    try:
        people = client[f"{settings.namespace}_directorycopy"][f"people_{secrets.token_hex(3)}"]
        directory = DirectoryCopy(people)
        await directory.prepare()
        yield directory
    finally:
        await client.close()


def _changed(
    person_id: uuid.UUID, revision: int, **fields: Any
) -> tuple[EventEnvelope, PersonChanged]:
    payload = PersonChanged.model_validate(
        {
            "person_id": person_id,
            "revision": revision,
            "email": "dr.lee@clinic.test",
            "name": "Dr Lee",
            "roles": [Role.CLINICIAN],
            "active": True,
            "changed_at": datetime(2026, 12, 7, tzinfo=UTC),
            **fields,
        }
    )
    envelope = new_event(
        payload=payload,
        case_id=person_id,
        producer="intake",
        correlation_id=uuid.uuid4(),
        registry=CASE_EVENTS,
    )
    return envelope, payload


def _signed_in(subject: str, email: str = "dr.lee@clinic.test") -> SignedIn:
    return SignedIn(
        subject=subject,
        email=email,
        name=None,
        amr=("pwd", "otp"),
        acr=None,
        id_token="t",
        claims={},
    )


async def test_an_older_snapshot_arriving_late_changes_nothing(copy: DirectoryCopy) -> None:
    person = uuid.uuid4()
    await copy.on_person_changed(*_changed(person, 2, active=False, subject="sub-1"))
    await copy.on_person_changed(*_changed(person, 1))  # the invitation, delivered late
    await copy.on_person_changed(*_changed(person, 2, active=False, subject="sub-1"))  # again

    member = await copy.member(str(person))

    assert member is not None
    assert member.active is False
    assert await copy.admit(_signed_in("sub-1")) is None


async def test_an_invitation_binds_to_the_first_account_with_its_email_only(
    copy: DirectoryCopy,
) -> None:
    person = uuid.uuid4()
    await copy.on_person_changed(*_changed(person, 1))

    first = await copy.admit(_signed_in("sub-first"))
    second = await copy.admit(_signed_in("sub-second"))

    assert first is not None
    assert first.person_id == str(person)
    assert second is None
    again = await copy.admit(_signed_in("sub-first", email="changed@clinic.test"))
    assert again is not None


async def test_the_owners_binding_replaces_a_local_one(copy: DirectoryCopy) -> None:
    person = uuid.uuid4()
    await copy.on_person_changed(*_changed(person, 1))
    assert await copy.admit(_signed_in("sub-local")) is not None

    await copy.on_person_changed(*_changed(person, 2, subject="sub-owner"))

    member = await copy.member(str(person))
    assert member is not None
    assert member.subject == "sub-owner"
    assert await copy.admit(_signed_in("sub-local", email="other@clinic.test")) is None
    assert await copy.admit(_signed_in("sub-owner")) is not None


async def test_a_partner_is_known_but_never_admitted_here(copy: DirectoryCopy) -> None:
    person = uuid.uuid4()
    await copy.on_person_changed(
        *_changed(person, 1, roles=[Role.PARTNER], organisation_id="haddad-co")
    )

    assert await copy.admit(_signed_in("sub-partner")) is None
    member = await copy.member(str(person))
    assert member is not None
    assert member.active is False
