"""The directory's use cases: administrators keep organisations and people; a signed-in
person is admitted if the directory knows them (``corroborate.web.signin.Directory``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from pydantic import ValidationError

from corroborate.audit import Actor, AuditTrail, actor_of
from corroborate.auth import Principal, Role
from corroborate.clock import utc_now
from corroborate.oidc import SignedIn
from corroborate.web.signin import Member
from intake.domain.directory import (
    DirectoryRefused,
    NotInDirectory,
    Organisation,
    Person,
    slug_of,
)
from intake.ports import DirectoryStore


def _refusal(exc: ValidationError) -> DirectoryRefused:
    first = exc.errors()[0]
    field = ".".join(str(p) for p in first["loc"]) or "roles"
    return DirectoryRefused(field, first["type"], first["msg"].removeprefix("Value error, "))


class DirectoryService:
    def __init__(
        self,
        store: DirectoryStore,
        *,
        audit: AuditTrail,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.store = store
        self._audit = audit
        self._clock = clock

    async def prepare(self) -> None:
        await self.store.prepare()

    # --- organisations ------------------------------------------------------------------

    async def add_organisation(
        self,
        *,
        caller: Principal,
        name: str,
        organisation_id: str | None = None,
        contact_email: str | None = None,
    ) -> Organisation:
        try:
            organisation = Organisation(
                organisation_id=organisation_id or slug_of(name),
                name=name,
                contact_email=contact_email,
                created_at=self._clock(),
            )
        except ValidationError as exc:
            raise _refusal(exc) from exc
        await self.store.add_organisation(organisation)
        await self._audit.record(
            "directory.organisation_added",
            actor=actor_of(caller),
            details={"organisation": organisation.organisation_id},
        )
        return organisation

    async def set_organisation_active(
        self, *, caller: Principal, organisation_id: str, active: bool
    ) -> Organisation:
        organisation = await self.store.update_organisation(organisation_id, active=active)
        if organisation is None:
            raise NotInDirectory
        await self._audit.record(
            "directory.organisation_activated" if active else "directory.organisation_deactivated",
            actor=actor_of(caller),
            details={"organisation": organisation_id},
        )
        return organisation

    async def organisations(self) -> list[Organisation]:
        return await self.store.organisations()

    # --- people -------------------------------------------------------------------------

    async def invite(
        self,
        *,
        caller: Principal,
        email: str,
        name: str,
        roles: tuple[Role, ...],
        organisation_id: str | None = None,
    ) -> Person:
        if organisation_id is not None:
            organisation = await self.store.organisation(organisation_id)
            if organisation is None or not organisation.active:
                raise DirectoryRefused(
                    "organisation_id", "unknown", "no active organisation has this id"
                )
        try:
            person = Person(
                email=email,
                name=name,
                roles=roles,
                organisation_id=organisation_id,
                invited_at=self._clock(),
                invited_by=caller.subject,
            )
        except ValidationError as exc:
            raise _refusal(exc) from exc
        await self.store.add_person(person)
        await self._audit.record(
            "directory.person_invited",
            actor=actor_of(caller),
            details={"person": person.person_id, "roles": [r.value for r in roles]},
        )
        return person

    async def change(
        self,
        *,
        caller: Principal,
        person_id: str,
        roles: tuple[Role, ...] | None = None,
        active: bool | None = None,
    ) -> Person:
        person = await self.store.person(person_id)
        if person is None:
            raise NotInDirectory
        changes: dict[str, object] = {}
        if roles is not None:
            try:
                Person.model_validate({**person.model_dump(), "roles": roles})
            except ValidationError as exc:
                raise _refusal(exc) from exc
            changes["roles"] = [r.value for r in roles]
        if active is not None:
            changes["active"] = active
        if not changes:
            return person
        changed = await self.store.update_person(person_id, **changes)
        if changed is None:
            raise NotInDirectory
        await self._audit.record(
            "directory.person_changed",
            actor=actor_of(caller),
            details={"person": person_id, **changes},
        )
        return changed

    async def people(self, organisation_id: str | None = None) -> list[Person]:
        return await self.store.people(organisation_id)

    # --- signing in (the web sign-in's directory port) -----------------------------------

    async def admit(self, signed_in: SignedIn) -> Member | None:
        now = self._clock()
        person = await self.store.by_subject(signed_in.subject)
        if person is None and signed_in.email:
            person = await self.store.bind(signed_in.email.lower(), signed_in.subject, now)
            if person is not None:
                await self._audit.record(
                    "directory.invitation_accepted",
                    actor=Actor(subject=signed_in.subject, role="unknown"),
                    details={"person": person.person_id},
                )
        elif person is not None:
            person = await self.store.update_person(person.person_id, last_sign_in_at=now)
        if person is None or not person.active:
            return None
        return await self._member(person)

    async def member(self, person_id: str) -> Member | None:
        person = await self.store.person(person_id)
        return None if person is None else await self._member(person)

    async def _member(self, person: Person) -> Member:
        organisation = (
            await self.store.organisation(person.organisation_id)
            if person.organisation_id
            else None
        )
        active = person.active and (organisation is None or organisation.active)
        return Member(
            person_id=person.person_id,
            name=person.name,
            email=person.email,
            roles=person.roles,
            organisation=person.organisation_id,
            organisation_name=organisation.name if organisation else None,
            active=active,
        )
