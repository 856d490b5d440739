"""What every service's HTTP API shares: 401/403 by token and role, correlation ids, 422s."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Annotated

import httpx
import pytest
import structlog.testing
from fastapi import Depends, FastAPI
from pydantic import BaseModel

from corroborate.auth import Principal, Role, TokenVerifier, generate_keypair, issue_token
from corroborate.http import (
    CORRELATION_HEADER,
    CorrelationId,
    CurrentPrincipal,
    ErrorAnswers,
    FieldError,
    InvalidFields,
    Refusal,
    answer_errors,
    from_state,
    install_common,
    require_roles,
)

PRIVATE, PUBLIC = generate_keypair()
NAME = "Zubeida Canary-Qorxoy"


class Referral(BaseModel):
    full_name: str
    age: int


class NotYours(Exception):
    pass


class WrongState(Exception):
    pass


class AlreadyClosed(WrongState):
    """A narrower refusal: answered by its parent's mapping."""


class ConsentMissing(Exception):
    pass


def consent_missing(exc: Exception) -> InvalidFields:
    rule = FieldError(field="consent", rule="required", message=str(exc))
    return InvalidFields("1 field(s) invalid", [rule])


REFUSALS: ErrorAnswers = {
    NotYours: Refusal(404, "no such case"),
    WrongState: Refusal(409),
    ConsentMissing: consent_missing,
}


def build_app() -> FastAPI:
    app = FastAPI()
    install_common(app)
    answer_errors(app, REFUSALS)
    app.state.token_verifier = TokenVerifier(
        public_key_pem=PUBLIC, issuer="test-issuer", audience="corroborate-intake"
    )

    @app.get("/me")
    def me(principal: CurrentPrincipal) -> dict[str, str | None]:
        return {"subject": principal.subject, "organisation": principal.organisation}

    @app.post("/cases/{case_id}/accept")
    def accept(
        case_id: uuid.UUID,
        principal: Annotated[Principal, Depends(require_roles(Role.COORDINATOR, Role.ADMIN))],
    ) -> dict[str, str]:
        return {"accepted_by": principal.subject}

    @app.post("/cases/{case_id}/close")
    def close(case_id: uuid.UUID, outcome: str) -> dict[str, str]:
        if outcome == "foreign":
            raise NotYours(f"case {case_id} belongs to org-b")
        if outcome == "closed":
            raise AlreadyClosed("the case is already closed")
        if outcome == "incomplete":
            raise ConsentMissing("consent is needed")
        if outcome == "unmapped":
            raise RuntimeError("a bug")
        return {"closed": str(case_id)}

    @app.post("/referrals")
    def submit(referral: Referral, correlation: CorrelationId) -> dict[str, str]:
        return {"correlation_id": str(correlation)}

    return app


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=build_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


def auth(role: Role, organisation: str | None = None) -> dict[str, str]:
    token = issue_token(
        private_key_pem=PRIVATE,
        issuer="test-issuer",
        subject="caller-1",
        role=role,
        organisation=organisation,
    )
    return {"Authorization": f"Bearer {token}"}


async def test_request_without_token_is_401_with_a_bearer_challenge(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/me")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"


async def test_request_with_a_bad_token_is_401_and_says_why(client: httpx.AsyncClient) -> None:
    response = await client.get("/me", headers={"Authorization": "Bearer nonsense"})
    assert response.status_code == 401
    assert response.json()["detail"].startswith("token rejected")


async def test_valid_token_reaches_the_endpoint_as_its_caller(client: httpx.AsyncClient) -> None:
    response = await client.get("/me", headers=auth(Role.PARTNER, organisation="org-a"))
    assert response.status_code == 200
    assert response.json() == {"subject": "caller-1", "organisation": "org-a"}


@pytest.mark.parametrize(
    ("role", "status"),
    [(Role.COORDINATOR, 200), (Role.ADMIN, 200), (Role.CLINICIAN, 403), (Role.ANALYST, 403)],
)
async def test_endpoint_admits_only_its_roles(
    client: httpx.AsyncClient, role: Role, status: int
) -> None:
    response = await client.post(f"/cases/{uuid.uuid4()}/accept", headers=auth(role))
    assert response.status_code == status
    if status == 403:
        assert f"role '{role.value}' may not do this" in response.json()["detail"]


async def test_correlation_id_is_kept_from_the_caller_or_made_fresh(
    client: httpx.AsyncClient,
) -> None:
    given = str(uuid.uuid4())
    body = {"full_name": "x", "age": 30}
    kept = await client.post("/referrals", json=body, headers={CORRELATION_HEADER: given})
    fresh = await client.post("/referrals", json=body, headers={CORRELATION_HEADER: "junk"})

    assert kept.headers[CORRELATION_HEADER] == given
    assert kept.json() == {"correlation_id": given}
    made = fresh.headers[CORRELATION_HEADER]
    assert made != "junk"
    assert fresh.json() == {"correlation_id": str(uuid.UUID(made))}


async def test_validation_error_lists_fields_without_echoing_input(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post("/referrals", json={"full_name": NAME, "age": NAME})

    assert response.status_code == 422
    problem = response.json()
    assert problem["detail"] == "1 field(s) invalid"
    assert [(e["field"], e["rule"]) for e in problem["errors"]] == [("age", "int_parsing")]
    assert NAME not in response.text


async def test_each_request_logs_one_line_with_route_template_and_case(
    client: httpx.AsyncClient,
) -> None:
    case_id = uuid.uuid4()
    with structlog.testing.capture_logs() as logs:
        await client.post(f"/cases/{case_id}/accept", headers=auth(Role.CLINICIAN))

    (line,) = [entry for entry in logs if entry["event"] == "request"]
    assert line["method"] == "POST"
    assert line["route"] == "/cases/{case_id}/accept"  # the template: lines group by route
    assert line["case_id"] == str(case_id)  # so an operator can follow one case
    assert (line["status"], line["outcome"]) == (403, "rejected")


@pytest.mark.parametrize(
    ("outcome", "status", "detail"),
    [
        ("foreign", 404, "no such case"),  # fixed text: says nothing about who owns it
        ("closed", 409, "the case is already closed"),
        ("done", 200, None),
    ],
)
async def test_domain_refusals_are_answered_with_their_mapped_status(
    client: httpx.AsyncClient, outcome: str, status: int, detail: str | None
) -> None:
    response = await client.post(f"/cases/{uuid.uuid4()}/close", params={"outcome": outcome})
    assert response.status_code == status
    if detail is not None:
        assert response.json() == {"detail": detail}


async def test_rule_broken_after_parsing_is_a_422_listing_the_fields(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(f"/cases/{uuid.uuid4()}/close", params={"outcome": "incomplete"})
    assert response.status_code == 422
    assert response.json() == {
        "detail": "1 field(s) invalid",
        "errors": [{"field": "consent", "rule": "required", "message": "consent is needed"}],
        "count": 1,
    }


async def test_a_refusal_no_mapping_names_is_a_plain_500() -> None:
    transport = httpx.ASGITransport(app=build_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        response = await http.post(f"/cases/{uuid.uuid4()}/close", params={"outcome": "unmapped"})
    assert response.status_code == 500
    assert "a bug" not in response.text


class Registry:
    """Something the composition root puts on app.state."""


async def test_a_dependency_from_state_gives_what_the_root_put_there_and_checks_its_kind() -> None:
    app = FastAPI()
    app.state.registry = Registry()
    app.state.wrong = "not a registry"

    @app.get("/right")
    def right(
        registry: Annotated[Registry, Depends(from_state(Registry, "registry"))],
    ) -> dict[str, bool]:
        return {"same": registry is app.state.registry}

    @app.get("/wrong")
    def wrong(registry: Annotated[Registry, Depends(from_state(Registry, "wrong"))]) -> None:
        raise AssertionError("never reached")

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        assert (await http.get("/right")).json() == {"same": True}
        assert (await http.get("/wrong")).status_code == 500
