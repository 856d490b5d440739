"""Review's composition root: builds the clients, wires the use cases, serves HTTP."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi import FastAPI
from faststream import FastStream

from corroborate.http import answer_errors
from corroborate.logging import configure_logging
from corroborate.runtime import ServiceRuntime, service_app
from corroborate.settings import Settings, load_settings
from corroborate.web.app import (
    ProviderClient,
    copied_directory_sign_in,
    install_pages,
    portal_urls,
)
from corroborate.web.directory_copy import DirectoryCopy
from corroborate.web.signin import WebSignIn
from review.adapters.repository import COLLECTION, MongoCaseRepository
from review.adapters.roster import COLLECTION as CLINICIANS
from review.adapters.roster import MongoRoster
from review.entrypoints.api.errors import ERRORS
from review.entrypoints.api.routes import ROUTERS
from review.entrypoints.events import event_handlers
from review.entrypoints.loops import DeadlineWatch
from review.entrypoints.pages import home_sections
from review.service import PUBLISHES, Review, ReviewPolicy

SERVICE = "review"
TITLE = "Corroborate review"
VERSION = "0.1.0"
PHOTOGRAPHS = "review-photographs"


@dataclass(frozen=True)
class Wiring:
    runtime: ServiceRuntime
    review: Review
    staff: DirectoryCopy
    provider: ProviderClient
    sign_in: WebSignIn | None


def build(settings: Settings) -> Wiring:
    """Wire review's use cases to its infrastructure; nothing connects yet."""
    runtime = ServiceRuntime(
        service=SERVICE,
        settings=settings,
        buckets=(settings.bucket_name(PHOTOGRAPHS),),
        outbox_collections=(COLLECTION,),
    )
    people = copied_directory_sign_in(settings, service=SERVICE, runtime=runtime)
    staff = people.staff
    review = Review(
        cases=MongoCaseRepository(runtime.collection(COLLECTION), on_events=runtime.relay.notify),
        roster=MongoRoster(runtime.collection(CLINICIANS), runtime.collection(COLLECTION)),
        policy=ReviewPolicy(
            triage_response_days=settings.triage_response_days,
            delivery_days=settings.delivery_days,
            no_appointment_days=settings.no_appointment_days,
            report_due_soon_days=settings.report_due_soon_days,
        ),
        keyring=runtime.keyring,
        store=runtime.store,
        photographs_bucket=settings.bucket_name(PHOTOGRAPHS),
        audit=runtime.audit,
        staff=staff,
    )
    runtime.subscribe(event_handlers(review, staff))
    runtime.publishes(*PUBLISHES)
    return Wiring(
        runtime=runtime,
        review=review,
        staff=staff,
        provider=people.provider,
        sign_in=people.sign_in,
    )


def _prepare(wiring: Wiring) -> Callable[[], Awaitable[None]]:
    async def prepare() -> None:
        await wiring.review.prepare()
        await wiring.staff.prepare()
        if wiring.sign_in is not None:
            await wiring.sign_in.sessions.prepare()

    return prepare


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or load_settings()
    configure_logging(service=SERVICE, level=settings.log_level)
    wiring = build(settings)
    review = wiring.review
    deadlines = DeadlineWatch(review.escalate_due, poll_seconds=settings.deadline_poll_seconds)
    app = service_app(
        runtime=wiring.runtime,
        title=TITLE,
        version=VERSION,
        summary="Triage, clinician assignment, Istanbul Protocol findings, clinical peer review.",
        prepare=_prepare(wiring),
        router=ROUTERS,
        state={"review": review, "deadlines": deadlines},
        workers=[deadlines, wiring.provider],
    )
    answer_errors(app, ERRORS)
    if wiring.sign_in is not None:
        install_pages(
            app,
            service=SERVICE,
            title="Corroborate for clinical teams",
            sign_in=wiring.sign_in,
            urls=portal_urls(settings),
            home=home_sections(review),
        )
    return app


def create_asyncapi_app(settings: Settings | None = None) -> FastStream:
    """For ``faststream docs gen --factory review.bootstrap:create_asyncapi_app``."""
    wiring = build(settings or load_settings())
    return wiring.runtime.asyncapi_app(title=TITLE, version=VERSION)
