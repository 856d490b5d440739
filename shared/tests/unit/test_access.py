"""The services' own credentials and the limits written for each server (no server needed)."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

from pydantic import SecretStr

from corroborate.access import (
    BUCKETS,
    SERVICES,
    Access,
    rabbitmq_definitions,
    rabbitmq_permission,
    s3_identities,
    s3_policy,
    service_environment,
    service_settings,
)
from corroborate.settings import Settings


def _settings(tmp_path: Path) -> Settings:
    return Settings(
        _env_file=None,
        namespace="ns1",
        amqp_url=SecretStr("amqp://operator:op@127.0.0.1:5672/"),
        mongo_url=SecretStr(
            "mongodb://operator:op@127.0.0.1:27017/?directConnection=true&authSource=admin"
        ),
        s3_access_key=SecretStr("operator-key"),
        s3_secret_key=SecretStr("operator-secret"),
        access_file=tmp_path / "access.json",
    )


def test_credentials_are_saved_for_the_owner_only_and_read_back(tmp_path: Path) -> None:
    access = Access.generate()
    access.save(tmp_path / "access.json")
    assert (tmp_path / "access.json").stat().st_mode & 0o777 == 0o600
    assert Access.load(tmp_path / "access.json") == access
    users = {c.user for c in access.services.values()}
    keys = {c.s3_access_key for c in access.services.values()}
    assert len(users) == len(keys) == len(SERVICES)


def test_a_service_gets_its_own_credentials_and_none_of_the_operators(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    access = Access.generate()
    for service in SERVICES:
        own = access.services[service]
        env = service_environment(settings, service, access)
        assert env["CORROBORATE_AMQP_URL"] == (
            f"amqp://{own.user}:{own.amqp_password}@127.0.0.1:5672/"
        )
        assert env["CORROBORATE_MONGO_URL"] == (
            f"mongodb://{own.user}:{own.mongo_password}@127.0.0.1:27017/"
            "?directConnection=true&authSource=admin"
        )
        assert env["CORROBORATE_S3_ACCESS_KEY"] == own.s3_access_key
        assert not any("operator" in value or "op@" in value for value in env.values())
        assert service_settings(settings, service, access).namespace == "ns1"


def test_broker_permissions_cover_own_queues_and_the_shared_exchanges_only() -> None:
    allowed = re.compile(rabbitmq_permission("intake"))
    for name in (
        "ns1.intake.referral.acknowledged",
        "ns1.intake.parking",
        "ns1.case-events",
        "ns1.dead-letter",
        "t0a1b2c3.intake.report.issued",
    ):
        assert allowed.match(name), name
    for name in (
        "ns1.review.referral.submitted",
        "ns1.reporting.parking",
        "ns1.other-exchange",
        "amq.default",
        "ns1.intakeX.parking",
        "intake.parking",
    ):
        assert not allowed.match(name), name


def test_broker_definitions_hash_each_password_as_rabbitmq_does(tmp_path: Path) -> None:
    access = Access.generate()
    definitions = rabbitmq_definitions(access, _settings(tmp_path))
    for user in definitions["users"]:
        own = next(c for c in access.services.values() if c.user == user["name"])
        raw = base64.b64decode(user["password_hash"])
        salt, digest = raw[:4], raw[4:]
        assert digest == hashlib.sha256(salt + own.amqp_password.encode()).digest()
        assert own.amqp_password not in str(definitions)
    assert {p["vhost"] for p in definitions["permissions"]} == {"/"}


def test_storage_identities_and_policies_name_only_the_services_own_bucket(
    tmp_path: Path,
) -> None:
    settings = _settings(tmp_path)
    identities = s3_identities(Access.generate(), settings)["identities"]
    assert identities[0]["actions"] == ["Admin", "Read", "Write", "List", "Tagging"]
    for identity, service in zip(identities[1:], SERVICES, strict=True):
        prefix = f"{BUCKETS[service].purpose}-"
        assert all(a.endswith(f":{prefix}*") for a in identity["actions"])
        assert not any(a.startswith("Admin") for a in identity["actions"])
    for service in SERVICES:
        policy = s3_policy(settings, service)
        resources = {r for s in policy["Statement"] for r in s["Resource"]}
        bucket = f"arn:aws:s3:::{BUCKETS[service].purpose}-ns1"
        assert resources == {bucket, f"{bucket}/*"}
        actions = {a for s in policy["Statement"] for a in s["Action"]}
        assert "s3:BypassGovernanceRetention" not in actions
        assert "s3:CreateBucket" not in actions
        assert not any("*" in a for a in actions)
