"""A populated cloud for access tests: two organizations, three properties, a user
per role, and a full set of records in every property.

Organization A has properties ``own`` (where every role user holds their role) and
``sibling`` (where nobody but the administrator does); organization B has
``stranger``. Each property has a building, two units, an owner, a tenant and a
third person, two active leases, a share, equipment with an inspection and
documents, a meter, and a gateway that has sent readings.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from cloud.db import create_db_engine
from cloud.main import create_app
from cloud.models import AuditEntry, Role
from cloud.schemas.equipment import EquipmentCreate, InspectionCreate
from cloud.schemas.leases import LeaseCreate
from cloud.schemas.meters import MeterCreate, MeterPointCreate
from cloud.schemas.people import PersonCreate
from cloud.schemas.properties import (
    BuildingCreate,
    OwnershipShareCreate,
    PropertyCreate,
    UnitCreate,
)
from cloud.schemas.users import GrantCreate
from cloud.services import (
    accounts,
    attachments,
    equipment,
    gateways,
    leases,
    meters,
    migrations,
    people,
    properties,
    users,
)
from cloud.services.access import Scope
from cloud.services.security import password_hasher
from cloud.settings import Settings
from tests.cloud.helpers import PASSWORD, batch, login

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
ROLES = tuple(role.value for role in Role)
_counter = itertools.count(1)


def fresh(prefix: str) -> str:
    return f"{prefix}-{next(_counter)}"


@dataclass
class Side:
    """The records of one property."""

    organization_id: int
    property_id: int
    property_code: str
    building_id: int
    building_code: str
    unit_id: int  # owned by the owner, rented by the tenant
    unit_number: str
    other_unit_id: int  # rented by the third person
    owner_person_id: int
    tenant_person_id: int
    other_person_id: int
    tenant_ref: str
    lease_id: int
    other_lease_id: int
    share_id: int
    equipment_id: int
    inspection_id: int
    equipment_attachment_id: int
    lease_attachment_id: int
    meter_point_id: int
    meter_id: int
    gateway_id: str
    user_id: int  # a user of the organization with no role
    audit_id: int = 0
    device_id: str = "meter-1"
    point: str = "import_energy"

    def person_for(self, role: str) -> int:
        """The person a role user looks at: owners and tenants, themselves."""
        if role == Role.OWNER:
            return self.owner_person_id
        return self.tenant_person_id


@dataclass
class World:
    app: FastAPI
    client: TestClient
    own: Side
    sibling: Side
    stranger: Side
    headers: dict[str, dict[str, str]]
    user_ids: dict[str, int]

    def foreign(self, role: str) -> Side:
        """A property the role may not see: for an organization administrator,
        one of another organization; for the others, a sibling property."""
        return self.stranger if role == Role.ORG_ADMIN else self.sibling

    @contextmanager
    def acting(self, side: Side) -> Iterator[tuple[Session, Scope]]:
        """A committed session with the system scope of the side's organization."""
        with self.app.state.pams.session_factory() as session:
            scope = Scope.system(side.organization_id, "test world")
            scope.bind(session)
            yield session, scope
            session.commit()

    # --- fresh records, for requests that change or delete what they touch -------

    def fresh_building(self, side: Side) -> int:
        with self.acting(side) as (session, scope):
            return _building(session, scope, side.property_id, fresh("b")).id

    def fresh_unit(self, side: Side) -> int:
        with self.acting(side) as (session, scope):
            body = UnitCreate(building_id=side.building_id, number=fresh("u"))
            return properties.create_unit(session, scope, body).id

    def fresh_person(self, side: Side) -> int:
        with self.acting(side) as (session, scope):
            cipher = self.app.state.pams.identity_cipher
            return _person(cipher, session, scope, side.property_id, fresh("p")).id

    def fresh_share(self, side: Side) -> int:
        with self.acting(side) as (session, scope):
            body = OwnershipShareCreate(
                person_id=side.other_person_id, share=Decimal("0.001")
            )
            return properties.add_ownership_share(session, scope, side.unit_id, body).id

    def fresh_draft_lease(self, side: Side) -> int:
        with self.acting(side) as (session, scope):
            return _lease(
                session, scope, fresh("l"), side.other_unit_id, side.other_person_id
            ).id

    def fresh_equipment(self, side: Side) -> int:
        with self.acting(side) as (session, scope):
            return _equipment(session, scope, side.building_id).id

    def fresh_inspection(self, side: Side) -> int:
        with self.acting(side) as (session, scope):
            return _inspection(session, scope, side.equipment_id).id

    def fresh_meter_point(self, side: Side) -> int:
        with self.acting(side) as (session, scope):
            return _meter_point(session, scope, side.building_id).id

    def fresh_meter(self, side: Side) -> int:
        point = self.fresh_meter_point(side)
        with self.acting(side) as (session, scope):
            return _meter(session, scope, point).id

    def fresh_attachment(self, side: Side, parent: str) -> int:
        model, parent_id = _parent(side, parent)
        with self.acting(side) as (session, scope):
            upload = attachments.Upload(fresh("doc") + ".pdf", "application/pdf", PDF)
            store = self.app.state.pams.attachments
            return attachments.attach(
                session, scope, store, model, parent_id, upload
            ).id

    def fresh_grant(self, side: Side) -> tuple[int, int]:
        """A new user of the side's organization with a role there: (user, grant)."""
        with self.acting(side) as (session, scope):
            user = _user(session, side.organization_id, fresh("grantee"))
            body = GrantCreate(property_id=side.property_id, role="accountant")
            return user.id, users.grant_role(session, scope, user.id, body).id

    def fresh_gateway(self, side: Side) -> str:
        with self.acting(side) as (session, scope):
            return gateways.register(
                session,
                scope,
                gateway_id=fresh("gw"),
                name="",
                building_id=side.building_id,
            ).gateway.id


def _parent(side: Side, parent: str) -> tuple[Any, int]:
    from cloud.models import Equipment, Lease

    if parent == "equipment":
        return Equipment, side.equipment_id
    return Lease, side.lease_id


def build_world(app: FastAPI, client: TestClient) -> World:
    state = app.state.pams
    with state.session_factory() as session:
        org_a = _organization(session, "A")
        org_b = _organization(session, "B")
    world = World(
        app=app,
        client=client,
        own=_side(app, client, org_a, "own"),
        sibling=_side(app, client, org_a, "sibling"),
        stranger=_side(app, client, org_b, "stranger"),
        headers={},
        user_ids={},
    )
    _role_users(world, org_a)
    return world


def _organization(session: Session, name: str) -> int:
    from cloud.services.audit import Actor, act_as

    act_as(session, Actor(label="test world"))
    admin = accounts.create_organization_with_admin(
        session,
        password_hasher("cheapest"),
        organization_name=fresh(f"org-{name}"),
        email=f"{fresh('admin')}-{id(session)}@example.org",
        password=PASSWORD,
    )
    session.info["admin_email"] = admin.email
    return admin.organization_id


def _user(session: Session, organization_id: int, name: str) -> Any:
    return accounts.create_user(
        session,
        password_hasher("cheapest"),
        organization_id=organization_id,
        email=f"{name}-{next(_counter)}-{organization_id}@example.org",
        password=PASSWORD,
    )


def _side(app: FastAPI, client: TestClient, organization_id: int, label: str) -> Side:
    state = app.state.pams
    with state.session_factory() as session:
        scope = Scope.system(organization_id, "test world")
        scope.bind(session)
        code = fresh(label)
        record = properties.create_property(
            session, scope, PropertyCreate(code=code, name=label, kind="mixed")
        )
        building = _building(session, scope, record.id, "main")
        unit, other_unit = (
            properties.create_unit(
                session, scope, UnitCreate(building_id=building.id, number=number)
            )
            for number in ("101", "102")
        )
        cipher = state.identity_cipher
        owner = _person(cipher, session, scope, record.id, fresh("owner"))
        tenant = _person(cipher, session, scope, record.id, fresh("tenant"))
        other = _person(cipher, session, scope, record.id, fresh("other"))
        share = properties.add_ownership_share(
            session,
            scope,
            unit.id,
            OwnershipShareCreate(person_id=owner.id, share=Decimal("0.5")),
        )
        lease = _lease(session, scope, fresh("L"), unit.id, tenant.id, active=True)
        other_lease = _lease(
            session, scope, fresh("L"), other_unit.id, other.id, active=True
        )
        item = _equipment(session, scope, building.id)
        inspection = _inspection(session, scope, item.id)
        store = state.attachments
        documents = [
            attachments.attach(
                session,
                scope,
                store,
                *_parent_of(kind, item.id, lease.id),
                attachments.Upload("doc.pdf", "application/pdf", PDF),
            )
            for kind in ("equipment", "lease")
        ]
        point = _meter_point(session, scope, building.id, unit_id=unit.id)
        issued = gateways.register(
            session, scope, gateway_id=fresh("gw"), name="", building_id=building.id
        )
        meter = _meter(session, scope, point.id, gateway_id=issued.gateway.id)
        spare = _user(session, organization_id, "spare")
        session.commit()
        side = Side(
            organization_id=organization_id,
            property_id=record.id,
            property_code=record.code,
            building_id=building.id,
            building_code=building.code,
            unit_id=unit.id,
            unit_number=unit.number,
            other_unit_id=other_unit.id,
            owner_person_id=owner.id,
            tenant_person_id=tenant.id,
            other_person_id=other.id,
            tenant_ref=str(tenant.external_ref),
            lease_id=lease.id,
            other_lease_id=other_lease.id,
            share_id=share.id,
            equipment_id=item.id,
            inspection_id=inspection.id,
            equipment_attachment_id=documents[0].id,
            lease_attachment_id=documents[1].id,
            meter_point_id=point.id,
            meter_id=meter.id,
            gateway_id=issued.gateway.id,
            user_id=spare.id,
        )
        side.audit_id = int(
            session.scalar(
                sa.select(sa.func.max(AuditEntry.id)).where(
                    AuditEntry.property_id == record.id
                )
            )
            or 0
        )
    answer = client.post(
        "/api/v1/ingest",
        json=batch(side.gateway_id, 1, 3),
        headers={"Authorization": f"Bearer {issued.token}"},
    )
    assert answer.status_code == 200, answer.text
    return side


def _parent_of(kind: str, equipment_id: int, lease_id: int) -> tuple[Any, int]:
    from cloud.models import Equipment, Lease

    return (Equipment, equipment_id) if kind == "equipment" else (Lease, lease_id)


def _building(session: Session, scope: Scope, property_id: int, code: str) -> Any:
    body = BuildingCreate(property_id=property_id, code=code, name=code)
    return properties.create_building(session, scope, body)


def _person(
    cipher: Fernet, session: Session, scope: Scope, property_id: int, ref: str
) -> Any:
    body = PersonCreate(
        property_id=property_id,
        name=ref,
        external_ref=ref,
        identity_number="110101199003071234",
    )
    return people.create_person(session, scope, cipher, body)


def _lease(
    session: Session,
    scope: Scope,
    reference: str,
    unit_id: int,
    tenant_id: int,
    *,
    active: bool = False,
) -> Any:
    body = LeaseCreate(
        reference=reference,
        unit_ids=[unit_id],
        tenant_id=tenant_id,
        start_date=date(2026, 1, 1),
        end_date=date(2026, 12, 31),
        rent=Decimal("3000.00"),
        status="active" if active else "draft",
    )
    return leases.create_lease(session, scope, body)


def _equipment(session: Session, scope: Scope, building_id: int) -> Any:
    body = EquipmentCreate(
        building_id=building_id, category="elevator", name=fresh("lift")
    )
    return equipment.create_equipment(session, scope, body)


def _inspection(session: Session, scope: Scope, equipment_id: int) -> Any:
    body = InspectionCreate(
        kind="annual",
        authority="city",
        last_inspected_on=date(2026, 1, 15),
        interval_months=12,
    )
    return equipment.add_inspection(session, scope, equipment_id, body)


def _meter_point(
    session: Session, scope: Scope, building_id: int, unit_id: int | None = None
) -> Any:
    body = MeterPointCreate(
        kind="electricity",
        name=fresh("point"),
        building_id=None if unit_id else building_id,
        unit_id=unit_id,
    )
    return meters.create_meter_point(session, scope, body)


def _meter(
    session: Session, scope: Scope, point_id: int, gateway_id: str | None = None
) -> Any:
    source = (
        {"gateway_id": gateway_id, "device_id": "meter-1", "point": "import_energy"}
        if gateway_id
        else {}
    )
    body = MeterCreate(
        meter_point_id=point_id,
        serial=fresh("sn"),
        register_modulus=Decimal(100000),
        installed_at=datetime(2026, 1, 1, tzinfo=UTC),
        initial_reading=Decimal("12.5"),
        **source,
    )
    return meters.install_meter(session, scope, body)


def _role_users(world: World, organization_id: int) -> None:
    """A user per role; all but the administrator hold their role on ``own``."""
    side = world.own
    with world.acting(side) as (session, scope):
        admin = _user(session, organization_id, "org_admin")
        admin.is_org_admin = True
        created = {Role.ORG_ADMIN.value: admin}
        for role in ROLES[1:]:
            user = _user(session, organization_id, role)
            if role in (Role.OWNER, Role.TENANT):
                user.person_id = side.person_for(role)
            session.flush()
            body = GrantCreate(property_id=side.property_id, role=role)
            users.grant_role(session, scope, user.id, body)
            created[role] = user
    for role, user in created.items():
        world.user_ids[role] = user.id
        world.headers[role] = login(world.client, user.email)


def backends(group: str) -> list[Any]:
    """Fixture params for a module-scoped world on each database; each backend is
    its own xdist group, so its world is built once, on one worker."""
    return [
        pytest.param(name, marks=pytest.mark.xdist_group(f"{group}-{name}"))
        for name in ("sqlite", "postgres")
    ]


@contextmanager
def running_world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    """A migrated database on ``request.param``'s backend, its app, and a world."""
    folder = tmp_path_factory.mktemp("world")
    if request.param == "sqlite":
        url = f"sqlite:///{folder / 'cloud.db'}"
    else:
        url = str(request.getfixturevalue("postgres_url"))
    settings = Settings(data_dir=folder, database_url=url, argon2_profile="cheapest")
    engine = create_db_engine(url)
    try:
        migrations.upgrade(engine)
    finally:
        engine.dispose()
    app = create_app(settings)
    with TestClient(app) as client:
        yield build_world(app, client)
