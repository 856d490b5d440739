"""``corroborate provider``: the local OpenID Connect provider's set-up and its demo people."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from corroborate.provider import Person, set_up, totp
from corroborate.settings import load_settings

provider_app = typer.Typer(
    help="The local OpenID Connect provider (Glewlwyd).", no_args_is_help=True
)

StateDir = Annotated[Path, typer.Option("--state", help="The provider's folder of secrets.")]


@provider_app.command("setup")
def setup(
    url: Annotated[str, typer.Option(help="The provider's address, e.g. http://127.0.0.1:4593")],
    state: StateDir,
    env_file: Annotated[
        Path | None, typer.Option(help="An env file to record the issuer in, if not there yet.")
    ] = None,
) -> None:
    """Configure the provider (issuer, TOTP, one client per service, the demo people); run
    again, it changes nothing already there."""
    settings = load_settings()
    done = set_up(
        url,
        state=state,
        service_urls={
            "intake": settings.intake_url,
            "review": settings.review_url,
            "reporting": settings.reporting_url,
        },
    )
    if env_file is not None:
        lines = env_file.read_text(encoding="utf-8").splitlines() if env_file.exists() else []
        kept = [line for line in lines if not line.startswith("CORROBORATE_OIDC_")]
        kept += [
            f"CORROBORATE_OIDC_ISSUER={done.issuer}",
            f"CORROBORATE_OIDC_CLIENTS_FILE={state / 'clients.json'}",
        ]
        env_file.write_text("\n".join(kept) + "\n", encoding="utf-8")
    typer.echo(f"issuer {done.issuer}: {len(done.clients)} clients, {len(done.people)} people")


@provider_app.command("people")
def people(state: StateDir) -> None:
    """The demo people: sign-in name, role, organisation, password and the TOTP code now."""
    for person in _people(state):
        organisation = f" ({person.organisation})" if person.organisation else ""
        typer.echo(
            f"{person.username:<16} {person.role:<17} password {person.password}  "
            f"code now {totp(person.totp_secret)}  {person.name}{organisation}"
        )
    from corroborate.provider import machine_clients  # noqa: PLC0415

    for machine in machine_clients(state / "machine-clients.json"):
        typer.echo(
            f"{machine.client_id:<16} partner's case system ({machine.organisation}): "
            f"corroborate provider client-token --client {machine.client_id}"
        )


@provider_app.command("code")
def code(username: str, state: StateDir) -> None:
    """The TOTP code an authenticator app holding ``username``'s secret shows now."""
    for person in _people(state):
        if person.username == username:
            typer.echo(totp(person.totp_secret))
            return
    typer.echo(f"no demo person {username!r}", err=True)
    raise typer.Exit(2)


@provider_app.command("client-token")
def client_token(
    state: StateDir,
    client: Annotated[str, typer.Option(help="The partner system's client id.")],
) -> None:
    """An access token for a demo partner's case system (OAuth 2 client credentials), as that
    system would get it: ``curl -H "Authorization: Bearer $(corroborate provider client-token
    ...)" .../referrals``."""
    import httpx  # noqa: PLC0415 - only this command needs it

    from corroborate.provider import API_SCOPE, machine_clients  # noqa: PLC0415

    settings = load_settings()
    known = {m.client_id: m for m in machine_clients(state / "machine-clients.json")}
    if client not in known:
        typer.echo(f"no demo client {client!r}; known: {', '.join(sorted(known))}", err=True)
        raise typer.Exit(2)
    answer = httpx.post(
        f"{settings.oidc_issuer.rstrip('/')}/token",
        data={"grant_type": "client_credentials", "scope": API_SCOPE},
        auth=(client, known[client].client_secret),
        timeout=30,
    )
    if answer.status_code != 200:
        typer.echo(f"the provider refused: HTTP {answer.status_code} {answer.text}", err=True)
        raise typer.Exit(1)
    typer.echo(answer.json()["access_token"])


def _people(state: Path) -> list[Person]:
    path = state / "people.json"
    if not path.exists():
        typer.echo(f"no {path}: run deploy/local/up.sh first", err=True)
        raise typer.Exit(2)
    return [Person(**p) for p in json.loads(path.read_text(encoding="utf-8"))]


@provider_app.command("enrol")
def enrol(state: StateDir) -> None:
    """Put the demo people and their organisations in intake's directory (through its API, as
    an administrator would), so that each can sign in; those already there are left as they
    are."""
    import httpx  # noqa: PLC0415 - only this command needs it

    from corroborate.auth import Role  # noqa: PLC0415
    from corroborate.cli.local_token import local_token  # noqa: PLC0415
    from corroborate.provider import (  # noqa: PLC0415
        enrolments,
        machine_clients,
        organisation_id_of,
    )

    settings = load_settings()
    token = local_token(settings, Role.ADMIN, "directory-enrolment")
    organisations, invitations = enrolments(_people(state))
    systems = [
        (f"/directory/organisations/{organisation_id_of(m.organisation)}/api-clients", m)
        for m in machine_clients(state / "machine-clients.json")
    ]
    added = 0
    with httpx.Client(
        base_url=settings.intake_url, headers={"Authorization": f"Bearer {token}"}, timeout=30
    ) as http:
        for path, body in [
            *(("/directory/organisations", o) for o in organisations),
            *(("/directory/people", i) for i in invitations),
            *((path, {"client_id": m.client_id}) for path, m in systems),
        ]:
            answer = http.post(path, json=body)
            if answer.status_code == 201:
                added += 1
            elif answer.status_code != 422 or "taken" not in answer.text:
                typer.echo(f"{path}: HTTP {answer.status_code}: {answer.text}", err=True)
                raise typer.Exit(1)
    typer.echo(f"directory: {added} added, the rest already there")
