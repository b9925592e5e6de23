"""Billing in the demo: the site a real building would have, then a billing run.

``prepare`` gives the demo cloud what an estate office enters before billing: in
the building the gateway is placed in (made and placed when it is in none), the
three flats whose SDM120 meters the simulator plays (``apt-101`` to ``apt-103``
on the RS-485 line), a tenant and a lease per flat from today, an electricity
meter point per flat, and the Zhejiang tiered residential tariff (0.538 / 0.588 /
0.838 元 per kWh, annual tiers at 2760 and 4800 kWh;
``/work/shared/data/billing/china_tariffs.md``).

``bill`` runs at the end: each flat's meter is commissioned with its first stored
reading as the installation reading (what a technician notes when fitting it),
then a billing run covers today in the property's time zone, is approved, and the
invoices come back as a short summary. Usage lines are the engine's consumption of
the readings the gateway sent; nothing here computes a charge.

Everything goes through the cloud's public API with an ``httpx.Client``, so the
same functions run against the demo's cloud process and, in tests, in-process.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import httpx

API = "/api/v1"
TIMEZONE = "Asia/Shanghai"
FLATS = {"apt-101": "Li Lei", "apt-102": "Han Meimei", "apt-103": "Wang Fang"}
ENERGY_POINT = "import_energy"
ZHEJIANG_TIERS = [
    {"up_to": "2760", "rate": "0.538"},
    {"up_to": "4800", "rate": "0.588"},
    {"rate": "0.838"},
]


class DemoBillingError(Exception):
    """The cloud refused a step of the demo's billing setup or run."""


@dataclass
class BillingSite:
    """What ``prepare`` made: ids the run needs later, per simulated meter."""

    gateway_id: str
    property_id: int = 0
    meter_points: dict[str, int] = field(default_factory=dict)
    leases: dict[str, int] = field(default_factory=dict)


def session(base_url: str, email: str, password: str) -> httpx.Client:
    """A client of the cloud API logged in as ``email``."""
    client = httpx.Client(base_url=base_url, timeout=30)
    token = _ok(
        client.post(
            f"{API}/auth/token", data={"username": email, "password": password}
        ),
        "log in to the cloud",
    )
    client.headers["Authorization"] = f"Bearer {token['access_token']}"
    return client


def _ok(answer: httpx.Response, what: str) -> Any:
    if answer.status_code >= 300:
        raise DemoBillingError(f"{what}: {answer.status_code} {answer.text[:300]}")
    return answer.json()


def today(now: datetime | None = None) -> str:
    return (now or datetime.now(UTC)).astimezone(ZoneInfo(TIMEZONE)).date().isoformat()


def prepare(
    client: httpx.Client, gateway_id: str, *, code: str = "DEMO"
) -> BillingSite:
    """Property, building, flats, tenants, leases, meter points and tariff."""
    site = BillingSite(gateway_id)
    site.property_id, building_id = _place(client, gateway_id, code)
    for device_id, tenant in FLATS.items():
        _flat(client, site, building_id, device_id, tenant)
    _ok(
        client.post(
            f"{API}/billing/tariffs",
            json={
                "property_id": site.property_id,
                "meter_kind": "electricity",
                "name": "Zhejiang residential tiered",
                "kind": "tiered",
                "versions": [
                    {
                        "effective_from": "2024-01-01T00:00:00+08:00",
                        "tiers": ZHEJIANG_TIERS,
                    }
                ],
            },
        ),
        "create the electricity tariff",
    )
    return site


def _place(client: httpx.Client, gateway_id: str, code: str) -> tuple[int, int]:
    """The property and building of the gateway; made and placed if it has none."""
    gateway = _ok(client.get(f"{API}/gateways/{gateway_id}"), "read the gateway")
    if gateway["building_id"] is not None:
        return int(gateway["property_id"]), int(gateway["building_id"])
    found = _ok(
        client.post(
            f"{API}/properties",
            json={"code": code, "name": "Demo residence", "kind": "residential"},
        ),
        "create the demo property",
    )
    building = _ok(
        client.post(
            f"{API}/buildings",
            json={"property_id": found["id"], "code": "A", "name": "Block A"},
        ),
        "create the demo building",
    )
    _ok(
        client.patch(
            f"{API}/gateways/{gateway_id}", json={"building_id": building["id"]}
        ),
        "place the gateway in the building",
    )
    return int(found["id"]), int(building["id"])


def _flat(
    client: httpx.Client,
    site: BillingSite,
    building_id: int,
    device_id: str,
    tenant: str,
) -> None:
    number = device_id.removeprefix("apt-")
    unit = _ok(
        client.post(
            f"{API}/units",
            json={
                "building_id": building_id,
                "number": number,
                "gross_area_m2": "89.37",
                "status": "leased",
            },
        ),
        f"create flat {number}",
    )
    person = _ok(
        client.post(
            f"{API}/people", json={"property_id": site.property_id, "name": tenant}
        ),
        f"create tenant {tenant}",
    )
    lease = _ok(
        client.post(
            f"{API}/leases",
            json={
                "reference": f"DEMO-{number}",
                "unit_ids": [unit["id"]],
                "tenant_id": person["id"],
                "start_date": today(),
                "rent": "3100.00",
                "deposit": "6200.00",
                "status": "active",
            },
        ),
        f"create the lease of flat {number}",
    )
    point = _ok(
        client.post(
            f"{API}/meter-points",
            json={
                "kind": "electricity",
                "name": f"{number} power",
                "unit_id": unit["id"],
            },
        ),
        f"create the meter point of flat {number}",
    )
    site.meter_points[device_id] = point["id"]
    site.leases[device_id] = lease["id"]


def first_reading(
    client: httpx.Client, gateway_id: str, device_id: str
) -> dict[str, Any] | None:
    """The oldest good reading the cloud holds of the device's energy counter."""
    page = _ok(
        client.get(
            f"{API}/readings",
            params={
                "gateway_id": gateway_id,
                "device_id": device_id,
                "point": ENERGY_POINT,
                "limit": 500,
            },
        ),
        f"read {device_id}'s readings",
    )
    good = [r for r in page["data"] if r["quality"] == "good" and r["value"]]
    return good[0] if good else None


def commission_meters(client: httpx.Client, site: BillingSite) -> list[str]:
    """Install each flat's meter at its first stored reading; the devices done."""
    done = []
    for device_id, point_id in site.meter_points.items():
        first = first_reading(client, site.gateway_id, device_id)
        if first is None:
            continue
        _ok(
            client.post(
                f"{API}/meters",
                json={
                    "meter_point_id": point_id,
                    "serial": f"SDM120-{device_id}",
                    "manufacturer": "Eastron",
                    "model": "SDM120",
                    "register_modulus": "10000000",
                    "installed_at": first["ts"],
                    "initial_reading": first["value"],
                    "gateway_id": site.gateway_id,
                    "device_id": device_id,
                    "point": ENERGY_POINT,
                },
            ),
            f"install the meter of {device_id}",
        )
        done.append(device_id)
    return done


def bill(client: httpx.Client, site: BillingSite) -> dict[str, Any]:
    """Commission the meters, bill today, approve, and summarise the invoices."""
    commissioned = commission_meters(client, site)
    day = today()
    (run,) = _ok(
        client.post(
            f"{API}/billing/runs",
            json={
                "property_id": site.property_id,
                "period_first": day,
                "period_last": day,
            },
        ),
        "run billing",
    )
    _ok(client.post(f"{API}/billing/runs/{run['id']}/approve"), "approve the run")
    invoices = [
        _ok(client.get(f"{API}/billing/invoices/{invoice_id}"), "read an invoice")
        for invoice_id in run["invoice_ids"]
    ]
    return summarise(run, invoices, commissioned, site)


def summarise(
    run: dict[str, Any],
    invoices: list[dict[str, Any]],
    commissioned: list[str],
    site: BillingSite,
) -> dict[str, Any]:
    device_of = {point: device for device, point in site.meter_points.items()}
    usage = [
        {
            "invoice": invoice["number"],
            "meter": device_of.get(line["meter_point_id"]),
            "kwh": line["quantity"],
            "rate": line["unit_price"],
            "amount": line["amount"],
            "readings": len(line["reading_ids"]),
        }
        for invoice in invoices
        for line in invoice["lines"]
        if line["kind"] == "electricity"
    ]
    total = sum((Decimal(invoice["total"]) for invoice in invoices), Decimal(0))
    return {
        "run_id": run["id"],
        "period": run["period_first"],
        "meters_commissioned": commissioned,
        "held_readings": run["held_readings"],
        "invoices": [
            {
                "number": invoice["number"],
                "total": invoice["total"],
                "lines": len(invoice["lines"]),
            }
            for invoice in invoices
        ],
        "usage_lines": usage,
        "usage_kwh": str(sum((Decimal(u["kwh"]) for u in usage), Decimal(0))),
        "total": str(total),
    }
