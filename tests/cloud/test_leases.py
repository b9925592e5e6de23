import threading
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from cloud.models import LEASE_OVERLAP_CONSTRAINT
from cloud.schemas.leases import LeaseCreate
from cloud.services import leases
from cloud.services.access import Scope
from cloud.services.errors import ConflictError
from tests.cloud.helpers import (
    Estate,
    Login,
    created,
    fresh_id,
    make_estate,
    make_person,
    make_user,
)


def _lease(
    client: TestClient,
    admin: Login,
    estate: Estate,
    tenant_id: int,
    start: str,
    end: str | None,
    *,
    status: str = "active",
    units: list[int] | None = None,
) -> Any:
    return client.post(
        "/api/v1/leases",
        json={
            "reference": fresh_id("R"),
            "unit_ids": units or [estate.units[0]["id"]],
            "tenant_id": tenant_id,
            "start_date": start,
            "end_date": end,
            "rent": "4200.00",
            "deposit": "8400.00",
            "fee_rules": [{"kind": "property_fee", "basis": "gross", "amount": "3.5"}],
            "status": status,
        },
        headers=admin.headers,
    )


@pytest.fixture
def estate(client: TestClient, admin: Login) -> Estate:
    return make_estate(client, admin)


@pytest.fixture
def tenant(client: TestClient, admin: Login, estate: Estate) -> int:
    return int(make_person(client, admin, estate.property["id"])["id"])


def test_a_lease_keeps_its_terms(
    client: TestClient, admin: Login, estate: Estate, tenant: int
) -> None:
    units = [unit["id"] for unit in estate.units]

    lease = created(
        _lease(client, admin, estate, tenant, "2026-01-01", None, units=units)
    )

    assert lease["unit_ids"] == units
    assert (lease["rent"], lease["deposit"], lease["currency"]) == (
        "4200.00",
        "8400.00",
        "CNY",
    )
    assert lease["rent_period"] == "monthly"
    assert lease["fee_rules"] == [
        {"kind": "property_fee", "basis": "gross", "amount": "3.5", "period": "monthly"}
    ]


def test_a_second_active_lease_overlapping_a_unit_is_refused(
    client: TestClient, admin: Login, estate: Estate, tenant: int
) -> None:
    first = created(_lease(client, admin, estate, tenant, "2026-01-01", "2026-06-30"))
    unit_id = estate.units[0]["id"]

    overlapping = _lease(client, admin, estate, tenant, "2026-06-30", "2026-12-31")
    adjacent = _lease(client, admin, estate, tenant, "2026-07-01", "2026-12-31")
    draft = _lease(client, admin, estate, tenant, "2026-03-01", None, status="draft")

    assert overlapping.status_code == 409
    assert overlapping.json() == {
        "detail": f"Unit {unit_id} is already in active lease {first['reference']!r} "
        "from 2026-01-01 to 2026-06-30, which overlaps 2026-06-30 to 2026-12-31.",
        "field": "unit_ids",
    }
    assert adjacent.status_code == 201
    assert draft.status_code == 201


def test_activating_an_overlapping_draft_is_refused(
    client: TestClient, admin: Login, estate: Estate, tenant: int
) -> None:
    created(_lease(client, admin, estate, tenant, "2026-01-01", None))
    draft = created(
        _lease(client, admin, estate, tenant, "2027-01-01", None, status="draft")
    )

    activated = client.patch(
        f"/api/v1/leases/{draft['id']}",
        json={"status": "active"},
        headers=admin.headers,
    )

    assert activated.status_code == 409
    assert "open end" in activated.json()["detail"]


def test_ending_a_lease_frees_its_units(
    client: TestClient, admin: Login, estate: Estate, tenant: int
) -> None:
    first = created(_lease(client, admin, estate, tenant, "2026-01-01", None))
    client.patch(
        f"/api/v1/leases/{first['id']}",
        json={"status": "terminated", "end_date": "2026-03-31"},
        headers=admin.headers,
    )

    second = _lease(client, admin, estate, tenant, "2026-03-15", None)

    assert second.status_code == 201


def test_status_moves_only_forward(
    client: TestClient, admin: Login, estate: Estate, tenant: int
) -> None:
    lease = created(_lease(client, admin, estate, tenant, "2026-01-01", "2026-12-31"))
    client.patch(
        f"/api/v1/leases/{lease['id']}", json={"status": "ended"}, headers=admin.headers
    )

    revived = client.patch(
        f"/api/v1/leases/{lease['id']}",
        json={"status": "active"},
        headers=admin.headers,
    )
    deleted = client.delete(f"/api/v1/leases/{lease['id']}", headers=admin.headers)

    assert revived.status_code == 422
    assert revived.json()["detail"][0] == {
        "loc": ["body", "status"],
        "msg": "A lease that is ended cannot become active (allowed: none).",
        "type": "value_error",
    }
    assert deleted.status_code == 409


def test_the_units_of_a_lease_are_in_one_property(
    client: TestClient, admin: Login, estate: Estate, tenant: int
) -> None:
    other = make_estate(client, admin)
    units = [estate.units[0]["id"], other.units[0]["id"]]

    answer = _lease(client, admin, estate, tenant, "2026-01-01", None, units=units)

    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == ["body", "unit_ids"]


def test_an_end_before_the_start_is_422(
    client: TestClient, admin: Login, estate: Estate, tenant: int
) -> None:
    answer = _lease(client, admin, estate, tenant, "2026-05-01", "2026-04-30")

    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == ["body", "end_date"]


def test_tenants_and_owners_see_their_own_leases(
    app: FastAPI, client: TestClient, admin: Login, estate: Estate, tenant: int
) -> None:
    property_id = estate.property["id"]
    owner = make_person(client, admin, property_id)["id"]
    neighbour = make_person(client, admin, property_id)["id"]
    client.post(
        f"/api/v1/units/{estate.units[0]['id']}/ownership-shares",
        json={"person_id": owner, "share": "1"},
        headers=admin.headers,
    )
    mine = created(_lease(client, admin, estate, tenant, "2026-01-01", None))
    theirs = created(
        _lease(
            client,
            admin,
            estate,
            neighbour,
            "2026-01-01",
            None,
            units=[estate.units[1]["id"]],
        )
    )
    as_tenant = make_user(app, client, admin, [(property_id, "tenant")], tenant)
    as_owner = make_user(app, client, admin, [(property_id, "owner")], owner)

    def listed(headers: dict[str, str]) -> list[int]:
        answer = client.get("/api/v1/leases", headers=headers).json()
        return [lease["id"] for lease in answer["data"]]

    assert listed(as_tenant) == [mine["id"]]
    assert listed(as_owner) == [mine["id"]]
    assert (
        client.get(f"/api/v1/leases/{theirs['id']}", headers=as_tenant).status_code
        == 404
    )
    assert (
        client.get(
            f"/api/v1/units/{estate.units[1]['id']}", headers=as_owner
        ).status_code
        == 404
    )


# --- concurrency -----------------------------------------------------------------


def _create_in_thread(
    app: FastAPI, scope: Scope, body: LeaseCreate, results: list[object]
) -> Callable[[threading.Event, threading.Event | None], None]:
    def run(started: threading.Event, release: threading.Event | None) -> None:
        with app.state.pams.session_factory() as session:
            scope.bind(session)
            started.set()
            try:
                lease = leases.create_lease(session, scope, body)
                if release is not None:
                    release.wait(timeout=10)
                session.commit()
                results.append(lease.id)
            except ConflictError as exc:
                results.append(exc)

    return run


def _blocked(app: FastAPI, timeout_s: float) -> bool:
    """Whether another connection is waiting for a lock (PostgreSQL), or, where
    that cannot be seen (SQLite), whether ``timeout_s`` passed."""
    engine = app.state.pams.engine
    if engine.dialect.name != "postgresql":
        threading.Event().wait(timeout_s)
        return True
    deadline = threading.Event()
    timer = threading.Timer(10, deadline.set)
    timer.start()
    try:
        with engine.connect() as connection:
            while not deadline.is_set():
                waiting = connection.scalar(
                    sa.text(
                        "SELECT count(*) FROM pg_stat_activity WHERE "
                        "datname = current_database() AND wait_event_type = 'Lock'"
                    )
                )
                if waiting:
                    return True
                deadline.wait(0.01)
    finally:
        timer.cancel()
    return False


def test_two_concurrent_writers_get_one_lease(
    app: FastAPI, client: TestClient, admin: Login, estate: Estate, tenant: int
) -> None:
    """The second writer checks for overlaps only after the first committed.

    The first writer holds its transaction open until the second is seen waiting
    for the units' lock (PostgreSQL) or for a moment (SQLite, where waiting cannot
    be observed); a service that checked without the lock would let the second
    writer see no overlap and store a second lease.
    """
    scope = Scope.system(admin.organization_id, "concurrency test")
    results: list[object] = []
    bodies = [
        LeaseCreate(
            reference=fresh_id("R"),
            unit_ids=[estate.units[0]["id"]],
            tenant_id=tenant,
            start_date=date(2026, 1, 1),
            rent=Decimal(1000),
            status="active",
        )
        for _ in range(2)
    ]
    release, first_started, second_started = (threading.Event() for _ in range(3))
    first = threading.Thread(
        target=_create_in_thread(app, scope, bodies[0], results),
        args=(first_started, release),
    )
    second = threading.Thread(
        target=_create_in_thread(app, scope, bodies[1], results),
        args=(second_started, None),
    )

    first.start()
    first_started.wait(timeout=10)
    second.start()
    second_started.wait(timeout=10)
    _blocked(app, timeout_s=0.3)
    release.set()
    first.join(timeout=30)
    second.join(timeout=30)

    stored = [result for result in results if isinstance(result, int)]
    refused = [result for result in results if isinstance(result, ConflictError)]
    assert (len(stored), len(refused)) == (1, 1), results
    assert "is already in active lease" in refused[0].message  # the locked check


def test_postgresql_refuses_an_overlap_the_service_did_not_check(
    app: FastAPI, client: TestClient, admin: Login, estate: Estate, tenant: int
) -> None:
    """The exclusion constraint holds even for a writer that skips the service."""
    engine = app.state.pams.engine
    if engine.dialect.name != "postgresql":
        pytest.skip("the exclusion constraint exists on PostgreSQL only")
    first = created(_lease(client, admin, estate, tenant, "2026-01-01", None))
    second = created(
        _lease(client, admin, estate, tenant, "2027-01-01", None, status="draft")
    )

    with (
        pytest.raises(sa.exc.IntegrityError, match=LEASE_OVERLAP_CONSTRAINT),
        engine.begin() as connection,
    ):
        connection.execute(
            sa.text(
                "UPDATE lease_units SET blocks = true, start_date = '2026-06-01' "
                "WHERE lease_id = :lease"
            ),
            {"lease": second["id"]},
        )

    assert first["status"] == "active"
