import gzip
import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from cloud.main import create_app
from cloud.models import Gateway
from cloud.services import ingest
from cloud.settings import Settings
from sync.schema import Batch
from tests.cloud.helpers import (
    Login,
    RegisteredGateway,
    batch,
    create_admin,
    gzipped,
    reading,
    register_gateway,
)


def _post(client: TestClient, gateway: RegisteredGateway, body: object) -> dict:
    answer = client.post("/api/v1/ingest", json=body, headers=gateway.headers)
    return {"status": answer.status_code, **answer.json()}


def _rejection(client: TestClient, admin: Login, gateway_id: str) -> tuple[int, str]:
    """How many batches of the gateway were refused, and the recorded reason."""
    stats = _stats(client, admin, gateway_id)
    return stats["rejected_batches"], stats["last_rejection"]


def _stats(client: TestClient, admin: Login, gateway_id: str) -> dict:
    answer = client.get(f"/api/v1/gateways/{gateway_id}/stats", headers=admin.headers)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_batch_is_stored_and_acknowledged(
    client: TestClient, admin: Login, gateway: RegisteredGateway
) -> None:
    ack = _post(client, gateway, batch(gateway.id, 1, 10))

    assert ack == {
        "status": 200,
        "batch_id": "1-10",
        "first_seq": 1,
        "last_seq": 10,
        "accepted": 10,
        "duplicates": 0,
        "commands": [],
    }
    stats = _stats(client, admin, gateway.id)
    assert stats["readings"] == 10
    assert stats["max_seq"] == 10
    assert stats["last_seen_at"] is not None


def test_same_batch_twice_stores_nothing_new(
    client: TestClient, admin: Login, gateway: RegisteredGateway
) -> None:
    body = batch(
        gateway.id,
        1,
        4,
        readings=[reading(1), reading(2)],
        events=[
            {
                "seq": 3,
                "device_id": "door-1",
                "ts": "2026-03-01T00:00:03Z",
                "kind": "door_opened",
            }
        ],
        gaps=[{"first_seq": 4, "last_seq": 4, "reason": "evicted"}],
    )

    first = _post(client, gateway, body)
    second = _post(client, gateway, body)

    assert (first["accepted"], first["duplicates"]) == (4, 0)
    assert (second["accepted"], second["duplicates"]) == (0, 4)
    assert second["batch_id"] == first["batch_id"]
    stats = _stats(client, admin, gateway.id)
    assert (stats["readings"], stats["events"], stats["gaps_records"]) == (2, 1, 1)


def test_overlapping_batch_counts_only_the_new_records(
    client: TestClient, gateway: RegisteredGateway
) -> None:
    _post(client, gateway, batch(gateway.id, 1, 5))

    ack = _post(client, gateway, batch(gateway.id, 4, 8))

    assert (ack["accepted"], ack["duplicates"]) == (3, 2)


@pytest.mark.parametrize(
    ("readings", "reason"),
    [
        pytest.param(
            [reading(1), reading(2), reading(4)],
            "seq 3 is missing: every seq in [first_seq, last_seq] must be in "
            "readings, events or gaps.",
            id="hole",
        ),
        pytest.param(
            [reading(1), reading(2), reading(2), reading(3), reading(4)],
            "seq 2 appears more than once: in readings[1] and in readings[2].",
            id="duplicate",
        ),
        pytest.param(
            [reading(1), reading(2), reading(3), reading(4), reading(5)],
            "readings[4] has seq 5, above last_seq 4.",
            id="above-range",
        ),
        pytest.param(
            [reading(1), reading(2)],
            "seqs 3 to 4 are missing: every seq in [first_seq, last_seq] must be in "
            "readings, events or gaps.",
            id="short-tail",
        ),
    ],
)
def test_inconsistent_sequence_is_422_with_reason(
    client: TestClient,
    admin: Login,
    gateway: RegisteredGateway,
    readings: list[dict],
    reason: str,
) -> None:
    answer = _post(client, gateway, batch(gateway.id, 1, 4, readings=readings))

    assert answer["status"] == 422
    assert answer["detail"] == reason
    assert _rejection(client, admin, gateway.id) == (1, reason)
    assert _stats(client, admin, gateway.id)["readings"] == 0


def test_record_overlapping_a_gap_is_422(
    client: TestClient, admin: Login, gateway: RegisteredGateway
) -> None:
    body = batch(
        gateway.id,
        1,
        3,
        readings=[reading(1), reading(2), reading(3)],
        gaps=[{"first_seq": 2, "last_seq": 3, "reason": "evicted"}],
    )

    answer = _post(client, gateway, body)

    reason = "seq 2 appears more than once: in readings[1] and in gaps[0]."
    assert answer["status"] == 422
    assert answer["detail"] == reason
    assert _rejection(client, admin, gateway.id) == (1, reason)


def test_newer_schema_version_is_422(
    client: TestClient, admin: Login, gateway: RegisteredGateway
) -> None:
    answer = _post(client, gateway, {**batch(gateway.id), "schema_version": 2})

    assert answer["status"] == 422
    assert answer["detail"].startswith("schema_version 2 is newer than this server")
    assert _rejection(client, admin, gateway.id) == (1, answer["detail"])


def test_invalid_field_is_422_naming_it(
    client: TestClient, admin: Login, gateway: RegisteredGateway
) -> None:
    body = batch(gateway.id, 1, 2, readings=[reading(1), reading(2, ts="yesterday")])

    answer = _post(client, gateway, body)

    assert answer["status"] == 422
    assert answer["detail"][0]["loc"] == ["body", "readings", 1, "ts"]
    count, reason = _rejection(client, admin, gateway.id)
    assert count == 1
    assert reason.startswith("readings.1.ts: Input should be a valid datetime")


def test_not_json_is_422(
    client: TestClient, admin: Login, gateway: RegisteredGateway
) -> None:
    answer = client.post(
        "/api/v1/ingest", content=b"{not json", headers=gateway.headers
    )

    assert answer.status_code == 422
    assert answer.json()["detail"][0]["type"] == "json_invalid"
    assert _rejection(client, admin, gateway.id)[1].startswith("body: Invalid JSON")


def test_batch_of_another_gateway_is_403(
    client: TestClient, admin: Login, gateway: RegisteredGateway
) -> None:
    other = register_gateway(client, admin)

    answer = _post(client, gateway, batch(other.id, 1, 3))

    assert answer["status"] == 403
    assert answer["detail"] == (
        f"The batch is for gateway {other.id!r}, but the token belongs to gateway "
        f"{gateway.id!r}."
    )
    assert _stats(client, admin, other.id)["readings"] == 0
    assert _rejection(client, admin, gateway.id) == (1, answer["detail"])


def test_gzip_body_is_accepted(
    client: TestClient, admin: Login, gateway: RegisteredGateway
) -> None:
    answer = client.post(
        "/api/v1/ingest",
        content=gzipped(batch(gateway.id, 1, 50)),
        headers={**gateway.headers, "Content-Encoding": "gzip"},
    )

    assert answer.status_code == 200, answer.text
    assert answer.json()["accepted"] == 50


@pytest.fixture
def small_limit_client(migrated: Settings) -> Iterator[TestClient]:
    app = create_app(migrated.model_copy(update={"max_body_bytes": 4096}))
    with TestClient(app) as client:
        yield client


def test_gzip_inflating_above_the_limit_is_413(
    small_limit_client: TestClient, app: FastAPI
) -> None:
    client = small_limit_client
    admin = create_admin(app, client)
    gateway = register_gateway(client, admin)
    body = gzipped(batch(gateway.id, 1, 200))  # ~30 kB of JSON, under 4 kB gzipped
    assert len(body) < 4096

    answer = client.post(
        "/api/v1/ingest",
        content=body,
        headers={**gateway.headers, "Content-Encoding": "gzip"},
    )

    reason = "The gzip body inflates to more than 4096 bytes, the limit."
    assert answer.status_code == 413
    assert answer.json()["detail"] == reason
    assert _rejection(client, admin, gateway.id) == (1, reason)


def test_plain_body_above_the_limit_is_413(
    small_limit_client: TestClient, app: FastAPI
) -> None:
    client = small_limit_client
    admin = create_admin(app, client)
    gateway = register_gateway(client, admin)

    answer = client.post(
        "/api/v1/ingest", json=batch(gateway.id, 1, 200), headers=gateway.headers
    )

    assert answer.status_code == 413
    assert answer.json()["detail"].endswith("bytes; the limit is 4096.")
    assert _rejection(client, admin, gateway.id) == (1, answer.json()["detail"])


def test_corrupt_gzip_is_422(
    client: TestClient, admin: Login, gateway: RegisteredGateway
) -> None:
    body = gzipped(batch(gateway.id, 1, 5))

    answer = client.post(
        "/api/v1/ingest",
        content=body[: len(body) // 2],
        headers={**gateway.headers, "Content-Encoding": "gzip"},
    )

    assert answer.status_code == 422
    assert answer.json()["detail"] == "The gzip body is truncated."
    assert _rejection(client, admin, gateway.id) == (1, "The gzip body is truncated.")


def test_unknown_encoding_is_415(
    client: TestClient, admin: Login, gateway: RegisteredGateway
) -> None:
    answer = client.post(
        "/api/v1/ingest",
        content=json.dumps(batch(gateway.id)).encode(),
        headers={**gateway.headers, "Content-Encoding": "br"},
    )

    assert answer.status_code == 415
    reason = "Content-Encoding 'br' is not supported; use gzip."
    assert answer.json()["detail"] == reason
    assert _rejection(client, admin, gateway.id) == (1, reason)


def test_big_decimal_round_trips_exactly(
    client: TestClient, admin: Login, gateway: RegisteredGateway
) -> None:
    exact = "18446744073709551.615"
    values = [exact, "0.000000000000000001", "-12.50", None]
    readings = [reading(i + 1, value=v, point=f"p{i}") for i, v in enumerate(values)]
    _post(client, gateway, batch(gateway.id, 1, 4, readings=readings))

    latest = client.get(
        f"/api/v1/devices/{gateway.id}/meter-1/latest", headers=admin.headers
    ).json()

    by_point = {r["point"]: r["value"] for r in latest}
    assert by_point == {
        "p0": exact,
        "p1": "0.000000000000000001",
        "p2": "-12.50",
        "p3": None,
    }


def test_events_and_gaps_are_stored(
    client: TestClient, admin: Login, gateway: RegisteredGateway
) -> None:
    event = {
        "seq": 1,
        "device_id": "door-1",
        "ts": "2026-03-01T00:00:01+08:00",
        "kind": "card_read",
        "priority": 2,
        "data": {"card": "0x1234", "nested": {"ok": True, "n": [1, 2]}},
    }
    body = batch(
        gateway.id,
        1,
        100,
        readings=[],
        events=[event],
        gaps=[{"first_seq": 2, "last_seq": 100, "reason": "buffer full"}],
    )

    ack = _post(client, gateway, body)

    assert (ack["accepted"], ack["duplicates"]) == (2, 0)
    assert _stats(client, admin, gateway.id) | {"last_seen_at": None} == {
        "readings": 0,
        "events": 1,
        "gaps_records": 99,
        "max_seq": 100,
        "last_seen_at": None,
        "rejected_batches": 0,
        "last_rejection": None,
        "events_by_kind": {"card_read": 1},
    }


def test_content_encoding_is_case_insensitive(
    client: TestClient, gateway: RegisteredGateway
) -> None:
    raw = gzip.compress(json.dumps(batch(gateway.id, 1, 3)).encode())

    answer = client.post(
        "/api/v1/ingest",
        content=raw,
        headers={**gateway.headers, "Content-Encoding": "GZIP"},
    )

    assert answer.status_code == 200


def test_same_batch_from_two_connections_at_once_is_stored_once(
    app: FastAPI, client: TestClient, admin: Login, gateway: RegisteredGateway
) -> None:
    """A retry racing the original: one stores, the other sees only duplicates."""
    body = Batch.model_validate(batch(gateway.id, 1, 500))
    factory = app.state.pams.session_factory
    start = threading.Barrier(2)

    def send() -> tuple[int, int]:
        with factory() as session:
            stored_gateway = session.get(Gateway, gateway.id)
            start.wait(timeout=10)
            ack = ingest.ingest_batch(
                session, stored_gateway, body, received_at=datetime.now(UTC)
            )
        return ack.accepted, ack.duplicates

    with ThreadPoolExecutor(2) as pool:
        results = sorted(pool.map(lambda _: send(), range(2)))

    assert results == [(0, 500), (500, 0)]
    assert _stats(client, admin, gateway.id)["readings"] == 500
