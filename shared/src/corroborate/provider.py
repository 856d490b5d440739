"""The local OpenID Connect provider (Glewlwyd), set up through its administration API.

``deploy/local/stack.sh`` starts Glewlwyd on loopback and calls ``corroborate provider setup``,
which makes it what production's identity provider would be for Corroborate: an OIDC issuer
that requires PKCE (S256) and signs ID tokens with its own RSA key; sign-in by password and a
TOTP code from an authenticator app (the ``openid`` scope requires both, so every ID token
names ``otp`` in ``amr``); one confidential client per service; and the demo people, each with
a password and a TOTP secret, written to a file only the operator can read. Run again, it
changes nothing that is already there. Production points the services at any provider by
configuration; this module is for the local stack and the tests only.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import stat
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

PLUGIN = "oidc"
CLIENT_MODULE = "database"
"""Glewlwyd's own client store, as its database set-up creates it."""
OTP_SCHEME = "otp"
SIGN_IN_SCOPES = ("openid", "email", "profile")
DEFAULT_ADMIN_PASSWORD = "password"  # noqa: S105 - Glewlwyd's install default, changed at once


class ProviderError(Exception):
    """The provider refused a step of its set-up."""


@dataclass(frozen=True)
class Person:
    """A demo person: their sign-in name, what Corroborate's directory will know of them, and
    the credentials the provider holds (a password and a TOTP secret, base32)."""

    username: str
    name: str
    email: str
    role: str
    organisation: str | None
    password: str
    totp_secret: str


API_SCOPE = "corroborate-api"
"""The scope (and so the audience) of partners' systems' access tokens."""

DEMO_PEOPLE: tuple[tuple[str, str, str, str | None], ...] = (
    ("sol-a1", "Amira Haddad", "partner", "Haddad & Co Solicitors"),
    ("sol-a2", "Ben Okafor", "partner", "Haddad & Co Solicitors"),
    ("sol-b1", "Carla Mendes", "partner", "Northgate Law Centre"),
    ("sol-b2", "Dev Patel", "partner", "Northgate Law Centre"),
    ("coordinator", "Erin Walsh", "coordinator", None),
    ("dr-clinician-1", "Dr Farah Nadeem", "clinician", None),
    ("dr-clinician-2", "Dr George Ibe", "clinician", None),
    ("dr-senior-1", "Dr Helen Varga", "senior_clinician", None),
    ("legal", "Ivan Petrov", "legal", None),
    ("analyst", "Jo Kim", "analyst", None),
    ("manager", "Kofi Mensah", "manager", None),
    ("admin-1", "Lena Fischer", "admin", None),
)
"""(username, name, role, organisation): the people ``up.sh`` creates."""


def new_person(username: str, name: str, role: str, organisation: str | None) -> Person:
    return Person(
        username=username,
        name=name,
        email=f"{username}@corroborate.test",
        role=role,
        organisation=organisation,
        password=secrets.token_urlsafe(12),
        totp_secret=_base32_secret(),
    )


def _base32_secret() -> str:
    return base64.b32encode(secrets.token_bytes(20)).decode().rstrip("=")


def totp(secret: str, *, at: float | None = None, step: int = 30, digits: int = 6) -> str:
    """The TOTP code (RFC 6238, SHA-1) an authenticator app shows for ``secret`` at ``at``."""
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    counter = int((time.time() if at is None else at) // step)
    digest = hmac.new(key, counter.to_bytes(8, "big"), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    number = int.from_bytes(digest[offset : offset + 4], "big") & 0x7FFFFFFF
    return str(number % 10**digits).zfill(digits)


@dataclass(frozen=True)
class Client:
    client_id: str
    client_secret: str
    redirect_uris: tuple[str, ...]
    post_logout_redirect_uri: str


class GlewlwydAdmin:
    """The administration API, signed in as the provider's administrator."""

    def __init__(self, base_url: str, http: httpx.Client) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = http

    @classmethod
    def signed_in(cls, base_url: str, password: str, *, http: httpx.Client) -> GlewlwydAdmin:
        admin = cls(base_url, http)
        admin.call("POST", "/auth/", {"username": "admin", "password": password})
        return admin

    def call(self, method: str, path: str, body: Any = None, *, ok: Iterable[int] = (200,)) -> Any:
        response = self._http.request(method, f"{self.base_url}/api{path}", json=body)
        if response.status_code not in set(ok):
            raise ProviderError(f"{method} {path}: HTTP {response.status_code}: {response.text}")
        return response.json() if response.content else None

    def exists(self, path: str) -> bool:
        response = self._http.get(f"{self.base_url}/api{path}")
        if response.status_code not in (200, 404):
            raise ProviderError(f"GET {path}: HTTP {response.status_code}: {response.text}")
        return response.status_code == 200

    def put_or_post(self, collection: str, name: str, body: dict[str, Any]) -> None:
        """Create ``name`` in ``collection``, or bring it to ``body`` if it is there."""
        if self.exists(f"{collection}/{name}"):
            self.call("PUT", f"{collection}/{name}", body)
        else:
            self.call("POST", f"{collection}/", body)

    # --- the pieces -----------------------------------------------------------------------

    def change_admin_password(self, old: str, new: str) -> None:
        self.call(
            "PUT", "/profile/password", {"username": "admin", "old_password": old, "password": new}
        )

    def ensure_otp_scheme(self) -> None:
        body = {
            "module": "otp",
            "name": OTP_SCHEME,
            "display_name": "Authenticator app",
            "expiration": 600,
            "max_use": 0,
            "allow_user_register": True,
            "parameters": {
                "otp-length": 6,
                "issuer": "Corroborate",
                "hotp-allow": False,
                "totp-allow": True,
                "totp-window": 30,
                "totp-start-offset": 0,
                "secret-minimum-size": 20,
            },
        }
        self.put_or_post("/mod/scheme", OTP_SCHEME, body)
        self.call("PUT", f"/mod/scheme/{OTP_SCHEME}/enable")

    def ensure_scopes(self) -> None:
        """``openid`` alone asks for a password; ``email`` and ``profile``, which Corroborate
        always asks for, need the TOTP code as well. The provider so refuses a one-factor
        sign-in to Corroborate, and the services refuse any ID token without ``otp`` in its
        ``amr`` (the tests show that with a password-only ``openid`` sign-in)."""
        second_factor = {"2fa": [{"scheme_type": "otp", "scheme_name": OTP_SCHEME}]}
        for name, display, scheme in (
            ("openid", "Sign in", {}),
            ("email", "Your email address", second_factor),
            ("profile", "Your name", second_factor),
        ):
            self.put_or_post(
                "/scope",
                name,
                {
                    "name": name,
                    "display_name": display,
                    "description": "Sign in to Corroborate",
                    "password_required": True,
                    "password_max_age": 0,
                    "scheme": scheme,
                },
            )

    def ensure_oidc_plugin(self, *, issuer: str, jwks_private: dict[str, Any], kid: str) -> None:
        parameters = {
            "iss": issuer,
            "jwks-private": json.dumps(jwks_private),
            "default-kid": kid,
            "jwt-type": "rsa",
            "jwt-key-size": "256",
            "jwks-show": True,
            "access-token-duration": 3600,
            "refresh-token-duration": 1209600,
            "code-duration": 600,
            "refresh-token-rolling": True,
            # Client credentials is an OAuth 2 grant, not an OpenID Connect one: partners'
            # systems get access tokens for the API scope (API_SCOPE) this way.
            "allow-non-oidc": True,
            "auth-type-code-enabled": True,
            "auth-type-token-enabled": False,
            "auth-type-id-token-enabled": True,
            "auth-type-password-enabled": False,
            "auth-type-client-enabled": True,
            "auth-type-refresh-enabled": True,
            "scope-claim": "no",
            "claims": [],
            "name-claim": "mandatory",
            "email-claim": "mandatory",
            "address-claim": {"type": "no"},
            "pkce-allowed": True,
            "pkce-required": True,
            "pkce-method-plain-allowed": False,
            "session-management-allowed": True,
            # Not the name of the provider's own sign-in session cookie, which this one would
            # overwrite (signing the person out of the provider's pages).
            "session-cookie-name": "GLEWLWYD2_OIDC_SID",
            "session-cookie-expiration": 86400,
            "subject-type": "public",
            "request-parameter-allow": False,
            "encrypt-out-token-allow": False,
            "oauth-as-metadata-enable": False,
        }
        body = {
            "module": "oidc",
            "name": PLUGIN,
            "display_name": "OpenID Connect",
            "parameters": parameters,
        }
        # A refused body still creates the instance, so an existing one is updated instead; a
        # running instance takes changed parameters only when enabled afresh.
        self.put_or_post("/mod/plugin", PLUGIN, body)
        self.call("PUT", f"/mod/plugin/{PLUGIN}/disable")
        self.call("PUT", f"/mod/plugin/{PLUGIN}/enable")

    def ensure_client_properties(self) -> None:
        """Let clients hold ``post_logout_redirect_uris`` (a list), where the provider looks
        for the addresses a sign-out may return to: without it, ending a session at the
        provider cannot send the person back to Corroborate."""
        module = self.call("GET", f"/mod/client/{CLIENT_MODULE}")
        formats = module["parameters"].setdefault("data-format", {})
        wanted = {"multiple": True, "read": True, "write": True}
        if formats.get("post_logout_redirect_uris") == wanted:
            return
        formats["post_logout_redirect_uris"] = wanted
        body = {
            k: module[k] for k in ("module", "name", "display_name", "order_rank", "parameters")
        }
        self.call("PUT", f"/mod/client/{CLIENT_MODULE}", body)
        self.call("PUT", f"/mod/client/{CLIENT_MODULE}/disable")
        self.call("PUT", f"/mod/client/{CLIENT_MODULE}/enable")

    def ensure_api_scope(self) -> None:
        """The scope a partner's system asks for with client credentials; its access tokens
        name it as their audience."""
        self.put_or_post(
            "/scope",
            API_SCOPE,
            {
                "name": API_SCOPE,
                "display_name": "Corroborate's API",
                "description": "A referral partner's case system calls Corroborate",
                "password_required": False,
                "scheme": {},
            },
        )

    def ensure_machine_client(self, client: MachineClient) -> None:
        """A partner's system: confidential, client credentials only, the API scope only."""
        self.put_or_post(
            "/client",
            client.client_id,
            {
                "client_id": client.client_id,
                "name": client.client_id,
                "client_secret": client.client_secret,
                "confidential": True,
                "enabled": True,
                "redirect_uri": [],
                "authorization_type": ["client_credentials"],
                "scope": [API_SCOPE],
                "token_endpoint_auth_method": ["client_secret_basic"],
            },
        )

    def ensure_client(self, client: Client, *, scopes: Iterable[str] = ()) -> None:
        self.put_or_post(
            "/client",
            client.client_id,
            {
                "client_id": client.client_id,
                "name": client.client_id,
                "client_secret": client.client_secret,
                "confidential": True,
                "enabled": True,
                "redirect_uri": list(client.redirect_uris),
                "post_logout_redirect_uris": [client.post_logout_redirect_uri],
                "authorization_type": ["code", "refresh_token", "client_credentials"],
                "scope": list(scopes),
                "token_endpoint_auth_method": ["client_secret_basic"],
            },
        )

    def ensure_person(self, person: Person, *, enabled: bool = True) -> None:
        body = {
            "username": person.username,
            "name": person.name,
            "email": person.email,
            "password": person.password,
            # g_profile: the provider's own pages (password, second factor, signing out).
            "scope": [*SIGN_IN_SCOPES, "g_profile"],
            "enabled": enabled,
        }
        self.put_or_post("/user", person.username, body)
        self.call(
            "POST",
            f"/delegate/{person.username}/profile/scheme/register/",
            {
                "username": person.username,
                "scheme_type": "otp",
                "scheme_name": OTP_SCHEME,
                "value": {"type": "TOTP", "secret": person.totp_secret, "time_step_size": 30},
            },
        )

    def set_enabled(self, username: str, enabled: bool) -> None:
        person = self.call("GET", f"/user/{username}")
        self.call("PUT", f"/user/{username}", {**person, "enabled": enabled})


def signing_key(path: Path, *, kid: str = "corroborate-local-1") -> tuple[dict[str, Any], str]:
    """The provider's RSA signing key as a private JWKS, generated once and kept at ``path``."""
    if path.exists():
        document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return document, str(document["keys"][0]["kid"])
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key))
    jwk.update({"kid": kid, "alg": "RS256", "use": "sig"})
    document = {"keys": [jwk]}
    _write_private(path, json.dumps(document))
    return document, kid


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    path.chmod(stat.S_IRUSR | stat.S_IWUSR)


@dataclass(frozen=True)
class MachineClient:
    """A partner organisation's own case system, calling the API with client credentials."""

    client_id: str
    client_secret: str
    organisation: str


DEMO_MACHINE_CLIENTS: tuple[tuple[str, str], ...] = (
    ("haddad-co-case-system", "Haddad & Co Solicitors"),
)
"""(client id, organisation): the partners' systems ``up.sh`` registers."""


@dataclass(frozen=True)
class SetUp:
    issuer: str
    clients: dict[str, Client]
    people: tuple[Person, ...]
    machine_clients: tuple[MachineClient, ...] = ()


def set_up(
    base_url: str,
    *,
    state: Path,
    service_urls: dict[str, str],
    people: Iterable[tuple[str, str, str, str | None]] = DEMO_PEOPLE,
) -> SetUp:
    """Bring the provider at ``base_url`` to what Corroborate needs; secrets live in ``state``
    (the administrator's password, the signing key, the clients and the people), created on the
    first run and reused after."""
    issuer = f"{base_url.rstrip('/')}/api/{PLUGIN}"
    admin_file = state / "admin-password"
    with httpx.Client(timeout=30.0) as http:
        if admin_file.exists():
            admin = GlewlwydAdmin.signed_in(
                base_url, admin_file.read_text(encoding="utf-8"), http=http
            )
        else:
            admin = GlewlwydAdmin.signed_in(base_url, DEFAULT_ADMIN_PASSWORD, http=http)
            password = secrets.token_urlsafe(24)
            admin.change_admin_password(DEFAULT_ADMIN_PASSWORD, password)
            _write_private(admin_file, password)
        jwks, kid = signing_key(state / "signing-key.jwks.json")
        admin.ensure_otp_scheme()
        admin.ensure_scopes()
        admin.ensure_oidc_plugin(issuer=issuer, jwks_private=jwks, kid=kid)
        admin.ensure_client_properties()
        clients = _clients(state / "clients.json", service_urls)
        for client in clients.values():
            admin.ensure_client(client)
        known = _people(state / "people.json", people)
        for person in known:
            admin.ensure_person(person)
        admin.ensure_api_scope()
        machines = machine_clients(state / "machine-clients.json")
        for machine in machines:
            admin.ensure_machine_client(machine)
    return SetUp(issuer=issuer, clients=clients, people=known, machine_clients=machines)


def machine_clients(
    path: Path, wanted: Iterable[tuple[str, str]] = DEMO_MACHINE_CLIENTS
) -> tuple[MachineClient, ...]:
    """The demo partners' systems, with secrets made once and kept at ``path``."""
    kept = (
        {m["client_id"]: MachineClient(**m) for m in json.loads(path.read_text(encoding="utf-8"))}
        if path.exists()
        else {}
    )
    machines = tuple(
        kept.get(client_id) or MachineClient(client_id, secrets.token_urlsafe(32), organisation)
        for client_id, organisation in wanted
    )
    _write_private(path, json.dumps([asdict(m) for m in machines], indent=2))
    return machines


def _clients(path: Path, service_urls: dict[str, str]) -> dict[str, Client]:
    kept: dict[str, Any] = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    clients = {}
    for service, url in service_urls.items():
        secret = kept.get(service, {}).get("client_secret") or secrets.token_urlsafe(32)
        clients[service] = Client(
            client_id=f"corroborate-{service}",
            client_secret=secret,
            redirect_uris=(f"{url.rstrip('/')}/auth/callback",),
            post_logout_redirect_uri=f"{url.rstrip('/')}/auth/signed-out",
        )
    _write_private(path, json.dumps({s: asdict(c) for s, c in clients.items()}, indent=2))
    return clients


def _people(path: Path, wanted: Iterable[tuple[str, str, str, str | None]]) -> tuple[Person, ...]:
    kept = (
        {p["username"]: Person(**p) for p in json.loads(path.read_text(encoding="utf-8"))}
        if path.exists()
        else {}
    )
    people = tuple(
        kept.get(username) or new_person(username, name, role, org)
        for username, name, role, org in wanted
    )
    _write_private(path, json.dumps([asdict(p) for p in people], indent=2))
    return people


def organisation_id_of(name: str) -> str:
    """The id the demo gives an organisation: a slug of its name."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def enrolments(
    people: Iterable[Person],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The directory entries that admit ``people``: their organisations, and an invitation for
    each (bodies for intake's ``/directory`` API)."""
    organisations: dict[str, dict[str, Any]] = {}
    invitations = []
    for person in people:
        organisation_id = None
        if person.organisation:
            organisation_id = organisation_id_of(person.organisation)
            organisations[organisation_id] = {
                "organisation_id": organisation_id,
                "name": person.organisation,
            }
        invitations.append(
            {
                "email": person.email,
                "name": person.name,
                "roles": [person.role],
                "organisation_id": organisation_id,
            }
        )
    return list(organisations.values()), invitations
