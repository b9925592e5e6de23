import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from cloud.models import Base, RefreshToken, Unit
from cloud.services.access import (
    ENTITY_RULES,
    ORG_ADMIN_PERMISSIONS,
    ROLE_PERMISSIONS,
    Permission,
    Reach,
    Scope,
    rule_for,
)
from tests.cloud.helpers import (
    Login,
    create_admin,
    created,
    make_estate,
    make_person,
    make_user,
)


def test_roles_on_two_properties_each_reach_as_far_as_they_go(
    app: FastAPI, client: TestClient, admin: Login
) -> None:
    """Manager of one property, tenant in another: every unit of the first, only
    the rented one of the second."""
    managed, rented = make_estate(client, admin), make_estate(client, admin)
    person = make_person(client, admin, rented.property["id"])
    created(
        client.post(
            "/api/v1/leases",
            json={
                "reference": "R-7",
                "unit_ids": [rented.units[1]["id"]],
                "tenant_id": person["id"],
                "start_date": "2026-01-01",
                "rent": "800",
                "status": "active",
            },
            headers=admin.headers,
        )
    )
    user = make_user(
        app,
        client,
        admin,
        [
            (managed.property["id"], "property_manager"),
            (rented.property["id"], "tenant"),
        ],
        person["id"],
    )

    units = client.get("/api/v1/units", headers=user).json()
    write_rented = client.patch(
        f"/api/v1/units/{rented.units[1]['id']}", json={"floor": 1}, headers=user
    )

    assert [u["id"] for u in units["data"]] == [
        *(u["id"] for u in managed.units),
        rented.units[1]["id"],
    ]
    assert write_rented.status_code == 403


def test_a_job_scope_covers_its_organization_only(
    app: FastAPI, client: TestClient, admin: Login
) -> None:
    mine = make_estate(client, admin)
    other_admin = create_admin(app, client)
    make_estate(client, other_admin)

    with app.state.pams.session_factory() as session:
        job = Scope.system(admin.organization_id, "billing run")
        job.bind(session)
        units = list(session.scalars(job.visible(Unit).order_by(Unit.id)))

    assert [unit.id for unit in units] == [unit["id"] for unit in mine.units]


def test_a_model_without_a_rule_cannot_be_read_through_a_scope() -> None:
    with pytest.raises(TypeError, match="RefreshToken has no access rule"):
        rule_for(RefreshToken)


def test_every_scoped_model_has_a_property_or_organization_path() -> None:
    """Each rule answers both questions a scope asks of it."""
    for model, rule in ENTITY_RULES.items():
        assert issubclass(model, Base)
        assert rule.in_properties([1]) is not None
        assert rule.in_organization(1) is not None
        assert rule.read in ORG_ADMIN_PERMISSIONS


def test_owners_and_tenants_reach_only_their_own_records() -> None:
    for role in ("owner", "tenant"):
        assert set(ROLE_PERMISSIONS[role].values()) == {Reach.OWN}
        assert Permission.EQUIPMENT_READ not in ROLE_PERMISSIONS[role]
