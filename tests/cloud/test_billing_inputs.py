"""Tariffs, settings and readings entered for billing: bad input is refused with
its reason; held readings are listed and a rejected one stops holding others."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.cloud.billing_site import Site, make_site, run_march
from tests.cloud.helpers import Login, batch


@pytest.fixture
def site(client: TestClient, admin: Login) -> Site:
    return make_site(client, admin)


def _tariff(client: TestClient, admin: Login, site: Site, **fields: Any) -> Any:
    body = {
        "property_id": site.property_id,
        "meter_kind": "water",
        "name": "Junlian water",
        "kind": "tiered",
        "versions": [
            {
                "effective_from": "2026-01-01T00:00:00+08:00",
                "tiers": [
                    {"up_to": "240", "rate": "1.30"},
                    {"up_to": "360", "rate": "1.95"},
                    {"rate": "3.90"},
                ],
            }
        ],
    }
    return client.post(
        "/api/v1/billing/tariffs", json=body | fields, headers=admin.headers
    )


def test_a_tiered_tariff_keeps_its_tiers_and_takes_a_price_change(
    client: TestClient, admin: Login, site: Site
) -> None:
    created = _tariff(client, admin, site)
    change = client.post(
        f"/api/v1/billing/tariffs/{created.json()['id']}/versions",
        json={
            "effective_from": "2026-07-01T00:00:00+08:00",
            "tiers": [{"up_to": "240", "rate": "1.40"}, {"rate": "2.10"}],
        },
        headers=admin.headers,
    )
    same_day = client.post(
        f"/api/v1/billing/tariffs/{created.json()['id']}/versions",
        json={"effective_from": "2026-07-01T00:00:00+08:00", "tiers": [{"rate": "1"}]},
        headers=admin.headers,
    )

    assert created.status_code == 201, created.text
    assert [v["tiers"][0]["rate"] for v in change.json()["versions"]] == [
        "1.30",
        "1.40",
    ]
    assert same_day.status_code == 409
    assert "already has a version from" in same_day.text


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        pytest.param(
            {"kind": "flat"},
            "A flat tariff has one rate; this version has 3 tiers",
            id="flat-with-tiers",
        ),
        pytest.param(
            {
                "versions": [
                    {
                        "effective_from": "2026-01-01T00:00:00+08:00",
                        "tiers": [{"up_to": "240", "rate": "1.30"}],
                    }
                ]
            },
            "needs tiers ending in one without an upper limit",
            id="last-tier-capped",
        ),
        pytest.param(
            {
                "versions": [
                    {
                        "effective_from": "2026-01-01T00:00:00+08:00",
                        "tiers": [
                            {"up_to": "360", "rate": "1.30"},
                            {"up_to": "240", "rate": "1.95"},
                            {"rate": "3.90"},
                        ],
                    }
                ]
            },
            "tier limit 240 does not rise above the previous tier's edge 360",
            id="tiers-out-of-order",
        ),
        pytest.param(
            {
                "kind": "tou",
                "versions": [
                    {
                        "effective_from": "2026-01-01T00:00:00+08:00",
                        "tiers": [{"rate": "0.538"}],
                        "tou": {
                            "windows": [
                                {"start": "08:00", "end": "22:00", "band": "peak"},
                                {"start": "23:00", "end": "08:00", "band": "valley"},
                            ],
                            "band_rates": {"peak": "0.568", "valley": "0.288"},
                        },
                    }
                ],
            },
            "time-of-use windows leave a gap or overlap",
            id="tou-gap",
        ),
        pytest.param(
            {"timezone": "Mars/Olympus"},
            "time zone 'Mars/Olympus' is not a known IANA zone",
            id="unknown-zone",
        ),
    ],
)
def test_a_tariff_the_engine_refuses_is_a_422_with_its_reason(
    client: TestClient, admin: Login, site: Site, fields: dict[str, Any], reason: str
) -> None:
    answer = _tariff(client, admin, site, **fields)

    assert answer.status_code == 422
    assert reason in answer.text


def test_late_fee_rules_are_checked_when_set(client: TestClient, admin: Login) -> None:
    answer = client.patch(
        "/api/v1/billing/settings",
        json={"late_fee_rules": [{"effective_from": "2026-01-01", "daily_rate": "-1"}]},
        headers=admin.headers,
    )
    good = client.patch(
        "/api/v1/billing/settings",
        json={
            "allocation_order": "oldest_first",
            "late_fee_rules": [
                {"effective_from": "2026-01-01", "daily_rate": "0.0005", "minimum": "1"}
            ],
        },
        headers=admin.headers,
    )

    assert answer.status_code == 422
    assert "greater than or equal to 0" in answer.text
    assert good.status_code == 200, good.text
    assert good.json()["allocation_order"] == "oldest_first"
    assert good.json()["late_fee_rules"][0]["daily_rate"] == "0.0005"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"value": "150", "taken_at": "2099-01-01T00:00:00Z"}, "is in the future"),
        ({"value": "100000", "taken_at": "2026-03-05T00:00:00Z"}, "wraps at 100000"),
        (
            {"value": "150", "taken_at": "2026-02-01T00:00:00Z"},
            "is outside the service time of meter",
        ),
    ],
    ids=["future", "beyond-register", "before-installation"],
)
def test_a_manual_reading_that_cannot_be_right_is_refused_with_its_reason(
    client: TestClient, admin: Login, site: Site, body: dict[str, str], reason: str
) -> None:
    answer = client.post(
        f"/api/v1/billing/meters/{site.meter['id']}/readings",
        json=body,
        headers=admin.headers,
    )

    assert answer.status_code == 422
    assert reason in answer.text


def test_an_estimated_manual_reading_is_billed_and_marked(
    client: TestClient, admin: Login
) -> None:
    site = make_site(client, admin, days=20)
    # The gateway's readings stop on 20 March; the office estimates 1 April.
    answer = client.post(
        f"/api/v1/billing/meters/{site.meter['id']}/readings",
        json={"value": "410", "taken_at": "2026-03-31T16:00:00Z", "estimated": True},
        headers=admin.headers,
    )
    assert answer.status_code == 201, answer.text

    run = run_march(client, admin, site)

    invoice = client.get(
        f"/api/v1/billing/invoices/{run['invoice_ids'][0]}", headers=admin.headers
    ).json()
    (usage,) = [line for line in invoice["lines"] if line["kind"] == "electricity"]
    assert Decimal(usage["quantity"]) == Decimal(220)
    assert usage["estimated"] is True
    assert usage["reading_ids"][-1] == f"manual:{answer.json()['id']}"


def test_a_lower_reading_is_held_for_review_and_rejecting_it_releases_the_rest(
    client: TestClient, admin: Login, site: Site
) -> None:
    wrong = {
        "seq": 100,
        "device_id": "meter-1",
        "point": "import_energy",
        "ts": "2026-04-01T04:00:00Z",
        "value": "5.0",
        "unit": "kWh",
    }
    sent = client.post(
        "/api/v1/ingest",
        json=batch(
            site.gateway.id,
            32,
            100,
            readings=[wrong],
            gaps=[{"first_seq": 32, "last_seq": 99, "reason": "test"}],
        ),
        headers=site.gateway.headers,
    )
    assert sent.status_code == 200, sent.text
    path = f"/api/v1/billing/properties/{site.property_id}/held-readings"

    held = client.get(path, headers=admin.headers).json()
    review = client.post(
        f"/api/v1/billing/meters/{site.meter['id']}/reviews",
        json={"reading_ref": held[0]["reading_ref"], "decision": "rejected"},
        headers=admin.headers,
    )
    after = client.get(path, headers=admin.headers).json()

    assert [(h["reading_ref"], h["code"]) for h in held] == [
        (f"gw:{site.gateway.id}:100", "lower_not_rollover")
    ]
    assert "is lower than the last accepted 410" in held[0]["reason"]
    assert review.status_code == 201, review.text
    assert after == []


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"timezone": None}, "timezone cannot be null"),
        ({"payment_terms_days": None}, "payment_terms_days cannot be null"),
        ({"timezone": "Mars/Olympus"}, "Mars/Olympus"),
    ],
    ids=["null-timezone", "null-terms", "unknown-zone"],
)
def test_settings_that_cannot_be_right_are_refused_and_the_old_ones_kept(
    client: TestClient, admin: Login, body: dict[str, Any], reason: str
) -> None:
    before = client.get("/api/v1/billing/settings", headers=admin.headers).json()

    answer = client.patch("/api/v1/billing/settings", json=body, headers=admin.headers)
    cleared = client.patch(
        "/api/v1/billing/settings",
        json={"reminder_target": None},
        headers=admin.headers,
    )

    assert answer.status_code == 422, answer.text
    assert reason in answer.text
    assert cleared.status_code == 200, cleared.text
    after = client.get("/api/v1/billing/settings", headers=admin.headers).json()
    assert after | {"updated_at": None} == before | {"updated_at": None}
