"""What one running app shares across requests, kept on ``app.state.pams``."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from argon2 import PasswordHasher
from cryptography.fernet import Fernet
from sqlalchemy.orm import Session, sessionmaker

from cloud.services.accounts import TokenPolicy
from cloud.services.attachments import AttachmentStore
from cloud.services.outbox import OutboxWorker
from cloud.settings import Settings


@dataclass(frozen=True)
class AppState:
    settings: Settings
    engine: sa.Engine
    session_factory: sessionmaker[Session]
    password_hasher: PasswordHasher
    token_policy: TokenPolicy
    identity_cipher: Fernet
    token_cipher: Fernet
    attachments: AttachmentStore
    outbox: OutboxWorker
