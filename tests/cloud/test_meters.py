from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from cloud.billing import MeterReading, build_series
from cloud.models import Meter
from cloud.services.meters import installation_of
from tests.cloud.helpers import (
    Estate,
    Login,
    RegisteredGateway,
    created,
    make_estate,
    register_gateway,
)


@pytest.fixture
def estate(client: TestClient, admin: Login) -> Estate:
    return make_estate(client, admin)


def _point(client: TestClient, admin: Login, estate: Estate) -> dict[str, Any]:
    body = {
        "kind": "electricity",
        "name": "101 power",
        "unit_id": estate.units[0]["id"],
    }
    return created(
        client.post("/api/v1/meter-points", json=body, headers=admin.headers)
    )


def _install(client: TestClient, admin: Login, point_id: int, **fields: Any) -> Any:
    body = {
        "meter_point_id": point_id,
        "serial": "SDM120-0001",
        "manufacturer": "Eastron",
        "multiplier": "1",
        "register_modulus": "100000",
        "installed_at": "2026-01-01T00:00:00Z",
        "initial_reading": "99950.0",
    }
    return client.post("/api/v1/meters", json=body | fields, headers=admin.headers)


def test_a_point_takes_one_meter_at_a_time(
    client: TestClient, admin: Login, estate: Estate
) -> None:
    point = _point(client, admin, estate)

    first = _install(client, admin, point["id"])
    second = _install(client, admin, point["id"], serial="other")

    assert first.status_code == 201
    assert (point["unit_id"], point["building_id"]) == (
        estate.units[0]["id"],
        estate.building["id"],
    )
    assert second.status_code == 409
    assert second.json()["field"] == "meter_point_id"


def test_a_replacement_keeps_the_history_the_bill_needs(
    app: FastAPI, client: TestClient, admin: Login, estate: Estate
) -> None:
    """Old meter: 99950 → wraps → 20 at removal; new one: 0 → 30. Billed: 100."""
    point = _point(client, admin, estate)
    old = created(_install(client, admin, point["id"]))

    new = created(
        client.post(
            f"/api/v1/meters/{old['id']}/replace",
            json={
                "removed_at": "2026-02-01T00:00:00Z",
                "final_reading": "20",
                "new": {
                    "serial": "SDM120-0002",
                    "register_modulus": "100000",
                    "installed_at": "2026-02-01T00:00:00Z",
                    "initial_reading": "0",
                },
            },
            headers=admin.headers,
        )
    )
    history = client.get(
        f"/api/v1/meter-points/{point['id']}", headers=admin.headers
    ).json()
    again = client.post(
        f"/api/v1/meters/{old['id']}/remove",
        json={"removed_at": "2026-03-01T00:00:00Z", "final_reading": "30"},
        headers=admin.headers,
    )

    assert [
        (m["serial"], m["removed_at"], m["final_reading"]) for m in history["meters"]
    ] == [
        ("SDM120-0001", "2026-02-01T00:00:00Z", "20"),
        ("SDM120-0002", None, None),
    ]
    assert new["meter_point_id"] == point["id"]
    assert again.status_code == 409

    with app.state.pams.session_factory() as session:
        installations = [
            installation_of(session.get(Meter, meter["id"]))  # type: ignore[arg-type]
            for meter in history["meters"]
        ]
    series = build_series(
        str(point["id"]),
        installations,
        [
            MeterReading(
                "r1", str(new["id"]), datetime(2026, 3, 1, tzinfo=UTC), Decimal(30)
            ),
        ],
        now=datetime(2026, 3, 2, tzinfo=UTC),
    )
    assert series.held == ()
    assert sum(delta.quantity for delta in series.deltas) == Decimal(100)


def test_a_reading_outside_the_register_is_422(
    client: TestClient, admin: Login, estate: Estate
) -> None:
    point = _point(client, admin, estate)

    answer = _install(client, admin, point["id"], initial_reading="100000")

    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == ["body", "initial_reading"]


def test_a_meter_is_read_through_a_gateway_of_its_property(
    client: TestClient, admin: Login, estate: Estate, gateway: RegisteredGateway
) -> None:
    point = _point(client, admin, estate)
    source = {"gateway_id": gateway.id, "device_id": "meter-1", "point": "energy"}

    unplaced = _install(client, admin, point["id"], **source)
    client.patch(
        f"/api/v1/gateways/{gateway.id}",
        json={"building_id": estate.building["id"]},
        headers=admin.headers,
    )
    placed = _install(client, admin, point["id"], **source)
    partial = client.patch(
        f"/api/v1/meters/{created(placed)['id']}",
        json={"device_id": None},
        headers=admin.headers,
    )

    assert unplaced.status_code == 422
    assert unplaced.json()["detail"][0]["msg"].startswith(
        f"Gateway {gateway.id!r} is not placed in property"
    )
    assert partial.status_code == 422
    assert partial.json()["detail"][0]["loc"] == ["body", "gateway_id"]


def test_gateways_are_placed_in_buildings_and_report_health(
    client: TestClient, admin: Login, estate: Estate
) -> None:
    gateway = register_gateway(client, admin)

    placed = client.patch(
        f"/api/v1/gateways/{gateway.id}",
        json={"building_id": estate.building["id"], "name": "basement"},
        headers=admin.headers,
    ).json()
    client.post(
        "/api/v1/ingest",
        json={
            "gateway_id": gateway.id,
            "batch_id": "b",
            "first_seq": 1,
            "last_seq": 1,
            "sent_at": "2026-03-01T00:00:00Z",
            "readings": [
                {
                    "seq": 1,
                    "device_id": "m",
                    "point": "p",
                    "ts": "2026-03-01T00:00:00Z",
                    "value": "1",
                }
            ],
        },
        headers=gateway.headers,
    )
    seen = client.get(f"/api/v1/gateways/{gateway.id}", headers=admin.headers).json()
    by_building = client.get(
        "/api/v1/gateways",
        params={"building_id": estate.building["id"]},
        headers=admin.headers,
    ).json()

    assert (placed["building_id"], placed["property_id"], placed["name"]) == (
        estate.building["id"],
        estate.property["id"],
        "basement",
    )
    assert (placed["health"], seen["health"]) == ("never_seen", "ok")
    assert [g["id"] for g in by_building["data"]] == [gateway.id]
