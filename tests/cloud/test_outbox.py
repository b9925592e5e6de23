"""The transactional outbox against real receivers: a webhook server and a Web Push
service stand-in that decrypts what it gets with the subscription's own keys."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import http_ece
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy.orm import Session, sessionmaker

from cloud.db import create_db_engine, make_session_factory
from cloud.models import OutboxMessage
from cloud.services import outbox
from cloud.services.channels import (
    VapidKeys,
    WebhookSender,
    WebPushSender,
    verify_signature,
)
from cloud.services.outbox import OutboxWorker, enqueue
from cloud.settings import Settings
from tests.conftest import free_port

SECRET = "s" * 48


@dataclass
class Receiver:
    """A real HTTP server answering with the codes it is told, recording requests."""

    port: int
    answers: list[int] = field(default_factory=list)
    received: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver(free_port())

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            headers = {k.lower(): v for k, v in self.headers.items()}
            state.received.append((self.path, headers, body))
            code = state.answers.pop(0) if state.answers else 201
            self.send_response(code)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", state.port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()


@pytest.fixture
def sessions(migrated: Settings) -> Iterator[sessionmaker[Session]]:
    engine = create_db_engine(migrated.resolved_database_url)
    yield make_session_factory(engine)
    engine.dispose()


@pytest.fixture(autouse=True)
def immediate_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(outbox, "BACKOFF_BASE_S", 0.0)


def put(sessions: sessionmaker[Session], **fields: Any) -> None:
    defaults: dict[str, Any] = {
        "organization_id": 1,
        "channel": "webhook",
        "recipient": "technician:7",
        "topic": f"alarm:{os.urandom(4).hex()}",
        "payload": {"title": "Water leak", "body": "basement"},
        "dedup_key": os.urandom(8).hex(),
    }
    defaults.update(fields)
    with sessions() as session, session.begin():
        enqueue(session, **defaults)


def rows(sessions: sessionmaker[Session], topic: str) -> list[OutboxMessage]:
    with sessions() as session:
        return outbox.deliveries(session, topic)


def test_a_message_is_enqueued_once_per_dedup_key(
    sessions: sessionmaker[Session],
) -> None:
    for _ in range(2):
        put(sessions, target="http://x", topic="alarm:1", dedup_key="alarm:1:tech:7")

    assert len(rows(sessions, "alarm:1")) == 1


def test_nothing_is_sent_for_a_change_that_rolled_back(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as session:
        enqueue(
            session,
            organization_id=1,
            channel="webhook",
            recipient="r",
            target="http://x",
            topic="alarm:2",
            payload={},
            dedup_key="alarm:2",
        )
        session.rollback()

    assert rows(sessions, "alarm:2") == []


async def test_a_webhook_is_signed_retried_on_5xx_and_recorded_sent(
    sessions: sessionmaker[Session], receiver: Receiver
) -> None:
    receiver.answers = [503]
    put(sessions, target=f"{receiver.url}/hook", topic="alarm:3")
    worker = OutboxWorker(sessions, {"webhook": WebhookSender(SECRET)})

    await worker.drain_once()
    await worker.drain_once()

    (row,) = rows(sessions, "alarm:3")
    assert (row.status, row.attempts, row.last_error) == ("sent", 2, None)
    first, second = receiver.received
    assert first[1]["x-pams-message"] == second[1]["x-pams-message"]  # same id: dedupe
    _, headers, body = second
    assert verify_signature(SECRET, headers, body)
    assert not verify_signature("another secret" * 3, headers, body)
    assert json.loads(body) == {"title": "Water leak", "body": "basement"}


async def test_a_webhook_that_refuses_is_given_up_with_the_reason(
    sessions: sessionmaker[Session], receiver: Receiver
) -> None:
    receiver.answers = [404]
    put(sessions, target=f"{receiver.url}/gone", topic="alarm:4")
    worker = OutboxWorker(sessions, {"webhook": WebhookSender(SECRET)})

    await worker.drain_once()

    (row,) = rows(sessions, "alarm:4")
    assert row.status == "dead"
    assert row.last_error is not None and "refused with 404" in row.last_error


async def test_an_unreachable_webhook_is_retried_until_max_attempts(
    sessions: sessionmaker[Session],
) -> None:
    put(
        sessions,
        target=f"http://127.0.0.1:{free_port()}/down",
        topic="alarm:5",
        max_attempts=3,
    )
    worker = OutboxWorker(sessions, {"webhook": WebhookSender(SECRET)})

    for _ in range(3):
        await worker.drain_once()

    (row,) = rows(sessions, "alarm:5")
    assert (row.status, row.attempts) == ("dead", 3)
    assert row.last_error is not None and "unreachable" in row.last_error


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


async def test_web_push_arrives_encrypted_and_decrypts_with_the_subscription_keys(
    sessions: sessionmaker[Session], receiver: Receiver, tmp_path: Any
) -> None:
    device_key = ec.generate_private_key(ec.SECP256R1())
    auth = os.urandom(16)
    public = device_key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    subscription = {
        "endpoint": f"{receiver.url}/push/phone-1",
        "keys": {"p256dh": _b64(public), "auth": _b64(auth)},
    }
    payload = {"title": "Smoke", "alarm_id": 9, "severity": "critical"}
    put(
        sessions,
        channel="webpush",
        target=json.dumps(subscription),
        topic="alarm:6",
        payload=payload,
    )
    keys = VapidKeys.load_or_create(tmp_path, "mailto:ops@example.com")
    worker = OutboxWorker(sessions, {"webpush": WebPushSender(keys)})

    await worker.drain_once()

    (row,) = rows(sessions, "alarm:6")
    assert row.status == "sent", row.last_error
    path, headers, body = receiver.received[0]
    assert path == "/push/phone-1"
    assert headers["content-encoding"] == "aes128gcm"
    assert headers["authorization"].startswith("vapid t=")
    clear = http_ece.decrypt(body, private_key=device_key, auth_secret=auth)
    assert json.loads(clear) == payload


async def test_a_gone_push_subscription_is_not_retried(
    sessions: sessionmaker[Session], receiver: Receiver, tmp_path: Any
) -> None:
    device_key = ec.generate_private_key(ec.SECP256R1())
    public = device_key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    subscription = {
        "endpoint": f"{receiver.url}/push/old-phone",
        "keys": {"p256dh": _b64(public), "auth": _b64(os.urandom(16))},
    }
    receiver.answers = [410]
    put(sessions, channel="webpush", target=json.dumps(subscription), topic="alarm:7")
    keys = VapidKeys.load_or_create(tmp_path, "mailto:ops@example.com")
    worker = OutboxWorker(sessions, {"webpush": WebPushSender(keys)})

    await worker.drain_once()

    (row,) = rows(sessions, "alarm:7")
    assert (row.status, row.last_error) == ("dead", "the subscription is gone")


async def test_two_workers_deliver_each_message_once(
    sessions: sessionmaker[Session], receiver: Receiver
) -> None:
    for n in range(20):
        put(sessions, target=f"{receiver.url}/hook", topic=f"bulk:{n}")
    first = OutboxWorker(sessions, {"webhook": WebhookSender(SECRET)}, batch_size=3)
    second = OutboxWorker(sessions, {"webhook": WebhookSender(SECRET)}, batch_size=3)

    while sum(await asyncio.gather(first.drain_once(), second.drain_once())):
        pass

    ids = [headers["x-pams-message"] for _, headers, _ in receiver.received]
    assert len(ids) == 20
    assert len(set(ids)) == 20
