"""Notices: targeted to units, published by the job, in the residents' feed with
delivery and read receipts, sent through the outbox, printed on the board."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from cloud.models import OutboxMessage
from cloud.services import notices
from tests.cloud.helpers import Login, created, fresh_id
from tests.cloud.maintenance_setup import API, Site, make_site


def notice(client: TestClient, site: Site, **fields: Any) -> Any:
    now = datetime.now(UTC)
    body = {
        "property_id": site.property_id,
        "kind": "event",
        "title": "Summer fair",
        "body": "In the courtyard.",
        "publish_at": (now - timedelta(minutes=1)).isoformat(),
        "expires_at": (now + timedelta(days=2)).isoformat(),
    } | fields
    return client.post(f"{API}/notices", json=body, headers=site.manager)


def publish(app: FastAPI) -> list[int]:
    with app.state.pams.session_factory() as session:
        published = notices.publish_due(session, now=datetime.now(UTC))
        session.commit()
        return published


def test_an_outage_reaches_the_units_it_affects_and_records_receipts(
    app: FastAPI, client: TestClient, admin: Login
) -> None:
    site = make_site(app, client, admin)
    unit = client.get(f"{API}/units/{site.unit_id}", headers=site.manager).json()
    created(
        client.post(
            f"{API}/notice-channels",
            json={
                "property_id": site.property_id,
                "label": "residents SMS",
                "apprise_url": "json://sms-gateway.example.org/notify",
            },
            headers=site.manager,
        )
    )
    outage = created(
        notice(
            client,
            site,
            kind="water_outage",
            title="Water off <Tuesday>",
            body="Pipe works on riser 2.",
            starts_at="2026-12-08T01:00:00+00:00",
            ends_at="2026-12-08T05:00:00+00:00",
            unit_ids=[site.unit_id],
        )
    )
    elsewhere = created(
        notice(client, site, title="Lift stop", unit_ids=[site.other_unit_id])
    )
    fair = created(notice(client, site))

    before = client.get(f"{API}/me/notices", headers=site.tenant).json()["data"]
    published = publish(app)
    feed = client.get(f"{API}/me/notices", headers=site.tenant).json()["data"]
    opened = client.post(f"{API}/me/notices/{outage['id']}/read", headers=site.tenant)
    receipts = client.get(
        f"{API}/notices/{outage['id']}/receipts", headers=site.manager
    ).json()
    affected = client.get(
        f"{API}/notices/{outage['id']}/affected-units", headers=site.tenant
    ).json()
    board = client.get(
        f"{API}/notices/board",
        params={"property_id": site.property_id},
        headers=site.manager,
    )
    with app.state.pams.session_factory() as session:
        sent = session.scalars(
            sa.select(OutboxMessage).where(
                OutboxMessage.topic == f"notice:{outage['id']}"
            )
        ).all()

    assert before == []
    assert {outage["id"], elsewhere["id"], fair["id"]} <= set(published)
    assert publish(app) == []
    assert {n["id"] for n in feed} == {outage["id"], fair["id"]}
    assert opened.status_code == 200, opened.text
    assert [(r["user_id"] is not None, r["read_at"] is not None) for r in receipts] == [
        (True, True)
    ]
    assert [u["number"] for u in affected] == [unit["number"]]
    assert [(m.channel, m.target) for m in sent] == [
        ("apprise", "json://sms-gateway.example.org/notify")
    ]
    assert f"Units affected: {unit['number']}." in sent[0].payload["body"]
    assert board.headers["content-type"].startswith("text/html")
    assert "Water off &lt;Tuesday&gt;" in board.text
    assert "Summer fair" in board.text


def test_a_notice_that_cannot_be_right_is_refused(
    app: FastAPI, client: TestClient, admin: Login
) -> None:
    site = make_site(app, client, admin)
    foreign = created(
        client.post(
            f"{API}/properties",
            json={"code": fresh_id("P"), "name": "Elsewhere", "kind": "office"},
            headers=admin.headers,
        )
    )
    foreign_building = created(
        client.post(
            f"{API}/buildings",
            json={"property_id": foreign["id"], "code": "X", "name": "X"},
            headers=admin.headers,
        )
    )

    no_times = notice(client, site, kind="power_outage")
    backwards = notice(
        client,
        site,
        expires_at="2026-01-01T00:00:00+00:00",
        publish_at="2026-02-01T00:00:00+00:00",
    )
    not_here = notice(client, site, building_ids=[foreign_building["id"]])

    assert no_times.status_code == 422
    assert "needs starts_at and ends_at" in no_times.json()["detail"][0]["msg"]
    assert backwards.json()["detail"][0]["msg"] == (
        "expires_at must be after publish_at."
    )
    assert not_here.json()["detail"][0]["loc"] == ["body", "building_ids"]
    assert "are not in property" in not_here.json()["detail"][0]["msg"]
