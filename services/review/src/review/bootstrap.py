"""Review's composition root: builds the clients, wires the use cases, serves HTTP."""

from __future__ import annotations

from fastapi import FastAPI
from faststream import FastStream

from corroborate.http import answer_errors
from corroborate.logging import configure_logging
from corroborate.runtime import ServiceRuntime, service_app
from corroborate.settings import Settings, load_settings
from review.adapters.repository import COLLECTION, MongoCaseRepository
from review.adapters.roster import COLLECTION as CLINICIANS
from review.adapters.roster import MongoRoster
from review.entrypoints.api.errors import ERRORS
from review.entrypoints.api.routes import ROUTERS
from review.entrypoints.events import event_handlers
from review.entrypoints.loops import DeadlineWatch
from review.service import PUBLISHES, Review, ReviewPolicy

SERVICE = "review"
TITLE = "Corroborate review"
VERSION = "0.1.0"
PHOTOGRAPHS = "review-photographs"


def build(settings: Settings) -> tuple[ServiceRuntime, Review]:
    """Wire review's use cases to its infrastructure; nothing connects yet."""
    runtime = ServiceRuntime(
        service=SERVICE,
        settings=settings,
        buckets=(settings.bucket_name(PHOTOGRAPHS),),
        outbox_collections=(COLLECTION,),
    )
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
    )
    runtime.subscribe(event_handlers(review))
    runtime.publishes(*PUBLISHES)
    return runtime, review


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or load_settings()
    configure_logging(service=SERVICE, level=settings.log_level)
    runtime, review = build(settings)
    deadlines = DeadlineWatch(review.escalate_due, poll_seconds=settings.deadline_poll_seconds)
    app = service_app(
        runtime=runtime,
        title=TITLE,
        version=VERSION,
        summary="Triage, clinician assignment, Istanbul Protocol findings, clinical peer review.",
        prepare=review.prepare,
        router=ROUTERS,
        state={"review": review, "deadlines": deadlines},
        workers=[deadlines],
    )
    answer_errors(app, ERRORS)
    return app


def create_asyncapi_app(settings: Settings | None = None) -> FastStream:
    """For ``faststream docs gen --factory review.bootstrap:create_asyncapi_app``."""
    runtime, _ = build(settings or load_settings())
    return runtime.asyncapi_app(title=TITLE, version=VERSION)
