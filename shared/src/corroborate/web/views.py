"""What a service's own pages are built with: routes that sign the visitor in first and never
show a stack trace, forms read with their CSRF token checked, and errors given per field in the
GOV.UK pattern (an error summary linking to each field's message).

A page route takes a ``Visitor`` from ``page_visitor(*roles)``: someone not signed in is sent
to sign in and brought back; someone signed in without one of the roles sees a page that says
whose page it is. A form is read with ``form_of``, which refuses it without the session's CSRF
token. Anything unexpected becomes an error page with the request's correlation id.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.routing import APIRoute

from corroborate.auth import Principal, Role
from corroborate.logging import get_logger
from corroborate.web.pages import navigation, render
from corroborate.web.routes import visitor_of
from corroborate.web.signin import Visitor, WebSignIn

log = get_logger("corroborate.web")
MAX_FORM_BYTES = 64 * 1024


class SignInNeeded(Exception):
    """Nobody is signed in (or their session ended): sign in, then come back to ``next``."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


class PageRefused(Exception):
    """A page a person may not see, or a form that cannot be taken: shown as a page."""

    def __init__(
        self, status: int, title: str, message: str, *, visitor: Visitor | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.title, self.message, self.visitor = status, title, message, visitor


@dataclass(frozen=True)
class FieldError:
    """One field's error: its form field name (the input's id), and the message."""

    field: str
    message: str


class Form:
    """A submitted form, its CSRF token already checked."""

    def __init__(self, values: Mapping[str, list[str]]) -> None:
        self._values = values

    def get(self, name: str, default: str = "") -> str:
        found = self._values.get(name)
        return found[0].strip() if found else default

    def all(self, name: str) -> list[str]:
        return [v.strip() for v in self._values.get(name, []) if v.strip()]

    def __contains__(self, name: str) -> bool:
        return name in self._values


class PageRoute(APIRoute):
    """A page: its refusals and any unexpected error answered as pages, never as a trace."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except SignInNeeded as exc:
                return RedirectResponse(
                    f"/auth/sign-in?next={quote(exc.next_path)}", status_code=303
                )
            except PageRefused as exc:
                return refusal_page(request, exc)
            except Exception:
                log.exception("page failed", path=request.url.path, outcome="error")
                return render(
                    request,
                    "message.html",
                    status_code=500,
                    title="Sorry, something went wrong",
                    message="Corroborate could not show this page. Nothing you had already "
                    "saved is lost. Try again in a moment; if it happens again, tell your "
                    "administrator the reference below.",
                    reference=getattr(request.state, "correlation_id", None),
                    visitor=None,
                )

        return handle


def refusal_page(request: Request, refused: PageRefused) -> Response:
    return render(
        request,
        "message.html",
        status_code=refused.status,
        title=refused.title,
        message=refused.message,
        visitor=refused.visitor,
        action_url="/",
        action_label="Back to your page",
    )


ROLE_NAMES = {
    Role.PARTNER: "referral partners",
    Role.COORDINATOR: "triage coordinators",
    Role.CLINICIAN: "clinicians",
    Role.SENIOR_CLINICIAN: "senior clinicians",
    Role.LEGAL: "legal reviewers",
    Role.ANALYST: "analysts",
    Role.MANAGER: "managers",
    Role.ADMIN: "administrators",
}


def page_visitor(*roles: Role) -> Callable[[Request], Awaitable[Visitor]]:
    """A dependency: the signed-in visitor, holding one of ``roles`` (any role if none)."""
    allowed = frozenset(roles)

    async def visitor(request: Request) -> Visitor:
        sign_in: WebSignIn = request.app.state.web_sign_in
        found = await visitor_of(request, sign_in)
        if found is None:
            wanted = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            raise SignInNeeded(wanted if request.method == "GET" else "/")
        if allowed and not allowed & set(found.member.roles):
            names = " or ".join(ROLE_NAMES[r] for r in roles)
            raise PageRefused(
                403,
                "This page is not for you",
                f"This page is for {names}. If you need it for your work, ask your administrator.",
                visitor=found,
            )
        return found

    return visitor


def signed_in(*roles: Role) -> Any:
    """``Depends(page_visitor(*roles))``, for a route's signature."""
    return Depends(page_visitor(*roles))


async def form_of(request: Request, visitor: Visitor) -> Form:
    """The submitted form, refused (as a page) without this session's CSRF token."""
    body = (await request.body())[:MAX_FORM_BYTES]
    values = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    token = (values.get("csrf_token") or [""])[0]
    expected = visitor.session.csrf_token
    if not token or not hmac.compare_digest(token.encode(), expected.encode()):
        raise PageRefused(
            403,
            "This form has expired",
            "The page you sent this from was out of date or came from elsewhere, so nothing "
            "was changed. Go back, reload the page and try again.",
            visitor=visitor,
        )
    return Form(values)


@dataclass(frozen=True)
class Section:
    """A part of a person's home page: one of their roles' work here, in a few lines."""

    heading: str
    lines: list[str]


HomeSections = Callable[[Visitor], Awaitable[list[Section]]]
"""What a service shows a person on its home page, for the roles of theirs it serves."""

Landing = Callable[[Visitor], str | None]
"""Where a service sends a person who opens its home page, if it has a page of their own for
them (a partner's referrals); None: the home page."""


def principal_of(visitor: Visitor, role: Role) -> Principal:
    """The visitor as the service layer's caller, acting in ``role``."""
    member = visitor.member
    return Principal(
        subject=member.person_id,
        role=role,
        organisation=member.organisation,
        name=member.name,
        roles=member.roles,
    )


home_router = APIRouter(route_class=PageRoute, include_in_schema=False)


@home_router.get("/")
async def home(request: Request, visitor: Visitor = signed_in()) -> Response:
    """A person's page here: what each of their roles has waiting at this service, and links
    to their work at the others."""
    landing: Landing | None = getattr(request.app.state, "home_landing", None)
    place = landing(visitor) if landing else None
    if place is not None:
        return RedirectResponse(place, status_code=303)
    sections: HomeSections = request.app.state.home_sections
    return render(
        request,
        "home.html",
        title=f"Welcome, {visitor.member.name}",
        sections=await sections(visitor),
        elsewhere=[
            link
            for link in navigation(request, visitor.member.roles)
            if not link.url.startswith("/")  # another service's
        ],
        visitor=visitor,
    )
