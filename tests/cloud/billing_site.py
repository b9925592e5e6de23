"""A billable site for the billing service tests, built through the API.

One property with a building and two units; a tenant whose lease of unit 1 starts
on 10 March 2026 (a mid-month start); a gateway placed in the building; an
electricity meter point on unit 1 whose meter is read through the gateway; a flat
tariff of 0.5 per kWh. The gateway sends one reading at each local midnight of
March (Asia/Shanghai) and at 1 April: 10 kWh a day, from 100.0 on 1 March.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from fastapi.testclient import TestClient

from tests.cloud.helpers import (
    Estate,
    Login,
    RegisteredGateway,
    batch,
    created,
    fresh_id,
    make_estate,
    make_person,
    register_gateway,
)

LOCAL_MARCH_1 = datetime(2026, 2, 28, 16, tzinfo=UTC)  # 00:00 in Asia/Shanghai
DAILY_KWH = Decimal(10)
FIRST_VALUE = Decimal(100)


@dataclass(frozen=True)
class Site:
    estate: Estate
    tenant: dict[str, Any]
    lease: dict[str, Any]
    gateway: RegisteredGateway
    meter_point: dict[str, Any]
    meter: dict[str, Any]
    tariff: dict[str, Any]

    @property
    def property_id(self) -> int:
        return int(self.estate.property["id"])


def daily_readings(days: int = 31) -> list[dict[str, Any]]:
    """Readings at local midnight of 2 March to 1 April (day 1 is the meter's
    installation reading)."""
    return [
        {
            "seq": day,
            "device_id": "meter-1",
            "point": "import_energy",
            "ts": (LOCAL_MARCH_1 + timedelta(days=day)).isoformat(),
            "value": str(FIRST_VALUE + DAILY_KWH * day),
            "unit": "kWh",
        }
        for day in range(1, days + 1)
    ]


def make_site(
    client: TestClient, admin: Login, *, rent: str = "3100.00", days: int = 31
) -> Site:
    estate = make_estate(client, admin)
    property_id = estate.property["id"]
    tenant = make_person(client, admin, property_id, name="Li Lei")
    lease = created(
        client.post(
            "/api/v1/leases",
            json={
                "reference": fresh_id("L"),
                "unit_ids": [estate.units[0]["id"]],
                "tenant_id": tenant["id"],
                "start_date": "2026-03-10",
                "rent": rent,
                "deposit": "5000.00",
                "status": "active",
            },
            headers=admin.headers,
        )
    )
    gateway = register_gateway(client, admin)
    placed = client.patch(
        f"/api/v1/gateways/{gateway.id}",
        json={"building_id": estate.building["id"]},
        headers=admin.headers,
    )
    assert placed.status_code == 200, placed.text
    point = created(
        client.post(
            "/api/v1/meter-points",
            json={
                "kind": "electricity",
                "name": "unit 1 power",
                "unit_id": estate.units[0]["id"],
            },
            headers=admin.headers,
        )
    )
    meter = created(
        client.post(
            "/api/v1/meters",
            json={
                "meter_point_id": point["id"],
                "serial": fresh_id("SDM120"),
                "register_modulus": "100000",
                "installed_at": LOCAL_MARCH_1.isoformat(),
                "initial_reading": str(FIRST_VALUE),
                "gateway_id": gateway.id,
                "device_id": "meter-1",
                "point": "import_energy",
            },
            headers=admin.headers,
        )
    )
    tariff = created(
        client.post(
            "/api/v1/billing/tariffs",
            json={
                "property_id": property_id,
                "meter_kind": "electricity",
                "name": "Residential flat",
                "versions": [
                    {
                        "effective_from": "2026-01-01T00:00:00+08:00",
                        "tiers": [{"rate": "0.5"}],
                    }
                ],
            },
            headers=admin.headers,
        )
    )
    readings = daily_readings(days)
    sent = client.post(
        "/api/v1/ingest",
        json=batch(gateway.id, 1, len(readings), readings=readings),
        headers=gateway.headers,
    )
    assert sent.status_code == 200, sent.text
    return Site(estate, tenant, lease, gateway, point, meter, tariff)


def run_march(client: TestClient, admin: Login, site: Site) -> dict[str, Any]:
    answer = client.post(
        "/api/v1/billing/runs",
        json={
            "property_id": site.property_id,
            "period_first": "2026-03-01",
            "period_last": "2026-03-31",
        },
        headers=admin.headers,
    )
    assert answer.status_code == 201, answer.text
    (run,) = answer.json()
    return dict(run)
