"""Every route × every role × own or foreign property: allowed, or denied right.

``MATRIX`` is the access policy written out by hand, one row per route; a route the
app has but the matrix lacks fails ``test_matrix_names_every_route``, so a new
route cannot ship without its row.

Columns: org_admin, property_manager, accountant, technician, owner, tenant. The
role users hold their role on the ``own`` property only (owners and tenants own
and rent its unit 101); "foreign" is a sibling property of the same organization,
or for the administrator, a property of another organization. Codes:

    +  allowed (2xx); a list holds the record
    -  a list without the record
    F  forbidden, 403: the caller sees the record (or may use the route) but its
       roles do not allow this action
    H  hidden, 404: the record is outside what the caller may see
    C  conflict, 409: allowed, but refused because other records refer to it
    I  invalid, 422: allowed, but every row refers to what the caller cannot see

On a foreign property an item or a create is H for everyone, and a list is F
where the own property was F, "-" otherwise (imports: I for those allowed).
Anonymous callers get 401 everywhere except the open routes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

import pytest
from fastapi.routing import APIRoute, iter_route_contexts

from tests.cloud import alarm_matrix
from tests.cloud import billing_world as bw
from tests.cloud import maintenance_world as mw
from tests.cloud.helpers import batch, health_report
from tests.cloud.world import (
    PDF,
    PNG,
    ROLES,
    Side,
    World,
    backends,
    fresh,
    running_world,
)

API = "/api/v1"
Kind = Literal["item", "create", "list", "org", "open", "gateway"]


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    json: Any = None
    params: dict[str, Any] | None = None
    files: dict[str, Any] | None = None


Builder = Callable[[World, Side, str], Call]


@dataclass(frozen=True)
class Row:
    codes: str
    call: Builder
    kind: Kind = "item"
    # Lists: the field that identifies a row, the record that must (or must not)
    # be listed, and one in the own property that is not an owner's or tenant's.
    key: str = "id"
    target: Callable[[Side, str], object] | None = None
    other: Callable[[Side], object] | None = None
    foreign: str = "H"


def listing(path: str) -> Builder:
    return lambda w, s, r: Call("GET", API + path, params={"limit": 500})


def attachment(side: Side, parent: str) -> tuple[str, int, int]:
    if parent == "equipment":
        return "equipment", side.equipment_id, side.equipment_attachment_id
    return "leases", side.lease_id, side.lease_attachment_id


def upload() -> dict[str, Any]:
    return {"file": ("manual.pdf", PDF, "application/pdf")}


def unit_csv(side: Side) -> dict[str, Any]:
    content = (
        "property_code,building_code,number,gross_area_m2\n"
        f"{side.property_code},{side.building_code},{fresh('csv')},80.5\n"
    )
    return {"file": ("units.csv", content.encode(), "text/csv")}


def install(side: Side, w: World) -> dict[str, Any]:
    return {
        "meter_point_id": w.fresh_meter_point(side),
        "serial": fresh("sn"),
        "register_modulus": "100000",
        "installed_at": "2026-02-01T00:00:00Z",
        "initial_reading": "0",
    }


REMOVAL = {"removed_at": "2026-06-01T00:00:00Z", "final_reading": "812.5"}
NEW_METER = {
    "serial": "replacement",
    "register_modulus": "100000",
    "installed_at": "2026-06-01T00:00:00Z",
    "initial_reading": "0",
}

ALL = "+ + + + + +"
ADMIN_ONLY_LIST = "+ F F F F F"
ADMIN_ONLY_ITEM = "+ H H H H H"

MATRIX: dict[tuple[str, str], Row] = {
    # --- open routes and the gateway route -----------------------------------
    ("POST", "/api/v1/auth/token"): Row(
        "", lambda w, s, r: Call("POST", f"{API}/auth/token"), kind="open"
    ),
    ("POST", "/api/v1/auth/refresh"): Row(
        "", lambda w, s, r: Call("POST", f"{API}/auth/refresh", json={}), kind="open"
    ),
    ("GET", "/health"): Row("", lambda w, s, r: Call("GET", "/health"), kind="open"),
    ("POST", "/api/v1/ingest"): Row(
        "U U U U U U",
        lambda w, s, r: Call("POST", f"{API}/ingest", json=batch(s.gateway_id, 9)),
        kind="gateway",
    ),
    ("POST", "/api/v1/gateway/health"): Row(
        "U U U U U U",
        lambda w, s, r: Call(
            "POST", f"{API}/gateway/health", json=health_report(s.gateway_id)
        ),
        kind="gateway",
    ),
    # --- users -----------------------------------------------------------------
    ("GET", "/api/v1/users/me"): Row(
        ALL, lambda w, s, r: Call("GET", f"{API}/users/me"), kind="org"
    ),
    ("GET", "/api/v1/users"): Row(
        ADMIN_ONLY_LIST,
        listing("/users"),
        kind="list",
        target=lambda s, r: s.user_id,
    ),
    ("POST", "/api/v1/users"): Row(
        ADMIN_ONLY_LIST,
        lambda w, s, r: Call(
            "POST",
            f"{API}/users",
            json={"email": f"{fresh('new')}@example.org", "password": "long enough"},
        ),
        kind="org",
    ),
    ("GET", "/api/v1/users/{user_id}"): Row(
        ADMIN_ONLY_ITEM, lambda w, s, r: Call("GET", f"{API}/users/{s.user_id}")
    ),
    ("PATCH", "/api/v1/users/{user_id}"): Row(
        ADMIN_ONLY_ITEM,
        lambda w, s, r: Call(
            "PATCH", f"{API}/users/{s.user_id}", json={"full_name": "Spare"}
        ),
    ),
    ("POST", "/api/v1/users/{user_id}/grants"): Row(
        ADMIN_ONLY_ITEM,
        lambda w, s, r: Call(
            "POST",
            f"{API}/users/{w.fresh_grant(s)[0]}/grants",
            json={"property_id": s.property_id, "role": "technician"},
        ),
    ),
    ("DELETE", "/api/v1/users/{user_id}/grants/{grant_id}"): Row(
        ADMIN_ONLY_ITEM,
        lambda w, s, r: Call(
            "DELETE", "{}/users/{}/grants/{}".format(API, *w.fresh_grant(s))
        ),
    ),
    # --- properties --------------------------------------------------------------
    ("GET", "/api/v1/properties"): Row(
        "+ + + + - -",
        listing("/properties"),
        kind="list",
        target=lambda s, r: s.property_id,
    ),
    ("POST", "/api/v1/properties"): Row(
        ADMIN_ONLY_LIST,
        lambda w, s, r: Call(
            "POST",
            f"{API}/properties",
            json={"code": fresh("P"), "name": "New", "kind": "office"},
        ),
        kind="org",
    ),
    ("GET", "/api/v1/properties/{property_id}"): Row(
        "+ + + + H H", lambda w, s, r: Call("GET", f"{API}/properties/{s.property_id}")
    ),
    ("PATCH", "/api/v1/properties/{property_id}"): Row(
        "+ + F F H H",
        lambda w, s, r: Call(
            "PATCH", f"{API}/properties/{s.property_id}", json={"kind": "mixed"}
        ),
    ),
    ("DELETE", "/api/v1/properties/{property_id}"): Row(
        "C C F F H H",
        lambda w, s, r: Call("DELETE", f"{API}/properties/{s.property_id}"),
    ),
    # --- buildings ---------------------------------------------------------------
    ("GET", "/api/v1/buildings"): Row(
        "+ + + + - -",
        listing("/buildings"),
        kind="list",
        target=lambda s, r: s.building_id,
    ),
    ("POST", "/api/v1/buildings"): Row(
        "+ + F F H H",
        lambda w, s, r: Call(
            "POST",
            f"{API}/buildings",
            json={"property_id": s.property_id, "code": fresh("B"), "name": "B"},
        ),
        kind="create",
    ),
    ("GET", "/api/v1/buildings/{building_id}"): Row(
        "+ + + + H H", lambda w, s, r: Call("GET", f"{API}/buildings/{s.building_id}")
    ),
    ("PATCH", "/api/v1/buildings/{building_id}"): Row(
        "+ + F F H H",
        lambda w, s, r: Call(
            "PATCH", f"{API}/buildings/{s.building_id}", json={"name": "main"}
        ),
    ),
    ("DELETE", "/api/v1/buildings/{building_id}"): Row(
        "+ + F F H H",
        lambda w, s, r: Call("DELETE", f"{API}/buildings/{w.fresh_building(s)}"),
    ),
    # --- units -------------------------------------------------------------------
    ("GET", "/api/v1/units"): Row(
        ALL,
        listing("/units"),
        kind="list",
        target=lambda s, r: s.unit_id,
        other=lambda s: s.other_unit_id,
    ),
    ("POST", "/api/v1/units"): Row(
        "+ + F F H H",
        lambda w, s, r: Call(
            "POST",
            f"{API}/units",
            json={"building_id": s.building_id, "number": fresh("U")},
        ),
        kind="create",
    ),
    ("GET", "/api/v1/units/{unit_id}"): Row(
        ALL, lambda w, s, r: Call("GET", f"{API}/units/{s.unit_id}")
    ),
    ("PATCH", "/api/v1/units/{unit_id}"): Row(
        "+ + F F F F",
        lambda w, s, r: Call(
            "PATCH", f"{API}/units/{s.unit_id}", json={"layout": "2 rooms"}
        ),
    ),
    ("DELETE", "/api/v1/units/{unit_id}"): Row(
        "+ + F F H H",
        lambda w, s, r: Call("DELETE", f"{API}/units/{w.fresh_unit(s)}"),
    ),
    ("GET", "/api/v1/units/{unit_id}/status-history"): Row(
        ALL, lambda w, s, r: Call("GET", f"{API}/units/{s.unit_id}/status-history")
    ),
    ("GET", "/api/v1/units/{unit_id}/ownership-shares"): Row(
        ALL, lambda w, s, r: Call("GET", f"{API}/units/{s.unit_id}/ownership-shares")
    ),
    ("POST", "/api/v1/units/{unit_id}/ownership-shares"): Row(
        "+ + F F F F",
        lambda w, s, r: Call(
            "POST",
            f"{API}/units/{s.unit_id}/ownership-shares",
            json={"person_id": s.other_person_id, "share": "0.001"},
        ),
    ),
    ("DELETE", "/api/v1/units/{unit_id}/ownership-shares/{share_id}"): Row(
        "+ + F F H H",
        lambda w, s, r: Call(
            "DELETE",
            f"{API}/units/{s.unit_id}/ownership-shares/{w.fresh_share(s)}",
        ),
    ),
    # --- people ------------------------------------------------------------------
    ("GET", "/api/v1/people"): Row(
        "+ + + F + +",
        listing("/people"),
        kind="list",
        target=lambda s, r: s.person_for(r),
        other=lambda s: s.other_person_id,
    ),
    ("POST", "/api/v1/people"): Row(
        "+ + F F H H",
        lambda w, s, r: Call(
            "POST",
            f"{API}/people",
            json={"property_id": s.property_id, "name": "Li Lei"},
        ),
        kind="create",
    ),
    ("GET", "/api/v1/people/{person_id}"): Row(
        "+ + + H + +",
        lambda w, s, r: Call("GET", f"{API}/people/{s.person_for(r)}"),
    ),
    ("PATCH", "/api/v1/people/{person_id}"): Row(
        "+ + F H F F",
        lambda w, s, r: Call(
            "PATCH", f"{API}/people/{s.person_for(r)}", json={"phone": "+86 10 1234"}
        ),
    ),
    ("DELETE", "/api/v1/people/{person_id}"): Row(
        "+ + F H H H",
        lambda w, s, r: Call("DELETE", f"{API}/people/{w.fresh_person(s)}"),
    ),
    # --- leases ------------------------------------------------------------------
    ("GET", "/api/v1/leases"): Row(
        "+ + + F + +",
        listing("/leases"),
        kind="list",
        target=lambda s, r: s.lease_id,
        other=lambda s: s.other_lease_id,
    ),
    ("POST", "/api/v1/leases"): Row(
        "+ + F F F F",
        lambda w, s, r: Call(
            "POST",
            f"{API}/leases",
            json={
                "reference": fresh("R"),
                "unit_ids": [s.unit_id],
                "tenant_id": s.tenant_person_id,
                "start_date": "2027-01-01",
                "rent": "2500",
            },
        ),
        kind="create",
    ),
    ("GET", "/api/v1/leases/{lease_id}"): Row(
        "+ + + H + +", lambda w, s, r: Call("GET", f"{API}/leases/{s.lease_id}")
    ),
    ("PATCH", "/api/v1/leases/{lease_id}"): Row(
        "+ + F H F F",
        lambda w, s, r: Call(
            "PATCH", f"{API}/leases/{s.lease_id}", json={"deposit": "6000"}
        ),
    ),
    ("DELETE", "/api/v1/leases/{lease_id}"): Row(
        "+ + F H H H",
        lambda w, s, r: Call("DELETE", f"{API}/leases/{w.fresh_draft_lease(s)}"),
    ),
    # --- equipment and inspections ---------------------------------------------
    ("GET", "/api/v1/equipment"): Row(
        "+ + F + F F",
        listing("/equipment"),
        kind="list",
        target=lambda s, r: s.equipment_id,
    ),
    ("POST", "/api/v1/equipment"): Row(
        "+ + F + H H",
        lambda w, s, r: Call(
            "POST",
            f"{API}/equipment",
            json={"building_id": s.building_id, "category": "pump", "name": "P1"},
        ),
        kind="create",
    ),
    ("GET", "/api/v1/equipment/{equipment_id}"): Row(
        "+ + H + H H",
        lambda w, s, r: Call("GET", f"{API}/equipment/{s.equipment_id}"),
    ),
    ("PATCH", "/api/v1/equipment/{equipment_id}"): Row(
        "+ + H + H H",
        lambda w, s, r: Call(
            "PATCH", f"{API}/equipment/{s.equipment_id}", json={"floor": 0}
        ),
    ),
    ("DELETE", "/api/v1/equipment/{equipment_id}"): Row(
        "+ + H + H H",
        lambda w, s, r: Call("DELETE", f"{API}/equipment/{w.fresh_equipment(s)}"),
    ),
    ("POST", "/api/v1/equipment/{equipment_id}/inspections"): Row(
        "+ + H + H H",
        lambda w, s, r: Call(
            "POST",
            f"{API}/equipment/{s.equipment_id}/inspections",
            json={
                "kind": "fire certificate",
                "authority": "fire brigade",
                "interval_months": 6,
                "next_due_on": "2026-09-01",
            },
        ),
    ),
    ("GET", "/api/v1/inspections"): Row(
        "+ + F + F F",
        listing("/inspections"),
        kind="list",
        target=lambda s, r: s.inspection_id,
    ),
    ("GET", "/api/v1/inspections/{inspection_id}"): Row(
        "+ + H + H H",
        lambda w, s, r: Call("GET", f"{API}/inspections/{s.inspection_id}"),
    ),
    ("PATCH", "/api/v1/inspections/{inspection_id}"): Row(
        "+ + H + H H",
        lambda w, s, r: Call(
            "PATCH",
            f"{API}/inspections/{s.inspection_id}",
            json={"certificate_number": "C-1"},
        ),
    ),
    ("DELETE", "/api/v1/inspections/{inspection_id}"): Row(
        "+ + H + H H",
        lambda w, s, r: Call("DELETE", f"{API}/inspections/{w.fresh_inspection(s)}"),
    ),
    # --- meters ------------------------------------------------------------------
    ("GET", "/api/v1/meter-points"): Row(
        "+ + + + F F",
        listing("/meter-points"),
        kind="list",
        target=lambda s, r: s.meter_point_id,
    ),
    ("POST", "/api/v1/meter-points"): Row(
        "+ + F + F F",
        lambda w, s, r: Call(
            "POST",
            f"{API}/meter-points",
            json={"kind": "water", "name": "cold water", "unit_id": s.unit_id},
        ),
        kind="create",
    ),
    ("GET", "/api/v1/meter-points/{meter_point_id}"): Row(
        "+ + + + H H",
        lambda w, s, r: Call("GET", f"{API}/meter-points/{s.meter_point_id}"),
    ),
    ("DELETE", "/api/v1/meter-points/{meter_point_id}"): Row(
        "+ + F + H H",
        lambda w, s, r: Call("DELETE", f"{API}/meter-points/{w.fresh_meter_point(s)}"),
    ),
    ("GET", "/api/v1/meters"): Row(
        "+ + + + F F",
        listing("/meters"),
        kind="list",
        target=lambda s, r: s.meter_id,
    ),
    ("POST", "/api/v1/meters"): Row(
        "+ + F + H H",
        lambda w, s, r: Call("POST", f"{API}/meters", json=install(s, w)),
        kind="create",
    ),
    ("GET", "/api/v1/meters/{meter_id}"): Row(
        "+ + + + H H", lambda w, s, r: Call("GET", f"{API}/meters/{s.meter_id}")
    ),
    ("PATCH", "/api/v1/meters/{meter_id}"): Row(
        "+ + F + H H",
        lambda w, s, r: Call(
            "PATCH", f"{API}/meters/{s.meter_id}", json={"manufacturer": "Eastron"}
        ),
    ),
    ("POST", "/api/v1/meters/{meter_id}/remove"): Row(
        "+ + F + H H",
        lambda w, s, r: Call(
            "POST", f"{API}/meters/{w.fresh_meter(s)}/remove", json=REMOVAL
        ),
    ),
    ("POST", "/api/v1/meters/{meter_id}/replace"): Row(
        "+ + F + H H",
        lambda w, s, r: Call(
            "POST",
            f"{API}/meters/{w.fresh_meter(s)}/replace",
            json={**REMOVAL, "new": NEW_METER},
        ),
    ),
    # --- gateways and telemetry ------------------------------------------------
    ("POST", "/api/v1/gateways"): Row(
        "+ + F F H H",
        lambda w, s, r: Call(
            "POST",
            f"{API}/gateways",
            json={"id": fresh("gw"), "building_id": s.building_id},
        ),
        kind="create",
    ),
    ("GET", "/api/v1/gateways"): Row(
        "+ + F + F F",
        listing("/gateways"),
        kind="list",
        target=lambda s, r: s.gateway_id,
    ),
    ("GET", "/api/v1/gateways/{gateway_id}"): Row(
        "+ + H + H H", lambda w, s, r: Call("GET", f"{API}/gateways/{s.gateway_id}")
    ),
    ("PATCH", "/api/v1/gateways/{gateway_id}"): Row(
        "+ + H F H H",
        lambda w, s, r: Call(
            "PATCH", f"{API}/gateways/{s.gateway_id}", json={"name": "roof"}
        ),
    ),
    ("POST", "/api/v1/gateways/{gateway_id}/rotate-token"): Row(
        "+ + H F H H",
        lambda w, s, r: Call(
            "POST", f"{API}/gateways/{w.fresh_gateway(s)}/rotate-token"
        ),
    ),
    ("POST", "/api/v1/gateways/{gateway_id}/revoke"): Row(
        "+ + H F H H",
        lambda w, s, r: Call("POST", f"{API}/gateways/{w.fresh_gateway(s)}/revoke"),
    ),
    ("GET", "/api/v1/gateways/{gateway_id}/stats"): Row(
        "+ + H + H H",
        lambda w, s, r: Call("GET", f"{API}/gateways/{s.gateway_id}/stats"),
    ),
    ("POST", "/api/v1/gateways/{gateway_id}/commands"): Row(
        "+ + H F H H",
        lambda w, s, r: Call(
            "POST",
            f"{API}/gateways/{s.gateway_id}/commands",
            json={"kind": "unlock", "device_id": "door-1", "args": {"seconds": 3}},
        ),
        kind="create",
    ),
    ("POST", "/api/v1/gateways/{gateway_id}/rotate-token/deliver"): Row(
        "+ + H F H H",
        lambda w, s, r: Call(
            "POST", f"{API}/gateways/{w.fresh_gateway(s)}/rotate-token/deliver"
        ),
        kind="create",
    ),
    ("GET", "/api/v1/gateways/{gateway_id}/commands"): Row(
        "+ + H + H H",
        lambda w, s, r: Call("GET", f"{API}/gateways/{s.gateway_id}/commands"),
    ),
    ("GET", "/api/v1/gateways/{gateway_id}/integrity"): Row(
        "+ + H + H H",
        lambda w, s, r: Call(
            "GET", f"{API}/gateways/{s.gateway_id}/integrity", params={"upto": 5}
        ),
    ),
    ("GET", "/api/v1/devices"): Row(
        "+ + F + F F",
        listing("/devices"),
        kind="list",
        key="gateway_id",
        target=lambda s, r: s.gateway_id,
    ),
    ("GET", "/api/v1/devices/{gateway_id}/{device_id}/latest"): Row(
        "+ + H + H H",
        lambda w, s, r: Call(
            "GET", f"{API}/devices/{s.gateway_id}/{s.device_id}/latest"
        ),
    ),
    ("GET", "/api/v1/readings"): Row(
        "+ + H + H H",
        lambda w, s, r: Call(
            "GET",
            f"{API}/readings",
            params={
                "gateway_id": s.gateway_id,
                "device_id": s.device_id,
                "point": s.point,
            },
        ),
    ),
    # --- imports and audit -------------------------------------------------------
    ("POST", "/api/v1/imports/{kind}"): Row(
        "+ + F F F F",
        lambda w, s, r: Call(
            "POST",
            f"{API}/imports/units",
            params={"dry_run": "true"},
            files=unit_csv(s),
        ),
        kind="create",
        foreign="I",
    ),
    ("GET", "/api/v1/audit"): Row(
        ADMIN_ONLY_LIST,
        listing("/audit"),
        kind="list",
        target=lambda s, r: s.audit_id,
    ),
}

for _parent in ("equipment", "leases"):
    _sees = "+ + + H + +" if _parent == "leases" else "+ + H + H H"
    _acts = "+ + F H F F" if _parent == "leases" else "+ + H + H H"
    _which = "lease" if _parent == "leases" else "equipment"

    def _base(side: Side, parent: str = _which) -> str:
        kind, parent_id, _ = attachment(side, parent)
        return f"{API}/{kind}/{parent_id}/attachments"

    MATRIX[("GET", f"/api/v1/{_parent}/{{parent_id}}/attachments")] = Row(
        _sees, lambda w, s, r, base=_base: Call("GET", base(s))
    )
    MATRIX[("POST", f"/api/v1/{_parent}/{{parent_id}}/attachments")] = Row(
        _acts, lambda w, s, r, base=_base: Call("POST", base(s), files=upload())
    )
    MATRIX[
        (
            "GET",
            f"/api/v1/{_parent}/{{parent_id}}/attachments/{{attachment_id}}/content",
        )
    ] = Row(
        _sees,
        lambda w, s, r, base=_base, which=_which: Call(
            "GET", f"{base(s)}/{attachment(s, which)[2]}/content"
        ),
    )
    MATRIX[
        ("DELETE", f"/api/v1/{_parent}/{{parent_id}}/attachments/{{attachment_id}}")
    ] = Row(
        _acts,
        lambda w, s, r, base=_base, which=_which: Call(
            "DELETE", f"{base(s)}/{w.fresh_attachment(s, which)}"
        ),
    )

MATRIX.update(alarm_matrix.rows(Row, Call))


# --- work orders, plans, rounds (issue 7) ---------------------------------------
STAFF_WORK = "+ + F + F F"
STAFF_CREATE = "+ + F + H H"
STAFF_LIST = "+ + + + - -"
STAFF_ITEM = "+ + + + H H"


def _order(path: str = "") -> Builder:
    return lambda w, s, r: Call("GET", f"{API}/work-orders/{mw.work_order(w, s)}{path}")


def _listing_made(path: str, *makers: Callable[[World, Side], object]) -> Builder:
    """A list call, once the records it must (or must not) hold exist."""

    def build(w: World, s: Side, r: str) -> Call:
        for make in makers:
            make(w, s)
        return listing(path)(w, s, r)

    return build


def _labour() -> dict[str, Any]:
    return {
        "started_at": "2026-03-01T10:00:00+00:00",
        "ended_at": "2026-03-01T11:00:00+00:00",
        "hourly_rate": "50",
    }


MATRIX |= {
    ("GET", "/api/v1/work-orders"): Row(
        ALL,
        _listing_made("/work-orders", mw.work_order, mw.other_work_order),
        kind="list",
        target=lambda s, r: mw.made(s, "work_order"),
        other=lambda s: mw.made(s, "other_work_order"),
    ),
    ("POST", "/api/v1/work-orders"): Row(
        "+ + F + + +",
        lambda w, s, r: Call(
            "POST",
            f"{API}/work-orders",
            json={"unit_id": s.unit_id, "category": "plumbing", "title": "Leak"},
        ),
        kind="create",
    ),
    ("GET", "/api/v1/work-orders/{work_order_id}"): Row(ALL, _order()),
    ("PATCH", "/api/v1/work-orders/{work_order_id}"): Row(
        STAFF_WORK,
        lambda w, s, r: Call(
            "PATCH",
            f"{API}/work-orders/{mw.work_order(w, s)}",
            json={"description": "Under the sink"},
        ),
    ),
    ("POST", "/api/v1/work-orders/{work_order_id}/transitions"): Row(
        STAFF_WORK,
        lambda w, s, r: Call(
            "POST",
            f"{API}/work-orders/{mw.fresh_work_order(w, s)}/transitions",
            json={"to": "assigned", "team": "plumbers"},
        ),
    ),
    ("GET", "/api/v1/work-orders/{work_order_id}/transitions"): Row(
        ALL, _order("/transitions")
    ),
    ("GET", "/api/v1/work-orders/{work_order_id}/checklist"): Row(
        ALL, _order("/checklist")
    ),
    ("POST", "/api/v1/work-orders/{work_order_id}/checklist"): Row(
        STAFF_WORK,
        lambda w, s, r: Call(
            "POST",
            f"{API}/work-orders/{mw.work_order(w, s)}/checklist",
            json={"text": "Shut the valve"},
        ),
    ),
    ("POST", "/api/v1/work-orders/{work_order_id}/checklist/{item_id}/done"): Row(
        STAFF_WORK,
        lambda w, s, r: Call(
            "POST",
            f"{API}/work-orders/{mw.work_order(w, s)}/checklist/"
            f"{mw.fresh_checklist_item(w, s)}/done",
        ),
    ),
    ("GET", "/api/v1/work-orders/{work_order_id}/labour"): Row(
        STAFF_WORK, _order("/labour")
    ),
    ("POST", "/api/v1/work-orders/{work_order_id}/labour"): Row(
        STAFF_WORK,
        lambda w, s, r: Call(
            "POST", f"{API}/work-orders/{mw.work_order(w, s)}/labour", json=_labour()
        ),
    ),
    ("GET", "/api/v1/work-orders/{work_order_id}/parts"): Row(
        STAFF_WORK, _order("/parts")
    ),
    ("POST", "/api/v1/work-orders/{work_order_id}/parts"): Row(
        STAFF_WORK,
        lambda w, s, r: Call(
            "POST",
            f"{API}/work-orders/{mw.work_order(w, s)}/parts",
            json={"description": "Washer", "quantity": "1", "unit_cost": "0.40"},
        ),
    ),
    ("GET", "/api/v1/work-orders/{work_order_id}/costs"): Row(
        STAFF_WORK, _order("/costs")
    ),
    # Only the requester rates (the world's orders were reported by staff jobs).
    ("POST", "/api/v1/work-orders/{work_order_id}/rating"): Row(
        "F F F F F F",
        lambda w, s, r: Call(
            "POST",
            f"{API}/work-orders/{mw.work_order(w, s)}/rating",
            json={"rating": 4},
        ),
    ),
    ("GET", "/api/v1/work-orders/{work_order_id}/photos"): Row(ALL, _order("/photos")),
    ("POST", "/api/v1/work-orders/{work_order_id}/photos"): Row(
        STAFF_WORK,
        lambda w, s, r: Call(
            "POST",
            f"{API}/work-orders/{mw.work_order(w, s)}/photos",
            files={"file": ("leak.png", PNG, "image/png")},
        ),
    ),
    ("GET", "/api/v1/work-orders/{work_order_id}/photos/{photo_id}/content"): Row(
        ALL,
        lambda w, s, r: Call(
            "GET",
            f"{API}/work-orders/{mw.work_order(w, s)}/photos/{mw.photo(w, s)}/content",
        ),
    ),
    ("GET", "/api/v1/sla-targets"): Row(
        STAFF_LIST,
        _listing_made("/sla-targets", mw.sla_target),
        kind="list",
        target=lambda s, r: mw.made(s, "sla_target"),
    ),
    ("POST", "/api/v1/sla-targets"): Row(
        STAFF_CREATE,
        lambda w, s, r: Call(
            "POST",
            f"{API}/sla-targets",
            json={
                "property_id": s.property_id,
                "urgency": "low",
                "category": mw.trade(),
                "response_minutes": 600,
                "resolution_minutes": 6000,
            },
        ),
        kind="create",
    ),
    ("GET", "/api/v1/work-order-watchers"): Row(
        "+ + F + - -",
        _listing_made("/work-order-watchers", mw.watcher),
        kind="list",
        target=lambda s, r: mw.made(s, "watcher"),
    ),
    ("POST", "/api/v1/work-order-watchers"): Row(
        STAFF_CREATE,
        lambda w, s, r: Call(
            "POST",
            f"{API}/work-order-watchers",
            json={
                "property_id": s.property_id,
                "channel": "webhook",
                "target": "https://example.org/hook",
                "label": "desk",
            },
        ),
        kind="create",
    ),
    ("GET", "/api/v1/maintenance-plans"): Row(
        STAFF_LIST,
        _listing_made("/maintenance-plans", mw.plan),
        kind="list",
        target=lambda s, r: mw.made(s, "plan"),
    ),
    # Accountants do not see equipment, so not the equipment a plan is for.
    ("POST", "/api/v1/maintenance-plans"): Row(
        "+ + H + H H",
        lambda w, s, r: Call(
            "POST",
            f"{API}/maintenance-plans",
            json={
                "equipment_id": s.equipment_id,
                "name": "Monthly check",
                "interval_unit": "months",
                "interval_count": 1,
                "first_due_on": "2026-04-01",
                "category": "hvac",
                "title": "Check filters",
            },
        ),
        kind="create",
    ),
    ("GET", "/api/v1/maintenance-plans/{plan_id}"): Row(
        STAFF_ITEM,
        lambda w, s, r: Call("GET", f"{API}/maintenance-plans/{mw.plan(w, s)}"),
    ),
    ("GET", "/api/v1/round-plans"): Row(
        STAFF_LIST,
        _listing_made("/round-plans", mw.round_plan),
        kind="list",
        target=lambda s, r: mw.made(s, "round_plan"),
    ),
    ("POST", "/api/v1/round-plans"): Row(
        STAFF_CREATE,
        lambda w, s, r: Call(
            "POST",
            f"{API}/round-plans",
            json={
                "property_id": s.property_id,
                "name": "Morning walk",
                "every_hours": 24,
                "window_minutes": 60,
                "first_starts_at": "2026-03-02T07:00:00+00:00",
                "checkpoints": [{"name": "Boiler room"}],
            },
        ),
        kind="create",
    ),
    ("GET", "/api/v1/round-plans/{plan_id}/checkpoints"): Row(
        STAFF_CREATE,
        lambda w, s, r: Call(
            "GET", f"{API}/round-plans/{mw.round_plan(w, s)}/checkpoints"
        ),
    ),
    ("GET", "/api/v1/round-tasks"): Row(
        STAFF_LIST,
        _listing_made("/round-tasks", mw.round_task),
        kind="list",
        target=lambda s, r: mw.made(s, "round_task"),
    ),
    ("GET", "/api/v1/round-tasks/{task_id}"): Row(
        STAFF_ITEM,
        lambda w, s, r: Call("GET", f"{API}/round-tasks/{mw.round_task(w, s)}"),
    ),
    ("GET", "/api/v1/round-tasks/{task_id}/checks"): Row(
        STAFF_ITEM,
        lambda w, s, r: Call("GET", f"{API}/round-tasks/{mw.round_task(w, s)}/checks"),
    ),
    ("POST", "/api/v1/round-tasks/{task_id}/checks"): Row(
        STAFF_CREATE,
        lambda w, s, r: Call(
            "POST",
            f"{API}/round-tasks/{mw.fresh_round_task(w, s)}/checks",
            json={"qr_token": mw.qr_token(w, s), "ok": True},
        ),
    ),
    ("GET", "/api/v1/me/work-orders"): Row(
        "- - - - + +",
        _listing_made("/me/work-orders", mw.work_order, mw.other_work_order),
        kind="list",
        target=lambda s, r: mw.made(s, "work_order"),
        other=lambda s: mw.made(s, "other_work_order"),
    ),
    ("GET", "/api/v1/me/round-tasks"): Row(
        "- - - - - -",
        _listing_made("/me/round-tasks", mw.round_task),
        kind="list",
        target=lambda s, r: mw.made(s, "round_task"),
    ),
}


# --- notices, complaints, surveys (issue 7) ------------------------------------------
MATRIX |= {
    ("GET", "/api/v1/notices"): Row(
        ALL,
        _listing_made("/notices", mw.notice, mw.other_notice),
        kind="list",
        target=lambda s, r: mw.made(s, "notice"),
        other=lambda s: mw.made(s, "other_notice"),
    ),
    ("POST", "/api/v1/notices"): Row(
        "+ + F F H H",
        lambda w, s, r: Call(
            "POST",
            f"{API}/notices",
            json={
                "property_id": s.property_id,
                "kind": "general",
                "title": "Bins moved",
                "body": "To the north gate.",
                "publish_at": "2026-03-01T00:00:00+00:00",
                "expires_at": "2026-04-01T00:00:00+00:00",
            },
        ),
        kind="create",
    ),
    ("GET", "/api/v1/notices/board"): Row(
        STAFF_ITEM,
        lambda w, s, r: Call(
            "GET", f"{API}/notices/board", params={"property_id": s.property_id}
        ),
    ),
    ("GET", "/api/v1/notices/{notice_id}"): Row(
        ALL, lambda w, s, r: Call("GET", f"{API}/notices/{mw.notice(w, s)}")
    ),
    ("GET", "/api/v1/notices/{notice_id}/affected-units"): Row(
        ALL,
        lambda w, s, r: Call("GET", f"{API}/notices/{mw.notice(w, s)}/affected-units"),
    ),
    ("GET", "/api/v1/notices/{notice_id}/receipts"): Row(
        "+ + F F F F",
        lambda w, s, r: Call("GET", f"{API}/notices/{mw.notice(w, s)}/receipts"),
    ),
    ("GET", "/api/v1/notice-channels"): Row(
        "+ + F F F F",
        _listing_made("/notice-channels", mw.channel),
        kind="list",
        target=lambda s, r: mw.made(s, "channel"),
    ),
    ("POST", "/api/v1/notice-channels"): Row(
        "+ + F F H H",
        lambda w, s, r: Call(
            "POST",
            f"{API}/notice-channels",
            json={
                "property_id": s.property_id,
                "label": "SMS",
                "apprise_url": "json://sms.example.org/x",
            },
        ),
        kind="create",
    ),
    ("GET", "/api/v1/complaints"): Row(
        STAFF_LIST,
        _listing_made("/complaints", mw.complaint),
        kind="list",
        target=lambda s, r: mw.made(s, "complaint"),
    ),
    ("POST", "/api/v1/complaints"): Row(
        "+ + F + + +",
        lambda w, s, r: Call(
            "POST",
            f"{API}/complaints",
            json={"unit_id": s.unit_id, "category": "cleaning", "text": "Stairs"},
        ),
        kind="create",
    ),
    ("GET", "/api/v1/complaints/{complaint_id}"): Row(
        STAFF_ITEM,
        lambda w, s, r: Call("GET", f"{API}/complaints/{mw.complaint(w, s)}"),
    ),
    ("POST", "/api/v1/complaints/{complaint_id}/answer"): Row(
        STAFF_CREATE,
        lambda w, s, r: Call(
            "POST",
            f"{API}/complaints/{mw.complaint(w, s)}/answer",
            json={"response": "We will look into it."},
        ),
    ),
    # Only who filed it rates (the world's complaint was filed by a job).
    ("POST", "/api/v1/complaints/{complaint_id}/rating"): Row(
        "F F F F H H",
        lambda w, s, r: Call(
            "POST",
            f"{API}/complaints/{mw.complaint(w, s)}/rating",
            json={"rating": 3},
        ),
    ),
    ("GET", "/api/v1/surveys"): Row(
        ALL,
        _listing_made("/surveys", mw.survey),
        kind="list",
        target=lambda s, r: mw.made(s, "survey"),
    ),
    ("POST", "/api/v1/surveys"): Row(
        STAFF_CREATE,
        lambda w, s, r: Call(
            "POST",
            f"{API}/surveys",
            json={
                "property_id": s.property_id,
                "title": "Lifts",
                "questions": [{"text": "Lifts", "kind": "rating"}],
                "opens_at": "2026-03-01T00:00:00+00:00",
                "closes_at": "2026-04-01T00:00:00+00:00",
            },
        ),
        kind="create",
    ),
    ("GET", "/api/v1/surveys/{survey_id}"): Row(
        ALL, lambda w, s, r: Call("GET", f"{API}/surveys/{mw.survey(w, s)}")
    ),
    ("POST", "/api/v1/surveys/{survey_id}/responses"): Row(
        "+ + F + + +",
        lambda w, s, r: Call(
            "POST",
            f"{API}/surveys/{mw.fresh_survey(w, s)}/responses",
            json={"answers": [5]},
        ),
    ),
    ("GET", "/api/v1/surveys/{survey_id}/results"): Row(
        "+ + + + F F",
        lambda w, s, r: Call("GET", f"{API}/surveys/{mw.survey(w, s)}/results"),
    ),
    ("GET", "/api/v1/me/notices"): Row(
        ALL,
        _listing_made("/me/notices", mw.notice, mw.other_notice),
        kind="list",
        target=lambda s, r: mw.made(s, "notice"),
        other=lambda s: mw.made(s, "other_notice"),
    ),
    ("POST", "/api/v1/me/notices/{notice_id}/read"): Row(
        ALL,
        lambda w, s, r: Call("POST", f"{API}/me/notices/{mw.notice(w, s)}/read"),
    ),
    ("GET", "/api/v1/staff-badges"): Row(
        ADMIN_ONLY_LIST,
        _listing_made("/staff-badges", mw.badge),
        kind="list",
        target=lambda s, r: mw.made(s, "badge"),
    ),
    ("POST", "/api/v1/staff-badges"): Row(
        ADMIN_ONLY_LIST,
        lambda w, s, r: Call(
            "POST",
            f"{API}/staff-badges",
            json={"user_id": s.user_id, "card_hex": mw.card()},
        ),
        kind="org",
    ),
    ("GET", "/api/v1/me/complaints"): Row(
        "- - - - - -",
        _listing_made("/me/complaints", mw.complaint),
        kind="list",
        target=lambda s, r: mw.made(s, "complaint"),
    ),
}


# --- billing (records made on first use: tests/cloud/billing_world.py) ------------

BILLED_LIST = "+ + + F - -"  # staff with billing roles; owners and tenants: theirs
BILLING_ITEM = "+ + + H H H"
BILLING_CREATE = "+ + + F H H"
BILLING_ON_PROPERTY = "+ + + F H H"


def _billing_day() -> str:
    return bw.fresh_day().isoformat()


def _statement() -> dict[str, Any]:
    content = (
        f"transaction_id,date,amount,reference\n{fresh('tx')},2026-03-05,1.00,nothing\n"
    )
    return {"file": ("statement.csv", content.encode(), "text/csv")}


MATRIX.update(
    {
        ("GET", "/api/v1/billing/settings"): Row(
            "+ + + F + +",
            lambda w, s, r: Call("GET", f"{API}/billing/settings"),
            kind="org",
        ),
        ("PATCH", "/api/v1/billing/settings"): Row(
            "+ F F F F F",
            lambda w, s, r: Call(
                "PATCH", f"{API}/billing/settings", json={"payment_terms_days": 15}
            ),
            kind="org",
        ),
        ("GET", "/api/v1/billing/tariffs"): Row(
            BILLED_LIST,
            _listing_made("/billing/tariffs", bw.tariff_id),
            kind="list",
            target=lambda s, r: bw.made(s, "tariff"),
        ),
        ("POST", "/api/v1/billing/tariffs"): Row(
            BILLING_CREATE,
            lambda w, s, r: Call(
                "POST",
                f"{API}/billing/tariffs",
                json={
                    "property_id": s.property_id,
                    "meter_kind": "water",
                    "name": fresh("water"),
                    "versions": [
                        {
                            "effective_from": "2026-01-01T00:00:00+08:00",
                            "tiers": [{"rate": "3.5"}],
                        }
                    ],
                },
            ),
            kind="create",
        ),
        ("GET", "/api/v1/billing/tariffs/{tariff_id}"): Row(
            BILLING_ITEM,
            lambda w, s, r: Call("GET", f"{API}/billing/tariffs/{bw.tariff_id(w, s)}"),
        ),
        ("POST", "/api/v1/billing/tariffs/{tariff_id}/versions"): Row(
            BILLING_ITEM,
            lambda w, s, r: Call(
                "POST",
                f"{API}/billing/tariffs/{bw.tariff_id(w, s)}/versions",
                json={
                    "effective_from": f"{_billing_day()}T00:00:00+08:00",
                    "tiers": [{"rate": "0.6"}],
                },
            ),
        ),
        ("POST", "/api/v1/billing/meters/{meter_id}/readings"): Row(
            "+ + F + H H",
            lambda w, s, r: Call(
                "POST",
                f"{API}/billing/meters/{s.meter_id}/readings",
                json={"value": "20.5", "taken_at": "2026-02-01T08:00:00Z"},
            ),
        ),
        ("POST", "/api/v1/billing/meters/{meter_id}/reviews"): Row(
            "+ + + F H H",
            lambda w, s, r: Call(
                "POST",
                f"{API}/billing/meters/{s.meter_id}/reviews",
                json={"reading_ref": fresh("gw:x"), "decision": "rejected"},
            ),
        ),
        ("GET", "/api/v1/billing/properties/{property_id}/held-readings"): Row(
            BILLING_ON_PROPERTY,
            lambda w, s, r: Call(
                "GET", f"{API}/billing/properties/{s.property_id}/held-readings"
            ),
        ),
        ("POST", "/api/v1/billing/runs"): Row(
            BILLING_CREATE,
            lambda w, s, r: Call(
                "POST",
                f"{API}/billing/runs",
                json={
                    "property_id": s.property_id,
                    "period_first": (day := _billing_day()),
                    "period_last": day,
                },
            ),
            kind="create",
        ),
        ("GET", "/api/v1/billing/runs"): Row(
            BILLED_LIST,
            _listing_made("/billing/runs", bw.run_id),
            kind="list",
            target=lambda s, r: bw.made(s, "run"),
        ),
        ("GET", "/api/v1/billing/runs/{run_id}"): Row(
            BILLING_ITEM,
            lambda w, s, r: Call("GET", f"{API}/billing/runs/{bw.run_id(w, s)}"),
        ),
        ("DELETE", "/api/v1/billing/runs/{run_id}"): Row(
            BILLING_ITEM,
            lambda w, s, r: Call(
                "DELETE",
                f"{API}/billing/runs/{bw.fresh_run(w, s, approve=False)}",
            ),
        ),
        ("POST", "/api/v1/billing/runs/{run_id}/approve"): Row(
            BILLING_ITEM,
            lambda w, s, r: Call(
                "POST",
                f"{API}/billing/runs/{bw.fresh_run(w, s, approve=False)}/approve",
            ),
        ),
        ("GET", "/api/v1/billing/invoices"): Row(
            "+ + + F - +",
            _listing_made("/billing/invoices", bw.invoice_id, bw.other_invoice_id),
            kind="list",
            target=lambda s, r: bw.made(s, "invoice"),
            other=lambda s: bw.made(s, "other-invoice"),
        ),
        ("GET", "/api/v1/billing/invoices/{invoice_id}"): Row(
            "+ + + H H +",
            lambda w, s, r: Call(
                "GET", f"{API}/billing/invoices/{bw.invoice_id(w, s)}"
            ),
        ),
        ("POST", "/api/v1/billing/invoices/{invoice_id}/credit-notes"): Row(
            "+ + + H H F",
            lambda w, s, r: Call(
                "POST",
                f"{API}/billing/invoices/{bw.fresh_invoice(w, s)}/credit-notes",
                json={"reason": "Charged twice"},
            ),
        ),
        ("GET", "/api/v1/billing/one-off-charges"): Row(
            BILLED_LIST,
            _listing_made("/billing/one-off-charges", bw.one_off_id),
            kind="list",
            target=lambda s, r: bw.made(s, "one-off"),
        ),
        ("POST", "/api/v1/billing/one-off-charges"): Row(
            BILLING_CREATE,
            lambda w, s, r: Call(
                "POST",
                f"{API}/billing/one-off-charges",
                json={
                    "property_id": s.property_id,
                    "amount": "12.00",
                    "description": "Lost key card",
                    "lease_id": s.lease_id,
                    "source_ref": fresh("card"),
                    "charge_date": "2199-01-01",
                },
            ),
            kind="create",
        ),
        ("POST", "/api/v1/billing/payments"): Row(
            BILLING_CREATE,
            lambda w, s, r: Call(
                "POST",
                f"{API}/billing/payments",
                json={
                    "property_id": s.property_id,
                    "person_id": s.other_person_id,
                    "amount": "1.00",
                    "received_at": "2026-03-05T10:00:00Z",
                    "reference": fresh("pay"),
                },
            ),
            kind="create",
        ),
        ("GET", "/api/v1/billing/payments"): Row(
            "+ + + F - +",
            _listing_made("/billing/payments", bw.payment_id),
            kind="list",
            target=lambda s, r: bw.made(s, "payment"),
        ),
        ("GET", "/api/v1/billing/payments/{payment_id}"): Row(
            "+ + + H H +",
            lambda w, s, r: Call(
                "GET", f"{API}/billing/payments/{bw.payment_id(w, s)}"
            ),
        ),
        ("POST", "/api/v1/billing/refunds"): Row(
            BILLING_CREATE,
            lambda w, s, r: Call(
                "POST",
                f"{API}/billing/refunds",
                json={
                    "property_id": s.property_id,
                    "person_id": bw.credit_holder(w, s),
                    "amount": "5.00",
                    "refunded_at": "2026-03-06T10:00:00Z",
                },
            ),
            kind="create",
        ),
        ("GET", "/api/v1/billing/refunds"): Row(
            "+ + + F - -",
            _listing_made("/billing/refunds", bw.refund_id),
            kind="list",
            target=lambda s, r: bw.made(s, "refund"),
        ),
        ("GET", "/api/v1/billing/properties/{property_id}/balances"): Row(
            BILLING_ON_PROPERTY,
            lambda w, s, r: Call(
                "GET", f"{API}/billing/properties/{s.property_id}/balances"
            ),
        ),
        ("POST", "/api/v1/billing/properties/{property_id}/statements"): Row(
            BILLING_CREATE,
            lambda w, s, r: Call(
                "POST",
                f"{API}/billing/properties/{s.property_id}/statements",
                files=_statement(),
            ),
        ),
        ("POST", "/api/v1/billing/dunning/run"): Row(
            "+ F F F F F",
            lambda w, s, r: Call("POST", f"{API}/billing/dunning/run"),
            kind="org",
        ),
        **{
            ("GET", f"/api/v1/billing/reports/{name}"): Row(
                "+ + + F F F",
                lambda w, s, r, name=name: Call(
                    "GET",
                    f"{API}/billing/reports/{name}",
                    params={"first": "2020-01-01", "last": "2199-12-31"},
                ),
                kind="org",
            )
            for name in ("income", "arrears", "collection", "consumption", "dunning")
        },
        ("GET", "/api/v1/billing/properties/{property_id}/export"): Row(
            BILLING_ON_PROPERTY,
            lambda w, s, r: Call(
                "GET",
                f"{API}/billing/properties/{s.property_id}/export",
                params={"first": "2020-01-01", "last": "2199-12-31", "format": "csv"},
            ),
        ),
    }
)


# --- the fixture -----------------------------------------------------------------


@pytest.fixture(scope="module", params=backends("access-matrix"))
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    """One populated database per backend, shared by the module's tests."""
    with running_world(request, tmp_path_factory) as world:
        yield world


# --- judging -----------------------------------------------------------------------


def expected(row: Row, role: str, foreign: bool) -> str:
    code = row.codes.split()[ROLES.index(role)]
    if not foreign:
        return code
    if row.kind == "list":
        return "F" if code == "F" else "-"
    if row.foreign == "H":
        return "H"
    return row.foreign if code == "+" else code


def outcome(row: Row, answer: Any, side: Side, role: str) -> str:
    if 200 <= answer.status_code < 300:
        if row.kind != "list":
            return "+"
        assert row.target is not None
        keys = [item[row.key] for item in answer.json()["data"]]
        return "+" if row.target(side, role) in keys else "-"
    codes = {401: "U", 403: "F", 404: "H", 409: "C", 422: "I"}
    return codes.get(answer.status_code, str(answer.status_code))


def send(world: World, call: Call, headers: dict[str, str]) -> Any:
    return world.client.request(
        call.method,
        call.path,
        headers=headers,
        json=call.json,
        params=call.params,
        files=call.files,
    )


def sides(row: Row) -> tuple[bool, ...]:
    return (False,) if row.kind in ("org", "gateway") else (False, True)


@pytest.mark.parametrize(
    "route", sorted(MATRIX), ids=lambda route: f"{route[0]} {route[1]}"
)
def test_route(world: World, route: tuple[str, str]) -> None:
    row = MATRIX[route]
    if row.kind == "open":
        answer = send(world, row.call(world, world.own, ""), {})
        assert answer.status_code != 401, answer.text
        return
    mismatches = []
    for role in ROLES:
        for foreign in sides(row):
            side = world.foreign(role) if foreign else world.own
            answer = send(world, row.call(world, side, role), world.headers[role])
            got, want = outcome(row, answer, side, role), expected(row, role, foreign)
            if got != want:
                where = "foreign" if foreign else "own"
                mismatches.append(
                    f"{role} on {where}: expected {want}, got {got} "
                    f"({answer.status_code} {answer.text[:300]})"
                )
            elif got == "+" and row.other is not None and not foreign:
                mismatches += _others(row, answer, side, role)
    anonymous = send(world, row.call(world, world.own, ROLES[0]), {})
    if anonymous.status_code != 401:
        mismatches.append(f"anonymous: expected 401, got {anonymous.status_code}")
    assert not mismatches, "\n".join(mismatches)


def _others(row: Row, answer: Any, side: Side, role: str) -> list[str]:
    """Staff list every record of their property; owners and tenants theirs only."""
    assert row.other is not None
    listed = row.other(side) in [item[row.key] for item in answer.json()["data"]]
    if listed == (role in ("owner", "tenant")):
        return [f"{role}: {'sees' if listed else 'misses'} another's record"]
    return []


def test_matrix_names_every_route(world: World) -> None:
    """A route the matrix does not know is a route whose access nobody checked."""
    served = {
        (method, context.path)
        for context in iter_route_contexts(world.app.routes)
        if isinstance(context.original_route, APIRoute)
        for method in context.methods or ()
    }

    assert served - set(MATRIX) == set(), "add these routes to MATRIX"
    assert set(MATRIX) - served == set(), "these MATRIX rows match no route"
