"""Settings of the cloud service, read from ``PAMS_CLOUD_*`` environment variables.

Every value has a default that works on a laptop: data under ``./var/cloud``, a SQLite
database there, and a signing key generated on first start and kept beside it.
"""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

logger = logging.getLogger(__name__)

SECRET_KEY_FILE = "secret_key"  # noqa: S105 (a file name)
WEBHOOK_SECRET_FILE = "webhook_secret"  # noqa: S105 (a file name)
MIN_SECRET_KEY_LENGTH = 32
_PLACEHOLDER_SECRETS = frozenset(
    {"changeme", "change-me", "change_me", "changethis", "secret", "password", "test"}
)


class SettingsError(Exception):
    """Raised when a setting cannot be used, such as a placeholder secret key."""


class Settings(BaseSettings):
    """How one cloud process runs; ``PAMS_CLOUD_<FIELD>`` overrides each field."""

    model_config = SettingsConfigDict(env_prefix="PAMS_CLOUD_", extra="ignore")

    data_dir: Path = Field(
        default=Path("var/cloud"),
        description="Where the SQLite database, the generated secret key and "
        "attachments live.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; sqlite:///<data_dir>/cloud.db when unset. "
        "PostgreSQL: postgresql+psycopg://user:password@host/db.",
    )
    secret_key: SecretStr | None = Field(
        default=None,
        description="Key that signs access tokens and from which the key that "
        "encrypts identity numbers is derived; generated into data_dir when unset.",
    )
    access_token_minutes: int = Field(default=15, ge=1)
    refresh_token_days: int = Field(default=30, ge=1)
    max_body_bytes: int = Field(
        default=32 * 1024 * 1024,
        ge=1024,
        description="Largest ingest body, before and after gzip decompression.",
    )
    max_upload_bytes: int = Field(
        default=16 * 1024 * 1024,
        ge=1024,
        description="Largest attachment or CSV import file (413 above).",
    )
    gateway_stale_minutes: int = Field(
        default=15,
        ge=1,
        description="A gateway silent for longer shows health 'stale'.",
    )
    argon2_profile: str = Field(
        default="rfc9106_low_memory",
        description="Password hashing cost: rfc9106_low_memory, or cheapest for tests.",
    )
    tune_gc: bool = Field(
        default=False,
        description="Freeze start-up objects and collect garbage less often; an "
        "ingest batch then costs about a third less CPU. `pams-cloud serve` sets it.",
    )
    migrate_on_start: bool = Field(
        default=False,
        description="Upgrade an outdated schema on start instead of refusing to serve.",
    )
    outbox_worker: bool = Field(
        default=True,
        description="Deliver queued messages (push, webhooks, SMS) from this process.",
    )
    webhook_secret: SecretStr | None = Field(
        default=None,
        description="Signs outgoing webhooks; generated into data_dir when unset.",
    )
    vapid_subject: str = Field(
        default="mailto:operations@example.com",
        description="Contact the Web Push services may use (RFC 8292 'sub' claim).",
    )

    @field_validator("secret_key")
    @classmethod
    def _refuse_placeholder(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            check_secret_key(value.get_secret_value())
        return value

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'cloud.db'}"

    def signing_key(self) -> str:
        """The configured secret key, or the one kept in data_dir (created once)."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value()
        return _load_or_create_key(self.data_dir / SECRET_KEY_FILE)

    def webhook_signing_secret(self) -> str:
        """The configured webhook secret, or the one kept in data_dir."""
        if self.webhook_secret is not None:
            return self.webhook_secret.get_secret_value()
        return _load_or_create_key(self.data_dir / WEBHOOK_SECRET_FILE)


def check_secret_key(key: str) -> None:
    if key.strip().lower() in _PLACEHOLDER_SECRETS:
        raise SettingsError(
            "PAMS_CLOUD_SECRET_KEY is a placeholder value; set a random key of at "
            f"least {MIN_SECRET_KEY_LENGTH} characters, or unset it to have one "
            "generated."
        )
    if len(key) < MIN_SECRET_KEY_LENGTH:
        raise SettingsError(
            f"PAMS_CLOUD_SECRET_KEY has {len(key)} characters; at least "
            f"{MIN_SECRET_KEY_LENGTH} are needed."
        )


def _load_or_create_key(path: Path) -> str:
    try:
        key = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return _create_key(path)
    check_secret_key(key)
    return key


def _create_key(path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    # O_EXCL: when two processes start at once, one writes and the other reads its key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _load_or_create_key(path)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        file.write(key + "\n")
    logger.info("Generated a new token signing key in %s", path)
    return key
