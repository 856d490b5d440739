"""The directory in intake's database: organisations, and people with their invitations."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from corroborate.events.envelope import EventEnvelope
from corroborate.mongo import Document, insert_aggregate, save_aggregate
from intake.domain.directory import ApiClient, DirectoryRefused, Organisation, Person

ORGANISATIONS = "directory_organisations"
CLIENTS = "directory_api_clients"
"""Machine clients by the provider's client id (the id is the key: one organisation each)."""
PEOPLE = "directory_people"
"""People, each an aggregate with its outbox: every change announces the person as they now are
(``directory.person_changed``)."""
_WITHOUT_OUTBOX = {"outbox": 0, "processed_events": 0}


def _organisation(doc: Document) -> Organisation:
    return Organisation.model_validate({**doc, "organisation_id": doc["_id"]})


def _person(doc: Document) -> Person:
    return Person.model_validate({**doc, "person_id": doc["_id"]})


class MongoDirectory:
    def __init__(
        self,
        organisations: AsyncCollection[Document],
        people: AsyncCollection[Document],
        clients: AsyncCollection[Document],
        *,
        on_events: Callable[[], None] = lambda: None,
    ) -> None:
        self._organisations = organisations
        self._people = people
        self._clients = clients
        self._on_events = on_events

    async def prepare(self) -> None:
        await self._people.create_index([("email", ASCENDING)], unique=True)
        await self._people.create_index([("subject", ASCENDING)], unique=True, sparse=True)
        await self._people.create_index([("organisation_id", ASCENDING)])
        await self._clients.create_index([("organisation_id", ASCENDING)])
        # People written before the directory announced its changes: at version 1, nothing
        # queued.
        await self._people.update_many(
            {"version": {"$exists": False}},
            {"$set": {"version": 1, "outbox": [], "outbox_pending": False}},
        )

    async def add_organisation(self, organisation: Organisation) -> None:
        doc = organisation.model_dump(mode="python", exclude={"organisation_id"}, exclude_none=True)
        try:
            await self._organisations.insert_one({"_id": organisation.organisation_id, **doc})
        except DuplicateKeyError as exc:
            raise DirectoryRefused(
                "organisation_id", "taken", "an organisation with this id already exists"
            ) from exc

    async def organisation(self, organisation_id: str) -> Organisation | None:
        found = await self._organisations.find_one({"_id": organisation_id})
        return None if found is None else _organisation(found)

    async def organisations(self) -> list[Organisation]:
        return [_organisation(d) async for d in self._organisations.find({}).sort("name", 1)]

    async def update_organisation(
        self, organisation_id: str, **changes: Any
    ) -> Organisation | None:
        found = await self._organisations.find_one_and_update(
            {"_id": organisation_id}, {"$set": changes}, return_document=ReturnDocument.AFTER
        )
        return None if found is None else _organisation(found)

    async def add_person(self, person: Person, *, events: list[EventEnvelope]) -> None:
        doc = person.model_dump(mode="python", exclude={"person_id", "version"}, exclude_none=True)
        try:
            await insert_aggregate(
                self._people, document={"_id": person.person_id, **doc}, events=events
            )
        except DuplicateKeyError as exc:
            raise DirectoryRefused(
                "email", "taken", "someone with this email address is already in the directory"
            ) from exc
        self._on_events()

    async def person(self, person_id: str) -> Person | None:
        found = await self._people.find_one({"_id": person_id}, _WITHOUT_OUTBOX)
        return None if found is None else _person(found)

    async def by_subject(self, subject: str) -> Person | None:
        found = await self._people.find_one({"subject": subject}, _WITHOUT_OUTBOX)
        return None if found is None else _person(found)

    async def by_email(self, email: str) -> Person | None:
        found = await self._people.find_one({"email": email}, _WITHOUT_OUTBOX)
        return None if found is None else _person(found)

    async def people(self, organisation_id: str | None = None) -> list[Person]:
        query = {} if organisation_id is None else {"organisation_id": organisation_id}
        found = self._people.find(query, _WITHOUT_OUTBOX).sort("name", 1)
        return [_person(d) async for d in found]

    async def save_person(self, person: Person, *, events: list[EventEnvelope]) -> Person:
        changes = person.model_dump(mode="python", exclude={"person_id", "version"})
        await save_aggregate(
            self._people,
            aggregate_id=person.person_id,
            expected_version=person.version,
            changes=changes,
            events=events,
        )
        if events:
            self._on_events()
        return person.model_copy(update={"version": person.version + 1})

    async def signed_in(self, person_id: str, at: datetime) -> None:
        await self._people.update_one({"_id": person_id}, {"$set": {"last_sign_in_at": at}})

    async def add_client(self, client: ApiClient) -> None:
        doc = client.model_dump(mode="python", exclude={"client_id"})
        try:
            await self._clients.insert_one({"_id": client.client_id, **doc})
        except DuplicateKeyError as exc:
            raise DirectoryRefused(
                "client_id", "taken", "this client already acts for an organisation"
            ) from exc

    async def client(self, client_id: str) -> ApiClient | None:
        found = await self._clients.find_one({"_id": client_id})
        return None if found is None else _client(found)

    async def clients(self, organisation_id: str) -> list[ApiClient]:
        found = self._clients.find({"organisation_id": organisation_id}).sort("_id", 1)
        return [_client(d) async for d in found]

    async def remove_client(self, organisation_id: str, client_id: str) -> bool:
        removed = await self._clients.delete_one(
            {"_id": client_id, "organisation_id": organisation_id}
        )
        return removed.deleted_count == 1


def _client(doc: Document) -> ApiClient:
    return ApiClient.model_validate({**doc, "client_id": doc["_id"]})
