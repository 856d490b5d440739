"""Review's composition root: builds the clients, wires the use cases, serves HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from corroborate.http import health_router, install_common
from corroborate.logging import configure_logging
from corroborate.runtime import ServiceRuntime
from corroborate.settings import Settings, load_settings
from review.adapters.repository import COLLECTION, CaseRepository
from review.entrypoints.events import event_handlers
from review.entrypoints.http import build_router
from review.service import Review, ReviewPolicy

SERVICE = "review"
PHOTOGRAPHS = "review-photographs"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or load_settings()
    configure_logging(service=SERVICE, level=settings.log_level)
    runtime = ServiceRuntime(
        service=SERVICE,
        settings=settings,
        buckets=(settings.bucket_name(PHOTOGRAPHS),),
        outbox_collections=(COLLECTION,),
    )
    review = Review(
        cases=CaseRepository(runtime.collection(COLLECTION), on_events=runtime.relay.notify),
        policy=ReviewPolicy(),
    )
    runtime.subscribe(event_handlers(review))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await review.prepare()
        await runtime.start()
        try:
            yield
        finally:
            await runtime.stop()

    app = FastAPI(
        title="Corroborate review",
        version="0.1.0",
        summary="Triage, clinician assignment, Istanbul Protocol findings.",
        lifespan=lifespan,
    )
    app.state.token_verifier = runtime.verifier
    app.state.review = review
    app.state.runtime = runtime
    install_common(app)
    app.include_router(health_router(runtime.readiness_checks))
    app.include_router(build_router())
    return app
