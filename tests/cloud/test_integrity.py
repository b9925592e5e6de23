"""The integrity report the chaos harness counts lost and duplicated records with."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.cloud.helpers import Login, RegisteredGateway, batch, reading


def post(client: TestClient, gateway: RegisteredGateway, body: object) -> None:
    answer = client.post("/api/v1/ingest", json=body, headers=gateway.headers)
    assert answer.status_code == 200, answer.text


def integrity(client: TestClient, admin: Login, gateway_id: str, upto: int) -> dict:
    answer = client.get(
        f"/api/v1/gateways/{gateway_id}/integrity",
        params={"upto": upto},
        headers=admin.headers,
    )
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def test_integrity_counts_stored_declared_lost_and_duplicated(
    client: TestClient, admin: Login, gateway: RegisteredGateway
) -> None:
    gap = {"first_seq": 6, "last_seq": 7, "reason": "evicted: over the size bound"}
    post(
        client,
        gateway,
        batch(gateway.id, 1, 7, readings=[reading(s) for s in range(1, 6)], gaps=[gap]),
    )
    # seqs 8 and 9 never arrive; seq 12 repeats seq 11's device, point and time
    again = reading(12, ts=reading(11)["ts"])
    post(
        client,
        gateway,
        batch(gateway.id, 10, 12, readings=[reading(10), reading(11), again]),
    )

    report = integrity(client, admin, gateway.id, upto=14)

    assert report == {
        "upto": 14,
        "stored_records": 8,
        "reported_gaps": 2,
        "missing": 4,
        "missing_ranges": [[8, 9], [13, 14]],
        "overlapping": 0,
        "duplicate_readings": 1,
    }


def test_integrity_needs_an_administrator(
    client: TestClient, gateway: RegisteredGateway
) -> None:
    answer = client.get(f"/api/v1/gateways/{gateway.id}/integrity", params={"upto": 5})

    assert answer.status_code == 401
