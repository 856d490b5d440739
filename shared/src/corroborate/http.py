"""FastAPI pieces every service shares: auth, request logging, health, and error shapes."""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Protocol, TypeVar

import structlog
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from corroborate.auth import AuthenticationError, Principal, Role, TokenVerifier
from corroborate.limits import MAX_ERRORS, BodyLimitMiddleware
from corroborate.logging import get_logger

log = get_logger("corroborate.http")
CORRELATION_HEADER = "X-Correlation-ID"

_bearer = HTTPBearer(auto_error=False, description="A Corroborate JWT (EdDSA).")


def _verifier(request: Request) -> TokenVerifier:
    verifier: TokenVerifier = request.app.state.token_verifier
    return verifier


class ProviderCaller(Protocol):
    """Who calls with an access token from the identity provider (a partner's own system,
    by OAuth 2 client credentials): ``app.state.provider_caller``, where a service takes
    them."""

    def handles(self, token: str) -> bool:
        """Whether ``token`` claims to come from the provider."""
        ...

    async def caller(self, token: str) -> Principal:
        """The verified caller; ``AuthenticationError`` with the reason otherwise."""
        ...


SessionCaller = Callable[[Request], Awaitable[Principal | None]]
"""Who a request's signed-in session belongs to (``app.state.session_caller``, put there by
``corroborate.web.app.install_pages``): a person at a browser calling the API from its pages."""


async def current_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The verified caller, by bearer token or signed-in session, or 401."""
    if credentials is None:
        session_caller: SessionCaller | None = getattr(request.app.state, "session_caller", None)
        principal = await session_caller(request) if session_caller else None
        if principal is None:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                "a bearer token or a signed-in session is required",
                headers={"WWW-Authenticate": "Bearer"},
            )
        structlog.contextvars.bind_contextvars(caller_role=principal.role.value)
        return principal
    provider: ProviderCaller | None = getattr(request.app.state, "provider_caller", None)
    try:
        if provider is not None and provider.handles(credentials.credentials):
            principal = await provider.caller(credentials.credentials)
        else:
            principal = _verifier(request).verify(credentials.credentials)
    except AuthenticationError as exc:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            f"token rejected: {exc}",
            headers={"WWW-Authenticate": "Bearer"},
        ) from exc
    structlog.contextvars.bind_contextvars(caller_role=principal.role.value)
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]

StateT = TypeVar("StateT")


def from_state(kind: type[StateT], name: str) -> Callable[[Request], StateT]:
    """A dependency giving what the composition root put on ``app.state`` under ``name``."""

    def get(request: Request) -> StateT:
        value = getattr(request.app.state, name)
        if not isinstance(value, kind):
            raise TypeError(f"app.state.{name} is not a {kind.__name__}")
        return value

    return get


def require_roles(*roles: Role) -> Callable[[Principal], Principal]:
    """A dependency that admits only the given roles (403 otherwise)."""
    allowed = frozenset(roles)

    def check(principal: CurrentPrincipal) -> Principal:
        acting = principal.acting_as(allowed)
        if acting is None:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"role '{principal.role.value}' may not do this",
            )
        return acting

    return check


Partner = Annotated[Principal, Depends(require_roles(Role.PARTNER))]
Coordinator = Annotated[Principal, Depends(require_roles(Role.COORDINATOR))]
Clinician = Annotated[Principal, Depends(require_roles(Role.CLINICIAN))]
SeniorClinician = Annotated[Principal, Depends(require_roles(Role.SENIOR_CLINICIAN))]
Legal = Annotated[Principal, Depends(require_roles(Role.LEGAL))]
Analyst = Annotated[Principal, Depends(require_roles(Role.ANALYST))]
Admin = Annotated[Principal, Depends(require_roles(Role.ADMIN))]
"""Callers of one role each, for route signatures; a route for several roles builds its own."""


class RequestLogMiddleware:
    """One log line per request, with the correlation id bound for everything it logs."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {
            k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])
        }
        correlation_id = _valid_uuid(headers.get(CORRELATION_HEADER.lower())) or str(uuid.uuid4())
        scope.setdefault("state", {})["correlation_id"] = correlation_id
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(correlation_id=correlation_id)
        started = time.perf_counter()
        status_code = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status_code
            if message["type"] == "http.response.start":
                status_code = message["status"]
                message.setdefault("headers", []).append(
                    (CORRELATION_HEADER.encode(), correlation_id.encode())
                )
            await send(message)

        failure: BaseException | None = None
        try:
            await self.app(scope, receive, send_with_id)
        except BaseException as exc:
            failure = exc
            raise
        finally:
            route = scope.get("route")
            case_id = scope.get("path_params", {}).get("case_id")
            fields: dict[str, Any] = {
                "method": scope["method"],
                "route": getattr(route, "path", "unmatched"),
                **({"case_id": str(case_id)} if case_id else {}),
                "status": status_code,
                "duration_ms": round((time.perf_counter() - started) * 1000, 1),
            }
            if status_code >= 500 or failure is not None:
                # The exception as structured fields (type, message, frames without locals).
                log.error("request", outcome="error", exc_info=failure, **fields)
            else:
                log.info("request", outcome="ok" if status_code < 400 else "rejected", **fields)
            structlog.contextvars.clear_contextvars()


def _valid_uuid(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None


def correlation_id(request: Request) -> uuid.UUID:
    """The request's correlation id (from ``X-Correlation-ID`` or freshly made)."""
    value = request.scope.get("state", {}).get("correlation_id")
    return uuid.UUID(value) if value else uuid.uuid4()


CorrelationId = Annotated[uuid.UUID, Depends(correlation_id)]


class Problem(BaseModel):
    detail: str


class FieldError(BaseModel):
    field: str
    rule: str
    message: str


class ValidationProblem(BaseModel):
    detail: str
    errors: list[FieldError] = Field(
        description=f"The problems, by field and rule: the first {MAX_ERRORS} of them."
    )
    count: int = Field(description="How many problems there were in all.")

    @classmethod
    def of(cls, detail: str, errors: list[FieldError]) -> ValidationProblem:
        return cls(detail=detail, errors=errors[:MAX_ERRORS], count=len(errors))


class InvalidFields(Exception):
    """Input that parsed but breaks a rule (say, incomplete for submission): 422, every field
    (the first ``MAX_ERRORS`` in the answer)."""

    def __init__(self, detail: str, errors: list[FieldError]) -> None:
        super().__init__(detail)
        self.problem = ValidationProblem.of(detail, errors)


async def _invalid_fields_handler(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, InvalidFields)
    return JSONResponse(status_code=422, content=exc.problem.model_dump())


async def _validation_handler(_request: Request, exc: Exception) -> JSONResponse:
    # Inputs are not echoed back: a rejected field may hold a survivor's identity.
    assert isinstance(exc, RequestValidationError)
    errors = [
        FieldError(
            field=".".join(str(p) for p in err["loc"] if p != "body") or "(body)",
            rule=str(err["type"]),
            message=str(err["msg"]),
        )
        for err in exc.errors()
    ]
    problem = ValidationProblem.of(f"{len(errors)} field(s) invalid", errors)
    return JSONResponse(status_code=422, content=problem.model_dump())


@dataclass(frozen=True)
class Refusal:
    """How a domain refusal is answered: its HTTP status, and a fixed detail or, when None,
    the exception's own message (which must then never hold case data)."""

    status: int
    detail: str | None = None


FieldRefusal = Callable[[Any], InvalidFields]
"""A refusal that names fields: the exception turned into a 422 with every field and rule.
It is only ever called with the exception type it is mapped to, so it may take that type."""

ErrorAnswers = Mapping[type[Exception], Refusal | FieldRefusal]
"""Each domain refusal a service's routes may meet, and how it is answered."""


def answer_errors(app: FastAPI, answers: ErrorAnswers) -> None:
    """Map a service's domain refusals to HTTP answers once, for every route."""
    for error_type, answer in answers.items():
        app.add_exception_handler(error_type, _answer_with(answer))


def _answer_with(
    answer: Refusal | FieldRefusal,
) -> Callable[[Request, Exception], Awaitable[JSONResponse]]:
    async def handle(_request: Request, exc: Exception) -> JSONResponse:
        if isinstance(answer, Refusal):
            problem = Problem(detail=answer.detail or str(exc))
            return JSONResponse(status_code=answer.status, content=problem.model_dump())
        return JSONResponse(status_code=422, content=answer(exc).problem.model_dump())

    return handle


ReadinessCheck = Callable[[], Awaitable[None]]


ReadinessChecks = Callable[[], Iterable[tuple[str, ReadinessCheck]]]

health = APIRouter(tags=["health"])


@health.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is alive."""
    return {"status": "alive"}


@health.get("/readyz", responses={503: {"description": "a dependency does not answer"}})
async def readyz(request: Request) -> JSONResponse:
    """Every dependency the service needs answers (503 naming those that do not)."""
    checks: ReadinessChecks = request.app.state.readiness_checks
    results: dict[str, str] = {}
    for name, check in checks():
        try:
            await check()
            results[name] = "ok"
        except Exception as exc:  # any failure means not ready; the type says which
            results[name] = f"unavailable: {type(exc).__name__}"
    ready = all(v == "ok" for v in results.values())
    return JSONResponse(
        status_code=200 if ready else 503,
        content={"status": "ready" if ready else "not ready", "checks": results},
    )


def install_health(app: FastAPI, checks: ReadinessChecks) -> None:
    """``/healthz`` and ``/readyz``, the latter asking ``checks`` on every call."""
    app.state.readiness_checks = checks
    app.include_router(health)


def install_common(app: FastAPI, *, max_body_bytes: int = 1024 * 1024) -> None:
    """Middleware and error handlers every service uses: a request is logged (413s included),
    then its body is held to ``max_body_bytes`` unless it is an upload."""
    app.add_middleware(BodyLimitMiddleware, limit=max_body_bytes)
    app.add_middleware(RequestLogMiddleware)
    app.add_exception_handler(RequestValidationError, _validation_handler)
    app.add_exception_handler(InvalidFields, _invalid_fields_handler)


def problem_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the errors an endpoint can answer with."""
    descriptions = {
        401: "missing or invalid token",
        403: "the caller's role may not do this",
        404: "no such case for this caller",
        409: "the case is not in a state that allows this",
        422: "invalid input: every field error, by field and rule",
    }
    out: dict[int | str, dict[str, Any]] = {c: {"description": descriptions[c]} for c in codes}
    if 422 in codes:
        out[422]["model"] = ValidationProblem
    return out


COMMON_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": Problem, "description": "the body could not be read (say, not valid JSON)"},
    413: {
        "model": Problem,
        "description": "the body is larger than the limit (CORROBORATE_MAX_BODY_BYTES), unread",
    },
    422: {
        "model": ValidationProblem,
        "description": "invalid input: every field, by field and rule",
    },
}
"""Answers any endpoint can give, documented on all of them (the 422 in its real shape)."""


def binary_upload(*, refused: str) -> dict[str, Any]:
    """Route arguments for an endpoint whose request body is one file, streamed: the body as
    OpenAPI should show it, and the two refusals every upload can meet. ``refused`` says what
    a 415 means here (say, "not a photograph")."""
    return {
        "openapi_extra": {
            "requestBody": {
                "required": True,
                "content": {
                    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
                },
            }
        },
        "responses": {
            413: {"description": "larger than the configured limit; nothing stored"},
            415: {"description": f"{refused}, judged from its bytes; nothing stored"},
        },
    }
