"""The operators' command line: tokens the services accept, and a demo that fails loudly."""

from __future__ import annotations

import socket

import pytest
from typer.testing import CliRunner

from corroborate.auth import SERVICE_AUDIENCES, Role, TokenVerifier
from corroborate.cli.main import app
from corroborate.settings import Settings

runner = CliRunner()


def test_token_prints_a_partner_token_every_service_accepts(settings: Settings) -> None:
    result = runner.invoke(app, ["token", "--role", "partner", "--org", "firm-a", "--sub", "s1"])

    assert result.exit_code == 0, result.output
    token = result.output.strip()
    for audience in SERVICE_AUDIENCES.values():
        verifier = TokenVerifier(
            public_key_pem=settings.public_key_pem, issuer=settings.auth_issuer, audience=audience
        )
        principal = verifier.verify(token)
        assert (principal.role, principal.organisation, principal.subject) == (
            Role.PARTNER,
            "firm-a",
            "s1",
        )


def test_a_partner_token_without_an_organisation_is_refused() -> None:
    result = runner.invoke(app, ["token", "--role", "partner"])

    assert result.exit_code != 0
    assert "organisation" in str(result.exception)


def test_demo_exits_non_zero_when_a_step_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    monkeypatch.setenv("CORROBORATE_INTAKE_URL", dead)

    result = runner.invoke(app, ["demo", "--survivor-name", "Nobody", "--out", "/dev/null"])

    assert result.exit_code == 1
    assert "FAILED" in result.output
