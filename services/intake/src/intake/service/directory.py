"""The directory's use cases: administrators keep organisations and people; a signed-in
person is admitted if the directory knows them (``corroborate.web.signin.Directory``)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime

from pydantic import ValidationError

from corroborate.audit import Actor, AuditTrail, actor_of
from corroborate.auth import Principal, Role
from corroborate.clock import utc_now
from corroborate.events.contracts import CASE_EVENTS, PersonChanged
from corroborate.events.envelope import EventEnvelope, new_event
from corroborate.mongo import ConcurrencyConflict
from corroborate.oidc import SignedIn
from corroborate.web.signin import Member
from intake.domain.directory import (
    ApiClient,
    DirectoryRefused,
    NotInDirectory,
    Organisation,
    Person,
    slug_of,
)
from intake.ports import DirectoryStore

_ATTEMPTS = 5


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

    async def organisation(self, organisation_id: str) -> Organisation | None:
        return await self.store.organisation(organisation_id)

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
        await self.store.add_person(person, events=[self._announce(person, revision=1)])
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
        changes: dict[str, object] = {}
        if roles is not None:
            changes["roles"] = roles
        if active is not None:
            changes["active"] = active
        for _ in range(_ATTEMPTS):
            person = await self.store.person(person_id)
            if person is None:
                raise NotInDirectory
            try:
                changed = Person.model_validate({**person.model_dump(), **changes})
            except ValidationError as exc:
                raise _refusal(exc) from exc
            if changed == person:
                return person
            try:
                saved = await self.store.save_person(changed, events=[self._announce(changed)])
            except ConcurrencyConflict:
                continue  # changed meanwhile: apply these changes to what is there now
            await self._audit.record(
                "directory.person_changed",
                actor=actor_of(caller),
                details={
                    "person": person_id,
                    **({"roles": [r.value for r in changed.roles]} if roles is not None else {}),
                    **({"active": active} if active is not None else {}),
                },
            )
            return saved
        raise ConcurrencyConflict(f"person {person_id} kept changing; try again")

    async def people(self, organisation_id: str | None = None) -> list[Person]:
        return await self.store.people(organisation_id)

    async def person(self, person_id: str) -> Person | None:
        return await self.store.person(person_id)

    # --- machine clients ------------------------------------------------------------------

    async def add_client(
        self, *, caller: Principal, organisation_id: str, client_id: str
    ) -> ApiClient:
        organisation = await self.store.organisation(organisation_id)
        if organisation is None:
            raise NotInDirectory
        if not organisation.active:
            raise DirectoryRefused(
                "organisation_id", "inactive", "this organisation is deactivated"
            )
        try:
            client = ApiClient(
                client_id=client_id,
                organisation_id=organisation_id,
                added_at=self._clock(),
                added_by=caller.subject,
            )
        except ValidationError as exc:
            raise _refusal(exc) from exc
        await self.store.add_client(client)
        await self._audit.record(
            "directory.client_added",
            actor=actor_of(caller),
            details={"organisation": organisation_id, "client_id": client_id},
        )
        return client

    async def clients(self, organisation_id: str) -> list[ApiClient]:
        if await self.store.organisation(organisation_id) is None:
            raise NotInDirectory
        return await self.store.clients(organisation_id)

    async def remove_client(
        self, *, caller: Principal, organisation_id: str, client_id: str
    ) -> None:
        if not await self.store.remove_client(organisation_id, client_id):
            raise NotInDirectory
        await self._audit.record(
            "directory.client_removed",
            actor=actor_of(caller),
            details={"organisation": organisation_id, "client_id": client_id},
        )

    async def client_caller(self, client_id: str) -> Principal | None:
        """Who a machine client's token acts as: a partner of the organisation the directory
        registered it for, while both are active; None otherwise."""
        client = await self.store.client(client_id)
        if client is None:
            return None
        organisation = await self.store.organisation(client.organisation_id)
        if organisation is None or not organisation.active:
            return None
        return Principal(
            subject=f"client:{client_id}",
            role=Role.PARTNER,
            organisation=organisation.organisation_id,
            name=f"{organisation.name} (case system)",
        )

    # --- signing in (the web sign-in's directory port) -----------------------------------

    async def admit(self, signed_in: SignedIn) -> Member | None:
        now = self._clock()
        person = await self.store.by_subject(signed_in.subject)
        if person is not None:
            await self.store.signed_in(person.person_id, now)
        elif signed_in.email:
            person = await self._bind(signed_in.email.lower(), signed_in.subject, now)
        if person is None or not person.active:
            return None
        return await self._member(person)

    async def _bind(self, email: str, subject: str, now: datetime) -> Person | None:
        """Bind the open invitation for ``email`` to ``subject``: once, and to the first
        account only (a second account with the same email later finds it bound)."""
        for _ in range(_ATTEMPTS):
            person = await self.store.by_email(email)
            if person is None or not person.invitation_open:
                return None
            bound = person.model_copy(
                update={"subject": subject, "bound_at": now, "last_sign_in_at": now}
            )
            try:
                saved = await self.store.save_person(bound, events=[self._announce(bound)])
            except ConcurrencyConflict:
                continue
            await self._audit.record(
                "directory.invitation_accepted",
                actor=Actor(subject=subject, role="unknown"),
                details={"person": person.person_id},
            )
            return saved
        return None

    def _announce(self, person: Person, *, revision: int | None = None) -> EventEnvelope:
        """``directory.person_changed``: the person as the write of ``person`` (read at its
        version) leaves them, at the next version; a new person is at revision 1."""
        revision = person.version + 1 if revision is None else revision
        return new_event(
            payload=PersonChanged(
                person_id=uuid.UUID(person.person_id),
                revision=revision,
                email=person.email,
                name=person.name,
                roles=list(person.roles),
                organisation_id=person.organisation_id,
                subject=person.subject,
                active=person.active,
                changed_at=self._clock(),
            ),
            case_id=uuid.UUID(person.person_id),
            producer="intake",
            correlation_id=uuid.uuid4(),
            registry=CASE_EVENTS,
        )

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
            subject=person.subject,
        )
