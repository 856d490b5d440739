"""Least privilege: each service reaches the broker, its database and its bucket with
credentials of its own, limited to what it owns.

- RabbitMQ: a user per service, allowed to declare, bind, read and write only its own queues
  (``<ns>.<service>.*``) and the two exchanges every service uses (``<ns>.case-events`` and
  ``<ns>.dead-letter``), in any namespace of the deployment.
- MongoDB: a user per service holding ``readWrite`` on that service's database of each
  namespace it was granted (``<ns>_<service>``) and nothing else.
- S3: an access key per service that may read, write, list, tag and lock objects in its own
  bucket (``<purpose>-<ns>``) and nothing in the others; buckets are created when a namespace
  is granted, by the operator's credentials, never by a service.

The operator's (administrator's) credentials stay in the deployment's settings; the services'
own are kept in an access file (``CORROBORATE_ACCESS_FILE``, JSON, readable by its owner only)
and handed to each service process in its environment by ``corroborate access env``.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import secrets
import urllib.parse
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from pymongo.errors import OperationFailure

from corroborate.settings import Settings

SERVICES = ("intake", "review", "reporting")


@dataclass(frozen=True)
class OwnedBucket:
    purpose: str
    object_lock: bool


# Each service owns one bucket; object lock can only be chosen when a bucket is created.
BUCKETS = {
    "intake": OwnedBucket("intake-documents", object_lock=True),
    "review": OwnedBucket("review-photographs", object_lock=False),
    "reporting": OwnedBucket("reports", object_lock=True),
}

# What a service may do in its own bucket (SeaweedFS identity actions).
_S3_ACTIONS = ("Read", "Write", "List", "Tagging", "GetObjectRetention", "PutObjectRetention")


@dataclass(frozen=True)
class ServiceCredentials:
    user: str
    amqp_password: str
    mongo_password: str
    s3_access_key: str
    s3_secret_key: str


@dataclass(frozen=True)
class Access:
    """The services' own credentials for one deployment (a local stack, say)."""

    deployment: str
    services: dict[str, ServiceCredentials]

    @classmethod
    def generate(cls) -> Access:
        deployment = secrets.token_hex(3)
        return cls(
            deployment=deployment,
            services={
                service: ServiceCredentials(
                    user=f"corroborate-{service}-{deployment}",
                    amqp_password=secrets.token_urlsafe(24),
                    mongo_password=secrets.token_urlsafe(24),
                    s3_access_key=f"{service}-{secrets.token_hex(8)}",
                    s3_secret_key=secrets.token_urlsafe(30),
                )
                for service in SERVICES
            },
        )

    @classmethod
    def load(cls, path: Path) -> Access:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return cls(
            deployment=raw["deployment"],
            services={name: ServiceCredentials(**c) for name, c in raw["services"].items()},
        )

    def save(self, path: Path) -> None:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(
                {
                    "deployment": self.deployment,
                    "services": {k: asdict(v) for k, v in self.services.items()},
                },
                handle,
                indent=2,
            )


def load_access(settings: Settings) -> Access:
    if settings.access_file is None:
        raise RuntimeError("CORROBORATE_ACCESS_FILE is not set: no service credentials")
    return Access.load(settings.access_file)


# RabbitMQ ------------------------------------------------------------------------------------

_NAMESPACE = r"[a-z][a-z0-9-]*"


def rabbitmq_permission(service: str) -> str:
    """The names a service may configure, write and read: its own queues, the shared exchanges."""
    return rf"^{_NAMESPACE}\.({service}\..+|case-events|dead-letter)$"


def _rabbitmq_password_hash(password: str) -> str:
    """RabbitMQ's rabbit_password_hashing_sha256: a 4-byte salt, then SHA-256(salt + password)."""
    salt = os.urandom(4)
    return base64.b64encode(salt + hashlib.sha256(salt + password.encode()).digest()).decode()


def rabbitmq_definitions(access: Access, settings: Settings) -> dict[str, Any]:
    """Users and permissions in the broker's definitions format (``rabbitmqctl
    import_definitions``), which adds or updates them and leaves everything else alone."""
    vhost = _amqp_vhost(settings)
    return {
        "users": [
            {
                "name": c.user,
                "password_hash": _rabbitmq_password_hash(c.amqp_password),
                "hashing_algorithm": "rabbit_password_hashing_sha256",
                "tags": [],
            }
            for c in access.services.values()
        ],
        "permissions": [
            {
                "user": c.user,
                "vhost": vhost,
                "configure": rabbitmq_permission(service),
                "write": rabbitmq_permission(service),
                "read": rabbitmq_permission(service),
            }
            for service, c in access.services.items()
        ],
    }


def _amqp_vhost(settings: Settings) -> str:
    path = urllib.parse.urlsplit(settings.amqp_url.get_secret_value()).path
    return urllib.parse.unquote(path[1:]) if len(path) > 1 else "/"


# S3 ------------------------------------------------------------------------------------------


def s3_identities(access: Access, settings: Settings) -> dict[str, Any]:
    """SeaweedFS's identities: the operator's, and one per service limited to its bucket in
    every namespace (bucket names start with the purpose)."""
    identities: list[dict[str, Any]] = [
        {
            "name": "operator",
            "credentials": [
                {
                    "accessKey": settings.s3_access_key.get_secret_value(),
                    "secretKey": settings.s3_secret_key.get_secret_value(),
                }
            ],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
        }
    ]
    for service, c in access.services.items():
        prefix = f"{BUCKETS[service].purpose}-"
        identities.append(
            {
                "name": c.user,
                "credentials": [{"accessKey": c.s3_access_key, "secretKey": c.s3_secret_key}],
                "actions": [f"{action}:{prefix}*" for action in _S3_ACTIONS],
            }
        )
    return {"identities": identities}


def s3_policy(settings: Settings, service: str) -> dict[str, Any]:
    """The same limits as an S3 identity policy (AWS IAM syntax, also read by MinIO and Ceph)
    for a deployment whose store is not SeaweedFS: the service's own bucket in the settings'
    namespace, no bucket creation, no lifting of object locks."""
    arn = f"arn:aws:s3:::{settings.bucket_name(BUCKETS[service].purpose)}"
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "OwnBucket",
                "Effect": "Allow",
                "Action": [
                    "s3:GetBucketLocation",
                    "s3:ListBucket",
                    "s3:ListBucketVersions",
                    "s3:GetBucketVersioning",
                    "s3:PutBucketVersioning",
                    "s3:GetBucketObjectLockConfiguration",
                ],
                "Resource": [arn],
            },
            {
                "Sid": "OwnObjects",
                "Effect": "Allow",
                "Action": [
                    "s3:GetObject",
                    "s3:GetObjectVersion",
                    "s3:PutObject",
                    "s3:DeleteObject",
                    "s3:DeleteObjectVersion",
                    "s3:AbortMultipartUpload",
                    "s3:ListMultipartUploadParts",
                    "s3:GetObjectRetention",
                    "s3:PutObjectRetention",
                ],
                "Resource": [f"{arn}/*"],
            },
        ],
    }


# Per service ---------------------------------------------------------------------------------


def service_settings(settings: Settings, service: str, access: Access | None = None) -> Settings:
    """The operator's settings with the broker, database and storage credentials swapped for
    the service's own."""
    own = (access or load_access(settings)).services[service]
    return settings.model_copy(
        update={
            "amqp_url": SecretStr(
                with_credentials(settings.amqp_url.get_secret_value(), own.user, own.amqp_password)
            ),
            "mongo_url": SecretStr(
                with_credentials(
                    settings.mongo_url.get_secret_value(),
                    own.user,
                    own.mongo_password,
                    query={"authSource": "admin"},
                )
            ),
            "s3_access_key": SecretStr(own.s3_access_key),
            "s3_secret_key": SecretStr(own.s3_secret_key),
        }
    )


def service_environment(
    settings: Settings, service: str, access: Access | None = None
) -> dict[str, str]:
    """The environment variables that give a service process its own credentials."""
    own = service_settings(settings, service, access)
    return {
        "CORROBORATE_AMQP_URL": own.amqp_url.get_secret_value(),
        "CORROBORATE_MONGO_URL": own.mongo_url.get_secret_value(),
        "CORROBORATE_S3_ACCESS_KEY": own.s3_access_key.get_secret_value(),
        "CORROBORATE_S3_SECRET_KEY": own.s3_secret_key.get_secret_value(),
    }


def with_credentials(
    url: str, user: str, password: str, *, query: dict[str, str] | None = None
) -> str:
    parts = urllib.parse.urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    netloc = f"{urllib.parse.quote(user, safe='')}:{urllib.parse.quote(password, safe='')}@{host}"
    params = dict(urllib.parse.parse_qsl(parts.query))
    params.update(query or {})
    return urllib.parse.urlunsplit(
        (parts.scheme, netloc, parts.path, urllib.parse.urlencode(params), parts.fragment)
    )


# Granting a namespace ------------------------------------------------------------------------


async def grant(settings: Settings, access: Access | None = None) -> None:
    """With the operator's credentials: let each service use its database and bucket in the
    settings' namespace (creating the users and buckets where missing). Idempotent."""
    from corroborate.mongo import mongo_client  # noqa: PLC0415
    from corroborate.storage import minio_client  # noqa: PLC0415

    access = access or load_access(settings)
    client = mongo_client(settings)
    try:
        admin = client["admin"]
        for service, own in access.services.items():
            role = {"role": "readWrite", "db": settings.database_name(service)}
            try:
                await admin.command("createUser", own.user, pwd=own.mongo_password, roles=[role])
            except OperationFailure as exc:
                if exc.code != 51003:  # the user exists: add this namespace's database
                    raise
                await admin.command("updateUser", own.user, pwd=own.mongo_password)
                await admin.command("grantRolesToUser", own.user, roles=[role])
    finally:
        await client.close()

    def buckets() -> None:
        s3 = minio_client(settings)
        for service in access.services:
            bucket = BUCKETS[service]
            name = settings.bucket_name(bucket.purpose)
            if not s3.bucket_exists(bucket_name=name):
                s3.make_bucket(bucket_name=name, object_lock=bucket.object_lock)

    await asyncio.to_thread(buckets)


async def revoke(settings: Settings, access: Access | None = None) -> None:
    """Take back what ``grant`` gave for the settings' namespace (the users stay)."""
    from corroborate.mongo import mongo_client  # noqa: PLC0415

    access = access or load_access(settings)
    client = mongo_client(settings)
    try:
        for service, own in access.services.items():
            role = {"role": "readWrite", "db": settings.database_name(service)}
            try:
                await client["admin"].command("revokeRolesFromUser", own.user, roles=[role])
            except OperationFailure as exc:
                if exc.code != 11:  # UserNotFound: nothing to revoke
                    raise
    finally:
        await client.close()


async def create_operator(settings: Settings) -> None:
    """On a database server still running without authentication: create the operator's
    user named in the settings' MongoDB URL (first start of a local stack)."""
    from pymongo import AsyncMongoClient  # noqa: PLC0415

    url = settings.mongo_url.get_secret_value()
    parts = urllib.parse.urlsplit(url)
    if parts.username is None or parts.password is None:
        raise RuntimeError("CORROBORATE_MONGO_URL names no user to create")
    query = [(k, v) for k, v in urllib.parse.parse_qsl(parts.query) if k != "authSource"]
    anonymous = urllib.parse.urlunsplit(
        (
            parts.scheme,
            parts.netloc.rsplit("@", 1)[-1],
            parts.path,
            urllib.parse.urlencode(query),
            "",
        )
    )
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        anonymous, serverSelectionTimeoutMS=30_000
    )
    try:
        users = await client["admin"].command("usersInfo", urllib.parse.unquote(parts.username))
        if not users.get("users"):
            await client["admin"].command(
                "createUser",
                urllib.parse.unquote(parts.username),
                pwd=urllib.parse.unquote(parts.password),
                roles=[{"role": "root", "db": "admin"}],
            )
    finally:
        await client.close()
