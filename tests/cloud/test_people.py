import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from cloud.models import Person
from cloud.services.crypto import identity_cipher, open_identity_number
from tests.cloud.helpers import (
    Login,
    created,
    make_estate,
    make_person,
    make_property,
    make_user,
)

ID_NUMBER = "11010119900307123X"


def test_an_identity_number_is_stored_encrypted_and_shown_as_its_last_four(
    app: FastAPI, client: TestClient, admin: Login
) -> None:
    home = make_property(client, admin)
    person = make_person(
        client,
        admin,
        home["id"],
        kind="person",
        identity_number="110101 19900307 123x",
        contacts=[{"name": "Li Na", "role": "emergency", "phone": "+86 139 0000"}],
    )

    with app.state.pams.session_factory() as session:
        stored = session.get(Person, person["id"])
        assert stored is not None
        sealed = str(stored.identity_number_encrypted)
    key = app.state.pams.settings.signing_key()
    shown = client.get(f"/api/v1/people/{person['id']}", headers=admin.headers).json()

    assert ID_NUMBER not in sealed
    assert open_identity_number(identity_cipher(key), sealed) == ID_NUMBER
    assert shown["identity_number_last4"] == "123X"
    assert "identity_number" not in shown
    assert ID_NUMBER not in str(shown)
    assert shown["contacts"] == [
        {"name": "Li Na", "role": "emergency", "email": None, "phone": "+86 139 0000"}
    ]


def test_an_identity_number_can_be_cleared(client: TestClient, admin: Login) -> None:
    home = make_property(client, admin)
    person = make_person(client, admin, home["id"], identity_number=ID_NUMBER)

    cleared = client.patch(
        f"/api/v1/people/{person['id']}",
        json={"identity_number": None, "contacts": [{"name": "Office"}]},
        headers=admin.headers,
    ).json()

    assert cleared["identity_number_last4"] is None
    assert [c["name"] for c in cleared["contacts"]] == ["Office"]


def test_external_refs_are_unique_in_the_organization(
    client: TestClient, admin: Login
) -> None:
    first, second = make_property(client, admin), make_property(client, admin)
    make_person(client, admin, first["id"], external_ref="CRM-1")

    twin = client.post(
        "/api/v1/people",
        json={"property_id": second["id"], "name": "X", "external_ref": "CRM-1"},
        headers=admin.headers,
    )

    assert twin.status_code == 409
    assert twin.json()["field"] == "external_ref"


def test_the_current_shares_of_a_unit_add_up_to_one_at_most(
    client: TestClient, admin: Login
) -> None:
    estate = make_estate(client, admin)
    unit_id = estate.units[0]["id"]
    first, second = (make_person(client, admin, estate.property["id"]) for _ in "ab")

    def share(person: dict, value: str, **dates: str) -> int:
        answer = client.post(
            f"/api/v1/units/{unit_id}/ownership-shares",
            json={"person_id": person["id"], "share": value, **dates},
            headers=admin.headers,
        )
        return answer.status_code

    statuses = [
        share(first, "0.6", ended_on="2025-12-31"),
        share(first, "0.5"),
        share(second, "0.5"),
        share(second, "0.000001"),
    ]
    listed = client.get(
        f"/api/v1/units/{unit_id}/ownership-shares", headers=admin.headers
    ).json()

    assert statuses == [201, 201, 201, 409]
    assert sorted(s["share"] for s in listed) == ["0.5", "0.5", "0.6"]


def test_staff_of_a_property_see_its_tenants_registered_elsewhere(
    app: FastAPI, client: TestClient, admin: Login
) -> None:
    """A person is kept by one property, and seen where they own or rent."""
    here, elsewhere = make_estate(client, admin), make_estate(client, admin)
    renter = make_person(client, admin, elsewhere.property["id"])
    stranger = make_person(client, admin, elsewhere.property["id"])
    created(
        client.post(
            "/api/v1/leases",
            json={
                "reference": "R-1",
                "unit_ids": [here.units[0]["id"]],
                "tenant_id": renter["id"],
                "start_date": "2026-01-01",
                "rent": "1000",
            },
            headers=admin.headers,
        )
    )
    accountant = make_user(app, client, admin, [(here.property["id"], "accountant")])

    listed = client.get("/api/v1/people", headers=accountant).json()
    hidden = client.get(f"/api/v1/people/{stranger['id']}", headers=accountant)
    edit = client.patch(
        f"/api/v1/people/{renter['id']}", json={"name": "X"}, headers=accountant
    )

    assert [p["id"] for p in listed["data"]] == [renter["id"]]
    assert hidden.status_code == 404
    assert edit.status_code == 403


def test_an_owner_sees_their_own_unit_and_person_only(
    app: FastAPI, client: TestClient, admin: Login
) -> None:
    estate = make_estate(client, admin)
    owner = make_person(client, admin, estate.property["id"])
    neighbour = make_person(client, admin, estate.property["id"])
    own_unit, other_unit = (unit["id"] for unit in estate.units)
    for unit, person in ((own_unit, owner), (other_unit, neighbour)):
        client.post(
            f"/api/v1/units/{unit}/ownership-shares",
            json={"person_id": person["id"], "share": "1"},
            headers=admin.headers,
        )
    as_owner = make_user(
        app, client, admin, [(estate.property["id"], "owner")], owner["id"]
    )

    units = client.get("/api/v1/units", headers=as_owner).json()
    people = client.get("/api/v1/people", headers=as_owner).json()
    shares = client.get(
        f"/api/v1/units/{own_unit}/ownership-shares", headers=as_owner
    ).json()
    buildings = client.get("/api/v1/buildings", headers=as_owner).json()
    equipment = client.get("/api/v1/equipment", headers=as_owner)

    assert [u["id"] for u in units["data"]] == [own_unit]
    assert [p["id"] for p in people["data"]] == [owner["id"]]
    assert [s["person_id"] for s in shares] == [owner["id"]]
    assert buildings == {"data": [], "count": 0}
    assert equipment.status_code == 403


def test_an_owner_or_tenant_role_needs_a_person(
    client: TestClient, admin: Login
) -> None:
    home = make_property(client, admin)
    user = created(
        client.post(
            "/api/v1/users",
            json={"email": "nobody@example.org", "password": "long enough"},
            headers=admin.headers,
        )
    )

    answer = client.post(
        f"/api/v1/users/{user['id']}/grants",
        json={"property_id": home["id"], "role": "tenant"},
        headers=admin.headers,
    )

    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == ["body", "role"]


def test_the_last_administrator_stays(client: TestClient, admin: Login) -> None:
    answer = client.patch(
        f"/api/v1/users/{admin.user_id}",
        json={"is_org_admin": False},
        headers=admin.headers,
    )

    assert answer.status_code == 409
    assert "last active administrator" in answer.json()["detail"]


def test_person_rows_hold_no_clear_identity_number(
    app: FastAPI, client: TestClient, admin: Login
) -> None:
    home = make_property(client, admin)
    make_person(client, admin, home["id"], identity_number=ID_NUMBER)

    with app.state.pams.engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT * FROM people")).all()

    assert rows
    assert not any(ID_NUMBER in str(row) for row in rows)
