"""Alarms from gateway events, with a controlled clock: dedup, never-reopen,
flapping, silences, grouping, escalation, resolved notices, delivery records."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from cloud.models import Alarm, AlarmEscalation, Gateway, OutboxMessage
from cloud.services import alarms, outbox
from cloud.services.access import Scope
from cloud.services.errors import ConflictError
from cloud.services.outbox import Delivery, DeliveryError, OutboxWorker
from cloud.settings import Settings
from sync.schema import Event
from tests.cloud.helpers import (
    PASSWORD,
    T0,
    Login,
    created,
    fresh_id,
    login,
    make_building,
    make_property,
)

API = "/api/v1"


@dataclass
class Site:
    """A property with a building, its gateway, and two technicians who each
    registered a webhook to be paged at."""

    app: FastAPI
    client: TestClient
    admin: Login
    property_id: int
    building_id: int
    gateway_id: str
    gateway_token: str
    techs: list[int]
    tech_headers: list[dict[str, str]]
    seqs: Iterator[int]

    def session(self) -> Session:
        session: Session = self.app.state.pams.session_factory()
        return session

    def event(
        self, device: str, alarm_type: str, state: str, at: datetime, **data: Any
    ) -> Event:
        return Event(
            seq=next(self.seqs),
            device_id=device,
            ts=at,
            kind="alarm",
            data={"type": alarm_type, "state": state, "severity": "critical", **data},
        )

    def apply(self, event: Event, now: datetime | None = None) -> Alarm | None:
        with self.session() as session:
            gateway = session.get(Gateway, self.gateway_id)
            assert gateway is not None
            alarm = alarms.apply_alarm_event(
                session, gateway, event, now=now or event.ts
            )
            session.commit()
            return alarm

    def raise_(self, device: str, at: datetime, alarm_type: str = "water_leak") -> int:
        alarm = self.apply(self.event(device, alarm_type, "active", at))
        assert alarm is not None
        return alarm.id

    def clear(self, device: str, at: datetime, alarm_type: str = "water_leak") -> None:
        self.apply(self.event(device, alarm_type, "cleared", at))

    def run_due(self, now: datetime) -> int:
        with self.session() as session:
            touched = alarms.run_due(session, now)
            session.commit()
            return touched

    def alarm(self, alarm_id: int) -> Alarm:
        with self.session() as session:
            found = session.get(Alarm, alarm_id)
            assert found is not None
            session.expunge(found)
            return found

    def messages(self, alarm_id: int) -> list[OutboxMessage]:
        with self.session() as session:
            rows = outbox.deliveries(session, f"alarm:{alarm_id}")
            session.expunge_all()
            return rows

    def told(self, alarm_id: int, state: str = "firing") -> list[str]:
        return [
            m.recipient for m in self.messages(alarm_id) if m.payload["state"] == state
        ]

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return created(
            self.client.post(API + path, json=body, headers=self.admin.headers)
        )


def _technician(
    client: TestClient, admin: Login, property_id: int
) -> tuple[int, dict[str, str]]:
    email = f"{fresh_id('tech')}@example.org"
    user = created(
        client.post(
            f"{API}/users",
            json={"email": email, "password": PASSWORD},
            headers=admin.headers,
        )
    )
    created(
        client.post(
            f"{API}/users/{user['id']}/grants",
            json={"property_id": property_id, "role": "technician"},
            headers=admin.headers,
        )
    )
    headers = login(client, email)
    created(
        client.post(
            f"{API}/push-subscriptions",
            json={"channel": "webhook", "url": f"https://hooks.example.org/{email}"},
            headers=headers,
        )
    )
    return int(user["id"]), headers


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """No background outbox worker or escalation job: the tests drive the clock."""
    return Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        argon2_profile="cheapest",
        outbox_worker=False,
    )


@pytest.fixture
def site(app: FastAPI, client: TestClient, admin: Login) -> Site:
    place = make_property(client, admin)
    building = make_building(client, admin, place["id"])
    gateway_id = fresh_id("gw")
    token = created(
        client.post(
            f"{API}/gateways",
            json={"id": gateway_id, "building_id": building["id"]},
            headers=admin.headers,
        )
    )["token"]
    techs = [_technician(client, admin, place["id"]) for _ in range(2)]
    result = Site(
        app,
        client,
        admin,
        place["id"],
        building["id"],
        gateway_id,
        token,
        [t[0] for t in techs],
        [t[1] for t in techs],
        itertools.count(1),
    )
    # The plumber on call: the first technician today, the second tomorrow.
    result.post(
        "/on-call-rotas",
        {
            "property_id": place["id"],
            "trade": "plumbing",
            "name": "plumbers",
            "members": result.techs,
            "shift_hours": 24,
            "starts_at": T0.isoformat(),
        },
    )
    return result


# --- dedup and never-reopen --------------------------------------------------------


def test_a_repeat_raise_counts_on_the_open_alarm(site: Site) -> None:
    first = site.raise_("leak-1", T0)
    again = site.raise_("leak-1", T0 + timedelta(seconds=30))

    alarm = site.alarm(first)
    assert again == first
    assert alarm.occurrences == 2
    assert alarm.last_raised_at == T0 + timedelta(seconds=30)
    assert len(site.told(first)) == 1  # paged once, not per repeat


def test_a_batch_sent_twice_changes_nothing_the_second_time(site: Site) -> None:
    event = site.event("leak-1", "water_leak", "active", T0)
    first = site.apply(event)
    assert first is not None

    assert site.apply(event) is None
    assert site.alarm(first.id).occurrences == 1


def test_a_cleared_alarm_is_never_reopened(site: Site) -> None:
    first = site.raise_("leak-1", T0)
    site.clear("leak-1", T0 + timedelta(minutes=1))
    second = site.raise_("leak-1", T0 + timedelta(minutes=30))

    assert second != first
    assert site.alarm(first).state == "cleared"
    assert site.alarm(first).cleared_at == T0 + timedelta(minutes=1)
    assert site.alarm(second).state == "active"


def test_the_database_refuses_a_second_open_alarm_per_source_and_type(
    site: Site,
) -> None:
    first = site.raise_("leak-1", T0)
    with site.session() as session:
        copy = site.alarm(first)
        sa.orm.make_transient(copy)
        copy.id = None  # type: ignore[assignment]
        session.add(copy)
        with pytest.raises(sa.exc.IntegrityError):
            session.flush()


def test_other_types_and_devices_open_their_own_alarms(site: Site) -> None:
    leak = site.raise_("leak-1", T0)
    smoke = site.raise_("leak-1", T0, alarm_type="smoke")
    other = site.raise_("leak-2", T0 + timedelta(minutes=6))

    assert len({leak, smoke, other}) == 3


# --- flapping ---------------------------------------------------------------------


def test_flapping_is_kept_open_and_not_paged_until_quiet(site: Site) -> None:
    ids = []
    for minute in (0, 2, 4):
        ids.append(site.raise_("leak-1", T0 + timedelta(minutes=minute)))
        site.clear("leak-1", T0 + timedelta(minutes=minute, seconds=30))
    flapping = site.alarm(ids[2])
    site.raise_("leak-1", T0 + timedelta(minutes=5))

    assert flapping.flapping and flapping.state == "active"
    assert site.told(ids[2]) == []
    assert site.alarm(ids[2]).occurrences == 2  # the raise at 5 min is a repeat
    site.clear("leak-1", T0 + timedelta(minutes=6))
    site.run_due(T0 + timedelta(minutes=15))
    assert site.alarm(ids[2]).state == "active"  # clear for 9 min only
    site.run_due(T0 + timedelta(minutes=16))
    assert site.alarm(ids[2]).state == "cleared"
    assert site.alarm(ids[2]).cleared_at == T0 + timedelta(minutes=6)


# --- silences ---------------------------------------------------------------------


def _silence(site: Site, **fields: Any) -> dict[str, Any]:
    body = {
        "property_id": site.property_id,
        "starts_at": T0.isoformat(),
        "ends_at": (T0 + timedelta(hours=2)).isoformat(),
        "reason": "plumbers replacing the riser",
        **fields,
    }
    return site.post("/alarm-silences", body)


@pytest.mark.parametrize(
    "narrowing",
    [{}, {"alarm_type": "water_leak"}, {"device_id": "leak-1"}, {"building_id": None}],
    ids=["property", "type", "device", "building"],
)
def test_a_silence_records_the_alarm_but_pages_nobody(
    site: Site, narrowing: dict[str, Any]
) -> None:
    if "building_id" in narrowing:
        narrowing = {"building_id": site.building_id}
    silence = _silence(site, **narrowing)

    alarm_id = site.raise_("leak-1", T0 + timedelta(minutes=5))

    alarm = site.alarm(alarm_id)
    assert alarm.silence_id == silence["id"]
    assert not alarm.paged
    assert site.told(alarm_id) == []


def test_a_silence_for_another_type_does_not_hide_a_leak(site: Site) -> None:
    _silence(site, alarm_type="smoke")

    alarm_id = site.raise_("leak-1", T0 + timedelta(minutes=5))

    assert site.alarm(alarm_id).silence_id is None
    assert len(site.told(alarm_id)) == 1


def test_an_expired_silence_no_longer_hides(site: Site) -> None:
    _silence(site)

    alarm_id = site.raise_("leak-1", T0 + timedelta(hours=2))

    assert site.alarm(alarm_id).silence_id is None
    assert len(site.told(alarm_id)) == 1


def test_a_silence_ending_before_it_starts_is_refused(site: Site) -> None:
    answer = site.client.post(
        f"{API}/alarm-silences",
        json={
            "property_id": site.property_id,
            "starts_at": T0.isoformat(),
            "ends_at": T0.isoformat(),
            "reason": "x",
        },
        headers=site.admin.headers,
    )

    assert answer.status_code == 422
    assert "ends_at must be after starts_at" in answer.text


def test_a_silence_on_a_building_of_another_property_is_refused(site: Site) -> None:
    other = make_property(site.client, site.admin)
    building = make_building(site.client, site.admin, other["id"])

    answer = site.client.post(
        f"{API}/alarm-silences",
        json={
            "property_id": site.property_id,
            "building_id": building["id"],
            "starts_at": T0.isoformat(),
            "ends_at": (T0 + timedelta(hours=1)).isoformat(),
            "reason": "x",
        },
        headers=site.admin.headers,
    )

    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == ["body", "building_id"]
    assert f"is not in property {site.property_id}" in answer.text


# --- grouping ---------------------------------------------------------------------


def test_twenty_leak_sensors_in_one_building_page_once(site: Site) -> None:
    ids = [site.raise_(f"leak-{n}", T0 + timedelta(seconds=n)) for n in range(20)]

    paged = [i for i in ids if site.alarm(i).paged]
    assert paged == [ids[0]]
    assert {site.alarm(i).group_id for i in ids} == {ids[0]}
    assert sum(len(site.told(i)) for i in ids) == 1


def test_a_leak_after_the_group_window_pages_again(site: Site) -> None:
    first = site.raise_("leak-1", T0)

    later = site.raise_("leak-2", T0 + alarms.GROUP_WINDOW + timedelta(seconds=1))

    assert site.alarm(later).group_id == later
    assert len(site.told(first)) == len(site.told(later)) == 1


# --- escalation --------------------------------------------------------------------


def _policy(site: Site, **fields: Any) -> dict[str, Any]:
    body = {
        "property_id": site.property_id,
        "trade": "plumbing",
        "name": "leaks",
        "steps": [
            {"after_s": 0, "on_call": True},
            {"after_s": 300, "user_ids": [site.techs[1]]},
        ],
        **fields,
    }
    return site.post("/escalation-policies", body)


def test_the_on_call_plumber_is_paged_at_once(site: Site) -> None:
    today = site.raise_("leak-1", T0 + timedelta(hours=1))
    tomorrow = site.raise_("leak-1", T0 + timedelta(hours=25), alarm_type="water_leak2")

    assert site.told(today) == [f"user:{site.techs[0]}"]
    assert site.alarm(tomorrow).trade == "general"  # unknown type: general trade
    site.post(
        "/on-call-rotas",
        {
            "property_id": site.property_id,
            "trade": "general",
            "name": "caretakers",
            "members": [site.techs[1]],
            "starts_at": T0.isoformat(),
        },
    )
    third = site.raise_("leak-9", T0 + timedelta(hours=30), alarm_type="door_forced")
    assert site.told(third) == [f"user:{site.techs[1]}"]


def test_steps_fire_when_due_and_repeat(site: Site) -> None:
    _policy(site, repeat=1, repeat_interval_s=600)
    alarm_id = site.raise_("leak-1", T0)
    first, second = (f"user:{t}" for t in site.techs)

    assert site.told(alarm_id) == [first]
    site.run_due(T0 + timedelta(seconds=299))
    assert site.told(alarm_id) == [first]
    site.run_due(T0 + timedelta(seconds=300))
    assert site.told(alarm_id) == [first, second]
    # the second cycle starts 300 + 600 s after paging
    site.run_due(T0 + timedelta(seconds=899))
    assert len(site.told(alarm_id)) == 2
    site.run_due(T0 + timedelta(seconds=900))
    site.run_due(T0 + timedelta(seconds=1200))
    assert site.told(alarm_id) == [first, second, first, second]
    site.run_due(T0 + timedelta(days=1))
    assert len(site.told(alarm_id)) == 4  # repeat=1: two cycles, then done


def test_acknowledging_stops_the_escalation(site: Site) -> None:
    _policy(site)
    alarm_id = site.raise_("leak-1", T0)

    answer = site.client.post(
        f"{API}/alarms/{alarm_id}/acknowledge", headers=site.tech_headers[0]
    )
    site.run_due(T0 + timedelta(hours=1))

    assert answer.status_code == 200, answer.text
    assert answer.json()["state"] == "acknowledged"
    assert answer.json()["acknowledged_by"] == site.techs[0]
    assert site.told(alarm_id) == [f"user:{site.techs[0]}"]
    again = site.client.post(
        f"{API}/alarms/{alarm_id}/acknowledge", headers=site.tech_headers[0]
    )
    assert again.status_code == 409
    assert "is acknowledged, not active" in again.text


def test_clearing_stops_the_escalation_and_resolves_for_those_told(
    site: Site,
) -> None:
    _policy(site)
    alarm_id = site.raise_("leak-1", T0)
    site.run_due(T0 + timedelta(seconds=300))

    site.clear("leak-1", T0 + timedelta(seconds=400))
    site.run_due(T0 + timedelta(hours=1))

    told = {f"user:{t}" for t in site.techs}
    assert set(site.told(alarm_id)) == told
    assert set(site.told(alarm_id, "resolved")) == told


def test_clearing_before_the_second_step_resolves_only_the_first(site: Site) -> None:
    _policy(site)
    alarm_id = site.raise_("leak-1", T0)

    site.clear("leak-1", T0 + timedelta(seconds=60))
    site.run_due(T0 + timedelta(hours=1))

    assert site.told(alarm_id, "resolved") == [f"user:{site.techs[0]}"]
    assert site.told(alarm_id) == [f"user:{site.techs[0]}"]
    with site.session() as session:
        escalation = session.get(AlarmEscalation, alarm_id)
        assert escalation is not None and escalation.state == "cancelled"


def test_acknowledge_outside_the_scope_is_hidden(site: Site) -> None:
    alarm_id = site.raise_("leak-1", T0)
    with site.session() as session:
        stranger = Scope.system(site.admin.organization_id + 10_000, "elsewhere")
        with pytest.raises(Exception, match="not found"):
            alarms.acknowledge(session, stranger, alarm_id, now=T0)
        mine = Scope.system(site.admin.organization_id, "test")
        alarms.acknowledge(session, mine, alarm_id, now=T0)
        with pytest.raises(ConflictError):
            alarms.acknowledge(session, mine, alarm_id, now=T0)


@pytest.mark.parametrize(
    ("step", "reason"),
    [
        ({"after_s": 0}, "a step needs user_ids, rota_ids or on_call"),
        ({"after_s": -1, "on_call": True}, "greater than or equal to 0"),
        ({"after_s": 0, "user_ids": [987654]}, "user 987654 does not exist"),
        ({"after_s": 0, "rota_ids": [987654]}, "rota 987654 is not a rota"),
    ],
    ids=["nobody", "negative-delay", "unknown-user", "unknown-rota"],
)
def test_a_bad_policy_is_refused_with_its_reason(
    site: Site, step: dict[str, Any], reason: str
) -> None:
    answer = site.client.post(
        f"{API}/escalation-policies",
        json={"property_id": site.property_id, "name": "bad", "steps": [step]},
        headers=site.admin.headers,
    )

    assert answer.status_code == 422
    assert reason in answer.text


def test_steps_out_of_order_are_refused(site: Site) -> None:
    answer = site.client.post(
        f"{API}/escalation-policies",
        json={
            "property_id": site.property_id,
            "name": "bad",
            "steps": [
                {"after_s": 60, "on_call": True},
                {"after_s": 0, "on_call": True},
            ],
        },
        headers=site.admin.headers,
    )

    assert answer.status_code == 422
    assert "steps must be in order of after_s" in answer.text


def test_a_rota_member_without_a_role_on_the_property_is_refused(site: Site) -> None:
    other = make_property(site.client, site.admin)

    answer = site.client.post(
        f"{API}/on-call-rotas",
        json={
            "property_id": other["id"],
            "trade": "fire",
            "name": "x",
            "members": [site.techs[0]],
            "starts_at": T0.isoformat(),
        },
        headers=site.admin.headers,
    )

    assert answer.status_code == 422
    assert f"holds no role on property {other['id']}" in answer.text


# --- work-order hook ---------------------------------------------------------------


def test_the_raised_hook_runs_for_new_alarms_only(site: Site) -> None:
    seen: list[tuple[str, str | None, str | None]] = []

    def hook(_session: Session, alarm: Alarm) -> None:
        seen.append((alarm.type, alarm.work_order_trade, alarm.work_order_urgency))

    alarms.on_raised(hook)
    try:
        site.raise_("leak-1", T0)
        site.raise_("leak-1", T0 + timedelta(seconds=5))  # a repeat
        site.raise_("smoke-1", T0, alarm_type="smoke")
        site.raise_("door-1", T0, alarm_type="door_held_open")
    finally:
        alarms._RAISED_HOOKS.remove(hook)

    assert seen == [
        ("water_leak", "plumbing", "urgent"),
        ("smoke", "fire", "emergency"),
        ("door_held_open", None, None),
    ]


# --- through the API ----------------------------------------------------------------


def _ingest(site: Site, events: list[dict[str, Any]], first_seq: int) -> Any:
    last = first_seq + len(events) - 1
    body = {
        "gateway_id": site.gateway_id,
        "batch_id": f"b{first_seq}",
        "first_seq": first_seq,
        "last_seq": last,
        "sent_at": T0.isoformat(),
        "readings": [],
        "events": [{"seq": first_seq + n, **event} for n, event in enumerate(events)],
        "gaps": [],
    }
    return site.client.post(
        f"{API}/ingest",
        json=body,
        headers={"Authorization": f"Bearer {site.gateway_token}"},
    )


def test_an_ingested_leak_is_listed_with_its_deliveries_and_action(
    site: Site,
) -> None:
    now = datetime.now(T0.tzinfo)
    events = [
        {
            "device_id": "leak-basement",
            "ts": now.isoformat(),
            "kind": "alarm",
            "data": {
                "type": "water_leak",
                "state": "active",
                "severity": "critical",
                "point": "water_leak",
                "rule": None,
            },
        },
        {
            "device_id": "water-main",
            "ts": now.isoformat(),
            "kind": "action",
            "data": {
                "type": "close_valve",
                "trigger": "water_leak",
                "trigger_device": "leak-basement",
                "target": "water-main",
                "verified": True,
                "detail": "valve closed",
                "latency_ms": 120,
                "attempt": 1,
            },
        },
    ]
    assert _ingest(site, events, 1_000).status_code == 200
    assert _ingest(site, events, 1_000).status_code == 200  # sent twice
    rotas = site.client.get(f"{API}/on-call-rotas", headers=site.admin.headers)
    on_call = rotas.json()["data"][0]["on_call"]  # today's plumber

    listed = site.client.get(
        f"{API}/alarms",
        params={"open": "true", "property_id": site.property_id},
        headers=site.tech_headers[0],
    ).json()
    assert listed["count"] == 1
    alarm = listed["data"][0]
    assert (alarm["type"], alarm["building_id"]) == ("water_leak", site.building_id)
    detail = site.client.get(
        f"{API}/alarms/{alarm['id']}", headers=site.tech_headers[0]
    ).json()
    assert [
        (d["channel"], d["recipient"], d["status"]) for d in detail["deliveries"]
    ] == [("webhook", f"user:{on_call}", "pending")]
    assert [(a["type"], a["verified"], a["latency_ms"]) for a in detail["actions"]] == [
        ("close_valve", True, 120)
    ]


def test_the_stream_sends_open_alarms_to_those_who_see_them(site: Site) -> None:
    alarm_id = site.raise_("leak-1", T0)

    with site.client.stream(
        "GET",
        f"{API}/alarms/stream",
        params={"duration_s": 0},
        headers=site.tech_headers[0],
    ) as answer:
        text = "".join(answer.iter_text())

    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/event-stream")
    assert f"id: {alarm_id}\n" in text
    assert '"type": "water_leak"' in text


def test_the_stream_sends_an_alarm_raised_while_it_is_open(site: Site) -> None:
    def leak_soon() -> None:
        time.sleep(0.6)
        now = datetime.now(UTC)
        site.apply(site.event("leak-live", "water_leak", "active", now), now)

    raiser = threading.Thread(target=leak_soon)
    raiser.start()
    with site.client.stream(
        "GET",
        f"{API}/alarms/stream",
        params={"duration_s": 2},
        headers=site.tech_headers[0],
    ) as answer:
        text = "".join(answer.iter_text())
    raiser.join()

    assert text.count("event: alarm") == 1
    assert '"device_id": "leak-live"' in text


class RefusingWebhook:
    """A webhook endpoint that is gone, as the sender would report it."""

    async def send(self, message: Delivery) -> None:
        raise DeliveryError("webhook refused with 410: gone", permanent=True)


class AcceptingWebhook:
    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []

    async def send(self, message: Delivery) -> None:
        self.received.append(message.payload)


def test_each_delivery_is_recorded_on_the_alarm_sent_or_failed(site: Site) -> None:
    leak = site.raise_("leak-1", T0)
    sessions = site.app.state.pams.session_factory
    accepting = AcceptingWebhook()
    asyncio.run(OutboxWorker(sessions, {"webhook": accepting}).drain_once())
    site.post(
        "/on-call-rotas",
        {
            "property_id": site.property_id,
            "trade": "fire",
            "name": "fire",
            "members": [site.techs[1]],
            "starts_at": T0.isoformat(),
        },
    )
    smoke = site.raise_("smoke-2", T0 + timedelta(hours=1), alarm_type="smoke")
    asyncio.run(OutboxWorker(sessions, {"webhook": RefusingWebhook()}).drain_once())

    sent = site.client.get(f"{API}/alarms/{leak}", headers=site.tech_headers[0]).json()
    failed = site.client.get(
        f"{API}/alarms/{smoke}", headers=site.tech_headers[1]
    ).json()

    # (on PostgreSQL the worker also delivers other tests' messages)
    assert leak in [p["alarm_id"] for p in accepting.received]
    assert [(d["status"], d["state"], d["last_error"]) for d in sent["deliveries"]] == [
        ("sent", "firing", None)
    ]
    assert [(d["status"], d["last_error"]) for d in failed["deliveries"]] == [
        ("dead", "webhook refused with 410: gone")
    ]


# --- alarm rules, rotas, subscriptions ------------------------------------------------

RULES = {
    "rules": [
        {
            "id": "riser-pressure",
            "device": "riser-1",
            "point": "pressure",
            "above": "6.5",
            "for_s": 10,
        },
        {"id": "apt-offline", "device": "apt-103", "offline_s": 30},
    ],
    "trades": {"threshold": "plumbing"},
}


def test_each_put_of_rules_is_a_new_version_sent_to_the_gateways(site: Site) -> None:
    path = f"{API}/properties/{site.property_id}/alarm-rules"

    first = site.client.put(path, json=RULES, headers=site.tech_headers[0])
    second = site.client.put(path, json=RULES, headers=site.tech_headers[0])

    assert first.status_code == second.status_code == 200, first.text
    assert (first.json()["version"], second.json()["version"]) == (1, 2)
    commands = site.client.get(
        f"{API}/gateways/{site.gateway_id}/commands", headers=site.admin.headers
    ).json()["data"]
    queued = {c["id"]: c for c in commands}
    [command_id] = second.json()["commands"]
    assert queued[command_id]["kind"] == "rules_update"
    latest = site.client.get(path, headers=site.tech_headers[1]).json()
    assert latest["version"] == 2
    assert latest["rules"][0] == {
        "id": "riser-pressure",
        "device": "riser-1",
        "point": "pressure",
        "above": "6.5",
        "for_s": 10.0,
        "rate_window_s": 60.0,
    }
    # the property's trade override applies to the alarms raised from now on
    alarm_id = site.raise_("riser-1", T0, alarm_type="threshold")
    assert site.alarm(alarm_id).trade == "plumbing"


@pytest.mark.parametrize(
    ("rule", "reason"),
    [
        ({"id": "r", "device": "d", "point": "p"}, "needs exactly one condition"),
        ({"id": "r", "device": "d", "above": "1"}, "needs a point"),
        (
            {"id": "r", "device": "d", "offline_s": 5, "stale_s": 5},
            "needs exactly one condition",
        ),
        (
            {"id": "r", "device": "d", "offline_s": 5, "colour": "red"},
            "Extra inputs are not permitted",
        ),
        (
            {"id": "r", "device": "d", "offline_s": 5, "severity": "huge"},
            "'critical', 'major', 'minor' or 'warning'",
        ),
    ],
    ids=["no-condition", "no-point", "two-conditions", "unknown-field", "severity"],
)
def test_a_bad_rule_is_refused_with_its_reason_and_nothing_is_stored(
    site: Site, rule: dict[str, Any], reason: str
) -> None:
    path = f"{API}/properties/{site.property_id}/alarm-rules"

    answer = site.client.put(path, json={"rules": [rule]}, headers=site.admin.headers)

    assert answer.status_code == 422
    assert reason in answer.text
    assert site.client.get(path, headers=site.admin.headers).status_code == 404


def test_duplicate_rule_ids_are_refused(site: Site) -> None:
    rule = {"id": "same", "device": "d", "offline_s": 5}

    answer = site.client.put(
        f"{API}/properties/{site.property_id}/alarm-rules",
        json={"rules": [rule, rule]},
        headers=site.admin.headers,
    )

    assert answer.status_code == 422
    assert "rule ids must be unique; repeated: ['same']" in answer.text


def test_the_rota_says_who_is_on_call_and_follows_its_changes(site: Site) -> None:
    rota = site.client.get(f"{API}/on-call-rotas", headers=site.admin.headers).json()[
        "data"
    ][0]
    swapped = site.client.patch(
        f"{API}/on-call-rotas/{rota['id']}",
        json={"members": list(reversed(site.techs))},
        headers=site.admin.headers,
    ).json()

    assert rota["on_call"] in site.techs
    assert swapped["on_call"] != rota["on_call"]
    alarm_id = site.raise_("leak-1", T0)  # the new first member's shift
    assert site.told(alarm_id) == [f"user:{site.techs[1]}"]


def test_ending_a_silence_early_lets_the_next_alarm_page(site: Site) -> None:
    silence = _silence(site)
    answer = site.client.patch(
        f"{API}/alarm-silences/{silence['id']}",
        json={"ends_at": (T0 + timedelta(minutes=10)).isoformat()},
        headers=site.admin.headers,
    )
    refused = site.client.patch(
        f"{API}/alarm-silences/{silence['id']}",
        json={"ends_at": (T0 - timedelta(minutes=10)).isoformat()},
        headers=site.admin.headers,
    )

    silenced = site.raise_("leak-1", T0 + timedelta(minutes=5))
    paged = site.raise_("leak-2", T0 + timedelta(minutes=11))

    assert answer.status_code == 200
    assert refused.status_code == 422 and "ends_at must be after" in refused.text
    assert site.told(silenced) == []
    assert len(site.told(paged)) == 1


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"channel": "webpush"}, "a webpush subscription needs 'subscription'"),
        ({"channel": "webhook", "url": "ftp://example.org/x"}, "must start with http"),
        ({"channel": "sms", "url": "tel:+861234"}, "'webpush', 'webhook' or 'apprise'"),
        ({"channel": "apprise"}, "a apprise subscription needs 'url'"),
    ],
    ids=["webpush-without-keys", "webhook-scheme", "unknown-channel", "no-url"],
)
def test_a_bad_subscription_is_refused_with_its_reason(
    site: Site, body: dict[str, Any], reason: str
) -> None:
    answer = site.client.post(
        f"{API}/push-subscriptions", json=body, headers=site.tech_headers[0]
    )

    assert answer.status_code == 422
    assert reason in answer.text


def test_subscriptions_are_the_callers_own(site: Site) -> None:
    mine = site.client.get(f"{API}/push-subscriptions", headers=site.tech_headers[0])
    theirs = site.client.get(f"{API}/push-subscriptions", headers=site.tech_headers[1])
    [own] = mine.json()["data"]

    stolen = site.client.delete(
        f"{API}/push-subscriptions/{own['id']}", headers=site.tech_headers[1]
    )
    removed = site.client.delete(
        f"{API}/push-subscriptions/{own['id']}", headers=site.tech_headers[0]
    )

    assert own["id"] not in [s["id"] for s in theirs.json()["data"]]
    assert stolen.status_code == 404
    assert removed.status_code == 204
    alarm_id = site.raise_("leak-1", T0)  # the on-call plumber has no way left
    assert site.told(alarm_id) == []
