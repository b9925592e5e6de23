"""Estates for the work order, job and notice tests: a property with a pump and a
system session over it (``Plant``), and one with a tenant, a technician and a manager
logged in (``Site``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from cloud.services.access import Scope
from tests.cloud.helpers import (
    Login,
    created,
    make_estate,
    make_person,
    make_user,
)

API = "/api/v1"


@dataclass(frozen=True)
class Plant:
    app: FastAPI
    organization_id: int
    property_id: int
    building_id: int
    unit_id: int
    equipment_id: int

    @contextmanager
    def session(self) -> Iterator[tuple[Session, Scope]]:
        """A session acting as the system, committed at the end."""
        with self.app.state.pams.session_factory() as session:
            scope = Scope.system(self.organization_id, "test")
            scope.bind(session)
            yield session, scope
            session.commit()


def make_plant(app: FastAPI, client: TestClient, admin: Login) -> Plant:
    estate = make_estate(client, admin)
    pump = created(
        client.post(
            "/api/v1/equipment",
            json={
                "building_id": estate.building["id"],
                "category": "pump",
                "name": "Booster pump 1",
            },
            headers=admin.headers,
        )
    )
    return Plant(
        app,
        admin.organization_id,
        estate.property["id"],
        estate.building["id"],
        estate.units[0]["id"],
        pump["id"],
    )


@dataclass(frozen=True)
class Site:
    property_id: int
    unit_id: int  # rented by the tenant
    other_unit_id: int
    lease_id: int
    tenant: dict[str, str]
    technician: dict[str, str]
    technician_id: int
    manager: dict[str, str]


def me(client: TestClient, headers: dict[str, str]) -> dict[str, Any]:
    answer = client.get(f"{API}/users/me", headers=headers)
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def make_site(app: FastAPI, client: TestClient, admin: Login) -> Site:
    estate = make_estate(client, admin)
    property_id, unit_id = estate.property["id"], estate.units[0]["id"]
    person = make_person(client, admin, property_id, name="Wang Fang")
    lease = created(
        client.post(
            f"{API}/leases",
            json={
                "reference": f"L-{unit_id}",
                "unit_ids": [unit_id],
                "tenant_id": person["id"],
                "start_date": "2026-01-01",
                "rent": "3200.00",
                "status": "active",
            },
            headers=admin.headers,
        )
    )
    tenant = make_user(app, client, admin, [(property_id, "tenant")], person["id"])
    technician = make_user(app, client, admin, [(property_id, "technician")])
    manager = make_user(app, client, admin, [(property_id, "property_manager")])
    return Site(
        property_id,
        unit_id,
        estate.units[1]["id"],
        lease["id"],
        tenant,
        technician,
        me(client, technician)["id"],
        manager,
    )
