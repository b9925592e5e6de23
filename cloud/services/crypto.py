"""Encryption of identity numbers at rest.

The Fernet key (AES-128-CBC with HMAC-SHA256) is derived with HKDF from the
service's secret key, so there is no second secret to keep; changing the secret key
makes the stored identity numbers unreadable (docs/LIMITATIONS.md).
"""

from __future__ import annotations

import base64
import re

from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from cloud.services.errors import InvalidInputError

_HKDF_INFO = b"pams cloud: identity numbers v1"
_SEPARATORS = re.compile(r"[\s\-./]")


def identity_cipher(secret_key: str) -> Fernet:
    return _cipher(secret_key, _HKDF_INFO)


def token_cipher(secret_key: str) -> Fernet:
    """Seals a rotated gateway token while it waits in a command for its gateway."""
    return _cipher(secret_key, b"pams cloud: gateway tokens in transit v1")


def _cipher(secret_key: str, info: bytes) -> Fernet:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(
        secret_key.encode()
    )
    return Fernet(base64.urlsafe_b64encode(derived))


def normalize_identity_number(number: str) -> str:
    """Upper case, without the spaces, dashes and dots people type between groups."""
    return _SEPARATORS.sub("", number).upper()


def seal_identity_number(cipher: Fernet, number: str) -> tuple[str, str]:
    """The ciphertext to store and the last four characters to show."""
    normalized = normalize_identity_number(number)
    if len(normalized) < 4:
        raise InvalidInputError(
            "The identity number has fewer than 4 characters once spaces and "
            "dashes are removed.",
            field="identity_number",
        )
    return cipher.encrypt(normalized.encode()).decode(), normalized[-4:]


def open_identity_number(cipher: Fernet, sealed: str) -> str:
    """The identity number in clear; raises cryptography's ``InvalidToken`` when
    it was sealed under another secret key."""
    return cipher.decrypt(sealed.encode()).decode()
