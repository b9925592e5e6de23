"""The ways a message leaves the cloud: signed webhooks, Web Push, apprise URLs.

Every sender raises ``DeliveryError`` on failure, ``permanent`` when trying again
cannot help (a 4xx from a webhook, a Web Push subscription that is gone, an apprise
URL it does not understand).

Webhooks are signed like Stripe's and GitHub's: the receiver recomputes
``HMAC-SHA256(secret, f"{timestamp}.{body}")`` and compares it with the
``X-PAMS-Signature`` header (``v1=<hex>``), refusing timestamps older than a few
minutes so a captured request cannot be replayed. ``X-PAMS-Message`` is the outbox id,
the same on every retry, for the receiver to drop a repeat.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from cloud.services.outbox import Delivery, DeliveryError, Sender

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-PAMS-Signature"
TIMESTAMP_HEADER = "X-PAMS-Timestamp"
MESSAGE_HEADER = "X-PAMS-Message"
SIGNATURE_TOLERANCE_S = 300


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"v1={mac.hexdigest()}"


def verify_signature(
    secret: str,
    headers: dict[str, str],
    body: bytes,
    *,
    now: float | None = None,
    tolerance_s: int = SIGNATURE_TOLERANCE_S,
) -> bool:
    """What a webhook receiver runs: a valid, fresh signature, or False."""
    lowered = {k.lower(): v for k, v in headers.items()}
    try:
        timestamp = int(lowered[TIMESTAMP_HEADER.lower()])
        given = lowered[SIGNATURE_HEADER.lower()]
    except (KeyError, ValueError):
        return False
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), given)


class WebhookSender:
    """POSTs the payload as JSON to the target URL, signed with the shared secret."""

    def __init__(self, secret: str, *, timeout_s: float = 5.0) -> None:
        self._secret = secret
        self._client = httpx.AsyncClient(timeout=timeout_s)

    async def send(self, message: Delivery) -> None:
        body = json.dumps(message.payload, separators=(",", ":"), default=str).encode()
        timestamp = int(time.time())
        headers = {
            "Content-Type": "application/json",
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: sign(self._secret, timestamp, body),
            MESSAGE_HEADER: str(message.id),
        }
        try:
            response = await self._client.post(
                message.target, content=body, headers=headers
            )
        except httpx.HTTPError as exc:
            raise DeliveryError(f"webhook unreachable: {exc!r}") from exc
        if response.status_code >= 500 or response.status_code in (408, 429):
            raise DeliveryError(f"webhook answered {response.status_code}")
        if response.status_code >= 400:
            raise DeliveryError(
                f"webhook refused with {response.status_code}: {response.text[:200]}",
                permanent=True,
            )

    async def aclose(self) -> None:
        await self._client.aclose()


@dataclass(frozen=True)
class VapidKeys:
    """The server's Web Push identity (RFC 8292), kept in the data directory."""

    private_pem_path: Path
    public_key: str  # URL-safe base64, what browsers' pushManager.subscribe() needs
    subject: str  # "mailto:…" the push services may contact

    @classmethod
    def load_or_create(cls, data_dir: Path, subject: str) -> VapidKeys:
        from cryptography.hazmat.primitives import serialization
        from py_vapid import Vapid

        path = data_dir / "vapid_private.pem"
        if path.exists():
            vapid = Vapid.from_file(str(path))
        else:
            data_dir.mkdir(parents=True, exist_ok=True)
            vapid = Vapid()
            vapid.generate_keys()
            vapid.save_key(str(path))
            path.chmod(0o600)
        raw = vapid.public_key.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        public = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
        return cls(path, public, subject)


class WebPushSender:
    """Encrypted Web Push (RFC 8291) to a browser or phone subscription, via pywebpush.

    The target is the subscription JSON the device gave when it subscribed.
    """

    def __init__(self, keys: VapidKeys, *, ttl_s: int = 3600) -> None:
        self._keys = keys
        self._ttl_s = ttl_s

    async def send(self, message: Delivery) -> None:
        await asyncio.to_thread(self._send, message)

    def _send(self, message: Delivery) -> None:
        from pywebpush import WebPushException, webpush

        try:
            subscription: dict[str, Any] = json.loads(message.target)
        except ValueError as exc:
            raise DeliveryError("the subscription is not JSON", permanent=True) from exc
        try:
            webpush(
                subscription_info=subscription,
                data=json.dumps(message.payload, default=str),
                vapid_private_key=str(self._keys.private_pem_path),
                vapid_claims={"sub": self._keys.subject},
                ttl=self._ttl_s,
                headers={"Urgency": "high"},
                timeout=10,
            )
        except WebPushException as exc:
            status = exc.response.status_code if exc.response is not None else None
            gone = status in (404, 410)
            reason = "the subscription is gone" if gone else f"push service: {exc}"
            raise DeliveryError(reason, permanent=gone) from exc
        except Exception as exc:  # requests' connection errors and the like
            raise DeliveryError(f"push service unreachable: {exc!r}") from exc


class AppriseSender:
    """SMS, e-mail and chat through an apprise URL (``mailto://``, ``twilio://`` …)."""

    async def send(self, message: Delivery) -> None:
        await asyncio.to_thread(self._send, message)

    def _send(self, message: Delivery) -> None:
        import apprise

        notifier = apprise.Apprise()
        if not notifier.add(message.target):
            raise DeliveryError("apprise does not understand this URL", permanent=True)
        title = str(message.payload.get("title", message.topic))
        body = str(
            message.payload.get("body", json.dumps(message.payload, default=str))
        )
        if not notifier.notify(title=title, body=body):
            raise DeliveryError("apprise could not deliver the message")


def default_senders(
    *, webhook_secret: str, vapid: VapidKeys | None
) -> dict[str, Sender]:
    senders: dict[str, Sender] = {
        "webhook": WebhookSender(webhook_secret),
        "apprise": AppriseSender(),
    }
    if vapid is not None:
        senders["webpush"] = WebPushSender(vapid)
    return senders
