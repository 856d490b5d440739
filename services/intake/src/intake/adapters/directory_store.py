"""The directory in intake's database: organisations, and people with their invitations."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import ASCENDING, ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from corroborate.mongo import Document
from intake.domain.directory import DirectoryRefused, Organisation, Person

ORGANISATIONS = "directory_organisations"
PEOPLE = "directory_people"


def _organisation(doc: Document) -> Organisation:
    return Organisation.model_validate({**doc, "organisation_id": doc["_id"]})


def _person(doc: Document) -> Person:
    return Person.model_validate({**doc, "person_id": doc["_id"]})


class MongoDirectory:
    def __init__(
        self, organisations: AsyncCollection[Document], people: AsyncCollection[Document]
    ) -> None:
        self._organisations = organisations
        self._people = people

    async def prepare(self) -> None:
        await self._people.create_index([("email", ASCENDING)], unique=True)
        await self._people.create_index([("subject", ASCENDING)], unique=True, sparse=True)
        await self._people.create_index([("organisation_id", ASCENDING)])

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

    async def add_person(self, person: Person) -> None:
        doc = person.model_dump(mode="python", exclude={"person_id"}, exclude_none=True)
        try:
            await self._people.insert_one({"_id": person.person_id, **doc})
        except DuplicateKeyError as exc:
            raise DirectoryRefused(
                "email", "taken", "someone with this email address is already in the directory"
            ) from exc

    async def person(self, person_id: str) -> Person | None:
        found = await self._people.find_one({"_id": person_id})
        return None if found is None else _person(found)

    async def by_subject(self, subject: str) -> Person | None:
        found = await self._people.find_one({"subject": subject})
        return None if found is None else _person(found)

    async def people(self, organisation_id: str | None = None) -> list[Person]:
        query = {} if organisation_id is None else {"organisation_id": organisation_id}
        return [_person(d) async for d in self._people.find(query).sort("name", 1)]

    async def bind(self, email: str, subject: str, at: datetime) -> Person | None:
        """Bind the open invitation for ``email`` to ``subject``, once."""
        found = await self._people.find_one_and_update(
            {"email": email, "subject": {"$exists": False}},
            {"$set": {"subject": subject, "bound_at": at, "last_sign_in_at": at}},
            return_document=ReturnDocument.AFTER,
        )
        return None if found is None else _person(found)

    async def update_person(self, person_id: str, **changes: Any) -> Person | None:
        found = await self._people.find_one_and_update(
            {"_id": person_id}, {"$set": changes}, return_document=ReturnDocument.AFTER
        )
        return None if found is None else _person(found)
