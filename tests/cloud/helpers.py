"""Builders shared by the cloud tests: users, gateways and batches."""

from __future__ import annotations

import gzip
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from cloud.services import accounts
from cloud.services.audit import Actor, act_as
from cloud.services.security import password_hasher

PASSWORD = "correct horse battery staple"
T0 = datetime(2026, 3, 1, tzinfo=UTC)


def fresh_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@dataclass(frozen=True)
class Login:
    email: str
    user_id: int
    organization_id: int
    headers: dict[str, str]


def create_admin(app: FastAPI, client: TestClient) -> Login:
    """A new organization with its administrator, logged in."""
    state = app.state.pams
    email = f"{fresh_id('admin')}@example.org"
    with state.session_factory() as session:
        act_as(session, Actor(label="test setup"))
        user = accounts.create_organization_with_admin(
            session,
            password_hasher("cheapest"),
            organization_name=fresh_id("org"),
            email=email,
            password=PASSWORD,
        )
    return Login(email, user.id, user.organization_id, login(client, email))


def login(client: TestClient, email: str, password: str = PASSWORD) -> dict[str, str]:
    answer = client.post(
        "/api/v1/auth/token", data={"username": email, "password": password}
    )
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


@dataclass(frozen=True)
class RegisteredGateway:
    id: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def register_gateway(client: TestClient, admin: Login) -> RegisteredGateway:
    gateway_id = fresh_id("gw")
    answer = client.post(
        "/api/v1/gateways", json={"id": gateway_id}, headers=admin.headers
    )
    assert answer.status_code == 201, answer.text
    return RegisteredGateway(gateway_id, answer.json()["token"])


def reading(seq: int, **fields: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "seq": seq,
        "device_id": "meter-1",
        "point": "import_energy",
        "ts": (T0 + timedelta(seconds=seq)).isoformat(),
        "value": f"{seq}.5",
        "unit": "kWh",
    }
    record.update(fields)
    return record


def batch(
    gateway_id: str,
    first_seq: int = 1,
    last_seq: int | None = None,
    *,
    readings: list[dict[str, Any]] | None = None,
    events: list[dict[str, Any]] | None = None,
    gaps: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A batch dict; by default one reading for each seq in [first_seq, last_seq]."""
    last = first_seq if last_seq is None else last_seq
    if readings is None:
        readings = [reading(seq) for seq in range(first_seq, last + 1)]
    return {
        "gateway_id": gateway_id,
        "batch_id": f"{first_seq}-{last}",
        "first_seq": first_seq,
        "last_seq": last,
        "sent_at": T0.isoformat(),
        "readings": readings,
        "events": events or [],
        "gaps": gaps or [],
    }


def gzipped(body: dict[str, Any]) -> bytes:
    return gzip.compress(json.dumps(body).encode())


# --- the property model, through the API --------------------------------------


def created(answer: Any) -> dict[str, Any]:
    assert answer.status_code == 201, answer.text
    result: dict[str, Any] = answer.json()
    return result


def make_property(client: TestClient, admin: Login, **fields: Any) -> dict[str, Any]:
    body = {"code": fresh_id("P"), "name": "Riverside", "kind": "residential"}
    return created(
        client.post("/api/v1/properties", json=body | fields, headers=admin.headers)
    )


def make_building(
    client: TestClient, admin: Login, property_id: int, **fields: Any
) -> dict[str, Any]:
    body = {"property_id": property_id, "code": fresh_id("B"), "name": "Block A"}
    return created(
        client.post("/api/v1/buildings", json=body | fields, headers=admin.headers)
    )


def make_unit(
    client: TestClient, admin: Login, building_id: int, **fields: Any
) -> dict[str, Any]:
    body = {"building_id": building_id, "number": fresh_id("U")}
    return created(
        client.post("/api/v1/units", json=body | fields, headers=admin.headers)
    )


def make_person(
    client: TestClient, admin: Login, property_id: int, **fields: Any
) -> dict[str, Any]:
    body = {"property_id": property_id, "name": "Han Meimei"}
    return created(
        client.post("/api/v1/people", json=body | fields, headers=admin.headers)
    )


@dataclass(frozen=True)
class Estate:
    """A property with one building and two units, as the API answered them."""

    property: dict[str, Any]
    building: dict[str, Any]
    units: list[dict[str, Any]]


def make_estate(client: TestClient, admin: Login) -> Estate:
    record = make_property(client, admin)
    building = make_building(client, admin, record["id"])
    units = [make_unit(client, admin, building["id"]) for _ in range(2)]
    return Estate(record, building, units)


def make_user(
    app: FastAPI,
    client: TestClient,
    admin: Login,
    grants: list[tuple[int, str]],
    person_id: int | None = None,
) -> dict[str, str]:
    """A user with ``grants`` (property id, role), logged in: their headers."""
    email = f"{fresh_id('user')}@example.org"
    user = created(
        client.post(
            "/api/v1/users",
            json={"email": email, "password": PASSWORD, "person_id": person_id},
            headers=admin.headers,
        )
    )
    for property_id, role in grants:
        created(
            client.post(
                f"/api/v1/users/{user['id']}/grants",
                json={"property_id": property_id, "role": role},
                headers=admin.headers,
            )
        )
    return login(client, email)


def health_report(gateway_id: str) -> dict[str, Any]:
    """A gateway's health report, as ``sync.schema.HealthReport`` reads it."""
    return {
        "gateway_id": gateway_id,
        "sent_at": T0.isoformat(),
        "boot_id": "boot-1",
        "clock_trusted": True,
        "buffer_depth": 0,
        "oldest_unsent_age_s": 0,
        "last_seq": 0,
        "evicted_total": 0,
        "set_aside_total": 0,
        "devices": [{"device_id": "door-1", "protocol": "osdp", "online": True}],
    }
