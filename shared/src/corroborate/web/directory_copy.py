"""A service's own copy of the directory, kept from ``directory.person_changed``.

Intake owns the directory; review and reporting never call it. Each keeps the people it has
heard of in its own database (``directory_people``) and admits a person to its pages from that
copy: by the provider's subject once it is bound, or, before then, by the invited email, which
this copy binds once, as intake does. The owner's word wins: a snapshot from intake that names
another subject replaces a local binding (and the sessions that binding opened end at their next
request). Snapshots are applied only when newer than the one held, so redeliveries and
reordering change nothing.

Partners sign in at intake only: their organisation's standing is intake's to judge, so this
copy admits staff (people outside any organisation) and no one else.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from pymongo import ASCENDING, ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from corroborate.auth import Role
from corroborate.clock import utc_now
from corroborate.events.contracts import PersonChanged
from corroborate.events.envelope import EventEnvelope
from corroborate.mongo import Document
from corroborate.oidc import SignedIn
from corroborate.web.signin import Member

COPY = "directory_people"


def _member(doc: Document) -> Member:
    return Member(
        person_id=doc["_id"],
        name=doc["name"],
        email=doc["email"],
        roles=tuple(Role(r) for r in doc["roles"]),
        organisation=doc.get("organisation_id"),
        organisation_name=None,
        active=bool(doc["active"]) and doc.get("organisation_id") is None,
        subject=doc.get("subject"),
    )


class DirectoryCopy:
    """The ``Directory`` port of a service that does not own the directory."""

    def __init__(
        self, people: AsyncCollection[Document], *, clock: Callable[[], datetime] = utc_now
    ) -> None:
        self._people = people
        self._clock = clock

    async def prepare(self) -> None:
        await self._people.create_index([("email", ASCENDING)])
        await self._people.create_index([("subject", ASCENDING)], sparse=True)

    async def on_person_changed(self, envelope: EventEnvelope, changed: PersonChanged) -> None:
        """Hold ``changed`` if it is newer than the snapshot held (idempotent)."""
        person_id = str(changed.person_id)
        snapshot = {
            "revision": changed.revision,
            "email": changed.email.lower(),
            "name": changed.name,
            "roles": [r.value for r in changed.roles],
            "organisation_id": changed.organisation_id,
            "active": changed.active,
            "changed_at": changed.changed_at,
        }
        if changed.subject is not None:
            snapshot["subject"] = changed.subject
        try:
            await self._people.update_one(
                {"_id": person_id, "revision": {"$lt": changed.revision}},
                {"$set": snapshot},
                upsert=True,
            )
        except DuplicateKeyError:
            return  # the copy holds this revision or a newer one already

    async def admit(self, signed_in: SignedIn) -> Member | None:
        now = self._clock()
        found = await self._people.find_one_and_update(
            {"subject": signed_in.subject},
            {"$set": {"last_sign_in_at": now}},
            return_document=ReturnDocument.AFTER,
        )
        if found is None and signed_in.email:
            found = await self._people.find_one_and_update(
                {"email": signed_in.email.lower(), "subject": {"$exists": False}},
                {"$set": {"subject": signed_in.subject, "last_sign_in_at": now}},
                return_document=ReturnDocument.AFTER,
            )
        if found is None:
            return None
        member = _member(found)
        return member if member.active else None

    async def member(self, person_id: str) -> Member | None:
        found = await self._people.find_one({"_id": person_id})
        return None if found is None else _member(found)
