"""The directory: the organisations Corroborate works with and the people who sign in.

A person's organisation and roles come from here, never from a claim the identity provider or
the person chose. An administrator invites a person by email; the invitation binds to the
provider's subject at the person's first sign-in and cannot be used by anyone else after.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from corroborate.auth import Role


class OrganisationKind(StrEnum):
    REFERRAL_PARTNER = "referral_partner"
    """A solicitors' firm or law centre that refers survivors."""


SLUG = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


class DirectoryRefused(Exception):
    """A change the directory's rules do not allow; ``field`` and ``rule`` say which."""

    def __init__(self, field: str, rule: str, message: str) -> None:
        super().__init__(message)
        self.field, self.rule, self.message = field, rule, message


class NotInDirectory(Exception):
    """No such organisation or person."""


class Organisation(BaseModel):
    model_config = ConfigDict(frozen=True)

    organisation_id: Annotated[str, Field(min_length=2, max_length=60)]
    name: Annotated[str, Field(min_length=2, max_length=200)]
    kind: OrganisationKind = OrganisationKind.REFERRAL_PARTNER
    contact_email: Annotated[str, Field(max_length=254)] | None = None
    active: bool = True
    created_at: datetime

    @field_validator("organisation_id")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not SLUG.match(value):
            raise ValueError("lower-case letters, digits and single hyphens only")
        return value


def slug_of(name: str) -> str:
    """An organisation id made from its name: "Haddad & Co" becomes "haddad-co"."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:60] or "organisation"


class Person(BaseModel):
    model_config = ConfigDict(frozen=True)

    person_id: str = Field(default_factory=lambda: str(uuid.uuid4()))
    email: Annotated[str, Field(min_length=3, max_length=254)]
    name: Annotated[str, Field(min_length=1, max_length=200)]
    roles: Annotated[tuple[Role, ...], Field(min_length=1, max_length=8)]
    organisation_id: str | None = None
    subject: str | None = None
    """The identity provider's subject, bound at the first sign-in."""
    active: bool = True
    invited_at: datetime
    invited_by: str
    bound_at: datetime | None = None
    last_sign_in_at: datetime | None = None
    version: int = 1
    """Rises with each change; the version read is the one a save expects to replace."""

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        value = value.strip().lower()
        if not re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", value):
            raise ValueError("an email address, like name@example.org")
        return value

    @model_validator(mode="after")
    def _partners_belong_to_one_organisation(self) -> Person:
        roles = set(self.roles)
        if Role.PARTNER in roles and len(roles) > 1:
            raise ValueError("a partner holds no other role")
        if Role.PARTNER in roles and self.organisation_id is None:
            raise ValueError("a partner belongs to an organisation (organisation_id)")
        if Role.PARTNER not in roles and self.organisation_id is not None:
            raise ValueError("only partners belong to a referral partner organisation")
        return self

    @property
    def invitation_open(self) -> bool:
        return self.subject is None


CLIENT_ID = re.compile(r"^[A-Za-z0-9._:@-]+$")


class ApiClient(BaseModel):
    """A partner organisation's own system, known to the identity provider by ``client_id``:
    its client-credentials tokens act for this organisation, and only while both are active
    here."""

    model_config = ConfigDict(frozen=True)

    client_id: Annotated[str, Field(min_length=1, max_length=200)]
    organisation_id: str
    added_at: datetime
    added_by: str

    @field_validator("client_id")
    @classmethod
    def _client_id(cls, value: str) -> str:
        if not CLIENT_ID.match(value):
            raise ValueError("letters, digits and . _ : @ - only, as the provider names it")
        return value
