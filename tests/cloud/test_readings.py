from datetime import timedelta

from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.cloud.helpers import (
    T0,
    Login,
    RegisteredGateway,
    batch,
    create_admin,
    reading,
)


def _load(client: TestClient, gateway: RegisteredGateway) -> None:
    """Two devices; meter-1 has two points sampled out of seq order."""
    readings = [
        reading(
            1,
            point="voltage",
            value="230.1",
            ts=(T0 + timedelta(seconds=30)).isoformat(),
        ),
        reading(
            2,
            point="voltage",
            value="229.9",
            ts=(T0 + timedelta(seconds=10)).isoformat(),
        ),
        reading(
            3,
            point="voltage",
            value="231.0",
            ts=(T0 + timedelta(seconds=20)).isoformat(),
        ),
        reading(4, point="energy", value="100.001", unit="kWh"),
        reading(5, point="energy", value="100.002", unit="kWh"),
        reading(
            6,
            device_id="meter-2",
            point="voltage",
            value="0",
            quality="unavailable",
            reason="timeout",
        ),
    ]
    answer = client.post(
        "/api/v1/ingest",
        json=batch(gateway.id, 1, 6, readings=readings),
        headers=gateway.headers,
    )
    assert answer.status_code == 200, answer.text


def test_devices_are_listed_with_last_seen(
    client: TestClient, admin: Login, gateway: RegisteredGateway
) -> None:
    _load(client, gateway)

    answer = client.get(
        "/api/v1/devices", params={"gateway_id": gateway.id}, headers=admin.headers
    ).json()

    assert answer["count"] == 2
    assert [d["device_id"] for d in answer["data"]] == ["meter-1", "meter-2"]
    meter_1 = answer["data"][0]
    assert meter_1["gateway_id"] == gateway.id
    assert meter_1["last_ts"] == "2026-03-01T00:00:30Z"
    assert meter_1["last_seen_at"] is not None


def test_latest_reading_per_point_is_by_sample_time(
    client: TestClient, admin: Login, gateway: RegisteredGateway
) -> None:
    _load(client, gateway)

    latest = client.get(
        f"/api/v1/devices/{gateway.id}/meter-1/latest", headers=admin.headers
    ).json()

    assert [(r["point"], r["value"], r["seq"]) for r in latest] == [
        ("energy", "100.002", 5),
        ("voltage", "230.1", 1),
    ]


def test_latest_survives_a_later_batch_of_older_samples(
    client: TestClient, admin: Login, gateway: RegisteredGateway
) -> None:
    """A gateway catching up after an outage sends old samples with new seqs."""
    _load(client, gateway)
    old = T0 + timedelta(seconds=5)
    new = T0 + timedelta(seconds=60)
    late = [
        reading(7, point="voltage", value="200.0", ts=old.isoformat()),
        reading(8, point="energy", value="100.003", ts=new.isoformat()),
    ]
    answer = client.post(
        "/api/v1/ingest",
        json=batch(gateway.id, 7, 8, readings=late),
        headers=gateway.headers,
    )
    assert answer.status_code == 200, answer.text

    latest = client.get(
        f"/api/v1/devices/{gateway.id}/meter-1/latest", headers=admin.headers
    ).json()

    assert [(r["point"], r["value"]) for r in latest] == [
        ("energy", "100.003"),
        ("voltage", "230.1"),
    ]


def test_range_is_ordered_by_time_and_paginated(
    client: TestClient, admin: Login, gateway: RegisteredGateway
) -> None:
    _load(client, gateway)
    query = {"gateway_id": gateway.id, "device_id": "meter-1", "point": "voltage"}

    whole = client.get("/api/v1/readings", params=query, headers=admin.headers).json()
    page = client.get(
        "/api/v1/readings",
        params={**query, "skip": 1, "limit": 1},
        headers=admin.headers,
    ).json()

    assert [r["value"] for r in whole["data"]] == ["229.9", "231.0", "230.1"]
    assert whole["count"] == 3
    assert [r["value"] for r in page["data"]] == ["231.0"]
    assert page["count"] == 3


def test_range_start_is_inclusive_and_end_exclusive(
    client: TestClient, admin: Login, gateway: RegisteredGateway
) -> None:
    _load(client, gateway)
    query = {
        "gateway_id": gateway.id,
        "device_id": "meter-1",
        "point": "voltage",
        "start": (T0 + timedelta(seconds=10)).isoformat(),
        "end": (T0 + timedelta(seconds=30)).isoformat(),
    }

    answer = client.get("/api/v1/readings", params=query, headers=admin.headers).json()

    assert [r["ts"] for r in answer["data"]] == [
        "2026-03-01T00:00:10Z",
        "2026-03-01T00:00:20Z",
    ]


def test_range_with_other_timezone_means_the_same_instant(
    client: TestClient, admin: Login, gateway: RegisteredGateway
) -> None:
    _load(client, gateway)
    query = {
        "gateway_id": gateway.id,
        "device_id": "meter-1",
        "point": "voltage",
        "start": "2026-03-01T08:00:20+08:00",
    }

    answer = client.get("/api/v1/readings", params=query, headers=admin.headers).json()

    assert [r["value"] for r in answer["data"]] == ["231.0", "230.1"]


def test_naive_range_bound_is_422(
    client: TestClient, admin: Login, gateway: RegisteredGateway
) -> None:
    query = {
        "gateway_id": gateway.id,
        "device_id": "meter-1",
        "point": "voltage",
        "start": "2026-03-01T00:00:00",
    }

    answer = client.get("/api/v1/readings", params=query, headers=admin.headers)

    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == ["query", "start"]


def test_quality_and_reason_are_kept(
    client: TestClient, admin: Login, gateway: RegisteredGateway
) -> None:
    _load(client, gateway)

    latest = client.get(
        f"/api/v1/devices/{gateway.id}/meter-2/latest", headers=admin.headers
    ).json()

    assert [(r["quality"], r["reason"]) for r in latest] == [("unavailable", "timeout")]


def test_other_organization_cannot_read(
    app: FastAPI, client: TestClient, gateway: RegisteredGateway
) -> None:
    _load(client, gateway)
    stranger = create_admin(app, client)
    query = {"gateway_id": gateway.id, "device_id": "meter-1", "point": "voltage"}

    devices = client.get("/api/v1/devices", headers=stranger.headers).json()
    latest = client.get(
        f"/api/v1/devices/{gateway.id}/meter-1/latest", headers=stranger.headers
    )
    readings = client.get("/api/v1/readings", params=query, headers=stranger.headers)

    assert devices == {"data": [], "count": 0}
    assert latest.status_code == 404
    assert readings.status_code == 404
