"""The demo's billing (``pams.demo_billing``) against an in-process cloud: usage
lines are the consumption of the readings the gateway sent, to the last digit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient

from pams import demo_billing
from tests.cloud.helpers import Login, RegisteredGateway, batch, fresh_id

SERIES = {
    "apt-101": ["1234.5", "1234.75", "1235.125", "1236.0"],
    "apt-102": ["50.00", "50.25", "50.75"],
    # A browning-out meter serves 0.0 once: held as a glitch, never billed.
    "apt-103": ["7.0", "7.1", "0.0", "7.2", "7.3"],
}


def _send_readings(client: TestClient, gateway: RegisteredGateway) -> None:
    now = datetime.now(UTC)
    midnight = datetime.combine(
        now.astimezone(ZoneInfo(demo_billing.TIMEZONE)).date(),
        datetime.min.time(),
        tzinfo=ZoneInfo(demo_billing.TIMEZONE),
    )
    start = max(now - timedelta(seconds=60), midnight + timedelta(seconds=1))
    readings: list[dict[str, Any]] = []
    for device_id, values in SERIES.items():
        for step, value in enumerate(values):
            readings.append(
                {
                    "seq": len(readings) + 1,
                    "device_id": device_id,
                    "point": demo_billing.ENERGY_POINT,
                    "ts": (start + timedelta(seconds=step * 5)).isoformat(),
                    "value": value,
                    "unit": "kWh",
                }
            )
    answer = client.post(
        "/api/v1/ingest",
        json=batch(gateway.id, 1, len(readings), readings=readings),
        headers=gateway.headers,
    )
    assert answer.status_code == 200, answer.text


def _stored_consumption(client: TestClient, gateway_id: str, device_id: str) -> Decimal:
    """Last minus first good reading of the counter, read back from the cloud."""
    answer = client.get(
        "/api/v1/readings",
        params={
            "gateway_id": gateway_id,
            "device_id": device_id,
            "point": demo_billing.ENERGY_POINT,
        },
    )
    values = [Decimal(r["value"]) for r in answer.json()["data"]]
    return values[-1] - values[0]


def test_the_demo_bills_usage_equal_to_the_stored_readings(
    client: TestClient, admin: Login, gateway: RegisteredGateway
) -> None:
    client.headers.update(admin.headers)
    site = demo_billing.prepare(client, gateway.id, code=fresh_id("DEMO"))
    _send_readings(client, gateway)

    summary = demo_billing.bill(client, site)

    assert summary["meters_commissioned"] == list(SERIES)
    assert len(summary["invoices"]) == 3
    assert all(invoice["number"].startswith("INV-") for invoice in summary["invoices"])
    by_meter = {line["meter"]: line for line in summary["usage_lines"]}
    for device_id in SERIES:
        expected = _stored_consumption(client, gateway.id, device_id)
        assert Decimal(by_meter[device_id]["kwh"]) == expected, device_id
        price = (expected * Decimal("0.538")).quantize(Decimal("0.01"), ROUND_HALF_UP)
        assert Decimal(by_meter[device_id]["amount"]) == price
    assert Decimal(by_meter["apt-103"]["kwh"]) == Decimal("0.3")
    assert summary["held_readings"] == 0
