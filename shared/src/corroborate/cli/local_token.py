"""A token from the local stack's issuer, for a command that calls a running service."""

from __future__ import annotations

import typer

from corroborate.auth import Role, issue_token
from corroborate.settings import Settings


def local_token(
    settings: Settings,
    role: Role,
    subject: str,
    *,
    audiences: list[str] | None = None,
    ttl_seconds: int = 300,
) -> str:
    """Signed with the local issuer's key; exits with a message where there is none."""
    if settings.auth_private_key_file is None:
        typer.echo("CORROBORATE_AUTH_PRIVATE_KEY_FILE is not set", err=True)
        raise typer.Exit(2)
    return issue_token(
        private_key_pem=settings.auth_private_key_file.read_text(encoding="utf-8"),
        issuer=settings.auth_issuer,
        subject=subject,
        role=role,
        audiences=audiences,
        ttl_seconds=ttl_seconds,
    )
