"""One referral, from the partner's submission to the partner's download of the issued report,
through the three services running as real processes against the real broker, database and
object storage."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aio_pika
import httpx
import pytest
from pymongo import AsyncMongoClient
from pypdf import PdfReader
from typer.testing import CliRunner

from corroborate.auth import Role
from corroborate.cli.demo import walk_skeleton
from corroborate.cli.main import app
from corroborate.settings import Settings
from corroborate.storage import minio_client
from corroborate.walk.samples import minimal_pdf
from corroborate_testing import SERVICES, BearerHeaders, Stack

pytestmark = pytest.mark.e2e

CANARY = "Zubeida Canary-Qorxoy"


@pytest.fixture
async def event_spy(
    settings: Settings,
) -> AsyncIterator[list[aio_pika.abc.AbstractIncomingMessage]]:
    """Every case event published while the test runs, in arrival order."""
    connection = await aio_pika.connect(settings.amqp_url.get_secret_value())
    channel = await connection.channel()
    exchange = await channel.declare_exchange(
        f"{settings.namespace}.case-events", aio_pika.ExchangeType.TOPIC, durable=True
    )
    queue = await channel.declare_queue(exclusive=True)
    await queue.bind(exchange, routing_key="#")
    seen: list[aio_pika.abc.AbstractIncomingMessage] = []

    async def collect(message: aio_pika.abc.AbstractIncomingMessage) -> None:
        seen.append(message)
        await message.ack()

    await queue.consume(collect)
    yield seen
    await connection.close()


async def test_referral_reaches_an_issued_report_the_partner_can_download(
    stack: Stack, event_spy: list[aio_pika.abc.AbstractIncomingMessage]
) -> None:
    document = minimal_pdf("Home Office refusal letter")

    result = await walk_skeleton(stack.settings, survivor_name=CANARY, document=document)

    # The partner's PDF is a real report about this case and this lesion.
    assert result.pdf.startswith(b"%PDF")
    pages = PdfReader(io.BytesIO(result.pdf)).pages
    text = " ".join(" ".join(page.extract_text() for page in pages).split())
    assert result.reference in text
    assert "Upper back" in text
    assert "highly consistent with" in text
    assert result.document_sha256 in text.replace(" ", "")
    assert f"Page 1 of {len(pages)}" in text
    assert CANARY in text  # the report itself names the survivor; nothing else may
    assert "Dr A. Clinician" in text  # the clinician by name, as their token gives it
    assert "clinical peer review: dr b. senior" in text.lower()  # the approving senior

    # The event trail: each event once, in order, the submission's correlation id throughout.
    await asyncio.sleep(1.0)
    events = [json.loads(m.body) for m in event_spy]
    trail = [e for e in events if e["case_id"] == str(result.case_id)]
    assert [e["type"] for e in trail] == [
        "referral.submitted",
        "referral.acknowledged",
        "referral.accepted",
        "case.assigned",
        "appointment.booked",
        "review.completed",
        "report.issued",
    ]
    assert len({e["event_id"] for e in trail}) == len(trail)
    assert {e["correlation_id"] for e in trail} == {str(result.correlation_id)}
    assert all(m.delivery_mode == aio_pika.DeliveryMode.PERSISTENT for m in event_spy)

    # The survivor's name never crosses the bus in clear.
    assert all(CANARY.encode() not in m.body for m in event_spy)
    issued = trail[-1]["payload"]
    assert issued["sha256"] == result.report_sha256


async def test_no_service_logs_the_survivors_name(
    stack: Stack, event_spy: list[aio_pika.abc.AbstractIncomingMessage]
) -> None:
    await walk_skeleton(stack.settings, survivor_name=CANARY, document=minimal_pdf("statement"))
    await asyncio.sleep(0.5)
    for service, log in stack.logs.items():
        lines = log.read_text(encoding="utf-8").splitlines()
        assert lines, f"{service} logged nothing"
        assert not [line for line in lines if CANARY in line], f"{service} logged the name"
        # Every line is one JSON object naming its service.
        records = [json.loads(line) for line in lines]
        assert {record.get("service") for record in records} == {service}
        # One line per request and per event handled, with what an operator needs to follow it.
        requests = [r for r in records if r["message"] == "request"]
        assert requests
        assert all({"correlation_id", "route", "status", "outcome"} <= r.keys() for r in requests)
        handled = [json.loads(line) for line in lines if '"event handled"' in line]
        assert handled, f"{service} logged no handled event"
        for line in handled:
            assert {"correlation_id", "case_id", "event_type", "outcome"} <= line.keys()


async def test_another_organisation_cannot_see_the_referral(
    stack: Stack, bearer: BearerHeaders
) -> None:
    result = await walk_skeleton(
        stack.settings, survivor_name="Another Person", document=minimal_pdf("x")
    )
    async with httpx.AsyncClient(timeout=10) as http:
        other = bearer(Role.PARTNER, org="some-other-organisation")
        seen = await http.get(
            f"{stack.settings.intake_url}/referrals/{result.case_id}", headers=other
        )
        link = await http.post(
            f"{stack.settings.reporting_url}/cases/{result.case_id}/report/link", headers=other
        )
    assert seen.status_code == 404
    assert link.status_code == 404


def test_the_demo_command_walks_the_path_and_writes_the_report(
    stack: Stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for service in SERVICES:
        monkeypatch.setenv(
            f"CORROBORATE_{service.upper()}_URL", getattr(stack.settings, f"{service}_url")
        )
    monkeypatch.setenv("CORROBORATE_NAMESPACE", stack.settings.namespace)
    out = tmp_path / "report.pdf"

    result = CliRunner().invoke(app, ["demo", "--survivor-name", "Demo Person", "--out", str(out)])

    assert result.exit_code == 0, result.output
    pdf = out.read_bytes()
    assert pdf.startswith(b"%PDF")
    printed = dict(
        line.split(": ", 1)
        for line in result.output.splitlines()
        if line.startswith(("sha256", "object key"))
    )
    assert printed["sha256"] == hashlib.sha256(pdf).hexdigest()
    assert printed["object key"].startswith(f"reports-{stack.settings.namespace}/cases/")


def test_stats_export_writes_the_analysts_table(
    stack: Stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CORROBORATE_REPORTING_URL", stack.settings.reporting_url)
    out = tmp_path / "by-origin.csv"
    asyncio.run(
        walk_skeleton(stack.settings, survivor_name="Stats Person", document=minimal_pdf("x"))
    )

    result = CliRunner().invoke(
        app, ["stats", "export", "--by", "origin", "--format", "csv", "--out", str(out)]
    )

    assert result.exit_code == 0, result.output
    rows = [row.split(",") for row in out.read_text().splitlines()]
    assert rows[0] == ["origin", "count"]
    counts = dict(rows[1:])
    assert "ER" in counts  # the survivors walked through came from Eritrea
    for count in counts.values():  # hidden when small; otherwise rounded, never below five
        assert count == "suppressed" or (int(count) >= 5 and int(count) % 5 == 0)


async def test_the_canaries_appear_nowhere_in_clear(
    stack: Stack, event_spy: list[aio_pika.abc.AbstractIncomingMessage]
) -> None:
    """A survivor's name, Home Office reference and a document's words go through the whole
    workflow; then every raw collection, every stored object, every message on the bus and
    every service's log is searched for them."""
    name, text = "Tesfay Canary-Whole-Path", "CANARY-DOCUMENT-WORDS-7731"
    reference = "HO-DEMO-0001"  # what the sample referral gives
    await walk_skeleton(stack.settings, survivor_name=name, document=minimal_pdf(text))
    await asyncio.sleep(0.5)
    canaries = [name.encode(), reference.encode(), text.encode()]
    settings = stack.settings

    found: list[str] = []
    for message in event_spy:
        found += [f"bus {message.routing_key}" for c in canaries if c in message.body]
    for service, log in stack.logs.items():
        raw = log.read_bytes()
        found += [f"log {service}" for c in canaries if c in raw]
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        settings.mongo_url.get_secret_value()
    )
    try:
        prefix = settings.database_name("")
        for database in await client.list_database_names():
            if not database.startswith(prefix):
                continue
            for collection in await client[database].list_collection_names():
                async for document in client[database][collection].find({}):
                    dumped = json.dumps(document, default=str).encode()
                    found += [f"mongo {database}.{collection}" for c in canaries if c in dumped]
    finally:
        await client.close()

    def objects() -> list[str]:
        s3 = minio_client(settings)
        hits = []
        for bucket in s3.list_buckets():
            if not bucket.name.endswith(f"-{settings.namespace}"):
                continue
            for item in s3.list_objects(
                bucket_name=bucket.name, recursive=True, include_version=True
            ):
                response = s3.get_object(
                    bucket_name=bucket.name,
                    object_name=item.object_name or "",
                    version_id=item.version_id,
                )
                try:
                    body = response.read()
                finally:
                    response.close()
                    response.release_conn()
                hits += [f"s3 {bucket.name}/{item.object_name}" for c in canaries if c in body]
        return hits

    found += await asyncio.to_thread(objects)
    assert found == [], found
