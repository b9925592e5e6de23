"""A property with a building, a unit and a pump, and a system session over it, for
the job tests that drive the clock themselves."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from cloud.services.access import Scope
from tests.cloud.helpers import Login, created, make_estate


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
