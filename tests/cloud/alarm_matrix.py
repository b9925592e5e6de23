"""The access matrix rows of the alarm routes (merged into ``MATRIX``).

Alarms are read and handled by administrators, managers and technicians; the
accountant, owners and tenants have no alarm permission. Records a row needs are
made on demand in the side's property, through the services.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from cloud.models import Gateway, PushSubscription
from cloud.schemas.alarms import (
    PolicyCreate,
    RotaCreate,
    RuleSetUpdate,
    SilenceCreate,
)
from cloud.services import alarm_setup, alarms
from sync.schema import Event
from tests.cloud.world import Side, World, fresh

API = "/api/v1"
NOW = datetime(2026, 3, 1, tzinfo=UTC)
LIST = "+ + F + F F"
ITEM = "+ + H + H H"
CREATE = "+ + F + H H"

_made: dict[tuple[str, str], int] = {}
_seq = iter(range(1_000_000, 2_000_000))


def fresh_alarm(w: World, s: Side) -> int:
    """A new active alarm of the side's gateway."""
    with w.acting(s) as (session, _scope):
        gateway = session.get(Gateway, s.gateway_id)
        assert gateway is not None
        event = Event(
            seq=next(_seq),
            device_id=fresh("leak"),
            ts=NOW,
            kind="alarm",
            data={"type": "water_leak", "state": "active", "severity": "critical"},
        )
        alarm = alarms.apply_alarm_event(session, gateway, event, now=NOW)
        assert alarm is not None
        return alarm.id


def _once(w: World, s: Side, what: str, make: Any) -> int:
    """One record of a kind per side, made the first time a row asks for it."""
    key = (s.gateway_id, what)
    if key not in _made:
        _made[key] = int(make(w, s))
    return _made[key]


def _made_in(what: str) -> Any:
    return lambda s, r: _made.get((s.gateway_id, what))


def _listing(path: str, what: str, make: Any) -> Any:
    """A list call, once the side has its record of the kind."""

    def build(w: World, s: Side, r: str, call: Any) -> Any:
        _once(w, s, what, make)
        return call("GET", f"{API}{path}", params={"limit": 500})

    return build


def alarm(w: World, s: Side) -> int:
    return _once(w, s, "alarm", fresh_alarm)


def silence(w: World, s: Side) -> int:
    return _once(w, s, "silence", fresh_silence)


def rota(w: World, s: Side) -> int:
    return _once(w, s, "rota", fresh_rota)


def policy(w: World, s: Side) -> int:
    return _once(w, s, "policy", fresh_policy)


def silence_body(s: Side) -> dict[str, Any]:
    return {
        "property_id": s.property_id,
        "starts_at": NOW.isoformat(),
        "ends_at": (NOW + timedelta(hours=1)).isoformat(),
        "reason": "riser works",
    }


def rota_body(w: World, s: Side) -> dict[str, Any]:
    return {
        "property_id": s.property_id,
        "trade": "plumbing",
        "name": fresh("rota"),
        "members": [_member(w, s)],
        "starts_at": NOW.isoformat(),
    }


def _member(w: World, s: Side) -> int:
    """Someone with a role on the side's property: its technician on the own
    side; elsewhere, the role users hold nothing, so a grantee of the side."""
    if s is w.own:
        return w.user_ids["technician"]
    return w.fresh_grant(s)[0]


def policy_body(s: Side) -> dict[str, Any]:
    return {
        "property_id": s.property_id,
        "name": fresh("policy"),
        "steps": [{"after_s": 0, "on_call": True}],
    }


def fresh_silence(w: World, s: Side) -> int:
    with w.acting(s) as (session, scope):
        body = SilenceCreate.model_validate(silence_body(s))
        return alarm_setup.create_silence(session, scope, body).id


def fresh_rota(w: World, s: Side) -> int:
    body = RotaCreate.model_validate(rota_body(w, s))
    with w.acting(s) as (session, scope):
        return alarm_setup.create_rota(session, scope, body).id


def fresh_policy(w: World, s: Side) -> int:
    with w.acting(s) as (session, scope):
        body = PolicyCreate.model_validate(policy_body(s))
        return alarm_setup.create_policy(session, scope, body).id


def fresh_rules(w: World, s: Side) -> int:
    with w.acting(s) as (session, scope):
        body = RuleSetUpdate(rules=[], trades={"smoke": "fire"})
        return alarm_setup.put_rules(session, scope, s.property_id, body)[0].id


def rules_of(w: World, s: Side, call: Any) -> Any:
    _once(w, s, "rules", fresh_rules)
    return call("GET", f"{API}/properties/{s.property_id}/alarm-rules")


def subscription_of(w: World, s: Side, role: str) -> int:
    """A fresh subscription of the role's user, whatever their permissions."""
    with w.acting(s) as (session, _scope):
        row = PushSubscription(
            organization_id=s.organization_id,
            user_id=w.user_ids[role],
            channel="webhook",
            target="https://hooks.example.org/x",
            label="",
        )
        session.add(row)
        session.flush()
        return row.id


RULES = {
    "rules": [
        {"id": "apt-offline", "device": "apt-103", "offline_s": 5},
    ],
    "trades": {"door_forced": "general"},
}


def rows(row: Any, call: Any) -> dict[tuple[str, str], Any]:
    """The rows, built with the matrix's own ``Row`` and ``Call``."""
    return {
        ("GET", "/api/v1/alarms"): row(
            LIST,
            lambda w, s, r: _listing("/alarms", "alarm", fresh_alarm)(w, s, r, call),
            kind="list",
            target=_made_in("alarm"),
        ),
        ("GET", "/api/v1/alarms/stream"): row(
            LIST,
            lambda w, s, r: call(
                "GET", f"{API}/alarms/stream", params={"duration_s": 0}
            ),
            kind="org",
        ),
        ("GET", "/api/v1/alarms/{alarm_id}"): row(
            ITEM, lambda w, s, r: call("GET", f"{API}/alarms/{alarm(w, s)}")
        ),
        ("POST", "/api/v1/alarms/{alarm_id}/acknowledge"): row(
            ITEM,
            lambda w, s, r: call(
                "POST", f"{API}/alarms/{fresh_alarm(w, s)}/acknowledge"
            ),
        ),
        # --- silences
        ("GET", "/api/v1/alarm-silences"): row(
            LIST,
            lambda w, s, r: _listing("/alarm-silences", "silence", fresh_silence)(
                w, s, r, call
            ),
            kind="list",
            target=_made_in("silence"),
        ),
        ("POST", "/api/v1/alarm-silences"): row(
            CREATE,
            lambda w, s, r: call("POST", f"{API}/alarm-silences", json=silence_body(s)),
            kind="create",
        ),
        ("GET", "/api/v1/alarm-silences/{silence_id}"): row(
            ITEM, lambda w, s, r: call("GET", f"{API}/alarm-silences/{silence(w, s)}")
        ),
        ("PATCH", "/api/v1/alarm-silences/{silence_id}"): row(
            ITEM,
            lambda w, s, r: call(
                "PATCH",
                f"{API}/alarm-silences/{silence(w, s)}",
                json={"reason": "longer works"},
            ),
        ),
        ("DELETE", "/api/v1/alarm-silences/{silence_id}"): row(
            ITEM,
            lambda w, s, r: call(
                "DELETE", f"{API}/alarm-silences/{fresh_silence(w, s)}"
            ),
        ),
        # --- rotas
        ("GET", "/api/v1/on-call-rotas"): row(
            LIST,
            lambda w, s, r: _listing("/on-call-rotas", "rota", fresh_rota)(
                w, s, r, call
            ),
            kind="list",
            target=_made_in("rota"),
        ),
        ("POST", "/api/v1/on-call-rotas"): row(
            CREATE,
            lambda w, s, r: call("POST", f"{API}/on-call-rotas", json=rota_body(w, s)),
            kind="create",
        ),
        ("GET", "/api/v1/on-call-rotas/{rota_id}"): row(
            ITEM, lambda w, s, r: call("GET", f"{API}/on-call-rotas/{rota(w, s)}")
        ),
        ("PATCH", "/api/v1/on-call-rotas/{rota_id}"): row(
            ITEM,
            lambda w, s, r: call(
                "PATCH", f"{API}/on-call-rotas/{rota(w, s)}", json={"shift_hours": 12}
            ),
        ),
        ("DELETE", "/api/v1/on-call-rotas/{rota_id}"): row(
            ITEM,
            lambda w, s, r: call("DELETE", f"{API}/on-call-rotas/{fresh_rota(w, s)}"),
        ),
        # --- escalation policies
        ("GET", "/api/v1/escalation-policies"): row(
            LIST,
            lambda w, s, r: _listing("/escalation-policies", "policy", fresh_policy)(
                w, s, r, call
            ),
            kind="list",
            target=_made_in("policy"),
        ),
        ("POST", "/api/v1/escalation-policies"): row(
            CREATE,
            lambda w, s, r: call(
                "POST", f"{API}/escalation-policies", json=policy_body(s)
            ),
            kind="create",
        ),
        ("GET", "/api/v1/escalation-policies/{policy_id}"): row(
            ITEM,
            lambda w, s, r: call("GET", f"{API}/escalation-policies/{policy(w, s)}"),
        ),
        ("PATCH", "/api/v1/escalation-policies/{policy_id}"): row(
            ITEM,
            lambda w, s, r: call(
                "PATCH", f"{API}/escalation-policies/{policy(w, s)}", json={"repeat": 2}
            ),
        ),
        ("DELETE", "/api/v1/escalation-policies/{policy_id}"): row(
            ITEM,
            lambda w, s, r: call(
                "DELETE", f"{API}/escalation-policies/{fresh_policy(w, s)}"
            ),
        ),
        # --- alarm rules
        ("GET", "/api/v1/properties/{property_id}/alarm-rules"): row(
            CREATE,
            lambda w, s, r: rules_of(w, s, call),
        ),
        ("PUT", "/api/v1/properties/{property_id}/alarm-rules"): row(
            CREATE,
            lambda w, s, r: call(
                "PUT", f"{API}/properties/{s.property_id}/alarm-rules", json=RULES
            ),
        ),
        # --- the caller's own push subscriptions
        ("GET", "/api/v1/push-subscriptions"): row(
            LIST, lambda w, s, r: call("GET", f"{API}/push-subscriptions"), kind="org"
        ),
        ("POST", "/api/v1/push-subscriptions"): row(
            LIST,
            lambda w, s, r: call(
                "POST",
                f"{API}/push-subscriptions",
                json={"channel": "apprise", "url": "mailto://tech@example.org"},
            ),
            kind="org",
        ),
        ("DELETE", "/api/v1/push-subscriptions/{subscription_id}"): row(
            LIST,
            lambda w, s, r: call(
                "DELETE", f"{API}/push-subscriptions/{subscription_of(w, s, r)}"
            ),
            kind="org",
        ),
    }
