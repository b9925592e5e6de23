"""Billing runs through the API: drafts from leases and meter readings, approval."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from cloud.services import billing
from cloud.services.access import Scope
from tests.cloud.billing_site import DAILY_KWH, Site, make_site, run_march
from tests.cloud.helpers import Login


@pytest.fixture
def site(client: TestClient, admin: Login) -> Site:
    return make_site(client, admin)


def _invoice(client: TestClient, admin: Login, invoice_id: int) -> dict:
    answer = client.get(f"/api/v1/billing/invoices/{invoice_id}", headers=admin.headers)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def test_a_run_drafts_rent_deposit_and_usage_from_the_readings(
    client: TestClient, admin: Login, site: Site
) -> None:
    run = run_march(client, admin, site)

    (invoice_id,) = run["invoice_ids"]
    invoice = _invoice(client, admin, invoice_id)
    lines = {line["kind"]: line for line in invoice["lines"]}
    assert invoice["status"] == "draft" and invoice["number"] is None
    assert invoice["person_id"] == site.tenant["id"]
    # Rent from 10 March: 22 of 31 days of 3100.00.
    assert Decimal(lines["rent"]["amount"]) == Decimal("2200.00")
    assert Decimal(lines["deposit"]["amount"]) == Decimal("5000.00")
    # Usage from local midnight of 10 March to 1 April: 22 days of 10 kWh; the
    # nine vacant days before the lease are not the tenant's.
    usage = lines["electricity"]
    assert Decimal(usage["quantity"]) == 22 * DAILY_KWH
    assert Decimal(usage["amount"]) == Decimal("110.00")
    assert usage["tariff_id"] == site.tariff["id"]
    assert usage["meter_point_id"] == site.meter_point["id"]
    assert usage["lease_id"] == site.lease["id"]
    assert usage["reading_ids"][0] == f"gw:{site.gateway.id}:9"
    assert Decimal(invoice["total"]) == Decimal("7310.00")


def test_running_the_same_period_again_replaces_the_drafts(
    client: TestClient, admin: Login, site: Site
) -> None:
    first = run_march(client, admin, site)
    second = run_march(client, admin, site)

    assert second["id"] == first["id"]
    assert len(second["invoice_ids"]) == 1
    listed = client.get(
        "/api/v1/billing/invoices",
        params={"run_id": first["id"]},
        headers=admin.headers,
    )
    assert listed.json()["count"] == 1


def test_approval_numbers_the_invoices_and_freezes_the_run(
    client: TestClient, admin: Login, site: Site
) -> None:
    run = run_march(client, admin, site)

    approved = client.post(
        f"/api/v1/billing/runs/{run['id']}/approve", headers=admin.headers
    )
    again = client.post(
        "/api/v1/billing/runs",
        json={
            "property_id": site.property_id,
            "period_first": "2026-03-01",
            "period_last": "2026-03-31",
        },
        headers=admin.headers,
    )

    assert approved.status_code == 200, approved.text
    invoice = _invoice(client, admin, run["invoice_ids"][0])
    assert invoice["status"] == "issued"
    assert invoice["number"].startswith("INV-") and invoice["number"].endswith(
        "-000001"
    )
    assert again.status_code == 409
    assert "is approved" in again.json()["detail"]


def test_a_period_that_ends_before_it_starts_is_refused_with_the_reason(
    client: TestClient, admin: Login, site: Site
) -> None:
    answer = client.post(
        "/api/v1/billing/runs",
        json={
            "property_id": site.property_id,
            "period_first": "2026-03-31",
            "period_last": "2026-03-01",
        },
        headers=admin.headers,
    )

    assert answer.status_code == 422
    assert "period_last 2026-03-01 is before period_first" in answer.text


def test_a_meter_kind_without_a_tariff_is_refused_with_the_reason(
    client: TestClient, admin: Login, site: Site
) -> None:
    water = client.post(
        "/api/v1/meter-points",
        json={"kind": "water", "name": "cold", "unit_id": site.estate.units[0]["id"]},
        headers=admin.headers,
    )
    assert water.status_code == 201

    answer = client.post(
        "/api/v1/billing/runs",
        json={
            "property_id": site.property_id,
            "period_first": "2026-03-01",
            "period_last": "2026-03-31",
        },
        headers=admin.headers,
    )

    assert answer.status_code == 422
    assert "has no water tariff" in answer.text


def test_one_off_charges_are_idempotent_and_land_on_the_next_invoice(
    app: FastAPI, client: TestClient, admin: Login, site: Site
) -> None:
    with app.state.pams.session_factory() as session:
        scope = Scope.system(admin.organization_id, "test")
        scope.bind(session)
        kwargs = {
            "property_id": site.property_id,
            "amount": Decimal("180.00"),
            "description": "Replaced the kitchen tap",
            "unit_id": site.estate.units[0]["id"],
            "source_ref": "WO-17",
            "charge_date": date(2026, 3, 20),
        }
        first = billing.add_one_off_charge(session, scope, **kwargs)
        second = billing.add_one_off_charge(session, scope, **kwargs)
        session.commit()
        assert first.id == second.id
        assert first.person_id == site.tenant["id"]

    run = run_march(client, admin, site)

    invoice = _invoice(client, admin, run["invoice_ids"][0])
    (line,) = [line for line in invoice["lines"] if line["kind"] == "one_off"]
    assert (line["source"], line["source_ref"]) == ("work_order", "WO-17")
    assert Decimal(line["amount"]) == Decimal("180.00")


def test_invoices_are_listed_by_status_and_an_unknown_status_is_refused(
    client: TestClient, admin: Login, site: Site
) -> None:
    run = run_march(client, admin, site)
    client.post(f"/api/v1/billing/runs/{run['id']}/approve", headers=admin.headers)

    def listed(status: str) -> Any:
        return client.get(
            "/api/v1/billing/invoices",
            params={"run_id": run["id"], "status": status},
            headers=admin.headers,
        )

    bogus = listed("unpaid")

    assert listed("issued").json()["count"] == 1
    assert listed("paid").json()["count"] == 0
    assert bogus.status_code == 422
    assert "status" in bogus.text and "'issued'" in bogus.text


def _run(client: TestClient, admin: Login, site: Site, first: str, last: str) -> Any:
    return client.post(
        "/api/v1/billing/runs",
        json={
            "property_id": site.property_id,
            "period_first": first,
            "period_last": last,
        },
        headers=admin.headers,
    )


def test_a_period_overlapping_another_run_is_refused_until_the_draft_is_deleted(
    client: TestClient, admin: Login, site: Site
) -> None:
    march = run_march(client, admin, site)

    straddling = _run(client, admin, site, "2026-03-15", "2026-04-14")
    deleted = client.delete(
        f"/api/v1/billing/runs/{march['id']}", headers=admin.headers
    )
    left = client.get(
        "/api/v1/billing/invoices",
        params={"run_id": march["id"]},
        headers=admin.headers,
    )
    after_delete = _run(client, admin, site, "2026-03-15", "2026-04-14")

    assert straddling.status_code == 409
    assert f"overlaps billing run {march['id']}" in straddling.json()["detail"]
    assert "delete that draft run first" in straddling.json()["detail"]
    assert deleted.status_code == 204
    assert left.json()["count"] == 0
    assert after_delete.status_code == 201, after_delete.text


def test_an_approved_run_is_neither_deleted_nor_overlapped(
    client: TestClient, admin: Login, site: Site
) -> None:
    march = run_march(client, admin, site)
    client.post(f"/api/v1/billing/runs/{march['id']}/approve", headers=admin.headers)

    deleted = client.delete(
        f"/api/v1/billing/runs/{march['id']}", headers=admin.headers
    )
    quarter = _run(client, admin, site, "2026-01-01", "2026-03-31")
    april = _run(client, admin, site, "2026-04-01", "2026-04-30")

    assert deleted.status_code == 409
    assert "is approved" in deleted.json()["detail"]
    assert quarter.status_code == 409
    assert "credit notes" in quarter.json()["detail"]
    assert april.status_code == 201, april.text


def test_a_period_starting_before_the_tariff_is_refused_naming_the_tariff(
    client: TestClient, admin: Login, site: Site
) -> None:
    early = _run(client, admin, site, "2025-12-01", "2026-03-31")

    assert early.status_code == 409, early.text
    detail = early.json()["detail"]
    assert f"tariff {site.tariff['id']} has no version in force" in detail
    assert "2025-12-01" in detail


def test_an_invoice_approved_after_its_due_date_gets_the_payment_terms_from_issue(
    client: TestClient, admin: Login, site: Site
) -> None:
    march = run_march(client, admin, site)  # due 15 April with 15 days' terms
    settings = client.get("/api/v1/billing/settings", headers=admin.headers).json()

    client.post(f"/api/v1/billing/runs/{march['id']}/approve", headers=admin.headers)

    invoice = client.get(
        f"/api/v1/billing/invoices/{march['invoice_ids'][0]}", headers=admin.headers
    ).json()
    issued = date.fromisoformat(invoice["issued_on"])
    assert issued > date(2026, 4, 15)
    assert issued == billing.local_today(datetime.now(UTC), settings["timezone"])
    assert date.fromisoformat(invoice["due_date"]) == issued + timedelta(
        days=settings["payment_terms_days"]
    )
