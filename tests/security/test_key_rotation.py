"""Rotating the master key: new data keys under the new key, old cases still readable, and
``corroborate keys rewrap`` moving every stored data key so the old key can be retired."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from pydantic import SecretStr
from pymongo import AsyncMongoClient
from typer.testing import CliRunner

from corroborate.access import service_settings
from corroborate.auth import Role
from corroborate.cli.main import app as cli
from corroborate.crypto import KeyRing
from corroborate.settings import Settings
from corroborate.walk.samples import minimal_pdf, sample_referral
from corroborate_testing import running
from intake.bootstrap import create_app as create_intake

pytestmark = pytest.mark.integration

Headers = dict[str, str]


def _key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


async def test_old_cases_stay_readable_and_rewrap_retires_the_old_key(
    settings: Settings, bearer: Callable[..., Headers], monkeypatch: pytest.MonkeyPatch
) -> None:
    old, new, blind = settings.master_key.get_secret_value(), _key(), _key()
    before = settings.model_copy(update={"blind_index_key": SecretStr(blind)})
    rotated = before.model_copy(
        update={"master_key": SecretStr(new), "previous_master_keys": SecretStr(old)}
    )
    retired = rotated.model_copy(update={"previous_master_keys": SecretStr("")})
    partner = bearer(Role.PARTNER, org=f"rotation-{uuid.uuid4().hex[:6]}", sub="solicitor-r")
    body = sample_referral("Rotation Person")
    body["immigration"]["home_office_reference"] = f"HO-ROT-{uuid.uuid4().hex[:6]}"

    async with running(create_intake(service_settings(before, "intake"))) as intake:
        old_case = (await intake.post("/referrals", json=body, headers=partner)).json()["case_id"]
        await intake.post(
            f"/referrals/{old_case}/documents",
            params={"kind": "other"},
            content=minimal_pdf("before the rotation"),
            headers=partner,
        )
        await intake.post(
            f"/referrals/{old_case}/withdraw", json={"reason": "A sealed note."}, headers=partner
        )

    async with running(create_intake(service_settings(rotated, "intake"))) as intake:
        seen = await intake.get(f"/referrals/{old_case}", headers=partner)
        assert seen.status_code == 200
        assert seen.json()["details"]["survivor"]["full_name"] == "Rotation Person"
        new_case = (await intake.post("/referrals", json=body, headers=partner)).json()["case_id"]
        found = await intake.get(
            "/referrals",
            params={"home_office_reference": body["immigration"]["home_office_reference"]},
            headers=partner,
        )
        assert {r["case_id"] for r in found.json()["items"]} == {old_case, new_case}

    await _rewrap_and_check(settings, monkeypatch, old, new, blind, old_case, new_case)

    async with running(create_intake(service_settings(retired, "intake"))) as intake:
        seen = await intake.get(f"/referrals/{old_case}", headers=partner)
        assert seen.status_code == 200
        assert seen.json()["timeline"][-1]["note"] == "A sealed note."
        (document,) = seen.json()["documents"]
        content = await intake.get(
            f"/referrals/{old_case}/documents/{document['document_id']}", headers=partner
        )
        assert content.status_code == 200
        assert b"before the rotation" in content.content


async def _rewrap_and_check(
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    old: str,
    new: str,
    blind: str,
    old_case: str,
    new_case: str,
) -> None:
    """Before: the old case under the old key, the new one under the new. After ``keys
    rewrap``: no trace of the old key in the old case, sealed notes included."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        settings.mongo_url.get_secret_value()
    )
    referrals = client[settings.database_name("intake")]["referrals"]
    try:
        old_id, new_id = KeyRing(old).key_id, KeyRing(new).key_id
        stored = await referrals.find_one({"_id": old_case})
        assert stored is not None
        assert stored["wrapped_key"]["key_id"] == old_id
        fresh = await referrals.find_one({"_id": new_case})
        assert fresh is not None
        assert fresh["wrapped_key"]["key_id"] == new_id

        monkeypatch.setenv("CORROBORATE_NAMESPACE", settings.namespace)
        monkeypatch.setenv("CORROBORATE_MASTER_KEY", new)
        monkeypatch.setenv("CORROBORATE_PREVIOUS_MASTER_KEYS", old)
        monkeypatch.setenv("CORROBORATE_BLIND_INDEX_KEY", blind)
        result = await asyncio.to_thread(
            CliRunner().invoke, cli, ["keys", "rewrap", "--service", "intake"]
        )
        assert result.exit_code == 0, result.output
        assert "now under the current key" in result.output

        stored = await referrals.find_one({"_id": old_case})
        assert stored is not None
        dumped = json.dumps(stored, default=str)
        assert old_id not in dumped  # not the case's key, not a sealed note's key
        assert stored["wrapped_key"]["key_id"] == new_id
    finally:
        await client.close()
