from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.cloud.helpers import (
    Login,
    created,
    make_building,
    make_estate,
    make_property,
    make_unit,
    make_user,
)


def test_a_unit_keeps_its_areas_exactly_and_its_status_history(
    client: TestClient, admin: Login
) -> None:
    estate = make_estate(client, admin)
    unit = make_unit(
        client,
        admin,
        estate.building["id"],
        number="1203",
        floor=12,
        gross_area_m2="98.35",
        usable_area_m2="81.2",
        layout="3 rooms 2 halls",
        use="residential",
    )

    renovating = client.patch(
        f"/api/v1/units/{unit['id']}",
        json={"status": "under_renovation", "status_note": "new kitchen"},
        headers=admin.headers,
    )
    leased = client.patch(
        f"/api/v1/units/{unit['id']}", json={"status": "leased"}, headers=admin.headers
    )
    history = client.get(
        f"/api/v1/units/{unit['id']}/status-history", headers=admin.headers
    ).json()

    assert (unit["property_id"], unit["gross_area_m2"], unit["usable_area_m2"]) == (
        estate.property["id"],
        "98.35",
        "81.2",
    )
    assert renovating.status_code == leased.status_code == 200
    assert [(h["status"], h["note"]) for h in history] == [
        ("vacant", "created"),
        ("under_renovation", "new kitchen"),
        ("leased", None),
    ]
    assert history[1]["changed_by"] == f"user {admin.user_id} ({admin.email})"


def test_an_unchanged_status_adds_no_history(client: TestClient, admin: Login) -> None:
    estate = make_estate(client, admin)
    unit_id = estate.units[0]["id"]

    client.patch(f"/api/v1/units/{unit_id}", json={"floor": 3}, headers=admin.headers)
    history = client.get(
        f"/api/v1/units/{unit_id}/status-history", headers=admin.headers
    ).json()

    assert len(history) == 1


def test_invalid_input_is_422_naming_the_field(
    client: TestClient, admin: Login
) -> None:
    estate = make_estate(client, admin)
    building_id = estate.building["id"]
    cases = {
        "kind": client.post(
            "/api/v1/properties",
            json={"code": "X1", "name": "X", "kind": "castle"},
            headers=admin.headers,
        ),
        "usable_area_m2": client.post(
            "/api/v1/units",
            json={
                "building_id": building_id,
                "number": "9",
                "gross_area_m2": "50",
                "usable_area_m2": "60",
            },
            headers=admin.headers,
        ),
        "gross_area_m2": client.post(
            "/api/v1/units",
            json={"building_id": building_id, "number": "9", "gross_area_m2": "-1"},
            headers=admin.headers,
        ),
        "number": client.patch(
            f"/api/v1/units/{estate.units[0]['id']}",
            json={"number": None},
            headers=admin.headers,
        ),
        "unit_id": client.get("/api/v1/units/0", headers=admin.headers),
    }

    named = {
        field: (answer.status_code, answer.json()["detail"][0]["loc"][-1])
        for field, answer in cases.items()
    }

    assert named == {field: (422, field) for field in cases}


def test_a_patch_checks_areas_against_what_is_stored(
    client: TestClient, admin: Login
) -> None:
    estate = make_estate(client, admin)
    unit = make_unit(client, admin, estate.building["id"], gross_area_m2="40")

    answer = client.patch(
        f"/api/v1/units/{unit['id']}",
        json={"usable_area_m2": "45"},
        headers=admin.headers,
    )

    assert answer.status_code == 422
    assert answer.json()["detail"] == [
        {
            "loc": ["body", "usable_area_m2"],
            "msg": "The usable area 45 m² is more than the gross area 40 m².",
            "type": "value_error",
        }
    ]


def test_codes_and_numbers_are_unique_where_they_must_be(
    client: TestClient, admin: Login
) -> None:
    estate = make_estate(client, admin)
    code = estate.property["code"]
    number = estate.units[0]["number"]

    twin_property = client.post(
        "/api/v1/properties",
        json={"code": code, "name": "Twin", "kind": "office"},
        headers=admin.headers,
    )
    twin_unit = client.post(
        "/api/v1/units",
        json={"building_id": estate.building["id"], "number": number},
        headers=admin.headers,
    )
    other_building = make_building(client, admin, estate.property["id"])
    same_number_elsewhere = make_unit(
        client, admin, other_building["id"], number=number
    )

    assert twin_property.status_code == 409
    assert twin_property.json() == {
        "detail": f"Property code {code!r} is already used.",
        "field": "code",
    }
    assert twin_unit.status_code == 409
    assert same_number_elsewhere["number"] == number


def test_lists_filter_and_page_with_a_total(client: TestClient, admin: Login) -> None:
    estate = make_estate(client, admin)
    other = make_estate(client, admin)
    client.patch(
        f"/api/v1/units/{estate.units[1]['id']}",
        json={"status": "owner_occupied"},
        headers=admin.headers,
    )

    by_property = client.get(
        "/api/v1/units",
        params={"property_id": estate.property["id"]},
        headers=admin.headers,
    ).json()
    by_status = client.get(
        "/api/v1/units",
        params={"property_id": estate.property["id"], "status": "owner_occupied"},
        headers=admin.headers,
    ).json()
    second_page = client.get(
        "/api/v1/units", params={"skip": 1, "limit": 1}, headers=admin.headers
    ).json()
    too_long = client.get("/api/v1/units", params={"limit": 501}, headers=admin.headers)

    assert [u["id"] for u in by_property["data"]] == [u["id"] for u in estate.units]
    assert by_property["count"] == 2
    assert [u["id"] for u in by_status["data"]] == [estate.units[1]["id"]]
    assert second_page["count"] == 4
    assert [u["id"] for u in second_page["data"]] == [estate.units[1]["id"]]
    assert other.units[0]["id"] not in [u["id"] for u in by_property["data"]]
    assert too_long.status_code == 422
    assert too_long.json()["detail"][0]["loc"] == ["query", "limit"]


def test_an_empty_property_can_be_deleted_and_a_used_one_not(
    client: TestClient, admin: Login
) -> None:
    empty = make_property(client, admin)
    used = make_estate(client, admin)

    deleted = client.delete(f"/api/v1/properties/{empty['id']}", headers=admin.headers)
    refused = client.delete(
        f"/api/v1/properties/{used.property['id']}", headers=admin.headers
    )
    gone = client.get(f"/api/v1/properties/{empty['id']}", headers=admin.headers)

    assert deleted.status_code == 204
    assert refused.status_code == 409
    assert refused.json()["detail"] == (
        f"Property {used.property['id']} cannot be deleted while other records "
        "refer to it."
    )
    assert gone.status_code == 404


def test_a_manager_sees_only_the_managed_property(
    app: FastAPI, client: TestClient, admin: Login
) -> None:
    managed = make_estate(client, admin)
    other = make_estate(client, admin)
    manager = make_user(
        app, client, admin, [(managed.property["id"], "property_manager")]
    )

    properties = client.get("/api/v1/properties", headers=manager).json()
    foreign_unit = client.get(f"/api/v1/units/{other.units[0]['id']}", headers=manager)
    new_building = client.post(
        "/api/v1/buildings",
        json={"property_id": other.property["id"], "code": "X", "name": "X"},
        headers=manager,
    )
    own_building = client.post(
        "/api/v1/buildings",
        json={"property_id": managed.property["id"], "code": "X", "name": "X"},
        headers=manager,
    )

    assert [p["id"] for p in properties["data"]] == [managed.property["id"]]
    assert foreign_unit.status_code == 404
    assert foreign_unit.json()["detail"] == f"Unit {other.units[0]['id']} not found."
    assert new_building.status_code == 404
    assert created(own_building)["property_id"] == managed.property["id"]


def test_a_technician_sees_units_but_may_not_change_them(
    app: FastAPI, client: TestClient, admin: Login
) -> None:
    estate = make_estate(client, admin)
    technician = make_user(app, client, admin, [(estate.property["id"], "technician")])
    unit_id = estate.units[0]["id"]

    seen = client.get(f"/api/v1/units/{unit_id}", headers=technician)
    changed = client.patch(
        f"/api/v1/units/{unit_id}", json={"floor": 2}, headers=technician
    )

    assert seen.status_code == 200
    assert changed.status_code == 403
    assert changed.json()["detail"] == (
        f"None of your roles grants properties:write on Unit {unit_id}."
    )
