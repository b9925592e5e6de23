import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from cloud.models import AuditEntry, Property, Unit
from cloud.services.access import Scope
from cloud.services.audit import AuditActorMissingError
from tests.cloud.helpers import (
    Login,
    RegisteredGateway,
    batch,
    make_estate,
    make_person,
    make_user,
)


def _entries(client: TestClient, admin: Login, **filters: object) -> list[dict]:
    answer = client.get("/api/v1/audit", params=filters, headers=admin.headers)
    assert answer.status_code == 200, answer.text
    return list(answer.json()["data"])


def test_every_write_records_who_when_and_what_changed(
    client: TestClient, admin: Login
) -> None:
    estate = make_estate(client, admin)
    unit_id = estate.units[0]["id"]
    client.patch(
        f"/api/v1/units/{unit_id}",
        json={"layout": "studio", "floor": 4},
        headers=admin.headers,
    )

    entries = _entries(client, admin, entity="units", entity_id=str(unit_id))

    update, insert = entries
    assert update["action"] == "update"
    assert update["changes"] == {"floor": [None, 4], "layout": [None, "studio"]}
    assert update["actor"] == f"user {admin.user_id} ({admin.email})"
    assert update["actor_user_id"] == admin.user_id
    assert update["property_id"] == estate.property["id"]
    assert insert["action"] == "insert"
    assert insert["changes"]["number"] == [None, estate.units[0]["number"]]


def test_a_deletion_records_what_was_there(client: TestClient, admin: Login) -> None:
    estate = make_estate(client, admin)
    person = make_person(client, admin, estate.property["id"], name="Gone")

    client.delete(f"/api/v1/people/{person['id']}", headers=admin.headers)
    deleted = _entries(client, admin, entity="people", entity_id=str(person["id"]))[0]

    assert deleted["action"] == "delete"
    assert deleted["changes"]["name"] == ["Gone", None]


def test_secrets_never_reach_the_log(
    client: TestClient, admin: Login, gateway: RegisteredGateway
) -> None:
    estate = make_estate(client, admin)
    make_person(client, admin, estate.property["id"], identity_number="G12345678")
    client.patch(
        f"/api/v1/users/{admin.user_id}",
        json={"password": "a brand new password"},
        headers=admin.headers,
    )
    client.post(f"/api/v1/gateways/{gateway.id}/rotate-token", headers=admin.headers)

    log = _entries(client, admin, limit=500)
    text = str(log)
    password_change = _entries(
        client, admin, entity="users", entity_id=str(admin.user_id)
    )[0]

    assert "G12345678" not in text
    assert "argon2" not in text
    assert gateway.token not in text
    assert password_change["changes"] == {"password_hash": ["[redacted]"] * 2}
    person = next(e for e in log if e["entity"] == "people")
    assert person["changes"]["identity_number_encrypted"] == [None, "[redacted]"]
    assert person["changes"]["identity_number_last4"] == [None, "5678"]


def test_ingest_writes_no_audit_entries(
    client: TestClient, admin: Login, gateway: RegisteredGateway
) -> None:
    before = len(_entries(client, admin, limit=500))

    for first in (1, 11):
        answer = client.post(
            "/api/v1/ingest",
            json=batch(gateway.id, first, first + 9),
            headers=gateway.headers,
        )
        assert answer.status_code == 200

    assert len(_entries(client, admin, limit=500)) == before


def test_a_write_without_an_actor_is_refused(app: FastAPI, admin: Login) -> None:
    with app.state.pams.session_factory() as session:
        session.add(
            Property(
                organization_id=admin.organization_id,
                code="NOBODY",
                name="x",
                kind="office",
            )
        )
        with pytest.raises(AuditActorMissingError, match="has no actor"):
            session.flush()


def test_a_bulk_write_to_an_audited_table_is_refused(
    app: FastAPI, admin: Login
) -> None:
    with app.state.pams.session_factory() as session:
        Scope.system(admin.organization_id, "test").bind(session)
        with pytest.raises(AuditActorMissingError, match="bypass the audit log"):
            session.execute(sa.update(Unit).values(floor=1))


def test_a_job_scope_is_named_in_the_log(app: FastAPI, admin: Login) -> None:
    with app.state.pams.session_factory() as session:
        Scope.system(admin.organization_id, "nightly check").bind(session)
        session.add(
            Property(
                organization_id=admin.organization_id,
                code="JOB",
                name="x",
                kind="office",
            )
        )
        session.commit()
        entry = session.scalar(
            sa.select(AuditEntry)
            .where(AuditEntry.organization_id == admin.organization_id)
            .order_by(AuditEntry.id.desc())
        )

    assert entry is not None
    assert (entry.actor, entry.actor_user_id, entry.entity) == (
        "system: nightly check",
        None,
        "properties",
    )


def test_only_administrators_read_the_log(
    app: FastAPI, client: TestClient, admin: Login
) -> None:
    estate = make_estate(client, admin)
    manager = make_user(
        app, client, admin, [(estate.property["id"], "property_manager")]
    )

    answer = client.get("/api/v1/audit", headers=manager)

    assert answer.status_code == 403
    assert answer.json()["detail"] == (
        "audit:read is granted only to organization administrators (org_admin)."
    )
