"""The demo's technician phone against the cloud's own Web Push sender."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from cloud.services.channels import VapidKeys, WebPushSender
from cloud.services.outbox import Delivery
from pams.technician import TechnicianPhone, describe


@pytest.fixture
def phone() -> Iterator[TechnicianPhone]:
    receiver = TechnicianPhone()
    yield receiver
    receiver.close()


def delivery(phone: TechnicianPhone, payload: dict[str, object]) -> Delivery:
    return Delivery(
        id=1,
        channel="webpush",
        recipient="user:1",
        target=json.dumps(phone.subscription),
        topic="alarm:7",
        payload=payload,
        attempt=1,
    )


def test_a_push_from_the_cloud_is_decrypted_on_the_phone(
    phone: TechnicianPhone, tmp_path: Path
) -> None:
    sender = WebPushSender(VapidKeys.load_or_create(tmp_path, "mailto:ops@example.org"))
    payload = {
        "title": "CRITICAL water_leak at Riverside Court",
        "alarm_id": 7,
        "state": "firing",
        "raised_at": "2026-03-01T00:00:00+00:00",
    }

    asyncio.run(sender.send(delivery(phone, payload)))

    push = phone.wait_for(lambda p: True, timeout_s=5)
    assert push is not None
    assert push.payload == payload
    assert push.latency_ms is not None and push.latency_ms > 0
    assert describe(push).startswith(
        "technician's phone: CRITICAL water_leak at Riverside Court [firing]"
    )
    assert phone.refused == []


def test_a_push_without_a_vapid_signature_is_refused(phone: TechnicianPhone) -> None:
    endpoint = phone.subscription["endpoint"]

    answer = httpx.post(endpoint, content=b"not encrypted", timeout=5)

    assert answer.status_code == 400
    assert phone.refused == ["no VAPID authorization"]
    assert phone.pushes == []


def test_a_push_encrypted_for_another_phone_is_refused(
    phone: TechnicianPhone, tmp_path: Path
) -> None:
    other = TechnicianPhone()
    try:
        sender = WebPushSender(VapidKeys.load_or_create(tmp_path, "mailto:o@e.org"))
        misdirected = {**phone.subscription, "keys": other.subscription["keys"]}
        message = delivery(phone, {"state": "firing"})
        message = Delivery(**{**message.__dict__, "target": json.dumps(misdirected)})

        with pytest.raises(Exception, match="push service"):
            asyncio.run(sender.send(message))
    finally:
        other.close()

    assert phone.pushes == []
    assert phone.refused and phone.refused[0].startswith("cannot decrypt")
