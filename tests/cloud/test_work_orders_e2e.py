"""A tenant reports a leak with a photo; a technician fixes it; the tenant rates it.

Every step goes through the API, as the mobile apps call it (README, "Work orders").
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from cloud.models import User
from cloud.services import work_orders
from cloud.services.access import load_scope
from cloud.services.errors import ConflictError
from tests.cloud.helpers import Login, created
from tests.cloud.maintenance_setup import make_site, me

API = "/api/v1"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def reason(answer: Any) -> str:
    """The message of an error answer, whichever shape it has."""
    detail = answer.json()["detail"]
    return detail if isinstance(detail, str) else detail[0]["msg"]


def moved(
    client: TestClient, headers: dict[str, str], order_id: int, **body: Any
) -> dict[str, Any]:
    answer = client.post(
        f"{API}/work-orders/{order_id}/transitions", json=body, headers=headers
    )
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def test_a_reported_leak_is_fixed_and_rated(
    app: FastAPI, client: TestClient, admin: Login
) -> None:
    site = make_site(app, client, admin)

    # The tenant reports the leak and adds a photo.
    order = created(
        client.post(
            f"{API}/work-orders",
            json={
                "unit_id": site.unit_id,
                "category": "plumbing",
                "urgency": "urgent",
                "title": "Water leaking under the kitchen sink",
                "location": "kitchen",
            },
            headers=site.tenant,
        )
    )
    photo = created(
        client.post(
            f"{API}/work-orders/{order['id']}/photos",
            files={"file": ("leak.png", PNG, "image/png")},
            headers=site.tenant,
        )
    )
    created_at = datetime.fromisoformat(order["created_at"])
    response_due = datetime.fromisoformat(order["response_due_at"])
    assert response_due - created_at == timedelta(hours=4)
    assert (order["source"], order["state"]) == ("tenant", "new")
    assert order["lease_id"] == site.lease_id
    assert photo["content_type"] == "image/png"

    # The manager assigns it; the technician works, logs time and parts.
    moved(
        client, site.manager, order["id"], to="assigned",
        assignee_user_id=site.technician_id,
    )  # fmt: skip
    moved(client, site.technician, order["id"], to="in_progress")
    start = created_at + timedelta(minutes=30)
    for minutes in ((0, 60), (30, 90)):  # overlapping: 90 minutes, not 120
        created(
            client.post(
                f"{API}/work-orders/{order['id']}/labour",
                json={
                    "started_at": (start + timedelta(minutes=minutes[0])).isoformat(),
                    "ended_at": (start + timedelta(minutes=minutes[1])).isoformat(),
                    "hourly_rate": "80.00",
                },
                headers=site.technician,
            )
        )
    created(
        client.post(
            f"{API}/work-orders/{order['id']}/parts",
            json={
                "description": "Compression fitting 15 mm",
                "quantity": "2",
                "unit_cost": "4.35",
                "chargeable": True,
            },
            headers=site.technician,
        )
    )
    resolved = moved(
        client, site.technician, order["id"], to="resolved", note="Fitting replaced"
    )
    # The fitting was the tenant's doing: the manager passes the parts on.
    marked = client.patch(
        f"{API}/work-orders/{order['id']}",
        json={"chargeable": True},
        headers=site.manager,
    )
    assert marked.status_code == 200, marked.text

    # The tenant rates it.
    rated = client.post(
        f"{API}/work-orders/{order['id']}/rating",
        json={"rating": 5, "comment": "Fixed within the hour"},
        headers=site.tenant,
    )
    closed = moved(client, site.tenant, order["id"], to="closed")
    costs = client.get(f"{API}/work-orders/{order['id']}/costs", headers=site.manager)
    charges = client.get(
        f"{API}/billing/one-off-charges",
        params={"property_id": site.property_id, "pending": True},
        headers=admin.headers,
    )
    history = client.get(
        f"{API}/work-orders/{order['id']}/transitions", headers=site.tenant
    )

    assert resolved["state"] == "resolved"
    assert resolved["responded_at"] is not None
    assert resolved["response_breached_at"] is None
    assert rated.status_code == 200, rated.text
    assert (rated.json()["rating"], rated.json()["rating_comment"]) == (
        5,
        "Fixed within the hour",
    )
    assert costs.json() | {"chargeable": None} == {
        "labour_hours": "1.50",
        "labour_cost": "120.00",
        "parts_cost": "8.70",
        "total": "128.70",
        "chargeable": None,
    }
    assert [(t["from_state"], t["to_state"]) for t in history.json()] == [
        (None, "new"),
        ("new", "assigned"),
        ("assigned", "in_progress"),
        ("in_progress", "resolved"),
        ("resolved", "closed"),
    ]
    # Closed, it was billed: nothing on it changes any more.
    late_part = client.post(
        f"{API}/work-orders/{order['id']}/parts",
        json={"description": "Washer", "quantity": "1", "unit_cost": "0.50"},
        headers=site.technician,
    )
    late_charge = client.patch(
        f"{API}/work-orders/{order['id']}",
        json={"charge_amount": "12.00"},
        headers=site.manager,
    )
    assert late_part.status_code == 409
    assert "is closed; its parts cannot change" in late_part.json()["detail"]
    assert late_charge.status_code == 409
    assert "is closed; its details cannot change" in late_charge.json()["detail"]
    # Closing hands the chargeable parts to billing, once, on the tenant's lease.
    assert closed["state"] == "closed"
    assert [
        (c["source"], c["source_ref"], c["amount"], c["lease_id"])
        for c in charges.json()["data"]
    ] == [("work_order", f"{order['id']}/1", "8.70", site.lease_id)]


def test_a_tenant_does_not_do_staff_work(
    app: FastAPI, client: TestClient, admin: Login
) -> None:
    site = make_site(app, client, admin)
    order = created(
        client.post(
            f"{API}/work-orders",
            json={
                "unit_id": site.unit_id,
                "category": "electrical",
                "title": "Socket sparks",
            },
            headers=site.tenant,
        )
    )

    labour = client.post(
        f"{API}/work-orders/{order['id']}/labour",
        json={
            "started_at": "2026-03-01T10:00:00+00:00",
            "ended_at": "2026-03-01T11:00:00+00:00",
        },
        headers=site.tenant,
    )
    resolve = client.post(
        f"{API}/work-orders/{order['id']}/transitions",
        json={"to": "resolved"},
        headers=site.tenant,
    )
    early_rating = client.post(
        f"{API}/work-orders/{order['id']}/rating",
        json={"rating": 3},
        headers=site.tenant,
    )

    assert labour.status_code == 403
    assert "Only staff" in labour.json()["detail"]
    assert resolve.status_code == 409
    assert "cannot move to resolved (allowed: cancelled)" in resolve.json()["detail"]
    assert early_rating.status_code == 409
    assert "can be rated once resolved" in early_rating.json()["detail"]


def test_bad_input_is_refused_with_the_reason(
    app: FastAPI, client: TestClient, admin: Login
) -> None:
    site = make_site(app, client, admin)
    order = created(
        client.post(
            f"{API}/work-orders",
            json={"unit_id": site.unit_id, "category": "plumbing", "title": "Drip"},
            headers=site.manager,
        )
    )

    backwards = client.post(
        f"{API}/work-orders/{order['id']}/labour",
        json={
            "started_at": "2026-03-01T11:00:00+00:00",
            "ended_at": "2026-03-01T10:00:00+00:00",
        },
        headers=site.technician,
    )
    six_stars = client.post(
        f"{API}/work-orders/{order['id']}/rating",
        json={"rating": 6},
        headers=site.manager,
    )
    no_assignee = client.post(
        f"{API}/work-orders/{order['id']}/transitions",
        json={"to": "assigned"},
        headers=site.manager,
    )
    bad_trade = client.post(
        f"{API}/work-orders",
        json={"unit_id": site.unit_id, "category": "Plumbing!", "title": "x"},
        headers=site.manager,
    )
    tenant_as_technician = client.post(
        f"{API}/work-orders/{order['id']}/labour",
        json={
            "started_at": "2026-03-01T10:00:00+00:00",
            "ended_at": "2026-03-01T11:00:00+00:00",
            "technician_user_id": me(client, site.tenant)["id"],
        },
        headers=site.manager,
    )
    not_a_photo = client.post(
        f"{API}/work-orders/{order['id']}/photos",
        files={"file": ("leak.png", b"GIF89a....", "image/png")},
        headers=site.manager,
    )

    assert backwards.status_code == 422
    assert "is not after started_at" in reason(backwards)
    assert six_stars.status_code == 422
    assert six_stars.json()["detail"][0]["loc"][-1] == "rating"
    assert no_assignee.status_code == 422
    assert "needs assignee_user_id or team" in reason(no_assignee)
    assert bad_trade.status_code == 422
    assert bad_trade.json()["detail"][0]["loc"][-1] == "category"
    assert tenant_as_technician.status_code == 422
    assert "is not a technician or manager" in reason(tenant_as_technician)
    assert tenant_as_technician.json()["detail"][0]["loc"][-1] == "technician_user_id"
    assert not_a_photo.status_code == 415
    assert "is not a PDF, PNG or JPEG" in not_a_photo.json()["detail"]


def test_the_requester_reopens_within_the_reopen_period_only(
    app: FastAPI, client: TestClient, admin: Login
) -> None:
    site = make_site(app, client, admin)
    order = created(
        client.post(
            f"{API}/work-orders",
            json={"unit_id": site.unit_id, "category": "plumbing", "title": "Drip"},
            headers=site.tenant,
        )
    )
    moved(client, site.manager, order["id"], to="assigned", team="plumbers")
    moved(client, site.manager, order["id"], to="in_progress")
    resolved = moved(client, site.manager, order["id"], to="resolved")
    resolved_at = datetime.fromisoformat(resolved["resolved_at"])
    tenant_id = me(client, site.tenant)["id"]

    def reopen(days: int) -> str:
        with app.state.pams.session_factory() as session:
            user = session.get(User, tenant_id)
            assert user is not None
            scope = load_scope(session, user)
            scope.bind(session)
            later = resolved_at + timedelta(days=days)
            try:
                work_orders.transition(
                    session, scope, order["id"], "in_progress", now=later
                )
            except ConflictError as exc:
                return exc.message
            return "reopened"

    too_late = reopen(work_orders.REOPEN_DAYS + 1)
    in_time = reopen(work_orders.REOPEN_DAYS - 1)

    assert "more than 14 days ago; report it anew" in too_late
    assert in_time == "reopened"
