from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from cloud.cli import app as cli
from cloud.services import migrations
from cloud.settings import Settings
from tests.cloud.helpers import Estate, Login, make_estate

runner = CliRunner()


def _import(
    client: TestClient, admin: Login, kind: str, csv: str, *, dry_run: bool = False
) -> Any:
    return client.post(
        f"/api/v1/imports/{kind}",
        params={"dry_run": str(dry_run).lower()},
        files={"file": (f"{kind}.csv", csv.encode(), "text/csv")},
        headers=admin.headers,
    )


def _count(client: TestClient, admin: Login, path: str, **params: Any) -> int:
    answer = client.get(f"/api/v1/{path}", params=params, headers=admin.headers)
    return int(answer.json()["count"])


@pytest.fixture
def estate(client: TestClient, admin: Login) -> Estate:
    return make_estate(client, admin)


def _units_csv(estate: Estate, *rows: str) -> str:
    code, building = estate.property["code"], estate.building["code"]
    header = "property_code,building_code,number,floor,gross_area_m2,usable_area_m2,use"
    return "\n".join([header, *(row.format(p=code, b=building) for row in rows)])


def test_units_import_every_row(
    client: TestClient, admin: Login, estate: Estate
) -> None:
    csv = _units_csv(
        estate,
        "{p},{b},201,2,88.50,70,residential",
        "{p},{b},202,2,,,",
        '{p},{b},"S-1",0,120,110,retail',
    )

    answer = _import(client, admin, "units", csv)

    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "kind": "units",
        "dry_run": False,
        "rows": 3,
        "created": 3,
        "errors": [],
    }
    units = client.get(
        "/api/v1/units",
        params={"property_id": estate.property["id"], "use": "retail"},
        headers=admin.headers,
    ).json()["data"]
    assert [(u["number"], u["gross_area_m2"]) for u in units] == [("S-1", "120")]


def test_one_bad_row_imports_nothing_and_each_error_names_line_and_column(
    client: TestClient, admin: Login, estate: Estate
) -> None:
    before = _count(client, admin, "units")
    csv = _units_csv(
        estate,
        "{p},{b},301,3,60,50,residential",
        "{p},{b},302,three,60,50,residential",
        "{p},nowhere,303,3,60,50,residential",
        "{p},{b},304,3,60,70,residential",
        "{p},{b},301,3,60,50,residential",
    )

    answer = _import(client, admin, "units", csv)

    assert answer.status_code == 422
    report = answer.json()["report"]
    assert [(e["line"], e["field"]) for e in report["errors"]] == [
        (3, "floor"),
        (4, "building_code"),
        (5, "usable_area_m2"),
        (6, "number"),
    ]
    assert report["errors"][1]["message"] == (
        f"building 'nowhere' not found in property {estate.property['code']!r}"
    )
    assert report["created"] == 0
    assert answer.json()["detail"] == "4 errors; nothing was imported."
    assert _count(client, admin, "units") == before


def test_a_dry_run_checks_every_row_and_keeps_nothing(
    client: TestClient, admin: Login, estate: Estate
) -> None:
    before = _count(client, admin, "units")
    csv = _units_csv(estate, "{p},{b},401,4,60,50,residential")

    answer = _import(client, admin, "units", csv, dry_run=True)

    assert answer.json()["created"] == 1
    assert answer.json()["dry_run"] is True
    assert _count(client, admin, "units") == before


def test_people_then_leases_then_equipment(
    client: TestClient, admin: Login, estate: Estate
) -> None:
    code, building = estate.property["code"], estate.building["code"]
    numbers = ";".join(unit["number"] for unit in estate.units)
    people = (
        "external_ref,property_code,kind,name,phone,identity_number\n"
        f"T-1,{code},company,Acme Trading Ltd,+86 21 5555,91310000MA1K00000X\n"
        f"T-2,{code},person,Wang Fang,,\n"
    )
    leases = (
        "reference,property_code,building_code,unit_numbers,tenant_ref,start_date,"
        "end_date,rent,rent_period,deposit,status\n"
        f"C-100,{code},{building},{numbers},T-1,2026-01-01,2028-12-31,"
        "12000,quarterly,24000,active\n"
        f"C-101,{code},{building},{estate.units[0]['number']},T-2,2027-06-01,,"
        "3000,monthly,,active\n"
    )
    equipment = (
        "property_code,building_code,unit_number,category,name,serial,installed_on\n"
        f"{code},{building},,elevator,Lift 1,KONE-77,2019-05-01\n"
        f"{code},,,pump,Fire pump,,\n"
    )

    people_answer = _import(client, admin, "people", people)
    lease_answer = _import(client, admin, "leases", leases)
    equipment_answer = _import(client, admin, "equipment", equipment)

    assert people_answer.json()["created"] == 2
    assert lease_answer.status_code == 422
    assert lease_answer.json()["report"]["errors"] == [
        {
            "line": 3,
            "field": "unit_numbers",
            "message": f"Unit {estate.units[0]['id']} is already in active lease "
            "'C-100' from 2026-01-01 to 2028-12-31, which overlaps 2027-06-01 to "
            "open end.",
        }
    ]
    assert equipment_answer.json()["created"] == 2
    assert _count(client, admin, "leases") == 0


def test_header_problems_are_reported_on_line_one(
    client: TestClient, admin: Login
) -> None:
    answer = _import(client, admin, "people", "external_ref,name,colour\nP-1,X,red\n")

    assert answer.status_code == 422
    assert answer.json()["report"]["errors"] == [
        {"line": 1, "field": "colour", "message": "is not a column of this import"},
        {"line": 1, "field": "property_code", "message": "column is missing"},
    ]


def test_a_row_in_a_property_the_caller_cannot_see_is_an_error(
    app: FastAPI, client: TestClient, admin: Login, estate: Estate
) -> None:
    from tests.cloud.helpers import make_user

    other = make_estate(client, admin)
    manager = make_user(
        app, client, admin, [(estate.property["id"], "property_manager")]
    )
    csv = (
        "property_code,building_code,number\n"
        f"{other.property['code']},{other.building['code']},9\n"
    )

    answer = client.post(
        "/api/v1/imports/units",
        files={"file": ("u.csv", csv.encode(), "text/csv")},
        headers=manager,
    )

    assert answer.status_code == 422
    assert answer.json()["report"]["errors"][0]["message"] == (
        f"property {other.property['code']!r} not found"
    )


def test_a_file_that_is_not_utf8_is_refused(client: TestClient, admin: Login) -> None:
    answer = client.post(
        "/api/v1/imports/units",
        files={"file": ("u.csv", "number\n\u00e9".encode("latin-1"), "text/csv")},
        headers=admin.headers,
    )

    assert answer.json()["report"]["errors"][0]["message"].startswith(
        "the file is not UTF-8 text"
    )


def test_the_command_imports_with_the_same_rules(
    migrated: Settings, tmp_path: Path
) -> None:
    common = ["--data-dir", str(tmp_path / "d"), "--database-url"]
    common.append(migrated.resolved_database_url)
    organization = _first_organization(migrated)
    units = tmp_path / "units.csv"
    units.write_text(
        "property_code,building_code,number\nNOPE,B,1\nNOPE,B,2\n", encoding="utf-8"
    )

    result = runner.invoke(
        cli,
        ["import", "units", str(units), "--dry-run", *organization, *common],
    )

    assert result.exit_code == 1
    assert "line 2 property_code: property 'NOPE' not found" in result.output
    assert "line 3 property_code: property 'NOPE' not found" in result.output
    assert "2 errors in" in result.output


def _first_organization(settings: Settings) -> list[str]:
    """The command needs the organization once the shared database has several."""
    from cloud.db import create_db_engine, make_session_factory
    from cloud.services import accounts
    from cloud.services.audit import Actor, act_as
    from cloud.services.security import password_hasher

    engine = create_db_engine(settings.resolved_database_url)
    migrations.upgrade(engine)
    with make_session_factory(engine)() as session:
        act_as(session, Actor(label="test"))
        admin = accounts.create_organization_with_admin(
            session,
            password_hasher("cheapest"),
            organization_name="Import Co",
            email=f"import-{id(settings)}@example.org",
            password="long enough",
        )
    engine.dispose()
    return ["--organization-id", str(admin.organization_id)]
