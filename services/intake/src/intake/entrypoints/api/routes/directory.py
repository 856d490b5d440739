"""The directory: administrators keep the organisations Corroborate works with and the people
who sign in (invited by email; the invitation binds at their first sign-in)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, status

from corroborate.http import Admin, problem_responses
from intake.entrypoints.api.deps import DirectoryAdmin
from intake.entrypoints.api.schemas import (
    ApiClientView,
    Invitation,
    NewApiClient,
    NewOrganisation,
    OrganisationChange,
    OrganisationView,
    PersonChange,
    PersonView,
)

router = APIRouter(prefix="/directory", tags=["directory"])
OrganisationId = Annotated[str, Path(min_length=2, max_length=60)]
PersonId = Annotated[str, Path(min_length=1, max_length=60)]


@router.post(
    "/organisations",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 403, 422),
    summary="Add a referral partner organisation",
)
async def add_organisation(
    *, body: NewOrganisation, caller: Admin, directory: DirectoryAdmin
) -> OrganisationView:
    organisation = await directory.add_organisation(
        caller=caller,
        name=body.name,
        organisation_id=body.organisation_id,
        contact_email=body.contact_email,
    )
    return OrganisationView.model_validate(organisation)


@router.get(
    "/organisations",
    responses=problem_responses(401, 403),
    summary="Every organisation, active or not",
)
async def list_organisations(
    *, _caller: Admin, directory: DirectoryAdmin
) -> list[OrganisationView]:
    return [OrganisationView.model_validate(o) for o in await directory.organisations()]


@router.patch(
    "/organisations/{organisation_id}",
    responses=problem_responses(401, 403, 404, 422),
    summary="Deactivate an organisation (its people can no longer sign in) or activate it",
)
async def change_organisation(
    *,
    organisation_id: OrganisationId,
    body: OrganisationChange,
    caller: Admin,
    directory: DirectoryAdmin,
) -> OrganisationView:
    organisation = await directory.set_organisation_active(
        caller=caller, organisation_id=organisation_id, active=body.active
    )
    return OrganisationView.model_validate(organisation)


@router.post(
    "/organisations/{organisation_id}/api-clients",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 403, 404, 422),
    summary="Let a partner's own system call the API for this organisation, by its client id "
    "at the identity provider (OAuth 2 client credentials)",
)
async def add_api_client(
    *,
    organisation_id: OrganisationId,
    body: NewApiClient,
    caller: Admin,
    directory: DirectoryAdmin,
) -> ApiClientView:
    client = await directory.add_client(
        caller=caller, organisation_id=organisation_id, client_id=body.client_id
    )
    return ApiClientView.model_validate(client)


@router.get(
    "/organisations/{organisation_id}/api-clients",
    responses=problem_responses(401, 403, 404),
    summary="The systems that call the API for this organisation",
)
async def list_api_clients(
    *, organisation_id: OrganisationId, _caller: Admin, directory: DirectoryAdmin
) -> list[ApiClientView]:
    return [ApiClientView.model_validate(c) for c in await directory.clients(organisation_id)]


@router.delete(
    "/organisations/{organisation_id}/api-clients/{client_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(401, 403, 404),
    summary="Stop a system acting for this organisation (its tokens are refused at once)",
)
async def remove_api_client(
    *,
    organisation_id: OrganisationId,
    client_id: Annotated[str, Path(min_length=1, max_length=200)],
    caller: Admin,
    directory: DirectoryAdmin,
) -> None:
    await directory.remove_client(
        caller=caller, organisation_id=organisation_id, client_id=client_id
    )


@router.post(
    "/people",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 403, 422),
    summary="Invite a person by email, with their roles (and organisation, for a partner)",
)
async def invite(*, body: Invitation, caller: Admin, directory: DirectoryAdmin) -> PersonView:
    person = await directory.invite(
        caller=caller,
        email=body.email,
        name=body.name,
        roles=tuple(body.roles),
        organisation_id=body.organisation_id,
    )
    return PersonView.model_validate(person)


@router.get(
    "/people",
    responses=problem_responses(401, 403, 422),
    summary="The people in the directory (of one organisation, if given)",
)
async def list_people(
    *,
    _caller: Admin,
    directory: DirectoryAdmin,
    organisation_id: Annotated[str | None, Query(max_length=60)] = None,
) -> list[PersonView]:
    return [PersonView.model_validate(p) for p in await directory.people(organisation_id)]


@router.patch(
    "/people/{person_id}",
    responses=problem_responses(401, 403, 404, 422),
    summary="Change a person's roles, or deactivate them (every session of theirs ends)",
)
async def change_person(
    *, person_id: PersonId, body: PersonChange, caller: Admin, directory: DirectoryAdmin
) -> PersonView:
    person = await directory.change(
        caller=caller,
        person_id=person_id,
        roles=tuple(body.roles) if body.roles is not None else None,
        active=body.active,
    )
    return PersonView.model_validate(person)
