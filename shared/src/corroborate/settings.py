"""Connection and behaviour settings, read from ``CORROBORATE_*`` environment variables.

The same code runs against the local stand-ins (SecantusDB, SeaweedFS, a loopback RabbitMQ)
and against production infrastructure (a MongoDB replica set, AWS S3 or a SeaweedFS cluster,
a RabbitMQ cluster): only these settings change.
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from corroborate.crypto import KeyRing


def _env_file() -> str | None:
    return os.environ.get("CORROBORATE_ENV_FILE", ".local/corroborate.env")


class Settings(BaseSettings):
    """Everything a Corroborate process needs to find its infrastructure and keys."""

    model_config = SettingsConfigDict(
        env_prefix="CORROBORATE_",
        env_file=_env_file(),
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
    )

    namespace: str = Field(
        default="corroborate",
        pattern=r"^[a-z][a-z0-9-]{0,30}$",
        description="Prefix for the exchange, queues, databases and buckets of one deployment.",
    )
    amqp_url: SecretStr = SecretStr("amqp://guest:guest@127.0.0.1:5672/")
    mongo_url: SecretStr = SecretStr("mongodb://127.0.0.1:27017/?directConnection=true")
    s3_endpoint: str = "127.0.0.1:9000"
    s3_access_key: SecretStr = SecretStr("corroborate")
    s3_secret_key: SecretStr = SecretStr("")
    s3_secure: bool = False
    s3_region: str = "us-east-1"

    master_key: SecretStr = Field(
        default=SecretStr(""),
        description="Base64 of 32 bytes: the key-encryption key that wraps each case's data key.",
    )
    previous_master_keys: SecretStr = Field(
        default=SecretStr(""),
        description="Comma-separated earlier master keys: they still unwrap until keys rewrap.",
    )
    blind_index_key: SecretStr = Field(
        default=SecretStr(""),
        description="Base64 of 32 bytes for blind indexes; stays the same when the master key "
        "is rotated (derived from the master key if empty).",
    )
    access_file: Path | None = Field(
        default=None,
        description="The services' own broker, database and storage credentials (JSON; "
        "operators' tools only, never given to a service).",
    )
    auth_issuer: str = "corroborate-local-issuer"
    auth_public_key: SecretStr = SecretStr("")
    auth_public_key_file: Path | None = None
    auth_private_key_file: Path | None = None
    report_link_secret: SecretStr = SecretStr("")
    report_link_ttl_seconds: int = Field(default=900, gt=0, le=86_400)

    max_document_bytes: int = Field(
        default=200 * 1024 * 1024, gt=0, description="Largest document a partner may upload."
    )
    max_body_bytes: int = Field(
        default=1024 * 1024,
        gt=0,
        le=64 * 1024 * 1024,
        description="Largest request body other than an upload (JSON, a form), refused unread.",
    )
    evidence_retention_mode: Literal["COMPLIANCE", "GOVERNANCE"] = Field(
        default="COMPLIANCE",
        description="Object lock on received evidence: COMPLIANCE can be lifted by nobody.",
    )
    evidence_retention_days: int = Field(
        default=7 * 365, gt=0, description="How long received evidence is locked."
    )
    webhook_allow_insecure: bool = Field(
        default=False, description="Allow http:// webhook URLs (local development only)."
    )
    webhook_poll_seconds: float = Field(default=5.0, gt=0)
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    webhook_first_retry_seconds: float = Field(default=5.0, gt=0)
    webhook_max_retry_seconds: float = Field(default=3600.0, gt=0)
    webhook_max_attempts: int = Field(default=16, ge=1, le=100)

    triage_response_days: int = Field(
        default=7, gt=0, description="Days triage has to respond to a submitted referral."
    )
    delivery_days: int = Field(
        default=150, gt=0, description="Days from acceptance to the report (about five months)."
    )
    no_appointment_days: int = Field(
        default=28, gt=0, description="Days after acceptance with no appointment before escalating."
    )
    report_due_soon_days: int = Field(
        default=14, gt=0, description="Days before the report is due to warn that it is close."
    )
    deadline_poll_seconds: float = Field(
        default=60.0, gt=0, description="How often review looks for deadlines at risk."
    )

    statistics_threshold: int = Field(
        default=5, ge=2, description="Counts below this are never shown in statistics."
    )
    statistics_rounding_base: int = Field(
        default=5, ge=1, description="Counts shown in statistics are rounded to a multiple of it."
    )

    prefetch: int = Field(default=16, gt=0, le=1000)
    delivery_limit: int = Field(default=10, gt=0, le=1000)
    outbox_poll_seconds: float = Field(default=0.5, gt=0)
    stop_timeout_seconds: float = Field(
        default=20.0,
        gt=0,
        description="How long a stopping service waits for the broker to confirm that its "
        "consumers are cancelled before it drops the connection.",
    )
    log_level: str = "INFO"

    oidc_issuer: str = Field(
        default="",
        description="The OpenID Connect provider people sign in at (its issuer URL, whose "
        "discovery document is at /.well-known/openid-configuration).",
    )
    oidc_clients_file: Path | None = Field(
        default=None,
        description="The services' OIDC client ids and secrets (JSON, by service), as the "
        "local provider's set-up writes them; a service not in it uses oidc_client_id.",
    )
    oidc_client_id: str = Field(default="", description="This service's client at the provider.")
    oidc_client_secret: SecretStr = Field(default=SecretStr(""), description="... its secret.")
    oidc_scopes: str = Field(
        default="openid email profile", description="Scopes asked for, space-separated."
    )
    oidc_email_claim: str = Field(
        default="email",
        description="The ID token claim that carries the person's email address (an invitation "
        "is matched by it at the first sign-in, then bound to the provider's subject).",
    )
    oidc_second_factor_acr: str = Field(
        default="",
        description="acr values (comma-separated) that show a second factor, for providers "
        "that say so by acr (or acrs) rather than amr.",
    )
    oidc_claims_request: str = Field(
        default="",
        description="A claims request (JSON) sent with each sign-in, e.g. for Microsoft Entra "
        'ID: {"id_token":{"acrs":{"essential":true,"value":"c1"}}}.',
    )
    oidc_api_audience: str = Field(
        default="corroborate-api",
        description="The audience (aud) a partner system's client-credentials access token "
        "must name to call intake's API.",
    )
    oidc_api_scope: str = Field(
        default="corroborate-api",
        description="The scope (or app role) such a token must grant; empty: none checked.",
    )
    oidc_one_factor_roles: str = Field(
        default="",
        description="Roles (comma-separated) that may sign in without a second factor; empty "
        "(the default): every role needs one.",
    )

    web_session_idle_minutes: int = Field(
        default=30, gt=0, description="A signed-in person's session ends after this long idle."
    )
    web_session_absolute_hours: int = Field(
        default=12, gt=0, description="... and this long after sign-in, however busy."
    )

    intake_url: str = "http://127.0.0.1:8001"
    review_url: str = "http://127.0.0.1:8002"
    reporting_url: str = "http://127.0.0.1:8003"

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        upper = value.upper()
        if upper not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("log_level must be one of DEBUG, INFO, WARNING, ERROR")
        return upper

    @cached_property
    def public_key_pem(self) -> str:
        """The token issuer's public key, inline or from a file."""
        inline = self.auth_public_key.get_secret_value()
        if inline:
            return inline
        if self.auth_public_key_file is None:
            raise RuntimeError(
                "set CORROBORATE_AUTH_PUBLIC_KEY or CORROBORATE_AUTH_PUBLIC_KEY_FILE"
            )
        return self.auth_public_key_file.read_text(encoding="utf-8")

    def keyring(self) -> KeyRing:
        """The master key, any previous ones, and the blind index key, as one key ring."""
        previous = [k for k in self.previous_master_keys.get_secret_value().split(",") if k]
        return KeyRing(
            self.master_key.get_secret_value(),
            previous_keys_b64=previous,
            blind_index_key_b64=self.blind_index_key.get_secret_value(),
        )

    def database_name(self, service: str) -> str:
        """Each service owns exactly one database."""
        return f"{self.namespace.replace('-', '_')}_{service}"

    def bucket_name(self, purpose: str) -> str:
        """Buckets are named per purpose and deployment, purpose first, so that a service's
        storage credentials can be limited to its own buckets by name prefix."""
        return f"{purpose}-{self.namespace}"


def load_settings() -> Settings:
    """Read settings now (never at import time)."""
    return Settings()
