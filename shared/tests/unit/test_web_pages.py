"""Where a sign-in may send the browser afterwards, and the policy every page carries."""

from __future__ import annotations

import pytest

from corroborate.web.pages import content_security_policy
from corroborate.web.signin import safe_next


@pytest.mark.parametrize(
    ("asked", "sent"),
    [
        ("/referrals/1", "/referrals/1"),
        ("/auth/me?x=1", "/auth/me?x=1"),
        (None, "/home"),
        ("", "/home"),
        ("https://evil.example/", "/home"),
        ("//evil.example/path", "/home"),
        ("javascript:alert(1)", "/home"),
        ("relative/path", "/home"),
    ],
)
def test_only_a_path_on_this_service_is_followed_after_sign_in(
    asked: str | None, sent: str
) -> None:
    assert safe_next(asked, "/home") == sent


def test_the_policy_allows_no_inline_script_and_no_framing() -> None:
    policy = content_security_policy(form_targets="http://127.0.0.1:4593")
    directives = dict(d.split(" ", 1) for d in policy.split("; "))
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["form-action"] == "'self' http://127.0.0.1:4593"
    assert "unsafe" not in policy
