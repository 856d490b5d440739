"""Who may do what: every endpoint of every service, called by every kind of caller.

This table is the documentation of access (linked from the README). Each row names an
endpoint, the callers it admits, and the callers who must not learn that the case exists (they
get 404, as if it did not). Everyone else with a valid token gets 403, and a missing, expired,
wrongly signed or wrongly addressed token gets 401. "Admitted" means the request passed
authorisation: it may still be refused for its content or the case's state (409, 422).

People at a browser call the same endpoints with their signed-in session instead of a token:
each signed-in caller gets exactly what the same person with a token gets, except that a
change (any method but GET) without the session's CSRF token is refused (403), and a person
the directory has deactivated is not signed in at all (401), at every service.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from corroborate.access import service_settings
from corroborate.auth import SERVICE_AUDIENCES, Role, generate_keypair, issue_token
from corroborate.crypto import KeyRing
from corroborate.events.contracts import (
    CASE_EVENTS,
    ProtectedDetails,
    ReportIssued,
    ReviewCompleted,
    seal_details,
)
from corroborate.events.envelope import new_event
from corroborate.oidc import SignedIn as OidcSignedIn
from corroborate.settings import Settings
from corroborate.walk.samples import (
    ACCEPT,
    minimal_pdf,
    roster_entry,
    sample_findings,
    sample_photograph,
    sample_referral,
)
from corroborate.walk.steps import People, ReferralWalk, put_on_roster
from corroborate_testing import TEST_PACE, eventually, in_process, running
from corroborate_testing.identity import session_at
from intake.bootstrap import create_app as create_intake
from reporting.bootstrap import create_app as create_reporting
from review.bootstrap import create_app as create_review

pytestmark = pytest.mark.integration

# The callers. Staff roles act across organisations; partners only within their own.
PARTNER_A, PARTNER_B = "partner of organisation A", "partner of organisation B"
COORDINATOR, CLINICIAN, OTHER_CLINICIAN = (
    "coordinator",
    "the assigned clinician",
    "another clinician",
)
SENIOR, LEGAL, ANALYST, ADMIN = "senior clinician", "legal", "analyst", "admin"
MANAGER = "manager"  # no API of its own yet: refused everywhere
NO_TOKEN, EXPIRED, WRONG_KEY, WRONG_AUDIENCE = (
    "no token",
    "expired token",
    "token signed with another key",
    "token for another service",
)
CALLERS = [
    PARTNER_A,
    PARTNER_B,
    COORDINATOR,
    CLINICIAN,
    OTHER_CLINICIAN,
    SENIOR,
    LEGAL,
    ANALYST,
    MANAGER,
    ADMIN,
    NO_TOKEN,
    EXPIRED,
    WRONG_KEY,
    WRONG_AUDIENCE,
]
# The same people signed in through the directory, calling with their session cookie.
PARTNER_A_SIGNED_IN = "partner of organisation A, signed in"
SIGNED_IN = {
    PARTNER_A_SIGNED_IN: PARTNER_A,
    "coordinator, signed in": COORDINATOR,
    "the assigned clinician, signed in": CLINICIAN,
    "admin, signed in": ADMIN,
}
NO_CSRF = "coordinator, signed in, sending no CSRF token"
DEACTIVATED = "a signed-in person since deactivated"
CALLERS += [*SIGNED_IN, NO_CSRF, DEACTIVATED]
WEBHOOK = {"url": "http://127.0.0.1:9/hook", "secret": "s" * 40}
UNAUTHENTICATED = {NO_TOKEN, EXPIRED, WRONG_KEY, WRONG_AUDIENCE, DEACTIVATED}
EVERYONE = set(CALLERS)


@dataclass(frozen=True)
class Row:
    service: str
    method: str
    path: str  # with {placeholders} filled from the world below
    admitted: frozenset[str]
    hidden_from: frozenset[str] = frozenset()  # 404: existence must not leak
    body: Any = None
    content: bytes | None = None
    params: dict[str, Any] = field(default_factory=dict)
    public: bool = False  # health checks need no token at all
    again: tuple[str, str, Any] | None = None
    """A call an administrator makes before each caller, to put back what the row's call
    takes away (method, path, body)."""

    def expected(self, caller: str) -> str:
        if self.public:
            return "admitted"
        # Partners sign in at intake only.
        elsewhere = caller == PARTNER_A_SIGNED_IN and self.service != "intake"
        if caller in UNAUTHENTICATED or elsewhere:
            return "401"
        if caller == NO_CSRF and self.method != "GET":
            return "403"
        caller = COORDINATOR if caller == NO_CSRF else SIGNED_IN.get(caller, caller)
        if caller in self.admitted:
            return "admitted"
        if caller in self.hidden_from:
            return "404"
        return "403"


def _rows() -> list[Row]:
    a = frozenset
    partner, both_partners = a({PARTNER_A}), a({PARTNER_A, PARTNER_B})
    reason = {"reason": "The client has been granted leave."}
    findings = {**sample_findings(), "answers": []}
    appointment = {"on": datetime.now(UTC).date().isoformat(), "remote": True}
    roster_entry = {"name": "Dr Row", "disciplines": ["physical"], "capacity": 3}
    return [
        *(
            Row(s, "GET", p, a(), public=True)
            for s in ("intake", "review", "reporting")
            for p in ("/healthz", "/readyz")
        ),
        # intake: a partner's own organisation's referrals, and nobody else's
        Row("intake", "GET", "/referrals", both_partners),
        Row("intake", "POST", "/referrals", both_partners, body={"service_requested": "x"}),
        Row("intake", "GET", "/referrals/{referral}", partner, a({PARTNER_B})),
        Row("intake", "PATCH", "/referrals/{referral}", partner, a({PARTNER_B}), body={}),
        Row(
            "intake",
            "POST",
            "/referrals/{referral}/documents",
            partner,
            a({PARTNER_B}),
            content=minimal_pdf("row"),
            params={"kind": "other"},
        ),
        Row("intake", "GET", "/referrals/{referral}/documents/{document}", partner, a({PARTNER_B})),
        Row("intake", "POST", "/referrals/{referral}/submit", partner, a({PARTNER_B})),
        Row(
            "intake",
            "POST",
            "/referrals/{referral}/information",
            partner,
            a({PARTNER_B}),
            body={"request_id": str(uuid.uuid4()), "answer": "Here."},
        ),
        Row(
            "intake",
            "POST",
            "/referrals/{withdrawable}/withdraw",
            partner,
            a({PARTNER_B}),
            body=reason,
        ),
        Row("intake", "GET", "/referrals/{referral}/report", partner, a({PARTNER_B})),
        Row("intake", "GET", "/webhook", both_partners),
        Row("intake", "GET", "/webhook/deliveries", both_partners),
        Row(
            "intake",
            "PUT",
            "/organisations/{org_a}/webhook",
            a({ADMIN}),
            body={"url": "http://127.0.0.1:9/hook", "secret": "s" * 40},
        ),
        Row(
            "intake",
            "DELETE",
            "/organisations/{org_b}/webhook",
            a({ADMIN}),
            again=("PUT", "/organisations/{org_b}/webhook", WEBHOOK),
        ),
        # intake: the directory, administrators only
        Row(
            "intake",
            "POST",
            "/directory/organisations",
            a({ADMIN}),
            body={"name": "Row Firm {org_b}"},
        ),
        Row("intake", "GET", "/directory/organisations", a({ADMIN})),
        Row(
            "intake",
            "PATCH",
            "/directory/organisations/{directory_org}",
            a({ADMIN}),
            body={"active": True},
        ),
        Row("intake", "GET", "/directory/organisations/{directory_org}/api-clients", a({ADMIN})),
        Row(
            "intake",
            "POST",
            "/directory/organisations/{directory_org}/api-clients",
            a({ADMIN}),
            body={"client_id": "matrix-cms"},
        ),
        Row(
            "intake",
            "DELETE",
            "/directory/organisations/{directory_org}/api-clients/matrix-cms",
            a({ADMIN}),
            again=(
                "POST",
                "/directory/organisations/{directory_org}/api-clients",
                {"client_id": "matrix-cms"},
            ),
        ),
        Row(
            "intake",
            "POST",
            "/directory/people",
            a({ADMIN}),
            body={"email": "row-{org_b}@example.org", "name": "Row", "roles": ["analyst"]},
        ),
        Row("intake", "GET", "/directory/people", a({ADMIN})),
        Row(
            "intake",
            "PATCH",
            "/directory/people/{directory_person}",
            a({ADMIN}),
            body={"active": True},
        ),
        Row(
            "intake",
            "PUT",
            "/cases/{referral}/legal-hold",
            a({ADMIN}),
            body={"reason": "Claim pending."},
        ),
        Row("intake", "DELETE", "/cases/{referral}/legal-hold", a({ADMIN})),
        Row(
            "intake",
            "POST",
            "/cases/{erasable}/erasure",
            a({ADMIN}),
            body={"reason": "retention_expired"},
        ),
        # review: triage and the roster for coordinators; a case for its own clinician
        Row("review", "GET", "/triage", a({COORDINATOR})),
        Row("review", "GET", "/at-risk", a({COORDINATOR})),
        Row("review", "POST", "/cases/{referral}/decision", a({COORDINATOR}), body=ACCEPT),
        Row(
            "review",
            "POST",
            "/cases/{referral}/assignment",
            a({COORDINATOR}),
            body={"clinician_id": "{clinician}"},
        ),
        Row("review", "GET", "/cases/{referral}/suggestions", a({COORDINATOR})),
        Row("review", "GET", "/roster", a({COORDINATOR, ADMIN})),
        Row("review", "PUT", "/roster/dr-row", a({COORDINATOR, ADMIN}), body=roster_entry),
        Row("review", "GET", "/cases/mine", a({CLINICIAN, OTHER_CLINICIAN})),
        Row(
            "review",
            "GET",
            "/cases/{referral}",
            a({COORDINATOR, CLINICIAN}),
            a({OTHER_CLINICIAN, SENIOR}),
        ),
        Row(
            "review",
            "POST",
            "/cases/{referral}/appointments",
            a({COORDINATOR, CLINICIAN}),
            a({OTHER_CLINICIAN, SENIOR}),
            body=appointment,
        ),
        Row(
            "review",
            "PUT",
            "/cases/{referral}/appointments/{appointment}/consent",
            a({CLINICIAN}),
            a({OTHER_CLINICIAN}),
            body={"photography": True},
        ),
        Row(
            "review",
            "POST",
            "/cases/{referral}/photographs",
            a({CLINICIAN}),
            a({OTHER_CLINICIAN}),
            content=sample_photograph(),
            params={"appointment_id": "{appointment}"},
        ),
        Row(
            "review",
            "PUT",
            "/cases/{referral}/findings",
            a({CLINICIAN}),
            a({OTHER_CLINICIAN}),
            body=findings,
        ),
        Row(
            "review",
            "POST",
            "/cases/{referral}/findings/submit",
            a({CLINICIAN}),
            a({OTHER_CLINICIAN}),
        ),
        Row("review", "GET", "/peer-review", a({SENIOR})),
        Row(
            "review",
            "POST",
            "/cases/{in_peer_review}/peer-review",
            a({SENIOR}),
            body={"verdict": "return", "comments": "Once more."},
        ),
        # reporting: legal review for legal staff; the report for the partner it was issued to
        Row("reporting", "GET", "/legal-reviews", a({LEGAL})),
        Row("reporting", "GET", "/legal-reviews/{legal}", a({LEGAL})),
        Row(
            "reporting",
            "POST",
            "/legal-reviews/{legal}/changes",
            a({LEGAL}),
            body={"comments": "Please revise."},
        ),
        Row(
            "reporting",
            "POST",
            "/legal-reviews/{legal}/sign-off",
            a({LEGAL}),
            body={"statement": "Reviewed and approved for issue."},
        ),
        Row("reporting", "POST", "/cases/{issued}/report/link", partner, a({PARTNER_B})),
        Row(
            "reporting",
            "GET",
            "/reports/{report}/download",
            partner,
            a({PARTNER_B}),
            params={"expires": "{expires}", "signature": "{signature}"},
        ),
        Row("reporting", "GET", "/statistics/patterns", a({ANALYST}), params={"by": "country"}),
        Row(
            "reporting",
            "GET",
            "/statistics/patterns/chart.svg",
            a({ANALYST}),
            params={"country": "ER"},
        ),
        Row("reporting", "GET", "/statistics/operations", a({ADMIN})),
    ]


ROWS = _rows()


@dataclass
class World:
    """Real cases in every state the table needs, and a token for every caller."""

    ids: dict[str, str]
    headers: Callable[[str, str], dict[str, str]]
    clients: dict[str, httpx.AsyncClient]


@pytest.fixture
async def world(
    settings: Settings, make_token: Callable[..., str], keyring: KeyRing
) -> AsyncIterator[World]:
    tag = secrets.token_hex(3)
    org_a, org_b = f"org-a-{tag}", f"org-b-{tag}"
    other, senior = f"dr-y-{tag}", f"senior-{tag}"
    apps = {
        "intake": create_intake(service_settings(settings, "intake")),
        "review": create_review(service_settings(settings, "review")),
        "reporting": create_reporting(service_settings(settings, "reporting")),
    }
    async with AsyncExitStack() as stack:
        clients = {n: await stack.enter_async_context(running(a)) for n, a in apps.items()}
        signed_in = await _signed_in_people(apps, clients, make_token, org_a, org_b, tag)
        # The assigned clinician is a person in the directory: a token's subject and a
        # session's person are the same id.
        clinician = signed_in.person_ids["the assigned clinician, signed in"]
        people = {
            PARTNER_A: (Role.PARTNER, org_a, "solicitor-a"),
            PARTNER_B: (Role.PARTNER, org_b, "solicitor-b"),
            COORDINATOR: (Role.COORDINATOR, None, "coordinator-1"),
            CLINICIAN: (Role.CLINICIAN, None, clinician),
            OTHER_CLINICIAN: (Role.CLINICIAN, None, other),
            SENIOR: (Role.SENIOR_CLINICIAN, None, senior),
            LEGAL: (Role.LEGAL, None, "legal-1"),
            ANALYST: (Role.ANALYST, None, "analyst-1"),
            MANAGER: (Role.MANAGER, None, "manager-1"),
            ADMIN: (Role.ADMIN, None, "admin-1"),
        }
        stranger_key, _ = generate_keypair()

        def headers(caller: str, service: str) -> dict[str, str]:
            if caller in signed_in.sessions:
                return signed_in.headers(caller, service)
            if caller == NO_TOKEN:
                return {}
            if caller == EXPIRED:
                token = make_token(Role.PARTNER, org=org_a, sub="solicitor-a", ttl_seconds=-120)
            elif caller == WRONG_KEY:
                token = issue_token(
                    private_key_pem=stranger_key,
                    issuer=settings.auth_issuer,
                    subject="solicitor-a",
                    role=Role.PARTNER,
                    organisation=org_a,
                )
            elif caller == WRONG_AUDIENCE:
                others = [aud for name, aud in SERVICE_AUDIENCES.items() if name != service]
                token = make_token(Role.PARTNER, org=org_a, sub="solicitor-a", audiences=others)
            else:
                role, org, sub = people[caller]
                token = make_token(role, org=org, sub=sub)
            return {"Authorization": f"Bearer {token}"}

        ids = await _build_world(
            clients, apps, headers, keyring, org_a, org_b, clinician, other, senior
        )
        ids |= {"org_a": org_a, "org_b": org_b, "clinician": clinician}
        yield World(ids=ids, headers=headers, clients=clients)


@dataclass
class SignedIn:
    """Sessions at every service for the signed-in callers, as the sign-in opens them."""

    person_ids: dict[str, str]
    sessions: dict[str, dict[str, tuple[str, str]]]  # caller -> service -> (id, csrf token)

    def headers(self, caller: str, service: str) -> dict[str, str]:
        session_id, csrf = self.sessions[caller][service]
        cookie = {"Cookie": f"corroborate-{service}-session={session_id}"}
        return cookie if caller == NO_CSRF else {**cookie, "X-CSRF-Token": csrf}


async def _signed_in_people(
    apps: dict[str, Any],
    clients: dict[str, httpx.AsyncClient],
    make_token: Callable[..., str],
    org_a: str,
    org_b: str,
    tag: str,
) -> SignedIn:
    """Organisations A and B and the signed-in callers in intake's directory, each bound to a
    provider subject as a first sign-in binds them (the provider's part is proven in the sign-in
    tests), with a session at each service once that service's copy of the directory admits
    them; then the leaver is deactivated."""
    intake = clients["intake"]
    admin = {"Authorization": f"Bearer {make_token(Role.ADMIN, sub='admin-1')}"}
    for organisation in (org_a, org_b):
        created = await intake.post(
            "/directory/organisations",
            json={"name": f"Organisation {organisation}", "organisation_id": organisation},
            headers=admin,
        )
        assert created.status_code == 201, created.text
    who: dict[str, tuple[str, str | None]] = {
        PARTNER_A_SIGNED_IN: ("partner", org_a),
        "coordinator, signed in": ("coordinator", None),
        "the assigned clinician, signed in": ("clinician", None),
        "admin, signed in": ("admin", None),
        NO_CSRF: ("coordinator", None),
        DEACTIVATED: ("legal", None),
    }
    person_ids: dict[str, str] = {}
    sessions: dict[str, dict[str, tuple[str, str]]] = {}
    for n, (caller, (role, member_of)) in enumerate(who.items()):
        email = f"matrix-{n}-{tag}@example.org"
        invited = await intake.post(
            "/directory/people",
            json={
                "email": email,
                "name": caller,
                "roles": [role],
                "organisation_id": member_of,
            },
            headers=admin,
        )
        assert invited.status_code == 201, invited.text
        person_id, subject = invited.json()["person_id"], f"provider-subject-{n}-{tag}"
        bound = await apps["intake"].state.directory.admit(
            OidcSignedIn(
                subject=subject,
                email=email,
                name=None,
                amr=("otp",),
                acr=None,
                id_token="",
                claims={},
            )
        )
        assert bound is not None
        person_ids[caller] = person_id
        sessions[caller] = {}
        # Partners sign in at intake only: review and reporting do not admit them.
        services = ("intake",) if role == "partner" else ("intake", "review", "reporting")
        for service in services:
            sessions[caller][service] = await session_at(
                apps[service], person_id=person_id, subject=subject
            )
    for service in ("review", "reporting"):
        for caller, by_service in sessions.items():
            if service not in by_service:
                continue
            cookie = {"Cookie": f"corroborate-{service}-session={by_service[service][0]}"}

            async def admitted() -> bool:
                me = await clients[service].get("/auth/me", headers=cookie)  # noqa: B023
                return me.status_code == 200

            await eventually(admitted, what=f"{service} admits {caller}")
    left = await intake.patch(
        f"/directory/people/{person_ids[DEACTIVATED]}", json={"active": False}, headers=admin
    )
    assert left.status_code == 200, left.text
    for service in ("review", "reporting"):
        cookie = {"Cookie": f"corroborate-{service}-session={sessions[DEACTIVATED][service][0]}"}

        async def signed_out() -> bool:
            me = await clients[service].get("/auth/me", headers=cookie)  # noqa: B023
            return me.status_code == 303

        await eventually(signed_out, what=f"{service} hears that the leaver left")
    for service in ("review", "reporting"):  # partners get no session there
        sessions[PARTNER_A_SIGNED_IN][service] = ("none", "none")
    return SignedIn(person_ids=person_ids, sessions=sessions)


async def _build_world(
    clients: dict[str, httpx.AsyncClient],
    apps: dict[str, Any],
    headers: Callable[[str, str], dict[str, str]],
    keyring: KeyRing,
    org_a: str,
    org_b: str,
    clinician: str,
    other: str,
    senior: str,
) -> dict[str, str]:
    intake, reporting = clients["intake"], clients["reporting"]
    partner = headers(PARTNER_A, "intake")
    coordinator = headers(COORDINATOR, "review")
    dr = headers(CLINICIAN, "review")

    people = People(
        partner=partner,
        coordinator=coordinator,
        clinicians={clinician: dr},
        senior=headers(SENIOR, "review"),
        legal=headers(LEGAL, "reporting"),
    )

    def walk() -> ReferralWalk:
        return ReferralWalk(in_process(clients), people, pace=TEST_PACE)

    async def submitted() -> tuple[ReferralWalk, str, str]:
        referral = walk()
        await referral.draft(sample_referral("Row Person"))
        document = await referral.upload(minimal_pdf("x"))
        await referral.submit()
        return referral, str(referral.case_id), document["document_id"]

    async def assigned(referral: ReferralWalk) -> str:
        await referral.reaches_triage()
        await referral.accept()
        await referral.assign(clinician)
        appointment = await referral.book_appointment(interpreter_language=None)
        await referral.record_consent(appointment, photography=False)
        return appointment

    for clinician_id, is_senior in ((clinician, False), (other, False), (senior, True)):
        entry = roster_entry(clinician_id, senior=is_senior, languages=())
        await put_on_roster(in_process(clients).review, coordinator, clinician_id, entry)
    walked, referral, document = await submitted()
    appointment = await assigned(walked)
    _, withdrawable, _ = await submitted()
    _, erasable, _ = await submitted()
    peer_walk, in_peer_review, _ = await submitted()
    await assigned(peer_walk)
    await peer_walk.record_findings(sample_findings())
    await peer_walk.submit_draft()

    async def completed(case_id: uuid.UUID) -> None:
        event = new_event(
            payload=ReviewCompleted(
                reference=f"CRB-2026-{secrets.token_hex(3).upper()}",
                organisation=org_a,
                protected=seal_details(
                    ProtectedDetails(full_name="Row Person", questions=["Q?"]),
                    case_id=case_id,
                    key=keyring.new_data_key(),
                ),
                clinician_id=clinician,
                clinician_name="Dr X",
                approved_by="Dr S",
                completed_at=datetime.now(UTC),
                report_due=None,
                findings=sample_findings(),
                documents=[],
            ),
            case_id=case_id,
            producer="review",
            correlation_id=uuid.uuid4(),
            registry=CASE_EVENTS,
        )
        await apps["reporting"].state.runtime.publisher.publish(event)
        legal = headers(LEGAL, "reporting")

        async def arrived() -> bool:
            return (
                await reporting.get(f"/legal-reviews/{case_id}", headers=legal)
            ).status_code == 200

        await eventually(arrived, what="the case in legal review")

    legal_case, issued_case = uuid.uuid4(), uuid.uuid4()
    await completed(legal_case)
    await completed(issued_case)
    signed = await reporting.post(
        f"/legal-reviews/{issued_case}/sign-off",
        json={"statement": "Reviewed and approved for issue."},
        headers=headers(LEGAL, "reporting"),
    )
    assert signed.status_code == 200, signed.text
    link = await reporting.post(
        f"/cases/{issued_case}/report/link", headers=headers(PARTNER_A, "reporting")
    )
    query = dict(httpx.URL(link.json()["url"]).params)
    report = signed.json()["reports"][0]
    issued = ReportIssued(
        report_id=uuid.UUID(report["report_id"]),
        version=1,
        object_key="k",
        sha256=report["sha256"],
        size=report["size"],
        issued_at=datetime.now(UTC),
        signed_off_by="legal-1",
    )
    await apps["intake"].state.runtime.publisher.publish(
        new_event(
            payload=issued,
            case_id=uuid.UUID(referral),
            producer="reporting",
            correlation_id=uuid.uuid4(),
            registry=CASE_EVENTS,
        )
    )

    async def reported() -> bool:
        return (
            await intake.get(f"/referrals/{referral}/report", headers=partner)
        ).status_code == 200

    await eventually(reported, what="intake knows of the report")
    for org in (org_a, org_b):  # both organisations have a webhook, so there is one to read
        hooked = await intake.put(
            f"/organisations/{org}/webhook",
            json=WEBHOOK,
            headers=headers(ADMIN, "intake"),
        )
        assert hooked.status_code == 200, hooked.text
    return {
        **await _directory(intake, headers(ADMIN, "intake"), org_a),
        "referral": referral,
        "document": document,
        "appointment": appointment,
        "withdrawable": withdrawable,
        "erasable": erasable,
        "in_peer_review": in_peer_review,
        "legal": str(legal_case),
        "issued": str(issued_case),
        "report": report["report_id"],
        "expires": query["expires"],
        "signature": query["signature"],
    }


async def _directory(intake: httpx.AsyncClient, admin: dict[str, str], tag: str) -> dict[str, str]:
    """An organisation and a person in the directory, for the rows that change them."""
    organisation = await intake.post(
        "/directory/organisations", json={"name": f"Directory {tag}"}, headers=admin
    )
    assert organisation.status_code == 201, organisation.text
    person = await intake.post(
        "/directory/people",
        json={"email": f"row-person-{tag}@example.org", "name": "Row", "roles": ["legal"]},
        headers=admin,
    )
    assert person.status_code == 201, person.text
    return {
        "directory_org": organisation.json()["organisation_id"],
        "directory_person": person.json()["person_id"],
    }


def _fill(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, str):
        return value.format(**ids) if "{" in value else value
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    return value


async def test_every_endpoint_admits_exactly_who_it_should(world: World) -> None:
    mismatches: list[str] = []
    calls = 0
    for row in ROWS:
        for caller in CALLERS:
            if row.again is not None:
                method, path, body = row.again
                put_back = await world.clients[row.service].request(
                    method,
                    _fill(path, world.ids),
                    json=body,
                    headers=world.headers(ADMIN, row.service),
                )
                # Put back, or still there (refused as taken).
                assert put_back.status_code < 300 or "taken" in put_back.text, put_back.text
            response = await world.clients[row.service].request(
                row.method,
                _fill(row.path, world.ids),
                json=_fill(row.body, world.ids) if row.body is not None else None,
                content=row.content,
                params=_fill(row.params, world.ids),
                headers=world.headers(caller, row.service),
            )
            calls += 1
            status = response.status_code
            outcome = "admitted" if status not in {401, 403, 404} else str(status)
            if outcome != row.expected(caller):
                mismatches.append(
                    f"{row.service} {row.method} {row.path} as {caller}: got {status}, "
                    f"expected {row.expected(caller)}"
                )
    print(f"access matrix: {len(ROWS)} endpoints x {len(CALLERS)} callers = {calls} calls")
    assert mismatches == [], "\n".join(mismatches)


def test_the_table_covers_every_endpoint_of_every_service() -> None:
    import json
    from pathlib import Path

    documented = set()
    for service in ("intake", "review", "reporting"):
        spec = json.loads(Path(f"docs/contracts/{service}.openapi.json").read_text())
        for path, operations in spec["paths"].items():
            documented |= {(service, method.upper(), path) for method in operations}
    placeholders = {
        "{referral}": "{case_id}",
        "{withdrawable}": "{case_id}",
        "{erasable}": "{case_id}",
        "{in_peer_review}": "{case_id}",
        "{legal}": "{case_id}",
        "{issued}": "{case_id}",
        "{document}": "{document_id}",
        "{appointment}": "{appointment_id}",
        "{report}": "{report_id}",
        "{org_a}": "{organisation}",
        "{org_b}": "{organisation}",
        "/roster/dr-row": "/roster/{clinician_id}",
        "{directory_org}": "{organisation_id}",
        "{directory_person}": "{person_id}",
        "/api-clients/matrix-cms": "/api-clients/{client_id}",
    }

    def normalised(path: str) -> str:
        for mine, theirs in placeholders.items():
            path = path.replace(mine, theirs)
        return path

    tabled = {(row.service, row.method, normalised(row.path)) for row in ROWS}
    assert documented - tabled == set()
    assert tabled - documented == set()
