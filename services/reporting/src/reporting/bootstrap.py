"""Reporting's composition root: builds the clients, wires the use cases, serves HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import FastAPI

from corroborate.http import health_router, install_common
from corroborate.logging import configure_logging
from corroborate.runtime import ServiceRuntime
from corroborate.settings import Settings, load_settings
from reporting.adapters.repository import COLLECTION, LegalReviewRepository
from reporting.domain.links import DownloadLinks
from reporting.entrypoints.events import event_handlers
from reporting.entrypoints.http import build_router
from reporting.service import Reporting

SERVICE = "reporting"
REPORTS = "reports"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or load_settings()
    configure_logging(service=SERVICE, level=settings.log_level)
    link_secret = settings.report_link_secret.get_secret_value()
    if not link_secret:
        raise RuntimeError("set CORROBORATE_REPORT_LINK_SECRET")
    runtime = ServiceRuntime(
        service=SERVICE,
        settings=settings,
        buckets=(settings.bucket_name(REPORTS),),
        outbox_collections=(COLLECTION,),
    )
    reporting = Reporting(
        reviews=LegalReviewRepository(
            runtime.collection(COLLECTION), on_events=runtime.relay.notify
        ),
        keyring=runtime.keyring,
        store=runtime.store,
        reports_bucket=settings.bucket_name(REPORTS),
        links=DownloadLinks(
            secret=link_secret.encode(), ttl=timedelta(seconds=settings.report_link_ttl_seconds)
        ),
    )
    runtime.subscribe(event_handlers(reporting))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await reporting.prepare()
        await runtime.start()
        try:
            yield
        finally:
            await runtime.stop()

    app = FastAPI(
        title="Corroborate reporting",
        version="0.1.0",
        summary="Legal sign-off, the medico-legal report, and its download.",
        lifespan=lifespan,
    )
    app.state.token_verifier = runtime.verifier
    app.state.reporting = reporting
    app.state.runtime = runtime
    install_common(app)
    app.include_router(health_router(runtime.readiness_checks))
    app.include_router(build_router(public_url=settings.reporting_url))
    return app
