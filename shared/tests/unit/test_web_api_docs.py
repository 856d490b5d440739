"""The API's documentation pages: nothing from another origin, no inline script under a policy
that allows none, every file they load served here with its type, and the viewers the pinned
releases, byte for byte (ReDoc's with its one recorded change)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterator
from html.parser import HTMLParser

import httpx
import pytest
from fastapi import FastAPI

from corroborate.web import api_docs
from corroborate.web.pages import STATIC, content_security_policy, security_headers

SWAGGER_UI_DIST_5_31_0 = {
    "swagger-ui-bundle.js": "93b7b0862a80e2786f85b560be7693c2344354ffa7e7e224f850a54349724c31",
    "swagger-ui.css": "9e576f8322132c76949da47f9bb53c891373c303ea3a761ff548ffc9de50a98c",
}
"""sha256 of the files in the npm package swagger-ui-dist@5.31.0."""
REDOC_2_5_4_SHA256 = "dcaf76612bc4a3fbcc923a8966dee2f6146a5f32e5ce1b6f02dd60cbbf89500b"
"""sha256 of bundles/redoc.standalone.js in the npm package redoc@2.5.4."""
REDOC_LOGO = (b'src:"https://cdn.redoc.ly/redoc/logo-mini.svg"', b'src:"data:,"')
"""The one change to ReDoc's bundle: its footer's logo from Redocly's CDN, as an empty image."""
PAGES = ("/docs", "/redoc")


class _Loads(HTMLParser):
    """What a page loads: its scripts (and whether any is inline) and its style sheets."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[str] = []
        self.styles: list[str] = []
        self.inline: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        if tag == "script":
            self._in_script = True
            if named.get("src"):
                self.scripts.append(str(named["src"]))
        if tag == "link" and named.get("rel") == "stylesheet":
            self.styles.append(str(named["href"]))
        if tag == "style" or "style" in named or any(k.startswith("on") for k in named):
            self.inline.append(tag)

    def handle_endtag(self, tag: str) -> None:
        self._in_script = self._in_script and tag != "script"

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline.append(data.strip()[:40])


def loads(html: str) -> _Loads:
    found = _Loads()
    found.feed(html)
    return found


def directives(policy: str) -> dict[str, str]:
    return dict(d.split(" ", 1) for d in policy.split("; "))


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI(title="Corroborate test", docs_url=None, redoc_url=None)
    app.include_router(api_docs.router)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


@pytest.mark.parametrize("path", PAGES)
async def test_the_page_names_no_other_origin_and_runs_no_inline_script(
    client: httpx.AsyncClient, path: str
) -> None:
    page = await client.get(path)
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert re.findall(r"https?:|//[a-z]", page.text) == []
    found = loads(page.text)
    assert found.inline == []
    assert found.scripts[-1] == "/docs/assets/api-docs.js"
    assert 'data-openapi-url="/openapi.json"' in page.text


@pytest.mark.parametrize("path", PAGES)
async def test_the_page_carries_the_pages_headers_and_scripts_only_from_this_origin(
    client: httpx.AsyncClient, path: str
) -> None:
    headers = (await client.get(path)).headers
    policy = directives(headers["content-security-policy"])
    assert policy["script-src"] == "'self'"
    assert policy["default-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"
    assert policy["object-src"] == "'none'"
    assert policy["base-uri"] == "'none'"
    for name, value in security_headers("").items():
        if name != "Content-Security-Policy":
            assert headers[name] == value


async def test_swagger_ui_runs_under_the_pages_own_policy(client: httpx.AsyncClient) -> None:
    page = await client.get("/docs")
    assert page.headers["content-security-policy"] == content_security_policy()
    assert "unsafe" not in page.headers["content-security-policy"]


async def test_redoc_alone_may_style_inline_and_start_its_search_worker_from_a_blob(
    client: httpx.AsyncClient,
) -> None:
    policy = directives((await client.get("/redoc")).headers["content-security-policy"])
    assert policy["style-src"] == "'self' 'unsafe-inline'"
    assert policy["worker-src"] == "blob:"
    assert "unsafe" not in policy["script-src"]


@pytest.mark.parametrize("path", PAGES)
async def test_every_script_and_style_the_page_loads_is_served_here_with_its_type(
    client: httpx.AsyncClient, path: str
) -> None:
    found = loads((await client.get(path)).text)
    expected = [("text/javascript", url) for url in found.scripts] + [
        ("text/css", url) for url in found.styles
    ]
    assert len(expected) >= 3
    for kind, url in expected:
        served = await client.get(url)
        assert served.status_code == 200, url
        assert served.headers["content-type"] == f"{kind}; charset=utf-8", url
        assert served.headers["x-content-type-options"] == "nosniff"
        assert served.content


async def test_only_the_files_the_pages_load_are_served(client: httpx.AsyncClient) -> None:
    # The Swagger UI package also holds a demo page and its start-up script, which fetch a
    # public example API: not served.
    for name in ("index.html", "swagger-initializer.js", "..%2Fapi_docs.py", "oauth2-redirect"):
        assert (await client.get(f"/docs/assets/{name}")).status_code == 404
    assert (await client.get("/docs/oauth2-redirect")).status_code == 404


async def test_behind_a_prefix_the_page_loads_from_under_it() -> None:
    app = FastAPI(title="Corroborate test", docs_url=None, redoc_url=None)
    app.include_router(api_docs.router)
    transport = httpx.ASGITransport(app=app, root_path="/intake")
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        page = (await http.get("/docs")).text
    assert 'data-openapi-url="/intake/openapi.json"' in page
    assert loads(page).scripts == [
        "/intake/docs/assets/swagger-ui-bundle.js",
        "/intake/docs/assets/api-docs.js",
    ]


def test_swagger_ui_is_the_pinned_release() -> None:
    assert api_docs.SWAGGER_UI_VERSION == "5.31.0"
    for name, sha256 in SWAGGER_UI_DIST_5_31_0.items():
        path, _ = api_docs.ASSETS[name]
        assert hashlib.sha256(path.read_bytes()).hexdigest() == sha256, name


def test_redoc_is_the_pinned_release_but_for_the_logo_it_would_fetch() -> None:
    served = (STATIC / api_docs.REDOC).read_bytes()
    assert served.count(REDOC_LOGO[1]) == 1
    released = served.replace(REDOC_LOGO[1], REDOC_LOGO[0])
    assert hashlib.sha256(released).hexdigest() == REDOC_2_5_4_SHA256
    assert b"cdn.redoc.ly" not in served
    vendor = STATIC / "vendor"
    assert (vendor / "redoc-LICENSE").read_text(encoding="utf-8").startswith("The MIT License")
    assert (vendor / "redoc-2.5.4.standalone.js.LICENSE.txt").is_file()
