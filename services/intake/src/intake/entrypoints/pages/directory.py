"""The administrators' directory pages: organisations, their people and systems, and staff.

Every form posts with the session's CSRF token and answers by redirecting to the page it
changed (so a reload never sends it twice); a refusal shows the same form again with what was
typed, an error summary and each field's message, in the words of the directory's own rules.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from corroborate.auth import Principal, Role
from corroborate.web.pages import render
from corroborate.web.signin import Visitor
from corroborate.web.views import (
    FieldError,
    PageRefused,
    PageRoute,
    form_of,
    principal_of,
    signed_in,
)
from intake.domain.directory import DirectoryRefused, NotInDirectory, Organisation, Person
from intake.service.directory import DirectoryService

router = APIRouter(prefix="/admin", route_class=PageRoute, include_in_schema=False)
Admin = signed_in(Role.ADMIN)

STAFF_ROLES = [
    (Role.COORDINATOR.value, "Triage coordinator"),
    (Role.CLINICIAN.value, "Clinician"),
    (Role.SENIOR_CLINICIAN.value, "Senior clinician (peer review)"),
    (Role.LEGAL.value, "Legal reviewer"),
    (Role.ANALYST.value, "Analyst"),
    (Role.MANAGER.value, "Manager"),
    (Role.ADMIN.value, "Administrator"),
]
NAME_AND_EMAIL = {"person_name": "Enter their name.", "email": "Enter their email address."}
DONE = {
    "organisation-added": "The organisation was added.",
    "organisation-deactivated": "The organisation was deactivated: its people and systems "
    "can no longer sign in or call the API.",
    "organisation-activated": "The organisation was activated again.",
    "invited": "The invitation was made. Tell the person to sign in with that email address: "
    "the invitation becomes theirs at their first sign-in.",
    "client-added": "The system may now call the API for this organisation.",
    "client-removed": "The system can no longer call the API for this organisation.",
    "roles-changed": "Their roles were changed.",
    "person-deactivated": "Their access has ended: they are signed out everywhere at their "
    "next request.",
    "person-activated": "Their access was given back.",
}


def _directory(request: Request) -> DirectoryService:
    directory: DirectoryService = request.app.state.directory
    return directory


def _done(request: Request) -> str | None:
    return DONE.get(request.query_params.get("done", ""))


def _after(path: str, done: str) -> RedirectResponse:
    return RedirectResponse(f"{path}?done={quote(done)}", status_code=303)


def _errors(refused: DirectoryRefused, fields: dict[str, str]) -> list[FieldError]:
    """The refusal as the form's field error (the rule's field mapped to the form's)."""
    field = fields.get(refused.field, next(iter(fields.values())))
    return [FieldError(field, _sentence(refused.message))]


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:].rstrip(".") + "."


async def _organisation(directory: DirectoryService, organisation_id: str) -> Organisation:
    found = await directory.organisation(organisation_id)
    if found is None:
        raise PageRefused(404, "No such organisation", "There is no organisation with this id.")
    return found


async def _person(directory: DirectoryService, person_id: str) -> Person:
    found = await directory.person(person_id)
    if found is None:
        raise PageRefused(404, "No such person", "There is no one in the directory with this id.")
    return found


# --- organisations --------------------------------------------------------------------------


async def _organisations_page(
    request: Request,
    visitor: Visitor,
    *,
    errors: list[FieldError] | None = None,
    values: dict[str, str] | None = None,
) -> Response:
    return render(
        request,
        "admin_organisations.html",
        status_code=422 if errors else 200,
        title="Organisations",
        organisations=await _directory(request).organisations(),
        errors=errors or [],
        values=values or {},
        done=_done(request),
        visitor=visitor,
    )


@router.get("/organisations")
async def organisations(request: Request, visitor: Visitor = Admin) -> Response:
    return await _organisations_page(request, visitor)


@router.post("/organisations")
async def add_organisation(request: Request, visitor: Visitor = Admin) -> Response:
    form = await form_of(request, visitor)
    values = {k: form.get(k) for k in ("name", "organisation_id", "contact_email")}
    errors = []
    if not values["name"]:
        errors.append(FieldError("name", "Enter the organisation's name."))
    if errors:
        return await _organisations_page(request, visitor, errors=errors, values=values)
    try:
        added = await _directory(request).add_organisation(
            caller=_caller(visitor),
            name=values["name"],
            organisation_id=values["organisation_id"] or None,
            contact_email=values["contact_email"] or None,
        )
    except DirectoryRefused as refused:
        fields = {f: f for f in ("name", "organisation_id", "contact_email")}
        return await _organisations_page(
            request, visitor, errors=_errors(refused, fields), values=values
        )
    return _after(f"/admin/organisations/{added.organisation_id}", "organisation-added")


async def _organisation_page(
    request: Request,
    visitor: Visitor,
    organisation_id: str,
    *,
    errors: list[FieldError] | None = None,
    values: dict[str, str] | None = None,
) -> Response:
    directory = _directory(request)
    organisation = await _organisation(directory, organisation_id)
    return render(
        request,
        "admin_organisation.html",
        status_code=422 if errors else 200,
        title=organisation.name,
        organisation=organisation,
        people=await directory.people(organisation_id),
        clients=await directory.clients(organisation_id),
        errors=errors or [],
        values=values or {},
        done=_done(request),
        visitor=visitor,
    )


@router.get("/organisations/{organisation_id}")
async def organisation(
    request: Request, organisation_id: str, visitor: Visitor = Admin
) -> Response:
    return await _organisation_page(request, visitor, organisation_id)


@router.post("/organisations/{organisation_id}/people")
async def invite_partner(
    request: Request, organisation_id: str, visitor: Visitor = Admin
) -> Response:
    form = await form_of(request, visitor)
    values = {"person_name": form.get("person_name"), "email": form.get("email")}
    errors = _required(
        values, {"person_name": "Enter their name.", "email": "Enter their email address."}
    )
    if not errors:
        try:
            await _directory(request).invite(
                caller=_caller(visitor),
                email=values["email"],
                name=values["person_name"],
                roles=(Role.PARTNER,),
                organisation_id=organisation_id,
            )
        except DirectoryRefused as refused:
            errors = _errors(
                refused, {"email": "email", "name": "person_name", "organisation_id": "email"}
            )
    if errors:
        return await _organisation_page(
            request, visitor, organisation_id, errors=errors, values=values
        )
    return _after(f"/admin/organisations/{organisation_id}", "invited")


@router.post("/organisations/{organisation_id}/active")
async def set_organisation_active(
    request: Request, organisation_id: str, visitor: Visitor = Admin
) -> Response:
    form = await form_of(request, visitor)
    active = form.get("active") == "true"
    try:
        await _directory(request).set_organisation_active(
            caller=_caller(visitor), organisation_id=organisation_id, active=active
        )
    except NotInDirectory:
        raise PageRefused(
            404, "No such organisation", "There is no organisation with this id."
        ) from None
    done = "organisation-activated" if active else "organisation-deactivated"
    return _after(f"/admin/organisations/{organisation_id}", done)


@router.post("/organisations/{organisation_id}/api-clients")
async def add_client(request: Request, organisation_id: str, visitor: Visitor = Admin) -> Response:
    form = await form_of(request, visitor)
    values = {"client_id": form.get("client_id")}
    errors = _required(values, {"client_id": "Enter the system's client id at the provider."})
    if not errors:
        try:
            await _directory(request).add_client(
                caller=_caller(visitor),
                organisation_id=organisation_id,
                client_id=values["client_id"],
            )
        except DirectoryRefused as refused:
            errors = _errors(refused, {"client_id": "client_id"})
    if errors:
        return await _organisation_page(
            request, visitor, organisation_id, errors=errors, values=values
        )
    return _after(f"/admin/organisations/{organisation_id}", "client-added")


@router.post("/organisations/{organisation_id}/api-clients/{client_id}/remove")
async def remove_client(
    request: Request, organisation_id: str, client_id: str, visitor: Visitor = Admin
) -> Response:
    await form_of(request, visitor)
    try:
        await _directory(request).remove_client(
            caller=_caller(visitor), organisation_id=organisation_id, client_id=client_id
        )
    except NotInDirectory:
        raise PageRefused(404, "No such system", "This organisation has no such system.") from None
    return _after(f"/admin/organisations/{organisation_id}", "client-removed")


# --- staff and people -----------------------------------------------------------------------


async def _staff_page(
    request: Request,
    visitor: Visitor,
    *,
    errors: list[FieldError] | None = None,
    values: dict[str, Any] | None = None,
) -> Response:
    people = await _directory(request).people()
    return render(
        request,
        "admin_staff.html",
        status_code=422 if errors else 200,
        title="Staff",
        people=[p for p in people if p.organisation_id is None],
        roles=STAFF_ROLES,
        errors=errors or [],
        values=values or {"roles": []},
        done=_done(request),
        visitor=visitor,
    )


@router.get("/people")
async def staff(request: Request, visitor: Visitor = Admin) -> Response:
    return await _staff_page(request, visitor)


@router.post("/people")
async def invite_staff(request: Request, visitor: Visitor = Admin) -> Response:
    form = await form_of(request, visitor)
    values: dict[str, Any] = {
        "person_name": form.get("person_name"),
        "email": form.get("email"),
        "roles": form.all("roles"),
    }
    errors = _required(
        values, {"person_name": "Enter their name.", "email": "Enter their email address."}
    )
    roles = _roles(values["roles"])
    if not roles:
        errors.append(FieldError("roles", "Choose at least one role."))
    if not errors:
        try:
            invited = await _directory(request).invite(
                caller=_caller(visitor),
                email=values["email"],
                name=values["person_name"],
                roles=roles,
            )
        except DirectoryRefused as refused:
            errors = _errors(refused, {"email": "email", "name": "person_name", "roles": "roles"})
        else:
            return _after(f"/admin/people/{invited.person_id}", "invited")
    return await _staff_page(request, visitor, errors=errors, values=values)


async def _person_page(
    request: Request,
    visitor: Visitor,
    person_id: str,
    *,
    errors: list[FieldError] | None = None,
    values: dict[str, Any] | None = None,
) -> Response:
    person = await _person(_directory(request), person_id)
    return render(
        request,
        "admin_person.html",
        status_code=422 if errors else 200,
        title=person.name,
        person=person,
        roles=STAFF_ROLES,
        errors=errors or [],
        values=values or {"roles": [r.value for r in person.roles]},
        done=_done(request),
        visitor=visitor,
    )


@router.get("/people/{person_id}")
async def person(request: Request, person_id: str, visitor: Visitor = Admin) -> Response:
    return await _person_page(request, visitor, person_id)


@router.post("/people/{person_id}/roles")
async def change_roles(request: Request, person_id: str, visitor: Visitor = Admin) -> Response:
    form = await form_of(request, visitor)
    values: dict[str, Any] = {"roles": form.all("roles")}
    roles = _roles(values["roles"])
    errors = [] if roles else [FieldError("roles", "Choose at least one role.")]
    if not errors:
        try:
            await _directory(request).change(
                caller=_caller(visitor), person_id=person_id, roles=roles
            )
        except DirectoryRefused as refused:
            errors = _errors(refused, {"roles": "roles"})
        except NotInDirectory:
            raise PageRefused(404, "No such person", "There is no one with this id.") from None
    if errors:
        return await _person_page(request, visitor, person_id, errors=errors, values=values)
    return _after(f"/admin/people/{person_id}", "roles-changed")


@router.post("/people/{person_id}/active")
async def set_person_active(request: Request, person_id: str, visitor: Visitor = Admin) -> Response:
    form = await form_of(request, visitor)
    active = form.get("active") == "true"
    try:
        await _directory(request).change(
            caller=_caller(visitor), person_id=person_id, active=active
        )
    except NotInDirectory:
        raise PageRefused(404, "No such person", "There is no one with this id.") from None
    return _after(
        f"/admin/people/{person_id}", "person-activated" if active else "person-deactivated"
    )


def _required(values: dict[str, Any], messages: dict[str, str]) -> list[FieldError]:
    return [FieldError(field, message) for field, message in messages.items() if not values[field]]


def _roles(chosen: list[str]) -> tuple[Role, ...]:
    known = {value for value, _ in STAFF_ROLES}
    return tuple(Role(value) for value in chosen if value in known)


def _caller(visitor: Visitor) -> Principal:
    return principal_of(visitor, Role.ADMIN)
