"""A technician's phone for the demo and the latency bench: a real Web Push
subscription, and the push service it points at.

The "phone" makes a P-256 key pair and an auth secret, as a browser does in
``pushManager.subscribe()``, and registers the subscription with the cloud. The
cloud's outbox sends each alarm notice with pywebpush (RFC 8291 ``aes128gcm``, VAPID
RFC 8292) to the subscription's endpoint, which here is a loopback HTTP server
standing in for the push service: it checks the VAPID signature, decrypts the
payload with http_ece exactly as the phone would, and records when it arrived.
"""

from __future__ import annotations

import base64
import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import http_ece
import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class Push:
    """One decrypted notice and when it arrived (wall clock, UTC)."""

    payload: dict[str, Any]
    received_at: datetime

    @property
    def latency_ms(self) -> int | None:
        """From the alarm's raise at the gateway to arrival on the phone."""
        raised = self.payload.get("raised_at")
        if not raised:
            return None
        delta = self.received_at - datetime.fromisoformat(str(raised))
        return round(delta.total_seconds() * 1000)


@dataclass
class TechnicianPhone:
    """Receives Web Push on a loopback port until ``close()``."""

    on_push: Callable[[Push], None] | None = None
    pushes: list[Push] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._key = ec.generate_private_key(ec.SECP256R1())
        self._auth = os.urandom(16)
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="technician-phone", daemon=True
        )
        self._thread.start()

    @property
    def subscription(self) -> dict[str, Any]:
        """What the phone gives the cloud (``POST /push-subscriptions``)."""
        public = self._key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        port = self._server.server_address[1]
        return {
            "endpoint": f"http://127.0.0.1:{port}/push/technician",
            "keys": {"p256dh": _b64(public), "auth": _b64(self._auth)},
        }

    def wait_for(self, accept: Callable[[Push], bool], timeout_s: float) -> Push | None:
        """The first push ``accept`` takes, waiting up to ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        with self._arrived:
            while True:
                for push in self.pushes:
                    if accept(push):
                        return push
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._arrived.wait(left)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def receive(self, body: bytes, headers: dict[str, str]) -> int:
        """What the push service does with a POST: 201, or why it refused."""
        received_at = datetime.now(UTC)
        reason = _vapid_problem(headers.get("authorization", ""))
        if reason is None:
            try:
                clear = http_ece.decrypt(
                    body,
                    private_key=self._key,
                    auth_secret=self._auth,
                    version=headers.get("content-encoding", "aes128gcm"),
                )
                payload = json.loads(clear)
            except Exception as exc:
                reason = f"cannot decrypt: {exc!r}"
        if reason is not None:
            self.refused.append(reason)
            return 400
        push = Push(payload, received_at)
        with self._arrived:
            self.pushes.append(push)
            self._arrived.notify_all()
        if self.on_push is not None:
            self.on_push(push)
        return 201


def _vapid_problem(authorization: str) -> str | None:
    """None if the request carries a valid VAPID JWT (``vapid t=…, k=…``)."""
    if not authorization.lower().startswith("vapid "):
        return "no VAPID authorization"
    parts = dict(
        item.strip().split("=", 1)
        for item in authorization[6:].split(",")
        if "=" in item
    )
    try:
        point = _unb64(parts["k"])
        key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
        jwt.decode(
            parts["t"], key=key, algorithms=["ES256"], options={"verify_aud": False}
        )
    except (KeyError, ValueError, jwt.PyJWTError) as exc:
        return f"bad VAPID signature: {exc!r}"
    return None


def _handler_for(phone: TechnicianPhone) -> type[BaseHTTPRequestHandler]:
    class PushService(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            headers = {k.lower(): v for k, v in self.headers.items()}
            self.send_response(phone.receive(body, headers))
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return

    return PushService


def describe(push: Push) -> str:
    """The line the demo prints when a push reaches the phone."""
    payload = push.payload
    latency = push.latency_ms
    after = f", {latency} ms after the sensor" if latency is not None else ""
    return f"technician's phone: {payload.get('title')} [{payload.get('state')}]{after}"


# --- the demo's side: enrol the technician, then report what reached the phone -----

TECHNICIAN_EMAIL = "tech@pams.example.com"


def enrol(
    client: httpx.Client, admin: dict[str, str], gateway_id: str, phone: TechnicianPhone
) -> None:
    """Put the demo gateway in a property, give it a technician on call for every
    trade, and subscribe the technician's phone to Web Push."""
    place = _created(
        client.post(
            "/api/v1/properties",
            json={"code": "RIVER", "name": "Riverside Court", "kind": "residential"},
            headers=admin,
        )
    )
    building = _created(
        client.post(
            "/api/v1/buildings",
            json={"property_id": place["id"], "code": "A", "name": "Block A"},
            headers=admin,
        )
    )
    _ok(
        client.patch(
            f"/api/v1/gateways/{gateway_id}",
            json={"building_id": building["id"]},
            headers=admin,
        )
    )
    password = _b64(os.urandom(18))
    user = _created(
        client.post(
            "/api/v1/users",
            json={"email": TECHNICIAN_EMAIL, "password": password},
            headers=admin,
        )
    )
    _created(
        client.post(
            f"/api/v1/users/{user['id']}/grants",
            json={"property_id": place["id"], "role": "technician"},
            headers=admin,
        )
    )
    for trade in ("plumbing", "fire", "electrical", "general"):
        _created(
            client.post(
                "/api/v1/on-call-rotas",
                json={
                    "property_id": place["id"],
                    "trade": trade,
                    "name": f"{trade} on call",
                    "members": [user["id"]],
                    "starts_at": datetime.now(UTC).isoformat(),
                },
                headers=admin,
            )
        )
    technician = _token(client, TECHNICIAN_EMAIL, password)
    _created(
        client.post(
            "/api/v1/push-subscriptions",
            json={
                "channel": "webpush",
                "subscription": phone.subscription,
                "label": "demo phone",
            },
            headers=technician,
        )
    )


def alarm_report(
    client: httpx.Client, admin: dict[str, str], phone: TechnicianPhone
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The cloud's alarms, each with whether (and how fast) it reached the phone,
    and the local actions the gateway reported for them."""
    listed = _ok(client.get("/api/v1/alarms", params={"limit": 500}, headers=admin))[
        "data"
    ]
    alarms, actions = [], []
    for alarm in sorted(listed, key=lambda a: (a["raised_at"], a["id"])):
        push = next(
            (
                p
                for p in phone.pushes
                if p.payload.get("alarm_id") == alarm["id"]
                and p.payload.get("state") == "firing"
            ),
            None,
        )
        alarms.append(
            {
                "type": alarm["type"],
                "severity": alarm["severity"],
                "source": f"{alarm['gateway_id']}/{alarm['device_id']}",
                "raised_at": alarm["raised_at"],
                "state": alarm["state"],
                "pushed": push is not None,
                "push_latency_ms": push.latency_ms if push else None,
            }
        )
        detail = _ok(client.get(f"/api/v1/alarms/{alarm['id']}", headers=admin))
        actions += [
            {
                "type": a["type"],
                "verified": a["verified"],
                "trigger": alarm["type"],
                "latency_ms": a["latency_ms"],
            }
            for a in detail["actions"]
        ]
    return alarms, actions


def _token(client: httpx.Client, email: str, password: str) -> dict[str, str]:
    answer = _ok(
        client.post(
            "/api/v1/auth/token", data={"username": email, "password": password}
        )
    )
    return {"Authorization": f"Bearer {answer['access_token']}"}


def _created(answer: httpx.Response) -> dict[str, Any]:
    if answer.status_code != 201:
        raise RuntimeError(
            f"{answer.request.method} {answer.request.url.path} answered "
            f"{answer.status_code}: {answer.text[:300]}"
        )
    return dict(answer.json())


def _ok(answer: httpx.Response) -> dict[str, Any]:
    if answer.status_code != 200:
        raise RuntimeError(
            f"{answer.request.method} {answer.request.url.path} answered "
            f"{answer.status_code}: {answer.text[:300]}"
        )
    return dict(answer.json())
