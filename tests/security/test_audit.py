"""The tamper-evident audit log: every sensitive act recorded, and any alteration or deletion
named by ``corroborate audit verify``."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from pymongo import AsyncMongoClient
from typer.testing import CliRunner

from corroborate.access import service_settings
from corroborate.audit import COLLECTION, Actor, AuditLog, record_hash, verify
from corroborate.auth import Role
from corroborate.cli.main import app as cli
from corroborate.settings import Settings
from corroborate.walk.samples import minimal_pdf, sample_referral
from corroborate_testing import running
from intake.bootstrap import create_app as create_intake

pytestmark = pytest.mark.integration

Headers = dict[str, str]
CANARY = "Audit Canary-Name"


@pytest.fixture
async def database(settings: Settings) -> AsyncIterator[Any]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        settings.mongo_url.get_secret_value(), tz_aware=True
    )
    try:
        yield client
    finally:
        await client.close()


async def test_concurrent_appends_make_one_unbroken_chain(
    database: Any, settings: Settings
) -> None:
    log = AuditLog(database[f"{settings.namespace}_audit_test"][COLLECTION], service="test")
    await log.ensure_indexes()
    seqs = await asyncio.gather(
        *(log.record("thing.done", actor=Actor(f"user-{i}", "admin")) for i in range(20))
    )
    assert sorted(seqs) == list(range(1, 21))
    chain = await log.chain()
    assert [r["seq"] for r in chain] == list(range(1, 21))
    assert verify(chain) is None
    await database.drop_database(f"{settings.namespace}_audit_test")


def test_the_verifier_names_an_altered_and_a_missing_record() -> None:
    chain: list[dict[str, Any]] = []
    previous = "0" * 64
    for seq in range(1, 5):
        record: dict[str, Any] = {"seq": seq, "action": "a", "prev_hash": previous}
        record["hash"] = record_hash(record)
        chain.append(record)
        previous = record["hash"]
    assert verify(chain) is None

    altered = [dict(r) for r in chain]
    altered[1]["action"] = "something else"
    broken = verify(altered)
    assert broken is not None
    assert (broken.seq, broken.reason) == (2, "its content does not match its hash (altered)")

    rehashed = [dict(r) for r in altered]  # an attacker rehashes the altered record...
    rehashed[1]["hash"] = record_hash(rehashed[1])
    broken = verify(rehashed)
    assert broken is not None
    assert broken.seq == 3  # ...and the next record no longer links to it

    missing = [chain[0], chain[2], chain[3]]
    broken = verify(missing)
    assert broken is not None
    assert (broken.seq, broken.reason) == (2, "record 2 is missing (next is 3)")


async def test_reads_downloads_and_changes_are_audited_and_tampering_is_caught(
    settings: Settings,
    bearer: Callable[..., Headers],
    database: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    partner = bearer(Role.PARTNER, org=f"audit-{uuid.uuid4().hex[:6]}", sub="solicitor-audit")
    async with running(create_intake(service_settings(settings, "intake"))) as intake:
        case_id = (
            await intake.post("/referrals", json=sample_referral(CANARY), headers=partner)
        ).json()["case_id"]
        document = (
            await intake.post(
                f"/referrals/{case_id}/documents",
                params={"kind": "other"},
                content=minimal_pdf("x"),
                headers=partner,
            )
        ).json()
        await intake.get(f"/referrals/{case_id}", headers=partner)
        await intake.get(
            f"/referrals/{case_id}/documents/{document['document_id']}", headers=partner
        )
        await intake.post(f"/referrals/{case_id}/submit", headers=partner)

    log = database[settings.database_name("intake")][COLLECTION]
    mine = [r async for r in log.find({"case_id": case_id}).sort("seq", 1)]
    actions = [r["action"] for r in mine]
    for expected in (
        "referral.created",
        "document.received",
        "identity.read",
        "document.downloaded",
        "referral.submitted",
    ):
        assert expected in actions
    assert all(r["actor"] == "solicitor-audit" for r in mine)
    assert CANARY not in str([r async for r in log.find({})])

    monkeypatch.setenv("CORROBORATE_NAMESPACE", settings.namespace)

    def verify_command() -> Any:
        return CliRunner().invoke(cli, ["audit", "verify", "--service", "intake"])

    intact = await asyncio.to_thread(verify_command)
    assert intact.exit_code == 0, intact.output
    assert "chain intact" in intact.output

    read = next(r for r in mine if r["action"] == "identity.read")
    await log.update_one({"seq": read["seq"]}, {"$set": {"actor": "someone-else"}})
    altered = await asyncio.to_thread(verify_command)
    assert altered.exit_code == 1
    assert f"broken at record {read['seq']}: its content does not match its hash" in altered.output

    await log.update_one({"seq": read["seq"]}, {"$set": {"actor": read["actor"]}})
    downloaded = next(r for r in mine if r["action"] == "document.downloaded")
    await log.delete_one({"seq": downloaded["seq"]})
    deleted = await asyncio.to_thread(verify_command)
    assert deleted.exit_code == 1
    assert f"broken at record {downloaded['seq']}: record {downloaded['seq']} is missing" in (
        deleted.output
    )
