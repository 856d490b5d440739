"""The sign-in pages every service serves: ``/auth/sign-in``, the provider's return to
``/auth/callback``, ``/auth/me``, and signing out (a form with the session's CSRF token)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import parse_qsl, quote

from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.responses import RedirectResponse, Response

from corroborate.auth import Principal
from corroborate.http import from_state
from corroborate.oidc import SecondFactorMissing, SignInFailed
from corroborate.web.pages import render
from corroborate.web.signin import BadCsrfToken, NotAdmitted, Visitor, WebSignIn, safe_next

router = APIRouter(prefix="/auth", include_in_schema=False)
SignIn = Annotated[WebSignIn, Depends(from_state(WebSignIn, "web_sign_in"))]
HOME = "/"
"""Where a person lands after signing in, unless they were on their way elsewhere."""
MAX_FORM_BYTES = 16 * 1024
SIGNED_OUT_SECONDS = 30 * 24 * 3600


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def session_cookie(request: Request) -> str:
    """``__Host-`` where served over HTTPS: only this origin, path ``/``, secure."""
    service = getattr(request.app.state, "web_service", "corroborate")
    name = f"corroborate-{service}-session"
    return f"__Host-{name}" if _secure(request) else name


def _pending_cookie(request: Request) -> str:
    service = getattr(request.app.state, "web_service", "corroborate")
    name = f"corroborate-{service}-sign-in"
    return f"__Host-{name}" if _secure(request) else name


def _signed_out_cookie(request: Request) -> str:
    service = getattr(request.app.state, "web_service", "corroborate")
    name = f"corroborate-{service}-signed-out"
    return f"__Host-{name}" if _secure(request) else name


def _set_cookie(request: Request, response: Response, name: str, value: str, age: int) -> None:
    response.set_cookie(
        name, value, max_age=age, path="/", httponly=True, samesite="lax", secure=_secure(request)
    )


def _sentence(text: str) -> str:
    text = text.strip()
    return (text[:1].upper() + text[1:]).rstrip(".") + "."


def _refused(request: Request, reason: str, status: int) -> Response:
    return render(
        request,
        "message.html",
        status_code=status,
        title="You could not be signed in",
        message=_sentence(reason),
        action_url="/auth/sign-in",
        action_label="Sign in again",
        visitor=None,
    )


async def visitor_of(request: Request, sign_in: WebSignIn) -> Visitor | None:
    return await sign_in.visitor(request.cookies.get(session_cookie(request)))


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_HEADER = "X-CSRF-Token"


async def session_caller(request: Request) -> Principal | None:
    """The API's caller when a page calls it with the browser's session (no bearer token):
    the person as the directory knows them now, in every role they hold. A request that
    changes something must carry the session's CSRF token in ``X-CSRF-Token``."""
    sign_in: WebSignIn = request.app.state.web_sign_in
    visitor = await visitor_of(request, sign_in)
    if visitor is None:
        return None
    if request.method not in SAFE_METHODS:
        try:
            sign_in.check_csrf(visitor, request.headers.get(CSRF_HEADER))
        except BadCsrfToken:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"a change made with a signed-in session needs its CSRF token ({CSRF_HEADER})",
            ) from None
    member = visitor.member
    return Principal(
        subject=member.person_id,
        role=member.roles[0],
        organisation=member.organisation,
        name=member.name,
        roles=member.roles,
    )


@router.get("/sign-in")
async def sign_in_page(request: Request, sign_in: SignIn, next: str | None = None) -> Response:
    # After signing out here, the next sign-in asks for the password and code again, even
    # where the provider keeps its own session open (one whose end-session step did not end
    # it).
    signed_out = _signed_out_cookie(request) in request.cookies
    url, pending = await sign_in.begin(safe_next(next, HOME), fresh=signed_out)
    response = RedirectResponse(url, status_code=303)
    _set_cookie(request, response, _pending_cookie(request), pending, 600)
    response.delete_cookie(_signed_out_cookie(request), path="/")
    return response


@router.get("/callback")
async def callback(
    request: Request,
    sign_in: SignIn,
    *,
    code: str | None = None,
    state: str | None = None,
    error: str | None = None,
    error_description: str | None = None,
) -> Response:
    if error or not code or not state:
        said = error_description or error or "it sent no code back"
        return _refused(request, f"The sign-in service did not sign you in: {said}.", 400)
    try:
        session_id, next_path = await sign_in.complete(
            pending=request.cookies.get(_pending_cookie(request)), code=code, state=state
        )
    except (NotAdmitted, SecondFactorMissing) as exc:
        return _refused(request, exc.reason, 403)
    except SignInFailed as exc:
        return _refused(request, exc.reason, 400)
    response = RedirectResponse(next_path, status_code=303)
    response.delete_cookie(_pending_cookie(request), path="/")
    _set_cookie(
        request,
        response,
        session_cookie(request),
        session_id,
        int(sign_in.sessions.policy.absolute.total_seconds()),
    )
    return response


@router.get("/me")
async def me(request: Request, sign_in: SignIn) -> Response:
    visitor = await visitor_of(request, sign_in)
    if visitor is None:
        return RedirectResponse(f"/auth/sign-in?next={quote('/auth/me')}", status_code=303)
    return render(request, "signed_in.html", title="You are signed in", visitor=visitor)


@router.post("/sign-out")
async def sign_out(request: Request, sign_in: SignIn) -> Response:
    visitor = await visitor_of(request, sign_in)
    if visitor is None:
        return RedirectResponse("/auth/signed-out", status_code=303)
    body = await request.body()
    form = dict(parse_qsl(body[:MAX_FORM_BYTES].decode("utf-8", "replace")))
    try:
        sign_in.check_csrf(visitor, form.get("csrf_token"))
    except BadCsrfToken:
        return render(
            request,
            "message.html",
            status_code=403,
            title="This form has expired",
            message="The page you signed out from was out of date or came from elsewhere. "
            "Go back, reload the page and try again.",
            action_url=HOME,
            action_label="Back to your page",
            visitor=visitor,
        )
    after = str(request.base_url).rstrip("/") + "/auth/signed-out"
    ended = await sign_in.sign_out(visitor, after=after)
    response = RedirectResponse(ended or "/auth/signed-out", status_code=303)
    response.delete_cookie(session_cookie(request), path="/")
    _set_cookie(request, response, _signed_out_cookie(request), "1", SIGNED_OUT_SECONDS)
    return response


@router.get("/signed-out")
async def signed_out(request: Request) -> Response:
    return render(
        request,
        "message.html",
        title="You have signed out",
        message="You have signed out of Corroborate.",
        action_url="/auth/sign-in",
        action_label="Sign in",
        visitor=None,
    )
