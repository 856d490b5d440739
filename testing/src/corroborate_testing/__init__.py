"""Helpers for tests against the real servers: run services in-process or as processes,
walk referrals with them, clean up after. Installed for tests only."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi import FastAPI

from corroborate.access import SERVICES as ACCESS_SERVICES
from corroborate.access import load_access, service_environment
from corroborate.clock import utc_now
from corroborate.crypto import KeyRing
from corroborate.events.contracts import (
    CASE_EVENTS,
    ProtectedDetails,
    ReferralSubmitted,
    RiskFlag,
    ServiceRequested,
    seal_details,
)
from corroborate.events.envelope import EventEnvelope, new_event
from corroborate.settings import Settings
from corroborate.walk.calls import DirectHttp, Pace
from corroborate.walk.steps import Services

# Re-exported: the clean-up and namespace helpers the fixtures use.
from corroborate_testing.leftovers import remove_buckets as remove_buckets
from corroborate_testing.leftovers import remove_namespace as remove_namespace
from corroborate_testing.leftovers import sweep_dead_runs as sweep_dead_runs
from corroborate_testing.namespaces import new_namespace as new_namespace

BearerHeaders = Callable[..., dict[str, str]]
"""The ``bearer`` fixture: ``bearer(Role.PARTNER, org="a")`` gives Authorization headers."""

TEST_PACE = Pace(within=20.0, every=0.1)
"""How long a walk in a test waits for something to appear, and how often it looks."""


def in_process(clients: dict[str, httpx.AsyncClient]) -> Services:
    """The three services as a walk calls them, from the clients ``running`` gives."""
    return Services(
        intake=DirectHttp(clients["intake"]),
        review=DirectHttp(clients["review"]),
        reporting=DirectHttp(clients["reporting"]),
    )


async def eventually(
    probe: Callable[[], Awaitable[Any]], *, within: float = 20.0, what: str = "condition"
) -> Any:
    """Poll until ``probe`` returns something truthy; fail the test after ``within`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        result = await probe()
        if result:
            return result
        if loop.time() > deadline:
            pytest.fail(f"{what}: not seen within {within:.0f}s")
        await asyncio.sleep(0.1)


def referral_submitted(
    *,
    keyring: KeyRing,
    protected: ProtectedDetails,
    case_id: uuid.UUID | None = None,
    reference: str = "CRB-2026-ABC123",
    organisation: str = "solicitors-a",
    service: ServiceRequested = ServiceRequested.FULL_REPORT,
    risk_flags: Sequence[RiskFlag] = (),
    producer: str = "intake",
    submitted_at: datetime | None = None,
    **facts: Any,
) -> EventEnvelope:
    """A ``referral.submitted`` as intake sends it, the details sealed with a fresh case key;
    ``facts`` replace payload fields (countries, consent, allegations...)."""
    case_id = case_id or uuid.uuid4()
    payload = ReferralSubmitted(
        reference=reference,
        organisation=organisation,
        service_requested=service,
        protected=seal_details(protected, case_id=case_id, key=keyring.new_data_key()),
        country_of_origin="ER",
        countries_of_ill_treatment=["ER", "LY"],
        risk_flags=list(risk_flags),
        consent_to_anonymised_use=True,
        documents=[],
        submitted_at=submitted_at or utc_now(),
    )
    payload = payload.model_copy(update=facts)  # e.g. allegations=, gender=, age_band=
    return new_event(
        payload=payload,
        case_id=case_id,
        producer=producer,
        correlation_id=uuid.uuid4(),
        registry=CASE_EVENTS,
    )


@asynccontextmanager
async def running(
    app: FastAPI, *, base_url: str = "http://testserver", stop_within: float = 60.0
) -> AsyncIterator[httpx.AsyncClient]:
    """Start an app's lifespan (database, broker, relay) and give an HTTP client for it.

    Stopping must finish within ``stop_within`` seconds; if not, every task's stack is printed
    and the test fails, rather than the run hanging.
    """
    lifespan = app.router.lifespan_context(app)
    await lifespan.__aenter__()
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=base_url) as client:
            yield client
    finally:
        stopping = asyncio.ensure_future(lifespan.__aexit__(None, None, None))
        done, _ = await asyncio.wait({stopping}, timeout=stop_within)
        if not done:
            for task in asyncio.all_tasks():
                task.print_stack()
            raise TimeoutError(f"the app did not stop within {stop_within:.0f}s")
        stopping.result()


class TcpProxy:
    """A loopback TCP proxy a test can cut, to simulate a broker or database outage."""

    def __init__(self, *, target_host: str, target_port: int) -> None:
        self._target = (target_host, target_port)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._open = True
        self._flowing = asyncio.Event()
        self._flowing.set()
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self._open:
            writer.close()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self._target)
        except OSError:
            writer.close()
            return
        self._writers |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with suppress(Exception):
                while data := await src.read(65536):
                    await self._flowing.wait()
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._writers -= {writer, up_writer}

    def cut(self) -> None:
        """Drop every connection and refuse new ones until ``resume``."""
        self._open = False
        self._flowing.set()  # frozen pipes wake up and find their connection gone
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    def freeze(self) -> None:
        """Keep every connection open but pass nothing on, as a peer that stops answering."""
        self._flowing.clear()

    def resume(self) -> None:
        self._open = True
        self._flowing.set()

    async def stop(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed


@dataclass
class Receiver:
    """A partner's endpoint on loopback: records every POST, and can refuse or stall the first."""

    fail_first: int = 0
    failure_status: int = 503
    stall_seconds: float = 0.0
    requests: list[Received] = field(default_factory=list)
    port: int = 0
    _server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        # The query string stands for a token some partners put in their URLs: never logged.
        return f"http://127.0.0.1:{self.port}/hooks/corroborate?token=query-token-xyz"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
            _method, path, _version = head[0].split(" ", 2)
            headers = {
                name.strip().lower(): value.strip()
                for name, value in (line.split(":", 1) for line in head[1:] if line)
            }
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            self.requests.append(Received(path=path, headers=headers, body=body))
            refused = len(self.requests) <= self.fail_first
            if self.stall_seconds:
                await asyncio.sleep(self.stall_seconds)
            status = self.failure_status if refused else 200
            writer.write(
                f"HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".encode()
            )
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


SERVICES = ACCESS_SERVICES


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Stack:
    """The three services running as processes: settings that point at them, and their logs."""

    settings: Settings
    logs: dict[str, Path]


@contextmanager
def services_running(
    settings: Settings, logs_dir: Path, *, configured_ports: bool = False
) -> Iterator[Stack]:
    """The three services as uvicorn processes on free loopback ports (or, with
    ``configured_ports``, on those of the settings' service URLs, which the identity provider
    knows as redirect URIs), as `make up` runs them; stopped (terminated, then killed if need
    be) on the way out."""
    ports = {
        service: (
            int(urlsplit(getattr(settings, f"{service}_url")).port or 80)
            if configured_ports
            else _free_port()
        )
        for service in SERVICES
    }
    urls = {service: f"http://127.0.0.1:{port}" for service, port in ports.items()}
    configured = settings.model_copy(
        update={f"{service}_url": url for service, url in urls.items()}
    )
    env = {
        **os.environ,
        "CORROBORATE_NAMESPACE": settings.namespace,
        **{f"CORROBORATE_{service.upper()}_URL": url for service, url in urls.items()},
    }
    access = load_access(settings)
    processes: dict[str, subprocess.Popen[bytes]] = {}
    logs = {service: logs_dir / f"{service}.log" for service in SERVICES}
    try:
        for service in SERVICES:
            with logs[service].open("wb") as log:
                processes[service] = subprocess.Popen(  # noqa: S603 - our own services
                    [
                        sys.executable,
                        "-m",
                        "uvicorn",
                        "--factory",
                        f"{service}.bootstrap:create_app",
                        "--host",
                        "127.0.0.1",
                        "--port",
                        str(ports[service]),
                        "--no-access-log",
                    ],
                    env={**env, **service_environment(settings, service, access)},
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
        deadline = time.monotonic() + 60
        for service in SERVICES:
            while True:
                if processes[service].poll() is not None:
                    pytest.fail(f"{service} exited:\n{logs[service].read_text()}")
                try:
                    if httpx.get(f"{urls[service]}/readyz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    pytest.fail(f"{service} not ready:\n{logs[service].read_text()}")
                time.sleep(0.3)
        yield Stack(settings=configured, logs=logs)
    finally:
        for process in processes.values():
            process.terminate()
        for process in processes.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
